//! A user's filter from source: detect its language, build it to wasm and natively (when the
//! language has a native build) with the compilers and flags of our own filters, and check the
//! result speaks the ABI before anything runs it. One file per language and one entry in
//! [`LANGUAGES`], so a new language is one file and one line.

mod assemblyscript;
mod cpp;
pub mod flags;
mod go;
mod rust;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::host::callbacks::ABI_MARKERS_ACCEPTED;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
    #[error(
        "cannot tell the language of {0}: expected a Cargo.toml (Rust), .cc/.cpp files (C++), \
         a go.mod or .go files (Go), or a package.json or assembly/index.ts (AssemblyScript)"
    )]
    Unknown(PathBuf),
    #[error("{language} toolchain missing: {what}; install {install}")]
    Toolchain {
        language: &'static str,
        what: String,
        install: String,
    },
    #[error("{0}")]
    NotYet(String),
    #[error("{language} build of {path} failed:\n{output}")]
    Compile {
        language: &'static str,
        path: PathBuf,
        output: String,
    },
    #[error(
        "{language} build of {path} cannot resolve {modules}: {why}; give a local checkout \
         of each with --go-sdk PATH (repeatable, or FILTERBENCH_GO_SDK=PATH:PATH), or set \
         GOPROXY to a module proxy you can reach"
    )]
    Unresolved {
        language: &'static str,
        path: PathBuf,
        modules: String,
        why: String,
    },
    #[error("{what} of {path} made no {artifact}")]
    NoArtifact {
        what: String,
        path: PathBuf,
        artifact: String,
    },
    #[error("{path} does not speak proxy-wasm ABI 0.2.1: {why}")]
    WrongAbi { path: PathBuf, why: String },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A source language `filterbench build` knows.
pub struct SourceLanguage {
    pub name: &'static str,
    /// Whether `source` (a file or folder) is written in this language.
    pub detect: fn(&Path) -> bool,
    pub build: fn(&Job) -> Result<Built, SourceError>,
}

/// In detection order: a folder with a Cargo.toml is Rust even if it also holds C++ files.
pub const LANGUAGES: &[SourceLanguage] = &[
    rust::LANGUAGE,
    cpp::LANGUAGE,
    go::LANGUAGE,
    assemblyscript::LANGUAGE,
];

/// One build: the source, where its artifacts go, and the name they take.
pub struct Job {
    pub source: PathBuf,
    pub out: PathBuf,
    /// This source's own work folder (a Rust crate's target dir: cargo names a path crate's
    /// artifacts by its path relative to its workspace, so two crates must not share one).
    pub work: PathBuf,
    /// Artifact file stem (`<stem>.wasm`, `lib<stem>.so`) for languages that choose it.
    pub stem: String,
    pub options: Options,
}

/// What a build takes beside the source.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Local checkouts of Go modules (an SDK, a dependency), each a folder with its go.mod:
    /// a Go package is built against them and fetches nothing (`--go-sdk`; when empty,
    /// `FILTERBENCH_GO_SDK`, a PATH-style list).
    pub go_modules: Vec<PathBuf>,
}

/// What a build made.
#[derive(Debug, Clone)]
pub struct Built {
    pub language: &'static str,
    pub wasm: PathBuf,
    pub native: Option<PathBuf>,
}

/// The language of `source`, by its marker files.
pub fn detect(source: &Path) -> Result<&'static SourceLanguage, SourceError> {
    if !source.exists() {
        return Err(SourceError::Missing(source.to_path_buf()));
    }
    LANGUAGES
        .iter()
        .find(|l| (l.detect)(source))
        .ok_or_else(|| SourceError::Unknown(source.to_path_buf()))
}

/// Where builds keep their work and, without `--out`, their artifacts (a folder per source):
/// beside our own filters' builds in the workspace's target folder.
pub fn cache_root() -> PathBuf {
    let wasm_dir = Path::new(env!("FILTERBENCH_WASM_DIR"));
    // <target>/filterbench-filters/wasm32-unknown-unknown/filters
    wasm_dir
        .ancestors()
        .nth(3)
        .unwrap_or(wasm_dir)
        .join("filterbench-source")
}

/// Builds the filter at `source` into `out` (default: a folder of [`cache_root`] named after
/// the source) and checks its wasm speaks the ABI.
pub fn build(source: &Path, out: Option<&Path>, options: &Options) -> Result<Built, SourceError> {
    let language = detect(source)?;
    let source = source.canonicalize().map_err(|e| SourceError::Io {
        what: "read",
        path: source.to_path_buf(),
        source: e,
    })?;
    let stem = stem(&source);
    // Two sources of the same name must not share a folder.
    let work = cache_root().join(format!("{stem}-{}", short_hash(&source)));
    let out = out.map_or_else(|| work.clone(), Path::to_path_buf);
    create_dir(&out)?;
    let built = (language.build)(&Job {
        source,
        out,
        work,
        stem,
        options: options.clone(),
    })?;
    check_abi(&built.wasm)?;
    Ok(built)
}

