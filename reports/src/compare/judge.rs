//! From two estimates of a figure to a verdict, Holm's control over the gating set (and the
//! smallest change each gating figure could have been flagged at), and why a gating figure of
//! the base is missing from the new run.

use filterbench_results::Results;
use filterbench_results::stats::Estimate;
use filterbench_results::summary::Key;
use filterbench_results::vocab::{Metric, Phase};

use super::stats::{detectable, holm, welch};
use super::{Change, Rule, Thresholds, Verdict};

/// `(max − min) / |mean|` of the repeats.
fn spread(e: &Estimate) -> f64 {
    (e.max - e.min) / e.mean.abs()
}

/// A change with its verdict before any multiplicity control (the raw p decides).
pub fn judge(
    key: Key,
    unit: &str,
    base: Estimate,
    new: Estimate,
    bigger_is_better: bool,
    deterministic: bool,
    t: &Thresholds,
) -> Change {
    let mut c = Change {
        key,
        unit: unit.to_string(),
        base,
        new,
        change: f64::NAN,
        ci_low: f64::NAN,
        ci_high: f64::NAN,
        p: f64::NAN,
        p_adjusted: f64::NAN,
        bigger_is_better,
        verdict: Verdict::Unsure,
        rule: Rule::TooFew,
        gating: false,
        alpha: f64::NAN,
        detectable: None,
    };
    let Some(w) = welch(&base, &new) else {
        return c;
    };
    (c.change, c.ci_low, c.ci_high, c.p) = (w.change, w.lo95, w.hi95, w.p);
    let agree = |e: &Estimate| e.n >= 2 && spread(e) <= t.agreement;
    if deterministic && agree(&base) && agree(&new) {
        c.rule = Rule::Deterministic;
        c.verdict = by_size(w.change, t.deterministic_pct / 100.0, bigger_is_better);
        // Judged by size alone: any change beyond the threshold is flagged.
        c.detectable = Some(t.deterministic_pct / 100.0);
        return c;
    }
    c.rule = Rule::Welch;
    // Uncorrected until `control` says what level the figure faces in the gating family.
    c.alpha = t.alpha;
    c.detectable = detectable(&c.base, &c.new, t.alpha);
    let thr = t.pct / 100.0;
    c.verdict = if w.p <= t.alpha && w.change.abs() > thr {
        by_size(w.change, thr, bigger_is_better)
    } else if w.lo90 > -thr && w.hi90 < thr {
        Verdict::Unchanged
    } else {
        Verdict::Unsure
    };
    c
}

fn by_size(change: f64, thr: f64, bigger_is_better: bool) -> Verdict {
    if change.abs() <= thr {
        Verdict::Unchanged
    } else if (change > 0.0) == bigger_is_better {
        Verdict::Improved
    } else {
        Verdict::Regressed
    }
}

/// Holm over the gating figures judged by Welch's test: a regression or improvement stands
/// only when its adjusted p is at most alpha; otherwise it becomes unsure (its interval
/// already failed the equivalence test, being beyond the threshold).
///
/// Then each figure's level and smallest detectable change. The level is the Holm step the
/// figure would be tested at were its change the one to flag, every other p as it is: Holm
/// rejects a prefix of the sorted p-values, so with `k` other figures flagged it would come
/// next, at `α / (m − k)` — `α / m` (Bonferroni) when nothing else is flagged. Not the step of
/// its own rank: a figure whose p is large sits late, at a lenient step it would leave the
/// moment its change grew.
pub fn control(gates: &mut [Change], t: &Thresholds) {
    let p: Vec<f64> = gates
        .iter()
        .map(|c| if c.rule == Rule::Welch { c.p } else { f64::NAN })
        .collect();
    let adjusted = holm(&p);
    let family = adjusted.iter().filter(|a| a.is_finite()).count();
    let flagged = adjusted.iter().filter(|a| **a <= t.alpha).count();
    for (c, adj) in gates.iter_mut().zip(adjusted) {
        c.p_adjusted = adj;
        if c.rule != Rule::Welch {
            continue;
        }
        let significant = adj <= t.alpha;
        if matches!(c.verdict, Verdict::Regressed | Verdict::Improved) && !significant {
            c.verdict = Verdict::Unsure;
        }
        if !adj.is_finite() {
            continue;
        }
        let others = flagged - usize::from(significant);
        c.alpha = t.alpha / (family - others) as f64;
        c.detectable = detectable(&c.base, &c.new, c.alpha);
    }
}

/// Why `new` lacks a figure of `arms` (the figure's own arm and the one it is taken against),
/// if it says: the filter or an arm was not selected, failed, or is listed as absent.
pub fn explain(
    new: &Results,
    key: &Key,
    source_phase: Phase,
    source_metric: Metric,
    arms: &[String],
) -> Option<String> {
    if !new.filters.is_empty() && !new.filters.iter().any(|f| f.name == key.filter) {
        return Some(format!("filter {} not selected", key.filter));
    }
    let matches_arm = |pattern: &str, arm: &str| {
        pattern == arm
            || pattern
                .strip_suffix('*')
                .is_some_and(|prefix| arm.starts_with(prefix))
    };
    for arm in arms {
        if !new.arms.iter().any(|a| &a.name == arm) {
            return Some(format!("arm {arm} not run"));
        }
        if let Some(f) = new
            .failures
            .iter()
            .find(|f| f.filter == key.filter && matches_arm(&f.arm, arm))
        {
            return Some(format!("{arm} failed at {}: {}", f.stage, f.message));
        }
        if let Some(a) = new.absent.iter().find(|a| {
            a.filter == key.filter
                && a.arm == *arm
                && a.phase == source_phase
                && a.metric == source_metric
                && (a.scenario.is_empty() || a.scenario == key.scenario)
        }) {
            return Some(a.reason.clone());
        }
    }
    None
}
