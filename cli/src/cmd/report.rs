//! `filterbench report`: a results file as the HTML report (default) or another format.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
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

/// Reads a results file, refusing one with an implausible figure (NaN, or beyond its unit's
/// bound) for every format: see `filterbench_results::check`.
fn load(path: &Path) -> Result<Results> {
    let results = Results::read(path)?;
    results
        .check()
        .with_context(|| format!("refusing {}", path.display()))?;
    Ok(results)
}

pub fn run(args: Args) -> Result<ExitCode> {
    let format: Format = args.format.parse()?;
    let results = load(&args.results)?;
    let bytes = format.exporter().serialize(&results)?;
    let out = args
        .out
        .unwrap_or_else(|| default_out(&args.results, format));
    if out == Path::new("-") {
        std::io::stdout()
            .write_all(&bytes)
            .context("writing to standard output")?;
    } else {
        save(&args.results, &out, &bytes)?;
        eprintln!("wrote {} ({})", out.display(), format.name());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `results` as `format` beside it (`<stem>.<extension>`); returns the path.
pub fn write(results_path: &Path, format: Format) -> Result<PathBuf> {
    let results = load(results_path)?;
    let bytes = format.exporter().serialize(&results)?;
    let out = default_out(results_path, format);
    save(results_path, &out, &bytes)?;
    Ok(out)
}

/// Atomically (a temporary file renamed into place), and never over the results it was made
/// from.
fn save(input: &Path, out: &Path, bytes: &[u8]) -> Result<()> {
    if same_file(input, out) {
        bail!(
            "{} is the results file itself; choose another --out",
            out.display()
        );
    }
    super::atomic::write(out, bytes)
}

/// True when `a` and `b` are one file: by path once links are resolved, or as two hard links
/// to it (the same device and inode), which no path comparison sees.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b))
            && (x.dev(), x.ino()) == (y.dev(), y.ino())
        {
            return true;
        }
    }
    super::atomic::same_file(a, b)
}
