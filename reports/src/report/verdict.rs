//! The verdict word of the answer and the one basis it is computed from (see
//! [`super::answer`]).

use filterbench_results::stats::Estimate;

use crate::doc::Tone;
use crate::net::NetRatio;
use crate::report::headline::tone;

/// A word for the whole filter, from its own cost as a multiple of its native build's: on par
/// (≤ 1.11×), fair (≤ 2×), costly (> 2×), unclear when the 95% interval spans more than one
/// of these bands. Only ever beside a measured ratio (see [`Basis`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    OnPar,
    Fair,
    Costly,
    Unclear,
}

/// Upper bounds of the "on par" and "fair" bands of a cost ratio.
pub const ON_PAR_MAX: f64 = 1.11;
pub const FAIR_MAX: f64 = 2.0;

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::OnPar => "on par",
            Verdict::Fair => "fair",
            Verdict::Costly => "costly",
            Verdict::Unclear => "unclear",
        }
    }

    pub(crate) fn tone(self) -> Tone {
        match self {
            Verdict::OnPar => Tone::Good,
            Verdict::Fair => Tone::Fair,
            Verdict::Costly => Tone::Poor,
            Verdict::Unclear => Tone::Muted,
        }
    }

    /// From an interval of a ratio (`bigger_better`: throughput; else a cost).
    pub(crate) fn of(e: &Estimate, bigger_better: bool) -> Verdict {
        let (lo, hi) = (
            tone(e.ci_low, bigger_better),
            tone(e.ci_high, bigger_better),
        );
        if e.n < 2 || lo != hi || e.ci_low <= 0.0 {
            return Verdict::Unclear;
        }
        match lo {
            Tone::Good => Verdict::OnPar,
            Tone::Fair => Verdict::Fair,
            Tone::Poor => Verdict::Costly,
            _ => Verdict::Unclear,
        }
    }

    /// From a cost ratio: None where there is no measured ratio (no word beside a "–").
    pub fn of_ratio(r: Option<&NetRatio>) -> Option<Verdict> {
        match r? {
            NetRatio::Measured { est, .. } => Some(Verdict::of(est, false)),
            NetRatio::CannotTell(_) => None,
        }
    }
}

/// What every verdict of one run is computed from — one basis for the whole column, named in
/// its header: the filter's own cost inside Envoy where Envoy ran, else its net cost in
/// process on the first wasm engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Basis {
    /// (V8 − no filter) ÷ (native reference − no filter), CPU per request, per process.
    EnvoyOwn,
    /// (engine − harness) ÷ (native − harness), CPU per request, per process.
    InProcess(String),
}

impl Basis {
    /// The verdict column's header.
    pub fn header(&self) -> String {
        match self {
            Basis::EnvoyOwn => "verdict (own ×)".into(),
            Basis::InProcess(_) => "verdict (net ×)".into(),
        }
    }

    /// The sentence that says what the verdict is computed from.
    pub fn sentence(&self) -> String {
        let what = match self {
            Basis::EnvoyOwn => "the filter's own CPU per request in Envoy, (V8 − no filter) ÷ \
                               (native build as a module − no filter)"
                .to_string(),
            Basis::InProcess(engine) => format!(
                "the filter's net CPU per request in process, ({engine} − harness) ÷ (native − \
                 harness)"
            ),
        };
        format!(
            "Verdict: {what}, per process: on par ≤ {ON_PAR_MAX}×, fair ≤ {FAIR_MAX}×, costly \
             > {FAIR_MAX}×, unclear when its 95% CI spans two bands; none where that ratio is \
             not measured."
        )
    }
}
