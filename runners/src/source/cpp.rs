//! C++ on the proxy-wasm C++ SDK's API: the user's `.cc`/`.cpp` files with our layer
//! (`filters/cpp/sdk`), by the compiler and flags `runners/build.rs` gives our C++ filters —
//! to wasm32-wasi (a reactor) and to a shared library linking the native shim.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Built, Job, SourceError, SourceLanguage, flags};

const EXTENSIONS: &[&str] = &["cc", "cpp"];

pub const LANGUAGE: SourceLanguage = SourceLanguage {
    name: "cpp",
    detect: |p| {
        if p.is_dir() {
            !super::files_with(p, EXTENSIONS).is_empty()
        } else {
            p.extension()
                .is_some_and(|x| EXTENSIONS.iter().any(|e| x == *e))
        }
    },
    build,
};

fn install() -> String {
    format!(
        "the Debian packages {} (scripts/setup.sh installs them)",
        flags::CXX_PACKAGES
    )
}

/// The compiler runs, and wasi-libc and libc++ for wasm32 are where Debian puts them.
fn check_toolchain() -> Result<(), SourceError> {
    let cxx = flags::cxx();
    let missing = |what: String| SourceError::Toolchain {
        language: "C++",
        what,
        install: install(),
    };
    let out = super::output(Command::new(&cxx).arg("--version"), "C++", &install())?;
    if !out.status.success() {
        return Err(missing(format!("`{cxx} --version` failed")));
    }
    // Only checked for the default compiler: another one may keep its sysroot elsewhere.
    if std::env::var_os("FILTERBENCH_CXX").is_none() {
        for lib in ["libc.a", "libc++.a"] {
            let p = Path::new("/usr/lib/wasm32-wasi").join(lib);
            if !p.is_file() {
                return Err(missing(format!("no {}", p.display())));
            }
        }
    }
    Ok(())
}

fn sources(dir: &Path) -> Vec<PathBuf> {
    super::files_with(dir, &["cc"])
}

fn build(job: &Job) -> Result<Built, SourceError> {
    check_toolchain()?;
    let user = if job.source.is_dir() {
        super::files_with(&job.source, EXTENSIONS)
    } else {
        vec![job.source.clone()]
    };
    let sdk = crate::catalog::source_dir().join("cpp/sdk");
    let wasm = job.out.join(format!("{}.wasm", job.stem));
    let mut cmd = Command::new(flags::cxx());
    cmd.args(flags::CXX_WASM)
        .args(flags::CXX_COMMON)
        .arg("-I")
        .arg(&sdk)
        .args(&user)
        .args(sources(&sdk))
        .args(sources(&sdk.join("wasm")))
        .arg("-o")
        .arg(&wasm);
    super::compile(&mut cmd, "C++", &install(), &job.source)?;
    let native = job.out.join(super::dll_name(&job.stem));
    let mut cmd = Command::new(flags::cxx());
    cmd.args(flags::CXX_NATIVE)
        .args(flags::CXX_COMMON)
        .arg(format!(
            "-Wl,--version-script={}",
            sdk.join("exports.map").display()
        ))
        .arg("-Wl,--gc-sections")
        .arg("-I")
        .arg(&sdk)
        .args(&user)
        .args(sources(&sdk))
        .arg(super::shim_lib()?)
        .arg("-o")
        .arg(&native);
    super::compile(&mut cmd, "C++", &install(), &job.source)?;
    Ok(Built {
        language: LANGUAGE.name,
        wasm,
        native: Some(native),
    })
}
