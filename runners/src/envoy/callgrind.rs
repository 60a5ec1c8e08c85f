//! Instructions per request inside real Envoy, the deterministic figure for a noisy machine:
//! each variant's Envoy runs under valgrind's callgrind, is proven like the timed path (one
//! request against the in-process native arm), warmed, and then counted in windows: counters
//! zeroed, N requests on one keep-alive connection (every response and every upstream request
//! checked), counters dumped. A window's total over N is the instructions the whole Envoy
//! process (every thread) spends per request; windows are interleaved across variants and each
//! is recorded as one "process", so the report shows their mean and spread.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use filterbench_results::vocab::{Metric, Phase, Stage};

use super::config::{self, Variant};
use super::http::{RequestTemplate, Session, Upstream};
use super::process::{Envoy, Pending, Under};
use super::verify::native_reference;
use super::{EVERY_VARIANT, EnvoySettings, at, builds, byo, tcp};
use crate::measure::scenario::{Scenario, Workload};
use crate::measure::{Progress, WorkerOutput, rotated};

/// How Envoy is counted.
pub struct Counting {
    /// Envoy's settings; `under` is set by [`Counting::new`].
    pub envoy: EnvoySettings,
    /// Requests (TCP: round trips) per window, and as warm-up before the first.
    pub requests: u64,
    pub windows: u32,
    /// The variants counted (arm names; empty: every variant).
    pub variants: Vec<String>,
}

/// How long an Envoy under callgrind may take to be ready (V8 compiling a module under
/// valgrind takes minutes on a busy machine).
const READY_WITHIN: Duration = Duration::from_secs(600);

/// How long a zero or dump request to callgrind may take.
const CONTROL_WITHIN: Duration = Duration::from_secs(60);

impl Counting {
    /// Envoy with one worker under callgrind, its dumps written to `envoy.dir`.
    pub fn new(mut envoy: EnvoySettings, requests: u64, windows: u32) -> Counting {
        envoy.concurrency = 1;
        envoy.under = Under {
            program: vec![
                "valgrind".into(),
                "--tool=callgrind".into(),
                // V8 writes the code it runs: valgrind must see every such write.
                "--smc-check=all-non-file".into(),
                "--dump-line=no".into(),
                "-q".into(),
                format!(
                    "--callgrind-out-file={}",
                    envoy.dir.join("callgrind.%p").display()
                ),
            ],
            ready_within: Some(READY_WITHIN),
        };
        Counting {
            envoy,
            requests: requests.max(1),
            windows: windows.max(1),
            variants: Vec::new(),
        }
    }

    fn wants(&self, variant: &str) -> bool {
        self.variants.is_empty() || self.variants.iter().any(|v| v == variant)
    }

    /// Why counting cannot run here, if it cannot.
    pub fn unavailable() -> Option<String> {
        for tool in ["valgrind", "callgrind_control"] {
            let found = Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !found {
                return Some(format!(
                    "{tool} not found (Debian package valgrind; scripts/setup.sh installs it)"
                ));
            }
        }
        None
    }
}

/// `callgrind_control <flag> <pid>`, bounded in time.
fn control(pid: u32, flag: &str) -> Result<(), String> {
    let mut child = Command::new("callgrind_control")
        .args([flag, &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("callgrind_control: {e}"))?;
    let deadline = Instant::now() + CONTROL_WITHIN;
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(s) if s.success() => return Ok(()),
            Some(s) => return Err(format!("callgrind_control {flag} {pid}: {s}")),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "callgrind_control {flag} {pid}: no answer within {} s",
                    CONTROL_WITHIN.as_secs()
                ));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// The newest dump of Envoy `pid` in `dir` (`callgrind.<pid>.<n>`), with its number.
fn newest_dump(dir: &Path, pid: u32) -> Option<(u32, PathBuf)> {
    let prefix = format!("callgrind.{pid}.");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| {
            let p = e.ok()?.path();
            let n = p
                .file_name()?
                .to_str()?
                .strip_prefix(&prefix)?
                .parse()
                .ok()?;
            Some((n, p))
        })
        .max_by_key(|(n, _)| *n)
}

