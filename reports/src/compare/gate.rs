//! The gating figures: the one table of what can fail a comparison. Every other figure of a
//! run is reported with a verdict but never gates. Each gating figure is derived per process
//! from the raw rows (net of the arm's baseline, or a ratio of nets), so the drift that the
//! arms of one process share cancels before two runs are compared.
//!
//! Why this set and not every figure: each timed gate is one more hypothesis in Holm's family,
//! and the first Holm step tests at α/m — with m ≈ 900 (every scenario × arm × eight figures,
//! as before) and the 2–4 degrees of freedom of a quick run, only a change of ~80% of a figure
//! could be flagged. So the set is the headline figures, each a cost a regression of ours
//! would move that no other gate already carries:
//! - **net CPU per request** (net of the harness) of every in-process arm, and **Envoy's own
//!   cost** (net of `envoy-none`) of every Envoy variant: the absolute cost;
//! - **net CPU over the reference arm's net** ([`Analysis::net_ratio`]: the report's headline
//!   answer), for wasm in process and for the Envoy variants that have a reference other than
//!   their baseline — the gross ratio it replaces is pulled towards 1 by the harness's own cost
//!   and carries the harness's noise twice;
//! - each filter's **first scenario** only (its headline scenario, in the run's listing order):
//!   further scenarios are other inputs through the same code, which a regression of that code
//!   moves too; they are still compared, for reading;
//! - compile time (wasm) and memory per VM, per filter: costs the request figures cannot show;
//! - instructions per request on every scenario: counted, not timed — when the repeats agree
//!   they are judged by size alone and do not join Holm's family, so they cost it nothing.
//!
//! Left out (reported, not gating): single-thread throughput (the reciprocal of the same
//! loop's wall time: net CPU says it with less noise), latency percentiles, gross ratios.
//! A headline figure the base cannot resolve (a net below resolution, a ratio over one) is
//! listed as not gated with its reason, never judged on a relative change of nothing.

use std::collections::BTreeMap;

use filterbench_results::Results;
use filterbench_results::stats::Estimate;
use filterbench_results::summary::Key;

use crate::model::Analysis;
use crate::net::{Net, NetRatio};
use filterbench_results::vocab::{ArmKind, Metric, Phase};

/// How a gating figure is derived from its source rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derive {
    /// The figure itself.
    Raw,
    /// Minus the same figure of the arm's baseline ([`Analysis::baseline`]: the harness in
    /// process, `envoy-none` in Envoy), process by process ([`Analysis::net`]).
    Net,
    /// Net, over the net of the arm's reference ([`Analysis::net_ratio`]).
    NetRatioToReference,
}

/// One declared gating figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gate {
    /// The gating figure (a derived metric of the vocabulary: its name, unit and better
    /// direction), used as the metric of its key in a comparison.
    pub name: Metric,
    /// The rows it is derived from.
    pub phase: Phase,
    pub metric: Metric,
    /// Only rows of this thread count (None: every count).
    pub threads: Option<u32>,
    /// Arm kinds it applies to.
    pub kinds: &'static [ArmKind],
    pub derive: Derive,
    /// Only each filter × arm's first scenario (the run's listing order) gates.
    pub first_scenario: bool,
    /// Repeats of the same build agree exactly (counted, not timed): when the repeats of both
    /// runs agree within [`super::Thresholds::agreement`], the change gates on its size alone.
    pub deterministic: bool,
}

const IN_PROCESS: &[ArmKind] = &[ArmKind::Native, ArmKind::Wasm];
const WASM: &[ArmKind] = &[ArmKind::Wasm];
const ENVOY: &[ArmKind] = &[ArmKind::Envoy];
const WITH_REFERENCE: &[ArmKind] = &[ArmKind::Wasm, ArmKind::Envoy];
const ANY: &[ArmKind] = &[ArmKind::Native, ArmKind::Wasm, ArmKind::Envoy];

/// The gating set (see the module's comment for why these).
pub const GATES: &[Gate] = &[
    Gate {
        name: Metric::CpuNetOfHarness,
        phase: Phase::Request,
        metric: Metric::CpuPerRequest,
        threads: Some(1),
        kinds: IN_PROCESS,
        derive: Derive::Net,
        first_scenario: true,
        deterministic: false,
    },
    Gate {
        name: Metric::EnvoyCpuNetOfNone,
        phase: Phase::Request,
        metric: Metric::CpuPerRequest,
        threads: Some(1),
        kinds: ENVOY,
        derive: Derive::Net,
        first_scenario: true,
        deterministic: false,
    },
    Gate {
        name: Metric::CpuNetRatioToReference,
        phase: Phase::Request,
        metric: Metric::CpuPerRequest,
        threads: Some(1),
        kinds: WITH_REFERENCE,
        derive: Derive::NetRatioToReference,
        first_scenario: true,
        deterministic: false,
    },
    Gate {
        name: Metric::InstructionsPerRequest,
        phase: Phase::Request,
        metric: Metric::Instructions,
        threads: None,
        kinds: ANY,
        derive: Derive::Raw,
        first_scenario: false,
        deterministic: true,
    },
    Gate {
        name: Metric::CompileTime,
        phase: Phase::Compile,
        metric: Metric::Time,
        threads: None,
        kinds: WASM,
        derive: Derive::Raw,
        first_scenario: false,
        deterministic: false,
    },
    Gate {
        name: Metric::MemoryPerVm,
        phase: Phase::Memory,
        metric: Metric::RssPerVmBytes,
        threads: None,
        kinds: IN_PROCESS,
        derive: Derive::Raw,
        first_scenario: false,
        deterministic: false,
    },
];

