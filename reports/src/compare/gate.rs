//! The gating figures: the one table of what can fail a comparison. Every other figure of a
//! run is reported with a verdict but never gates. Each gating figure is derived per process
//! from the raw rows (a ratio to another arm, or net of the harness), so the drift that the
//! arms of one process share cancels before two runs are compared.

use std::collections::BTreeMap;

use filterbench_results::Results;
use filterbench_results::stats::Estimate;
use filterbench_results::summary::{Key, difference, ratio_of};

use crate::model::Analysis;
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm};

/// How a gating figure is derived from its source rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derive {
    /// The figure itself.
    Raw,
    /// Minus the same figure of the harness arm (the host's own cost), process by process.
    NetOfHarness,
    /// Over the same figure of the arm's reference ([`Analysis::reference`]).
    RatioToReference,
    /// Over the same figure of a named arm.
    RatioTo(&'static str),
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
    /// Repeats of the same build agree exactly (counted, not timed): when the repeats of both
    /// runs agree within [`super::Thresholds::agreement`], the change gates on its size alone.
    pub deterministic: bool,
}

const IN_PROCESS: &[ArmKind] = &[ArmKind::Native, ArmKind::Wasm];
const WASM: &[ArmKind] = &[ArmKind::Wasm];
const ENVOY: &[ArmKind] = &[ArmKind::Envoy];
const ANY: &[ArmKind] = &[ArmKind::Native, ArmKind::Wasm, ArmKind::Envoy];

/// The gating set.
pub const GATES: &[Gate] = &[
    Gate {
        name: Metric::CpuRatioToReference,
        phase: Phase::Request,
        metric: Metric::CpuPerRequest,
        threads: Some(1),
        kinds: WASM,
        derive: Derive::RatioToReference,
        deterministic: false,
    },
    Gate {
        name: Metric::CpuNetOfHarness,
        phase: Phase::Request,
        metric: Metric::CpuPerRequest,
        threads: Some(1),
        kinds: IN_PROCESS,
        derive: Derive::NetOfHarness,
        deterministic: false,
    },
    Gate {
        name: Metric::Throughput1Thread,
        phase: Phase::Request,
        metric: Metric::Throughput,
        threads: Some(1),
        kinds: IN_PROCESS,
        derive: Derive::Raw,
        deterministic: false,
    },
    Gate {
        name: Metric::InstructionsPerRequest,
        phase: Phase::Request,
        metric: Metric::Instructions,
        threads: None,
        kinds: ANY,
        derive: Derive::Raw,
        deterministic: true,
    },
    Gate {
        name: Metric::CompileTime,
        phase: Phase::Compile,
        metric: Metric::Time,
        threads: None,
        kinds: WASM,
        derive: Derive::Raw,
        deterministic: false,
    },
    Gate {
        name: Metric::MemoryPerVm,
        phase: Phase::Memory,
        metric: Metric::RssPerVmBytes,
        threads: None,
        kinds: IN_PROCESS,
        derive: Derive::Raw,
        deterministic: false,
    },
    Gate {
        name: Metric::EnvoyCpuVsNone,
        phase: Phase::Request,
        metric: Metric::CpuPerRequest,
        threads: None,
        kinds: ENVOY,
        derive: Derive::RatioTo(arm::ENVOY_NONE),
        deterministic: false,
    },
    Gate {
        name: Metric::EnvoyCpuVsNativeModule,
        phase: Phase::Request,
        metric: Metric::CpuPerRequest,
        threads: None,
        kinds: ENVOY,
        derive: Derive::RatioTo(arm::ENVOY_NATIVE_MODULE),
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
    /// The arm of the key plus the arm it is taken against, if any.
    pub arms: Vec<String>,
}

/// The arm a gate takes `arm` against, `Some(None)` for a raw figure, `None` when the gate
/// does not apply to the arm.
fn against<'a>(g: &Gate, a: &'a Analysis, arm: &str) -> Option<Option<&'a str>> {
    if !g.kinds.contains(&a.kind(arm)) {
        return None;
    }
    let harness = || {
        a.arms
            .iter()
            .find(|x| x.kind == ArmKind::Harness)
            .map(|x| x.name.as_str())
    };
    let named = |n: &'static str| a.arms.iter().find(|x| x.name == n).map(|x| x.name.as_str());
    match g.derive {
        Derive::Raw => Some(None),
        Derive::NetOfHarness => harness().map(Some),
        Derive::RatioToReference => a.reference(arm).map(Some),
        Derive::RatioTo(n) if n == arm => None,
        Derive::RatioTo(n) => named(n).map(Some),
    }
}

/// Every gating figure of a run, keyed with the gate's name as the metric.
pub fn figures(results: &Results) -> BTreeMap<Key, Figure> {
    let a = Analysis::new(results);
    let mut out = BTreeMap::new();
    for g in GATES {
        for k in a.table.keys() {
            if k.phase != g.phase
                || k.metric != g.metric
                || g.threads.is_some_and(|t| t != k.threads)
            {
                continue;
            }
            let Some(other) = against(g, &a, &k.arm) else {
                continue;
            };
            let value = match (g.derive, other) {
                (_, None) => a.est.get(k).copied(),
                (Derive::NetOfHarness, Some(h)) => difference(&a.table, k, h),
                (_, Some(r)) => ratio_of(&a.table, k, &k.with_arm(r)),
            };
            let Some(value) = value else { continue };
            let mut arms = vec![k.arm.clone()];
            arms.extend(other.map(str::to_string));
            let key = Key {
                metric: g.name,
                ..k.clone()
            };
            out.insert(
                key,
                Figure {
                    gate: g,
                    value,
                    arms,
                },
            );
        }
    }
    out
}
