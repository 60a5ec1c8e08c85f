//! Run-to-run comparison: for every figure (filter, scenario, arm, phase, metric, threads) in
//! both files, the relative change of the mean over worker processes with a 95% Welch
//! interval, and a verdict. A change is significant when its interval excludes zero *and* it
//! is larger than the threshold; throughput is better bigger, everything else smaller.

mod page;
mod stats;

use std::collections::{BTreeMap, BTreeSet};

use filterbench_results::stats::Estimate;
use filterbench_results::summary::{Key, summarize};
use filterbench_results::{ArmInfo, Failure, Results};

pub use stats::relative_change;

use crate::format;
use crate::model::Analysis;

#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// Smallest relative change, in percent, that counts.
    pub pct: f64,
    /// Metrics whose changes are shown but never fail the comparison: a maximum is one
    /// sample, so it moves by more than any threshold between identical runs.
    pub ungated: Vec<String>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            pct: 5.0,
            ungated: vec!["latency_max".into()],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Regressed,
    Improved,
    NoChange,
    /// Too few processes on a side for an interval, or a zero base.
    Inconclusive,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Improved => "improved",
            Verdict::NoChange => "no significant change",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// One figure in both runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub key: Key,
    pub unit: String,
    pub base: Estimate,
    pub new: Estimate,
    /// `new/base − 1` of the means, and its 95% interval (NaN when inconclusive).
    pub change: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub bigger_is_better: bool,
    pub verdict: Verdict,
    /// False for metrics in [`Thresholds::ungated`].
    pub gating: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    pub thresholds: Thresholds,
    /// Names of the two runs (file names, set by the caller; commit and date by default).
    pub base_name: String,
    pub new_name: String,
    /// Every figure present in both, in key order.
    pub changes: Vec<Change>,
    pub only_base: Vec<Key>,
    pub only_new: Vec<Key>,
    /// Failures in the new run that the base did not have (by filter, scenario, arm, stage).
    pub new_failures: Vec<Failure>,
    pub fixed_failures: Vec<Failure>,
    /// Differences of setup that make the comparison weaker (machine, versions, profile).
    pub notes: Vec<String>,
    /// The new run's arms and scenarios in display order, for charts and colours.
    pub arms: Vec<ArmInfo>,
    pub scenarios: Vec<(String, String)>,
}

fn describe(r: &Results) -> String {
    let commit = r
        .git_commit
        .as_deref()
        .map(|c| &c[..c.len().min(10)])
        .unwrap_or("unknown commit");
    format!(
        "{commit}, {} run of {}",
        r.profile,
        format::utc(r.started_unix)
    )
}

fn setup_notes(base: &Results, new: &Results) -> Vec<String> {
    let mut notes = Vec::new();
    let (mb, mn) = (&base.machine, &new.machine);
    if (&mb.cpu_model, mb.cpus, &mb.hostname) != (&mn.cpu_model, mn.cpus, &mn.hostname) {
        notes.push(format!(
            "different machines: {} ({} CPUs) on {} vs {} ({} CPUs) on {}",
            mb.cpu_model, mb.cpus, mb.hostname, mn.cpu_model, mn.cpus, mn.hostname
        ));
    }
    if base.profile != new.profile {
        notes.push(format!(
            "different profiles: {} vs {}",
            base.profile, new.profile
        ));
    }
    for a in &new.arms {
        if let Some(b) = base.arms.iter().find(|b| b.name == a.name)
            && (b.version != a.version || b.flags != a.flags)
        {
            notes.push(format!(
                "arm {} changed: {} [{}] → {} [{}]",
                a.name, b.version, b.flags, a.version, a.flags
            ));
        }
    }
    for (r, which) in [(base, "base"), (new, "new")] {
        if !r.complete {
            notes.push(format!("the {which} run is incomplete"));
        }
    }
    notes
}

fn failure_set(r: &Results) -> BTreeMap<(String, String, String, String), Failure> {
    r.failures
        .iter()
        .map(|f| {
            (
                (
                    f.filter.clone(),
                    f.scenario.clone(),
                    f.arm.clone(),
                    f.stage.clone(),
                ),
                f.clone(),
            )
        })
        .collect()
}

