//! A brought filter in live Envoy: `run --source` of a user's Rust crate (written for the
//! proxy-wasm SDK alone) is proven against the in-process native arm, then measured on V8 and
//! as a native module beside no filter; Envoy's built-in comparator is absent, with why.

use filterbench_results::Results;
use filterbench_results::vocab::{Metric, arm};

mod common;
use common::{filterbench, text, user_crate};

#[test]
fn a_brought_filter_is_proven_and_measured_in_envoy() {
    if std::env::var("FILTERBENCH_SKIP_ENVOY").as_deref() == Ok("1") {
        return eprintln!("FILTERBENCH_SKIP_ENVOY=1: no Envoy to run in");
    }
    let dir = tempfile::tempdir().unwrap();
    let source = user_crate(dir.path(), "rust-add-header");
    let out = dir.path().join("results.json");
    let o = filterbench(&[
        "run",
        "--source",
        source.to_str().unwrap(),
        "--envoy",
        "--arms",
        "native,envoy-wasm-v8",
        "--processes",
        "1",
        "--measure-ms",
        "20",
        "--envoy-ms",
        "150",
        "--no-profile",
        "--no-report",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let r = Results::read(&out).unwrap();
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
    // Named after the crate's artifact.
    let filter = "byo-proxy_wasm_add_header";
    assert!(
        r.filters.iter().any(|f| f.name == filter),
        "{:?}",
        r.filters
    );
    // Only a variant whose response equalled the native arm's is timed.
    for variant in [
        arm::ENVOY_NONE,
        arm::ENVOY_NATIVE_MODULE,
        arm::ENVOY_WASM_V8,
    ] {
        for m in [Metric::CpuPerRequest, Metric::Throughput] {
            assert!(
                r.rows
                    .iter()
                    .any(|x| x.filter == filter && x.arm == variant && x.metric == m),
                "{variant}: no {m:?} row; {}",
                text(&o)
            );
        }
    }
    let builtin = r
        .absent
        .iter()
        .find(|a| a.filter == filter && a.arm == arm::ENVOY_BUILTIN)
        .unwrap_or_else(|| panic!("{:#?}", r.absent));
    assert!(builtin.reason.contains("built-in"), "{}", builtin.reason);
}
