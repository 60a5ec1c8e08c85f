//! How the answer writes its figures: a difference with its interval, a ratio, a share (see
//! [`super::answer`]).

use filterbench_results::stats::Estimate;

use crate::format;
use crate::net::{self, NetRatio};

/// "+412±31 ns" — a difference and the half-width of its 95% CI, in the mean's unit.
pub(crate) fn added(e: &Estimate, unit: Unit) -> String {
    let hw = (e.ci_high - e.ci_low) / 2.0;
    let (scale, suffix) = unit.scale(e.mean.abs().max(hw));
    let sign = if e.mean >= 0.0 { "+" } else { "" };
    let m = format::sig3(e.mean / scale);
    if e.n > 1 {
        format!("{sign}{m}±{} {suffix}", half_width(hw / scale, &m))
    } else {
        format!("{sign}{m} {suffix}")
    }
}

/// An interval's half-width to two significant digits, but no finer than the figure it goes
/// with (`mean` as printed): "±0.04" beside "1.49", not "±0.042".
fn half_width(hw: f64, mean: &str) -> String {
    let own = format::sig2(hw);
    let places = |t: &str| t.split_once('.').map_or(0, |(_, d)| d.len());
    let decimals = places(&own).min(places(mean));
    format!("{hw:.decimals$}")
}

/// The units an added figure is shown in.
#[derive(Clone, Copy)]
pub(crate) enum Unit {
    Ns,
    Bytes,
}

impl Unit {
    /// (divisor, suffix) for a value of this unit.
    pub(crate) fn scale(self, v: f64) -> (f64, &'static str) {
        let a = v.abs();
        match self {
            Unit::Ns if a >= 1e9 => (1e9, "s"),
            Unit::Ns if a >= 1e6 => (1e6, "ms"),
            Unit::Ns if a >= 1e3 => (1e3, "µs"),
            Unit::Ns => (1.0, "ns"),
            Unit::Bytes if a >= 1048576.0 => (1048576.0, "MiB"),
            Unit::Bytes if a >= 1024.0 => (1024.0, "KiB"),
            Unit::Bytes => (1.0, "B"),
        }
    }
}

/// "2.90×±0.21", or why there is no ratio.
pub(crate) fn ratio_text(r: Option<&NetRatio>) -> String {
    match r {
        Some(NetRatio::Measured { est, .. }) if est.n > 1 => {
            let hw = (est.ci_high - est.ci_low) / 2.0;
            let m = net::times(est.mean);
            let hw = half_width(hw, m.trim_end_matches('×'));
            format!("{m}±{hw}")
        }
        Some(NetRatio::Measured { est, .. }) => net::times(est.mean),
        Some(NetRatio::CannotTell(_)) => "n/a".into(),
        None => "–".into(),
    }
}

/// "1.06×±0.03" — a ratio estimate with its CI half-width.
pub(crate) fn estimate_times(e: &Estimate) -> String {
    let m = net::times(e.mean);
    if e.n > 1 {
        let hw = half_width((e.ci_high - e.ci_low) / 2.0, m.trim_end_matches('×'));
        format!("{m}±{hw}")
    } else {
        m
    }
}

/// "81%±6" — a share with its CI half-width in points.
pub(crate) fn share(e: &Estimate) -> String {
    if e.n > 1 {
        format!(
            "{:.0}%±{:.0}",
            e.mean * 100.0,
            (e.ci_high - e.ci_low) * 50.0
        )
    } else {
        format!("{:.0}%", e.mean * 100.0)
    }
}

pub(crate) fn opt(e: Option<&Estimate>, f: impl Fn(&Estimate) -> String) -> String {
    e.map_or_else(|| "–".into(), f)
}
