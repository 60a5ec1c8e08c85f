//! Builds every filter in `filters/` (each folder with a `fixtures.json`) twice: to wasm and
//! natively, so a plain `cargo build`/`test`/`bench` on a fresh clone has both artifacts. Rust
//! filters use the `filters` profile (nested cargo with its own target dir and the outer
//! jobserver); C++ filters use clang for wasm32-wasi and for the host; AssemblyScript filters
//! use `asc` and Go filters the pinned `go` (both wasm only; `build/go.rs`). A language whose
//! toolchain is missing is skipped with the reason, which the catalogue reports — never a fake
//! artifact.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/languages.rs"]
#[allow(dead_code)]
mod languages;

// The toolchains and flag lists `filterbench build` builds users' filters with: one copy of each.
#[path = "src/source/flags.rs"]
#[allow(dead_code)]
mod flags;

// The Go filters' build (kept apart to keep this file small).
#[path = "build/go.rs"]
mod go;

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
    for var in flags::SCRUBBED_ENV {
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
    println!("cargo:rerun-if-env-changed=FILTERBENCH_CXX");

    let dirs = languages::filter_dirs(&filters);
    let mut packages = Vec::new();
    for d in dirs.iter().filter(|d| d.language.name == "rust") {
        // Another crate in filters/ (the `common` library the filters share) has no
        // fixtures.json and is only a dependency.
        if let Some(name) = package_name(&d.path.join("Cargo.toml")) {
            assert_eq!(
                name,
                format!("filter-{}", d.name),
                "filters/{}: the package must be named filter-{}",
                d.name,
                d.name
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

    // Host-only crates: the shim as a static library (C++ filters link it, so their native
    // builds speak the same protocol as the Rust ones) and the Envoy dynamic-module adapter.
    let mut host_only = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    host_only
        .current_dir(&ws)
        .args(["build", "--profile", "filters", "--target"])
        .arg(&host)
        .args([
            "-p",
            "filterbench-native-shim",
            "-p",
            "filterbench-envoy-module",
        ])
        .arg("--target-dir")
        .arg(&filter_target);
    scrub(&mut host_only);
    run(&mut host_only);

    let wasm_dir = filter_target.join("wasm32-unknown-unknown/filters");
    let native_dir = filter_target.join(&host).join("filters");
    let mut skipped = Vec::new();
    for d in &dirs {
        let result = match d.language.name {
            "cpp" => build_cpp(&filters, d, &wasm_dir, &native_dir),
            "assemblyscript" => build_assemblyscript(&filters, d, &wasm_dir),
            "go" => go::build(&filters, d, &wasm_dir, &filter_target),
            _ => Ok(()),
        };
        if let Err(why) = result {
            println!("cargo:warning=filter {} skipped: {why}", d.name);
            skipped.push(format!("{}={why}", d.name));
        }
    }
    println!(
        "cargo:rustc-env=FILTERBENCH_SKIPPED_FILTERS={}",
        skipped.join("|")
    );
    println!(
        "cargo:rustc-env=FILTERBENCH_ENVOY_MODULE={}",
        native_dir
            .join(format!(
                "{}filterbench_envoy_module{}",
                env::consts::DLL_PREFIX,
                env::consts::DLL_SUFFIX
            ))
            .display()
    );
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

/// The C++ compiler for both builds (same compiler, same flags but the target).
fn cxx() -> String {
    flags::cxx()
}

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|x| x == "cc"));
    v.sort();
    v
}

fn compile(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{}: {e}", cxx()))?;
    if !out.status.success() {
        // A compiler that is there but fails is a broken filter, not a missing toolchain.
        panic!("{what} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// A C++ filter: `filter.cc` plus the shared layer in `filters/cpp/sdk`, to wasm32-wasi
/// (reactor) and to a shared library linking the native shim.
fn build_cpp(
    filters: &Path,
    d: &languages::FilterDir,
    wasm_dir: &Path,
    native_dir: &Path,
) -> Result<(), String> {
    let version = Command::new(cxx()).arg("--version").output();
    if !version.is_ok_and(|o| o.status.success()) {
        return Err(format!(
            "C++ toolchain `{}` not found (scripts/setup.sh installs the Debian packages {})",
            cxx(),
            flags::CXX_PACKAGES
        ));
    }
    let sdk = filters.join("cpp/sdk");
    let stem = languages::artifact_stem(&d.name);
    let common = flags::CXX_COMMON;
    std::fs::create_dir_all(wasm_dir).map_err(|e| e.to_string())?;
    let mut wasm = Command::new(cxx());
    wasm.args(flags::CXX_WASM)
        .args(common)
        .arg("-I")
        .arg(&sdk)
        .arg(d.path.join("filter.cc"))
        .args(sources(&sdk))
        .args(sources(&sdk.join("wasm")))
        .arg("-o")
        .arg(wasm_dir.join(format!("{stem}.wasm")));
    compile(&mut wasm, &format!("{} (wasm)", d.name))?;
    let shim = native_dir.join("libfilterbench_native_shim.a");
    let mut native = Command::new(cxx());
    native
        .args(flags::CXX_NATIVE)
        .args(common)
        .arg(format!(
            "-Wl,--version-script={}",
            sdk.join("exports.map").display()
        ))
        .arg("-Wl,--gc-sections")
        .arg("-I")
        .arg(&sdk)
        .arg(d.path.join("filter.cc"))
        .args(sources(&sdk))
        .arg(&shim)
        .arg("-o")
        .arg(native_dir.join(format!(
            "{}{stem}{}",
            env::consts::DLL_PREFIX,
            env::consts::DLL_SUFFIX
        )));
    compile(&mut native, &format!("{} (native)", d.name))
}

/// An AssemblyScript filter: `index.ts` compiled with the pinned `asc` of
/// `filters/assemblyscript` (installed there by `npm ci`). Wasm only.
fn build_assemblyscript(
    filters: &Path,
    d: &languages::FilterDir,
    wasm_dir: &Path,
) -> Result<(), String> {
    let project = filters.join("assemblyscript");
    let asc = project.join("node_modules/.bin/asc");
    if !asc.is_file() {
        return Err(format!(
            "AssemblyScript compiler not installed (run `npm ci` in {}; scripts/setup.sh does)",
            project.display()
        ));
    }
    std::fs::create_dir_all(wasm_dir).map_err(|e| e.to_string())?;
    let out = Command::new(&asc)
        .current_dir(&project)
        .arg(d.path.join("index.ts"))
        .args(flags::ASC)
        .arg("-b")
        .arg(wasm_dir.join(format!("{}.wasm", languages::artifact_stem(&d.name))))
        .output()
        .map_err(|e| format!("{}: {e}", asc.display()))?;
    if !out.status.success() {
        panic!(
            "{} (AssemblyScript) failed:\n{}{}",
            d.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
