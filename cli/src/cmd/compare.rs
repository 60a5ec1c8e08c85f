//! `filterbench compare`: is a run worse than a baseline? Only the declared gating figures can
//! fail it (see `filterbench_reports::compare`). Either two results files, or `--ref GIT_REF`:
//! that revision built in a worktree and measured against this build, interleaved (see
//! `git_ref` and `run_both`).

mod git_ref;
mod github;
mod run_both;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail, ensure};
use filterbench_reports::compare::trend;
use filterbench_reports::{Thresholds, compare};
use filterbench_results::Results;

const EXIT_STATUS: &str = "Exit status: 0 no significant regression, and most gating figures \
    could have flagged a change of the threshold; 1 a gating figure regressed or is implausible, \
    a gating figure is missing from the new run without a reason, or a filter × arm newly \
    fails; 2 an error (unreadable file, bad option, with --ref: a failed build or run); 3 \
    inconclusive: no regression flagged, but no gating figure in both runs, more than half \
    unsure, or fewer than half could flag a change of the threshold (the median detectable \
    change exceeds it) — the output says what could have been detected; more processes per run \
    (run --processes) narrow it.";

#[derive(clap::Args)]
#[command(after_help = EXIT_STATUS)]
pub struct Args {
    /// The baseline results file.
    #[arg(required_unless_present = "git_ref", conflicts_with = "git_ref")]
    base: Option<PathBuf>,
    /// The results file to judge against it.
    #[arg(required_unless_present = "git_ref")]
    new: Option<PathBuf>,
    /// Instead of two files: build this revision (branch, tag, HEAD~1, hash) in a git worktree
    /// kept in target/filterbench-ref/, then run it and this build alternately, one process at
    /// a time, and compare them (the ref is the base).
    #[arg(long = "ref", value_name = "GIT_REF")]
    git_ref: Option<String>,
    /// With --ref: the arguments of `filterbench run` for both builds, after `--`
    /// (e.g. `-- --quick --filters add-header --processes 4`).
    #[arg(last = true, requires = "git_ref", value_name = "RUN_ARGS")]
    run_args: Vec<String>,
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
    /// Where to write the HTML page of the comparison (default: beside the new results file,
    /// named after it; with --ref, in that run's folder).
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// What to print: plain text, Markdown (a CI job summary, a pull-request comment), or
    /// GitHub Actions workflow commands (an annotation per regression).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The same as --format markdown.
    #[arg(long, conflicts_with = "format")]
    markdown: bool,
    /// Append the new run's gating figures to this JSON-lines history…
    #[arg(long)]
    history: Option<PathBuf>,
    /// …and write the trend page of that history here.
    #[arg(long, requires = "history")]
    trend: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum Format {
    Text,
    Markdown,
    Github,
}

fn thresholds(args: &Args) -> Result<Thresholds> {
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
    Ok(Thresholds {
        pct: args.threshold_pct,
        deterministic_pct: args.deterministic_threshold_pct,
        alpha: args.alpha,
        ..Thresholds::default()
    })
}

/// A run to compare: its file and what to call it.
struct Named<'a> {
    path: &'a Path,
    label: String,
}

/// Compares two results files; `page` is where the HTML goes unless --out says.
fn judge(args: &Args, base: Named, new: Named, page: PathBuf) -> Result<ExitCode> {
    let thresholds = thresholds(args)?;
    let out = args.out.clone().unwrap_or(page);
    for input in [base.path, new.path] {
        if super::atomic::same_file(&out, input) {
            bail!("--out {} would overwrite an input", out.display());
        }
    }
    let base_run = Results::read(base.path)?;
    let new_run = Results::read(new.path)?;
    let mut c = compare(&base_run, &new_run, &thresholds);
    c.base_name = format!("{} ({})", base.label, c.base_name);
    c.new_name = format!("{} ({})", new.label, c.new_name);
    super::atomic::write(&out, c.html()?.as_bytes())?;
    let format = if args.markdown {
        Format::Markdown
    } else {
        args.format
    };
    match format {
        Format::Text => print!("{}", c.text()),
        Format::Markdown => print!("{}", c.markdown()),
        Format::Github => print!("{}", github::annotations(&c)),
    }
    eprintln!("wrote {}", out.display());
    if let Some(h) = &args.history {
        trend::append(h, &new_run)?;
        eprintln!("appended the gating figures to {}", h.display());
        if let Some(t) = &args.trend {
            super::atomic::write(t, trend::html(&trend::read(h)?)?.as_bytes())?;
            eprintln!("wrote {}", t.display());
        }
    }
    Ok(ExitCode::from(c.outcome().exit_code()))
}

/// `compare --ref`: build, measure both, merge each side, judge.
fn against_ref(args: &Args, name: &str) -> Result<ExitCode> {
    // Everything that can be refused is refused before minutes of building.
    thresholds(args)?;
    let top = git_ref::toplevel()?;
    let commit = git_ref::resolve(&top, name)?;
    let run = run_both::parse(&args.run_args)?;
    let short = &commit[..10];
    let cache = git_ref::Cache::open(&top)?;
    eprintln!("building {name} ({short}) in {}", cache.dir.display());
    let tree = cache.checkout(&commit)?;
    let sides = [
        run_both::Side {
            name: "base",
            label: format!("ref {name} ({short})"),
            bin: cache.build(&tree)?,
        },
        run_both::Side {
            name: "new",
            label: "this build".into(),
            bin: super::this_program()?,
        },
    ];
    let started = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let dir = cache.dir.join("runs").join(format!("{started}-{short}"));
    eprintln!(
        "measuring both, {} processes each, alternately; logs in {}",
        run.processes,
        dir.join("parts").display()
    );
    let files = run_both::interleave(&sides, &run, &dir.join("parts"))?;
    let [base_path, new_path] = [dir.join("base.json"), dir.join("new.json")];
    let mut base = run_both::merge(&files[0])?;
    // The ref's binary ran here, where `git rev-parse HEAD` names this checkout's commit.
    base.git_commit = Some(commit.clone());
    let mut new = run_both::merge(&files[1])?;
    for r in [&mut base, &mut new] {
        r.command_line = std::env::args().collect();
    }
    base.write(&base_path)?;
    new.write(&new_path)?;
    eprintln!(
        "results: {} (ref), {} (this build)",
        base_path.display(),
        new_path.display()
    );
    judge(
        args,
        Named {
            path: &base_path,
            label: format!("ref {name}"),
        },
        Named {
            path: &new_path,
            label: "this build".into(),
        },
        dir.join("compare.html"),
    )
}

pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(name) = &args.git_ref {
        return against_ref(&args, name);
    }
    let (Some(base), Some(new)) = (&args.base, &args.new) else {
        bail!("give two results files, or --ref");
    };
    judge(
        &args,
        Named {
            path: base,
            label: base.display().to_string(),
        },
        Named {
            path: new,
            label: new.display().to_string(),
        },
        new.with_extension("compare.html"),
    )
}
