//! The results vocabulary: every phase, metric, unit, arm kind, failure stage and well-known arm
//! name, defined once. Rows carry these types, serde writes them as the same readable words the
//! JSON always had, and a metric knows its unit, which direction is better, and whether it may
//! gate a nightly comparison — so no other crate spells a name or guesses a unit.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod arm;
mod metric;
pub mod protocol;
pub mod reach;

pub use metric::{CALLS_PREFIX, Metric};

/// What part of a filter's life a figure measures.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Steady-state requests (in process or through Envoy).
    #[default]
    Request,
    /// Compiling the module (validation included).
    Compile,
    /// Instantiating a compiled module.
    Instantiate,
    /// Starting the VM and configuring the plugin.
    Start,
    /// The first request on a fresh VM.
    FirstRequest,
    /// Footprint: module, per VM, per worker.
    Memory,
    /// The instrumented breakdown (attribution, not cost).
    Profile,
    /// A filter failing on purpose under load: what its failure costs the host (blast radius).
    Fault,
    /// Swapping a filter's version in a running host under load (live reload).
    Reload,
    /// What a probe filter could reach beyond the host API (per attempted access).
    Reach,
}

impl Phase {
    /// The cold-start phases, in the order they happen.
    pub const COLD_START: [Phase; 4] = [
        Phase::Compile,
        Phase::Instantiate,
        Phase::Start,
        Phase::FirstRequest,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Phase::Request => "request",
            Phase::Compile => "compile",
            Phase::Instantiate => "instantiate",
            Phase::Start => "start",
            Phase::FirstRequest => "first_request",
            Phase::Memory => "memory",
            Phase::Profile => "profile",
            Phase::Fault => "fault",
            Phase::Reload => "reload",
            Phase::Reach => "reach",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The unit of a figure.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum Unit {
    #[default]
    #[serde(rename = "ns")]
    Ns,
    #[serde(rename = "req/s")]
    PerSecond,
    #[serde(rename = "bytes")]
    Bytes,
    #[serde(rename = "count")]
    Count,
    /// A ratio of two figures (derived, e.g. by compare).
    #[serde(rename = "×")]
    Ratio,
}

impl Unit {
    pub const fn name(self) -> &'static str {
        match self {
            Unit::Ns => "ns",
            Unit::PerSecond => "req/s",
            Unit::Bytes => "bytes",
            Unit::Count => "count",
            Unit::Ratio => "×",
        }
    }
}

/// Which way a change of a figure is an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
    /// Descriptive (a count of calls, a file size): a change is news, not a verdict.
    Neither,
}

/// A name that is not in the vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}`")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
}

/// What sort of arm produced a figure.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ArmKind {
    /// The filter's native build, in process.
    Native,
    /// The filter's `.wasm` on an in-process engine.
    Wasm,
    /// A live Envoy variant.
    Envoy,
    /// The host driving empty callbacks: its own cost, subtracted for "net" figures.
    Harness,
    /// Not listed by the run (a row of an unknown arm).
    #[default]
    Other,
}

impl ArmKind {
    /// Display order of kinds.
    pub const ORDER: [ArmKind; 5] = [
        ArmKind::Native,
        ArmKind::Wasm,
        ArmKind::Envoy,
        ArmKind::Harness,
        ArmKind::Other,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            ArmKind::Native => "native",
            ArmKind::Wasm => "wasm",
            ArmKind::Envoy => "envoy",
            ArmKind::Harness => "harness",
            ArmKind::Other => "other",
        }
    }
}

impl fmt::Display for ArmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a filter × arm failed.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The worker could not start its plan.
    #[default]
    Worker,
    /// The engine or the module could not be loaded.
    Load,
    /// The proof before timing (fixture case, equality with the reference arm).
    Verify,
    /// While timed: a trap, a stopped callback, or an output that differs from the proof.
    Run,
    Coldstart,
    Memory,
    Profile,
    /// Instruction counting (callgrind).
    Instructions,
    /// Envoy's per-worker memory scaling.
    Scaling,
    /// Sampling for a flame graph (perf).
    Flamegraph,
    /// A blast-radius, live-reload or reach measurement (issue 22's phases).
    Promise,
}

impl Stage {
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Worker => "worker",
            Stage::Load => "load",
            Stage::Verify => "verify",
            Stage::Run => "run",
            Stage::Coldstart => "coldstart",
            Stage::Memory => "memory",
            Stage::Profile => "profile",
            Stage::Instructions => "instructions",
            Stage::Scaling => "scaling",
            Stage::Flamegraph => "flamegraph",
            Stage::Promise => "promise",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `FromStr` for the closed word lists, by their names (`"first_request".parse::<Phase>()`).
macro_rules! parse_by_name {
    ($($t:ident: $($v:ident),+;)+) => {$(
        impl FromStr for $t {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<$t, UnknownName> {
                [$($t::$v),+]
                    .into_iter()
                    .find(|x| x.name() == s)
                    .ok_or_else(|| UnknownName { kind: stringify!($t), name: s.to_string() })
            }
        }
    )+};
}

parse_by_name! {
    Phase: Request, Compile, Instantiate, Start, FirstRequest, Memory, Profile, Fault, Reload, Reach;
    Unit: Ns, PerSecond, Bytes, Count, Ratio;
    ArmKind: Native, Wasm, Envoy, Harness, Other;
    Stage: Worker, Load, Verify, Run, Coldstart, Memory, Profile, Instructions, Scaling, Flamegraph, Promise;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_round_trips_through_its_name_and_json() {
        let mut all = Metric::ALL.to_vec();
        all.push(Metric::calls("proxy_log"));
        for m in all {
            let parsed: Metric = m.name().parse().unwrap();
            assert_eq!(parsed, m);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
            assert_eq!(serde_json::from_str::<Metric>(&json).unwrap(), m);
        }
        let names: std::collections::BTreeSet<_> = Metric::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Metric::ALL.len(), "two metrics share a name");
        assert!("latency_p42".parse::<Metric>().is_err());
    }

    #[test]
    fn words_in_json_are_the_names() {
        assert_eq!(
            serde_json::to_string(&Phase::FirstRequest).unwrap(),
            "\"first_request\""
        );
        assert_eq!(
            serde_json::to_string(&Unit::PerSecond).unwrap(),
            "\"req/s\""
        );
        assert_eq!(
            serde_json::to_string(&ArmKind::Harness).unwrap(),
            "\"harness\""
        );
        assert_eq!(
            serde_json::to_string(&Stage::Coldstart).unwrap(),
            "\"coldstart\""
        );
        for p in Phase::COLD_START {
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.name())
            );
        }
    }
}