/// The instruction total (Ir) of a callgrind dump.
fn total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// One counted window on `envoy`: zero, `drive` (which sends `n` requests), dump; the
/// instructions per request.
fn window(
    dir: &Path,
    envoy: &Envoy,
    n: u64,
    drive: impl FnOnce() -> Result<(), String>,
) -> Result<f64, String> {
    let before = newest_dump(dir, envoy.pid).map(|(k, _)| k);
    control(envoy.pid, "-z")?;
    drive()?;
    control(envoy.pid, "-d")?;
    let deadline = Instant::now() + CONTROL_WITHIN;
    let path = loop {
        match newest_dump(dir, envoy.pid) {
            Some((k, p)) if Some(k) != before => break p,
            _ if Instant::now() > deadline => return Err("callgrind wrote no dump".into()),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Dumps are only read once: each is ~200 KB, a run makes dozens.
    let _ = std::fs::remove_file(&path);
    let ir = total(&text).ok_or_else(|| format!("no instruction total in {}", path.display()))?;
    if ir == 0 {
        return Err("callgrind counted no instruction in the window".into());
    }
    Ok(ir as f64 / n as f64)
}

/// Sends one request (TCP: one round trip) on a connection and checks what came back.
type SendOne<'a> = Box<dyn FnMut(&mut Conn) -> Result<(), String> + 'a>;

/// A started Envoy, or the stage that failed and why.
type Started = Result<Envoy, (Stage, String)>;

/// One variant being counted: its Envoy and how one request on it is sent and checked.
struct Counted<'a> {
    name: &'static str,
    envoy: Envoy,
    send: SendOne<'a>,
    /// A brought module's calls, each window's counted by Envoy (a module that stops calling
    /// out would count fewer instructions).
    calls: Option<byo::CallCount>,
    per_request: Vec<f64>,
    failed: Option<String>,
}

/// A connection of either kind.
enum Conn {
    Http(Session),
    Tcp(tcp::Session),
}

/// Starts every variant's Envoy at once (each valgrind is one CPU's worth of work, and start-up
/// is most of the time) and waits for them together; they come back in the variants' order.
/// Envoys are spawned from this thread, which outlives them (they die with the thread that
/// started them); only the waiting happens on other threads.
fn launch_all<T: Sync>(
    items: Vec<T>,
    spawn: impl Fn(&T) -> Result<Pending, (Stage, String)>,
    ready: impl Fn(&T, Pending) -> Result<Envoy, (Stage, String)> + Sync,
) -> Vec<(T, Started)> {
    let pending: Vec<_> = items.iter().map(&spawn).collect();
    let started: Vec<_> = std::thread::scope(|scope| {
        let ready = &ready;
        let handles: Vec<_> = items
            .iter()
            .zip(pending)
            .map(|(item, p)| scope.spawn(move || p.and_then(|p| ready(item, p))))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err((Stage::Load, "start-up thread panicked".into())))
            })
            .collect()
    });
    items.into_iter().zip(started).collect()
}

fn starting(progress: &dyn Progress, n: usize, sc: &Scenario) {
    progress.step(&format!(
        "callgrind: starting {n} Envoys for {} / {}",
        sc.filter, sc.name
    ));
}

