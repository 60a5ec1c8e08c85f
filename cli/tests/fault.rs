//! `filterbench fault` end to end, bounded (a 1.5 s window per trial): a panic from request 51
//! on wasmi (the VM is replaced, the host lives), natively in process (the host process dies)
//! and on V8 in Envoy under FAIL_CLOSED (503 from then on, Envoy lives) — each read as what it
//! was, never a death as survival — and no Envoy or child left running afterwards.

use std::process::Command;

use filterbench_results::Results;
use filterbench_results::vocab::{Metric, Phase, arm};

fn skip_envoy() -> bool {
    match filterbench_runners::envoy::process::find(None) {
        Ok(_) => false,
        Err(e) if std::env::var_os("FILTERBENCH_SKIP_ENVOY").is_some() => {
            eprintln!("skipping (FILTERBENCH_SKIP_ENVOY=1): {e}");
            true
        }
        Err(e) => panic!("{e}; set FILTERBENCH_SKIP_ENVOY=1 to skip the Envoy tests"),
    }
}

/// Pids of running processes whose command line mentions `needle`.
fn running_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|r| r.1.trim_start().starts_with('Z'))
        });
        if cmd.contains(needle) && !zombie {
            out.push(pid);
        }
    }
    out
}

fn value(r: &Results, arm: &str, m: Metric) -> Option<f64> {
    r.rows
        .iter()
        .find(|x| x.phase == Phase::Fault && x.scenario == "panic" && x.arm == arm && x.metric == m)
        .map(|x| x.value)
}

#[test]
fn a_panic_is_read_as_what_it_did_and_no_envoy_is_left() {
    if skip_envoy() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fault.json");
    let v8 = arm::envoy_wasm_v8_policy("FAIL_CLOSED");
    let arms = format!("{},{},{v8}", arm::WASMI, arm::NATIVE);
    let run = Command::new(env!("CARGO_BIN_EXE_filterbench"))
        .args(["fault", "--modes", "panic", "--arms", &arms])
        .args([
            "--after",
            "50",
            "--window-ms",
            "1500",
            "--no-report",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Nothing we started runs on: every Envoy's config, and every child's record, is under
    // `dir`.
    let left = running_with(&dir.path().display().to_string());
    assert!(left.is_empty(), "still running: {left:?}");
    let r = Results::read(&out).unwrap();
    let survived = |a: &str| value(&r, a, Metric::FaultHostSurvived);
    // wasmi: the trap fails requests, the VM is replaced, the host lives and recovers.
    assert_eq!(survived(arm::WASMI), Some(1.0));
    assert!(value(&r, arm::WASMI, Metric::FaultRequestsFailed).unwrap() >= 1.0);
    assert!(value(&r, arm::WASMI, Metric::FaultRecoveryTime).is_some());
    // Natively the panic aborts the host: dead, its one in-flight request lost, 50 good before.
    assert_eq!(survived(arm::NATIVE), Some(0.0));
    assert_eq!(value(&r, arm::NATIVE, Metric::FaultRequests), Some(51.0));
    assert_eq!(
        value(&r, arm::NATIVE, Metric::FaultRequestsReset),
        Some(1.0)
    );
    assert!(value(&r, arm::NATIVE, Metric::FaultRecoveryTime).is_none());
    // V8 under FAIL_CLOSED: Envoy lives, every request after the panic is a 503, no recovery.
    assert_eq!(survived(&v8), Some(1.0));
    let sent = value(&r, &v8, Metric::FaultRequests).unwrap();
    let failed = value(&r, &v8, Metric::FaultRequestsFailed).unwrap();
    assert!(
        sent > 50.0 && failed > 0.0 && failed <= sent - 40.0,
        "{sent} {failed}"
    );
    assert!(value(&r, &v8, Metric::FaultRecoveryTime).is_none());
    assert!(
        r.observations
            .iter()
            .any(|o| o.arm == v8 && o.text.contains("503")),
        "{:?}",
        r.observations
    );
    // The table: one line per arm, within 100 columns.
    for a in [arm::WASMI, arm::NATIVE, v8.as_str()] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("panic") && l.contains(a)),
            "{stdout}"
        );
    }
    assert!(stdout.lines().all(|l| l.chars().count() <= 100), "{stdout}");
}

fn at(r: &Results, mode: &str, arm: &str, m: Metric) -> Option<f64> {
    r.rows
        .iter()
        .find(|x| x.phase == Phase::Fault && x.scenario == mode && x.arm == arm && x.metric == m)
        .map(|x| x.value)
}

/// Each failure does fail (a no-op failure in misbehave turns this red), and a request that
/// never returns natively is lost from when it was sent: bad, never recovered, not "no
/// failure", the host alive but not read as fine. In process only (no Envoy), 1.5 s windows.
#[test]
fn each_failure_fails_and_a_hung_request_is_a_loss() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fault.json");
    let arms = format!("{},{}", arm::WASMI, arm::NATIVE);
    let run = Command::new(env!("CARGO_BIN_EXE_filterbench"))
        .args(["fault", "--modes", "panic,loop,null-write", "--arms", &arms])
        .args([
            "--after",
            "50",
            "--window-ms",
            "1500",
            "--no-report",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let left = running_with(&dir.path().display().to_string());
    assert!(left.is_empty(), "still running: {left:?}");
    let r = Results::read(&out).unwrap();
    let bad = |mode: &str, a: &str| {
        at(&r, mode, a, Metric::FaultRequestsFailed).unwrap()
            + at(&r, mode, a, Metric::FaultRequestsReset).unwrap()
    };
    // On wasmi the panic traps and the loop is stopped by a bound: requests fail.
    assert!(bad("panic", arm::WASMI) >= 1.0);
    assert!(bad("loop", arm::WASMI) >= 1.0);
    // Natively the null write kills the host with its one request in flight.
    assert_eq!(
        at(&r, "null-write", arm::NATIVE, Metric::FaultHostSurvived),
        Some(0.0)
    );
    assert_eq!(
        at(&r, "null-write", arm::NATIVE, Metric::FaultRequestsReset),
        Some(1.0)
    );
    // Natively the loop never returns: request 51 is lost, the process lives on, and the
    // recovery is absent because a request never returned, not because nothing failed.
    assert_eq!(
        at(&r, "loop", arm::NATIVE, Metric::FaultRequests),
        Some(51.0)
    );
    assert_eq!(
        at(&r, "loop", arm::NATIVE, Metric::FaultRequestsReset),
        Some(1.0)
    );
    assert_eq!(
        at(&r, "loop", arm::NATIVE, Metric::FaultHostSurvived),
        Some(1.0)
    );
    let why = r
        .absent
        .iter()
        .find(|x| {
            x.scenario == "loop" && x.arm == arm::NATIVE && x.metric == Metric::FaultRecoveryTime
        })
        .map(|x| x.reason.clone())
        .unwrap_or_default();
    assert!(why.starts_with("a request never returned"), "{why:?}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("loop") && l.contains(&format!(" {} ", arm::NATIVE)))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("alive, never good") && line.contains("never"),
        "{line}"
    );
    assert!(!line.contains("no failure"), "{line}");
}
