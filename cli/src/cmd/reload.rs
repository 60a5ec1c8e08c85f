//! `filterbench reload`: Live reload: a filter swapped in a running Envoy under load, through
//! extension-config discovery. One Envoy per arm (V8, and the native module when built), the
//! trials swapping versions in it one after another; results in the one schema, a table, the
//! report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use filterbench_reports::doc::{clip, text_table};
use filterbench_reports::model::Analysis;
use filterbench_reports::report::reload;
use filterbench_results::vocab::ArmKind;
use filterbench_results::{ArmInfo, Batch, FilterInfo, Results};
use filterbench_runners::catalog;
use filterbench_runners::envoy::{config, process};
use filterbench_runners::measure::probes;
use filterbench_runners::promise::reload::{self as promise, ReloadSettings};

/// The terminal's columns: longer text is wrapped or clipped (it is whole in the results).
const WIDTH: usize = 100;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The filter to reload (add-header's output tells the versions apart).
    #[arg(long, default_value = "add-header")]
    filter: String,
    /// Swaps per arm (each a trial; at least 3 for an interval).
    #[arg(long)]
    trials: Option<u32>,
    /// 3 trials, shorter load windows.
    #[arg(long)]
    quick: bool,
    /// Closed-loop connections kept busy through each swap.
    #[arg(long, default_value_t = 4)]
    connections: u32,
    /// Load before each swap and after it (until the memory is read), in milliseconds.
    #[arg(long)]
    window_ms: Option<u64>,
    #[command(flatten)]
    output: super::OutputArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let out_path = super::results_path(args.output.out.clone(), started)?;
    let trials = args.trials.unwrap_or(if args.quick { 3 } else { 5 });
    if trials == 0 {
        bail!("--trials must be at least 1");
    }
    let window =
        Duration::from_millis(
            args.window_ms
                .unwrap_or(if args.quick { 1500 } else { 3000 }),
        );
    let filter = catalog::find(&args.filter)?;
    let Some(wasm) = filter.artifacts.wasm.clone() else {
        bail!("{} has no .wasm build", filter.name);
    };
    let bin = process::find(args.output.envoy_bin.as_deref())?;
    let version = process::version(&bin)?;
    let dir = tempfile::Builder::new()
        .prefix("filterbench-reload-")
        .tempdir()?;
    let s = ReloadSettings {
        bin,
        dir: dir.path().to_path_buf(),
        trials,
        connections: args.connections.max(1),
        before: window / 2,
        after: window,
    };
    let wasm_builds: Vec<PathBuf> = std::iter::once(wasm.clone())
        .chain(catalog::wasip1_wasm(&filter.name))
        .collect();
    let module = match (&filter.artifacts.native, config::dynamic_module(&version)) {
        (Some(lib), Ok(m)) => Ok((m, lib.clone())),
        (None, _) => Err(format!("{} has no native build", filter.name)),
        (_, Err(e)) => Err(e),
    };
    let (targets, no_module) = promise::targets(wasm_builds.clone(), module);
    if let Some(why) = &no_module {
        eprintln!(
            "{}",
            clip(&format!("note: no native-module reload: {why}"), WIDTH)
        );
    }
    let config = filter.fixtures.config.to_string();

    let mut results = Results::new();
    results.started_unix = started;
    results.command_line = std::env::args().collect();
    results.profile = if args.quick { "quick" } else { "custom" }.into();
    results.machine = probes::machine();
    let how = format!(
        "Envoy {version}, 1 worker; filter through extension-config discovery from a watched \
         file; {trials} swaps in one Envoy per arm and scenario (swap-module: a new module file per version; swap-config: the same .wasm, a new configuration); closed loop on {} \
         connections, {} ms before each swap and {} ms after; {}",
        s.connections,
        s.before.as_millis(),
        s.after.as_millis(),
        process::pinning_note()
    );
    results.arms = targets
        .iter()
        .map(|t| ArmInfo {
            name: t.arm.to_string(),
            kind: ArmKind::Envoy,
            version: format!("Envoy {version}"),
            flags: how.clone(),
        })
        .collect();
    results.filters = vec![FilterInfo {
        name: filter.name.clone(),
        kind: "http".into(),
        language: filter.language.into(),
        job: filterbench_runners::languages::job(&filter.name).into(),
        wasm_path: Some(wasm.display().to_string()),
        native_path: filter
            .artifacts
            .native
            .as_ref()
            .map(|p| p.display().to_string()),
        scenarios: vec![promise::SCENARIO.into(), promise::SCENARIO_CONFIG.into()],
        ..Default::default()
    }];
    let t0 = std::time::Instant::now();
    let mut batch = Batch::default();
    for t in &targets {
        eprintln!("reload: {} {} ({trials} trials)…", t.arm, t.scenario);
        let run = promise::run_arm(&s, &filter.name, &config, t, &mut batch);
        for tr in &run.trials {
            // The whole line is in the results and the report; here, lines of ≤ 100 columns.
            let text = wrap(&format!("trial {}: {}", tr.trial, tr.line), WIDTH - 4);
            eprintln!("  {}", text.replace('\n', "\n    "));
        }
    }
    results.merge(batch);
    results.duration_s = t0.elapsed().as_secs_f64();
    results.complete = true;
    results.write(&out_path)?;
    let a = Analysis::new(&results);
    for mut t in reload::tables(&a) {
        // The caption in lines of at most 100 columns, then the table.
        println!("\n{}", wrap(&std::mem::take(&mut t.caption), WIDTH));
        print!("{}", text_table(&t));
    }
    // Failures in full are in the results and the report; here, one line each.
    for f in &results.failures {
        let line = format!("FAILED {} {} {}: {}", f.arm, f.scenario, f.stage, f.message);
        println!("{}", clip(&line, WIDTH));
    }
    if let Some(why) = &no_module {
        println!(
            "{}",
            clip(&format!("native module: not reloaded: {why}"), WIDTH)
        );
    }
    let report = super::report_note(&out_path, args.output.no_report);
    println!("results: {}{report}", out_path.display());
    Ok(if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `text` in lines of at most `width` columns, broken at spaces (a word longer than a line,
/// e.g. a path, broken inside).
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    let words = text.split_whitespace().flat_map(|w| {
        let chars: Vec<char> = w.chars().collect();
        chars
            .chunks(width.max(1))
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
    });
    for word in words {
        let word = word.as_str();
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_fit_and_keep_every_word() {
        let long = format!("trial 3: {} {}", "word ".repeat(60), "x".repeat(250));
        let w = wrap(&long, 96);
        assert!(w.lines().all(|l| l.chars().count() <= 96), "{w}");
        assert!(w.lines().any(|l| l == "x".repeat(96)), "{w}");
        let joined: String = w.split_whitespace().collect();
        let want: String = long.split_whitespace().collect();
        assert_eq!(joined, want);
    }
}
