//! Sampling with `perf record -e cpu-clock` (the only event these machines allow) and folding
//! the stacks into an SVG flame graph with inferno, plus where the leaf samples fell by
//! object (guest JIT code, the kernel, libc, the program itself) as a one-line note.

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use inferno::collapse::Collapse;

#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    #[error("running perf (Debian package linux-perf): {0}")]
    Start(std::io::Error),
    #[error("perf record failed ({0})")]
    Failed(ExitStatus),
    #[error("perf script: {0}")]
    Script(std::io::Error),
    #[error("perf recorded no samples")]
    NoSamples,
    #[error("folding perf stacks: {0}")]
    Fold(std::io::Error),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("drawing the flame graph: {0}")]
    Draw(String),
}

/// What perf samples.
pub enum Target<'a> {
    /// A command run under perf from start to end.
    Command(&'a mut Command),
    /// A running process, for `seconds`.
    Pid(u32, f64),
}

/// A failure to write `path`.
fn write(path: &Path) -> impl FnOnce(std::io::Error) -> PerfError + '_ {
    move |source| PerfError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Samples `target` into `<dir>/<stem>.svg`; returns the SVG's path and the leaf-object note.
pub fn record(
    dir: &Path,
    stem: &str,
    title: &str,
    target: Target,
) -> Result<(PathBuf, String), PerfError> {
    std::fs::create_dir_all(dir).map_err(write(dir))?;
    let data = dir.join(format!("{stem}.perf.data"));
    let mut perf = Command::new("perf");
    perf.args(["record", "-e", "cpu-clock", "-F", "1999", "-g", "-q", "-o"])
        .arg(&data);
    match target {
        Target::Command(cmd) => {
            perf.arg("--").arg(cmd.get_program()).args(cmd.get_args());
            for (k, v) in cmd.get_envs() {
                match v {
                    Some(v) => perf.env(k, v),
                    None => perf.env_remove(k),
                };
            }
        }
        Target::Pid(pid, seconds) => {
            perf.args(["-p", &pid.to_string(), "--", "sleep", &seconds.to_string()]);
        }
    }
    let status = perf
        .stdout(Stdio::null())
        .status()
        .map_err(PerfError::Start)?;
    if !status.success() {
        return Err(PerfError::Failed(status));
    }
    let script = Command::new("perf")
        .args(["script", "-i"])
        .arg(&data)
        .stderr(Stdio::null())
        .output()
        .map_err(PerfError::Script)?;
    let _ = std::fs::remove_file(&data);
    if script.stdout.is_empty() {
        return Err(PerfError::NoSamples);
    }
    let note = leaf_objects(&String::from_utf8_lossy(&script.stdout));
    let mut folded = Vec::new();
    inferno::collapse::perf::Folder::default()
        .collapse(BufReader::new(script.stdout.as_slice()), &mut folded)
        .map_err(PerfError::Fold)?;
    let svg = dir.join(format!("{stem}.svg"));
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = title.to_string();
    opts.subtitle = Some(note.clone());
    let folded = String::from_utf8_lossy(&folded);
    let file = std::fs::File::create(&svg).map_err(write(&svg))?;
    inferno::flamegraph::from_lines(&mut opts, folded.lines(), BufWriter::new(file))
        .map_err(|e| PerfError::Draw(e.to_string()))?;
    Ok((svg, note))
}

/// The object of a `perf script` frame line (`addr symbol (object)`), by kind.
fn object_kind(frame: &str) -> &'static str {
    let obj = frame
        .rsplit_once('(')
        .map_or("", |(_, o)| o.trim_end_matches(')'));
    if obj.contains("kernel") || obj.starts_with("[vdso]") {
        "kernel"
    } else if obj.contains("/tmp/perf-") || obj.contains("anon") || obj == "[unknown]" {
        // JIT code: wasmtime's perf map, V8's code space, or unmapped addresses.
        "JIT or unknown"
    } else if obj.contains("libc.so") || obj.contains("libm.so") || obj.contains("ld-linux") {
        "libc"
    } else if obj.ends_with(".so") || obj.contains(".so.") {
        "shared libraries"
    } else {
        "program"
    }
}

/// "program 61%, kernel 25%, JIT or unknown 12%, ..." over the leaf frames of all samples.
pub fn leaf_objects(script: &str) -> String {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut in_sample = false;
    for line in script.lines() {
        if line.trim().is_empty() {
            in_sample = false;
        } else if !line.starts_with(char::is_whitespace) {
            in_sample = true;
        } else if in_sample {
            *counts.entry(object_kind(line.trim())).or_default() += 1;
            in_sample = false;
        }
    }
    let total: u64 = counts.values().sum();
    let mut v: Vec<(&str, u64)> = counts.into_iter().collect();
    v.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let parts: Vec<String> = v
        .iter()
        .map(|(k, n)| format!("{k} {:.0}%", *n as f64 * 100.0 / total.max(1) as f64))
        .collect();
    format!("{total} samples; leaf in {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_objects_counts_the_first_frame_of_each_sample() {
        let script = "\
envoy 12 1.0: 1 cpu-clock:
\tffffffff81000000 do_syscall_64 ([kernel.kallsyms])
\t5555 main (/usr/bin/envoy)

envoy 12 1.1: 1 cpu-clock:
\t7f00 [unknown] ([unknown])
\t5555 main (/usr/bin/envoy)

envoy 12 1.2: 1 cpu-clock:
\t5556 foo (/usr/bin/envoy)
";
        assert_eq!(
            leaf_objects(script),
            "3 samples; leaf in JIT or unknown 33%, kernel 33%, program 33%"
        );
    }
}
