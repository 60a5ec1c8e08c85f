//! Run-to-run comparison, built to gate a nightly job. Only the declared gating figures
//! ([`gate::GATES`]: per filter's first scenario, net CPU per request in process and Envoy's
//! own cost, net CPU over the reference arm's net; instructions per request, compile time,
//! memory per VM) can fail it; every other figure gets a verdict too, for reading, never
//! gating.
//!
//! A verdict is one of four: regressed or improved (Welch's test rejects "no change" after
//! Holm's adjustment over the gating set, and the change is beyond the threshold), unchanged
//! (the 90% interval of the change — two one-sided 5% tests — lies inside ±threshold), unsure
//! (neither). Holm rather than Benjamini–Hochberg: a nightly gate must bound the chance of *any*
//! false alarm on an unchanged build (family-wise error), not the share of false ones among the
//! flagged, and Holm holds under any dependence between figures (ratios of one process share
//! their reference arm). Deterministic figures (instruction counts) whose repeats agree within
//! [`Thresholds::agreement`] gate on the size of the change alone. A gating figure of the base
//! missing from the new run gates unless the new run says why (not selected, failed, absent).
//!
//! Not flagged is not the same as unchanged: each gating figure also gets the smallest change
//! this pair of runs could have flagged on it ([`Change::detectable`]), and the comparison as a
//! whole is [`Outcome::Inconclusive`] — never "no significant regression" — when most gating
//! figures could not have flagged a change of the threshold (see [`outcome`]).
pub mod gate;
mod judge;
pub mod outcome;
mod page;
mod stats;
mod text;
pub mod trend;

use std::collections::{BTreeMap, BTreeSet};

use filterbench_results::stats::Estimate;
use filterbench_results::summary::{Key, summarize};
use filterbench_results::{ArmInfo, Failure, Results};

pub use outcome::{Outcome, Sensitivity};
pub use stats::{detectable, holm, relative_change, welch};

use crate::format;
use crate::model::Analysis;
use filterbench_results::Implausible;
use filterbench_results::check::plausible;
use filterbench_results::vocab::{Better, Metric, Phase, Stage};

#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// Smallest relative change, in percent, that counts for a timed figure.
    pub pct: f64,
    /// The same for a deterministic figure whose repeats agree (instruction counts).
    pub deterministic_pct: f64,
    /// Largest relative spread `(max − min) / mean` of the repeats of a deterministic figure
    /// for it to be judged by size alone.
    pub agreement: f64,
    /// Family-wise error rate of the gating set (Holm).
    pub alpha: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            pct: 5.0,
            deterministic_pct: 1.0,
            agreement: 0.005,
            alpha: 0.05,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Significantly worse (Holm-adjusted over the gating set) by more than the threshold.
    Regressed,
    Improved,
    /// The 90% interval of the change (two one-sided 5% tests) lies inside ±threshold:
    /// equivalence shown, not assumed.
    Unchanged,
    /// Neither: too few processes, or an interval too wide for either conclusion.
    Unsure,
}

impl Verdict {
    pub const ALL: [Verdict; 4] = [
        Verdict::Regressed,
        Verdict::Improved,
        Verdict::Unchanged,
        Verdict::Unsure,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::Unsure => "unsure",
        }
    }
}

/// How a verdict was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Welch's test over worker processes (Holm-adjusted when gating).
    Welch,
    /// Deterministic repeats that agree: the change is gated on its size alone.
    Deterministic,
    /// Too few processes on a side, or a zero base.
    TooFew,
}

/// One figure in both runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub key: Key,
    pub unit: String,
    pub base: Estimate,
    pub new: Estimate,
    /// `new/base − 1` of the means, and its 95% interval (NaN when too few processes).
    pub change: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-sided p-value of "no change", and Holm-adjusted over the gating set (gating
    /// figures judged by Welch's test only; NaN otherwise).
    pub p: f64,
    pub p_adjusted: f64,
    pub bigger_is_better: bool,
    pub verdict: Verdict,
    pub rule: Rule,
    /// True for the declared gating figures ([`gate::GATES`]).
    pub gating: bool,
    /// The level Welch's test of this figure faced: alpha outside the gating set, its Holm
    /// step inside (see `judge::control`); NaN when Welch's test did not judge it.
    pub alpha: f64,
    /// The smallest relative change (of the base mean) this pair of runs could flag on this
    /// figure, from both sides' spreads, Welch's degrees of freedom and `alpha` — or the
    /// threshold, for a deterministic figure judged by size. `None` when no test can run (too
    /// few processes, a zero base): then no change at all could be flagged.
    pub detectable: Option<f64>,
}

