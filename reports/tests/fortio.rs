//! `--format fortio`: one Fortio result document per live-Envoy run, with every field of
//! Fortio's JSON that filterbench records, typed as Fortio's Go structs type them, and none it
//! does not record made up.

mod common;

use filterbench_reports::Format;
use filterbench_results::hdrhistogram::Histogram as Hdr;
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm};
use filterbench_results::{Histogram, Results};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Str,
    /// RFC 3339 (Go's `time.Time`).
    Time,
    Float,
    Int,
    Bool,
    Obj,
    Arr,
}
use Kind::*;

/// Fortio's `periodic.RunnerResults` (periodic/periodic.go), then the exported fields of
/// `fhttp.HTTPRunnerResults` and of its `HTTPOptions` that describe the load (fhttp), as read
/// at fortio commit 45e18710810d864a615618087228996a0a824b2f.
const RUNNER_RESULTS: [(&str, Kind); 18] = [
    ("RunType", Str),
    ("Labels", Str),
    ("StartTime", Time),
    ("RequestedQPS", Str),
    ("RequestedDuration", Str),
    ("ActualQPS", Float),
    // time.Duration: integer ns.
    ("ActualDuration", Int),
    ("NumThreads", Int),
    ("Version", Str),
    ("DurationHistogram", Obj),
    ("ErrorsDurationHistogram", Obj),
    ("Exactly", Int),
    ("Jitter", Bool),
    ("Uniform", Bool),
    ("NoCatchUp", Bool),
    ("RunID", Int),
    ("AccessLoggerInfo", Str),
    ("ID", Str),
];
const HTTP_RESULTS: [(&str, Kind); 10] = [
    ("RetCodes", Obj),
    ("IPCountMap", Obj),
    ("URL", Str),
    ("NumConnections", Int),
    ("Sizes", Obj),
    ("HeaderSizes", Obj),
    ("Sockets", Arr),
    ("SocketCount", Int),
    ("ConnectionStats", Obj),
    ("AbortOn", Int),
];
/// `stats.HistogramData` (stats/stats.go); `Percentiles` is `omitempty` there.
const HISTOGRAM_DATA: [(&str, Kind); 8] = [
    ("Count", Int),
    ("Min", Float),
    ("Max", Float),
    ("Sum", Float),
    ("Avg", Float),
    ("StdDev", Float),
    ("Data", Arr),
    ("Percentiles", Arr),
];
/// `stats.Bucket` (its embedded `Interval` flattened) and `stats.Percentile`.
const BUCKET: [(&str, Kind); 4] = [
    ("Start", Float),
    ("End", Float),
    ("Percent", Float),
    ("Count", Int),
];
const PERCENTILE: [(&str, Kind); 2] = [("Percentile", Float), ("Value", Float)];

/// What filterbench does not record, so leaves out (see the exporter's documentation).
const NOT_RECORDED: [&str; 9] = [
    "RetCodes",
    "IPCountMap",
    "URL",
    "Sizes",
    "HeaderSizes",
    "Sockets",
    "SocketCount",
    "ConnectionStats",
    "AbortOn",
];
const NOT_RECORDED_OPEN_LOOP: [&str; 2] = ["ActualQPS", "ActualDuration"];

fn is(v: &Value, k: Kind) -> bool {
    match k {
        Str => v.is_string(),
        Time => v.as_str().is_some_and(|s| {
            let b = s.as_bytes();
            s.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[19] == b'Z'
        }),
        Float => v.is_number(),
        Int => v.is_u64() || v.is_i64(),
        Bool => v.is_boolean(),
        Obj => v.is_object(),
        Arr => v.is_array(),
    }
}

fn has_fields(v: &Value, fields: &[(&str, Kind)], absent: &[&str], what: &str) {
    for (name, kind) in fields {
        match v.get(name) {
            None if absent.contains(name) || *name == "Percentiles" => {}
            None => panic!("{what}: no {name}"),
            Some(_) if absent.contains(name) => panic!("{what}: {name} is not recorded"),
            Some(x) => assert!(is(x, *kind), "{what}: {name} is {x}, not {kind:?}"),
        }
    }
}

