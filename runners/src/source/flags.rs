//! The compiler flags our filters are built with, in one place: `runners/build.rs` (our
//! filters, included by `#[path]`) and `filterbench build` (a user's) read the same lists, so a
//! user's filter is built exactly as ours are. No dependencies: build.rs compiles it alone.

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
