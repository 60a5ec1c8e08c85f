//! `filterbench instructions`: the deterministic mode for noisy CI machines. Each scenario × arm
//! runs under valgrind's callgrind twice — with R requests and with none — and the difference
//! divided by R is the instructions per request: the same for the same binary and inputs,
//! whatever else the machine is doing. Each count is repeated (`--repeats`, one "process" per
//! repeat), so `compare` can see that the repeats agree and gate on the size of a change alone.
//! The rows go into a normal results file, so `compare` and `report` read them like any other
//! figure.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use filterbench_results::vocab::{ArmKind, Metric, Phase, Stage, arm};
use filterbench_results::{ArmInfo, At, Batch, Results};
use filterbench_runners::engines::{self, Limits};
use filterbench_runners::measure::callgrind::Spin;
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
            kind: if *arm == arm::NATIVE {
                ArmKind::Native
            } else {
                ArmKind::Wasm
            },
            version: e.version(),
            flags: format!("{}; callgrind instruction counts", e.flags()),
        });
    }
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    for f in &filters {
        for sc in super::profile::scenarios(&f.name)? {
            for arm in arms.iter().filter(|a| engines::applies(a, &sc.artifacts)) {
                for process in 0..args.repeats {
                    let at = At::new(&sc.filter, &sc.name, arm, Phase::Request, process);
                    let mut batch = Batch::default();
                    let spin = Spin {
                        exe: &exe,
                        filter: &sc.filter,
                        scenario: &sc.name,
                        arm,
                    };
                    match spin.per_request(dir.path(), args.requests) {
                        Ok(per) => {
                            println!(
                                "{:<16} {:<16} {:<20} {per:>14.0} instructions / request (repeat {})",
                                sc.filter,
                                sc.name,
                                arm,
                                process + 1
                            );
                            batch.record(&at, Metric::Instructions, per);
                            results.merge(batch);
                        }
                        Err(e) => {
                            // A filter × arm that failed once has no figure at all: merging the
                            // failure drops every repeat of it already counted.
                            batch.fail_at(&at, Stage::Instructions, e.to_string());
                            results.merge(batch);
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
