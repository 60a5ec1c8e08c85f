//! What every report needs from a results file, computed once: the per-process table, the
//! estimates, the arms in display order with their reference arm, the scenarios in order,
//! merged latency curves and host-call costs. Arms are handled generically by `kind`, so new
//! kinds of arm (live Envoy) appear without code changes.

use std::collections::{BTreeMap, BTreeSet};

use filterbench_results::histogram::quantile_points;
use filterbench_results::merge::HistogramRun;
use filterbench_results::stats::{Estimate, estimate};
use filterbench_results::summary::{Key, per_process, ratio, summarize};
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm};
use filterbench_results::{ArmInfo, Histogram, Results};

/// The arm every ratio is taken against unless a kind has its own (see [`Analysis::reference`]).
pub const REFERENCE_ARM: &str = arm::NATIVE;
/// The benchmark filter that prices host calls: one scenario per host function.
pub const HOSTCALL_FILTER: &str = "hostcalls";
/// Its scenario that makes no host call (the bare loop), subtracted from the others.
pub const HOSTCALL_BASE: &str = "none";
/// The `hostcalls` scenario of an import the host answers with no work (`proxy_done`): the
/// floor of every host call on an arm (the engine's entry and exit plus our dispatch).
pub const HOSTCALL_FLOOR: &str = "empty_import";
/// Host calls each request of a `hostcalls` scenario makes.
pub const HOSTCALLS_PER_REQUEST: f64 = 100.0;

pub struct Analysis<'a> {
    pub results: &'a Results,
    /// Per key, per process, the mean of that process's values.
    pub table: BTreeMap<Key, BTreeMap<u32, f64>>,
    pub est: BTreeMap<Key, Estimate>,
    /// Every arm with a row or a listing, grouped by kind in [`ArmKind::ORDER`].
    pub arms: Vec<ArmInfo>,
}

/// A latency distribution merged over processes, as points to plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// (fraction of requests at or below the value, value in ns), in value order.
    pub points: Vec<(f64, f64)>,
    pub count: u64,
}

fn kind_rank(kind: ArmKind) -> usize {
    ArmKind::ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(ArmKind::ORDER.len())
}