pub fn gate(name: Metric) -> Option<&'static Gate> {
    GATES.iter().find(|g| g.name == name)
}

/// A gating figure of one run: its estimate and the arms it was computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub gate: &'static Gate,
    pub value: Estimate,
    /// The arm of the key plus the arms it is taken against, if any.
    pub arms: Vec<String>,
}

/// A gating figure a run has the rows of but cannot resolve (a net below resolution, a ratio
/// over one): not a number to judge.
#[derive(Clone, Debug, PartialEq)]
pub struct Unresolved {
    pub gate: &'static Gate,
    pub reason: String,
}

/// The gating figures of one run, keyed with the gate's name as the metric.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    pub measured: BTreeMap<Key, Figure>,
    pub unresolved: BTreeMap<Key, Unresolved>,
}

/// Whether `g` applies to `arm`, and the arms it is taken against (baseline, reference).
fn against(g: &Gate, a: &Analysis, filter: &str, arm: &str) -> Option<Vec<String>> {
    if !g.kinds.contains(&a.kind(arm)) {
        return None;
    }
    let baseline = || a.baseline(arm).map(str::to_string);
    match g.derive {
        Derive::Raw => Some(Vec::new()),
        Derive::Net => Some(vec![baseline()?]),
        Derive::NetRatioToReference => {
            let reference = a.reference_for(filter, arm)?;
            // A reference that is the arm's own baseline has a net of zero: no ratio.
            (Some(reference) != a.baseline(arm))
                .then(|| vec![baseline(), Some(reference.to_string())])
                .and_then(|v| v.into_iter().collect())
        }
    }
}

/// Every gating figure of a run.
pub fn figures(results: &Results) -> Figures {
    let a = Analysis::new(results);
    let order: BTreeMap<(String, String), usize> = a
        .scenarios()
        .into_iter()
        .enumerate()
        .map(|(i, fs)| (fs, i))
        .collect();
    let mut out = Figures::default();
    for g in GATES {
        let sources = a.table.keys().filter(|k| {
            k.phase == g.phase && k.metric == g.metric && g.threads.is_none_or(|t| t == k.threads)
        });
        // Per filter × arm, the source keys that gate: all, or the first scenario's.
        let mut chosen: BTreeMap<(&str, &str), Vec<&Key>> = BTreeMap::new();
        for k in sources {
            let slot = chosen.entry((&k.filter, &k.arm)).or_default();
            let rank = |k: &Key| {
                order
                    .get(&(k.filter.clone(), k.scenario.clone()))
                    .copied()
                    .unwrap_or(usize::MAX)
            };
            match slot.first() {
                Some(first) if g.first_scenario && rank(first) <= rank(k) => {}
                Some(_) if g.first_scenario => *slot = vec![k],
                _ => slot.push(k),
            }
        }
        for k in chosen.into_values().flatten() {
            let Some(others) = against(g, &a, &k.filter, &k.arm) else {
                continue;
            };
            let key = Key {
                metric: g.name,
                ..k.clone()
            };
            let value = match g.derive {
                Derive::Raw => a.est.get(k).copied().ok_or_else(String::new),
                Derive::Net => match a.net(k) {
                    Some(Net::Measured(e)) => Ok(e),
                    Some(Net::BelowResolution { limit }) => Err(format!(
                        "net of {} below resolution (< {})",
                        others[0],
                        crate::format::unit(g.name.unit().name(), limit)
                    )),
                    None => Err(String::new()),
                },
                Derive::NetRatioToReference => match a.net_ratio(k) {
                    Some(NetRatio::Measured { est, .. }) => Ok(est),
                    Some(NetRatio::CannotTell(why)) => Err(why),
                    None => Err(String::new()),
                },
            };
            let mut arms = vec![k.arm.clone()];
            arms.extend(others);
            match value {
                Ok(value) => {
                    out.measured.insert(
                        key,
                        Figure {
                            gate: g,
                            value,
                            arms,
                        },
                    );
                }
                // No reason: a row the figure needs is missing; nothing to list.
                Err(reason) if reason.is_empty() => {}
                Err(reason) => {
                    out.unresolved.insert(key, Unresolved { gate: g, reason });
                }
            }
        }
    }
    out
}
