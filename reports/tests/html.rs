//! The HTML report: its content from a fixture, and that it loads in headless Chromium with its
//! charts (a screenshot is taken too). Chromium is required: CI installs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use filterbench_reports::{Format, Thresholds, compare};
use filterbench_results::Results;
use filterbench_results::vocab::Metric;

fn html(r: &Results) -> String {
    String::from_utf8(Format::Html.exporter().serialize(r).unwrap()).unwrap()
}

fn chromium() -> PathBuf {
    let path = PathBuf::from(
        std::env::var("FILTERBENCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    assert!(
        path.exists(),
        "headless Chromium not found at {} — the HTML report test renders the page with it. \
         Install it with `apt-get install -y chromium` (scripts/setup.sh does in CI), or point \
         FILTERBENCH_CHROMIUM at a Chromium binary.",
        path.display()
    );
    path
}

/// Loads `page` in headless Chromium: returns the DOM after load and writes a screenshot.
fn render(page: &Path, png: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let run = |extra: &[String]| {
        let out = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1400,4000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("chromium runs");
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    run(&[format!("--screenshot={}", png.display())]);
    String::from_utf8(run(&["--dump-dom".into()]).stdout).unwrap()
}

/// Copies pages and screenshots to $FILTERBENCH_KEEP_RENDERS, to look at them.
fn keep(files: &[&Path]) {
    if let Some(dir) = std::env::var_os("FILTERBENCH_KEEP_RENDERS") {
        for f in files {
            let _ = std::fs::copy(f, Path::new(&dir).join(f.file_name().unwrap()));
        }
    }
}

#[test]
fn report_content_from_a_fixture() {
    let page = html(&common::fixture(1, 0.02));
    for want in [
        "<!doctype html>",
        "WebAssembly as % of native",
        "wasm vs native",
        "envoy vs envoy-native",
        "Latency percentiles",
        "add-header / small-headers",
        "Cold start",
        "Memory per VM",
        "Host-call cost",
        "get_header",
        "Failures",
        "response header `x-added` missing",
        "filterbench run --quick --out results/fixture.json",
        "Test CPU",
    ] {
        assert!(page.contains(want), "report lacks {want:?}");
    }
    // Text from the results file is escaped, not markup.
    assert!(!page.contains("<expected: yes>"));
    // Nothing is loaded from elsewhere: no scripts, stylesheets or images by URL.
    for banned in ["<script", "<link", "<img", "src=\"http", "href=\"http"] {
        assert!(!page.contains(banned), "report contains {banned}");
    }
}

#[test]
fn report_loads_in_chromium_with_its_charts() {
    let dir = tempfile::tempdir().unwrap();
    for (name, results) in [
        ("fixture", common::fixture(1, 0.02)),
        ("real", common::real()),
    ] {
        let page = dir.path().join(format!("{name}.html"));
        let text = html(&results);
        std::fs::write(&page, &text).unwrap();
        let png = dir.path().join(format!("{name}.png"));
        let dom = render(&page, &png);
        let svgs = dom.matches("<svg").count();
        assert!(svgs >= 5, "{name}: the loaded page has {svgs} charts");
        assert_eq!(
            svgs,
            text.matches("<svg").count(),
            "{name}: every chart survives parsing"
        );
        assert!(dom.contains("<section id=\"headline\">"), "{name}");
        assert!(dom.contains("<polyline"), "{name}: charts have lines");
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(size > 20_000, "{name}: screenshot is {size} bytes");
        keep(&[&page, &png]);
    }
}

#[test]
fn comparison_page_loads_in_chromium() {
    let base = common::fixture(1, 0.02);
    let new = common::scaled(
        common::fixture(2, 0.02),
        "wasmi",
        Metric::CpuPerRequest,
        1.3,
    );
    let c = compare(&base, &new, &Thresholds::default());
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("compare.html");
    std::fs::write(&page, c.html().unwrap()).unwrap();
    let png = dir.path().join("compare.png");
    let dom = render(&page, &png);
    keep(&[&page, &png]);
    assert!(dom.contains("Significant regression."));
    assert!(dom.contains("<svg"));
}

#[test]
fn an_empty_or_single_process_file_still_renders() {
    let empty = html(&Results::new());
    assert!(empty.contains("How to reproduce") && empty.contains("Failures"));
    let mut one = common::fixture(1, 0.02);
    one.rows.retain(|r| r.process == 0);
    one.histograms.retain(|h| h.process == 0);
    let page = html(&one);
    assert!(page.contains("WebAssembly as % of native") && page.contains("<svg"));
}