/// Counts one scenario in Envoy, every variant; figures go to `out` as rows of
/// [`Metric::Instructions`], one "process" per window.
pub fn count_scenario(
    c: &Counting,
    sc: &Scenario,
    progress: &dyn Progress,
    out: &mut WorkerOutput,
) {
    let s = &c.envoy;
    let _ = std::fs::create_dir_all(&s.dir);
    let fail = |out: &mut WorkerOutput, arm: &str, stage: Stage, msg: String| {
        out.fail_at(&at(sc, &sc.name, arm, Phase::Request, 0), stage, msg)
    };
    match &sc.workload {
        // A timer runs inside Envoy on its own schedule, not per request: nothing to count.
        Workload::Tick => {}
        Workload::Http(ex) => {
            let ((Some(b), why), Some(config)) = (builds(s, sc), sc.file.case_config(&sc.case))
            else {
                return;
            };
            if let Some(why) = why {
                fail(out, config::NATIVE_MODULE, Stage::Load, why);
            }
            let want = match native_reference(sc) {
                Ok(w) => w,
                Err(e) => {
                    let msg = format!("no native reference: {e}");
                    return fail(out, EVERY_VARIANT, Stage::Verify, msg);
                }
            };
            let upstream = match Upstream::start(&ex.response) {
                Ok(u) => u,
                Err(e) => return fail(out, EVERY_VARIANT, Stage::Load, format!("upstream: {e}")),
            };
            // A brought module's outbound calls need their clusters, served as the timed path
            // serves them, and the variants that cannot run it are said, with why.
            let calls = match byo::Calls::start(sc, &want.0) {
                Ok(calls) => calls,
                Err(e) => return fail(out, EVERY_VARIANT, Stage::Load, e),
            };
            let clusters = calls.as_ref().map(|c| c.clusters()).unwrap_or_default();
            let counted_here = EnvoySettings {
                variants: c.variants.clone(),
                ..s.clone()
            };
            let here = [sc.name.clone()];
            byo::absent(
                &counted_here,
                (sc, &here),
                &want.0,
                (Metric::Instructions, 0),
                out,
            );
            let req = RequestTemplate::from_message(&ex.request);
            let mut variants = config::variants(&sc.filter, &b, &String::from_utf8_lossy(&config));
            variants.retain(|v| c.wants(v.name) && byo::runs(sc, &want.0, v.name));
            starting(progress, variants.len(), sc);
            let started = launch_all(
                variants,
                |v: &Variant| {
                    let name = format!("{}.{}.{}.callgrind", sc.filter, sc.name, v.name);
                    super::spawn(s, v, upstream.port, &clusters, &name)
                },
                |v, p| super::ready(p, v),
            );
            let mut counted = Vec::new();
            for (v, envoy) in started {
                // Only the module's own variants make its calls (V8; not envoy-none).
                let recording = calls
                    .as_ref()
                    .filter(|_| v.check == config::Check::Exact)
                    .map(|c| c.record());
                let proven = envoy
                    .and_then(|e| super::prove(e, sc, &v, &upstream, &req, &want))
                    .and_then(|p| match recording {
                        Some(r) => r.check(&want.0).map(|()| p).map_err(|e| (Stage::Verify, e)),
                        None => Ok(p),
                    });
                match proven {
                    Ok(p) => {
                        let (expect, req, upstream) = (p.expect, &req, &upstream);
                        let counts = calls.as_ref().filter(|_| v.check == config::Check::Exact);
                        counted.push(Counted {
                            name: v.name,
                            envoy: p.envoy,
                            calls: counts.map(byo::Calls::count),
                            send: Box::new(move |conn| match conn {
                                Conn::Http(s) => {
                                    upstream.checked_one(&expect, || s.send_checked(req, &expect))
                                }
                                Conn::Tcp(_) => Err("not an HTTP connection".into()),
                            }),
                            per_request: Vec::new(),
                            failed: None,
                        })
                    }
                    Err((stage, msg)) => fail(out, v.name, stage, msg),
                }
            }
            windows(
                c,
                sc,
                progress,
                counted,
                |addr| Session::open(addr).map(Conn::Http),
                out,
            );
        }
        Workload::Tcp(conn) => {
            let (Some(wasm), Some(config)) =
                (sc.artifacts.wasm.as_ref(), sc.file.case_config(&sc.case))
            else {
                return;
            };
            let config = String::from_utf8_lossy(&config).into_owned();
            let payload = tcp::payload(conn);
            let echo = match tcp::Echo::start() {
                Ok(e) => e,
                Err(e) => return fail(out, EVERY_VARIANT, Stage::Load, format!("echo: {e}")),
            };
            let ours: tcp::TcpFilter = (&sc.filter, wasm, &config);
            let variants: Vec<_> = tcp::VARIANTS
                .into_iter()
                .zip([None, Some(ours)])
                .filter(|(arm, _)| c.wants(arm))
                .collect();
            starting(progress, variants.len(), sc);
            let started = launch_all(
                variants,
                |(arm, filter)| {
                    let name = format!("{}.{}.{arm}.callgrind", sc.filter, sc.name);
                    tcp::spawn(s, *filter, echo.port, &name)
                },
                |_, p| p.ready().map_err(|e| (Stage::Load, e.to_string())),
            );
            let mut counted = Vec::new();
            for ((arm, filter), envoy) in started {
                let payload = &payload;
                match envoy.and_then(|e| tcp::prove(e, payload, filter.map(|f| f.2))) {
                    Ok(envoy) => counted.push(Counted {
                        name: arm,
                        envoy,
                        send: Box::new(move |conn| match conn {
                            Conn::Tcp(s) => s.round_trip(payload),
                            Conn::Http(_) => Err("not a TCP connection".into()),
                        }),
                        calls: None,
                        per_request: Vec::new(),
                        failed: None,
                    }),
                    Err((stage, msg)) => fail(out, arm, stage, msg),
                }
            }
            windows(
                c,
                sc,
                progress,
                counted,
                |addr| tcp::Session::open(addr).map(Conn::Tcp),
                out,
            );
        }
    }
}

