//! How the output of worker processes becomes one results file. The rule that keeps a failing
//! filter from reading as a fast one lives here, once: a filter × arm that failed in any
//! process keeps no figure from any process, whatever the order the processes finished in.

use serde::{Deserialize, Serialize};

use crate::{Absent, Failure, Histogram, Results, Row};

/// What one worker process (or one measuring step) produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub rows: Vec<Row>,
    pub histograms: Vec<Histogram>,
    pub failures: Vec<Failure>,
    /// Figures not published, with why (e.g. a percentile below its sample floor).
    #[serde(default)]
    pub absent: Vec<Absent>,
}

impl Batch {
    /// Records a failure of `filter` × `arm` (at `stage`, on `scenario` when it is one).
    pub fn fail(&mut self, filter: &str, scenario: &str, arm: &str, stage: &str, message: String) {
        self.failures.push(Failure {
            filter: filter.into(),
            scenario: scenario.into(),
            arm: arm.into(),
            stage: stage.into(),
            message,
        });
    }

    /// Moves everything of `other` into this batch.
    pub fn append(&mut self, other: Batch) {
        self.rows.extend(other.rows);
        self.histograms.extend(other.histograms);
        self.failures.extend(other.failures);
        self.absent.extend(other.absent);
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        second.fail("a", "s", "x", "run", "header missing".into());
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
        again.fail("a", "s", "x", "run", "header missing".into());
        r.merge(again);
        assert_eq!(r.failures.len(), 1);
    }
}
