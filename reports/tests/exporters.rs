//! Every export format, checked for shape on a fixture and on a real (trimmed) run.

mod common;

use filterbench_reports::export::measures;
use filterbench_reports::{Format, ReportError};
use filterbench_results::Results;
use filterbench_results::vocab::Metric;
use serde_json::Value;

fn export(r: &Results, f: Format) -> String {
    String::from_utf8(f.exporter().serialize(r).expect("export succeeds")).expect("utf-8")
}

#[test]
fn formats_parse_by_name() {
    for f in Format::ALL {
        assert_eq!(f.name().parse::<Format>().unwrap(), f);
    }
    assert!(matches!(
        "pdf".parse::<Format>(),
        Err(ReportError::UnknownFormat(_))
    ));
}

#[test]
fn csv_has_header_and_every_row() {
    for r in [common::fixture(1, 0.02), common::real()] {
        let csv = export(&r, Format::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "filter,scenario,arm,phase,metric,unit,threads,process,iteration,value"
        );
        assert_eq!(lines.len(), r.rows.len() + 1);
        for l in &lines[1..] {
            assert_eq!(l.split(',').count(), 10, "{l}");
            let v: f64 = l
                .rsplit(',')
                .next()
                .unwrap()
                .parse()
                .expect("numeric value");
            assert!(v.is_finite());
        }
    }
}

#[test]
fn bmf_is_bench_measure_value_with_bounds() {
    let r = common::fixture(1, 0.02);
    let v: Value = serde_json::from_str(&export(&r, Format::Bmf)).expect("BMF is JSON");
    let benches = v.as_object().expect("top level is an object");
    for (bench, measures) in benches {
        for (measure, m) in measures.as_object().expect("measures object") {
            let get = |k: &str| {
                m.get(k)
                    .and_then(Value::as_f64)
                    .unwrap_or_else(|| panic!("{bench} {measure} lacks {k}"))
            };
            let (value, lo, hi) = (get("value"), get("lower_value"), get("upper_value"));
            assert!(
                lo <= value && value <= hi,
                "{bench} {measure}: {lo} {value} {hi}"
            );
        }
    }
    // Names match the criterion benches.
    let lat = &v["lifecycle/add-header/small-headers/wasmi"]["latency"]["value"];
    assert!(
        (lat.as_f64().unwrap() - 8000.0).abs() < 8000.0 * 0.03,
        "{lat}"
    );
    assert!(v["lifecycle/add-header/small-headers/wasmi"]["throughput_2t"].is_object());
    assert!(v["coldstart/compile/add-header/wasmtime-cranelift"]["latency"].is_object());
    assert!(v["memory/add-header/wasmi"][Metric::RssPerVmBytes.name()].is_object());
    let host = v["hostcall/get_header/native"]["latency"]["value"]
        .as_f64()
        .unwrap();
    assert!(
        (host - 4.5).abs() < 1.0,
        "native get_header per call: {host}"
    );
}

#[test]
fn github_action_benchmark_arrays_split_by_direction() {
    let r = common::fixture(1, 0.02);
    let smaller: Value = serde_json::from_str(&export(&r, Format::GabSmaller)).unwrap();
    let bigger: Value = serde_json::from_str(&export(&r, Format::GabBigger)).unwrap();
    let (smaller, bigger) = (smaller.as_array().unwrap(), bigger.as_array().unwrap());
    assert!(!smaller.is_empty() && !bigger.is_empty());
    assert_eq!(smaller.len() + bigger.len(), measures(&r).len());
    for e in smaller.iter().chain(bigger) {
        assert!(e["name"].is_string() && e["unit"].is_string(), "{e}");
        assert!(e["value"].is_f64(), "{e}");
        assert!(e["range"].as_str().unwrap().starts_with("± "), "{e}");
    }
    assert!(
        bigger
            .iter()
            .all(|e| e["name"].as_str().unwrap().contains("throughput"))
    );
    assert!(
        smaller
            .iter()
            .all(|e| !e["name"].as_str().unwrap().contains("throughput"))
    );
    let names: Vec<&str> = smaller
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"lifecycle/add-header/small-headers/native latency_p99"));
}

#[test]
fn hgrm_blocks_follow_hdrhistogram_layout() {
    let r = common::real();
    let text = export(&r, Format::Hgrm);
    let blocks: Vec<&str> = text
        .split("# filterbench histogram")
        .filter(|b| !b.trim().is_empty())
        .collect();
    assert_eq!(blocks.len(), r.histograms.len());
    for (b, h) in blocks.iter().zip(&r.histograms) {
        let lines: Vec<&str> = b.lines().collect();
        assert!(lines[0].contains(&format!("arm={}", h.arm)), "{}", lines[0]);
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        assert_eq!(lines[2], "");
        let data: Vec<Vec<f64>> = lines[3..]
            .iter()
            .take_while(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
            .collect();
        assert_eq!(data.len(), h.points.len());
        // Cumulative counts rise to the total; every line but the last has 1/(1-p).
        assert!(
            data.windows(2)
                .all(|w| w[0][2] <= w[1][2] && w[0][1] <= w[1][1])
        );
        assert_eq!(data.last().unwrap()[2] as u64, h.count);
        assert!(data[..data.len() - 1].iter().all(|d| d.len() == 4));
        assert_eq!(data.last().unwrap().len(), 3);
        // Values are in microseconds.
        assert!((data[0][0] - h.points[0].1 as f64 / 1000.0).abs() < 1e-3);
        assert!(b.contains("#[Mean    = "));
        assert!(b.contains(&format!("Total count    = {:>12}]", h.count)));
    }
}

#[test]
fn markdown_summary_has_the_headline_and_reproduction() {
    let r = common::fixture(1, 0.02);
    let md = export(&r, Format::Markdown);
    assert!(md.starts_with("# filterbench: quick run of "), "{md}");
    assert!(md.contains("## WebAssembly as % of native"));
    // In process and in Envoy apart; envoy-native has no envoy-none to be compared with
    // here, so it is no column.
    assert!(
        md.contains("| filter | scenario | wasmtime-cranelift | wasmi |"),
        "{md}"
    );
    assert!(md.contains("| filter | scenario | envoy-wasm-v8 |"), "{md}");
    assert!(md.contains("## What wasm costs, per filter"), "{md}");
    assert!(md.contains("## Host-call cost"));
    assert!(md.contains("| get_header |"));
    assert!(md.contains("## Failures"));
    assert!(md.contains("filterbench run --quick --out results/fixture.json"));
    assert!(!md.contains("<svg"));
}

#[test]
fn markdown_tables_fit_100_columns() {
    // A quick run's rows: every filter and arm, Envoy included, long reasons among them.
    let r = Results::read(&common::data("quick-envoy.json")).unwrap();
    let md = export(&r, Format::Markdown);
    let wide: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with('|') && l.chars().count() > 100)
        .collect();
    assert!(
        wide.is_empty(),
        "{} table lines over 100: {:?}",
        wide.len(),
        wide.first()
    );
    // Cutting a wide table keeps every figure: each arm is still a column somewhere.
    for arm in [
        "wasmtime-winch",
        "wasmer-singlepass",
        "envoy-wasm-v8",
        "envoy-lua",
    ] {
        assert!(
            md.contains(&format!("| {arm} |")) || md.contains(&format!(" {arm} |")),
            "{arm}"
        );
    }
}
