//! `filterbench compare --format github` and where compare's page goes by default.

use std::path::Path;

use filterbench_results::Results;
use filterbench_results::vocab::Metric;

mod common;
use common::{filterbench, text};

#[test]
fn github_format_annotates_each_regression_and_the_page_lands_beside_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/data/quick-trimmed.json"),
        &base,
    )
    .unwrap();
    // wasmi's CPU per request 30% worse in every process: gating figures regress.
    let mut slow = Results::read(&base).unwrap();
    for r in &mut slow.rows {
        if r.arm == "wasmi" && r.metric == Metric::CpuPerRequest {
            r.value *= 1.3;
        }
    }
    let new = dir.path().join("runs/slow.json");
    slow.write(&new).unwrap();

    let o = filterbench(&[
        "compare",
        base.to_str().unwrap(),
        new.to_str().unwrap(),
        "--format",
        "github",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.lines().all(|l| l.starts_with("::")), "{stdout}");
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error title=filterbench regression%3A "))
        .collect();
    assert!(!errors.is_empty(), "{stdout}");
    assert!(errors.iter().all(|l| l.contains("/ wasmi")), "{stdout}");
    let page = dir.path().join("runs/slow.compare.html");
    assert!(page.is_file(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("wrote {}", page.display())),
        "{}",
        text(&o)
    );

    // The same file: nothing flagged, but a quick run cannot see a 5% change — one warning
    // that says so, exit 3; at a threshold it can resolve, one notice, exit 0.
    let same = |extra: &[&str]| {
        let mut args = vec![
            "compare",
            base.to_str().unwrap(),
            base.to_str().unwrap(),
            "--format",
            "github",
        ];
        args.extend_from_slice(extra);
        filterbench(&args)
    };
    let o = same(&[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.starts_with("::warning title=filterbench%3A inconclusive::inconclusive"),
        "{stdout}"
    );
    assert!(!stdout.contains("no significant regression"), "{stdout}");
    let o = same(&["--threshold-pct", "100"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .starts_with("::notice title=filterbench%3A no significant regression::")
    );
    // The page may not replace an input.
    let o = filterbench(&[
        "compare",
        base.to_str().unwrap(),
        new.to_str().unwrap(),
        "-o",
        base.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(Results::read(&base).is_ok(), "the input survived");
}

#[test]
fn help_tells_the_exit_status() {
    for cmd in ["compare", "fixtures"] {
        let o = filterbench(&[cmd, "--help"]);
        assert!(o.status.success());
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(
            help.contains("Exit status: 0 ") && help.contains("; 2 an error"),
            "{help}"
        );
    }
    let o = filterbench(&["compare", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("; 3 inconclusive"), "{help}");
}
