//! `compare --ref`: measures the ref's build and this one with the same `run` arguments,
//! interleaved process by process — each side's `run --processes 1`, in the order A B, B A,
//! A B… — so drift on a shared machine (another build, thermal state) lands on both sides alike
//! instead of on whichever ran second. Each side's files are then merged into one results file,
//! each file's rows numbered as its own process, which is what Welch's test in `compare`
//! counts.
//!
//! What a one-process run costs: every repetition loads the arms and, as process 0, takes the
//! instrumented breakdown (`compare` ignores it; `--no-profile` skips it), and the arms' order
//! within a round starts at the same place each time (the rounds still rotate it).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args as _;
use filterbench_results::{Batch, Results};
use filterbench_runners::measure::Plan;

/// The `run` arguments given after `--`, checked with this build's parser.
#[derive(Debug, PartialEq)]
pub struct RunArgs {
    /// Without `--processes`, which the interleaving takes over.
    pub args: Vec<String>,
    pub processes: u32,
}

pub fn parse(raw: &[String]) -> Result<RunArgs> {
    let cmd = crate::cmd::run::Args::augment_args(clap::Command::new("run").no_binary_name(true));
    let m = cmd.try_get_matches_from(raw).map_err(|e| {
        let e = e.to_string();
        let first = e.lines().next().unwrap_or_default();
        anyhow!(
            "run arguments after `--`: {}",
            first.strip_prefix("error: ").unwrap_or(first)
        )
    })?;
    if m.contains_id("out") {
        bail!("run arguments after `--`: --out is chosen by compare --ref (see its --out)");
    }
    let processes = match m.get_one::<u32>("processes") {
        Some(&n) => n.max(1),
        None if m.get_flag("full") => Plan::full().processes,
        None => Plan::quick().processes,
    };
    let mut args = Vec::new();
    let mut it = raw.iter();
    while let Some(a) = it.next() {
        if a == "--processes" {
            it.next();
        } else if !a.starts_with("--processes=") {
            args.push(a.clone());
        }
    }
    Ok(RunArgs { args, processes })
}

/// One build to measure.
pub struct Side {
    /// `base` or `new`: names its files.
    pub name: &'static str,
    /// What the progress lines call it.
    pub label: String,
    pub bin: PathBuf,
}

/// The last lines of a log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// One `run --processes 1` of `side` into `dir`; its output goes to a log beside the file.
fn run_once(side: &Side, run: &RunArgs, dir: &Path, process: u32) -> Result<PathBuf> {
    let out = dir.join(format!("{}-{process}.json", side.name));
    let log_path = dir.join(format!("{}-{process}.log", side.name));
    let log =
        File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let mut cmd = Command::new(&side.bin);
    cmd.arg("run")
        .args(&run.args)
        .args(["--processes", "1", "--out"])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    crate::cmd::die_with_parent(&mut cmd, libc::SIGKILL);
    let status = cmd
        .status()
        .with_context(|| format!("starting {}", side.bin.display()))?;
    // Exit 1 is a run that recorded a failed filter × arm: its file says which, and compare
    // reports it.
    if status.code().is_some_and(|c| c > 1) || status.code().is_none() || !out.is_file() {
        bail!(
            "{} `run` failed ({status}); its log {}:\n{}",
            side.label,
            log_path.display(),
            tail(&log_path)
        );
    }
    Ok(out)
}

/// Runs both sides `run.processes` times, interleaved; gives each side's files in order.
pub fn interleave(sides: &[Side; 2], run: &RunArgs, dir: &Path) -> Result<[Vec<PathBuf>; 2]> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files: [Vec<PathBuf>; 2] = Default::default();
    let total = 2 * run.processes;
    let mut done = 0;
    for p in 0..run.processes {
        // A B, then B A: each side runs first as often as second.
        let order = if p % 2 == 0 { [0, 1] } else { [1, 0] };
        for s in order {
            let t = Instant::now();
            files[s].push(run_once(&sides[s], run, dir, p)?);
            done += 1;
            eprintln!(
                "[{done}/{total}] {} process {}/{}: {:.0} s",
                sides[s].label,
                p + 1,
                run.processes,
                t.elapsed().as_secs_f64()
            );
        }
    }
    Ok(files)
}

