//! The timed runs of one HTTP scenario in live Envoy: every variant over every protocol asked
//! for (an Envoy each, its upstream cluster speaking that protocol to an upstream of ours that
//! speaks it too), proven against the native arm, then loaded closed loop in interleaved rounds
//! — variants and protocols alike, so a burst from elsewhere on the machine hits them alike —
//! and open loop at fractions of each one's own capacity. (Split from `mod.rs`.)

use std::time::Duration;

use filterbench_results::vocab::{Metric, Phase, Stage, arm};
use filterbench_results::{At, Batch};

use super::config::{self, Variant};
use super::expect::Expect;
use super::http::{self, RequestTemplate};
use super::protocol::{Leg, Protocol};
use super::scaling::wrk;
use super::verify::native_reference;
use super::{
    EVERY_VARIANT, Envoy, EnvoySettings, Starter, at, builds, byo, latency_rows, process,
    rounds_for, v8_vms,
};
use crate::measure::scenario::{Scenario, Workload};
use crate::measure::{Progress, WorkerOutput, rotated};

struct Running<'a> {
    variant: Variant,
    /// The protocol's upstream and the scenario name its figures go under.
    leg: &'a Leg,
    /// The first protocol's Envoys record the per-filter memory figures (one per variant).
    first_leg: bool,
    envoy: Envoy,
    expect: Expect,
    check_ns: f64,
    /// The outbound calls each window must see answered (a brought module that calls out).
    calls: Option<byo::CallCount>,
    completed: u64,
    errors: u64,
    first_error: Option<String>,
    wall: Duration,
    /// Envoy's worker CPU over the timed rounds, or why it could not be read.
    cpu_ns: Result<u64, String>,
    hist: hdrhistogram::Histogram<u64>,
}

fn new_hist() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("bounds")
}

impl Running<'_> {
    /// Loads this variant over its protocol for `d` (closed loop, or open at `rate`), every
    /// response and upstream request checked.
    fn load(&self, req: &RequestTemplate, s: &EnvoySettings, d: Duration) -> http::LoadResult {
        let (leg, x) = (self.leg, &self.expect);
        leg.upstream.checking(x, || {
            http::load_with(
                leg.protocol,
                self.envoy.listener,
                req,
                x,
                s.connections,
                d,
                None,
            )
        })
    }

    /// Runs `f` (a load on this variant) and adds Envoy's worker CPU over it to the total; the
    /// window's outbound calls are counted (outside the CPU interval: admin requests).
    fn timed(&mut self, f: impl FnOnce(&Self) -> http::LoadResult) -> http::LoadResult {
        let mut cpu = (Ok(0), Ok(0));
        let res = byo::CallCount::window(self.calls.as_ref(), &self.envoy, || {
            cpu.0 = self.envoy.worker_cpu_ns();
            let res = f(self);
            cpu.1 = self.envoy.worker_cpu_ns();
            res
        });
        let (cpu0, cpu1) = cpu;
        self.cpu_ns = match (&self.cpu_ns, cpu0, cpu1) {
            (Err(e), _, _) => Err(e.clone()),
            (Ok(t), Ok(a), Ok(b)) => Ok(t + (b - a)),
            (_, Err(e), _) | (_, _, Err(e)) => Err(e.to_string()),
        };
        res
    }

    fn absorb(&mut self, res: http::LoadResult) {
        self.completed += res.completed;
        self.errors += res.errors;
        self.wall += res.wall;
        if self.first_error.is_none() {
            self.first_error = res.first_error;
        }
        let _ = self.hist.add(&res.hist);
        if let Err(e) = self.envoy.check_alive() {
            self.errors += 1;
            self.first_error.get_or_insert(e.to_string());
        }
    }

    /// Whether a figure recorded under `scenario` is this running's: its protocol's scenarios,
    /// and the per-filter ones (empty scenario) when it records them.
    fn owns(&self, scenario: &str) -> bool {
        if scenario.is_empty() {
            self.first_leg
        } else {
            Protocol::of_scenario(scenario) == self.leg.protocol
        }
    }
}

/// Takes back every figure of `filter` × `arm` over one protocol this worker produced (that
/// variant failed later over it).
fn drop_arm(out: &mut Batch, r: &Running, filter: &str) {
    let arm = r.variant.name;
    let mine = |f: &str, a: &str, sc: &str| f == filter && a == arm && r.owns(sc);
    out.rows.retain(|x| !mine(&x.filter, &x.arm, &x.scenario));
    out.histograms
        .retain(|x| !mine(&x.filter, &x.arm, &x.scenario));
    out.absent.retain(|x| !mine(&x.filter, &x.arm, &x.scenario));
}

/// Measures one scenario in live Envoy, every variant over HTTP/1.1, in this worker process.
pub fn measure_scenario(
    s: &EnvoySettings,
    sc: &Scenario,
    process: u32,
    progress: &dyn Progress,
    out: &mut WorkerOutput,
) {
    measure_scenario_over(s, &[Protocol::Http1], sc, process, progress, out)
}