/// A gating figure of the base that the new run does not have.
#[derive(Clone, Debug, PartialEq)]
pub struct Missing {
    pub key: Key,
    /// Why the new run does not have it, when it says (skipped, failed, absent): then it does
    /// not gate; `None` gates.
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    pub thresholds: Thresholds,
    /// Names of the two runs (file names, set by the caller; commit and date by default).
    pub base_name: String,
    pub new_name: String,
    /// The gating figures in both runs, in key order (metric = the gate's name).
    pub gates: Vec<Change>,
    /// Gating figures of the base missing from the new run.
    pub missing: Vec<Missing>,
    /// Gating figures the base has the rows of but cannot resolve (a net below resolution, a
    /// ratio over one), with why: not gated, never judged on a change relative to nothing.
    pub ungated: Vec<Missing>,
    /// Implausible figures (not finite, or beyond their unit's bound) that a gating figure
    /// is derived from, in either run, and gating figures that came out so: each fails the
    /// comparison, which must not pass on figures it cannot trust. The rows are left out of
    /// every verdict and chart.
    pub implausible: Vec<String>,
    /// Every raw figure present in both, in key order: reported, never gating.
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

fn failure_set(r: &Results) -> BTreeMap<(String, String, String, Stage), Failure> {
    r.failures
        .iter()
        .map(|f| {
            (
                (f.filter.clone(), f.scenario.clone(), f.arm.clone(), f.stage),
                f.clone(),
            )
        })
        .collect()
}

/// Implausible figures listed by name; a corrupt file may have thousands, and the first few
/// say what is wrong.
pub const SHOWN: usize = 10;

/// Whether rows of `phase` and `metric` at `threads` feed a gating figure.
fn feeds_gate(phase: Phase, metric: Metric, threads: u32) -> bool {
    gate::GATES
        .iter()
        .any(|g| g.phase == phase && g.metric == metric && g.threads.is_none_or(|t| t == threads))
}

/// `r` without its implausible rows; each one named in `gating` when it feeds a gating
/// figure, else in `other`.
fn plausible_part(
    r: &Results,
    which: &str,
    gating: &mut Vec<String>,
    other: &mut Vec<String>,
) -> Results {
    let mut kept = r.clone();
    kept.rows.retain(|row| match Implausible::row(row) {
        None => true,
        Some(bad) => {
            let list = if feeds_gate(row.phase, row.metric, row.threads) {
                &mut *gating
            } else {
                &mut *other
            };
            list.push(format!("{which} run: {bad}"));
            false
        }
    });
    kept
}

/// Compares every figure the two runs share, and the gating set.
pub fn compare(base: &Results, new: &Results, thresholds: &Thresholds) -> Comparison {
    let (mut implausible, mut ignored) = (Vec::new(), Vec::new());
    let base = &plausible_part(base, "base", &mut implausible, &mut ignored);
    let new = &plausible_part(new, "new", &mut implausible, &mut ignored);
    let (eb, en) = (summarize(base), summarize(new));
    // The instrumented breakdown is for attribution and comes from one process; costs are
    // compared through the request and instruction figures.
    let compared = |k: &&Key| k.phase != Phase::Profile;
    let mut changes = Vec::new();
    for (k, b) in eb.iter().filter(|(k, _)| compared(k)) {
        let Some(n) = en.get(k) else { continue };
        changes.push(judge::judge(
            k.clone(),
            k.metric.unit().name(),
            *b,
            *n,
            k.metric.better() == Better::Higher,
            false,
            thresholds,
        ));
    }
    let (gb, gn) = (gate::figures(base), gate::figures(new));
    let mut gates = Vec::new();
    let mut missing = Vec::new();
    for (k, b) in &gb.measured {
        let g = b.gate;
        match gn.measured.get(k) {
            Some(n) => {
                let mut c = judge::judge(
                    k.clone(),
                    g.name.unit().name(),
                    b.value,
                    n.value,
                    g.name.better() == Better::Higher,
                    g.deterministic,
                    thresholds,
                );
                c.gating = true;
                gates.push(c);
            }
            None => missing.push(Missing {
                key: k.clone(),
                reason: gn
                    .unresolved
                    .get(k)
                    .map(|u| format!("new run: {}", u.reason))
                    .or_else(|| judge::explain(new, k, g.phase, g.metric, &b.arms)),
            }),
        }
    }
    let ungated = gb
        .unresolved
        .into_iter()
        .map(|(key, u)| Missing {
            key,
            reason: Some(u.reason),
        })
        .collect();
    judge::control(&mut gates, thresholds);
    // Plausible rows can still derive an implausible figure (a ratio over a near-zero base).
    for c in &gates {
        let unit = c.key.metric.unit();
        for (which, e) in [("base", &c.base), ("new", &c.new)] {
            if !plausible(e.mean, unit) {
                implausible.push(format!(
                    "{which} run: gating figure {}: {} {} is implausible",
                    page::subject(c),
                    e.mean,
                    unit.name()
                ));
            }
        }
    }
    let mut notes = setup_notes(base, new);
    if let Some(first) = ignored.first() {
        notes.push(format!(
            "{} implausible figure(s) that gate nothing were left out, the first: {first}",
            ignored.len()
        ));
    }
    let kb: BTreeSet<&Key> = eb.keys().filter(compared).collect();
    let kn: BTreeSet<&Key> = en.keys().filter(compared).collect();
    let (fb, fn_) = (failure_set(base), failure_set(new));
    let analysis = Analysis::new(new);
    Comparison {
        thresholds: thresholds.clone(),
        base_name: describe(base),
        new_name: describe(new),
        gates,
        missing,
        ungated,
        implausible,
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
        notes,
        scenarios: analysis.scenarios(),
        arms: analysis.arms,
    }
}

impl Comparison {
    /// Gating figures with a verdict, largest change first.
    pub fn with_verdict(&self, v: Verdict) -> Vec<&Change> {
        let mut out: Vec<&Change> = self.gates.iter().filter(|c| c.verdict == v).collect();
        out.sort_by(|a, b| b.change.abs().total_cmp(&a.change.abs()));
        out
    }

