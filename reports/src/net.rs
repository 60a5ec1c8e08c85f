//! Costs net of the empty pipeline, their ratios, and the verdict on the "wasm runs at ≥ 70%
//! of native speed" claim — computed once here and read by the HTML, Markdown and terminal
//! renderings (and `compare`), so they cannot disagree.
//!
//! Net: per process, the arm's figure minus its baseline's (the `harness` arm for in-process
//! arms, `<kind>-none` for a proxy kind) for the same filter × scenario × metric; then the
//! estimate over processes (mean, 95% CI of the mean). A gross figure includes the host and
//! the timing loop, which are the same for every arm and so pull every ratio toward 1.
//!
//! Resolution rule: a net figure is *below resolution* when the 95% CI of its per-process
//! differences reaches 0 or below (`ci_low ≤ 0`). It is then shown as "below resolution (< X)",
//! X being the CI's upper bound — never as a negative number. The differences are paired (arm
//! and baseline ran interleaved in one process), so drift the two share between processes
//! cancels in them; the baseline's own spread over processes is not a resolution limit.

use std::collections::BTreeMap;

use filterbench_results::stats::{Estimate, estimate};
use filterbench_results::summary::Key;
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm};

use crate::doc::{Cell, Tone};
use crate::format;
use crate::model::Analysis;

/// The figure net ratios and the claim are judged on: CPU per request on one thread.
pub fn cpu_key(filter: &str, scenario: &str, arm: &str) -> Key {
    Key::new(
        filter,
        scenario,
        arm,
        Phase::Request,
        Metric::CpuPerRequest,
        1,
    )
}

/// A process's own relative interval of a net CPU figure beyond which it is set aside: ±100%,
/// where the process cannot tell the net from zero (the quick profile aims at ±3%).
pub const DISTURBED_CI: f64 = 1.0;

/// The claim: wasm runs at this share of native speed or better.
pub const CLAIM_SPEED: f64 = 0.70;
/// The same claim as a cost ratio: wasm net CPU ÷ native net CPU at most this (≈ 1.43×).
pub const CLAIM_MAX_COST: f64 = 1.0 / CLAIM_SPEED;

/// A net figure.
#[derive(Clone, Debug, PartialEq)]
pub enum Net {
    Measured(Estimate),
    /// Not distinguishable from zero (see the module's rule); the net is below `limit`.
    BelowResolution {
        limit: f64,
    },
}

/// A ratio of net figures, process by process.
#[derive(Clone, Debug, PartialEq)]
pub enum NetRatio {
    Measured {
        est: Estimate,
        /// The ratio in each process, for aggregates that keep processes paired.
        per_process: BTreeMap<u32, f64>,
    },
    /// The reference's net is below resolution (or not positive in some process): no ratio.
    CannotTell(String),
}

/// The claim judged on an interval of the cost ratio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The whole interval is at or under [`CLAIM_MAX_COST`].
    Holds,
    /// The whole interval is above it.
    Fails,
    /// The interval straddles it, or there is no interval (one process, no ratio).
    CannotTell,
}

impl Claim {
    /// From the 95% CI of the mean of a cost ratio.
    pub fn of(e: &Estimate) -> Claim {
        if e.n < 2 {
            Claim::CannotTell
        } else if e.ci_high <= CLAIM_MAX_COST {
            Claim::Holds
        } else if e.ci_low > CLAIM_MAX_COST {
            Claim::Fails
        } else {
            Claim::CannotTell
        }
    }

    pub fn of_ratio(r: &NetRatio) -> Claim {
        match r {
            NetRatio::Measured { est, .. } => Claim::of(est),
            NetRatio::CannotTell(_) => Claim::CannotTell,
        }
    }

    pub fn word(&self) -> &'static str {
        match self {
            Claim::Holds => "holds",
            Claim::Fails => "fails",
            Claim::CannotTell => "cannot tell",
        }
    }

    pub fn tone(&self) -> Tone {
        match self {
            Claim::Holds => Tone::Good,
            Claim::Fails => Tone::Poor,
            Claim::CannotTell => Tone::Muted,
        }
    }
}

