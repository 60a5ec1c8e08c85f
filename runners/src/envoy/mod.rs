//! The live-Envoy arms: the same `.wasm` in a real Envoy (V8) beside Envoy's native filter and
//! a Lua script doing the same work, and no filter at all, all behind the same upstream and
//! driven by our load generator. Each variant is proven against the in-process native arm
//! over HTTP before it is timed; variants run interleaved, and figures become the same rows
//! as the in-process arms (arm = variant name).

pub(crate) mod byo;
pub mod callgrind;
pub mod config;
pub mod expect;
pub mod http;
pub mod maxrate;
pub mod process;
pub mod protocol;
pub mod remote;
pub mod sample;
mod scaling;
pub mod serve;
pub mod tcp;
mod upstream;
mod variant;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

use filterbench_results::At;
use filterbench_results::vocab::{Metric, Phase, Stage, arm};
use serde::{Deserialize, Serialize};

use crate::measure::scenario::{Scenario, Workload};
use crate::measure::{Progress, WorkerOutput, rotated};
use config::Variant;
use expect::Expect;
use http::{RequestTemplate, Upstream};
pub use process::{Envoy, EnvoyError};
pub use scaling::measure_scaling;
use scaling::wrk;
pub(crate) use variant::{Starter, builds, for_counting, prove, ready, spawn};
use verify::native_reference;

/// How the Envoy part of a run is done.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnvoySettings {
    pub bin: PathBuf,
    pub version: String,
    /// Envoy worker threads for the timed runs.
    pub concurrency: u32,
    pub connections: u32,
    /// Closed-loop time per variant per process, split over at least `rounds` interleaved rounds
    /// (turns of at most 100 ms).
    pub duration: Duration,
    pub rounds: u32,
    pub warmup: Duration,
    /// Open-loop rates as fractions of envoy-none's closed-loop maximum in the same process.
    pub rate_fractions: Vec<f64>,
    pub rate_duration: Duration,
    /// Cross-check our generator's throughput with wrk (none and V8 variants).
    #[serde(default)]
    pub wrk: bool,
    /// `--concurrency` values for the memory-per-worker runs.
    pub scaling: Vec<u32>,
    /// Where configs and Envoy logs are kept (beside the results).
    pub dir: PathBuf,
    /// What Envoy runs under (nothing for the timed runs; callgrind for instruction counts).
    #[serde(default)]
    pub under: process::Under,
    /// The variants to run (empty: every one); `envoy-none` (the baseline every net figure
    /// needs) and the native builds (the module, Envoy's built-in filter: the references) always
    /// run.
    #[serde(default)]
    pub variants: Vec<String>,
}

impl EnvoySettings {
    /// Whether the variant `name` runs.
    pub fn selects(&self, name: &str) -> bool {
        let reference = [
            arm::ENVOY_NONE,
            arm::ENVOY_NATIVE_MODULE,
            arm::ENVOY_BUILTIN,
        ];
        self.variants.is_empty()
            || reference.contains(&name)
            || self.variants.iter().any(|v| v == name)
    }
}

/// What an Envoy arm's flags say about how it was measured (placement, CPU, checks).
pub fn flags_note() -> String {
    format!(
        "{}; CPU = Envoy's worker threads (schedstat, ns); every response checked against \
         the verified outcome (a stated fraction if checking costs > {}% of Envoy's CPU)",
        process::pinning_note(),
        expect::MAX_CHECK_SHARE * 100.0
    )
}

/// The longest stretch one variant runs before the next takes over: load from elsewhere on the
/// machine comes in bursts, and short turns spread a burst over every variant alike.
const TURN: Duration = Duration::from_millis(100);

/// How many interleaved rounds a total of `d` is split into: `s.rounds` at least, and turns of
/// at most [`TURN`].
fn rounds_for(s: &EnvoySettings, d: Duration) -> u32 {
    s.rounds
        .max(d.as_millis().div_ceil(TURN.as_millis()) as u32)
        .max(1)
}

/// Samples a percentile needs in one process before it is published.
pub const P99_FLOOR: u64 = 1_000;
pub const P999_FLOOR: u64 = 10_000;