    /// Gating figures with a verdict.
    pub fn count(&self, v: Verdict) -> usize {
        self.gates.iter().filter(|c| c.verdict == v).count()
    }

    /// Missing gating figures the new run does not explain: they gate.
    pub fn unexplained_missing(&self) -> Vec<&Missing> {
        self.missing.iter().filter(|m| m.reason.is_none()).collect()
    }

    /// True when a gating figure regressed, is implausible, or is missing without a reason, or
    /// a filter × arm newly fails: the comparison fails (see [`Comparison::outcome`]).
    pub fn has_regression(&self) -> bool {
        !self.implausible.is_empty()
            || !self.new_failures.is_empty()
            || self.count(Verdict::Regressed) > 0
            || !self.unexplained_missing().is_empty()
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

    /// The summary (verdict, regressions, improvements, failures, what could be detected) as
    /// Markdown, with every gating figure in narrow tables: a job summary shows what the gate
    /// could see on each.
    pub fn markdown(&self) -> String {
        let mut page = self.page();
        for s in page.sections.iter_mut().filter(|s| s.id == page::GATING) {
            s.summary = true;
            s.blocks = page::narrow_gate_tables(self)
                .into_iter()
                .map(crate::doc::Block::Table)
                .collect();
            s.blocks.insert(
                0,
                crate::doc::Block::Para(
                    "Could flag: at each figure's Holm step (the HTML page gives the level and \
                     the 95% intervals); \">\" marks a deterministic figure judged by size."
                        .into(),
                ),
            );
        }
        crate::doc::markdown(&page, true)
    }
}
