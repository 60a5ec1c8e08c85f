//! The live-Envoy arm: a short run of every variant of add-header, every timed response checked
//! (a filter that misbehaves only under load is caught), and process hygiene — Envoy failing to
//! start or dying mid-run gives a clear error and leaves no process behind.
//! Needs Envoy (scripts/setup.sh installs it on every machine): a missing Envoy fails these
//! tests unless `FILTERBENCH_SKIP_ENVOY=1` says to skip them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use filterbench_results::vocab::{Metric, Stage};
use filterbench_runners::envoy::{self, Envoy, EnvoySettings};
use filterbench_runners::measure::{Plan, Silent, WorkerOutput, scenario};

mod common;
use common::envoy_bin;

fn settings(bin: PathBuf, dir: &Path) -> EnvoySettings {
    EnvoySettings {
        version: envoy::process::version(&bin).unwrap(),
        bin,
        concurrency: 1,
        connections: 4,
        duration: Duration::from_millis(300),
        rounds: 2,
        warmup: Duration::from_millis(50),
        rate_fractions: vec![0.5],
        rate_duration: Duration::from_millis(200),
        wrk: true,
        scaling: vec![1, 2],
        dir: dir.to_path_buf(),
        under: Default::default(),
        variants: Vec::new(),
    }
}