fn hdr(values: impl IntoIterator<Item = u64>) -> Hdr<u64> {
    let mut h = Hdr::new_with_bounds(1, 100_000_000_000, 3).unwrap();
    for v in values {
        h.record(v).unwrap();
    }
    h
}

/// The fixture with Envoy flags, whole histograms for `add-header` × `small-headers` on
/// envoy-wasm-v8, and an open-loop run at 50% on envoy-native.
fn results() -> (Results, Vec<Hdr<u64>>) {
    let mut r = common::fixture(1, 0.02);
    for a in r.arms.iter_mut().filter(|a| a.kind == ArmKind::Envoy) {
        a.flags = "V8; --concurrency 1; 8 connections; upstream: in-suite tokio".into();
    }
    let exact = |h: &Histogram| {
        (h.filter.as_str(), h.scenario.as_str(), h.arm.as_str())
            == ("add-header", "small-headers", arm::ENVOY_WASM_V8)
    };
    r.histograms.retain(|h| !exact(h));
    let mut recorded = Vec::new();
    for p in 0..common::PROCESSES {
        let base = 40_000 + 5_000 * u64::from(p);
        let h = hdr((0..4000).map(|i| base + (i * 37) % 20_000));
        let (f, s) = ("add-header", "small-headers");
        r.histograms
            .push(Histogram::from_hdr(f, s, arm::ENVOY_WASM_V8, p, &h));
        let open = hdr((0..2000).map(|i| base / 2 + i));
        r.histograms.push(Histogram::from_hdr(
            f,
            "small-headers@50%",
            arm::ENVOY_BUILTIN,
            p,
            &open,
        ));
        recorded.push(h);
    }
    (r, recorded)
}

fn docs(r: &Results) -> Vec<Value> {
    let bytes = Format::Fortio.exporter().serialize(r).unwrap();
    let v: Value = serde_json::from_slice(&bytes).expect("Fortio export is JSON");
    v.as_array().expect("an array of Fortio documents").clone()
}

fn throughput(r: &Results, scenario: &str, a: &str, p: u32) -> f64 {
    r.select(|x| {
        (x.filter.as_str(), x.scenario.as_str(), x.arm.as_str()) == ("add-header", scenario, a)
            && (x.metric, x.phase, x.threads, x.process)
                == (Metric::Throughput, Phase::Request, 1, p)
    })
    .next()
    .unwrap()
    .value
}

#[test]
fn every_envoy_run_is_one_document_with_fortios_fields_and_types() {
    let (r, _) = results();
    let docs = docs(&r);
    let envoy_runs: Vec<_> = r
        .histogram_runs()
        .into_iter()
        .filter(|x| arm::ENVOY.contains(&x.arm))
        .collect();
    assert_eq!(docs.len(), envoy_runs.len());
    for d in &docs {
        let what = d["Labels"].as_str().unwrap_or("?").to_string();
        let open = d["Filterbench"]["Scenario"].as_str().unwrap().contains('@');
        let mut absent = NOT_RECORDED.to_vec();
        if open {
            absent.extend(NOT_RECORDED_OPEN_LOOP);
        }
        has_fields(d, &RUNNER_RESULTS, &absent, &what);
        has_fields(d, &HTTP_RESULTS, &absent, &what);
        for hist in ["DurationHistogram", "ErrorsDurationHistogram"] {
            let h = &d[hist];
            has_fields(h, &HISTOGRAM_DATA, &[], &format!("{what} {hist}"));
            for b in h["Data"].as_array().unwrap() {
                has_fields(b, &BUCKET, &[], &what);
            }
            for p in h["Percentiles"].as_array().into_iter().flatten() {
                has_fields(p, &PERCENTILE, &[], &what);
            }
        }
        assert_eq!(d["RunType"], "HTTP");
        assert_eq!(d["NumThreads"], 8);
        assert_eq!(d["ErrorsDurationHistogram"]["Count"], 0);
        assert_eq!(d["RequestedQPS"] == "max", !open, "{what}");
        // Buckets rise from Min to Max, their counts add up to the total, ending at 100%.
        let h = &d["DurationHistogram"];
        let data = h["Data"].as_array().unwrap();
        let f = |b: &Value, k: &str| b[k].as_f64().unwrap();
        assert_eq!(f(&data[0], "Start"), f(h, "Min"), "{what}");
        assert_eq!(f(data.last().unwrap(), "End"), f(h, "Max"), "{what}");
        assert!(data.iter().all(|b| f(b, "Start") <= f(b, "End")), "{what}");
        assert!(
            data.windows(2)
                .all(|w| f(&w[0], "End") <= f(&w[1], "Start"))
        );
        let counted: u64 = data.iter().map(|b| b["Count"].as_u64().unwrap()).sum();
        assert_eq!(counted, h["Count"].as_u64().unwrap(), "{what}");
        assert!((f(data.last().unwrap(), "Percent") - 100.0).abs() < 1e-9);
        // Seconds, not ns: the fixture's latencies are tens of µs.
        assert!(f(h, "Avg") > 1e-6 && f(h, "Avg") < 1e-2, "{what}");
    }
}