/// Compares every figure the two runs share.
pub fn compare(base: &Results, new: &Results, thresholds: &Thresholds) -> Comparison {
    let (eb, en) = (summarize(base), summarize(new));
    let units: BTreeMap<Key, String> = new
        .rows
        .iter()
        .chain(&base.rows)
        .map(|r| (Key::of(r), r.unit.clone()))
        .collect();
    let min = thresholds.pct / 100.0;
    let mut changes = Vec::new();
    for (k, b) in &eb {
        let Some(n) = en.get(k) else { continue };
        // The instrumented breakdown is for attribution and comes from one process; costs
        // are compared through the request and instruction figures.
        if k.phase == filterbench_results::breakdown::PHASE {
            continue;
        }
        let bigger = k.metric.contains("throughput");
        let (change, lo, hi, verdict) = match relative_change(b, n) {
            None if b.mean == n.mean => (0.0, 0.0, 0.0, Verdict::NoChange),
            None => (f64::NAN, f64::NAN, f64::NAN, Verdict::Inconclusive),
            Some((c, lo, hi)) => {
                let significant = (lo > 0.0 || hi < 0.0) && c.abs() > min;
                let v = match (significant, (c > 0.0) == bigger) {
                    (false, _) => Verdict::NoChange,
                    (true, true) => Verdict::Improved,
                    (true, false) => Verdict::Regressed,
                };
                (c, lo, hi, v)
            }
        };
        changes.push(Change {
            key: k.clone(),
            unit: units.get(k).cloned().unwrap_or_default(),
            base: *b,
            new: *n,
            change,
            ci_low: lo,
            ci_high: hi,
            bigger_is_better: bigger,
            verdict,
            gating: !thresholds.ungated.contains(&k.metric),
        });
    }
    let compared = |k: &&Key| k.phase != filterbench_results::breakdown::PHASE;
    let kb: BTreeSet<&Key> = eb.keys().filter(compared).collect();
    let kn: BTreeSet<&Key> = en.keys().filter(compared).collect();
    let (fb, fn_) = (failure_set(base), failure_set(new));
    Comparison {
        thresholds: thresholds.clone(),
        base_name: describe(base),
        new_name: describe(new),
        changes,
        only_base: kb.difference(&kn).map(|k| (*k).clone()).collect(),
        only_new: kn.difference(&kb).map(|k| (*k).clone()).collect(),
        new_failures: fn_
            .iter()
            .filter(|(k, _)| !fb.contains_key(*k))
            .map(|(_, f)| f.clone())
            .collect(),
        fixed_failures: fb
            .iter()
            .filter(|(k, _)| !fn_.contains_key(*k))
            .map(|(_, f)| f.clone())
            .collect(),
        notes: setup_notes(base, new),
        arms: Analysis::new(new).arms,
        scenarios: Analysis::new(new).scenarios(),
    }
}

impl Comparison {
    /// Changes with a verdict: gating ones first, then largest first.
    pub fn with_verdict(&self, v: Verdict) -> Vec<&Change> {
        let mut out: Vec<&Change> = self.changes.iter().filter(|c| c.verdict == v).collect();
        out.sort_by(|a, b| {
            b.gating
                .cmp(&a.gating)
                .then(b.change.abs().total_cmp(&a.change.abs()))
        });
        out
    }

    pub fn count(&self, v: Verdict) -> usize {
        self.changes.iter().filter(|c| c.verdict == v).count()
    }

    /// True when a gating figure regressed or a filter × arm newly fails: the exit status of
    /// `filterbench compare`.
    pub fn has_regression(&self) -> bool {
        !self.new_failures.is_empty()
            || self
                .changes
                .iter()
                .any(|c| c.verdict == Verdict::Regressed && c.gating)
    }

    /// One line of counts.
    pub fn counts_line(&self) -> String {
        format!(
            "{} figures: {} regressed, {} improved, {} no significant change, {} inconclusive \
             (threshold {}%, 95% Welch interval over worker processes)",
            self.changes.len(),
            self.count(Verdict::Regressed),
            self.count(Verdict::Improved),
            self.count(Verdict::NoChange),
            self.count(Verdict::Inconclusive),
            self.thresholds.pct
        )
    }

    /// A plain-text summary for the terminal.
    pub fn text(&self) -> String {
        let mut out = format!("base: {}\nnew:  {}\n", self.base_name, self.new_name);
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out.push_str(&self.counts_line());
        out.push('\n');
        for v in [Verdict::Regressed, Verdict::Improved] {
            for c in self.with_verdict(v) {
                out.push_str(&format!(
                    "{:<9} {}{}\n",
                    v.label(),
                    page::describe_change(c),
                    if c.gating { "" } else { " (not gating)" }
                ));
            }
        }
        for f in &self.new_failures {
            out.push_str(&format!(
                "new failure: {} / {} / {} at {}: {}\n",
                f.filter, f.scenario, f.arm, f.stage, f.message
            ));
        }
        out.push_str(if self.has_regression() {
            "RESULT: significant regression\n"
        } else {
            "RESULT: no significant regression\n"
        });
        out
    }

    /// The comparison as a report page.
    pub fn page(&self) -> crate::doc::Page {
        page::build(self)
    }

    pub fn html(&self) -> Result<String, crate::ReportError> {
        crate::html::render(
            &self.page(),
            "Generated by filterbench compare. Self-contained: no script, nothing loaded from the network.",
        )
    }

    /// The summary (verdict, regressions, improvements, failures) as Markdown.
    pub fn markdown(&self) -> String {
        crate::doc::markdown(&self.page(), true)
    }
}