struct Running {
    variant: Variant,
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

impl Running {
    /// Runs `f` (a load on this variant) and adds Envoy's worker CPU over it to the total; the
    /// window's outbound calls are counted (outside the CPU interval: admin requests).
    fn timed(&mut self, f: impl FnOnce(&Envoy, &Expect) -> http::LoadResult) -> http::LoadResult {
        let mut cpu = (Ok(0), Ok(0));
        let res = byo::CallCount::window(self.calls.as_ref(), &self.envoy, || {
            cpu.0 = self.envoy.worker_cpu_ns();
            let res = f(&self.envoy, &self.expect);
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
}

/// Where a figure of scenario `scenario` (empty for a per-filter one) of `sc`'s filter belongs.
pub(crate) fn at(sc: &Scenario, scenario: &str, arm: &str, phase: Phase, process: u32) -> At {
    At::new(&sc.filter, scenario, arm, phase, process)
}

/// The arm of a failure that concerns every Envoy variant of a scenario (none started).
pub const EVERY_VARIANT: &str = "envoy-*";

/// Latency percentiles of `h`, each only above its sample floor (else absent, with why).
pub(crate) fn latency_rows(
    out: &mut WorkerOutput,
    sc: &Scenario,
    scenario: &str,
    arm: &str,
    process: u32,
    h: &hdrhistogram::Histogram<u64>,
) {
    let at = at(sc, scenario, arm, Phase::Request, process);
    for (m, q, floor, label) in [
        (Metric::LatencyP50, 0.5, 1, "p50"),
        (Metric::LatencyP90, 0.9, 1, "p90"),
        (Metric::LatencyP99, 0.99, P99_FLOOR, "p99"),
        (Metric::LatencyP999, 0.999, P999_FLOOR, "p99.9"),
    ] {
        if h.len() >= floor {
            out.record(&at, m, h.value_at_quantile(q) as f64);
        } else {
            out.absent(
                &at,
                m,
                format!("{label} needs {floor} samples, had {}", h.len()),
            );
        }
    }
    out.record(&at, Metric::LatencyMax, h.max() as f64);
    out.histograms
        .push(crate::measure::steady::histogram_row(&at, h));
}

/// The V8 VMs of an Envoy running our `.wasm` with `workers` workers: the configuration's (kept
/// for validation), the main thread's and one per worker (seen: 3, 4, 6 at 1, 2, 4 workers).
fn expected_v8_vms(workers: u32) -> u64 {
    u64::from(workers) + 2
}

/// Records the V8 VM count Envoy reports at `at`; Err if it is not the expected one (a VM per
/// worker is what the memory-per-worker figures assume) or cannot be read.
pub(crate) fn v8_vms(
    envoy: &Envoy,
    workers: u32,
    at: &At,
    out: &mut WorkerOutput,
) -> Result<(), String> {
    let stat = "wasm.envoy.wasm.runtime.v8.active";
    let n = envoy
        .stat(stat)
        .ok_or_else(|| format!("Envoy reports no {stat}"))?;
    out.record(at, Metric::WasmVms, n as f64);
    let want = expected_v8_vms(workers);
    if n != want {
        return Err(format!(
            "Envoy reports {n} V8 VMs with {workers} workers (expected {want}: the \
             configuration's, the main thread's and one per worker)"
        ));
    }
    Ok(())
}

/// Takes back every figure of `filter` × `arm` this worker produced (the arm failed later).
fn drop_arm(out: &mut WorkerOutput, filter: &str, arm: &str) {
    out.rows.retain(|r| !(r.filter == filter && r.arm == arm));
    out.histograms
        .retain(|h| !(h.filter == filter && h.arm == arm));
    out.absent.retain(|a| !(a.filter == filter && a.arm == arm));
}

/// Measures one scenario in live Envoy, every variant, in this worker process.
pub fn measure_scenario(
    s: &EnvoySettings,
    sc: &Scenario,
    process: u32,
    progress: &dyn Progress,
    out: &mut WorkerOutput,
) {
    let Workload::Http(ex) = &sc.workload else {
        return tcp::measure_scenario(s, sc, process, progress, out);
    };
    let ((Some(builds), why), Some(config)) = (builds(s, sc), sc.file.case_config(&sc.case)) else {
        return;
    };
    let fail = |out: &mut WorkerOutput, arm: &str, stage: Stage, msg: String| {
        out.fail_at(&at(sc, &sc.name, arm, Phase::Request, process), stage, msg)
    };
    if let Some(why) = why {
        fail(out, config::NATIVE_MODULE, Stage::Load, why);
    }
    let want = match native_reference(sc) {
        Ok(w) => w,
        Err(e) => {
            return fail(
                out,
                EVERY_VARIANT,
                Stage::Verify,
                format!("no native reference: {e}"),
            );
        }
    };
    // Our side (upstream, generator) on other CPUs than Envoy's, from here on.
    let _pinned = process::PinnedHere::ours();
    let upstream = match Upstream::start(&ex.response) {
        Ok(u) => u,
        Err(e) => return fail(out, EVERY_VARIANT, Stage::Load, format!("upstream: {e}")),
    };
    let req = RequestTemplate::from_message(&ex.request);
    // A brought module: the variants that cannot run it said, the clusters it calls served.
    let starter = match Starter::new(s, sc, (&upstream, &req), &want) {
        Ok(st) => st,
        Err(e) => return fail(out, EVERY_VARIANT, Stage::Load, e),
    };
    let config_text = String::from_utf8_lossy(&config).into_owned();
    let _ = std::fs::create_dir_all(&s.dir);
    let mut running: Vec<Running> = Vec::new();
    let metric = Metric::CpuPerRequest;
    for variant in starter.variants((&builds, &config_text), metric, process, out) {
        progress.step(&format!(
            "envoy {} / {} / {}",
            sc.filter, sc.name, variant.name
        ));
        let name = format!("{}.{}.{}.p{process}", sc.filter, sc.name, variant.name);
        let v = match starter.start(&variant, &name) {
            Ok(v) => v,
            Err((stage, msg)) => {
                fail(out, variant.name, stage, msg);
                continue;
            }
        };
        let check_ns = v.expect.cost_ns(&v.seen);
        running.push(Running {
            variant,
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
    // Warm-up, which also prices the check against Envoy's CPU per request: a check dearer
    // than MAX_CHECK_SHARE of it is done on a stated fraction of the responses.
    for r in running.iter_mut() {
        r.cpu_ns = Ok(0);
        let res = r.timed(|e, x| {
            upstream.checking(x, || {
                http::load(e.listener, &req, x, s.connections, s.warmup, None)
            })
        });
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
            let res = r.timed(|e, x| {
                upstream.checking(x, || {
                    http::load(
                        e.listener,
                        &req,
                        x,
                        s.connections,
                        s.duration / rounds,
                        None,
                    )
                })
            });
            r.absorb(res);
        }
    }
    // wrk on the same target with the same connections, beside our generator's figure.
    let wrk_rps: Vec<(&'static str, f64)> = if s.wrk && req.body.is_empty() {
        running
            .iter()
            .filter(|r| [arm::ENVOY_NONE, arm::ENVOY_WASM_V8].contains(&r.variant.name))
            .filter_map(|r| {
                wrk(r.envoy.listener, &req, s.connections, s.duration / rounds)
                    .map(|v| (r.variant.name, v))
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut ok = Vec::new();
    for r in &running {
        let arm = r.variant.name;
        if r.errors > 0 || r.completed == 0 {
            fail(
                out,
                arm,
                Stage::Run,
                format!(
                    "{} failed requests: {}",
                    r.errors,
                    r.first_error.clone().unwrap_or_default()
                ),
            );
            continue;
        }
        let rps = r.completed as f64 / r.wall.as_secs_f64();
        latency_rows(out, sc, &sc.name, arm, process, &r.hist);
        let at = at(sc, &sc.name, arm, Phase::Request, process);
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
        if let Some((_, w)) = wrk_rps.iter().find(|(a, _)| *a == arm) {
            out.record(&at, Metric::ThroughputWrk, *w);
        }
        let mem = at.phase(Phase::Memory).threads(s.concurrency);
        let mem = At {
            scenario: String::new(),
            ..mem
        };
        match r.envoy.rss_bytes() {
            Ok(rss) => out.record(&mem, Metric::EnvoyRssAfterLoadBytes, rss as f64),
            Err(e) => out.absent(&mem, Metric::EnvoyRssAfterLoadBytes, e.to_string()),
        }
        if let Some(m) = r.envoy.stat("server.memory_allocated") {
            out.record(&mem, Metric::MemoryAllocatedBytes, m as f64);
        }
        if arm == arm::ENVOY_WASM_V8
            && let Err(e) = v8_vms(&r.envoy, s.concurrency, &mem, out)
        {
            fail(out, arm, Stage::Run, e);
            continue;
        }
        ok.push((r, rps));
    }
    open_loop(s, sc, process, (&upstream, &req), &ok, out);
}

/// The scenario name an open-loop run at `fraction` of capacity records under.
pub fn open_loop_scenario(scenario: &str, fraction: f64) -> String {
    format!("{scenario}@{:.0}%", fraction * 100.0)
}

/// Latency at fixed rates, each a fraction of the variant's own closed-loop capacity, in
/// interleaved rounds like the closed loop; coordinated-omission corrected.
fn open_loop(
    s: &EnvoySettings,
    sc: &Scenario,
    process: u32,
    (upstream, req): (&Upstream, &RequestTemplate),
    ok: &[(&Running, f64)],
    out: &mut WorkerOutput,
) {
    let rounds = rounds_for(s, s.rate_duration);
    for &f in &s.rate_fractions {
        let scenario = open_loop_scenario(&sc.name, f);
        let mut acc: Vec<(u64, Option<String>, hdrhistogram::Histogram<u64>)> =
            ok.iter().map(|_| (0, None, new_hist())).collect();
        let order: Vec<usize> = (0..ok.len()).collect();
        for round in 0..rounds {
            for i in rotated(&order, process + round) {
                let (r, rps) = ok[i];
                let res = byo::CallCount::window(r.calls.as_ref(), &r.envoy, || {
                    upstream.checking(&r.expect, || {
                        http::load(
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
            let arm = r.variant.name;
            if out
                .failures
                .iter()
                .any(|x| x.filter == sc.filter && x.arm == arm)
            {
                continue;
            }
            if errors > 0 {
                // No figure of a variant that failed while timed survives, closed loop included.
                drop_arm(out, &sc.filter, arm);
                out.fail_at(
                    &at(sc, &sc.name, arm, Phase::Request, process),
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

/// How many variants [`measure_scenario`] starts for an HTTP scenario (a progress step each).
pub fn http_variants(s: &EnvoySettings, sc: &Scenario) -> u64 {
    let Workload::Http(_) = &sc.workload else {
        return 0;
    };
    let ((Some(builds), _), Some(config)) = (builds(s, sc), sc.file.case_config(&sc.case)) else {
        return 0;
    };
    config::variants(&sc.filter, &builds, &String::from_utf8_lossy(&config))
        .iter()
        .filter(|v| s.selects(v.name))
        .count() as u64
}
