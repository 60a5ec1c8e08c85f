//! A Go package written for the public proxy-wasm Go SDK goes through `filterbench build`
//! unedited, against a local SDK checkout (`--go-sdk`, `source::Options::go_modules`) with
//! nothing fetched. With FILTERBENCH_GO_SDK naming a proxy-wasm-go-sdk checkout, its
//! examples/http_routing is built and must pass tests/data/go-sdk-http-routing on every arm (we
//! do not ship the SDK, so without one that test is skipped). Always: a package importing a
//! module nobody provides fails with one message naming it and the fix, and the user's tree
//! is never written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use filterbench_runners::fixtures::FixtureFile;
use filterbench_runners::source::{self, Options, SourceError, flags};
use filterbench_runners::{engines, verify};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runners/ has a parent")
        .to_path_buf()
}

/// Every file under `dir` with its bytes: what the build must leave as it was.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read the package").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                files.insert(p.clone(), std::fs::read(&p).expect("read a file"));
            }
        }
    }
    files
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create a folder");
    std::fs::write(path, text).expect("write a file");
}

/// A user's package importing `imports`, and a local module `example.com/local` it may use.
fn user_package(root: &Path, imports: &[&str]) -> (PathBuf, PathBuf) {
    let local = root.join("local");
    write(
        &local.join("go.mod"),
        "module example.com/local\n\ngo 1.24\n",
    );
    write(
        &local.join("local.go"),
        "package local\n\nconst Name = \"local\"\n",
    );
    let user = root.join("user");
    let requires: String = imports
        .iter()
        .map(|m| {
            let v = if *m == "example.com/local" {
                "v0.0.0"
            } else {
                "v1.2.3"
            };
            format!("\t{m} {v}\n")
        })
        .collect();
    write(
        &user.join("go.mod"),
        &format!("module example.com/user\n\ngo 1.24\n\nrequire (\n{requires})\n"),
    );
    let uses: String = imports.iter().map(|m| format!("\t_ \"{m}\"\n")).collect();
    write(
        &user.join("main.go"),
        &format!("package main\n\nimport (\n{uses})\n\nfunc main() {{}}\n"),
    );
    (user, local)
}

#[test]
fn an_unresolvable_import_is_named_once_with_the_fix() {
    if flags::Go::find().is_none() {
        eprintln!("skipped: no working `go`");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let (user, local) = user_package(dir.path(), &["example.com/local", "example.com/absent"]);
    let before = snapshot(&user);
    let out = dir.path().join("out");
    let options = Options {
        go_modules: vec![local],
    };
    let err = source::build(&user, Some(&out), &options).expect_err("absent cannot be built");
    let text = err.to_string();
    assert!(
        matches!(err, SourceError::Unresolved { .. }),
        "not the unresolved-module error: {text}"
    );
    assert!(text.contains("example.com/absent@v1.2.3"), "{text}");
    assert!(
        !text.contains("example.com/local"),
        "the local module resolved: {text}"
    );
    assert!(
        text.contains("--go-sdk PATH") && text.contains("GOPROXY"),
        "{text}"
    );
    // One message, not Go's output.
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        !text.contains("main.go:") && !text.contains("lookup disabled"),
        "{text}"
    );
    assert_eq!(
        snapshot(&user),
        before,
        "the build wrote into the user's package"
    );
}

#[test]
fn a_local_module_is_built_against_without_touching_the_package() {
    if flags::Go::find().is_none() {
        eprintln!("skipped: no working `go`");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let (user, local) = user_package(dir.path(), &["example.com/local"]);
    let before = snapshot(&user);
    let out = dir.path().join("out");
    let options = Options {
        go_modules: vec![local],
    };
    // It builds (the local module resolved offline) and is then refused for what it is: a
    // Go program that is no proxy-wasm module.
    let err = source::build(&user, Some(&out), &options).expect_err("not a filter");
    assert!(
        matches!(err, SourceError::WrongAbi { .. }),
        "the build itself failed: {err}"
    );
    assert!(out.join("user.wasm").is_file());
    assert_eq!(
        snapshot(&user),
        before,
        "the build wrote into the user's package"
    );
}

#[test]
fn go_sdk_example_builds_unedited_and_passes_its_fixtures_given_a_checkout() {
    let Some(sdk) = std::env::var_os("FILTERBENCH_GO_SDK") else {
        eprintln!("skipped: set FILTERBENCH_GO_SDK to a proxy-wasm-go-sdk checkout");
        return;
    };
    let sdk = PathBuf::from(sdk);
    let example = sdk.join("examples/http_routing");
    let before = snapshot(&example);
    let out = tempfile::tempdir().expect("temporary directory");
    let options = Options {
        go_modules: vec![sdk],
    };
    let built = source::build(&example, Some(out.path()), &options).expect("the example builds");
    assert_eq!(
        snapshot(&example),
        before,
        "the build wrote into the SDK's example"
    );

    let data = repo().join("runners/tests/data/go-sdk-http-routing");
    let text = std::fs::read_to_string(data.join("fixtures.json")).expect("read the fixtures");
    let fixtures: FixtureFile = serde_json::from_str(&text).expect("fixtures parse");
    let filter = filterbench_runners::catalog::Filter {
        name: fixtures.filter.clone(),
        language: "go",
        dir: data,
        artifacts: engines::Artifacts {
            wasm: Some(built.wasm),
            native: None,
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
    assert!(ran > 1, "fewer than two arms apply to the built example");
    assert_eq!(reports.len(), ran);
    let problems: Vec<String> = reports.iter().flat_map(|r| r.problems()).collect();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
