//! `filterbench compare`: is a run worse than a baseline? Only the declared gating figures can
//! fail it (see `filterbench_reports::compare`). Exit status 1 when a gating figure regressed,
//! a gating figure is missing without a reason, or a filter × arm newly fails; 0 otherwise; 2 on
//! errors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, ensure};
use filterbench_reports::compare::trend;
use filterbench_reports::{Thresholds, compare};
use filterbench_results::Results;

#[derive(clap::Args)]
pub struct Args {
    /// The baseline results file.
    base: PathBuf,
    /// The results file to judge against it.
    new: PathBuf,
    /// Smallest relative change, in percent, of a timed figure that can count as a regression
    /// or improvement; also the equivalence margin of "unchanged".
    #[arg(long, default_value_t = 5.0)]
    threshold_pct: f64,
    /// The same for a deterministic figure (instruction counts) whose repeats agree within
    /// 0.5%: it gates on the size of its change alone.
    #[arg(long, default_value_t = 1.0)]
    deterministic_threshold_pct: f64,
    /// Family-wise error rate over the gating set (Holm).
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Where to write the HTML page of the comparison.
    #[arg(short, long, default_value = "compare.html")]
    out: PathBuf,
    /// Print Markdown (for a CI job summary or a pull-request comment) instead of plain text.
    #[arg(long)]
    markdown: bool,
    /// Append the new run's gating figures to this JSON-lines history…
    #[arg(long)]
    history: Option<PathBuf>,
    /// …and write the trend page of that history here.
    #[arg(long, requires = "history")]
    trend: Option<PathBuf>,
}

fn write(path: &std::path::Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

pub fn run(args: Args) -> Result<ExitCode> {
    for (v, name) in [
        (args.threshold_pct, "--threshold-pct"),
        (
            args.deterministic_threshold_pct,
            "--deterministic-threshold-pct",
        ),
    ] {
        ensure!(v.is_finite() && v >= 0.0, "{name} must be a percentage ≥ 0");
    }
    ensure!(
        args.alpha > 0.0 && args.alpha < 1.0,
        "--alpha must lie between 0 and 1"
    );
    let base = Results::read(&args.base)?;
    let new = Results::read(&args.new)?;
    let thresholds = Thresholds {
        pct: args.threshold_pct,
        deterministic_pct: args.deterministic_threshold_pct,
        alpha: args.alpha,
        ..Thresholds::default()
    };
    let mut c = compare(&base, &new, &thresholds);
    c.base_name = format!("{} ({})", args.base.display(), c.base_name);
    c.new_name = format!("{} ({})", args.new.display(), c.new_name);
    write(&args.out, &c.html()?)?;
    if args.markdown {
        print!("{}", c.markdown());
    } else {
        print!("{}", c.text());
    }
    eprintln!("wrote {}", args.out.display());
    if let Some(h) = &args.history {
        trend::append(h, &new)?;
        eprintln!("appended the gating figures to {}", h.display());
        if let Some(t) = &args.trend {
            write(t, &trend::html(&trend::read(h)?)?)?;
            eprintln!("wrote {}", t.display());
        }
    }
    Ok(if c.has_regression() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
