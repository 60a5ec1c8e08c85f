//! `filterbench profile`: the per-request breakdown of each arm (instrumented), a diagnosis of
//! the extra time against native, and optionally flame graphs sampled with
//! `perf record -e cpu-clock` (JIT frames named through wasmtime's perf map).

use std::io::{BufReader, BufWriter};

use inferno::collapse::Collapse;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use filterbench_runners::engines::{self, Limits};
use filterbench_runners::measure::profile::{self, ArmProfile};
use filterbench_runners::measure::{Plan, scenario};

use super::summary::{bytes, ns};

#[derive(clap::Args)]
pub struct Args {
    /// The filter to profile.
    #[arg(long)]
    filter: String,
    /// Its benchmark scenario (default: every one).
    #[arg(long)]
    scenario: Option<String>,
    /// Arms, comma-separated (default: every arm; native first as the reference).
    #[arg(long, alias = "arm", value_delimiter = ',')]
    arms: Vec<String>,
    /// Profiled requests per arm.
    #[arg(long, default_value_t = 5000)]
    requests: u64,
    /// Also sample each arm with perf and write flame graphs (SVG) into this directory.
    #[arg(long)]
    flamegraph: Option<PathBuf>,
    /// Seconds each arm is sampled for the flame graph.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Write the breakdown as JSON.
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

pub(crate) fn scenarios(filter: &str) -> Result<Vec<scenario::Scenario>> {
    let mut plan = Plan::quick();
    plan.filters = vec![
        super::select_filters(&[filter.to_string()])?[0]
            .name
            .clone(),
    ];
    scenario::scenarios(&plan).map_err(anyhow::Error::msg)
}

fn right(s: String) -> Cell {
    Cell::new(s).set_alignment(CellAlignment::Right)
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut arms = super::select_arms(&args.arms)?;
    // Native first: it is what the extra time is measured against.
    arms.sort_by_key(|a| *a != "native");
    let mut all = Vec::new();
    for sc in scenarios(&args.filter)? {
        if args.scenario.as_ref().is_some_and(|s| *s != sc.name) {
            continue;
        }
        let mut profiles: Vec<ArmProfile> = Vec::new();
        for arm in &arms {
            match profile::profile_arm(&sc, arm, &Limits::default(), args.requests) {
                Ok(p) => profiles.push(p),
                Err(e) => eprintln!("{} / {} / {arm}: {e}", sc.filter, sc.name),
            }
        }
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
        for p in &profiles {
            let (from, to) = p.bytes_per_request();
            let mut top: Vec<(&String, &(u64, u64))> = p.profile.calls.iter().collect();
            top.sort_by_key(|(_, c)| std::cmp::Reverse(c.1));
            let top: Vec<String> = top
                .iter()
                .take(3)
                .map(|(n, c)| {
                    format!(
                        "{} {:.0}",
                        n.trim_start_matches("proxy_"),
                        c.0 as f64 / p.requests as f64
                    )
                })
                .collect();
            t.add_row(vec![
                Cell::new(&p.arm),
                right(ns(p.total_per_request())),
                right(ns(p.guest_per_request())),
                right(ns(p.host_per_request())),
                right(ns(p.driver_per_request())),
                right(format!("{:.1}", p.calls_per_request())),
                right(bytes(from)),
                right(bytes(to)),
                right(format!("{:.1}", p.allocs_per_request())),
                right(bytes(p.memory_after.saturating_sub(p.memory_before) as f64)),
                Cell::new(top.join(", ")),
            ]);
        }
        println!(
            "{} / {} ({} instrumented requests per arm):\n{t}",
            sc.filter, sc.name, args.requests
        );
        if let Some(native) = profiles.iter().find(|p| p.arm == "native") {
            for p in profiles.iter().filter(|p| p.arm != "native") {
                println!("  {}", profile::diagnosis(native, p));
            }
        }
        if let Some(dir) = &args.flamegraph {
            for arm in &arms {
                match flamegraph(dir, &sc, arm, args.seconds) {
                    Ok(svg) => println!("  flame graph: {}", svg.display()),
                    Err(e) => eprintln!("  flame graph for {arm}: {e:#}"),
                }
            }
        }
        all.push(serde_json::json!({"filter": sc.filter, "scenario": sc.name, "arms": profiles}));
    }
    if let Some(out) = &args.out {
        std::fs::write(out, serde_json::to_vec_pretty(&all)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Samples `__spin` under perf and folds the stacks into an SVG flame graph.
fn flamegraph(dir: &Path, sc: &scenario::Scenario, arm: &str, seconds: f64) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let stem = format!("{}.{}.{arm}", sc.filter, sc.name);
    let data = dir.join(format!("{stem}.perf.data"));
    let status = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-F", "1999", "-g", "-q", "-o"])
        .arg(&data)
        .arg("--")
        .arg(std::env::current_exe()?)
        .args([
            "__spin",
            "--filter",
            &sc.filter,
            "--scenario",
            &sc.name,
            "--arm",
            arm,
        ])
        .args(["--seconds", &seconds.to_string()])
        .env("FILTERBENCH_PERFMAP", "1")
        .stdout(Stdio::null())
        .status()
        .context("running perf (Debian package linux-perf)")?;
    if !status.success() {
        bail!("perf record failed ({status})");
    }
    let script = Command::new("perf")
        .args(["script", "-i"])
        .arg(&data)
        .stderr(Stdio::null())
        .output()
        .context("perf script")?;
    let mut folded = Vec::new();
    inferno::collapse::perf::Folder::default()
        .collapse(BufReader::new(script.stdout.as_slice()), &mut folded)
        .context("folding perf stacks")?;
    let svg = dir.join(format!("{stem}.svg"));
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = format!("{} / {} on {arm} (perf cpu-clock)", sc.filter, sc.name);
    let folded = String::from_utf8_lossy(&folded);
    inferno::flamegraph::from_lines(
        &mut opts,
        folded.lines(),
        BufWriter::new(std::fs::File::create(&svg)?),
    )
    .context("drawing the flame graph")?;
    let _ = std::fs::remove_file(&data);
    Ok(svg)
}

/// The body `perf` samples: the scenario's request in a loop for a while.
pub fn spin(args: SpinArgs) -> Result<ExitCode> {
    let sc = scenarios(&args.filter)?
        .into_iter()
        .find(|s| s.name == args.scenario)
        .context("no such scenario")?;
    let module = engines::engine(&args.arm, &Limits::default())?.load(&sc.artifacts)?;
    sc.verify(module.as_ref()).map_err(anyhow::Error::msg)?;
    let mut vm = sc.start_vm(module.as_ref()).map_err(anyhow::Error::msg)?;
    if let Some(n) = args.requests {
        for _ in 0..n {
            sc.run_once(&mut vm)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let end = Instant::now() + Duration::from_secs_f64(args.seconds.unwrap_or(1.0));
    while Instant::now() < end {
        sc.run_once(&mut vm)?;
    }
    Ok(ExitCode::SUCCESS)
}
