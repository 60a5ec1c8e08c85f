//! Group-bys over the rows: an estimate per (filter, scenario, arm, phase, metric, threads),
//! and ratios between arms computed process by process (the arms of one process ran
//! interleaved on the same machine state, so their ratio cancels most drift).

use std::collections::BTreeMap;

use crate::stats::{Estimate, estimate};
use crate::vocab::{Metric, Phase};
use crate::{Results, Row};

/// Identifies one figure across processes and iterations.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub filter: String,
    pub scenario: String,
    pub arm: String,
    pub phase: Phase,
    pub metric: Metric,
    pub threads: u32,
}

impl Key {
    pub fn new(
        filter: &str,
        scenario: &str,
        arm: &str,
        phase: Phase,
        metric: Metric,
        threads: u32,
    ) -> Key {
        Key {
            filter: filter.into(),
            scenario: scenario.into(),
            arm: arm.into(),
            phase,
            metric,
            threads,
        }
    }

    pub fn of(r: &Row) -> Key {
        Key {
            filter: r.filter.clone(),
            scenario: r.scenario.clone(),
            arm: r.arm.clone(),
            phase: r.phase,
            metric: r.metric,
            threads: r.threads,
        }
    }

    pub fn with_arm(&self, arm: &str) -> Key {
        Key {
            arm: arm.to_string(),
            ..self.clone()
        }
    }
}

/// Per process, the mean of that process's values for each key.
pub fn per_process(results: &Results) -> BTreeMap<Key, BTreeMap<u32, f64>> {
    let mut acc: BTreeMap<Key, BTreeMap<u32, (f64, u32)>> = BTreeMap::new();
    for r in &results.rows {
        let e = acc
            .entry(Key::of(r))
            .or_default()
            .entry(r.process)
            .or_default();
        e.0 += r.value;
        e.1 += 1;
    }
    acc.into_iter()
        .map(|(k, m)| {
            (
                k,
                m.into_iter().map(|(p, (s, n))| (p, s / n as f64)).collect(),
            )
        })
        .collect()
}

/// An estimate per key over its processes' values.
pub fn summarize(results: &Results) -> BTreeMap<Key, Estimate> {
    per_process(results)
        .into_iter()
        .filter_map(|(k, m)| estimate(&m.into_values().collect::<Vec<_>>()).map(|e| (k, e)))
        .collect()
}

/// `key`'s value minus the same figure of `baseline_arm`, process by process (e.g. the cost
/// net of the harness's own).
pub fn difference(
    table: &BTreeMap<Key, BTreeMap<u32, f64>>,
    key: &Key,
    baseline_arm: &str,
) -> Option<Estimate> {
    let a = table.get(key)?;
    let b = table.get(&key.with_arm(baseline_arm))?;
    let d: Vec<f64> = a
        .iter()
        .filter_map(|(p, v)| b.get(p).map(|w| v - w))
        .collect();
    estimate(&d)
}

/// `key`'s value divided by the same figure of `baseline_arm`, process by process.
pub fn ratio(
    table: &BTreeMap<Key, BTreeMap<u32, f64>>,
    key: &Key,
    baseline_arm: &str,
) -> Option<Estimate> {
    ratio_of(table, key, &key.with_arm(baseline_arm))
}

/// Per-process ratio of any two figures (e.g. one filter's arm over another filter's native).
pub fn ratio_of(
    table: &BTreeMap<Key, BTreeMap<u32, f64>>,
    key: &Key,
    baseline: &Key,
) -> Option<Estimate> {
    let a = table.get(key)?;
    let b = table.get(baseline)?;
    let ratios: Vec<f64> = a
        .iter()
        .filter_map(|(p, v)| b.get(p).filter(|d| **d != 0.0).map(|d| v / d))
        .collect();
    estimate(&ratios)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(arm: &str, process: u32, value: f64) -> Row {
        Row {
            filter: "f".into(),
            scenario: "s".into(),
            arm: arm.into(),
            phase: Phase::Request,
            metric: Metric::CpuPerRequest,
            threads: 1,
            process,
            value,
            ..Default::default()
        }
    }

    #[test]
    fn ratios_pair_processes() {
        let mut r = Results::new();
        r.rows = vec![
            row("native", 0, 100.0),
            row("native", 1, 200.0),
            row("wasm", 0, 150.0),
            row("wasm", 1, 300.0),
        ];
        let t = per_process(&r);
        let key = Key::of(&r.rows[2]);
        let e = ratio(&t, &key, "native").unwrap();
        assert_eq!((e.n, e.mean, e.stdev), (2, 1.5, 0.0));
        assert_eq!(summarize(&r)[&key].median, 225.0);
    }
}