/// One results file of one-process runs' files: the first file's description, every file's
/// rows as its own process (file i is process i), failures kept as `run` keeps them (a filter ×
/// arm that failed in any process keeps no figure).
pub fn merge(files: &[PathBuf]) -> Result<Results> {
    let mut merged: Option<Results> = None;
    for (i, path) in files.iter().enumerate() {
        let mut r = Results::read(path)?;
        let p = i as u32;
        let batch = Batch {
            rows: std::mem::take(&mut r.rows)
                .into_iter()
                .map(|mut x| {
                    x.process = p;
                    x
                })
                .collect(),
            histograms: std::mem::take(&mut r.histograms)
                .into_iter()
                .map(|mut x| {
                    x.process = p;
                    x
                })
                .collect(),
            absent: std::mem::take(&mut r.absent)
                .into_iter()
                .map(|mut x| {
                    x.process = p;
                    x
                })
                .collect(),
            observations: std::mem::take(&mut r.observations)
                .into_iter()
                .map(|mut x| {
                    x.process = p;
                    x
                })
                .collect(),
            failures: std::mem::take(&mut r.failures),
        };
        match &mut merged {
            None => {
                let mut m = r;
                m.merge(batch);
                merged = Some(m);
            }
            Some(m) => {
                if (&m.profile, &m.arms) != (&r.profile, &r.arms) {
                    bail!(
                        "{} was measured with another profile or other arms than {}",
                        path.display(),
                        files[0].display()
                    );
                }
                m.merge(batch);
                m.duration_s += r.duration_s;
                m.complete &= r.complete;
                m.attachments.extend(r.attachments);
            }
        }
    }
    merged.ok_or_else(|| anyhow!("no results to merge"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_results::vocab::Stage;
    use filterbench_results::{Failure, Row};

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn run_arguments_are_checked_and_lose_their_process_count() {
        let r = parse(&strings(&[
            "--quick",
            "--processes",
            "4",
            "--filters",
            "noop",
        ]))
        .unwrap();
        assert_eq!(r.args, strings(&["--quick", "--filters", "noop"]));
        assert_eq!(r.processes, 4);
        let r = parse(&strings(&["--processes=2", "--no-envoy"])).unwrap();
        assert_eq!((r.args, r.processes), (strings(&["--no-envoy"]), 2));
        assert_eq!(parse(&[]).unwrap().processes, Plan::quick().processes);
        assert_eq!(
            parse(&strings(&["--full"])).unwrap().processes,
            Plan::full().processes
        );
        let e = parse(&strings(&["--bogus"])).unwrap_err().to_string();
        assert!(
            e.starts_with("run arguments after `--`: unexpected argument"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        assert!(parse(&strings(&["--out", "x.json"])).is_err());
    }

    fn part(dir: &Path, i: usize, value: f64, fail: bool) -> PathBuf {
        let mut r = Results::new();
        r.profile = "quick".into();
        r.duration_s = 10.0;
        r.complete = true;
        for arm in ["native", "wasmi"] {
            r.rows.push(Row {
                filter: "f".into(),
                scenario: "s".into(),
                arm: arm.into(),
                value,
                ..Default::default()
            });
        }
        if fail {
            r.failures.push(Failure {
                filter: "f".into(),
                scenario: "s".into(),
                arm: "wasmi".into(),
                stage: Stage::Run,
                message: "trap".into(),
            });
        }
        let path = dir.join(format!("{i}.json"));
        r.write(&path).unwrap();
        path
    }

    #[test]
    fn merging_numbers_each_file_as_a_process_and_keeps_failures_condemning() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = [(1.0, false), (2.0, true), (3.0, false)]
            .iter()
            .enumerate()
            .map(|(i, &(v, f))| part(dir.path(), i, v, f))
            .collect();
        let m = merge(&files).unwrap();
        let native: Vec<(u32, f64)> = m
            .rows
            .iter()
            .filter(|r| r.arm == "native")
            .map(|r| (r.process, r.value))
            .collect();
        assert_eq!(native, [(0, 1.0), (1, 2.0), (2, 3.0)]);
        assert!(
            !m.rows.iter().any(|r| r.arm == "wasmi"),
            "failed in process 1"
        );
        assert_eq!(m.failures.len(), 1);
        assert_eq!(m.duration_s, 30.0);
        assert!(m.complete);
        // A file of another profile does not mix in.
        let mut other = Results::read(&files[2]).unwrap();
        other.profile = "full".into();
        other.write(&files[2]).unwrap();
        assert!(merge(&files).is_err());
        assert!(merge(&[]).is_err());
    }
}
