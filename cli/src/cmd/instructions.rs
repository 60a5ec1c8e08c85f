//! `filterbench instructions`: the deterministic mode for noisy CI machines. Each scenario × arm
//! runs under valgrind's callgrind twice — with R requests and with none — and the difference
//! divided by R is the instructions per request: the same for the same binary and inputs,
//! whatever else the machine is doing. Each count is repeated (`--repeats`, one "process" per
//! repeat), so `compare` can see that the repeats agree and gate on the size of a change alone.
//! The rows go into a normal results file, so `compare` and `report` read them like any other
//! figure.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail, ensure};
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
    /// Times each count is repeated, as processes 0, 1, …: `compare` needs two to see that a
    /// count is deterministic.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    repeats: u32,
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

/// Instructions per request: a run with `requests` requests minus one with none, over
/// `requests`. A run with requests that counts fewer than one without is an error, not zero.
fn per_request(dir: &Path, filter: &str, scenario: &str, arm: &str, requests: u64) -> Result<f64> {
    ensure!(requests > 0, "--requests must be at least 1");
    let with = instructions(dir, filter, scenario, arm, requests)?;
    let without = instructions(dir, filter, scenario, arm, 0)?;
    ensure!(
        with > without,
        "{with} instructions with {requests} requests, {without} without: no per-request count"
    );
    Ok((with - without) as f64 / requests as f64)
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
    // The slowdown knob changes what is measured: recorded as part of the command.
    results.command_line = std::env::var(filterbench_runners::fixtures::BURN_ENV)
        .map(|v| format!("{}={v}", filterbench_runners::fixtures::BURN_ENV))
        .into_iter()
        .chain(std::env::args())
        .collect();
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
                for process in 0..args.repeats {
                    match per_request(dir.path(), &sc.filter, &sc.name, arm, args.requests) {
                        Ok(per) => {
                            println!(
                                "{:<16} {:<16} {:<20} {per:>14.0} instructions / request (repeat {})",
                                sc.filter,
                                sc.name,
                                arm,
                                process + 1
                            );
                            results.rows.push(Row {
                                filter: sc.filter.clone(),
                                scenario: sc.name.clone(),
                                arm: arm.to_string(),
                                phase: "request".into(),
                                metric: "instructions".into(),
                                unit: "count".into(),
                                threads: 1,
                                process,
                                iteration: 0,
                                value: per,
                            });
                        }
                        Err(e) => {
                            // A filter × arm that failed once has no figure at all: no repeat
                            // of it is published.
                            results.rows.retain(|r| {
                                !(r.filter == sc.filter && r.scenario == sc.name && r.arm == *arm)
                            });
                            results.failures.push(Failure {
                                filter: sc.filter.clone(),
                                scenario: sc.name.clone(),
                                arm: arm.to_string(),
                                stage: "instructions".into(),
                                message: format!("{e:#}"),
                            });
                            break;
                        }
                    }
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
