//! The highest open-loop rate each Envoy variant sustains while a latency percentile stays
//! under a bound ("V8 costs X% of the sustainable rate at p99 ≤ 2 ms"): per variant a
//! [`search::Search`] of short fixed-rate probes (coordinated-omission corrected, every
//! response and upstream request checked as in the timed runs), the variants' probes
//! interleaved so drift hits them alike. One search per variant per worker process: the
//! processes are the trials, their mean and interval the figure, and each process's ratio to
//! envoy-none the paired comparison. Over each protocol asked for, an Envoy per variant ×
//! protocol, their probes interleaved alike; each protocol compared within itself.

pub mod search;

use std::time::Duration;

use filterbench_results::vocab::{Metric, Phase, Stage, arm};
use serde::{Deserialize, Serialize};

use super::byo::CallCount;
use super::config::Variant;
use super::expect::Expect;
use super::http::{self, RequestTemplate};
use super::protocol::{Leg, Protocol};
use super::{EVERY_VARIANT, Envoy, EnvoySettings, Starter, at, builds, process};
use crate::measure::scenario::{Scenario, Workload};
use crate::measure::{Progress, WorkerOutput, rotated};
use search::{Bounds, Search, Step};

/// What the search looks for and how it probes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MaxRateSettings {
    /// The latency the percentile must stay at or under.
    pub bound: Duration,
    /// The percentile, in percent (99: p99).
    pub percentile: f64,
    /// The lowest rate tried (requests/s); the ramp's factor; the highest rate tried.
    pub start_rate: f64,
    pub factor: f64,
    pub ceiling: f64,
    /// Stop once the highest passing and lowest failing rates are within this fraction.
    pub precision: f64,
    /// Each probe's timed window, longer when the percentile needs more samples at that rate.
    pub probe: Duration,
    /// Each probe's untimed lead-in at the same rate (connections made, queues settled).
    pub lead_in: Duration,
    /// Times a probe that broke the bound is repeated before its rate counts as failed.
    pub retries: u32,
}

impl MaxRateSettings {
    pub fn new(bound: Duration, percentile: f64) -> MaxRateSettings {
        MaxRateSettings {
            bound,
            percentile,
            start_rate: 1000.0,
            factor: 2.0,
            ceiling: 400_000.0,
            precision: 0.05,
            probe: Duration::from_millis(500),
            lead_in: Duration::from_millis(100),
            retries: 2,
        }
    }

    /// Samples a probe needs for its percentile: ten beyond it (p99: 1,000, as the timed
    /// runs' floor).
    pub fn samples(&self) -> u64 {
        (10.0 / (1.0 - self.percentile / 100.0)).ceil() as u64
    }

    /// The percentile's label: "p99", "p99.9".
    pub fn label(&self) -> String {
        format!("p{}", self.percentile)
    }

    /// A probe's timed window at `rate`: the percentile's samples with a fifth to spare, so a
    /// slot lost to the schedule's rounding at either end does not leave the window short
    /// (a short window fails the variant: it is no reading of the bound).
    fn window(&self, rate: f64) -> Duration {
        self.probe
            .max(Duration::from_secs_f64(self.samples() as f64 * 1.2 / rate))
    }

    fn bounds(&self) -> Bounds {
        Bounds {
            start: self.start_rate,
            factor: self.factor,
            ceiling: self.ceiling,
            precision: self.precision,
        }
    }
}

/// What one probe that completed cleanly saw.
struct Probe {
    rate: f64,
    latency_ns: u64,
    /// Envoy's workers' CPU over the window as a fraction of their wall time.
    busy: Result<f64, String>,
}

struct Live<'a> {
    variant: Variant,
    /// The protocol's upstream and the scenario name its figures go under.
    leg: &'a Leg,
    envoy: Envoy,
    expect: Expect,
    /// The outbound calls each window must see answered (a brought module that calls out).
    calls: Option<CallCount>,
    search: Search,
    /// The highest probe that kept the bound, above every rate that broke it.
    best: Option<Probe>,
    /// The lowest-rate probe that broke the bound (shown when that is the lowest rate tried).
    broken: Option<Probe>,
    failed: Option<String>,
}

