//! `filterbench report` and `filterbench compare` end to end on a committed results file:
//! outputs land where documented, and compare's exit status is 0 / 1 / 2 / 3.

use std::path::{Path, PathBuf};

use filterbench_results::Results;

mod common;
use common::{filterbench, text};
use filterbench_results::vocab::Metric;

/// A copy of the reports crate's trimmed real run in `dir`.
fn results_in(dir: &Path) -> PathBuf {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/data/quick-trimmed.json");
    let dst = dir.join("run.json");
    std::fs::copy(src, &dst).unwrap();
    dst
}

#[test]
fn report_writes_html_beside_the_results_and_other_formats_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let results = results_in(dir.path());
    let o = filterbench(&["report", results.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let html = std::fs::read_to_string(dir.path().join("run.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("WebAssembly as % of native"));

    let csv = dir.path().join("rows.csv");
    let o = filterbench(&[
        "report",
        results.to_str().unwrap(),
        "--format",
        "csv",
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        std::fs::read_to_string(&csv)
            .unwrap()
            .starts_with("filter,scenario,arm,")
    );

    let o = filterbench(&[
        "report",
        results.to_str().unwrap(),
        "--format",
        "bmf",
        "-o",
        "-",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("BMF on stdout");
    assert!(v["lifecycle/noop/small-headers/native"]["latency"]["value"].is_f64());

    let o = filterbench(&["report", results.to_str().unwrap(), "--format", "pdf"]);
    assert!(!o.status.success());
}

#[test]
fn compare_exit_status_tells_regressions() {
    let dir = tempfile::tempdir().unwrap();
    let base = results_in(dir.path());
    let page = dir.path().join("cmp/compare.html");
    let run = |new: &Path, extra: &[&str]| {
        let mut args = vec![
            "compare",
            base.to_str().unwrap(),
            new.to_str().unwrap(),
            "-o",
            page.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        filterbench(&args)
    };

    // The committed quick run (three processes) against itself: nothing flagged, but most
    // gating figures could not have flagged a 5% change — inconclusive (3), never "no
    // significant regression", and it says what it could have flagged.
    let o = run(&base, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("RESULT: inconclusive"), "{}", text(&o));
    assert!(
        !text(&o).contains("no significant regression"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("could flag"), "{}", text(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Inconclusive") && !html.contains("No significant regression"));
    // With a threshold the pair can resolve (every figure but one could flag 100%), the same
    // comparison concludes.
    let o = run(&base, &["--threshold-pct", "100"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("RESULT: no significant regression"),
        "{}",
        text(&o)
    );
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains("No significant regression")
    );

    // wasmi's CPU per request 30% worse in every process: a gating figure (its ratio to
    // native, and its cost net of the harness).
    let mut slow = Results::read(&base).unwrap();
    for r in &mut slow.rows {
        if r.arm == "wasmi" && r.metric == Metric::CpuPerRequest {
            r.value *= 1.3;
        }
    }
    let slow_path = dir.path().join("slow.json");
    slow.write(&slow_path).unwrap();
    let o = run(&slow_path, &["--markdown"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("## Regressions"),
        "{}",
        text(&o)
    );
    // A threshold above the change lets it pass (net of the harness, 30% of the gross cost is
    // 42-70% of the net one on this file's wasmi).
    let o = run(&slow_path, &["--threshold-pct", "100"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = run(&dir.path().join("missing.json"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("missing.json"), "{}", text(&o));
}

#[test]
fn profile_writes_a_breakdown_the_report_renders() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("profile.json");
    let o = filterbench(&[
        "profile",
        "--filter",
        "hostcalls",
        "--scenario",
        "get_header",
        "--arms",
        "native,wasmtime-cranelift",
        "--requests",
        "20",
        "--no-flamegraph",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("wasmtime-cranelift: "), "{}", text(&o));
    let r = Results::read(&out).unwrap();
    // The filter's 100 lookups plus its report header, exactly, on both arms.
    for arm in ["native", "wasmtime-cranelift"] {
        let b = filterbench_results::breakdown::Breakdown::from_rows(
            &r.rows,
            "hostcalls",
            "get_header",
            arm,
        )
        .unwrap();
        assert_eq!(b.calls["proxy_get_header_map_value"], 100.0, "{arm}");
        assert_eq!(b.host_calls, 101.0, "{arm}");
    }
    // The report is written beside the results.
    let html = std::fs::read_to_string(dir.path().join("profile.html")).unwrap();
    assert!(
        html.contains("Where the extra time goes"),
        "no profile section"
    );
    assert!(html.contains("time per request by part"), "no stacked bars");
}
