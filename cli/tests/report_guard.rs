//! `filterbench report` never writes over the results it reads (same name, a symbolic or a
//! hard link), refuses an implausible results file quickly, and `compare` fails on one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;
use common::{filterbench, text};

fn results_in(dir: &Path, name: &str) -> PathBuf {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/data/quick-trimmed.json");
    let dst = dir.join(name);
    std::fs::copy(src, &dst).unwrap();
    dst
}

/// `report` with `args` must fail and leave `results` byte for byte as it was.
fn refused_intact(results: &Path, args: &[&str]) {
    let before = std::fs::read(results).unwrap();
    let o = filterbench(args);
    assert!(
        !o.status.success(),
        "{args:?} must be refused: {}",
        text(&o)
    );
    assert!(text(&o).contains("results file itself"), "{}", text(&o));
    assert_eq!(
        std::fs::read(results).unwrap(),
        before,
        "{args:?} changed the results"
    );
}

#[test]
fn report_never_overwrites_its_results() {
    let dir = tempfile::tempdir().unwrap();
    let json = results_in(dir.path(), "r.json");
    let j = json.to_str().unwrap();
    refused_intact(&json, &["report", j, "--out", j]);
    refused_intact(&json, &["report", j, "--format", "csv", "-o", j]);
    // The results file's own name has the default output's extension.
    let html = results_in(dir.path(), "x.html");
    refused_intact(&html, &["report", html.to_str().unwrap()]);
    let md = results_in(dir.path(), "y.md");
    refused_intact(
        &md,
        &["report", md.to_str().unwrap(), "--format", "markdown"],
    );
    // Another name for the same file.
    let sym = dir.path().join("sym.html");
    std::os::unix::fs::symlink(&json, &sym).unwrap();
    refused_intact(&json, &["report", j, "-o", sym.to_str().unwrap()]);
    let hard = dir.path().join("hard.html");
    std::fs::hard_link(&json, &hard).unwrap();
    refused_intact(&json, &["report", j, "-o", hard.to_str().unwrap()]);
    // A different file is fine.
    let o = filterbench(&[
        "report",
        j,
        "-o",
        dir.path().join("ok.html").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn an_implausible_results_file_is_refused_quickly_and_fails_compare() {
    let dir = tempfile::tempdir().unwrap();
    let base = results_in(dir.path(), "base.json");
    for (name, value) in [("huge", "1e308"), ("over", "2e15")] {
        let mut doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&base).unwrap()).unwrap();
        let rows = doc["rows"].as_array_mut().unwrap();
        let mut hit = 0;
        for row in rows.iter_mut() {
            if row["metric"] == "cpu_per_request" && row["arm"] == "wasmi" {
                row["value"] = serde_json::from_str(value).unwrap();
                hit += 1;
            }
        }
        assert!(hit > 0);
        let bad = dir.path().join(format!("{name}.json"));
        std::fs::write(&bad, serde_json::to_vec(&doc).unwrap()).unwrap();

        let start = Instant::now();
        let o = filterbench(&["report", bad.to_str().unwrap(), "-o", "-"]);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "took {:?}",
            start.elapsed()
        );
        assert!(!o.status.success(), "{}", text(&o));
        let t = text(&o);
        assert!(
            t.contains("\"wasmi\"") && t.contains("cpu_per_request"),
            "{t}"
        );

        let page = dir.path().join(format!("{name}.compare.html"));
        let o = filterbench(&[
            "compare",
            base.to_str().unwrap(),
            bad.to_str().unwrap(),
            "--out",
            page.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("RESULT: failed"), "{}", text(&o));
    }
}
