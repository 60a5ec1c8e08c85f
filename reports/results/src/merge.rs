//! How the output of worker processes becomes one results file. The rule that keeps a failing
//! filter from reading as a fast one lives here, once: a filter × arm that failed in any
//! process keeps no figure from any process, whatever the order the processes finished in.

use serde::{Deserialize, Serialize};

use crate::histogram::{Hdr, HistogramError, merge_exact};
use crate::vocab::{Metric, Phase, Stage};
use crate::{Absent, Failure, Histogram, Observation, Results, Row};

/// Where figures belong: everything of a row but its metric and value. Measuring code makes
/// one per (filter, scenario, arm, phase, threads, process) and records through it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct At {
    pub filter: String,
    /// Empty for per-filter figures (cold start, memory).
    pub scenario: String,
    pub arm: String,
    pub phase: Phase,
    pub threads: u32,
    pub process: u32,
    pub iteration: u32,
}

impl At {
    pub fn new(filter: &str, scenario: &str, arm: &str, phase: Phase, process: u32) -> At {
        At {
            filter: filter.into(),
            scenario: scenario.into(),
            arm: arm.into(),
            phase,
            threads: 1,
            process,
            iteration: 0,
        }
    }

    pub fn threads(mut self, threads: u32) -> At {
        self.threads = threads;
        self
    }

    pub fn iteration(mut self, iteration: u32) -> At {
        self.iteration = iteration;
        self
    }

    pub fn phase(&self, phase: Phase) -> At {
        At {
            phase,
            ..self.clone()
        }
    }
}

/// What one worker process (or one measuring step) produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub rows: Vec<Row>,
    pub histograms: Vec<Histogram>,
    pub failures: Vec<Failure>,
    /// Figures not published, with why (e.g. a percentile below its sample floor).
    #[serde(default)]
    pub absent: Vec<Absent>,
    /// What was seen, in words (see [`Observation`]).
    #[serde(default)]
    pub observations: Vec<Observation>,
}

impl Batch {
    /// Records a failure of `filter` × `arm` (at `stage`, on `scenario` when it is one).
    pub fn fail(&mut self, filter: &str, scenario: &str, arm: &str, stage: Stage, message: String) {
        self.failures.push(Failure {
            filter: filter.into(),
            scenario: scenario.into(),
            arm: arm.into(),
            stage,
            message,
        });
    }

    /// Records one measured figure; its unit comes from the metric. A value that is not a
    /// finite number was not measured: it is recorded as absent, never as a row.
    pub fn record(&mut self, at: &At, metric: Metric, value: f64) {
        if !value.is_finite() {
            self.absent(
                at,
                metric,
                format!("the measurement gave {value}, not a number"),
            );
            return;
        }
        // What readers would refuse (`check`) is absent here, with the value said: a writer
        // and its readers agree on what a figure can be.
        if !crate::check::plausible(value, metric.unit()) {
            self.absent(
                at,
                metric,
                format!("the measurement gave {value:e}, beyond what a {metric} can be"),
            );
            return;
        }
        self.rows.push(Row {
            filter: at.filter.clone(),
            scenario: at.scenario.clone(),
            arm: at.arm.clone(),
            phase: at.phase,
            unit: metric.unit(),
            metric,
            threads: at.threads,
            process: at.process,
            iteration: at.iteration,
            value,
        });
    }

    /// Records that a figure is not published, and why.
    pub fn absent(&mut self, at: &At, metric: Metric, reason: impl Into<String>) {
        self.absent.push(Absent {
            filter: at.filter.clone(),
            scenario: at.scenario.clone(),
            arm: at.arm.clone(),
            phase: at.phase,
            metric,
            threads: at.threads,
            process: at.process,
            reason: reason.into(),
        });
    }

    /// Records what was seen at `at`, in words.
    pub fn observe(&mut self, at: &At, text: impl Into<String>) {
        self.observations.push(Observation {
            filter: at.filter.clone(),
            scenario: at.scenario.clone(),
            arm: at.arm.clone(),
            phase: at.phase,
            process: at.process,
            text: text.into(),
        });
    }

    /// A failure of the filter × arm of `at`.
    pub fn fail_at(&mut self, at: &At, stage: Stage, message: impl Into<String>) {
        self.fail(&at.filter, &at.scenario, &at.arm, stage, message.into());
    }

    /// Moves everything of `other` into this batch.
    pub fn append(&mut self, other: Batch) {
        self.rows.extend(other.rows);
        self.histograms.extend(other.histograms);
        self.failures.extend(other.failures);
        self.absent.extend(other.absent);
        self.observations.extend(other.observations);
    }
}

/// Whether a failure condemns a figure of `filter` × `arm`. A failure without an arm (the
/// worker could not even list its scenarios) condemns nothing by itself: there is nothing of
/// it to keep.
fn condemns(f: &Failure, filter: &str, arm: &str) -> bool {
    !f.arm.is_empty() && f.filter == filter && f.arm == arm
}

