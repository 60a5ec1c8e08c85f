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
        save(&args.results, &out, &bytes)?;
        eprintln!("wrote {} ({})", out.display(), format.name());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `results` as `format` beside it (`<stem>.<extension>`); returns the path.
pub fn write(results_path: &Path, format: Format) -> Result<PathBuf> {
    let results = Results::read(results_path)?;
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
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", out.display()))?;
    tmp.persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
