//! Fortio's result JSON (what `fortio load -json` writes and `fortio report` charts) for every
//! live-Envoy load run: one document per Envoy variant × filter × scenario, its worker processes
//! merged. A results file holds many runs and an exporter writes one file, so the output is a
//! JSON array of those documents (JSON Lines would not be one JSON value; a folder would not be
//! one file). `fortio report` reads one document per file: split it with
//! `jq -c '.[]' run.fortio.json | split -l 1 --additional-suffix=.json - run-`.
//!
//! Durations are in seconds (Fortio's histogram unit), `ActualDuration` in ns (Go's
//! `time.Duration`). Fields filterbench does not record are left out rather than made up: the
//! HTTP status codes (`RetCodes`; every response matched the verified one, whatever its code),
//! response and header sizes, sockets and connection times, the URL, and for open-loop runs the
//! achieved rate and wall time. `ErrorsDurationHistogram` is empty because a variant with a
//! failed request keeps no figure at all. `Filterbench` (ignored by Fortio) names the run and
//! says whether the histogram is an exact merge of whole histograms or, for files from before
//! those were kept, a merge of the processes' quantile points.

use std::collections::BTreeMap;

use filterbench_results::merge::HistogramRun;
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm};
use filterbench_results::{Hdr, Histogram, Results};
use serde::Serialize;

use super::Exporter;
use crate::ReportError;
use crate::model::cumulative;

pub struct FortioExporter;

/// The percentiles `fortio load` reports by default.
const PERCENTILES: [f64; 5] = [50.0, 75.0, 90.0, 99.0, 99.9];
/// As the runners publish them: percentile q only with 10/(1-q) samples, else it is the max.
const TAIL_SAMPLES: f64 = 10.0;
/// Histogram buckets: the first ends at 1 µs, each next is 2^(1/4) wider (four a doubling,
/// about Fortio's own granularity).
const FIRST_BUCKET_NS: u64 = 1_000;
const BUCKET_RATIO: f64 = 1.189_207_115_002_721;
const NS_PER_S: f64 = 1e9;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Run {
    run_type: &'static str,
    labels: String,
    start_time: String,
    #[serde(rename = "RequestedQPS", skip_serializing_if = "Option::is_none")]
    requested_qps: Option<String>,
    requested_duration: String,
    #[serde(rename = "ActualQPS", skip_serializing_if = "Option::is_none")]
    actual_qps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual_duration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_threads: Option<u32>,
    version: String,
    duration_histogram: HistogramData,
    errors_duration_histogram: HistogramData,
    exactly: i64,
    jitter: bool,
    uniform: bool,
    no_catch_up: bool,
    #[serde(rename = "RunID")]
    run_id: i64,
    access_logger_info: String,
    #[serde(rename = "ID")]
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_connections: Option<u32>,
    filterbench: Origin,
}

