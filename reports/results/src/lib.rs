//! The results file every runner writes and every report reads. Measurements are long-form
//! rows (filter, scenario, arm, phase, metric, process, value), so every summary, ratio and
//! chart is a group-by over columns and a new metric needs no new type.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use vocab::{ArmKind, Metric, Phase, Stage, Unit};

pub mod breakdown;
pub mod check;
pub mod histogram;
pub mod merge;
pub mod schema;
pub mod stats;
pub mod summary;
pub mod vocab;

pub use check::{Implausible, Refused};
/// The HdrHistogram crate the stored histograms decode into, so readers need no own copy.
pub use hdrhistogram;
pub use histogram::{Hdr, HistogramError};
pub use merge::{At, Batch};

/// Bumped on any incompatible change to the types below.
/// Version 2: phases, metrics, units, stages and arm kinds are the vocabulary's words (see
/// [`vocab`]; an unknown word is refused when read), and figures may be listed as absent.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a filterbench results file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path} has schema version {found}; this build reads version {SCHEMA_VERSION}")]
    Version { path: String, found: u32 },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// One results file: one run of the suite.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Results {
    /// The reader refuses any other version.
    #[schemars(extend("const" = SCHEMA_VERSION))]
    pub schema_version: u32,
    /// filterbench's own version.
    pub filterbench_version: String,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    /// Wall-clock seconds the run took.
    pub duration_s: f64,
    /// The command line that produced this file, to reproduce it.
    pub command_line: Vec<String>,
    /// `git rev-parse HEAD` of the checkout, when there is one.
    pub git_commit: Option<String>,
    /// `quick`, `full` or `custom`.
    pub profile: String,
    /// False while the run is in progress or if it was cut short.
    pub complete: bool,
    pub machine: Machine,
    pub arms: Vec<ArmInfo>,
    pub filters: Vec<FilterInfo>,
    /// Every raw figure, one row each.
    pub rows: Vec<Row>,
    /// Latency distributions, one per (scenario, arm, process).
    pub histograms: Vec<Histogram>,
    /// Things that went wrong; a filter × arm listed here has no timing rows.
    pub failures: Vec<Failure>,
    /// Files produced beside the results (flame graphs), for reports to link.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Figures that were deliberately not published, each with why (too few samples for a
    /// percentile, below the measurement's resolution, not measurable on this machine).
    /// Absent with a reason beats a made-up value.
    #[serde(default)]
    pub absent: Vec<Absent>,
    /// What was seen, in words, where a figure alone does not say it: how a failing filter's
    /// host ended (blast radius), how an access was refused (reach). Absent in files written
    /// before it existed, so no schema version bump.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Observation>,
}

/// A thing seen, said in words, beside the figures of the same filter × scenario × arm × phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Observation {
    pub filter: String,
    pub scenario: String,
    pub arm: String,
    pub phase: Phase,
    pub process: u32,
    /// One line, e.g. "Envoy exited (SIGSEGV); 8 in-flight requests reset".
    pub text: String,
}

/// A figure that was not published, and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Absent {
    pub filter: String,
    pub scenario: String,
    pub arm: String,
    pub phase: Phase,
    pub metric: Metric,
    pub threads: u32,
    pub process: u32,
    /// One line a reader understands, e.g. "p99.9 needs 10000 samples, had 412".
    pub reason: String,
}

/// A file produced beside the results, e.g. a flame graph of one arm.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Attachment {
    pub filter: String,
    pub scenario: String,
    pub arm: String,
    /// `flamegraph`.
    pub kind: String,
    /// Relative to the results file's folder when it lies below it.
    pub path: String,
    /// One line on what it shows.
    pub note: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Machine {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub cpu_model: String,
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// None where /proc/meminfo did not say.
    pub memory_bytes: Option<u64>,
}

