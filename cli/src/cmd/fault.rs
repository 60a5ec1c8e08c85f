//! `filterbench fault`: blast radius — add-header failing on purpose (trap, endless loop,
//! memory growth, null write) under steady load on every arm: each in-process engine and the
//! native build (each trial in a child process of its own), and live Envoy (V8 under each
//! failure policy, the native module, Lua; every Envoy stopped after its trial). Writes a
//! results file, prints the table, and the report's section shows it.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use filterbench_reports::doc::{clip, text_table};
use filterbench_reports::report::fault as section;
use filterbench_results::vocab::{ArmKind, arm};
use filterbench_results::{ArmInfo, Batch, Results};
use filterbench_runners::engines::{self, Limits};
use filterbench_runners::envoy;
use filterbench_runners::measure::probes;
use filterbench_runners::promise::fault::{self, Mode, Settings, Trial, envoy as live, inproc};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The filter whose failing variants run (only add-header has them: filters/misbehave).
    #[arg(long, default_value = fault::FILTER)]
    filter: String,
    /// Fault modes, comma-separated: panic, loop, grow, null-write (default: all).
    #[arg(long, value_delimiter = ',')]
    modes: Vec<String>,
    /// Arms, comma-separated names or globs: in-process engines, `native`, and the live ones
    /// (envoy-wasm-v8+fail-closed|fail-open|fail-reload, envoy-native-module, envoy-lua; the
    /// glob `envoy-wasm-v8*` names all three policies). Default: every one.
    #[arg(long, value_delimiter = ',')]
    arms: Vec<String>,
    /// Shorter windows (3 s instead of 6 s of load per trial).
    #[arg(long)]
    quick: bool,
    /// Trials per mode × arm.
    #[arg(long, default_value_t = 1)]
    trials: u32,
    /// Requests that behave (per VM, or per Lua state) before the fault.
    #[arg(long, default_value_t = 200)]
    after: u64,
    /// Load per trial in ms (overrides --quick's and the default's).
    #[arg(long)]
    window_ms: Option<u64>,
    #[command(flatten)]
    output: super::OutputArgs,
    /// Internal: run one in-process trial of this arm (a child of `fault`).
    #[arg(long, hide = true, requires_all = ["child_mode", "child_record"])]
    child: Option<String>,
    #[arg(long, hide = true)]
    child_mode: Option<String>,
    #[arg(long, hide = true)]
    child_record: Option<PathBuf>,
}

fn settings(args: &Args) -> Settings {
    let mut s = Settings::new(args.quick);
    s.after = args.after;
    if let Some(ms) = args.window_ms {
        s.window = Duration::from_millis(ms.max(1));
    }
    s
}

fn modes(args: &Args) -> Result<Vec<Mode>> {
    if args.modes.is_empty() {
        return Ok(Mode::ALL.to_vec());
    }
    args.modes
        .iter()
        .map(|m| {
            Mode::parse(m).with_context(|| {
                let known: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
                format!("unknown fault mode {m:?}; known: {}", known.join(", "))
            })
        })
        .collect()
}

