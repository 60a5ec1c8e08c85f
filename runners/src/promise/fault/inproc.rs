//! Fault trials in process: misbehave on one engine (or natively) driven request after request
//! through the host as the timed loop does — a request whose callback traps or is stopped by a
//! bound fails, and the VM is replaced — in a child process of its own, so a segfault, an abort
//! or a runaway allocation ends the child, not the command. The child keeps its tally in a
//! small file (rewritten at each request), which survives the child's death.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{FAILING_VARIANT, Mode, Outcome, RssWatch, Settings, Survival, Tally, Trial, load};
use crate::catalog;
use crate::engines::{self, Limits, LoadedModule};
use crate::fixtures::DEFAULT_CLOCK_NS;
use crate::host::vm::{HttpExchange, Message, Vm};
use crate::host::{Clock, HostState, SharedData};

/// The tally's file: these u64 fields, little-endian, in this order.
#[derive(Clone, Copy, Default, Debug)]
struct Record {
    sent: u64,
    good: u64,
    trapped: u64,
    wrong: u64,
    /// ns since the load began, + 1 (0: none yet).
    first_bad: u64,
    recovered: u64,
    bad_after_recovery: u64,
    /// 1 while a request is in the filter.
    in_request: u64,
    vm_restarts: u64,
    longest_request_ns: u64,
    /// When the request now (or last) in the filter was sent: ns since the load began, + 1.
    /// A request that never returns is counted bad from this time on.
    current_sent: u64,
    /// The child's resident set once its VM had started (0: not read): growth's baseline.
    baseline_rss: u64,
}

const FIELDS: usize = 12;

impl Record {
    fn to_bytes(self) -> [u8; FIELDS * 8] {
        let v = [
            self.sent,
            self.good,
            self.trapped,
            self.wrong,
            self.first_bad,
            self.recovered,
            self.bad_after_recovery,
            self.in_request,
            self.vm_restarts,
            self.longest_request_ns,
            self.current_sent,
            self.baseline_rss,
        ];
        let mut out = [0u8; FIELDS * 8];
        for (i, x) in v.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&x.to_le_bytes());
        }
        out
    }

    fn from_bytes(b: &[u8]) -> Option<Record> {
        if b.len() < FIELDS * 8 {
            return None;
        }
        let f = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Some(Record {
            sent: f(0),
            good: f(1),
            trapped: f(2),
            wrong: f(3),
            first_bad: f(4),
            recovered: f(5),
            bad_after_recovery: f(6),
            in_request: f(7),
            vm_restarts: f(8),
            longest_request_ns: f(9),
            current_sent: f(10),
            baseline_rss: f(11),
        })
    }
}

fn host(mode: Mode, after: u64) -> HostState {
    let config = mode.config(after).into_bytes();
    let mut h = HostState::new(
        Some(config),
        Clock::Fixed(DEFAULT_CLOCK_NS),
        SharedData::new(),
    );
    h.plugin.name = FAILING_VARIANT.into();
    h.plugin.root_id = FAILING_VARIANT.into();
    h.capture_logs = false;
    h
}

