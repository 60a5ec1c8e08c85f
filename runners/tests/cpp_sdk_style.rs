//! Our C++ layer (filters/cpp/sdk) speaks the proxy-wasm C++ SDK's API. A plugin written the
//! way the SDK teaches (tests/data/cpp-sdk-style) is built unchanged to wasm and natively by
//! scripts/check-cpp-sdk-examples.sh, with build_cpp's flags, and must pass its fixtures on
//! every arm. With FILTERBENCH_CPP_SDK naming a proxy-wasm-cpp-sdk checkout, the SDK's own
//! examples are compiled too (we do not ship its code, so without one that test is skipped).

use std::path::{Path, PathBuf};
use std::process::Command;

use filterbench_runners::fixtures::FixtureFile;
use filterbench_runners::{catalog, engines, verify};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runners/ has a parent")
        .to_path_buf()
}

/// Why the C++ builds cannot run here, if they cannot: no compiler, or no native shim
/// (runners/build.rs leaves it beside the catalogue's native builds).
fn unavailable() -> Option<String> {
    if let Some((_, why)) = catalog::skipped()
        .into_iter()
        .find(|(n, _)| n.starts_with("cpp-"))
    {
        return Some(why);
    }
    match shim() {
        Some(_) => None,
        None => Some("no native shim beside the C++ filters' native builds".into()),
    }
}

fn shim() -> Option<PathBuf> {
    let native = catalog::artifacts_for("cpp-add-header").native?;
    let shim = native.parent()?.join("libfilterbench_native_shim.a");
    shim.exists().then_some(shim)
}

/// Runs the script on `sources` with outputs in `out`; its report, after asserting that no
/// build failed.
fn check(out: &Path, sources: &[&Path]) -> String {
    let output = Command::new("bash")
        .arg(repo().join("scripts/check-cpp-sdk-examples.sh"))
        .arg("--out")
        .arg(out)
        .args(sources)
        .env(
            "FILTERBENCH_NATIVE_SHIM",
            shim().expect("checked by unavailable()"),
        )
        .output()
        .expect("run scripts/check-cpp-sdk-examples.sh");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "a build failed:\n{report}");
    report
}

#[test]
fn sdk_style_plugin_builds_both_ways_and_passes_its_fixtures() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let data = repo().join("runners/tests/data/cpp-sdk-style");
    let out = tempfile::tempdir().expect("temporary directory");
    let report = check(out.path(), &[&data.join("filter.cc")]);
    assert!(
        report.contains("  wasm: ok\n  native: ok\n"),
        "both builds must succeed:\n{report}"
    );

    let path = data.join("fixtures.json");
    let text = std::fs::read_to_string(&path).expect("read the fixtures");
    let fixtures: FixtureFile = serde_json::from_str(&text).expect("fixtures parse");
    let filter = catalog::Filter {
        name: fixtures.filter.clone(),
        language: "cpp",
        dir: data,
        artifacts: engines::Artifacts {
            wasm: Some(out.path().join("cpp_sdk_style.wasm")),
            native: Some(out.path().join("libcpp_sdk_style.so")),
        },
        fixtures,
    };
    let arms = engines::arm_names();
    let reports = verify::verify(
        std::slice::from_ref(&filter),
        &arms,
        &engines::Limits::default(),
    );
    let ran = arms
        .iter()
        .filter(|a| engines::applies(a, &filter.artifacts))
        .count();
    assert!(ran > 0, "no arm applies to the built plugin");
    assert_eq!(reports.len(), ran);
    let problems: Vec<String> = reports.iter().flat_map(|r| r.problems()).collect();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn sdk_examples_compile_unchanged_given_a_checkout() {
    let Some(sdk) = std::env::var_os("FILTERBENCH_CPP_SDK") else {
        eprintln!("skipped: set FILTERBENCH_CPP_SDK to a proxy-wasm-cpp-sdk checkout");
        return;
    };
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let out = tempfile::tempdir().expect("temporary directory");
    let report = check(out.path(), &[Path::new(&sdk)]);
    // The example the SDK's documentation walks through builds both ways; the others may
    // need libraries this machine lacks (re2, protobuf), which the script reports apart.
    assert!(
        report.contains("http_wasm_example.cc\n  wasm: ok\n  native: ok\n"),
        "{report}"
    );
}