#[test]
fn whole_histograms_merge_exactly_and_rates_come_from_the_closed_loop() {
    let (r, recorded) = results();
    let docs = docs(&r);
    let find = |scenario: &str, a: &str| {
        docs.iter()
            .find(|d| d["Filterbench"]["Scenario"] == scenario && d["Filterbench"]["Arm"] == a)
            .unwrap_or_else(|| panic!("no document of {scenario} {a}"))
    };
    let exact = find("small-headers", arm::ENVOY_WASM_V8);
    assert_eq!(exact["Filterbench"]["ExactMerge"], true);
    assert_eq!(
        exact["Filterbench"]["Processes"],
        serde_json::json!([0, 1, 2])
    );
    let mut all = recorded[0].clone();
    for h in &recorded[1..] {
        all.add(h).unwrap();
    }
    let h = &exact["DurationHistogram"];
    assert_eq!(h["Count"], all.len());
    for p in h["Percentiles"].as_array().unwrap() {
        let q = p["Percentile"].as_f64().unwrap();
        let want = all.value_at_quantile(q / 100.0) as f64 / 1e9;
        assert_eq!(p["Value"].as_f64().unwrap(), want, "p{q}");
    }
    // 12,000 requests: p99.9 needs 10,000 and is there.
    assert_eq!(h["Percentiles"].as_array().unwrap().len(), 5);
    // Actual rate: all requests over the sum of each process's requests over its rate.
    let wall: f64 = (0..common::PROCESSES)
        .map(|p| 4000.0 / throughput(&r, "small-headers", arm::ENVOY_WASM_V8, p))
        .sum();
    let qps = exact["ActualQPS"].as_f64().unwrap();
    assert!((qps - 12_000.0 / wall).abs() < 1e-9 * qps, "{qps}");
    assert_eq!(exact["ActualDuration"], (wall * 1e9).round() as u64);

    let open = find("small-headers@50%", arm::ENVOY_BUILTIN);
    let asked: f64 = (0..common::PROCESSES)
        .map(|p| 0.5 * throughput(&r, "small-headers", arm::ENVOY_BUILTIN, p))
        .sum::<f64>()
        / f64::from(common::PROCESSES);
    let got: f64 = open["RequestedQPS"].as_str().unwrap().parse().unwrap();
    assert!((got - asked).abs() < 1e-6 * asked, "{got} vs {asked}");
    assert!(open.get("ActualQPS").is_none());

    // A run of a file without whole histograms: its points mixed, and said so.
    let mixed = find("small-headers", arm::ENVOY_BUILTIN);
    assert_eq!(mixed["Filterbench"]["ExactMerge"], false);
    assert_eq!(mixed["DurationHistogram"]["Count"], 30_000);
}

#[test]
fn a_file_without_envoy_runs_gives_an_empty_array() {
    assert!(docs(&common::real()).is_empty());
}
