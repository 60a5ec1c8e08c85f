//! The filter catalogue: every folder in `filters/` with its fixtures and both builds.

use std::path::{Path, PathBuf};

use crate::engines::Artifacts;
use crate::fixtures::{FixtureFile, Role};
use crate::languages;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Fixtures {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no filter named `{0}` in the catalogue")]
    Unknown(String),
}

/// One filter of the catalogue.
#[derive(Debug, Clone)]
pub struct Filter {
    pub name: String,
    /// Its source language (see [`crate::languages`]).
    pub language: &'static str,
    pub dir: PathBuf,
    pub artifacts: Artifacts,
    pub fixtures: FixtureFile,
}

/// Where the filter sources are (`FILTERBENCH_FILTERS_DIR` overrides the build-time path).
pub fn source_dir() -> PathBuf {
    std::env::var_os("FILTERBENCH_FILTERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("FILTERBENCH_FILTERS_SRC")))
}

/// The `.wasm` and native library `runners/build.rs` produced for a filter folder (no native
/// library for a language without a native build).
pub fn artifacts_for(name: &str) -> Artifacts {
    let lib = languages::artifact_stem(name);
    let native = languages::filter_dirs(&source_dir())
        .iter()
        .find(|d| d.name == name)
        .is_none_or(|d| d.language.native);
    Artifacts {
        wasm: Some(Path::new(env!("FILTERBENCH_WASM_DIR")).join(format!("{lib}.wasm"))),
        native: native.then(|| {
            Path::new(env!("FILTERBENCH_NATIVE_DIR")).join(format!(
                "{}{lib}{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            ))
        }),
    }
}

/// Filters this build could not make (their language's toolchain was missing), with why.
pub fn skipped() -> Vec<(String, String)> {
    env!("FILTERBENCH_SKIPPED_FILTERS")
        .split('|')
        .filter_map(|e| e.split_once('='))
        .map(|(n, why)| (n.to_string(), why.to_string()))
        .collect()
}

/// The `wasm32-wasip1` build of a filter, where `runners/build.rs` made one (add-header).
pub fn wasip1_wasm(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("FILTERBENCH_WASIP1_DIR"))
        .join(format!("filter_{}.wasm", name.replace('-', "_")));
    p.exists().then_some(p)
}

/// Every filter, sorted by name.
pub fn discover() -> Result<Vec<Filter>, CatalogError> {
    let dir = source_dir();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CatalogError::Io { path, source }
    };
    if !dir.is_dir() {
        return Err(io(&dir)(std::io::Error::from(std::io::ErrorKind::NotFound)));
    }
    let skipped = skipped();
    let mut out = Vec::new();
    for d in languages::filter_dirs(&dir) {
        if skipped.iter().any(|(n, _)| *n == d.name) {
            continue;
        }
        let fixtures_path = d.path.join("fixtures.json");
        let text = std::fs::read_to_string(&fixtures_path).map_err(io(&fixtures_path))?;
        let mut fixtures: FixtureFile =
            serde_json::from_str(&text).map_err(|source| CatalogError::Fixtures {
                path: fixtures_path.clone(),
                source,
            })?;
        // One fixtures file serves a job in every language: the plugin is named after the
        // catalogue entry (as in timing and in Envoy), not after the file.
        fixtures.filter = d.name.clone();
        out.push(Filter {
            artifacts: artifacts_for(&d.name),
            language: d.language.name,
            name: d.name,
            dir: d.path,
            fixtures,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

impl Filter {
    /// A filter that tests the suite itself (`"role": "test"`): run only when named, never
    /// part of a default run or the report's headline.
    pub fn is_test(&self) -> bool {
        self.fixtures.role == Role::Test
    }
}

/// One filter by name.
pub fn find(name: &str) -> Result<Filter, CatalogError> {
    discover()?
        .into_iter()
        .find(|f| f.name == name)
        .ok_or_else(|| CatalogError::Unknown(name.to_string()))
}
