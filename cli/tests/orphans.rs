//! No process outlives `filterbench run`: killing the parent with SIGKILL (no destructor, no
//! signal handler runs) must take its workers — and the Envoys they started — with it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/procs.rs"]
mod procs;
use procs::{alive, children};

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Starts `run` with `args`, waits for its worker (and, with `envoy`, the worker's Envoy), kills
/// the parent with SIGKILL and returns what is still running 5 s later (killed before
/// returning, so a red test leaves nothing behind either).
fn survivors_of_sigkill(args: &[&str], envoy: bool) -> Vec<u32> {
    let dir = tempfile::tempdir().unwrap();
    let mut parent = Command::new(env!("CARGO_BIN_EXE_filterbench"))
        .args([
            "run",
            "--filters",
            "add-header",
            "--processes",
            "1",
            "--no-profile",
        ])
        .args(args)
        .arg("--out")
        .arg(dir.path().join("r.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut worker = None;
    assert!(
        wait_until(Duration::from_secs(60), || {
            worker = children(parent.id())
                .into_iter()
                .find(|p| cmdline(*p).contains("__worker"));
            worker.is_some()
        }),
        "no worker process appeared"
    );
    let worker = worker.unwrap();
    let mut watched = vec![worker];
    if envoy {
        let mut found = Vec::new();
        assert!(
            wait_until(Duration::from_secs(180), || {
                found = children(worker)
                    .into_iter()
                    .filter(|p| cmdline(*p).contains("envoy"))
                    .collect();
                !found.is_empty()
            }),
            "the worker started no Envoy"
        );
        watched.extend(found);
    } else {
        std::thread::sleep(Duration::from_secs(2));
    }
    parent.kill().unwrap(); // SIGKILL
    parent.wait().unwrap();
    let left: Vec<u32> = watched
        .into_iter()
        .filter(|pid| !wait_until(Duration::from_secs(5), || !alive(*pid)))
        .collect();
    for pid in &left {
        // SAFETY: signalling a process this test started.
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
    }
    left
}

#[test]
fn sigkill_of_the_parent_during_a_long_step_takes_the_worker_with_it() {
    // A 30 s timed step: the worker prints nothing meanwhile, so only the parent-death
    // signal (not a broken progress pipe) can end it within 5 s.
    let left = survivors_of_sigkill(
        &["--arms", "native", "--measure-ms", "30000", "--no-envoy"],
        false,
    );
    assert!(
        left.is_empty(),
        "still running 5 s after the parent was killed: {left:?}"
    );
}

#[test]
fn sigkill_of_the_parent_takes_the_workers_envoy_with_it() {
    if std::env::var_os("FILTERBENCH_SKIP_ENVOY").is_some() {
        eprintln!("FILTERBENCH_SKIP_ENVOY is set: no Envoy to check");
        return;
    }
    let left = survivors_of_sigkill(&["--arms", "native", "--measure-ms", "20", "--envoy"], true);
    assert!(
        left.is_empty(),
        "still running 5 s after the parent was killed: {left:?}"
    );
}