/// A file-name-safe name for the artifacts: the folder's or file's name.
fn stem(source: &Path) -> String {
    // `filter.cc`, `index.ts`: the folder names the filter better than a generic file name.
    let generic = ["filter", "main", "index", "lib"];
    let name = if source.is_dir() {
        source.file_name()
    } else if source
        .file_stem()
        .is_some_and(|s| generic.iter().any(|g| s == *g))
    {
        source.parent().and_then(Path::file_name)
    } else {
        source.file_stem()
    };
    let name: String = name
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.is_empty() {
        "filter".into()
    } else {
        name
    }
}

fn short_hash(path: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(path.as_os_str().as_encoded_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

fn create_dir(dir: &Path) -> Result<(), SourceError> {
    std::fs::create_dir_all(dir).map_err(|e| SourceError::Io {
        what: "create",
        path: dir.to_path_buf(),
        source: e,
    })
}

/// The wasm exports an ABI marker this host accepts, and passes the host's own module check
/// (the one every engine's load runs), so a wrong build is named here, not mid-run.
fn check_abi(wasm: &Path) -> Result<(), SourceError> {
    let bytes = std::fs::read(wasm).map_err(|e| SourceError::Io {
        what: "read",
        path: wasm.to_path_buf(),
        source: e,
    })?;
    let wrong = |why: String| SourceError::WrongAbi {
        path: wasm.to_path_buf(),
        why,
    };
    let mut markers = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let Ok(wasmparser::Payload::ExportSection(r)) = payload {
            for e in r.into_iter().flatten() {
                if e.name.starts_with("proxy_abi_version_") {
                    markers.push(e.name.to_string());
                }
            }
        }
    }
    if !markers
        .iter()
        .any(|m| ABI_MARKERS_ACCEPTED.contains(&m.as_str()))
    {
        return Err(wrong(if markers.is_empty() {
            "it exports no proxy_abi_version_* marker (is it built on a proxy-wasm SDK?)".into()
        } else {
            format!(
                "it exports {}, this host speaks {}",
                markers.join(", "),
                ABI_MARKERS_ACCEPTED.join(" or ")
            )
        }));
    }
    crate::host::module_check::check(&bytes).map_err(|e| wrong(e.to_string()))?;
    Ok(())
}

/// Runs a build tool; a tool that is not installed is a missing toolchain, with what to
/// install.
fn output(cmd: &mut Command, language: &'static str, install: &str) -> Result<Output, SourceError> {
    cmd.output().map_err(|e| SourceError::Toolchain {
        language,
        what: format!("{}: {e}", cmd.get_program().to_string_lossy()),
        install: install.to_string(),
    })
}

/// Runs a compiler: a failure is the user's source, shown with the compiler's own words.
fn compile(
    cmd: &mut Command,
    language: &'static str,
    install: &str,
    source: &Path,
) -> Result<Output, SourceError> {
    let out = output(cmd, language, install)?;
    if !out.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return Err(SourceError::Compile {
            language,
            path: source.to_path_buf(),
            output: text.trim_end().to_string(),
        });
    }
    Ok(out)
}

/// Files directly in `dir` whose extension is one of `exts`, sorted.
fn files_with(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file() && p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)));
    v.sort();
    v
}

/// The native shim as a static library, which `runners/build.rs` builds for the C++ filters.
fn shim_lib() -> Result<PathBuf, SourceError> {
    let p = Path::new(env!("FILTERBENCH_NATIVE_DIR")).join("libfilterbench_native_shim.a");
    if p.is_file() {
        Ok(p)
    } else {
        Err(SourceError::Io {
            what: "find the native shim",
            path: p,
            source: std::io::ErrorKind::NotFound.into(),
        })
    }
}

/// The shared-library file name of `stem` on this host.
fn dll_name(stem: &str) -> String {
    format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_told_by_their_marker_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let name = |p: &Path| detect(p).map(|l| l.name).map_err(|e| e.to_string());
        assert!(name(d).unwrap_err().contains("cannot tell the language"));
        std::fs::write(d.join("filter.cc"), "").unwrap();
        assert_eq!(name(d).unwrap(), "cpp");
        assert_eq!(name(&d.join("filter.cc")).unwrap(), "cpp");
        std::fs::write(d.join("Cargo.toml"), "").unwrap();
        assert_eq!(name(d).unwrap(), "rust");
        let go = d.join("go");
        std::fs::create_dir_all(go.join("assembly")).unwrap();
        std::fs::write(go.join("main.go"), "").unwrap();
        assert_eq!(name(&go).unwrap(), "go");
        let ts = d.join("ts");
        std::fs::create_dir_all(ts.join("assembly")).unwrap();
        std::fs::write(ts.join("assembly/index.ts"), "").unwrap();
        assert_eq!(name(&ts).unwrap(), "assemblyscript");
        assert!(name(&d.join("nope")).unwrap_err().contains("no such file"));
        assert_eq!(stem(&d.join("my-filter.cc")), "my_filter");
        assert_eq!(stem(&d.join("add-header/filter.cc")), "add_header");
    }
}
