//! A Rust crate on the proxy-wasm Rust SDK, as its user wrote it: built with its own
//! Cargo.toml (outside our workspace, in a target folder of ours) by our toolchain with our
//! `filters` profile, to wasm32-wasip1 (the target the SDK documents) and natively.
//!
//! Our own filters get the native shim as a Rust dependency (through `filters/common`); a
//! user's crate does not depend on it, so its native build links the shim's static library
//! (the one our C++ filters link) and exports the shim's entry point with a second version
//! script: rustc's own exports only the crate graph's symbols.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Built, Job, SourceError, SourceLanguage, flags};

pub const LANGUAGE: SourceLanguage = SourceLanguage {
    name: "rust",
    detect: |p| p.join("Cargo.toml").is_file() || p.file_name().is_some_and(|n| n == "Cargo.toml"),
    build,
};

const WASM_TARGET: &str = "wasm32-wasip1";

/// Our `[profile.filters]` (workspace Cargo.toml) as `cargo --config` values: a user's crate
/// has no such profile, and these win over one it might have. A test keeps the two equal.
const PROFILE: &[(&str, &str)] = &[
    ("inherits", "\"release\""),
    ("lto", "true"),
    ("codegen-units", "1"),
    ("panic", "\"abort\""),
    ("debug", "false"),
    ("strip", "\"debuginfo\""),
    ("opt-level", "3"),
];

/// Exports the shim's `filterbench_native_init` beside rustc's list (lld merges the scripts).
const EXPORTS: &str = "{\n  global: filterbench_*;\n};\n";

/// The toolchain our filters are built with (`1.95.0`), pinned for the user's crate too.
fn toolchain() -> &'static str {
    env!("FILTERBENCH_RUSTC_VERSION")
        .split(' ')
        .next()
        .unwrap_or("stable")
}

fn install() -> String {
    format!(
        "Rust {t} with the {WASM_TARGET} target (rustup toolchain install {t} --target \
         {WASM_TARGET})",
        t = toolchain()
    )
}

fn tool(name: &str) -> Command {
    let mut cmd = Command::new(name);
    for var in flags::SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    // Our compiler, whatever the crate's rust-toolchain.toml says (rustup reads this).
    cmd.env("RUSTUP_TOOLCHAIN", toolchain());
    cmd
}

/// Fails with what to install when our toolchain lacks the wasm target's standard library.
fn check_toolchain() -> Result<(), SourceError> {
    let out = super::output(
        tool("rustc").args(["--print", "target-libdir", "--target", WASM_TARGET]),
        "Rust",
        &install(),
    )?;
    let libdir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !Path::new(&libdir).is_dir() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(SourceError::Toolchain {
            language: "Rust",
            what: if why.is_empty() {
                format!("no {WASM_TARGET} standard library for Rust {}", toolchain())
            } else {
                why
            },
            install: install(),
        });
    }
    Ok(())
}

fn build(job: &Job) -> Result<Built, SourceError> {
    check_toolchain()?;
    let manifest = if job.source.is_dir() {
        job.source.join("Cargo.toml")
    } else {
        job.source.clone()
    };
    let target_dir = job.work.join("cargo");
    let wasm = copy(
        &cargo(&manifest, &target_dir, Some(WASM_TARGET), &[])?,
        &job.out,
    )?;
    // Before the native build: a crate not on the SDK would fail there less clearly.
    super::check_abi(&wasm)?;
    super::create_dir(&job.work)?;
    let exports = job.work.join("native-exports.map");
    std::fs::write(&exports, EXPORTS).map_err(|e| SourceError::Io {
        what: "write",
        path: exports.clone(),
        source: e,
    })?;
    let link = [
        format!("link-arg={}", super::shim_lib()?.display()),
        format!("link-arg=-Wl,--version-script={}", exports.display()),
    ];
    let native = cargo(&manifest, &target_dir, None, &link)?;
    let native = copy(&native, &job.out)?;
    check_native(&native)?;
    Ok(Built {
        language: LANGUAGE.name,
        wasm,
        native: Some(native),
    })
}