/// One fixed-rate probe: a lead-in, then the timed window; Err on any failed or unverified
/// response or request, or an Envoy that died.
fn probe(
    v: &mut Live,
    req: &RequestTemplate,
    s: &EnvoySettings,
    m: &MaxRateSettings,
    rate: f64,
) -> Result<Probe, String> {
    let run = |v: &Live, d: Duration| {
        v.leg.upstream.checking(&v.expect, || {
            http::load_with(
                v.leg.protocol,
                v.envoy.listener,
                req,
                &v.expect,
                s.connections,
                d,
                Some(rate),
            )
        })
    };
    let failed = |what: &str, r: &http::LoadResult| {
        format!(
            "at {rate:.0} req/s ({what}): {} failed requests: {}",
            r.errors,
            r.first_error.clone().unwrap_or_default()
        )
    };
    let lead = run(v, m.lead_in);
    if lead.errors > 0 {
        return Err(failed("lead-in", &lead));
    }
    let cpu0 = v.envoy.worker_cpu_ns();
    let res = CallCount::window(v.calls.as_ref(), &v.envoy, || run(v, m.window(rate)));
    let cpu1 = v.envoy.worker_cpu_ns();
    v.envoy.check_alive().map_err(|e| e.to_string())?;
    if res.errors > 0 {
        return Err(failed("timed", &res));
    }
    if res.hist.len() < m.samples() {
        return Err(format!(
            "at {rate:.0} req/s: {} responses, the {} needs {}",
            res.hist.len(),
            m.label(),
            m.samples()
        ));
    }
    let workers = f64::from(s.concurrency.max(1));
    let busy = match (cpu0, cpu1) {
        (Ok(a), Ok(b)) => Ok((b - a) as f64 / (res.wall.as_secs_f64() * 1e9 * workers)),
        (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
    };
    Ok(Probe {
        rate,
        latency_ns: res.hist.value_at_quantile(m.percentile / 100.0),
        busy,
    })
}

/// Searches the highest sustainable rate of every selected variant of one HTTP scenario over
/// HTTP/1.1, in this worker process.
pub fn measure_scenario(
    s: &EnvoySettings,
    m: &MaxRateSettings,
    sc: &Scenario,
    process: u32,
    progress: &dyn Progress,
    out: &mut WorkerOutput,
) {
    measure_scenario_over(s, m, &[Protocol::Http1], sc, process, progress, out)
}

/// [`measure_scenario`] over each of `protocols` (HTTP/1.1 alone when empty).
pub fn measure_scenario_over(
    s: &EnvoySettings,
    m: &MaxRateSettings,
    protocols: &[Protocol],
    sc: &Scenario,
    process: u32,
    progress: &dyn Progress,
    out: &mut WorkerOutput,
) {
    let Workload::Http(ex) = &sc.workload else {
        return;
    };
    let ((Some(builds), _), Some(config)) = (builds(s, sc), sc.file.case_config(&sc.case)) else {
        return;
    };
    let at = |scenario: &str, arm: &str| at(sc, scenario, arm, Phase::Request, process);
    let want = match super::verify::native_reference(sc) {
        Ok(w) => w,
        Err(e) => {
            let msg = format!("max-rate search: no native reference: {e}");
            return out.fail_at(&at(&sc.name, EVERY_VARIANT), Stage::Verify, msg);
        }
    };
    // Our side (upstream, generator) on other CPUs than Envoy's, from here on.
    let _pinned = process::PinnedHere::ours();
    let legs = match Leg::start_all(protocols, &sc.name, &ex.response) {
        Ok(l) => l,
        Err(e) => {
            let msg = format!("max-rate search: {e}");
            return out.fail_at(&at(&sc.name, EVERY_VARIANT), Stage::Load, msg);
        }
    };
    let req = RequestTemplate::from_message(&ex.request);
    // As the timed runs: a brought module's clusters served, the variants it cannot run said.
    let starter = match Starter::new(s, sc, (&legs[0].upstream, &req), &want) {
        Ok(st) => st,
        Err(e) => {
            let msg = format!("max-rate search: {e}");
            return out.fail_at(&at(&sc.name, EVERY_VARIANT), Stage::Load, msg);
        }
    };
    let config_text = String::from_utf8_lossy(&config).into_owned();
    let _ = std::fs::create_dir_all(&s.dir);
    let mut live: Vec<Live> = Vec::new();
    let metric = Metric::MaxRateUnderBound;
    let scenarios: Vec<String> = legs.iter().map(|l| l.scenario.clone()).collect();
    for variant in starter.variants((&builds, &config_text), (metric, &scenarios), process, out) {
        for leg in &legs {
            progress.step(&format!(
                "envoy {} / {} / {}: max rate at {} ≤ {:?}",
                sc.filter,
                leg.scenario,
                variant.name,
                m.label(),
                m.bound
            ));
            let suffix = leg.file_suffix();
            let name = format!(
                "{}.{}.{}{suffix}.maxrate.p{process}",
                sc.filter, sc.name, variant.name
            );
            match starter.start_on(&variant, &name, leg) {
                Ok(v) => live.push(Live {
                    variant: variant.clone(),
                    leg,
                    envoy: v.envoy,
                    expect: v.expect,
                    calls: v.calls,
                    search: Search::new(m.bounds()),
                    best: None,
                    broken: None,
                    failed: None,
                }),
                Err((stage, msg)) => {
                    let at = at(&leg.scenario, variant.name);
                    out.fail_at(&at, stage, format!("max rate: {msg}"))
                }
            }
        }
    }
    // Warm-up (closed loop, checked): V8's tiers and every cache reached before any probe.
    for v in live.iter_mut() {
        let res = v.leg.upstream.checking(&v.expect, || {
            http::load_with(
                v.leg.protocol,
                v.envoy.listener,
                &req,
                &v.expect,
                s.connections,
                s.warmup,
                None,
            )
        });
        if res.errors > 0 || res.completed == 0 {
            v.failed = Some(format!(
                "warm-up: {} failed requests: {}",
                res.errors,
                res.first_error.unwrap_or_default()
            ));
        }
    }
    // Probes interleaved: each round, every variant still searching probes once, in an order
    // rotated by process and round.
    let order: Vec<usize> = (0..live.len()).collect();
    for round in 0.. {
        let mut probed = false;
        for i in rotated(&order, process + round) {
            let v = &mut live[i];
            let Step::Probe(rate) = v.search.next() else {
                continue;
            };
            if v.failed.is_some() {
                continue;
            }
            probed = true;
            // A stall from elsewhere on the machine (2 cores, shared) breaks one window's
            // tail but not its repeat: a rate fails only when every try breaks the bound.
            let kept = |p: &Probe| p.latency_ns as f64 <= m.bound.as_nanos() as f64;
            let mut tried = probe(v, &req, s, m, rate);
            for _ in 0..m.retries {
                match &tried {
                    Ok(p) if !kept(p) => tried = probe(v, &req, s, m, rate),
                    _ => break,
                }
            }
            match tried {
                Ok(p) => {
                    let kept = kept(&p);
                    v.search.record(rate, kept);
                    // Kept as the search keeps its bracket: a break at or under the best pass
                    // takes that pass back.
                    if !kept {
                        if v.best.as_ref().is_some_and(|b| b.rate >= rate) {
                            v.best = None;
                        }
                        if v.broken.as_ref().is_none_or(|b| b.rate > rate) {
                            v.broken = Some(p);
                        }
                    } else if v.best.as_ref().is_none_or(|b| b.rate < rate) {
                        v.best = Some(p);
                    }
                }
                Err(e) => v.failed = Some(e),
            }
        }
        if !probed {
            break;
        }
    }
    for leg in &legs {
        let of_leg: Vec<&Live> = live.iter().filter(|v| std::ptr::eq(v.leg, leg)).collect();
        record(m, &of_leg, &|arm: &str| at(&leg.scenario, arm), out);
    }
}

/// Each variant's figure over one protocol (or why there is none), and its ratio to
/// envoy-none's over the same protocol in this process.
fn record(
    m: &MaxRateSettings,
    live: &[&Live],
    at: &dyn Fn(&str) -> filterbench_results::At,
    out: &mut WorkerOutput,
) {
    let what = format!("{} ≤ {:?}", m.label(), m.bound);
    let mut found: Vec<(&str, f64)> = Vec::new();
    for v in live {
        let (name, at) = (v.variant.name, at(v.variant.name));
        if let Some(e) = &v.failed {
            out.fail_at(&at, Stage::Run, format!("max-rate search: {e}"));
            continue;
        }
        match (v.search.next(), &v.best) {
            (Step::Found(rate), Some(best)) if best.rate == rate => {
                out.record(&at, Metric::MaxRateUnderBound, rate);
                out.record(&at, Metric::LatencyBound, m.bound.as_nanos() as f64);
                out.record(&at, Metric::LatencyBoundPercentile, m.percentile);
                match &best.busy {
                    Ok(b) => out.record(&at, Metric::MaxRateEnvoyBusy, *b),
                    Err(e) => out.absent(&at, Metric::MaxRateEnvoyBusy, e.clone()),
                }
                found.push((name, rate));
            }
            (Step::BrokenAtStart(start), _) => {
                let seen = v.broken.as_ref().map_or(String::new(), |p| {
                    format!(" ({} {:.2} ms)", m.label(), p.latency_ns as f64 / 1e6)
                });
                let why = format!("{what} broken at the lowest rate tried, {start:.0} req/s{seen}");
                out.absent(&at, Metric::MaxRateUnderBound, why);
            }
            (Step::AtCeiling(c), _) => {
                let why = format!("{what} kept at the highest rate tried, {c:.0} req/s");
                out.absent(&at, Metric::MaxRateUnderBound, why);
            }
            (step, _) => {
                let why = format!("the search stopped unfinished ({step:?})");
                out.absent(&at, Metric::MaxRateUnderBound, why);
            }
        }
    }
    let none = found
        .iter()
        .find(|(n, _)| *n == arm::ENVOY_NONE)
        .map(|x| x.1);
    for v in live.iter().filter(|v| v.variant.name != arm::ENVOY_NONE) {
        let at = at(v.variant.name);
        match (none, found.iter().find(|(n, _)| *n == v.variant.name)) {
            (Some(base), Some((_, r))) => out.record(&at, Metric::MaxRateVsNone, r / base),
            (None, Some(_)) => {
                let why = "envoy-none has no sustainable rate in this process";
                out.absent(&at, Metric::MaxRateVsNone, why);
            }
            (_, None) => {
                let why = "this variant has no sustainable rate in this process";
                out.absent(&at, Metric::MaxRateVsNone, why);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_has_room_for_its_samples_beyond_rounding() {
        let m = MaxRateSettings::new(Duration::from_millis(2), 99.0);
        for rate in [100.0, 1000.0, 1999.0, 2000.0, 2001.0, 3333.0, 400_000.0] {
            let slots = m.window(rate).as_secs_f64() * rate;
            // A slot lost at each end still leaves the percentile its samples.
            assert!(slots - 2.0 >= m.samples() as f64, "{rate}: {slots} slots");
        }
    }
}