fn add_header_scenario() -> scenario::Scenario {
    let mut plan = Plan::quick();
    plan.filters = vec!["add-header".into()];
    scenario::scenarios(&plan)
        .unwrap()
        .into_iter()
        .find(|s| s.name == "small-headers")
        .unwrap()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn every_variant_is_verified_then_measured() {
    let Some(bin) = envoy_bin() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = settings(bin, dir.path());
    assert_eq!(s.version, "1.40.0");
    let sc = add_header_scenario();
    let mut out = WorkerOutput::default();
    envoy::measure_scenario(&s, &sc, 0, &Silent, &mut out);
    envoy::measure_scaling(&s, &sc, 0, &mut out);
    assert!(out.failures.is_empty(), "{:#?}", out.failures);
    for arm in [
        "envoy-none",
        "envoy-native",
        "envoy-native-module",
        "envoy-lua",
        "envoy-wasm-v8",
    ] {
        let has = |scenario: &str, metric: Metric| {
            out.rows.iter().any(|r| {
                r.arm == arm && r.scenario == scenario && r.metric == metric && r.value > 0.0
            })
        };
        assert!(has("small-headers", Metric::Throughput), "{arm}");
        assert!(has("small-headers", Metric::CpuPerRequest), "{arm}");
        assert!(has("small-headers@50%", Metric::LatencyP50), "{arm}");
        assert!(has("", Metric::EnvoyRssAfterLoadBytes), "{arm}");
        assert!(has("small-headers", Metric::ResponseCheckNs), "{arm}");
        // A short run has too few samples for p99.9: said, not published.
        assert!(!has("small-headers@50%", Metric::LatencyP999), "{arm}");
        assert!(out.absent.iter().any(|a| a.arm == arm
            && a.scenario == "small-headers@50%"
            && a.metric == Metric::LatencyP999
            && a.reason.contains("needs 10000 samples")));
    }
    for arm in ["envoy-none", "envoy-native-module", "envoy-wasm-v8"] {
        assert!(
            out.rows.iter().any(|r| r.arm == arm
                && r.threads == 2
                && r.metric == Metric::EnvoyRssBytes
                && r.value > 0.0),
            "{arm}"
        );
    }
    // One V8 VM per worker at least, and the configs are kept to rerun by hand.
    assert!(
        out.rows
            .iter()
            .any(|r| r.arm == "envoy-wasm-v8" && r.metric == Metric::WasmVms && r.value >= 1.0)
    );
    assert!(
        dir.path()
            .join("add-header.small-headers.envoy-wasm-v8.p0.json")
            .exists()
    );
    assert!(
        out.rows
            .iter()
            .any(|r| r.arm == "envoy-wasm-v8" && r.metric == Metric::RssPerWorkerBytes)
    );
}

#[test]
fn envoy_dying_mid_run_is_a_clear_error_and_leaves_nothing_behind() {
    let Some(bin) = envoy_bin() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sc = add_header_scenario();
    let builds = envoy::config::Builds {
        wasm: sc.artifacts.wasm.clone().unwrap(),
        module: None,
    };
    let variant =
        envoy::config::variants("add-header", &builds, "{\"name\":\"x\",\"value\":\"y\"}")
            .into_iter()
            .find(|v| v.name == "envoy-wasm-v8")
            .unwrap();
    let cfg = dir.path().join("c.json");
    std::fs::write(&cfg, envoy::config::bootstrap(&variant, 9).to_string()).unwrap();
    let mut e = Envoy::start(&bin, &cfg, 1, dir.path(), "victim").unwrap();
    let pid = e.pid;
    assert!(e.check_alive().is_ok());
    // Killed from outside, as an OOM killer or a user would.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(300));
    let err = e.check_alive().unwrap_err().to_string();
    assert!(
        err.contains("died mid-run") && err.contains(&pid.to_string()),
        "{err}"
    );
    drop(e);
    assert!(!alive(pid), "Envoy {pid} left behind");

    // Dropping a healthy Envoy (error paths, panics) stops it too.
    let e = Envoy::start(&bin, &cfg, 1, dir.path(), "dropped").unwrap();
    let pid = e.pid;
    drop(e);
    assert!(!alive(pid), "Envoy {pid} left behind");
}

#[test]
fn a_bad_config_is_a_clear_start_error() {
    let Some(bin) = envoy_bin() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.json");
    std::fs::write(
        &cfg,
        r#"{"static_resources": {"listeners": [{"name": 7}]}}"#,
    )
    .unwrap();
    let err = Envoy::start(&bin, &cfg, 1, dir.path(), "bad")
        .err()
        .expect("must not start")
        .to_string();
    assert!(err.contains("Envoy did not start"), "{err}");
}

#[test]
fn the_network_filter_runs_behind_tcp_proxy() {
    let Some(bin) = envoy_bin() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = settings(bin, dir.path());
    let mut plan = Plan::quick();
    plan.filters = vec!["tcp-bytes".into()];
    let sc = scenario::scenarios(&plan).unwrap().remove(0);
    let mut out = WorkerOutput::default();
    envoy::measure_scenario(&s, &sc, 0, &Silent, &mut out);
    assert!(out.failures.is_empty(), "{:#?}", out.failures);
    for arm in ["envoy-none", "envoy-wasm-v8"] {
        assert!(
            out.rows
                .iter()
                .any(|r| r.arm == arm && r.metric == Metric::Throughput && r.value > 0.0),
            "{arm}"
        );
    }
}

fn misbehave(bench: &str) -> scenario::Scenario {
    let mut plan = Plan::quick();
    plan.filters = vec!["misbehave".into()];
    scenario::scenarios(&plan)
        .unwrap()
        .into_iter()
        .find(|s| s.name == bench)
        .unwrap_or_else(|| panic!("misbehave has no bench `{bench}`"))
}

/// The misbehaving filter passes the proof before load (its first requests are right), then
/// stops adding its header or changes the body: every variant running its code must fail at
/// stage "run" with the difference named, leaving no figure; Envoy's own variant is unaffected.
#[test]
fn a_filter_that_misbehaves_under_load_is_caught_on_every_variant() {
    let Some(bin) = envoy_bin() else { return };
    for (bench, named) in [
        (
            "stop-header",
            "response header x-filterbench = \"added\" missing",
        ),
        ("change-body", "body \"hello-changed\" (expected \"hello\")"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(bin.clone(), dir.path());
        // No warm-up: the misbehaviour must be caught in the timed loop itself.
        s.warmup = Duration::ZERO;
        let sc = misbehave(bench);
        let mut out = WorkerOutput::default();
        envoy::measure_scenario(&s, &sc, 0, &Silent, &mut out);
        for arm in ["envoy-wasm-v8", "envoy-native-module"] {
            let f = out
                .failures
                .iter()
                .find(|f| f.arm == arm)
                .unwrap_or_else(|| panic!("{bench}: {arm} not caught: {:#?}", out.failures));
            assert_eq!(f.stage, Stage::Run, "{bench} {arm}: {f:?}");
            assert!(f.message.contains(named), "{bench} {arm}: {}", f.message);
            assert!(!f.message.contains("warm-up"), "{}", f.message);
            assert!(
                !out.rows.iter().any(|r| r.arm == arm)
                    && !out.histograms.iter().any(|h| h.arm == arm),
                "{bench}: rows of {arm} survived"
            );
        }
        assert!(
            out.rows
                .iter()
                .any(|r| r.arm == "envoy-none" && r.metric == Metric::Throughput),
            "{bench}: {:#?}",
            out.failures
        );
    }
}

#[test]
fn the_behaving_filter_passes_every_check() {
    let Some(bin) = envoy_bin() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sc = misbehave("behave");
    let mut out = WorkerOutput::default();
    envoy::measure_scenario(&settings(bin, dir.path()), &sc, 0, &Silent, &mut out);
    assert!(out.failures.is_empty(), "{:#?}", out.failures);
    for arm in ["envoy-wasm-v8", "envoy-native-module"] {
        assert!(
            out.rows.iter().any(|r| r.arm == arm
                && r.metric == Metric::ResponsesCheckedFraction
                && r.value == 1.0),
            "{arm}"
        );
    }
}

#[test]
fn envoy_runs_pinned_apart_from_our_side() {
    let Some(bin) = envoy_bin() else { return };
    let Some(pin) = envoy::process::pinning() else {
        return eprintln!("one CPU: nothing to pin");
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.json");
    let sc = add_header_scenario();
    let builds = envoy::config::Builds {
        wasm: sc.artifacts.wasm.clone().unwrap(),
        module: None,
    };
    let none = envoy::config::variants("add-header", &builds, "{}").remove(0);
    std::fs::write(&cfg, envoy::config::bootstrap(&none, 9).to_string()).unwrap();
    let e = Envoy::start(&bin, &cfg, 1, dir.path(), "pinned").unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", e.pid)).unwrap();
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(allowed, pin.envoy[0].to_string());
    // Worker CPU is read in ns from schedstat, and it moves while Envoy idles only a little.
    assert!(e.worker_cpu_ns().is_ok());
}
