//! `filterbench instructions`: the deterministic mode for noisy CI machines. Each scenario × arm
//! runs under valgrind's callgrind twice — with R requests and with none — and the difference
//! divided by R is the instructions per request: the same for the same binary and inputs,
//! whatever else the machine is doing. The rows go into a normal results file, so `compare`
//! and `report` read them like any other figure.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use filterbench_results::{ArmInfo, Failure, Results, Row};
use filterbench_runners::engines::{self, Limits};
use filterbench_runners::measure::probes;

#[derive(clap::Args)]
pub struct Args {
    /// Filters, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    filters: Vec<String>,
    /// Arms, comma-separated (default: native, wasmi; JIT engines also work but compile slowly
    /// under valgrind).
    #[arg(
        long,
        alias = "engines",
        value_delimiter = ',',
        default_value = "native,wasmi"
    )]
    arms: Vec<String>,
    /// Requests counted per scenario × arm.
    #[arg(long, default_value_t = 200)]
    requests: u64,
    /// Results file (default: results/instructions-<unix time>.json).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Total instructions (Ir) of a callgrind run of `__spin`.
fn instructions(dir: &Path, filter: &str, scenario: &str, arm: &str, requests: u64) -> Result<u64> {
    let out = dir.join(format!("{filter}.{scenario}.{arm}.{requests}.callgrind"));
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "--smc-check=all", "-q"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe()?)
        .args([
            "__spin",
            "--filter",
            filter,
            "--scenario",
            scenario,
            "--arm",
            arm,
        ])
        .args(["--requests", &requests.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running valgrind (Debian package valgrind)")?;
    if !status.success() {
        bail!("valgrind run failed ({status})");
    }
    let text = std::fs::read_to_string(&out)?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no instruction total in the callgrind output")
}

pub fn run(args: Args) -> Result<ExitCode> {
    let arms = super::select_arms(&args.arms)?;
    let filters = super::select_filters(&args.filters)?;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let out_path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("results/instructions-{started}.json")));
    let mut results = Results::new();
    results.started_unix = started;
    results.command_line = std::env::args().collect();
    results.profile = "instructions".into();
    results.machine = probes::machine();
    let limits = Limits::default();
    for arm in &arms {
        let e = engines::engine(arm, &limits)?;
        results.arms.push(ArmInfo {
            name: arm.to_string(),
            kind: if *arm == "native" { "native" } else { "wasm" }.into(),
            version: e.version(),
            flags: format!("{}; callgrind instruction counts", e.flags()),
        });
    }
    let dir = tempfile::tempdir()?;
    for f in &filters {
        for sc in super::profile::scenarios(&f.name)? {
            for arm in arms.iter().filter(|a| engines::applies(a, &sc.artifacts)) {
                let counted = instructions(dir.path(), &sc.filter, &sc.name, arm, args.requests)
                    .and_then(|with| {
                        Ok((
                            with,
                            instructions(dir.path(), &sc.filter, &sc.name, arm, 0)?,
                        ))
                    });
                match counted {
                    Ok((with, without)) => {
                        let per = with.saturating_sub(without) as f64 / args.requests.max(1) as f64;
                        println!(
                            "{:<16} {:<16} {:<20} {per:>14.0} instructions / request",
                            sc.filter, sc.name, arm
                        );
                        results.rows.push(Row {
                            filter: sc.filter.clone(),
                            scenario: sc.name.clone(),
                            arm: arm.to_string(),
                            phase: "request".into(),
                            metric: "instructions".into(),
                            unit: "count".into(),
                            threads: 1,
                            process: 0,
                            iteration: 0,
                            value: per,
                        });
                    }
                    Err(e) => results.failures.push(Failure {
                        filter: sc.filter.clone(),
                        scenario: sc.name.clone(),
                        arm: arm.to_string(),
                        stage: "instructions".into(),
                        message: format!("{e:#}"),
                    }),
                }
                results.write(&out_path)?;
            }
        }
    }
    results.complete = true;
    results.write(&out_path)?;
    for f in &results.failures {
        eprintln!(
            "FAILED {} / {} / {}: {}",
            f.filter, f.scenario, f.arm, f.message
        );
    }
    println!("results: {}", out_path.display());
    Ok(if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
