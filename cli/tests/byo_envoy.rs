//! A brought filter in live Envoy: `run --source` of a user's Rust crate (written for the
//! proxy-wasm SDK alone) is proven against the in-process native arm, then measured on V8 and
//! as a native module beside no filter; Envoy's built-in comparator is absent, with why. With
//! FILTERBENCH_CPP_SDK naming a proxy-wasm-cpp-sdk checkout, the SDK's own example too.

use std::path::Path;

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

/// The proxy-wasm C++ SDK's example, unedited, in Envoy. It writes "Hello, world" into the
/// response body in every `onResponseBody`, so it forwards one per body callback: Envoy over
/// HTTP/1.1 calls it with the upstream's data, then with an empty end-of-stream chunk. Its
/// proof on V8 and on the native module passes only where the in-process reference delivers
/// the body the same way (with one chunk it forwards 12 B, Envoy 24 B, and the proof refuses).
#[test]
fn the_cpp_sdk_example_is_proven_in_envoy_on_v8_and_as_a_native_module() {
    if std::env::var("FILTERBENCH_SKIP_ENVOY").as_deref() == Ok("1") {
        return eprintln!("FILTERBENCH_SKIP_ENVOY=1: no Envoy to run in");
    }
    let Some(sdk) = std::env::var_os("FILTERBENCH_CPP_SDK") else {
        return eprintln!("skipped: set FILTERBENCH_CPP_SDK to a proxy-wasm-cpp-sdk checkout");
    };
    let source = Path::new(&sdk).join("example/http_wasm_example.cc");
    let dir = tempfile::tempdir().unwrap();
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
        // Each codec has its body shape (HTTP/1.1: data, then an empty end of stream; h2c: end
        // on the data): the example rewrites every chunk, so each leg needs its own reference.
        "--protocols",
        "http1,h2c",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let r = Results::read(&out).unwrap();
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
    let filter = "byo-http_wasm_example";
    for (variant, h2c) in [
        arm::ENVOY_NONE,
        arm::ENVOY_NATIVE_MODULE,
        arm::ENVOY_WASM_V8,
    ]
    .into_iter()
    .flat_map(|v| [(v, false), (v, true)])
    {
        let scenario = filterbench_results::vocab::protocol::scenario("get", h2c);
        assert!(
            r.rows.iter().any(|x| x.filter == filter
                && x.arm == variant
                && x.scenario == scenario
                && x.metric == Metric::CpuPerRequest),
            "{variant} / {scenario}: not proven and timed; {}",
            text(&o)
        );
    }
}
