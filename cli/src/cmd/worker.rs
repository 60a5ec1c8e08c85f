//! One repetition of `filterbench run`, in a process of its own: reads the plan, measures,
//! writes its rows, and reports progress on stderr as `@total`, `@step` and `@doing` lines
//! for the parent.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use filterbench_runners::measure::{self, Plan, Progress};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    plan: PathBuf,
    #[arg(long)]
    process: u32,
    #[arg(long)]
    out: PathBuf,
}

struct StderrProgress;

impl Progress for StderrProgress {
    fn total(&self, steps: u64) {
        eprintln!("@total {steps}");
    }
    fn step(&self, label: &str) {
        eprintln!("@step {label}");
    }
    fn doing(&self, label: &str) {
        eprintln!("@doing {label}");
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.plan).context("reading the plan")?;
    let plan: Plan = serde_json::from_str(&text).context("parsing the plan")?;
    let out = measure::run_worker(&plan, args.process, &StderrProgress);
    let mut tmp =
        tempfile::NamedTempFile::new_in(args.out.parent().unwrap_or(std::path::Path::new(".")))?;
    serde_json::to_writer(&mut tmp, &out)?;
    tmp.persist(&args.out)?;
    Ok(ExitCode::SUCCESS)
}