#[derive(Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct HistogramData {
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
    avg: f64,
    std_dev: f64,
    data: Vec<Bucket>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    percentiles: Vec<Percentile>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Bucket {
    start: f64,
    end: f64,
    /// Cumulative, in percent.
    percent: f64,
    count: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Percentile {
    percentile: f64,
    value: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Origin {
    filter: String,
    scenario: String,
    arm: String,
    processes: Vec<u32>,
    /// True: whole histograms added; false: the processes' quantile points mixed.
    exact_merge: bool,
}

/// A latency distribution over every process of a run, in ns.
struct Distribution {
    /// (start, end, count) of each non-empty bucket, in value order.
    buckets: Vec<(u64, u64, u64)>,
    count: u64,
    min: u64,
    max: u64,
    mean: f64,
    stdev: f64,
    /// (percentile, value) for the percentiles with enough samples.
    percentiles: Vec<(f64, u64)>,
    exact: bool,
}

fn published(count: u64) -> impl Iterator<Item = f64> {
    PERCENTILES
        .into_iter()
        .filter(move |p| count as f64 >= TAIL_SAMPLES / (1.0 - p / 100.0))
}

impl Distribution {
    fn of_hdr(h: &Hdr) -> Distribution {
        let (mut buckets, mut from) = (Vec::new(), 0);
        for step in h.iter_log(FIRST_BUCKET_NS, BUCKET_RATIO) {
            let to = step.value_iterated_to();
            if step.count_since_last_iteration() > 0 {
                // As Fortio does: the first bucket starts at the minimum, each other where
                // the previous step, empty or not, ended.
                let start = if buckets.is_empty() { h.min() } else { from };
                buckets.push((start, to, step.count_since_last_iteration()));
            }
            from = to;
        }
        // And the last ends at the maximum.
        if let Some(last) = buckets.last_mut() {
            last.1 = h.max();
        }
        Distribution {
            buckets,
            count: h.len(),
            min: h.min(),
            max: h.max(),
            mean: h.mean(),
            stdev: h.stdev(),
            percentiles: published(h.len())
                .map(|p| (p, h.value_at_quantile(p / 100.0)))
                .collect(),
            exact: true,
        }
    }

    /// From the stored points of a file without whole histograms: each point's count put at
    /// its value, which is exact at every value a process reported and conservative between.
    fn of_points(hs: &[&Histogram]) -> Option<Distribution> {
        let mut steps: BTreeMap<u64, u64> = BTreeMap::new();
        for h in hs {
            let mut prev = 0;
            for (_, v, cum) in cumulative(h) {
                *steps.entry(v).or_default() += cum.saturating_sub(prev);
                prev = cum;
            }
        }
        steps.retain(|_, c| *c > 0);
        let count: u64 = steps.values().sum();
        let (&min, _) = steps.first_key_value()?;
        let n = count as f64;
        let mean = hs.iter().map(|h| h.mean_ns * h.count as f64).sum::<f64>() / n;
        // Pooled (population) deviation, as HdrHistogram's own.
        let var = hs
            .iter()
            .map(|h| h.count as f64 * (h.stdev_ns.powi(2) + (h.mean_ns - mean).powi(2)))
            .sum::<f64>()
            / n;
        let value_at = |p: f64| {
            let mut acc = 0;
            steps.iter().find_map(|(&v, &c)| {
                acc += c;
                (acc as f64 >= p / 100.0 * n).then_some(v)
            })
        };
        let percentiles = published(count)
            .filter_map(|p| value_at(p).map(|v| (p, v)))
            .collect();
        // The largest of the processes' maxima and of the points (they agree in a sound file).
        let max = hs
            .iter()
            .map(|h| h.max_ns)
            .chain(steps.keys().copied())
            .max()
            .unwrap_or(min);
        let mut from = min;
        let mut buckets: Vec<(u64, u64, u64)> = steps
            .iter()
            .map(|(&v, &c)| {
                let b = (from, v, c);
                from = v;
                b
            })
            .collect();
        if let Some(last) = buckets.last_mut() {
            last.1 = max;
        }
        Some(Distribution {
            buckets,
            count,
            min,
            max,
            mean,
            stdev: var.sqrt(),
            percentiles,
            exact: false,
        })
    }

    fn fortio(&self) -> HistogramData {
        let s = |ns: u64| ns as f64 / NS_PER_S;
        let mut acc = 0;
        let data = self
            .buckets
            .iter()
            .map(|&(start, end, count)| {
                acc += count;
                Bucket {
                    start: s(start),
                    end: s(end),
                    percent: 100.0 * acc as f64 / self.count as f64,
                    count,
                }
            })
            .collect();
        HistogramData {
            count: self.count,
            min: s(self.min),
            max: s(self.max),
            sum: self.mean * self.count as f64 / NS_PER_S,
            avg: self.mean / NS_PER_S,
            std_dev: self.stdev / NS_PER_S,
            data,
            percentiles: self
                .percentiles
                .iter()
                .map(|&(percentile, v)| Percentile {
                    percentile,
                    value: s(v),
                })
                .collect(),
        }
    }
}

/// The base scenario and fraction of capacity of an open-loop run; the runners name those
/// `<scenario>@<percent>%`.
fn open_loop(scenario: &str) -> Option<(&str, f64)> {
    let (base, pct) = scenario.rsplit_once('@')?;
    let pct: f64 = pct.strip_suffix('%')?.parse().ok()?;
    Some((base, pct / 100.0))
}

/// The closed-loop rate of each process of `filter` × `scenario` × `arm`.
fn rates(r: &Results, filter: &str, scenario: &str, arm: &str) -> BTreeMap<u32, f64> {
    r.select(|x| {
        x.filter == filter
            && x.scenario == scenario
            && x.arm == arm
            && x.phase == Phase::Request
            && x.metric == Metric::Throughput
            // The closed loop's own rate (Envoy records it at one thread).
            && x.threads == 1
    })
    .map(|x| (x.process, x.value))
    .collect()
}

/// Connections of an Envoy variant, as its flags state them (`…; 8 connections; …`).
fn connections(r: &Results, arm: &str) -> Option<u32> {
    let flags = &r.arms.iter().find(|a| a.name == arm)?.flags;
    flags
        .split("; ")
        .find_map(|part| part.strip_suffix(" connections")?.parse().ok())
}

fn is_envoy(r: &Results, name: &str) -> bool {
    match r.arms.iter().find(|a| a.name == name) {
        Some(a) => a.kind == ArmKind::Envoy,
        None => arm::ENVOY.contains(&name),
    }
}

/// Go's `%.9g` for a rate, as Fortio writes `RequestedQPS`.
fn go_g9(x: f64) -> String {
    let int_digits = if x.abs() >= 1.0 {
        x.abs().log10().floor() as i32 + 1
    } else {
        1
    };
    let s = format!("{:.*}", (9 - int_digits).max(0) as usize, x);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// (RFC 3339 UTC, Fortio's ID prefix `YYYY-MM-DD-HHMMSS`) of a Unix time.
fn timestamps(unix: u64) -> (String, String) {
    let (year, month, day, h, m, s) = crate::format::civil(unix);
    (
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z"),
        format!("{year:04}-{month:02}-{day:02}-{h:02}{m:02}{s:02}"),
    )
}

fn run(r: &Results, run: HistogramRun<'_>) -> Option<Run> {
    let hs = r.histograms_of(run);
    let dist = match r.merged_histogram(run) {
        Ok(h) => Distribution::of_hdr(&h),
        Err(_) => Distribution::of_points(&hs)?,
    };
    if dist.count == 0 {
        return None;
    }
    let HistogramRun {
        filter,
        scenario,
        arm,
    } = run;
    let processes: Vec<u32> = hs.iter().map(|h| h.process).collect();
    let n = processes.len();
    let (requested_qps, requested_duration, actual) = match open_loop(scenario) {
        None => {
            // Closed loop: each process's wall time is its requests over its rate.
            let rps = rates(r, filter, scenario, arm);
            let walls: Option<Vec<f64>> = hs
                .iter()
                .map(|h| rps.get(&h.process).map(|q| h.count as f64 / q))
                .collect();
            let actual = walls.map(|w| {
                let wall: f64 = w.iter().sum();
                (dist.count as f64 / wall, (wall * NS_PER_S).round() as u64)
            });
            let what = format!("{n} processes, closed loop");
            (Some("max".to_string()), what, actual)
        }
        Some((base, fraction)) => {
            // The rate each process asked for was this share of its own closed-loop rate.
            let rps = rates(r, filter, base, arm);
            let asked: Option<Vec<f64>> = hs
                .iter()
                .map(|h| rps.get(&h.process).map(|q| q * fraction))
                .collect();
            let qps = asked.map(|a| go_g9(a.iter().sum::<f64>() / a.len() as f64));
            let what = format!(
                "{n} processes, open loop at {}% of capacity",
                go_g9(fraction * 100.0)
            );
            (qps, what, None)
        }
    };
    let tcp = r
        .filters
        .iter()
        .any(|f| f.name == filter && f.kind.eq_ignore_ascii_case("tcp"));
    let (start_time, id_time) = timestamps(r.started_unix);
    let id_label: String = format!("{filter}_{scenario}_{arm}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let conns = connections(r, arm);
    Some(Run {
        run_type: if tcp { "TCP" } else { "HTTP" },
        labels: format!("{filter} {scenario} {arm}"),
        start_time,
        requested_qps,
        requested_duration,
        actual_qps: actual.map(|a| a.0),
        actual_duration: actual.map(|a| a.1),
        num_threads: conns,
        version: format!("filterbench {}", r.filterbench_version),
        duration_histogram: dist.fortio(),
        errors_duration_histogram: HistogramData::default(),
        exactly: 0,
        jitter: false,
        uniform: false,
        // The open loop sends a late request at once rather than skipping its slot.
        no_catch_up: false,
        run_id: 0,
        access_logger_info: String::new(),
        id: format!("{id_time}_{id_label}"),
        num_connections: conns,
        filterbench: Origin {
            filter: filter.into(),
            scenario: scenario.into(),
            arm: arm.into(),
            processes,
            exact_merge: dist.exact,
        },
    })
}

impl Exporter for FortioExporter {
    fn serialize(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let runs: Vec<Run> = results
            .histogram_runs()
            .into_iter()
            .filter(|x| is_envoy(results, x.arm))
            .filter_map(|x| run(results, x))
            .collect();
        serde_json::to_vec_pretty(&runs).map_err(|source| ReportError::Json {
            format: "fortio",
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_rates_and_scenario_names_read_as_fortio_writes_them() {
        assert_eq!(
            timestamps(0),
            ("1970-01-01T00:00:00Z".into(), "1970-01-01-000000".into())
        );
        // 2024-02-29 12:34:56 UTC, a leap day.
        assert_eq!(timestamps(1_709_210_096).0, "2024-02-29T12:34:56Z");
        assert_eq!(go_g9(1_234.567_891_23), "1234.56789");
        assert_eq!(go_g9(1000.0), "1000");
        assert_eq!(go_g9(0.5), "0.5");
        assert_eq!(open_loop("small-headers@50%"), Some(("small-headers", 0.5)));
        assert_eq!(open_loop("small-headers"), None);
    }
}
