//! The source languages of the catalogue's filters: where a language's filter folders live
//! under `filters/`, what marks one, and whether it has a native build. One table, read by
//! `build.rs` (which builds the filters) and by the catalogue (which finds them), so a new
//! language is one entry here plus its build rule.

use std::path::{Path, PathBuf};

pub struct Language {
    pub name: &'static str,
    /// Folder under `filters/` holding this language's filters ("" = `filters/` itself).
    pub dir: &'static str,
    /// Prefix of the filter names, so names stay unique across languages.
    pub prefix: &'static str,
    /// A file every filter folder of the language has.
    pub marker: &'static str,
    /// Whether the language has a native build (a shared library for the native arms).
    pub native: bool,
}

pub const LANGUAGES: &[Language] = &[
    Language {
        name: "rust",
        dir: "",
        prefix: "",
        marker: "Cargo.toml",
        native: true,
    },
    Language {
        name: "cpp",
        dir: "cpp",
        prefix: "cpp-",
        marker: "filter.cc",
        native: true,
    },
    Language {
        name: "assemblyscript",
        dir: "assemblyscript",
        prefix: "as-",
        marker: "index.ts",
        native: false,
    },
    Language {
        name: "go",
        dir: "go",
        prefix: "go-",
        marker: "filter.go",
        // A cgo c-shared build works (it passed every fixture), but each native instance
        // dlopens its own copy, and every copy is a whole Go runtime that cannot be unloaded
        // (NODELETE), starts ~5 threads and takes initial-exec TLS: glibc's static TLS runs
        // out after ~200 copies in one process, fewer than `run` instantiates (200 quick,
        // 1000 full).
        native: false,
    },
];

/// A filter folder: its catalogue name, language and path.
pub struct FilterDir {
    pub name: String,
    pub language: &'static Language,
    pub path: PathBuf,
}

/// Every filter folder (one with a `fixtures.json` and the language's marker), by name.
pub fn filter_dirs(filters: &Path) -> Vec<FilterDir> {
    let mut out = Vec::new();
    for lang in LANGUAGES {
        let Ok(entries) = std::fs::read_dir(filters.join(lang.dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.join("fixtures.json").is_file() && path.join(lang.marker).is_file() {
                out.push(FilterDir {
                    name: format!("{}{}", lang.prefix, e.file_name().to_string_lossy()),
                    language: lang,
                    path,
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The file stem of a filter's artifacts (`filter_add_header.wasm`, `libfilter_add_header.so`).
pub fn artifact_stem(name: &str) -> String {
    format!("filter_{}", name.replace('-', "_"))
}

/// The job a filter does: its name without a language prefix (`cpp-add-header` does
/// `add-header`, with the same fixtures and the same Envoy comparators).
pub fn job(filter: &str) -> &str {
    LANGUAGES
        .iter()
        .filter(|l| !l.prefix.is_empty())
        .find_map(|l| filter.strip_prefix(l.prefix))
        .unwrap_or(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_drop_the_language_prefix() {
        assert_eq!(job("cpp-add-header"), "add-header");
        assert_eq!(job("as-add-header"), "add-header");
        assert_eq!(job("go-jwt-hs256"), "jwt-hs256");
        assert_eq!(job("jwt-hs256"), "jwt-hs256");
        assert_eq!(artifact_stem("cpp-add-header"), "filter_cpp_add_header");
    }
}
