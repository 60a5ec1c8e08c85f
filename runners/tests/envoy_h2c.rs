//! The live-Envoy variants over HTTP/1.1 and h2c in one short run of add-header: an Envoy per
//! variant × protocol, each proven over its protocol, timed in the same rounds, every response
//! checked; the h2c figures under the scenario's h2c name, the HTTP/1.1 ones under today's.
//! Needs Envoy (scripts/setup.sh installs it): a missing Envoy fails unless
//! `FILTERBENCH_SKIP_ENVOY=1` says to skip.

use std::path::{Path, PathBuf};
use std::time::Duration;

use filterbench_results::vocab::{Metric, Stage, arm, protocol};
use filterbench_runners::envoy::protocol::Protocol;
use filterbench_runners::envoy::{self, EnvoySettings};
use filterbench_runners::measure::{Plan, Silent, WorkerOutput, scenario};

mod common;
use common::envoy_bin;

fn settings(bin: PathBuf, dir: &Path) -> EnvoySettings {
    EnvoySettings {
        version: envoy::process::version(&bin).unwrap(),
        bin,
        concurrency: 1,
        connections: 4,
        duration: Duration::from_millis(200),
        rounds: 2,
        warmup: Duration::from_millis(50),
        rate_fractions: vec![0.5],
        rate_duration: Duration::from_millis(100),
        wrk: false,
        scaling: Vec::new(),
        dir: dir.to_path_buf(),
        under: Default::default(),
        // V8 and the references (none, the native module, Envoy's built-in filter).
        variants: vec![arm::ENVOY_WASM_V8.into()],
    }
}

fn bench(filter: &str, name: &str) -> scenario::Scenario {
    let mut plan = Plan::quick();
    plan.filters = vec![filter.into()];
    scenario::scenarios(&plan)
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{filter} has no bench `{name}`"))
}

#[test]
fn every_variant_runs_over_both_protocols_verified() {
    let Some(bin) = envoy_bin() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = settings(bin, dir.path());
    let sc = bench("add-header", "small-headers");
    let mut out = WorkerOutput::default();
    let both = [Protocol::Http1, Protocol::H2c];
    envoy::measure_scenario_over(&s, &both, &sc, 0, &Silent, &mut out);
    assert!(out.failures.is_empty(), "{:#?}", out.failures);
    let h2c = protocol::scenario("small-headers", true);
    assert_eq!(h2c, "small-headers+h2c");
    for arm in [
        arm::ENVOY_NONE,
        arm::ENVOY_BUILTIN,
        arm::ENVOY_NATIVE_MODULE,
        arm::ENVOY_WASM_V8,
    ] {
        let value = |scenario: &str, metric: Metric| {
            let v: Vec<f64> = out
                .rows
                .iter()
                .filter(|r| r.arm == arm && r.scenario == scenario && r.metric == metric)
                .map(|r| r.value)
                .collect();
            assert_eq!(
                v.len(),
                1,
                "{arm} {scenario} {metric}: one figure, not {v:?}"
            );
            v[0]
        };
        for sc in ["small-headers", h2c.as_str()] {
            assert!(value(sc, Metric::Throughput) > 0.0, "{arm} {sc}");
            assert!(value(sc, Metric::CpuPerRequest) > 0.0, "{arm} {sc}");
            // Verified: the check was priced, and it ran on a stated share of the responses.
            assert!(value(sc, Metric::ResponseCheckNs) >= 0.0, "{arm} {sc}");
            let checked = value(sc, Metric::ResponsesCheckedFraction);
            assert!(checked > 0.0 && checked <= 1.0, "{arm} {sc}: {checked}");
            assert!(
                value(&format!("{sc}@50%"), Metric::LatencyP50) > 0.0,
                "{arm} {sc}"
            );
        }
        // The per-filter memory figure once per variant, not once per protocol.
        assert!(value("", Metric::EnvoyRssAfterLoadBytes) > 0.0, "{arm}");
    }
    // The h2c Envoy's upstream cluster was told to speak HTTP/2; the HTTP/1.1 one was not.
    let config = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let v8 = "add-header.small-headers.envoy-wasm-v8";
    assert!(config(&format!("{v8}.h2c.p0.json")).contains("http2_protocol_options"));
    assert!(!config(&format!("{v8}.p0.json")).contains("http2_protocol_options"));
    // Every Envoy (eight: four variants × two protocols) stopped with the run.
    let ours = dir.path().to_string_lossy().into_owned();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&ours) && c.contains("envoy"))
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
}

/// A filter that stops adding its header once under load is caught over h2c as over HTTP/1.1
/// (every h2c response is checked too), and only the failing protocol's figures are dropped.
#[test]
fn a_filter_that_misbehaves_under_load_is_caught_over_h2c() {
    let Some(bin) = envoy_bin() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(bin, dir.path());
    // No warm-up: the misbehaviour must be caught in the timed loop itself.
    s.warmup = Duration::ZERO;
    let sc = bench("misbehave", "stop-header");
    let mut out = WorkerOutput::default();
    envoy::measure_scenario_over(&s, &[Protocol::H2c], &sc, 0, &Silent, &mut out);
    let h2c = protocol::scenario("stop-header", true);
    for arm in [arm::ENVOY_WASM_V8, arm::ENVOY_NATIVE_MODULE] {
        let f = out
            .failures
            .iter()
            .find(|f| f.arm == arm && f.scenario == h2c)
            .unwrap_or_else(|| panic!("{arm} not caught over h2c: {:#?}", out.failures));
        assert_eq!(f.stage, Stage::Run, "{arm}: {f:?}");
        assert!(f.message.contains("x-filterbench"), "{arm}: {}", f.message);
        assert!(
            !out.rows.iter().any(|r| r.arm == arm && r.scenario == h2c),
            "{arm}: rows survived"
        );
    }
    assert!(
        out.rows.iter().any(|r| r.arm == arm::ENVOY_NONE
            && r.scenario == h2c
            && r.metric == Metric::Throughput),
        "{:#?}",
        out.failures
    );
}