/// [`measure_scenario`] over each of `protocols` (HTTP/1.1 alone when empty): an Envoy per
/// variant × protocol, all in the same interleaved rounds.
pub fn measure_scenario_over(
    s: &EnvoySettings,
    protocols: &[Protocol],
    sc: &Scenario,
    process: u32,
    progress: &dyn Progress,
    out: &mut WorkerOutput,
) {
    let Workload::Http(ex) = &sc.workload else {
        return super::tcp::measure_scenario(s, sc, process, progress, out);
    };
    let ((Some(builds), why), Some(config)) = (builds(s, sc), sc.file.case_config(&sc.case)) else {
        return;
    };
    let fail = |out: &mut WorkerOutput, scenario: &str, arm: &str, stage: Stage, msg: String| {
        out.fail_at(&at(sc, scenario, arm, Phase::Request, process), stage, msg)
    };
    if let Some(why) = why {
        for p in Protocol::or_default(protocols) {
            let scenario = p.scenario(&sc.name);
            fail(
                out,
                &scenario,
                config::NATIVE_MODULE,
                Stage::Load,
                why.clone(),
            );
        }
    }
    let want = match native_reference(sc) {
        Ok(w) => w,
        Err(e) => {
            let msg = format!("no native reference: {e}");
            return fail(out, &sc.name, EVERY_VARIANT, Stage::Verify, msg);
        }
    };
    // Our side (upstream, generator) on other CPUs than Envoy's, from here on.
    let _pinned = process::PinnedHere::ours();
    let legs = match Leg::start_all(protocols, &sc.name, &ex.response) {
        Ok(l) => l,
        Err(e) => return fail(out, &sc.name, EVERY_VARIANT, Stage::Load, e),
    };
    let req = RequestTemplate::from_message(&ex.request);
    // A brought module: the variants that cannot run it said, the clusters it calls served.
    let starter = match Starter::new(s, sc, (&legs[0].upstream, &req), &want) {
        Ok(st) => st,
        Err(e) => return fail(out, &sc.name, EVERY_VARIANT, Stage::Load, e),
    };
    let config_text = String::from_utf8_lossy(&config).into_owned();
    let _ = std::fs::create_dir_all(&s.dir);
    let mut running: Vec<Running> = Vec::new();
    let metric = Metric::CpuPerRequest;
    let scenarios: Vec<String> = legs.iter().map(|l| l.scenario.clone()).collect();
    for variant in starter.variants((&builds, &config_text), (metric, &scenarios), process, out) {
        for (i, leg) in legs.iter().enumerate() {
            progress.step(&format!(
                "envoy {} / {} / {}",
                sc.filter, leg.scenario, variant.name
            ));
            let suffix = leg.file_suffix();
            let name = format!(
                "{}.{}.{}{suffix}.p{process}",
                sc.filter, sc.name, variant.name
            );
            let v = match starter.start_on(&variant, &name, leg) {
                Ok(v) => v,
                Err((stage, msg)) => {
                    fail(out, &leg.scenario, variant.name, stage, msg);
                    continue;
                }
            };
            let check_ns = v.expect.cost_ns(&v.seen);
            running.push(Running {
                variant: variant.clone(),
                leg,
                first_leg: i == 0,
                envoy: v.envoy,
                expect: v.expect,
                check_ns,
                calls: v.calls,
                completed: 0,
                errors: 0,
                first_error: None,
                wall: Duration::ZERO,
                cpu_ns: Ok(0),
                hist: new_hist(),
            });
        }
    }
    // Warm-up, which also prices the check against Envoy's CPU per request: a check dearer
    // than MAX_CHECK_SHARE of it is done on a stated fraction of the responses.
    for r in running.iter_mut() {
        r.cpu_ns = Ok(0);
        let res = r.timed(|r| r.load(&req, s, s.warmup));
        let (errors, first) = (res.errors, res.first_error.clone());
        if let (Ok(cpu), true) = (&r.cpu_ns, res.completed > 0) {
            let per_request = *cpu as f64 / res.completed as f64;
            let check_ns = r.check_ns;
            r.expect.sample_for(check_ns, per_request);
        }
        r.cpu_ns = Ok(0);
        r.errors += errors;
        if r.first_error.is_none() {
            r.first_error = first.map(|e| format!("warm-up: {e}"));
        }
    }
    let rounds = rounds_for(s, s.duration);
    let order: Vec<usize> = (0..running.len()).collect();
    for round in 0..rounds {
        for i in rotated(&order, process + round) {
            let r = &mut running[i];
            let res = r.timed(|r| r.load(&req, s, s.duration / rounds));
            r.absorb(res);
        }
    }
    // wrk (HTTP/1.1 only) on the same target with the same connections, beside our
    // generator's figure.
    let wrk_rps: Vec<(usize, f64)> = if s.wrk && req.body.is_empty() {
        running
            .iter()
            .enumerate()
            .filter(|(_, r)| [arm::ENVOY_NONE, arm::ENVOY_WASM_V8].contains(&r.variant.name))
            .filter(|(_, r)| r.leg.protocol == Protocol::Http1)
            .filter_map(|(i, r)| {
                wrk(r.envoy.listener, &req, s.connections, s.duration / rounds).map(|v| (i, v))
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut ok = Vec::new();
    for (i, r) in running.iter().enumerate() {
        let (arm, scenario) = (r.variant.name, r.leg.scenario.as_str());
        if r.errors > 0 || r.completed == 0 {
            let first = r.first_error.clone().unwrap_or_default();
            let msg = format!("{} failed requests: {first}", r.errors);
            fail(out, scenario, arm, Stage::Run, msg);
            continue;
        }
        let rps = r.completed as f64 / r.wall.as_secs_f64();
        latency_rows(out, sc, scenario, arm, process, &r.hist);
        let at = at(sc, scenario, arm, Phase::Request, process);
        out.record(&at, Metric::Throughput, rps);
        match &r.cpu_ns {
            Ok(cpu) => out.record(&at, Metric::CpuPerRequest, *cpu as f64 / r.completed as f64),
            Err(e) => out.absent(
                &at,
                Metric::CpuPerRequest,
                format!("Envoy's worker CPU could not be read: {e}"),
            ),
        }
        out.record(&at, Metric::ResponseCheckNs, r.check_ns);
        out.record(
            &at,
            Metric::ResponsesCheckedFraction,
            1.0 / r.expect.every as f64,
        );
        if let Some((_, w)) = wrk_rps.iter().find(|(j, _)| *j == i) {
            out.record(&at, Metric::ThroughputWrk, *w);
        }
        let mem = at.phase(Phase::Memory).threads(s.concurrency);
        let mem = At {
            scenario: String::new(),
            ..mem
        };
        if r.first_leg {
            match r.envoy.rss_bytes() {
                Ok(rss) => out.record(&mem, Metric::EnvoyRssAfterLoadBytes, rss as f64),
                Err(e) => out.absent(&mem, Metric::EnvoyRssAfterLoadBytes, e.to_string()),
            }
            if let Some(m) = r.envoy.stat("server.memory_allocated") {
                out.record(&mem, Metric::MemoryAllocatedBytes, m as f64);
            }
        }
        // Every V8 Envoy's VMs are checked; only the first protocol's count is recorded (one
        // per-filter figure per variant).
        if arm == arm::ENVOY_WASM_V8 {
            let mut vms = WorkerOutput::default();
            if let Err(e) = v8_vms(&r.envoy, s.concurrency, &mem, &mut vms) {
                fail(out, scenario, arm, Stage::Run, e);
                continue;
            }
            if r.first_leg {
                out.rows.append(&mut vms.rows);
            }
        }
        ok.push((r, rps));
    }
    open_loop(s, sc, process, &req, &ok, out);
}

/// The scenario name an open-loop run at `fraction` of capacity records under.
pub fn open_loop_scenario(scenario: &str, fraction: f64) -> String {
    format!("{scenario}@{:.0}%", fraction * 100.0)
}

/// Latency at fixed rates, each a fraction of the variant's own closed-loop capacity over its
/// protocol, in interleaved rounds like the closed loop; coordinated-omission corrected.
fn open_loop(
    s: &EnvoySettings,
    sc: &Scenario,
    process: u32,
    req: &RequestTemplate,
    ok: &[(&Running, f64)],
    out: &mut WorkerOutput,
) {
    let rounds = rounds_for(s, s.rate_duration);
    for &f in &s.rate_fractions {
        let mut acc: Vec<(u64, Option<String>, hdrhistogram::Histogram<u64>)> =
            ok.iter().map(|_| (0, None, new_hist())).collect();
        let order: Vec<usize> = (0..ok.len()).collect();
        for round in 0..rounds {
            for i in rotated(&order, process + round) {
                let (r, rps) = ok[i];
                let res = byo::CallCount::window(r.calls.as_ref(), &r.envoy, || {
                    r.leg.upstream.checking(&r.expect, || {
                        http::load_with(
                            r.leg.protocol,
                            r.envoy.listener,
                            req,
                            &r.expect,
                            s.connections,
                            s.rate_duration / rounds,
                            Some(rps * f),
                        )
                    })
                });
                let a = &mut acc[i];
                a.0 += res.errors + u64::from(res.completed == 0);
                if a.1.is_none() {
                    a.1 = res.first_error;
                }
                let _ = a.2.add(&res.hist);
            }
        }
        for ((r, _), (errors, first, hist)) in ok.iter().zip(acc) {
            let (arm, base) = (r.variant.name, r.leg.scenario.as_str());
            let scenario = open_loop_scenario(base, f);
            if out
                .failures
                .iter()
                .any(|x| x.filter == sc.filter && x.arm == arm && x.scenario == base)
            {
                continue;
            }
            if errors > 0 {
                // No figure of a variant that failed while timed survives, closed loop included.
                drop_arm(out, r, &sc.filter);
                out.fail_at(
                    &at(sc, base, arm, Phase::Request, process),
                    Stage::Run,
                    format!(
                        "at {scenario}: {errors} failed requests: {}",
                        first.unwrap_or_default()
                    ),
                );
                continue;
            }
            latency_rows(out, sc, &scenario, arm, process, &hist);
        }
    }
}