/// The warm-up and the counted windows, interleaved across variants; then the rows.
fn windows(
    c: &Counting,
    sc: &Scenario,
    progress: &dyn Progress,
    mut counted: Vec<Counted>,
    open: impl Fn(std::net::SocketAddr) -> Result<Conn, String>,
    out: &mut WorkerOutput,
) {
    let dir = &c.envoy.dir;
    let n = c.requests;
    // Round 0 is the warm-up (V8 tiers code up; first-use allocations), not recorded.
    let order: Vec<usize> = (0..counted.len()).collect();
    for round in 0..=c.windows {
        for i in rotated(&order, round) {
            let v = &mut counted[i];
            if v.failed.is_some() {
                continue;
            }
            progress.step(&format!(
                "callgrind: {} / {} / {} window {round}/{}",
                sc.filter, sc.name, v.name, c.windows
            ));
            // Read outside the window: the admin request's instructions are not counted.
            let before = v.calls.as_ref().map(|c| c.before(&v.envoy));
            let per = open(v.envoy.listener).and_then(|mut conn| {
                // One request first, so the connection's set-up is not in the window.
                (v.send)(&mut conn).map_err(|e| format!("first request: {e}"))?;
                let per = window(dir, &v.envoy, n, || {
                    (0..n).try_for_each(|k| {
                        (v.send)(&mut conn).map_err(|e| format!("request {k}: {e}"))
                    })
                })?;
                match (&v.calls, before) {
                    (Some(c), Some(b)) => c.made(&v.envoy, b, n + 1).map(|()| per),
                    _ => Ok(per),
                }
            });
            let alive = v.envoy.check_alive().map_err(|e| e.to_string());
            match (per, alive) {
                (Ok(per), Ok(())) if round > 0 => v.per_request.push(per),
                (Ok(_), Ok(())) => {}
                (Err(e), _) | (_, Err(e)) => v.failed = Some(format!("window {round}: {e}")),
            }
        }
    }
    for v in counted {
        if let Some(why) = v.failed {
            out.fail_at(
                &at(sc, &sc.name, v.name, Phase::Request, 0),
                Stage::Instructions,
                why,
            );
            continue;
        }
        for (w, per) in v.per_request.iter().enumerate() {
            let at = at(sc, &sc.name, v.name, Phase::Request, w as u32);
            out.record(&at, Metric::Instructions, *per);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dump_total_is_read_and_a_dump_without_one_is_not() {
        let dump = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfn=main\n1 5\nsummary: 123456\ntotals: 123456\n";
        assert_eq!(total(dump), Some(123456));
        assert_eq!(total("events: Ir\nfn=main\n1 5\n"), None);
    }

    #[test]
    fn the_newest_dump_is_the_highest_number_of_that_pid() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "callgrind.42.1",
            "callgrind.42.10",
            "callgrind.42.9",
            "callgrind.7.99",
        ] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let (n, p) = newest_dump(d.path(), 42).unwrap();
        assert_eq!(n, 10);
        assert!(p.ends_with("callgrind.42.10"));
        assert!(newest_dump(d.path(), 5).is_none());
    }
}