/// `cargo rustc` of the crate's library as a cdylib (what the SDK documents) for `target`
/// (None: the host), `-C` arguments for it alone; returns the library it made.
fn cargo(
    manifest: &Path,
    target_dir: &Path,
    target: Option<&str>,
    codegen: &[String],
) -> Result<PathBuf, SourceError> {
    let mut cmd = tool("cargo");
    cmd.arg("rustc")
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--lib", "--crate-type", "cdylib", "--profile", "filters"])
        // Diagnostics rendered on stderr as rustc writes them; artifacts as JSON on stdout.
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--target-dir")
        .arg(target_dir);
    for (key, value) in PROFILE {
        cmd.arg("--config")
            .arg(format!("profile.filters.{key}={value}"));
    }
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    if !codegen.is_empty() {
        cmd.arg("--");
        for c in codegen {
            cmd.arg("-C").arg(c);
        }
    }
    let what = target.unwrap_or("native");
    let out = super::output(&mut cmd, "Rust", &install())?;
    if !out.status.success() {
        // stdout holds only cargo's JSON; rustc's and cargo's words are on stderr.
        return Err(SourceError::Compile {
            language: "Rust",
            path: manifest.to_path_buf(),
            output: without_progress(&String::from_utf8_lossy(&out.stderr)),
        });
    }
    let suffix = if target.is_some() {
        ".wasm"
    } else {
        std::env::consts::DLL_SUFFIX
    };
    let manifest = manifest.canonicalize().unwrap_or(manifest.to_path_buf());
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path())
        })
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .find(|f| f.to_string_lossy().ends_with(suffix))
        .ok_or_else(|| SourceError::NoArtifact {
            what: format!("the {what} build"),
            path: manifest.clone(),
            artifact: format!("{suffix} library"),
        })
}

/// Cargo's progress lines (`Compiling …`) say nothing about why a build failed.
fn without_progress(text: &str) -> String {
    const PROGRESS: &[&str] = &[
        "Compiling ",
        "Downloading ",
        "Downloaded ",
        "Locking ",
        "Updating ",
        "Adding ",
        "Blocking ",
        "Checking ",
    ];
    text.lines()
        .filter(|l| {
            let t = l.trim_start();
            !(l.starts_with("  ") && PROGRESS.iter().any(|p| t.starts_with(p)))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn copy(from: &Path, dir: &Path) -> Result<PathBuf, SourceError> {
    let to = dir.join(from.file_name().unwrap_or_default());
    std::fs::copy(from, &to).map_err(|e| SourceError::Io {
        what: "copy",
        path: from.to_path_buf(),
        source: e,
    })?;
    Ok(to)
}

/// The native library must export the shim's entry point, or the native arm cannot drive it:
/// said here rather than at the first load.
fn check_native(lib: &Path) -> Result<(), SourceError> {
    // SAFETY: loading runs the library's initialisers, as the native arm's load does next.
    let loaded = unsafe { libloading::Library::new(lib) };
    let exported = loaded.is_ok_and(|l| {
        unsafe { l.get::<unsafe extern "C" fn()>(b"filterbench_native_init") }.is_ok()
    });
    if exported {
        Ok(())
    } else {
        Err(SourceError::NoArtifact {
            what: "the native link".into(),
            path: lib.to_path_buf(),
            artifact: "export of filterbench_native_init (the shim's entry point)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    /// The profile we pass a user's crate is the workspace's `[profile.filters]`, key for key.
    #[test]
    fn the_profile_is_the_workspaces() {
        let ws = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let text = std::fs::read_to_string(ws).unwrap();
        let section = text.split("[profile.filters]").nth(1).unwrap();
        let mut ours: Vec<(String, String)> = section
            .lines()
            .map(str::trim)
            .take_while(|l| !l.starts_with('['))
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let mut given: Vec<(String, String)> = super::PROFILE
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ours.sort();
        given.sort();
        assert_eq!(ours, given);
    }
}
