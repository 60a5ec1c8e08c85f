//! The answer's verdict: its basis (the filter's own cost), the reference of a filter without a
//! native build, no word beside a "–", and a disturbed process set aside.

use filterbench_results::vocab::{ArmKind, Metric, Phase, arm};
use filterbench_results::{ArmInfo, At, Batch, FilterInfo, Results};

use super::{Basis, Verdict, answers, basis};
use crate::model::Analysis;
use crate::net::NetRatio;

const SC: &str = "small-headers";

fn results(
    arms: &[(&str, ArmKind)],
    filters: &[(&str, &str)],
    rows: &[(&str, &str, [f64; 3])],
) -> Results {
    let mut r = Results::new();
    r.arms = arms
        .iter()
        .map(|(n, k)| ArmInfo {
            name: n.to_string(),
            kind: *k,
            ..Default::default()
        })
        .collect();
    r.filters = filters
        .iter()
        .map(|(n, job)| FilterInfo {
            name: n.to_string(),
            kind: "http".into(),
            language: "rust".into(),
            job: job.to_string(),
            scenarios: vec![SC.into()],
            ..Default::default()
        })
        .collect();
    let mut b = Batch::default();
    for (filter, a, values) in rows {
        for (p, v) in values.iter().enumerate() {
            let at = At::new(filter, SC, a, Phase::Request, p as u32);
            b.record(&at, Metric::CpuPerRequest, *v);
        }
    }
    r.merge(b);
    r
}

fn envoy_arms() -> Vec<(&'static str, ArmKind)> {
    vec![
        (arm::ENVOY_NONE, ArmKind::Envoy),
        (arm::ENVOY_NATIVE_MODULE, ArmKind::Envoy),
        (arm::ENVOY_WASM_V8, ArmKind::Envoy),
    ]
}

/// Envoy's whole CPU barely moves (40 µs of Envoy dilutes the filter: ~1.04×) while the
/// filter's own cost is 1.5× the native module's: the verdict is "fair", from the own cost.
#[test]
fn the_verdict_is_the_own_cost_not_the_diluted_whole() {
    let r = results(
        &envoy_arms(),
        &[("add-header", "add-header")],
        &[
            (
                "add-header",
                arm::ENVOY_NONE,
                [40_000.0, 40_100.0, 39_900.0],
            ),
            (
                "add-header",
                arm::ENVOY_NATIVE_MODULE,
                [42_000.0, 42_110.0, 41_890.0],
            ),
            (
                "add-header",
                arm::ENVOY_WASM_V8,
                [43_000.0, 43_080.0, 42_930.0],
            ),
        ],
    );
    let a = Analysis::new(&r);
    let x = answers(&a);
    assert_eq!(basis(&a, &x), Some(Basis::EnvoyOwn));
    let env = x[0].envoy.as_ref().unwrap();
    let Some(NetRatio::Measured { est, .. }) = &env.own_ratio else {
        panic!("no own ratio")
    };
    assert!((est.mean - 1.5).abs() < 0.02, "{}", est.mean);
    let whole = env.cpu_ratio.as_ref().unwrap();
    assert!(whole.mean < 1.03, "{}", whole.mean);
    assert_eq!(x[0].verdict, Some(Verdict::Fair));
}

/// A filter in a language without native builds is set against its job's native module, named;
/// a filter with no native reference at all gets no verdict (a "–"), not "unclear".
#[test]
fn a_filter_without_its_own_native_build_borrows_its_jobs_and_none_is_no_word() {
    let r = results(
        &envoy_arms(),
        &[
            ("add-header", "add-header"),
            ("as-add-header", "add-header"),
            ("lonely", ""),
        ],
        &[
            (
                "add-header",
                arm::ENVOY_NONE,
                [40_000.0, 40_100.0, 39_900.0],
            ),
            (
                "add-header",
                arm::ENVOY_NATIVE_MODULE,
                [42_000.0, 42_100.0, 41_900.0],
            ),
            (
                "add-header",
                arm::ENVOY_WASM_V8,
                [43_000.0, 43_100.0, 42_900.0],
            ),
            (
                "as-add-header",
                arm::ENVOY_NONE,
                [40_000.0, 40_100.0, 39_900.0],
            ),
            (
                "as-add-header",
                arm::ENVOY_WASM_V8,
                [48_000.0, 48_100.0, 47_900.0],
            ),
            ("lonely", arm::ENVOY_NONE, [40_000.0, 40_100.0, 39_900.0]),
            ("lonely", arm::ENVOY_WASM_V8, [48_000.0, 48_100.0, 47_900.0]),
        ],
    );
    let a = Analysis::new(&r);
    let x = answers(&a);
    let as_ = x.iter().find(|f| f.filter == "as-add-header").unwrap();
    let env = as_.envoy.as_ref().unwrap();
    assert_eq!(env.reference_of.as_deref(), Some("add-header"));
    assert_eq!(as_.verdict, Some(Verdict::Costly), "8 µs ÷ 2 µs = 4×");
    let lonely = x.iter().find(|f| f.filter == "lonely").unwrap();
    assert!(lonely.envoy.as_ref().unwrap().own_ratio.is_none());
    assert_eq!(lonely.verdict, None);
}

/// Without Envoy the basis is the first engine's net ratio in process; one process whose own
/// interval could not tell the native net from zero is set aside (the other two decide).
#[test]
fn in_process_basis_sets_a_disturbed_process_aside() {
    let arms = [
        (arm::NATIVE, ArmKind::Native),
        ("wasmtime-cranelift", ArmKind::Wasm),
        (arm::HARNESS, ArmKind::Harness),
    ];
    let mut r = results(
        &arms,
        &[("add-header", "add-header")],
        &[
            ("add-header", arm::HARNESS, [500.0, 500.0, 500.0]),
            // Process 2: native's net reads 5 ns (a burst hit the harness's rounds).
            ("add-header", arm::NATIVE, [600.0, 601.0, 505.0]),
            ("add-header", "wasmtime-cranelift", [650.0, 651.0, 652.0]),
        ],
    );
    let with_disturbed = {
        let a = Analysis::new(&r);
        answers(&a)[0].verdict
    };
    let mut b = Batch::default();
    for (p, ci) in [(0, 0.05), (1, 0.04), (2, 5.06)] {
        let at = At::new("add-header", SC, arm::NATIVE, Phase::Request, p);
        b.record(&at, Metric::CpuCiWithin, ci);
    }
    r.merge(b);
    let a = Analysis::new(&r);
    let x = answers(&a);
    assert_eq!(
        basis(&a, &x),
        Some(Basis::InProcess("wasmtime-cranelift".into()))
    );
    let Some(NetRatio::Measured { est, .. }) = &x[0].engines[0].ratio else {
        panic!("no ratio")
    };
    assert_eq!(est.n, 2);
    assert!((est.mean - 1.5).abs() < 0.02, "{}", est.mean);
    assert_eq!(x[0].verdict, Some(Verdict::Fair));
    assert_ne!(
        with_disturbed,
        Some(Verdict::Fair),
        "the disturbed process decided nothing"
    );
}
