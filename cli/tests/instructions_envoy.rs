//! `filterbench instructions --envoy` end to end: real Envoys under callgrind. The windows of a
//! variant agree to 1%, a filter costs instructions in Envoy, and the slowdown knob shows up in
//! the variants that run our filter (V8, native module) and nowhere else — then `compare` gates
//! on it.

use std::path::Path;

use filterbench_results::Results;
use filterbench_results::vocab::{Metric, arm};

mod common;
use common::text;

/// Counts add-header in Envoy (no filter, native module, V8), two windows of 40 requests,
/// with the knob at `burn` rounds (None: off); None when Envoy is missing and skipping is asked.
fn count(dir: &Path, name: &str, burn: Option<u32>) -> Option<(std::path::PathBuf, Results)> {
    if std::env::var("FILTERBENCH_SKIP_ENVOY").as_deref() == Ok("1") {
        eprintln!("FILTERBENCH_SKIP_ENVOY=1: no Envoy to count");
        return None;
    }
    let out = dir.join(name);
    let args = [
        "--envoy",
        "--arms",
        "envoy-none,envoy-native-module,envoy-wasm-v8",
        "--requests",
        "40",
        "--windows",
        "2",
    ];
    let r = common::count_add_header(&args, &out, burn);
    Some((out, r))
}

/// Mean instructions per request of `variant` and the spread of its windows ((max − min) ÷ mean).
fn per_request(r: &Results, variant: &str) -> (f64, f64) {
    let v: Vec<f64> = r
        .rows
        .iter()
        .filter(|x| x.arm == variant && x.metric == Metric::Instructions)
        .map(|x| x.value)
        .collect();
    assert_eq!(v.len(), 2, "{variant}: {v:?}");
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), x| (l.min(*x), h.max(*x)));
    (mean, (hi - lo) / mean)
}

#[test]
fn envoy_instruction_counts_agree_and_see_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let Some((a, ra)) = count(dir.path(), "a.json", None) else {
        return;
    };
    let variants = [
        arm::ENVOY_NONE,
        arm::ENVOY_NATIVE_MODULE,
        arm::ENVOY_WASM_V8,
    ];
    let base: Vec<(f64, f64)> = variants.iter().map(|v| per_request(&ra, v)).collect();
    for (v, (mean, spread)) in variants.iter().zip(&base) {
        assert!(
            *spread <= 0.01,
            "{v}: windows spread {spread} around {mean}"
        );
    }
    // Running our filter costs instructions in Envoy, more on V8 than as a native module.
    let none = base[0].0;
    assert!(base[1].0 > none && base[2].0 > base[1].0, "{base:?}");
    // No in-process arm was named: none was counted.
    assert!(ra.rows.iter().all(|x| x.arm.starts_with("envoy-")));

    // The knob burns instructions inside our filter: V8 and the native module rise by far more
    // than the windows spread; Envoy without a filter does not move.
    let (c, rc) = count(dir.path(), "c.json", Some(2000)).expect("counted once already");
    let knob: Vec<(f64, f64)> = variants.iter().map(|v| per_request(&rc, v)).collect();
    assert!((knob[0].0 - none).abs() / none < 0.01, "{base:?} {knob:?}");
    for i in 1..3 {
        assert!(knob[i].0 > base[i].0 * 1.05, "{base:?} {knob:?}");
    }
    let o = common::filterbench(&[
        "compare",
        a.to_str().unwrap(),
        c.to_str().unwrap(),
        "-o",
        dir.path().join("c.html").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("regressed add-header"), "{}", text(&o));
}
