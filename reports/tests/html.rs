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
        "in process, × native",
        "in Envoy, × the native build",
        "What wasm costs, per filter",
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

/// Measures, after load, every table's overflow and the page's: injected into a copy of the
/// page (the report itself carries no script).
const OVERFLOW_PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  const out = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) out.push('page ' + root.scrollWidth + ' > ' + root.clientWidth);
  document.querySelectorAll('.table-wrap').forEach((w, i) => {
    if (w.scrollWidth > w.clientWidth + 1) {
      const sec = w.closest('section');
      out.push('table ' + i + ' in #' + (sec ? sec.id : '?') + ': ' + w.scrollWidth + ' px > ' + w.clientWidth);
    }
  });
  const pre = document.createElement('pre');
  pre.textContent = 'OVERFLOW[' + out.join('; ') + ']';
  document.body.appendChild(pre);
});
</script></body>"#;

/// What the probe found on `page` at `width` px (empty: nothing overflows).
fn overflow(page: &Path, width: u32) -> String {
    let probed = page.with_extension("probe.html");
    let text = std::fs::read_to_string(page).unwrap();
    std::fs::write(&probed, text.replace("</body>", OVERFLOW_PROBE)).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--window-size={width},768"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", probed.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    // The last: the script that writes it holds the marker too.
    let start = dom.rfind("OVERFLOW[").expect("the probe ran") + "OVERFLOW[".len();
    let end = start + dom[start..].find(']').unwrap();
    dom[start..end].to_string()
}

#[test]
fn headline_and_tables_fit_1366_px() {
    let dir = tempfile::tempdir().unwrap();
    // A quick run's rows (two processes, every filter and arm, Envoy included), trimmed.
    let results = Results::read(&common::data("quick-envoy.json")).unwrap();
    let page = dir.path().join("real.html");
    std::fs::write(&page, html(&results)).unwrap();
    assert_eq!(overflow(&page, 1366), "", "horizontal overflow at 1366 px");
    // The probe can fail: the same page in a window too narrow for its tables.
    assert_ne!(
        overflow(&page, 700),
        "",
        "the probe sees overflow at 700 px"
    );
}
