//! Live reload in a real Envoy, bounded (one swap each, a few seconds): a swap to a new `.wasm`
//! is reported only with the new version's output seen, and a swap Envoy refuses (a module
//! that is not Wasm) is a failure with no reload time; Envoy is gone afterwards either way.

use std::path::PathBuf;
use std::time::Duration;

use filterbench_results::merge::Batch;
use filterbench_results::vocab::{Metric, Phase};
use filterbench_runners::catalog;
use filterbench_runners::promise::reload::{self, ReloadSettings, run_arm, targets};

mod common;
use common::envoy_bin;

fn settings(bin: PathBuf, dir: &tempfile::TempDir) -> ReloadSettings {
    ReloadSettings {
        bin,
        dir: dir.path().to_path_buf(),
        trials: 1,
        connections: 2,
        before: Duration::from_millis(300),
        after: Duration::from_millis(2000),
    }
}

/// Whether process `pid` still exists (a zombie counts: it was not reaped).
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn rows(batch: &Batch, metric: Metric) -> Vec<f64> {
    batch
        .rows
        .iter()
        .filter(|r| r.metric == metric && r.phase == Phase::Reload)
        .map(|r| r.value)
        .collect()
}

#[test]
fn a_wasm_swap_is_seen_in_the_output_and_envoy_is_stopped() {
    let Some(bin) = envoy_bin() else { return };
    let f = catalog::find("add-header").unwrap();
    let wasm = f.artifacts.wasm.clone().unwrap();
    let (t, _) = targets(vec![wasm], Err("not asked".into()));
    let dir = tempfile::tempdir().unwrap();
    let mut batch = Batch::default();
    let config = f.fixtures.config.to_string();
    let run = run_arm(&settings(bin, &dir), &f.name, &config, &t[0], &mut batch);
    assert!(batch.failures.is_empty(), "{:?}", batch.failures);
    let pid = run.envoy_pid.expect("Envoy started");
    assert!(!exists(pid), "Envoy (pid {pid}) is still there");
    let [trial] = run.trials.as_slice() else {
        panic!("one trial, got {:?}", run.trials)
    };
    // The proof: responses with version 1's output, and the reload time is when they settled.
    assert!(trial.new_seen > 0, "{}", trial.line);
    let settled = trial.swap.settled.expect("settled");
    assert!(trial.swap.first_new.unwrap() <= settled);
    assert_eq!(
        rows(&batch, Metric::ReloadTime),
        vec![settled.as_nanos() as f64]
    );
    assert!(rows(&batch, Metric::ReloadRequests)[0] >= trial.new_seen as f64);
    // V8 VMs were counted before and after.
    assert_eq!(rows(&batch, Metric::ReloadWasmVmsAfter).len(), 1);
    assert!(trial.line.contains("v0 → v1"), "{}", trial.line);
}

/// Version 1 is not a Wasm module: Envoy keeps version 0 and the run must say the reload did
/// not happen — no reload time, a failure — not report the write as a reload.
#[test]
fn a_refused_swap_is_a_failure_without_a_reload_time() {
    let Some(bin) = envoy_bin() else { return };
    let f = catalog::find("add-header").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("not-wasm.wasm");
    std::fs::write(&bogus, b"this is not a wasm module").unwrap();
    // Versions alternate over the builds: 0 the real one, 1 the bogus one.
    let (t, _) = targets(
        vec![f.artifacts.wasm.clone().unwrap(), bogus],
        Err("not asked".into()),
    );
    let mut batch = Batch::default();
    let mut s = settings(bin, &dir);
    s.after = Duration::from_millis(1500);
    // Two trials asked: the failed first swap must end the arm (the second would swap from
    // an unknown version and count version 0's answers as failures).
    s.trials = 2;
    let config = f.fixtures.config.to_string();
    let run = run_arm(&s, &f.name, &config, &t[0], &mut batch);
    assert!(!exists(run.envoy_pid.expect("Envoy started")));
    assert_eq!(run.trials.len(), 1, "the arm went on after a failed swap");
    assert!(
        batch.rows.iter().all(|r| r.process == 1),
        "figures of a trial after the failed one: {:?}",
        batch.rows
    );
    assert_eq!(run.trials[0].new_seen, 0, "{}", run.trials[0].line);
    assert!(rows(&batch, Metric::ReloadTime).is_empty());
    assert!(
        batch.absent.iter().any(|a| a.metric == Metric::ReloadTime),
        "{:?}",
        batch.absent
    );
    assert!(
        batch
            .failures
            .iter()
            .any(|x| x.message.contains("never seen")),
        "{:?}",
        batch.failures
    );
    assert!(
        batch
            .failures
            .iter()
            .all(|x| x.scenario == reload::SCENARIO)
    );
    // The old version kept answering meanwhile.
    assert!(rows(&batch, Metric::ReloadRequests)[0] > 0.0);
}