impl Analysis<'_> {
    /// The arm whose figure is subtracted from `arm`'s to get its net cost: the harness arm
    /// for in-process arms (native, wasm), Envoy without a filter for Envoy variants. None for the
    /// baselines themselves and when the run has no such arm.
    pub fn baseline(&self, name: &str) -> Option<&str> {
        let kind = self.kind(name);
        let found = match kind {
            ArmKind::Harness | ArmKind::Other => None,
            ArmKind::Native | ArmKind::Wasm => {
                self.arms.iter().find(|a| a.kind == ArmKind::Harness)
            }
            ArmKind::Envoy => self.arms.iter().find(|a| a.name == arm::ENVOY_NONE),
        };
        found.map(|a| a.name.as_str()).filter(|b| *b != name)
    }

    /// Per process, `key` minus the same figure of its baseline arm — less the processes set
    /// aside as disturbed ([`Analysis::disturbed`]).
    fn net_values(&self, key: &Key) -> Option<BTreeMap<u32, f64>> {
        let base = self.baseline(&key.arm)?;
        let a = self.table.get(key)?;
        let b = self.table.get(&key.with_arm(base))?;
        let off = self.disturbed(key);
        let d: BTreeMap<u32, f64> = a
            .iter()
            .filter(|(p, _)| !off.contains_key(p))
            .filter_map(|(p, v)| b.get(p).map(|w| (*p, v - w)))
            .collect();
        (!d.is_empty()).then_some(d)
    }

    /// The processes whose own interval of `key`'s net CPU per request (recorded at the stop
    /// of its timed rounds) was wider than ±[`DISTURBED_CI`] — a process that could not tell
    /// the net from zero, disturbed by something else on the machine — with that interval.
    /// Their figure is set aside from every net and ratio (and said so in the answer) while
    /// the run keeps at least two others; an in-process figure only (Envoy records none).
    pub fn disturbed(&self, key: &Key) -> BTreeMap<u32, f64> {
        let ci = Key {
            metric: Metric::CpuCiWithin,
            ..key.clone()
        };
        let (Some(within), Some(all)) = (self.table.get(&ci), self.table.get(key)) else {
            return BTreeMap::new();
        };
        let off: BTreeMap<u32, f64> = within
            .iter()
            .filter(|(_, v)| **v > DISTURBED_CI)
            .map(|(p, v)| (*p, *v))
            .collect();
        if all.len().saturating_sub(off.len()) < 2 {
            return BTreeMap::new();
        }
        off
    }

    /// `key` net of its baseline (see the module's rule for "below resolution"). None when
    /// the arm has no baseline or either figure is missing.
    pub fn net(&self, key: &Key) -> Option<Net> {
        let d = self.net_values(key)?;
        let e = estimate(&d.into_values().collect::<Vec<_>>())?;
        Some(if e.ci_low <= 0.0 {
            Net::BelowResolution {
                limit: e.ci_high.max(0.0),
            }
        } else {
            Net::Measured(e)
        })
    }

    /// `key`'s net over its reference arm's net ([`Analysis::reference`]), process by
    /// process. None when the arm has no reference, the reference is its own baseline (a
    /// net of zero), or a figure is missing.
    pub fn net_ratio(&self, key: &Key) -> Option<NetRatio> {
        let reference = self.reference_for(&key.filter, &key.arm)?;
        if Some(reference) == self.baseline(&key.arm) {
            return None;
        }
        self.net_ratio_of(key, &key.with_arm(reference))
    }

    /// `key`'s net over `reference`'s net (any figure, e.g. another filter's native build),
    /// process by process. "Cannot tell" when the reference's net is below resolution or not
    /// positive in a process.
    pub fn net_ratio_of(&self, key: &Key, reference: &Key) -> Option<NetRatio> {
        let a = self.net_values(key)?;
        let b = self.net_values(reference)?;
        if let Net::BelowResolution { limit } = self.net(reference)? {
            return Some(NetRatio::CannotTell(format!(
                "{}'s net cost is below resolution (< {})",
                reference.arm,
                format::ns(limit)
            )));
        }
        let mut per_process = BTreeMap::new();
        for (p, v) in &a {
            if let Some(w) = b.get(p) {
                if *w <= 0.0 {
                    return Some(NetRatio::CannotTell(format!(
                        "{}'s net cost is not above 0 in process {p}",
                        reference.arm
                    )));
                }
                per_process.insert(*p, v / w);
            }
        }
        let est = estimate(&per_process.values().copied().collect::<Vec<_>>())?;
        Some(NetRatio::Measured { est, per_process })
    }

    /// Why a figure was not published, when the run says so (reasons of every process).
    pub fn absent(&self, key: &Key) -> Option<String> {
        let mut reasons: Vec<&str> = self
            .results
            .absent
            .iter()
            .filter(|x| {
                x.filter == key.filter
                    && x.scenario == key.scenario
                    && x.arm == key.arm
                    && x.phase == key.phase
                    && x.metric == key.metric
                    && x.threads == key.threads
            })
            .map(|x| x.reason.as_str())
            .collect();
        reasons.sort_unstable();
        reasons.dedup();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

/// A cost ratio: "2.90×".
pub fn times(r: f64) -> String {
    if !r.is_finite() {
        "–".into()
    } else if r.abs() >= 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

/// A figure with its own interval: "519 ns ±4.1%" (mean, half-width of the 95% CI of the
/// mean) — the interval always belongs to the mean shown.
pub fn mean_cell(e: &Estimate, fmt: fn(f64) -> String) -> Cell {
    let c = Cell::num(fmt(e.mean));
    if e.n > 1 {
        c.with_sub(format!("±{:.1}%", e.relative_ci() * 100.0))
    } else {
        c
    }
}

/// A net figure: mean ± CI, or "below resolution (< X)".
pub fn net_cell(n: &Net) -> Cell {
    match n {
        Net::Measured(e) => mean_cell(e, format::ns),
        Net::BelowResolution { limit } if *limit > 0.0 => {
            Cell::num(format!("below resolution (< {})", format::ns(*limit))).tone(Tone::Muted)
        }
        Net::BelowResolution { .. } => Cell::num("below resolution").tone(Tone::Muted),
    }
}

/// A net cost ratio with its 95% CI and the claim's verdict on it, toned by the verdict.
pub fn net_ratio_cell(r: &NetRatio) -> Cell {
    match r {
        NetRatio::Measured { est, .. } => {
            let claim = Claim::of(est);
            let c = Cell::num(times(est.mean)).tone(claim.tone());
            if est.n > 1 {
                c.with_sub(format!(
                    "[{}, {}] {}",
                    times(est.ci_low).trim_end_matches('×'),
                    times(est.ci_high).trim_end_matches('×'),
                    claim.word()
                ))
            } else {
                c.with_sub(format!("one process: {}", claim.word()))
            }
        }
        NetRatio::CannotTell(why) => Cell::num("cannot tell")
            .tone(Tone::Muted)
            .with_sub(why.as_str()),
    }
}

/// A cell for a figure that is not there: the run's reason when it gave one.
pub fn missing_cell(a: &Analysis, key: &Key) -> Cell {
    match a.absent(key) {
        Some(why) => Cell::num(format!("absent: {why}")).tone(Tone::Muted),
        None => Cell::none(),
    }
}

/// The geometric mean of several net ratios, process by process (each process's geometric
/// mean over the ratios, then the estimate over processes), so the aggregate has an interval
/// of its own. "Cannot tell" ratios are left out; the second value counts them. None when no
/// process has every measured ratio.
pub fn geomean(ratios: &[&NetRatio]) -> (Option<NetRatio>, usize) {
    let measured: Vec<&BTreeMap<u32, f64>> = ratios
        .iter()
        .filter_map(|r| match r {
            NetRatio::Measured { per_process, .. } => Some(per_process),
            NetRatio::CannotTell(_) => None,
        })
        .collect();
    let skipped = ratios.len() - measured.len();
    let Some(first) = measured.first() else {
        return (None, skipped);
    };
    let mut per_process = BTreeMap::new();
    for p in first.keys() {
        let values: Option<Vec<f64>> = measured.iter().map(|m| m.get(p).copied()).collect();
        // A process without every ratio cannot be paired; a ratio ≤ 0 has no logarithm.
        let Some(values) = values else { continue };
        if values.iter().any(|v| *v <= 0.0) {
            let why = format!("a net ratio is not above 0 in process {p}");
            return (Some(NetRatio::CannotTell(why)), skipped);
        }
        let mean_log = values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64;
        per_process.insert(*p, mean_log.exp());
    }
    let est = estimate(&per_process.values().copied().collect::<Vec<_>>());
    (
        est.map(|est| NetRatio::Measured { est, per_process }),
        skipped,
    )
}
