//! `filterbench fixtures --junit`: the JUnit file a CI test reporter reads, for a passing run and
//! for one with a failing case (a copy of add-header's fixtures with one expectation wrong).

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{filterbench, text};

/// `fixtures --filters add-header --arms native,wasmi --junit <xml>` over the fixtures in
/// `filters` (the build's own filters when None).
fn fixtures(filters: Option<&Path>, xml: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_filterbench"));
    cmd.args([
        "fixtures",
        "--filters",
        "add-header",
        "--arms",
        "native,wasmi",
        "--junit",
    ])
    .arg(xml);
    match filters {
        Some(dir) => cmd.env("FILTERBENCH_FILTERS_DIR", dir),
        None => cmd.env_remove("FILTERBENCH_FILTERS_DIR"),
    };
    cmd.output().expect("run filterbench")
}

#[test]
fn junit_has_a_suite_per_filter_and_arm_and_a_failing_case_as_a_failure() {
    let o = filterbench(&["fixtures", "--help"]);
    assert!(text(&o).contains("--junit <FILE>"), "{}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("reports/junit.xml");
    let o = fixtures(None, &xml);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc = std::fs::read_to_string(&xml).unwrap();
    assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    for arm in ["native", "wasmi"] {
        let suite = format!(
            "<testsuite id=\"{}\" name=\"add-header on {arm}\"",
            usize::from(arm == "wasmi")
        );
        assert!(doc.contains(&suite), "{doc}");
    }
    assert!(
        doc.contains(
            "<testcase classname=\"add-header.wasmi\" name=\"header is appended to the response\"/>"
        ),
        "{doc}"
    );
    assert!(doc.contains(" failures=\"0\" errors=\"0\""), "{doc}");
    assert!(!doc.contains("<failure"), "{doc}");

    // The same filter, its fixture now expecting a value the filter does not add.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../filters/add-header");
    let copy = dir.path().join("filters/add-header");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(src.join("Cargo.toml"), copy.join("Cargo.toml")).unwrap();
    let fixtures_json = std::fs::read_to_string(src.join("fixtures.json")).unwrap();
    let wrong = fixtures_json.replacen(
        r#"["x-filterbench", "added"]]"#,
        r#"["x-filterbench", "<wrong> & \"quoted\""]]"#,
        1,
    );
    assert_ne!(wrong, fixtures_json, "the fixture changed shape");
    std::fs::write(copy.join("fixtures.json"), wrong).unwrap();
    let o = fixtures(Some(&dir.path().join("filters")), &xml);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc = std::fs::read_to_string(&xml).unwrap();
    let case = "<testcase classname=\"add-header.native\" name=\"header is appended to the response\">\n      <failure message=\"";
    assert!(doc.contains(case), "{doc}");
    assert!(
        doc.contains("&lt;wrong&gt; &amp;"),
        "the expectation, escaped: {doc}"
    );
    assert!(!doc.contains("<wrong>"), "{doc}");
    // Both arms fail that case against the fixture; the other cases still pass.
    assert!(
        doc.contains("<testsuites name=\"filterbench fixtures\" tests=\"")
            && doc.contains(" failures=\"2\" errors=\"0\" skipped=\"0\""),
        "{doc}"
    );
    assert!(
        doc.contains("<testcase classname=\"add-header.native\" name=\"existing header is kept and a second value added\"/>"),
        "{doc}"
    );
}