/// (in-process arms, live arms) the patterns name; every one when none is given.
fn arms(patterns: &[String]) -> Result<(Vec<String>, Vec<String>)> {
    let inproc: Vec<String> = engines::arm_names().into_iter().map(String::from).collect();
    let lives = live::arms();
    if patterns.is_empty() {
        return Ok((inproc, lives));
    }
    for p in patterns {
        if !inproc.iter().chain(&lives).any(|a| super::matches(p, a)) {
            bail!(
                "--arms {p:?} names no arm; known: {}",
                inproc
                    .iter()
                    .chain(&lives)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let pick = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|a| patterns.iter().any(|p| super::matches(p, a)))
            .collect()
    };
    Ok((pick(inproc), pick(lives)))
}

pub fn run(args: Args) -> Result<ExitCode> {
    if let (Some(arm), Some(mode), Some(record)) =
        (&args.child, &args.child_mode, &args.child_record)
    {
        let mode = Mode::parse(mode).context("unknown --child-mode")?;
        return match inproc::child(arm, mode, &settings(&args), record) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => bail!("{arm} {}: {e}", mode.name()),
        };
    }
    if args.filter != fault::FILTER {
        bail!(
            "only {} has failing variants (filters/{}); --filter {} has none",
            fault::FILTER,
            fault::FAILING_VARIANT,
            args.filter
        );
    }
    let modes = modes(&args)?;
    let (inproc_arms, live_arms) = arms(&args.arms)?;
    let s = settings(&args);
    let t0 = std::time::Instant::now();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let out = super::results_path(args.output.out.clone(), started)?;
    let mut results = Results::new();
    results.started_unix = started;
    results.command_line = std::env::args().collect();
    results.profile = if args.quick { "quick" } else { "custom" }.into();
    results.machine = probes::machine();
    let limits = Limits::default();
    for a in &inproc_arms {
        let e = engines::engine(a, &limits)?;
        results.arms.push(ArmInfo {
            name: a.clone(),
            kind: if a == arm::NATIVE {
                ArmKind::Native
            } else {
                ArmKind::Wasm
            },
            version: e.version(),
            flags: format!("{}; fault trials, each in a child process", e.flags()),
        });
    }
    let work = out.with_extension("fault");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let exe = super::this_program()?;
    let print = |t: &Trial| eprintln!("{:<10} {:<27} {}", t.mode.name(), t.arm, clip(&t.how, 60));
    // Trials that could not run (a child's error, an Envoy that did not start): exit 1.
    let mut not_run = 0u32;
    for n in 0..args.trials {
        for mode in &modes {
            for a in &inproc_arms {
                let mut batch = Batch::default();
                let record = work.join(format!("{}-{a}-{n}.rec", mode.name()));
                let mut cmd = Command::new(&exe);
                cmd.arg("fault")
                    .args(["--child", a, "--child-mode", mode.name()])
                    .arg("--child-record")
                    .arg(&record)
                    .args(["--after", &s.after.to_string()])
                    .args(["--window-ms", &s.window.as_millis().to_string()]);
                match inproc::trial(cmd, (a, *mode), &s, &record) {
                    Ok(t) => {
                        print(&t);
                        t.record(&mut batch, n);
                    }
                    Err(e) => {
                        eprintln!("{:<10} {a:<27} not run: {}", mode.name(), clip(&e, 60));
                        not_run += 1;
                        let at = filterbench_results::At::new(
                            fault::FILTER,
                            mode.name(),
                            a,
                            filterbench_results::vocab::Phase::Fault,
                            n,
                        );
                        fault::not_run(&mut batch, &at, &e);
                    }
                }
                results.merge(batch);
                results.write(&out)?;
            }
        }
    }
    if !live_arms.is_empty() {
        let bin = envoy::process::find(args.output.envoy_bin.as_deref())?;
        let version = envoy::process::version(&bin)?;
        for a in &live_arms {
            results.arms.push(ArmInfo {
                name: a.clone(),
                kind: ArmKind::Envoy,
                version: format!("Envoy {version}"),
                flags: format!(
                    "{}1 worker; {} closed-loop connections, {} s request timeout; a new Envoy \
                     per trial, always stopped after it",
                    arm::v8_policy_of(a).map_or(String::new(), |p| format!(
                        "failure_policy {p} (FAIL_RELOAD: Envoy's default backoff); "
                    )),
                    s.connections,
                    s.timeout.as_secs_f64()
                ),
            });
        }
        let l = live::Live {
            bin,
            version,
            dir: work.clone(),
        };
        let cells: Vec<(Mode, String)> = modes
            .iter()
            .flat_map(|m| live_arms.iter().map(move |a| (*m, a.clone())))
            .collect();
        let mut batch = Batch::default();
        not_run += live::run_all(&l, &s, &cells, args.trials, &mut batch, &mut |t| print(t))
            .map_err(anyhow::Error::msg)?;
        results.merge(batch);
    }
    results.complete = true;
    results.duration_s = t0.elapsed().as_secs_f64();
    results.write(&out)?;
    if let Some((t, how)) = section::table(&results) {
        println!("\n{}", terminal(t, &how, args.trials));
        for h in how {
            println!("{}", wrap(&h, 100));
        }
    }
    println!(
        "results: {}{}",
        out.display(),
        super::report_note(&out, args.output.no_report)
    );
    if not_run > 0 {
        eprintln!("{not_run} trial(s) could not run: see their observations in the results");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The section's table for a terminal of 100 columns: means only (the ranges over trials are
/// in the report and the results), and how each (mode, arm) first ended, cut to fit.
fn terminal(mut t: filterbench_reports::doc::Table, how: &[String], trials: u32) -> String {
    for row in &mut t.rows {
        for c in row.iter_mut() {
            c.sub.clear();
        }
    }
    let width = text_table(&t)
        .lines()
        .skip(1)
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let room = 100usize.saturating_sub(width + 2);
    if room >= 12 {
        t.header.push("how".into());
        for row in &mut t.rows {
            let key = format!("{} / {}", row[0].text, row[1].text);
            let first = how
                .iter()
                .find(|h| h.starts_with(&format!("{key}:")) || h.starts_with(&format!("{key} (")))
                .and_then(|h| h.split_once(": "))
                .map_or("", |(_, text)| text.split(';').next().unwrap_or(""));
            row.push(filterbench_reports::doc::Cell::label(clip(first, room)));
        }
    }
    if trials > 1 {
        t.caption = format!("Blast radius per fault mode × arm (mean of {trials} trials)");
    }
    text_table(&t)
}

/// `text` in lines of at most `width` characters (continuations indented), at spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = vec![String::new()];
    for word in text.split(' ') {
        let cur = lines.last_mut().expect("one line");
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(format!("    {word}"));
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
    }
    lines.join("\n")
}
