//! `filterbench reach`: what a probe filter can touch beyond the host API, per arm — every
//! in-process engine, the native build in process, and live Envoy (V8, native module). Writes
//! a results file (phase `reach`, a `reach_refused` row and an observation per arm × access)
//! and prints the table.

use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};
use filterbench_reports::doc::{Block, text_table};
use filterbench_results::merge::Batch;
use filterbench_results::vocab::{ArmKind, Stage, arm, reach};
use filterbench_results::{ArmInfo, FilterInfo, Results};
use filterbench_runners::catalog;
use filterbench_runners::engines::{self, Limits};
use filterbench_runners::envoy::process;
use filterbench_runners::measure::probes;
use filterbench_runners::promise::reach::{self as probe, Canaries, envoy, inproc};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// In-process arms and Envoy variants to probe (names or globs, comma-separated; default:
    /// every in-process arm, and envoy-wasm-v8 and envoy-native-module when Envoy is found).
    #[arg(long, value_delimiter = ',')]
    arms: Vec<String>,
    /// Leave out the live-Envoy arms.
    #[arg(long)]
    no_envoy: bool,
    #[command(flatten)]
    output: super::OutputArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let started = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs();
    let clock = Instant::now();
    let out = super::results_path(args.output.out.clone(), started)?;
    let mut canaries = Canaries::new().context("planting the canaries")?;
    // SAFETY: no thread has been started yet: `reach` plants its variable before any work.
    unsafe { canaries.plant_env() };
    let probe_filter = catalog::find(reach::PROBE_FILTER)?;
    let in_process = super::select_arms(&args.arms)?;
    let variants: Vec<&str> = envoy::VARIANTS
        .into_iter()
        .filter(|v| {
            args.arms.is_empty()
                || super::select_envoy_variants(&args.arms)
                    .iter()
                    .any(|s| s == v)
        })
        .collect();
    let mut results = Results::new();
    results.started_unix = started;
    results.command_line = std::env::args().collect();
    results.profile = "custom".into();
    results.machine = probes::machine();
    results.filters.push(FilterInfo {
        name: probe_filter.name.clone(),
        kind: "http".into(),
        language: probe_filter.language.into(),
        job: probe_filter.name.clone(),
        wasm_path: probe_filter
            .artifacts
            .wasm
            .as_ref()
            .map(|p| p.display().to_string()),
        ..Default::default()
    });
    let mut batch = Batch::default();
    let limits = Limits::default();
    for name in &in_process {
        let e = engines::engine(name, &limits)?;
        let native = engines::REGISTRY
            .iter()
            .any(|x| x.name == *name && x.is_native);
        results.arms.push(ArmInfo {
            name: name.to_string(),
            kind: if native {
                ArmKind::Native
            } else {
                ArmKind::Wasm
            },
            version: e.version(),
            flags: e.flags(),
        });
        eprintln!("reach: {name}");
        match inproc::run(name, &probe_filter, &limits, &mut canaries) {
            Ok(attempts) => probe::record(&mut batch, name, &attempts),
            Err(why) => batch.fail(reach::PROBE_FILTER, "", name, Stage::Promise, why),
        }
    }
    if !variants.is_empty() && !args.no_envoy {
        run_envoy(
            &args,
            &out,
            &variants,
            &probe_filter,
            &mut canaries,
            &mut results,
            &mut batch,
        );
    }
    results.merge(batch);
    results.duration_s = clock.elapsed().as_secs_f64();
    results.complete = true;
    results
        .write(&out)
        .with_context(|| format!("writing {}", out.display()))?;
    print_table(&results)?;
    println!(
        "results: {}{}",
        out.display(),
        super::report_note(&out, args.output.no_report)
    );
    Ok(if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The live-Envoy variants; an Envoy that is not installed is a note, not an error.
fn run_envoy(
    args: &Args,
    out: &std::path::Path,
    variants: &[&str],
    probe_filter: &catalog::Filter,
    canaries: &mut Canaries,
    results: &mut Results,
    batch: &mut Batch,
) {
    let found = process::find(args.output.envoy_bin.as_deref()).and_then(|b| {
        let v = process::version(&b)?;
        Ok((b, v))
    });
    let (bin, version) = match found {
        Ok(x) => x,
        Err(e) => {
            eprintln!("note: no live-Envoy arms: {e}");
            return;
        }
    };
    let dir = out.with_extension("reach-envoy");
    let setup = envoy::Setup {
        bin: &bin,
        version: &version,
        dir: &dir,
    };
    for v in variants {
        results.arms.push(ArmInfo {
            name: v.to_string(),
            kind: ArmKind::Envoy,
            version: format!("envoy {version}"),
            flags: if *v == arm::ENVOY_NATIVE_MODULE {
                "the native build as an Envoy dynamic module".into()
            } else {
                "V8".into()
            },
        });
        eprintln!(
            "reach: {v} (a fresh Envoy per access; logs in {})",
            dir.display()
        );
        match envoy::run(v, probe_filter, &setup, canaries) {
            Ok(attempts) => probe::record(batch, v, &attempts),
            Err(why) => batch.fail(reach::PROBE_FILTER, "", v, Stage::Promise, why),
        }
    }
}

/// The report's reach section, for a terminal: its verdicts and its table.
fn print_table(results: &Results) -> Result<()> {
    let page = filterbench_reports::report::build(results)?;
    let Some(s) = page.sections.iter().find(|s| s.id == "reach") else {
        println!("reach: no access was judged on any arm");
        return Ok(());
    };
    for b in &s.blocks {
        match b {
            Block::Callout(text, _) => println!("{}", wrap(text)),
            Block::Table(t) if !t.collapsed => {
                println!("{}", wrap(&t.caption));
                let mut t = t.clone();
                t.caption.clear();
                print!("{}", text_table(&t));
            }
            _ => {}
        }
    }
    for f in &results.failures {
        println!("failed: {} — {}", f.arm, f.message);
    }
    Ok(())
}

/// `text` broken into lines of at most 100 columns at spaces (a longer word stays whole).
fn wrap(text: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for w in text.split(' ') {
        let n = w.chars().count();
        if line > 0 && line + 1 + n > 100 {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(w);
        line += n;
    }
    out
}