impl<'a> Analysis<'a> {
    pub fn new(results: &'a Results) -> Analysis<'a> {
        let mut arms = results.arms.clone();
        let listed: BTreeSet<String> = arms.iter().map(|a| a.name.clone()).collect();
        let mut extra: BTreeSet<&str> = BTreeSet::new();
        for r in &results.rows {
            if !listed.contains(&r.arm) {
                extra.insert(&r.arm);
            }
        }
        arms.extend(extra.into_iter().map(|name| ArmInfo {
            name: name.to_string(),
            kind: ArmKind::Other,
            ..Default::default()
        }));
        // Stable: within a kind, the order the run listed its arms.
        arms.sort_by_key(|a| kind_rank(a.kind));
        Analysis {
            results,
            table: per_process(results),
            est: summarize(results),
            arms,
        }
    }

    pub fn kind(&self, arm: &str) -> ArmKind {
        self.arms
            .iter()
            .find(|a| a.name == arm)
            .map_or(ArmKind::Other, |a| a.kind)
    }

    pub fn arm_index(&self, arm: &str) -> usize {
        self.arms
            .iter()
            .position(|a| a.name == arm)
            .unwrap_or(self.arms.len())
    }

    /// The arm `arm` is compared against. In-process arms: [`REFERENCE_ARM`]. Envoy variants:
    /// the native module (the same filter code built natively, inside the same Envoy) when
    /// there is one, else Envoy's built-in filter; those two against Envoy without a filter;
    /// never across kinds (an Envoy figure over an in-process one means nothing). None for
    /// `native`, for harness arms and for Envoy without a filter (the baseline, not a
    /// subject). The one reference rule of every rendering.
    pub fn reference(&self, name: &str) -> Option<&str> {
        let kind = self.kind(name);
        let find = |n: &str| {
            self.arms
                .iter()
                .find(|a| a.name == n)
                .map(|a| a.name.as_str())
        };
        match kind {
            ArmKind::Harness | ArmKind::Native | ArmKind::Other => None,
            ArmKind::Wasm => find(REFERENCE_ARM),
            ArmKind::Envoy => {
                if name == arm::ENVOY_BUILTIN || name == arm::ENVOY_NATIVE_MODULE {
                    find(arm::ENVOY_NONE)
                } else if name == arm::ENVOY_NONE {
                    None
                } else {
                    find(arm::ENVOY_NATIVE_MODULE)
                        .or_else(|| find(arm::ENVOY_BUILTIN))
                        .or_else(|| find(arm::ENVOY_NONE))
                }
            }
        }
    }

    /// [`Analysis::reference`] for one filter: an Envoy variant is set against the first of
    /// the native module, Envoy's built-in filter and no filter that ran this filter (a filter
    /// without a native build still has a reference).
    pub fn reference_for(&self, filter: &str, name: &str) -> Option<&str> {
        let general = self.reference(name)?;
        if self.kind(name) != ArmKind::Envoy || self.ran(filter, general) {
            return Some(general);
        }
        let candidates: &[&str] = if name == arm::ENVOY_BUILTIN || name == arm::ENVOY_NATIVE_MODULE
        {
            &[arm::ENVOY_NONE]
        } else {
            &[
                arm::ENVOY_NATIVE_MODULE,
                arm::ENVOY_BUILTIN,
                arm::ENVOY_NONE,
            ]
        };
        candidates
            .iter()
            .copied()
            .find(|c| self.ran(filter, c))
            .and_then(|c| self.arms.iter().find(|a| a.name == c))
            .map(|a| a.name.as_str())
    }

    /// Whether `arm` has a per-request figure of `filter`.
    fn ran(&self, filter: &str, arm: &str) -> bool {
        self.table
            .keys()
            .any(|k| k.filter == filter && k.arm == arm && k.phase == Phase::Request)
    }

    /// Arms that have a reference, in display order: the columns of the headline table.
    pub fn compared_arms(&self) -> Vec<&ArmInfo> {
        self.arms
            .iter()
            .filter(|a| self.reference(&a.name).is_some())
            .collect()
    }

    /// Arms with at least one row of `phase`.
    pub fn arms_with(&self, phase: Phase) -> Vec<&ArmInfo> {
        let have: BTreeSet<&str> = self
            .table
            .keys()
            .filter(|k| k.phase == phase)
            .map(|k| k.arm.as_str())
            .collect();
        self.arms
            .iter()
            .filter(|a| have.contains(a.name.as_str()))
            .collect()
    }

    /// Filters in the order the run listed them, then any others found in rows.
    pub fn filters(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .results
            .filters
            .iter()
            .map(|f| f.name.clone())
            .collect();
        let rest: BTreeSet<&String> = self
            .results
            .rows
            .iter()
            .map(|r| &r.filter)
            .filter(|f| !out.contains(f))
            .collect();
        out.extend(rest.into_iter().cloned());
        out
    }

    /// (filter, scenario) pairs with per-request rows, in listing order.
    pub fn scenarios(&self) -> Vec<(String, String)> {
        let have: BTreeSet<(&str, &str)> = self
            .table
            .keys()
            .filter(|k| k.phase == Phase::Request)
            .map(|k| (k.filter.as_str(), k.scenario.as_str()))
            .collect();
        let mut out = Vec::new();
        for f in self.filters() {
            let listed = self
                .results
                .filters
                .iter()
                .find(|i| i.name == f)
                .map(|i| i.scenarios.clone())
                .unwrap_or_default();
            let mut names: Vec<String> = listed
                .into_iter()
                .filter(|s| have.contains(&(f.as_str(), s.as_str())))
                .collect();
            for (hf, hs) in &have {
                if *hf == f && !names.iter().any(|n| n == hs) {
                    names.push(hs.to_string());
                }
            }
            out.extend(names.into_iter().map(|s| (f.clone(), s)));
        }
        out
    }

    /// Values of `threads` > 1 that throughput was measured with.
    pub fn multi_threads(&self) -> Vec<u32> {
        let s: BTreeSet<u32> = self
            .table
            .keys()
            .filter(|k| k.phase == Phase::Request && k.threads > 1)
            .map(|k| k.threads)
            .collect();
        s.into_iter().collect()
    }

    /// The host functions priced by the `hostcalls` filter (its scenarios but the bare loop).
    pub fn hostcall_ops(&self) -> std::collections::BTreeSet<&str> {
        self.table
            .keys()
            .filter(|k| {
                k.filter == HOSTCALL_FILTER
                    && k.phase == Phase::Request
                    && k.scenario != HOSTCALL_BASE
            })
            .map(|k| k.scenario.as_str())
            .collect()
    }

    pub fn get(&self, key: &Key) -> Option<&Estimate> {
        self.est.get(key)
    }

    /// `key` over the same figure of `reference`, process by process.
    pub fn ratio(&self, key: &Key, reference: &str) -> Option<Estimate> {
        ratio(&self.table, key, reference)
    }

    /// The latency distribution of one scenario × arm, merged over its processes.
    /// Exact where the file keeps whole histograms (their union, decoded and added); else,
    /// for older files, from each process's quantile points ([`merge`]).
    pub fn curve(&self, filter: &str, scenario: &str, arm: &str) -> Option<Curve> {
        let run = HistogramRun {
            filter,
            scenario,
            arm,
        };
        if let Ok(h) = self.results.merged_histogram(run) {
            let whole = Histogram {
                count: h.len(),
                points: quantile_points(&h, 1),
                ..Default::default()
            };
            return merge(&[&whole]);
        }
        merge(&self.results.histograms_of(run))
    }

    /// What one host call costs on `arm`: (CPU per request of `op` − of `none`) / calls per
    /// request, paired by process so drift between processes cancels.
    pub fn hostcall_cost(&self, op: &str, arm: &str) -> Option<Estimate> {
        let k = |scenario: &str| Key {
            filter: HOSTCALL_FILTER.into(),
            scenario: scenario.into(),
            arm: arm.into(),
            phase: Phase::Request,
            metric: Metric::CpuPerRequest,
            threads: 1,
        };
        let a = self.table.get(&k(op))?;
        let b = self.table.get(&k(HOSTCALL_BASE))?;
        let per_call: Vec<f64> = a
            .iter()
            .filter_map(|(p, v)| b.get(p).map(|w| (v - w) / HOSTCALLS_PER_REQUEST))
            .collect();
        estimate(&per_call)
    }
}

/// A histogram's points as (quantile, value, count at or below value). The results file's
/// points carry HdrHistogram's count since the previous point; a file whose counts are already
/// cumulative (they end at the total) is accepted as is.
pub fn cumulative(h: &Histogram) -> Vec<(f64, u64, u64)> {
    let sum: u64 = h.points.iter().map(|p| p.2).sum();
    let already = sum != h.count && h.points.last().is_some_and(|p| p.2 == h.count);
    let mut acc = 0u64;
    h.points
        .iter()
        .map(|&(q, v, c)| {
            acc = if already { c } else { acc + c };
            (q, v, acc)
        })
        .collect()
}

/// Merges histograms by putting each step's count at its upper value: exact at every value a
/// process reported, conservative (higher) in between.
pub fn merge(hs: &[&Histogram]) -> Option<Curve> {
    let mut steps: Vec<(u64, u64)> = Vec::new();
    for h in hs {
        let mut prev = 0;
        for (_, v, cum) in cumulative(h) {
            steps.push((v, cum.saturating_sub(prev)));
            prev = cum;
        }
    }
    let total: u64 = steps.iter().map(|s| s.1).sum();
    if total == 0 {
        return None;
    }
    steps.sort_unstable();
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut acc = 0u64;
    for (v, c) in steps {
        acc += c;
        let q = acc as f64 / total as f64;
        match points.last_mut() {
            Some(last) if last.1 == v as f64 => last.0 = q,
            _ => points.push((q, v as f64)),
        }
    }
    Some(Curve {
        points,
        count: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(process: u32, points: Vec<(f64, u64, u64)>) -> Histogram {
        Histogram {
            filter: "f".into(),
            scenario: "s".into(),
            arm: "a".into(),
            process,
            count: points.iter().map(|p| p.2).sum(),
            points,
            ..Default::default()
        }
    }

    #[test]
    fn merge_adds_counts_at_values() {
        let a = hist(0, vec![(0.0, 10, 5), (0.5, 20, 5), (1.0, 20, 0)]);
        let b = hist(1, vec![(0.0, 10, 1), (0.5, 30, 9), (1.0, 30, 0)]);
        assert_eq!(
            cumulative(&a),
            vec![(0.0, 10, 5), (0.5, 20, 10), (1.0, 20, 10)]
        );
        let c = merge(&[&a, &b]).unwrap();
        assert_eq!(c.count, 20);
        assert_eq!(c.points, vec![(0.3, 10.0), (0.55, 20.0), (1.0, 30.0)]);
    }

    #[test]
    fn arms_group_by_kind_with_references() {
        let mut r = Results::new();
        for (n, k) in [
            (arm::HARNESS, ArmKind::Harness),
            (arm::ENVOY_WASM_V8, ArmKind::Envoy),
            ("wasmi", ArmKind::Wasm),
            (arm::NATIVE, ArmKind::Native),
            (arm::ENVOY_BUILTIN, ArmKind::Envoy),
        ] {
            r.arms.push(ArmInfo {
                name: n.into(),
                kind: k,
                ..Default::default()
            });
        }
        let a = Analysis::new(&r);
        let names: Vec<&str> = a.arms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "native",
                "wasmi",
                "envoy-wasm-v8",
                "envoy-native",
                "harness"
            ]
        );
        assert_eq!(a.reference("wasmi"), Some("native"));
        assert_eq!(a.reference("envoy-wasm-v8"), Some("envoy-native"));
        // No envoy-none in this set, and never a cross-kind fallback to in-process native.
        assert_eq!(a.reference("envoy-native"), None);
        assert_eq!(a.reference("harness"), None);
        assert_eq!(a.reference("native"), None);

        r.arms.push(ArmInfo {
            name: "envoy-native-module".into(),
            kind: ArmKind::Envoy,
            ..Default::default()
        });
        r.arms.push(ArmInfo {
            name: "envoy-none".into(),
            kind: ArmKind::Envoy,
            ..Default::default()
        });
        let a = Analysis::new(&r);
        assert_eq!(a.reference("envoy-wasm-v8"), Some("envoy-native-module"));
        assert_eq!(a.reference("envoy-native-module"), Some("envoy-none"));
        assert_eq!(a.reference("envoy-none"), None);
    }
}
