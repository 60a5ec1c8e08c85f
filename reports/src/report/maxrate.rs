//! The highest rate each Envoy variant sustains under a latency bound (`run --max-rate`): a
//! table and a few summary lines. The bound and its percentile are rows of their own.

use std::fmt::Write;

use filterbench_results::summary::Key;
use filterbench_results::vocab::{Metric, Phase, arm};

use super::figure;
use crate::doc::{Cell, Table};
use crate::format;
use crate::model::Analysis;
use crate::net::times;

/// The keys of the searched rates, in the run's arm order.
fn keys(a: &Analysis) -> Vec<Key> {
    let absent = a
        .results
        .absent
        .iter()
        .map(|x| Key::new(&x.filter, &x.scenario, &x.arm, x.phase, x.metric, x.threads));
    let mut keys: Vec<Key> = a
        .table
        .keys()
        .cloned()
        .chain(absent)
        .filter(|k| k.metric == Metric::MaxRateUnderBound && k.phase == Phase::Request)
        .collect();
    keys.sort_by_key(|k| (k.filter.clone(), k.scenario.clone(), a.arm_index(&k.arm)));
    keys.dedup();
    keys
}

/// "p99 ≤ 2 ms", from the bound rows of `k`'s figure.
fn bound(a: &Analysis, k: &Key) -> Option<String> {
    let b = a.get(&Key {
        metric: Metric::LatencyBound,
        ..k.clone()
    })?;
    let p = a.get(&Key {
        metric: Metric::LatencyBoundPercentile,
        ..k.clone()
    })?;
    Some(format!("p{} ≤ {}", p.mean, format::ns(b.mean)))
}

/// A paired ratio to envoy-none: mean with its 95% CI.
fn ratio_cell(a: &Analysis, k: &Key) -> Cell {
    let k = Key {
        metric: Metric::MaxRateVsNone,
        ..k.clone()
    };
    match a.get(&k) {
        Some(e) if e.n > 1 => Cell::num(times(e.mean)).with_sub(format!(
            "[{}, {}]",
            times(e.ci_low).trim_end_matches('×'),
            times(e.ci_high).trim_end_matches('×')
        )),
        Some(e) => Cell::num(times(e.mean)),
        None => crate::net::missing_cell(a, &k),
    }
}

pub(crate) fn table(a: &Analysis) -> Table {
    let rows = keys(a)
        .iter()
        .map(|k| {
            let busy = Key {
                metric: Metric::MaxRateEnvoyBusy,
                ..k.clone()
            };
            vec![
                Cell::label(format!("{} / {}", k.filter, k.scenario)),
                Cell::label(k.arm.as_str()),
                Cell::label(bound(a, k).unwrap_or_default()),
                figure(a, k, format::rate),
                if k.arm == arm::ENVOY_NONE {
                    Cell::none()
                } else {
                    ratio_cell(a, k)
                },
                figure(a, &busy, format::pct),
            ]
        })
        .collect();
    Table {
        caption: "Highest open-loop rate under a latency bound (coordinated-omission \
                  corrected, every response checked; one search per variant per process, mean \
                  over processes ±95% CI; ÷ envoy-none paired per process). Rates of this \
                  machine: our generator and upstream share it with Envoy, on its other CPUs; \
                  Envoy busy well under 100% means our side set the limit."
            .into(),
        groups: Vec::new(),
        header: [
            "filter / scenario",
            "arm",
            "bound",
            "max rate",
            "÷ envoy-none",
            "Envoy busy at it",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows,
        collapsed: false,
    }
}

/// One line per scenario searched: each variant's rate and its share of envoy-none's.
pub(crate) fn lines(a: &Analysis) -> String {
    let mut out = String::new();
    let keys = keys(a);
    let mut scenarios: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| (k.filter.as_str(), k.scenario.as_str()))
        .collect();
    scenarios.dedup();
    for (f, sc) in scenarios {
        let of: Vec<&Key> = keys
            .iter()
            .filter(|k| k.filter == f && k.scenario == sc)
            .collect();
        let Some(b) = of.iter().find_map(|k| bound(a, k)) else {
            continue;
        };
        let parts: Vec<String> = of
            .iter()
            .map(|k| {
                let rate = match a.get(k) {
                    Some(e) if e.n > 1 => {
                        format!("{} ±{:.0}%", format::rate(e.mean), e.relative_ci() * 100.0)
                    }
                    Some(e) => format!("{} (one process)", format::rate(e.mean)),
                    None => "absent".into(),
                };
                let vs = Key {
                    metric: Metric::MaxRateVsNone,
                    ..(*k).clone()
                };
                match a.get(&vs) {
                    Some(e) if e.n == 1 => {
                        format!(
                            "{} {rate} ({} of none, one process)",
                            k.arm,
                            format::pct(e.mean)
                        )
                    }
                    Some(e) => format!(
                        "{} {rate} ({} of none, [{}–{}])",
                        k.arm,
                        format::pct(e.mean),
                        format::pct(e.ci_low),
                        format::pct(e.ci_high)
                    ),
                    None => format!("{} {rate}", k.arm),
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "{f} / {sc}: highest rate at {b} (this machine, generator on the same CPUs): {}",
            parts.join(", ")
        );
    }
    out
}