/// What one arm ran with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ArmInfo {
    pub name: String,
    pub kind: ArmKind,
    /// Engine crate and exact version (for native: the compiler).
    pub version: String,
    /// Options that change what is measured (CPU bound, allocator).
    pub flags: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FilterInfo {
    pub name: String,
    /// `http` or `tcp`.
    pub kind: String,
    /// Source language of the filter.
    pub language: String,
    /// The job it does: its name without the language prefix (`cpp-add-header` does
    /// `add-header`). Filters of one job share their fixtures, whatever the language.
    #[serde(default)]
    pub job: String,
    /// Path and SHA-256 of the `.wasm` every engine ran (the very same file).
    pub wasm_path: Option<String>,
    pub wasm_sha256: Option<String>,
    pub wasm_bytes: Option<u64>,
    pub native_path: Option<String>,
    pub native_sha256: Option<String>,
    /// The benchmark scenarios measured.
    pub scenarios: Vec<String>,
}

/// One raw figure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Row {
    pub filter: String,
    /// Benchmark scenario; empty for per-filter figures (cold start, memory).
    pub scenario: String,
    pub arm: String,
    pub phase: Phase,
    pub metric: Metric,
    /// Always the metric's own unit (kept in the file so it reads on its own).
    pub unit: Unit,
    /// Threads (each with its own VM) that produced the figure.
    pub threads: u32,
    /// Which worker process (repetition) measured it.
    pub process: u32,
    /// Iteration within the process, for figures measured several times per process.
    pub iteration: u32,
    pub value: f64,
}

/// One process's latency distribution of one filter × scenario × arm: HdrHistogram quantile
/// points (enough for `.hgrm` and curves) and, in files written since it is kept, the whole
/// histogram, which merges exactly with the other processes' (`histogram::merge_exact`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Histogram {
    pub filter: String,
    pub scenario: String,
    pub arm: String,
    pub process: u32,
    pub count: u64,
    pub mean_ns: f64,
    pub stdev_ns: f64,
    pub max_ns: u64,
    /// (quantile, value in ns, count recorded since the previous point), in quantile order.
    pub points: Vec<(f64, u64, u64)>,
    /// The whole histogram: HdrHistogram's V2 deflate serialization (what its interval logs
    /// carry), base64. Absent in files written before it was kept, which is why it is optional
    /// and no schema version bump: older files read as before, and older readers ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdr_base64: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Failure {
    pub filter: String,
    pub scenario: String,
    pub arm: String,
    pub stage: Stage,
    pub message: String,
}

impl Results {
    pub fn new() -> Self {
        Results {
            schema_version: SCHEMA_VERSION,
            filterbench_version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        }
    }

    pub fn read(path: &Path) -> Result<Results, ResultsError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Read {
            path: p.clone(),
            source,
        })?;
        // Check the version before the shape, so an old file gets the clearer message.
        #[derive(Deserialize)]
        struct Head {
            schema_version: u32,
        }
        let head: Head = serde_json::from_str(&text).map_err(|source| ResultsError::Parse {
            path: p.clone(),
            source,
        })?;
        if head.schema_version != SCHEMA_VERSION {
            return Err(ResultsError::Version {
                path: p,
                found: head.schema_version,
            });
        }
        serde_json::from_str(&text).map_err(|source| ResultsError::Parse { path: p, source })
    }

    /// Writes atomically: a temporary file in the same directory, then a rename, so a reader
    /// never sees half a file and an interrupted run never clobbers the previous one.
    pub fn write(&self, path: &Path) -> Result<(), ResultsError> {
        let err = |source| ResultsError::Write {
            path: path.display().to_string(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        serde_json::to_writer_pretty(&mut tmp, self).map_err(|e| err(e.into()))?;
        tmp.persist(path).map_err(|e| err(e.error))?;
        Ok(())
    }

    /// Rows matching a predicate.
    pub fn select<'a>(
        &'a self,
        f: impl Fn(&Row) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Row> + 'a {
        self.rows.iter().filter(move |r| f(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_version_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        let mut r = Results::new();
        r.rows.push(Row {
            filter: "noop".into(),
            metric: Metric::LatencyP50,
            value: 1.5,
            ..Default::default()
        });
        r.write(&path).unwrap();
        assert_eq!(Results::read(&path).unwrap(), r);

        std::fs::write(&path, r#"{"schema_version": 999}"#).unwrap();
        let e = Results::read(&path).unwrap_err().to_string();
        assert!(e.contains("schema version 999"), "{e}");
        std::fs::write(&path, "not json").unwrap();
        assert!(Results::read(&path).is_err());
    }
}
