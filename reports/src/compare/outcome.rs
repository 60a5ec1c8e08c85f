//! The overall result of a comparison and what it could see. A quick run (three processes, 2–4
//! degrees of freedom) tested at Holm's first step can flag only changes many times the
//! threshold: "nothing flagged" then says nothing about regressions of the threshold's size.
//! So a comparison whose gating figures mostly could not flag a change of their threshold is
//! inconclusive, with its own exit status, and says what it could have detected.
//!
//! Inconclusive when, with no regression flagged:
//! - no gating figure is in both runs;
//! - more than half of the gating figures are unsure;
//! - fewer than half could flag a change of their threshold (`detectable ≤ threshold`), i.e.
//!   the median detectable change exceeds the threshold.
//!
//! A flagged regression stands whatever the rest could see: its own test passed at its Holm
//! step. Exit statuses of `filterbench compare`: [`Outcome::exit_code`], 2 for an error.

use super::{Change, Comparison, Rule, Verdict};
use crate::format;

/// The comparison's answer, in the order it is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Implausible gating figures: nothing can be concluded, and the gate fails.
    Failed,
    /// A gating figure regressed, is missing without a reason, or a filter × arm newly fails.
    Regression,
    /// No regression flagged, but the gating figures could not have flagged most regressions
    /// of the threshold's size (see the module's rule).
    Inconclusive,
    /// No regression flagged, and most gating figures could have flagged one of the threshold.
    NoRegression,
}

/// The exit status of an error of `compare` itself (unreadable file, bad option, failed build).
pub const EXIT_ERROR: u8 = 2;

impl Outcome {
    /// The exit status of `filterbench compare`: 0 no regression (conclusive), 1 regression or
    /// failed, 3 inconclusive ([`EXIT_ERROR`], 2, is an error of compare itself).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::NoRegression => 0,
            Outcome::Regression | Outcome::Failed => 1,
            Outcome::Inconclusive => 3,
        }
    }
}

/// What the gating figures of a comparison could detect.
#[derive(Clone, Debug, PartialEq)]
pub struct Sensitivity {
    /// Gating figures in both runs.
    pub figures: usize,
    /// Of those, the ones that could flag a change of their threshold.
    pub covered: usize,
    /// The median smallest detectable change (a figure that can flag nothing counts as
    /// infinite); `None` with no figure, or when the median itself is such a figure.
    pub median: Option<f64>,
}

impl Sensitivity {
    /// Median of detectable changes, `None` standing for "nothing can be flagged".
    pub fn of(changes: &[&Change], threshold: impl Fn(&Change) -> f64) -> Sensitivity {
        let mut d: Vec<f64> = changes
            .iter()
            .map(|c| c.detectable.unwrap_or(f64::INFINITY))
            .collect();
        d.sort_by(f64::total_cmp);
        let n = d.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => d[n / 2],
            _ => (d[n / 2 - 1] + d[n / 2]) / 2.0,
        };
        Sensitivity {
            figures: n,
            covered: changes
                .iter()
                .filter(|c| c.detectable.is_some_and(|d| d <= threshold(c)))
                .count(),
            median: median.is_finite().then_some(median),
        }
    }

    /// "median 48%, 3 of 120 (2.5%) could flag a change of their threshold".
    pub fn describe(&self) -> String {
        let share = if self.figures == 0 {
            String::new()
        } else {
            format!(
                " ({})",
                format::pct(self.covered as f64 / self.figures as f64)
            )
        };
        format!(
            "median {}, {} of {}{share} could flag a change of their threshold",
            self.median.map_or("nothing".into(), format::pct),
            self.covered,
            self.figures
        )
    }
}

impl Comparison {
    /// The threshold a gating figure's change is held to (relative): the deterministic one
    /// for a figure judged by size, else the timed one.
    pub fn threshold_of(&self, c: &Change) -> f64 {
        match c.rule {
            Rule::Deterministic => self.thresholds.deterministic_pct / 100.0,
            Rule::Welch | Rule::TooFew => self.thresholds.pct / 100.0,
        }
    }

    /// What the gating figures could detect.
    pub fn sensitivity(&self) -> Sensitivity {
        let gates: Vec<&Change> = self.gates.iter().collect();
        Sensitivity::of(&gates, |c| self.threshold_of(c))
    }

    /// Why the comparison cannot conclude "no regression" (empty: it can).
    pub fn inconclusive_reasons(&self) -> Vec<String> {
        let n = self.gates.len();
        if n == 0 {
            return vec!["no gating figure is in both runs".into()];
        }
        let mut out = Vec::new();
        let unsure = self.count(Verdict::Unsure);
        if unsure * 2 > n {
            out.push(format!(
                "{unsure} of {n} gating figures are unsure (more than half)"
            ));
        }
        let s = self.sensitivity();
        if s.covered * 2 < n {
            out.push(format!(
                "only {} of {n} gating figures could flag a change of their threshold (fewer \
                 than half: the median detectable change exceeds the {}% threshold)",
                s.covered, self.thresholds.pct
            ));
        }
        out
    }

    /// The overall answer (see the module's rule); its exit status is
    /// [`Outcome::exit_code`].
    pub fn outcome(&self) -> Outcome {
        if !self.implausible.is_empty() {
            Outcome::Failed
        } else if self.has_regression() {
            Outcome::Regression
        } else if !self.inconclusive_reasons().is_empty() {
            Outcome::Inconclusive
        } else {
            Outcome::NoRegression
        }
    }

    /// The result in words, lower case first ("RESULT: …" in text, a callout on the page):
    /// what was found, and for an inconclusive comparison what it could have detected.
    pub fn result_sentence(&self) -> String {
        match self.outcome() {
            Outcome::Failed => {
                "failed: implausible gating figures, nothing can be concluded".into()
            }
            Outcome::Regression => "significant regression".into(),
            Outcome::Inconclusive => format!(
                "inconclusive: no regression flagged, but {}; what this pair of runs could have \
                 flagged: {} — more worker processes per run (run --processes) narrow it",
                self.inconclusive_reasons().join("; "),
                self.sensitivity().describe()
            ),
            Outcome::NoRegression => format!(
                "no significant regression (detectable change: {})",
                self.sensitivity().describe()
            ),
        }
    }
}
