//! `filterbench compare`: is a run significantly worse than a baseline? Exit status 1 when a
//! figure regressed beyond the threshold (or a filter × arm newly fails), 0 otherwise, 2 on
//! errors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, ensure};
use filterbench_reports::{Thresholds, compare};
use filterbench_results::Results;

#[derive(clap::Args)]
pub struct Args {
    /// The baseline results file.
    base: PathBuf,
    /// The results file to judge against it.
    new: PathBuf,
    /// Smallest relative change, in percent, that can count as significant (the 95% interval
    /// of the change must also exclude zero).
    #[arg(long, default_value_t = 5.0)]
    threshold_pct: f64,
    /// Where to write the HTML page of the comparison.
    #[arg(short, long, default_value = "compare.html")]
    out: PathBuf,
    /// Print Markdown (for a CI job summary or a pull-request comment) instead of plain text.
    #[arg(long)]
    markdown: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    ensure!(
        args.threshold_pct.is_finite() && args.threshold_pct >= 0.0,
        "--threshold-pct must be a percentage ≥ 0"
    );
    let base = Results::read(&args.base)?;
    let new = Results::read(&args.new)?;
    let thresholds = Thresholds {
        pct: args.threshold_pct,
        ..Thresholds::default()
    };
    let mut c = compare(&base, &new, &thresholds);
    c.base_name = format!("{} ({})", args.base.display(), c.base_name);
    c.new_name = format!("{} ({})", args.new.display(), c.new_name);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.out, c.html()?)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if args.markdown {
        print!("{}", c.markdown());
    } else {
        print!("{}", c.text());
    }
    eprintln!("wrote {}", args.out.display());
    Ok(if c.has_regression() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