impl Results {
    /// Adds one worker's output. Failures are kept once (the same failure in every process is
    /// one failure); then every row, histogram and absence of a failed filter × arm is
    /// dropped — those merged from earlier processes as well as this one's.
    pub fn merge(&mut self, batch: Batch) {
        self.rows.extend(batch.rows);
        self.histograms.extend(batch.histograms);
        self.absent.extend(batch.absent);
        self.observations.extend(batch.observations);
        for f in batch.failures {
            let seen = self.failures.iter().any(|g| {
                g.filter == f.filter
                    && g.scenario == f.scenario
                    && g.arm == f.arm
                    && g.stage == f.stage
            });
            if !seen {
                self.failures.push(f);
            }
        }
        let failures = &self.failures;
        let failed = |filter: &str, arm: &str| failures.iter().any(|f| condemns(f, filter, arm));
        self.rows.retain(|r| !failed(&r.filter, &r.arm));
        self.histograms.retain(|h| !failed(&h.filter, &h.arm));
        self.absent.retain(|a| !failed(&a.filter, &a.arm));
        self.observations.retain(|o| !failed(&o.filter, &o.arm));
    }
}

/// One filter × scenario × arm that has latency histograms (one per worker process).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HistogramRun<'a> {
    pub filter: &'a str,
    pub scenario: &'a str,
    pub arm: &'a str,
}

impl Results {
    /// Every filter × scenario × arm with histograms, in the order the file first lists them.
    pub fn histogram_runs(&self) -> Vec<HistogramRun<'_>> {
        let mut runs: Vec<HistogramRun<'_>> = Vec::new();
        for h in &self.histograms {
            let run = HistogramRun {
                filter: &h.filter,
                scenario: &h.scenario,
                arm: &h.arm,
            };
            if !runs.contains(&run) {
                runs.push(run);
            }
        }
        runs
    }

    /// The histograms of one run, one per process, in process order.
    pub fn histograms_of(&self, run: HistogramRun<'_>) -> Vec<&Histogram> {
        let mut hs: Vec<&Histogram> = self
            .histograms
            .iter()
            .filter(|h| h.filter == run.filter && h.scenario == run.scenario && h.arm == run.arm)
            .collect();
        hs.sort_by_key(|h| h.process);
        hs
    }

    /// The latency distribution of one run over all its processes, merged exactly (see
    /// [`merge_exact`]); Err when the file does not keep whole histograms (written before they
    /// were) or there are none.
    pub fn merged_histogram(&self, run: HistogramRun<'_>) -> Result<Hdr, HistogramError> {
        merge_exact(&self.histograms_of(run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Unit;

    fn row(filter: &str, arm: &str, process: u32) -> Row {
        Row {
            filter: filter.into(),
            scenario: "s".into(),
            arm: arm.into(),
            process,
            value: 1.0,
            ..Default::default()
        }
    }

    #[test]
    fn recording_takes_the_unit_from_the_metric_and_refuses_non_numbers() {
        let mut b = Batch::default();
        let at = At::new("f", "s", "native", Phase::Request, 2).threads(4);
        b.record(&at, Metric::Throughput, 1000.0);
        b.record(&at, Metric::CpuPerRequest, f64::NAN);
        assert_eq!(b.rows.len(), 1);
        assert_eq!(
            (b.rows[0].unit, &b.rows[0].metric, b.rows[0].threads),
            (Unit::PerSecond, &Metric::Throughput, 4)
        );
        assert_eq!(b.absent.len(), 1);
        assert!(b.absent[0].reason.contains("NaN"), "{}", b.absent[0].reason);
    }

    #[test]
    fn a_failure_in_a_later_process_removes_earlier_rows_of_that_filter_and_arm_only() {
        let mut r = Results::new();
        r.merge(Batch {
            rows: vec![row("a", "x", 0), row("a", "y", 0), row("b", "x", 0)],
            ..Default::default()
        });
        let mut second = Batch {
            rows: vec![row("a", "x", 1), row("a", "y", 1), row("b", "x", 1)],
            ..Default::default()
        };
        second.fail("a", "s", "x", Stage::Run, "header missing".into());
        r.merge(second);
        let kept: Vec<(&str, &str, u32)> = r
            .rows
            .iter()
            .map(|r| (r.filter.as_str(), r.arm.as_str(), r.process))
            .collect();
        assert_eq!(
            kept,
            [("a", "y", 0), ("b", "x", 0), ("a", "y", 1), ("b", "x", 1)]
        );
        // A third process that did not fail still contributes nothing for a × x.
        r.merge(Batch {
            rows: vec![row("a", "x", 2)],
            ..Default::default()
        });
        assert!(!r.rows.iter().any(|r| r.filter == "a" && r.arm == "x"));
        // The same failure again is one failure.
        let mut again = Batch::default();
        again.fail("a", "s", "x", Stage::Run, "header missing".into());
        r.merge(again);
        assert_eq!(r.failures.len(), 1);
    }

    #[test]
    fn histograms_of_a_run_merge_over_processes_in_process_order() {
        let hist = |arm: &str, process: u32, values: &[u64]| {
            let mut h = Hdr::new_with_bounds(1, 100_000_000_000, 3).unwrap();
            for v in values {
                h.record(*v).unwrap();
            }
            Histogram::from_hdr("f", "s", arm, process, &h)
        };
        let mut r = Results::new();
        r.merge(Batch {
            histograms: vec![hist("x", 1, &[10, 20]), hist("y", 0, &[5])],
            ..Default::default()
        });
        r.merge(Batch {
            histograms: vec![hist("x", 0, &[30])],
            ..Default::default()
        });
        let runs = r.histogram_runs();
        assert_eq!(runs.iter().map(|r| r.arm).collect::<Vec<_>>(), ["x", "y"]);
        let procs: Vec<u32> = r.histograms_of(runs[0]).iter().map(|h| h.process).collect();
        assert_eq!(procs, [0, 1]);
        let m = r.merged_histogram(runs[0]).unwrap();
        assert_eq!((m.len(), m.min(), m.max()), (3, 10, 30));
    }
}
