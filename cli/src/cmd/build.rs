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
    #[command(flatten)]
    pub options: SourceOptions,
}

/// Options of a build from source, shared with `filterbench run --source`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SourceOptions {
    /// A local checkout of a Go module a Go package imports (the proxy-wasm Go SDK, or any
    /// dependency): the package is built against it and nothing is fetched (GOPROXY=off);
    /// repeatable; default $FILTERBENCH_GO_SDK (a PATH-style list).
    #[arg(long = "go-sdk", value_name = "PATH", requires = "source")]
    pub go_sdk: Vec<PathBuf>,
}

impl SourceOptions {
    pub fn options(&self) -> source::Options {
        source::Options {
            go_modules: self.go_sdk.clone(),
        }
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let built = build(&args.source, args.out.as_deref(), &args.options)?;
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
pub fn build(source: &Path, out: Option<&Path>, options: &SourceOptions) -> Result<source::Built> {
    let language = source::detect(source)?;
    eprintln!("building {} ({})", source.display(), language.name);
    let started = Instant::now();
    let built = source::build(source, out, &options.options())?;
    eprintln!(
        "built {} in {:.1} s",
        source.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(built)
}
