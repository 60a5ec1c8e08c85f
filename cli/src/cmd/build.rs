//! `filterbench build`: a user's filter from source, built to wasm and natively with the
//! compilers and flags of our own filters (see `filterbench_runners::source`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use filterbench_runners::source;

#[derive(clap::Args)]
pub struct Args {
    /// The filter's source: a Rust crate on the proxy-wasm Rust SDK (its folder), C++ on the
    /// proxy-wasm C++ SDK's API (a .cc/.cpp file or a folder of them), a Go package, or an
    /// AssemblyScript project on @solo-io/proxy-runtime.
    source: PathBuf,
    /// Folder for the artifacts (default: one under target/filterbench-source).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let built = build(&args.source, args.out.as_deref())?;
    println!("wasm:   {}", built.wasm.display());
    let native = match &built.native {
        Some(n) => {
            println!("native: {}", n.display());
            format!(" --native {}", n.display())
        }
        None => {
            println!("native: none ({} has no native build)", built.language);
            String::new()
        }
    };
    println!(
        "run it: filterbench run --wasm {}{native}",
        built.wasm.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Builds `source`, saying so first: a first build compiles the SDK and takes a while.
pub fn build(source: &Path, out: Option<&Path>) -> Result<source::Built> {
    let language = source::detect(source)?;
    eprintln!("building {} ({})", source.display(), language.name);
    let started = Instant::now();
    let built = source::build(source, out)?;
    eprintln!(
        "built {} in {:.1} s",
        source.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(built)
}
