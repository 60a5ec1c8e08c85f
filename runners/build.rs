//! Builds every filter in `filters/` (each folder with a `fixtures.json`) twice, with the
//! `filters` profile: to `wasm32-unknown-unknown` and natively, so a plain
//! `cargo build`/`test`/`bench` on a fresh clone has both artifacts. The nested cargo uses its
//! own target dir (no lock contention) and the outer jobserver (no oversubscription).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn package_name(manifest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(rest) = line.strip_prefix("name") {
            return Some(
                rest.trim_start()
                    .strip_prefix('=')?
                    .trim()
                    .trim_matches('"')
                    .to_string(),
            );
        }
    }
    None
}

/// Version of a crate as locked in Cargo.lock (the first entry with that name).
fn locked_version(lock: &str, name: &str) -> String {
    let needle = format!("name = \"{name}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|i| lock[i + needle.len()..].split('"').next())
        .unwrap_or("unknown")
        .to_string()
}

/// The outer build's flags are for the host crates, not for wasm filters; clippy's wrapper
/// must not lint the nested build.
fn scrub(cmd: &mut Command) {
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run cargo for the filters");
    if !out.status.success() {
        panic!(
            "building the filters failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let ws = manifest_dir.parent().unwrap().to_path_buf();
    let filters = ws.join("filters");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/<pkg>/out; keep the filter builds beside it,
    // shared by every profile.
    let target_root = out_dir.ancestors().nth(4).unwrap_or(&out_dir).to_path_buf();
    let filter_target = target_root.join("filterbench-filters");
    let host = env::var("HOST").unwrap();

    for p in ["filters", "native-baseline", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", ws.join(p).display());
    }

    let mut packages = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&filters)
        .expect("filters/ exists")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        // A filter is a folder with a Cargo.toml and a fixtures.json, as in the catalogue;
        // another crate there (the `common` library the filters share) is only a dependency.
        if !e.path().join("fixtures.json").is_file() {
            continue;
        }
        if let Some(name) = package_name(&e.path().join("Cargo.toml")) {
            let folder = e.file_name().to_string_lossy().into_owned();
            assert_eq!(
                name,
                format!("filter-{folder}"),
                "filters/{folder}: the package must be named filter-{folder}"
            );
            packages.push(name);
        }
    }

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&ws)
        .args([
            "build",
            "--profile",
            "filters",
            "--target",
            "wasm32-unknown-unknown",
            "--target",
        ])
        .arg(&host)
        .arg("--target-dir")
        .arg(&filter_target);
    for p in &packages {
        cmd.args(["-p", p]);
    }
    scrub(&mut cmd);
    run(&mut cmd);
    // One filter also for wasm32-wasip1, the SDK examples' target, to test the WASI imports.
    let mut wasi = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    wasi.current_dir(&ws)
        .args([
            "build",
            "--profile",
            "filters",
            "--target",
            "wasm32-wasip1",
            "-p",
            "filter-add-header",
        ])
        .arg("--target-dir")
        .arg(&filter_target);
    scrub(&mut wasi);
    run(&mut wasi);

    let wasm_dir = filter_target.join("wasm32-unknown-unknown/filters");
    let native_dir = filter_target.join(&host).join("filters");
    println!(
        "cargo:rustc-env=FILTERBENCH_WASM_DIR={}",
        wasm_dir.display()
    );
    println!(
        "cargo:rustc-env=FILTERBENCH_NATIVE_DIR={}",
        native_dir.display()
    );
    println!(
        "cargo:rustc-env=FILTERBENCH_WASIP1_DIR={}",
        filter_target.join("wasm32-wasip1/filters").display()
    );
    println!(
        "cargo:rustc-env=FILTERBENCH_FILTERS_SRC={}",
        filters.display()
    );

    let lock = std::fs::read_to_string(ws.join("Cargo.lock")).unwrap_or_default();
    for krate in ["wasmtime", "wasmer", "wasmi", "proxy-wasm"] {
        let var = krate.to_uppercase().replace('-', "_");
        println!(
            "cargo:rustc-env=FILTERBENCH_{var}_VERSION={}",
            locked_version(&lock, krate)
        );
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let version = version
        .strip_prefix("rustc ")
        .unwrap_or(&version)
        .to_string();
    println!("cargo:rustc-env=FILTERBENCH_RUSTC_VERSION={version}");
}
