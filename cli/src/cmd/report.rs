//! `filterbench report`: a results file as the HTML report (default) or another format.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use filterbench_reports::Format;
use filterbench_results::Results;

#[derive(clap::Args)]
pub struct Args {
    /// The results file written by `filterbench run`.
    results: PathBuf,
    /// Output file (default: beside the results file, `<stem>.html`, `<stem>.md`, …); `-` for
    /// standard output.
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Output format.
    #[arg(
        long,
        default_value = "html",
        value_parser = clap::builder::PossibleValuesParser::new(Format::NAMES)
    )]
    format: String,
}

/// `<dir>/<stem>.<extension of the format>`.
pub fn default_out(results: &Path, format: Format) -> PathBuf {
    results.with_extension(format.extension())
}

pub fn run(args: Args) -> Result<ExitCode> {
    let format: Format = args.format.parse()?;
    let results = Results::read(&args.results)?;
    let bytes = format.exporter().serialize(&results)?;
    let out = args
        .out
        .unwrap_or_else(|| default_out(&args.results, format));
    if out == Path::new("-") {
        std::io::stdout()
            .write_all(&bytes)
            .context("writing to standard output")?;
    } else {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("wrote {} ({})", out.display(), format.name());
    }
    Ok(ExitCode::SUCCESS)
}
