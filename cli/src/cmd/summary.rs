//! The terminal summary of a results file: rendered by the reports crate from the same
//! analysis as the HTML and Markdown reports, so the three agree on every figure.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use filterbench_results::Results;

#[derive(clap::Args)]
pub struct Args {
    /// The results file written by `filterbench run`.
    results: PathBuf,
    /// Every table (wide) instead of the per-filter answer.
    #[arg(long, short)]
    verbose: bool,
}

/// `filterbench summary`: what `run` printed at its end, again, from its results file.
pub fn run(args: Args) -> Result<ExitCode> {
    let results = Results::read(&args.results)?;
    if args.verbose {
        print!("{}", render(&results));
    } else {
        print!("{}", summary(&results));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn ns(v: f64) -> String {
    match v.abs() {
        x if x >= 1e9 => format!("{:.2} s", v / 1e9),
        x if x >= 1e6 => format!("{:.2} ms", v / 1e6),
        x if x >= 1e3 => format!("{:.2} µs", v / 1e3),
        _ => format!("{v:.0} ns"),
    }
}

pub fn bytes(v: f64) -> String {
    match v.abs() {
        x if x >= 1048576.0 => format!("{:.1} MiB", v / 1048576.0),
        x if x >= 1024.0 => format!("{:.0} KiB", v / 1024.0),
        _ => format!("{v:.0} B"),
    }
}

/// Every table (wide).
pub fn render(results: &Results) -> String {
    filterbench_reports::terminal::render(results)
}

/// The per-filter answer, ≤ 100 columns.
pub fn summary(results: &Results) -> String {
    filterbench_reports::terminal::summary(results)
}