fn start_vm(module: &dyn LoadedModule, mode: Mode, after: u64) -> Result<Vm, String> {
    let mut vm = Vm::start(module, host(mode, after)).map_err(|e| e.to_string())?;
    match vm.configure() {
        Ok(true) => Ok(vm),
        Ok(false) => Err("proxy_on_configure returned false".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The child's side: drives requests on `arm` for the window, keeping the tally in `record`;
/// the first failure's text goes to stderr. A watcher thread ends the process at the window's
/// end (plus a little) even when a request never comes back.
pub fn child(arm: &str, mode: Mode, s: &Settings, record: &Path) -> Result<(), String> {
    let artifacts = catalog::artifacts_for(FAILING_VARIANT);
    let module = engines::engine(arm, &Limits::default())
        .and_then(|e| e.load(&artifacts))
        .map_err(|e| e.to_string())?;
    let file = File::create(record).map_err(|e| e.to_string())?;
    let mut vm = start_vm(module.as_ref(), mode, s.after)?;
    let ex = HttpExchange {
        request: Message {
            headers: vec![
                (b":method".to_vec(), b"GET".to_vec()),
                (b":path".to_vec(), b"/".to_vec()),
                (b":authority".to_vec(), b"filterbench".to_vec()),
            ],
            ..Default::default()
        },
        response: Message {
            headers: vec![(b":status".to_vec(), b"200".to_vec())],
            body: b"hello".to_vec(),
            ..Default::default()
        },
    };
    let window = s.window;
    std::thread::spawn(move || {
        std::thread::sleep(window + Duration::from_millis(200));
        // The driver is stuck in a request (the record says which): end here.
        std::process::exit(0);
    });
    let (mut r, mut tally) = (Record::default(), Tally::default());
    let write = |r: &Record| {
        file.write_all_at(&r.to_bytes(), 0)
            .map_err(|e| e.to_string())
    };
    r.baseline_rss = super::rss_of(std::process::id()).unwrap_or_default();
    write(&r)?;
    let start = Instant::now();
    let mut first_error = true;
    while start.elapsed() < window {
        let sent = start.elapsed();
        r.sent += 1;
        r.in_request = 1;
        r.current_sent = sent.as_nanos() as u64 + 1;
        write(&r)?;
        let result = vm.http(&ex);
        let done = start.elapsed();
        r.longest_request_ns = r.longest_request_ns.max((done - sent).as_nanos() as u64);
        let outcome = match &result {
            Ok(o) if o.local_reply.is_none() && has_header(&o.response_headers) => Outcome::Good,
            Ok(_) => Outcome::Wrong,
            Err(_) => Outcome::Trapped,
        };
        tally.add(sent, done, &outcome);
        match outcome {
            Outcome::Good => r.good += 1,
            Outcome::Wrong => r.wrong += 1,
            _ => r.trapped += 1,
        }
        r.first_bad = tally.first_bad.map_or(0, |d| d.as_nanos() as u64 + 1);
        r.recovered = tally.recovered.map_or(0, |d| d.as_nanos() as u64 + 1);
        r.bad_after_recovery = tally.bad_after_recovery;
        r.in_request = 0;
        if let Err(e) = result {
            if first_error {
                eprintln!("{e}");
                first_error = false;
            }
            // As the timed loop: the request failed, the VM is replaced.
            vm = start_vm(module.as_ref(), mode, s.after)?;
            r.vm_restarts += 1;
        }
        write(&r)?;
    }
    Ok(())
}

fn has_header(h: &crate::host::HeaderMap) -> bool {
    h.iter()
        .any(|(k, v)| k == load::HEADER.as_bytes() && v == load::VALUE.as_bytes())
}

/// The parent's side: runs `cmd` (the child for `arm` × `mode`, writing `record`), watches its
/// resident set, waits for it (never past the window plus 30 s), and reads what happened.
pub fn trial(
    mut cmd: Command,
    (arm, mode): (&str, Mode),
    s: &Settings,
    record: &Path,
) -> Result<Trial, String> {
    let _ = std::fs::remove_file(record);
    let err_path = record.with_extension("err");
    let err = File::create(&err_path).map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
    // SAFETY: prctl is async-signal-safe; the child dies with us.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting the child: {e}"))?;
    let mut watch = RssWatch::new(child.id(), s.growth_cap);
    let mut rebased = false;
    let deadline = Instant::now() + s.window + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(st);
        }
        if !rebased
            && let Some(b) = std::fs::read(record)
                .ok()
                .and_then(|b| Record::from_bytes(&b))
                .map(|r| r.baseline_rss)
                .filter(|b| *b > 0)
        {
            watch.rebase(b);
            rebased = true;
        }
        watch.sample();
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let said = std::fs::read_to_string(&err_path).unwrap_or_default();
    let first_line: String = said
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(140)
        .collect();
    let bytes = std::fs::read(record).unwrap_or_default();
    let Some(r) = Record::from_bytes(&bytes) else {
        return Err(format!(
            "the child recorded nothing ({}): {}",
            status.map_or("killed at its deadline".into(), |s| s.to_string()),
            said.trim()
        ));
    };
    let answered = r.good + r.trapped + r.wrong;
    // sent ≥ answered: a request is counted sent before it runs.
    let lost = r.sent - answered;
    let died = match status {
        Some(st) if st.success() => None,
        Some(st) => Some(match st.signal() {
            Some(sig) => format!("died by signal {sig} ({})", signal_name(sig)),
            None => format!("exited with {st}"),
        }),
        None => Some("stopped answering; killed at its deadline".into()),
    };
    let mut tally = Tally {
        sent: r.sent,
        good: r.good,
        first_bad: (r.first_bad > 0).then(|| Duration::from_nanos(r.first_bad - 1)),
        recovered: (r.recovered > 0).then(|| Duration::from_nanos(r.recovered - 1)),
        bad_after_recovery: r.bad_after_recovery,
        in_flight_lost: lost,
        ..Default::default()
    };
    if lost > 0 && r.current_sent > 0 {
        // The lost request (hung, or in the filter when the host died) is a bad outcome from
        // when it was sent: it never got an answer.
        let at = Duration::from_nanos(r.current_sent - 1);
        if tally.recovered.is_some() {
            tally.bad_after_recovery += lost;
        }
        tally.first_bad = Some(tally.first_bad.map_or(at, |b| b.min(at)));
    }
    if r.trapped > 0 {
        tally.failed.insert(0, r.trapped);
    }
    if r.wrong > 0 {
        tally.failed.insert(200, r.wrong);
    }
    if died.is_some() {
        tally.reset = lost;
    } else {
        tally.unanswered = lost;
    }
    let (survived, mut how) = match (&died, watch.capped) {
        (_, true) => (
            Survival::Unknown(format!(
                "filterbench stopped the host process when its resident set had grown past {} \
                 GiB (it was still growing)",
                s.growth_cap >> 30
            )),
            format!(
                "host memory grew without bound; stopped by filterbench at +{} GiB",
                s.growth_cap >> 30
            ),
        ),
        (Some(d), false) => (Survival::Survived(false), format!("host process {d}")),
        (None, false) if lost > 0 => (
            Survival::Survived(true),
            format!(
                "host process alive, but a request never returned (sent {} s into the load, \
                 still in the filter at the window's end)",
                r.current_sent
                    .checked_sub(1)
                    .map_or("?".into(), |ns| format!("{:.2}", ns as f64 / 1e9))
            ),
        ),
        (None, false) => (Survival::Survived(true), "host survived".to_string()),
    };
    if r.vm_restarts > 0 {
        how.push_str(&format!("; VM replaced {} times", r.vm_restarts));
    }
    // Growth from the VM's start on; a host that never recorded it has no baseline.
    let growth = match (rebased, r.baseline_rss) {
        (true, _) => watch.growth(),
        (false, 0) => {
            Err("the host never recorded its resident set once its VM had started".into())
        }
        (false, _) => Err(
            "the host ended before its resident set was sampled after its VM had started".into(),
        ),
    };
    how.push_str(&super::consequences(&tally));
    how.push_str(&super::grew(&growth));
    how.push_str(&format!(
        "; longest request {:.1} ms",
        r.longest_request_ns as f64 / 1e6
    ));
    if !first_line.is_empty() {
        how.push_str(&format!("; first error: {first_line}"));
    }
    Ok(Trial {
        mode,
        arm: arm.to_string(),
        window: s.window,
        tally,
        survived,
        growth,
        how,
    })
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        _ => "another signal",
    }
}
