//! The live-Envoy arms: the same `.wasm` in a real Envoy (V8) beside Envoy's native filter and
//! a Lua script doing the same work, and no filter at all, all behind the same upstream and
//! driven by our load generator. Each variant is proven against the in-process native arm
//! over HTTP before it is timed; variants run interleaved, and figures become the same rows
//! as the in-process arms (arm = variant name).

pub mod config;
pub mod http;
pub mod process;
pub mod sample;
pub mod tcp;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

use filterbench_results::Row;
use serde::{Deserialize, Serialize};

use crate::measure::scenario::{Scenario, Workload};
use crate::measure::{Progress, WorkerOutput, rotated};
use config::Variant;
use http::{RequestTemplate, Upstream};
pub use process::{Envoy, EnvoyError};
use verify::{check, native_reference};

/// How the Envoy part of a run is done.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnvoySettings {
    pub bin: PathBuf,
    pub version: String,
    /// Envoy worker threads for the timed runs.
    pub concurrency: u32,
    pub connections: u32,
    /// Closed-loop time per variant per process, split over `rounds` interleaved rounds.
    pub duration: Duration,
    pub rounds: u32,
    pub warmup: Duration,
    /// Open-loop rates as fractions of envoy-none's closed-loop maximum in the same process.
    pub rate_fractions: Vec<f64>,
    pub rate_duration: Duration,
    /// `--concurrency` values for the memory-per-worker runs.
    pub scaling: Vec<u32>,
    /// Where configs and Envoy logs are kept (beside the results).
    pub dir: PathBuf,
}

struct Running {
    variant: Variant,
    envoy: Envoy,
    completed: u64,
    errors: u64,
    first_error: Option<String>,
    wall: Duration,
    cpu_ns: u64,
    hist: hdrhistogram::Histogram<u64>,
}

/// Where a figure belongs; `.row(metric, unit, value)` makes the row.
pub(crate) struct At<'a> {
    sc: &'a Scenario,
    scenario: &'a str,
    arm: &'a str,
    phase: &'a str,
    threads: u32,
    process: u32,
}

impl At<'_> {
    pub(crate) fn row(&self, metric: &str, unit: &str, value: f64) -> Row {
        Row {
            filter: self.sc.filter.clone(),
            scenario: self.scenario.to_string(),
            arm: self.arm.to_string(),
            phase: self.phase.into(),
            metric: metric.into(),
            unit: unit.into(),
            threads: self.threads,
            process: self.process,
            iteration: 0,
            value,
        }
    }
}

pub(crate) fn latency_rows(
    out: &mut WorkerOutput,
    sc: &Scenario,
    scenario: &str,
    arm: &str,
    process: u32,
    h: &hdrhistogram::Histogram<u64>,
) {
    let at = At {
        sc,
        scenario,
        arm,
        phase: "request",
        threads: 1,
        process,
    };
    for (m, q) in [
        ("latency_p50", 0.5),
        ("latency_p90", 0.9),
        ("latency_p99", 0.99),
        ("latency_p999", 0.999),
    ] {
        out.rows
            .push(at.row(m, "ns", h.value_at_quantile(q) as f64));
    }
    out.rows.push(at.row("latency_max", "ns", h.max() as f64));
    out.histograms.push(crate::measure::latency::histogram_row(
        &sc.filter, scenario, arm, process, h,
    ));
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
    let fail = |out: &mut WorkerOutput, arm: &str, stage: &str, msg: String| {
        out.fail(&sc.filter, &sc.name, arm, stage, msg)
    };
    if let Some(why) = why {
        fail(out, config::NATIVE_MODULE, "load", why);
    }
    let want = match native_reference(sc) {
        Ok(w) => w,
        Err(e) => {
            return fail(
                out,
                "envoy-*",
                "verify",
                format!("no native reference: {e}"),
            );
        }
    };
    let upstream = match Upstream::start(&ex.response) {
        Ok(u) => u,
        Err(e) => return fail(out, "envoy-*", "load", format!("upstream: {e}")),
    };
    let req = RequestTemplate::from_message(&ex.request);
    let config_text = String::from_utf8_lossy(&config).into_owned();
    let _ = std::fs::create_dir_all(&s.dir);
    let mut running: Vec<Running> = Vec::new();
    for variant in config::variants(&sc.filter, &builds, &config_text) {
        progress.step(&format!(
            "envoy {} / {} / {}",
            sc.filter, sc.name, variant.name
        ));
        let name = format!("{}.{}.{}.p{process}", sc.filter, sc.name, variant.name);
        let envoy = match start_verified(s, sc, &variant, &upstream, &req, &want, &name) {
            Ok(e) => e,
            Err((stage, msg)) => {
                fail(out, variant.name, stage, msg);
                continue;
            }
        };
        running.push(Running {
            variant,
            envoy,
            completed: 0,
            errors: 0,
            first_error: None,
            wall: Duration::ZERO,
            cpu_ns: 0,
            hist: hdrhistogram::Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("bounds"),
        });
    }
    let status = verify::expected_status(ex, &want.0);
    // Warm-up, then interleaved closed-loop rounds.
    for r in running.iter() {
        http::load(
            r.envoy.listener,
            &req,
            status,
            s.connections,
            s.warmup,
            None,
        );
    }
    let rounds = s.rounds.max(1);
    let order: Vec<usize> = (0..running.len()).collect();
    for round in 0..rounds {
        for i in rotated(&order, process + round) {
            let r = &mut running[i];
            let cpu0 = r.envoy.cpu_ns().unwrap_or(0);
            let res = http::load(
                r.envoy.listener,
                &req,
                status,
                s.connections,
                s.duration / rounds,
                None,
            );
            r.cpu_ns += r.envoy.cpu_ns().unwrap_or(0).saturating_sub(cpu0);
            r.completed += res.completed;
            r.errors += res.errors;
            r.wall += res.wall;
            if r.first_error.is_none() {
                r.first_error = res.first_error;
            }
            let _ = r.hist.add(&res.hist);
            if let Err(e) = r.envoy.check_alive() {
                r.errors += 1;
                r.first_error.get_or_insert(e.to_string());
            }
        }
    }
    // wrk on the same target with the same connections, beside our generator's figure.
    let wrk_rps: Vec<(&'static str, f64)> = if req.body.is_empty() {
        running
            .iter()
            .filter(|r| r.variant.name == "envoy-none" || r.variant.name == "envoy-wasm-v8")
            .filter_map(|r| {
                wrk(r.envoy.listener, &req, s.connections, s.duration / rounds)
                    .map(|v| (r.variant.name, v))
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut none_rps = None;
    let mut ok = Vec::new();
    for r in &running {
        let arm = r.variant.name;
        if r.errors > 0 || r.completed == 0 {
            fail(
                out,
                arm,
                "run",
                format!(
                    "{} failed requests: {}",
                    r.errors,
                    r.first_error.clone().unwrap_or_default()
                ),
            );
            continue;
        }
        let rps = r.completed as f64 / r.wall.as_secs_f64();
        if arm == "envoy-none" {
            none_rps = Some(rps);
        }
        latency_rows(out, sc, &sc.name, arm, process, &r.hist);
        let at = At {
            sc,
            scenario: &sc.name,
            arm,
            phase: "request",
            threads: 1,
            process,
        };
        out.rows.push(at.row("throughput", "req/s", rps));
        out.rows.push(at.row(
            "cpu_per_request",
            "ns",
            r.cpu_ns as f64 / r.completed as f64,
        ));
        if let Some((_, w)) = wrk_rps.iter().find(|(a, _)| *a == arm) {
            out.rows.push(at.row("throughput_wrk", "req/s", *w));
        }
        let mem = At {
            sc,
            scenario: "",
            arm,
            phase: "memory",
            threads: s.concurrency,
            process,
        };
        let rss = r.envoy.rss_bytes().unwrap_or(0) as f64;
        out.rows.push(mem.row("envoy_rss_bytes", "bytes", rss));
        if let Some(m) = r.envoy.stat("server.memory_allocated") {
            out.rows
                .push(mem.row("memory_allocated_bytes", "bytes", m as f64));
        }
        if let Some(v) = r.envoy.stat("wasm.envoy.wasm.runtime.v8.active") {
            out.rows.push(mem.row("wasm_vms", "count", v as f64));
        }
        ok.push(r);
    }
    // Latency at fixed rates: open loop, coordinated-omission corrected.
    if let Some(max) = none_rps {
        for &f in &s.rate_fractions {
            let scenario = format!("{}@{:.0}%", sc.name, f * 100.0);
            for r in rotated(&ok, process) {
                let res = http::load(
                    r.envoy.listener,
                    &req,
                    status,
                    s.connections,
                    s.rate_duration,
                    Some(max * f),
                );
                if res.errors > 0 || res.completed == 0 {
                    fail(
                        out,
                        r.variant.name,
                        "run",
                        format!("at {scenario}: {} failed requests", res.errors),
                    );
                    continue;
                }
                latency_rows(out, sc, &scenario, r.variant.name, process, &res.hist);
            }
        }
    }
}

/// What the scenario's filter brings to Envoy; a reason when the native-module arm cannot run
/// although the filter has a native build (an Envoy of another dynamic-modules ABI).
pub(crate) fn builds(s: &EnvoySettings, sc: &Scenario) -> (Option<config::Builds>, Option<String>) {
    let Some(wasm) = sc.artifacts.wasm.clone() else {
        return (None, None);
    };
    let (module, why) = match (&sc.artifacts.native, config::dynamic_module(&s.version)) {
        (None, _) => (None, None),
        (Some(lib), Ok(m)) => (Some((m, lib.clone())), None),
        (Some(_), Err(e)) => (None, Some(e)),
    };
    (Some(config::Builds { wasm, module }), why)
}

/// Starts one variant's Envoy (config and log under `s.dir` as `name`) and proves its output
/// over HTTP against the in-process native arm; on failure, the stage and why.
pub(crate) fn start_verified(
    s: &EnvoySettings,
    sc: &Scenario,
    variant: &Variant,
    upstream: &Upstream,
    req: &RequestTemplate,
    want: &verify::Reference,
    name: &str,
) -> Result<Envoy, (&'static str, String)> {
    let path = s.dir.join(format!("{name}.json"));
    let body =
        serde_json::to_string_pretty(&config::bootstrap(variant, upstream.port)).expect("json");
    std::fs::write(&path, body).map_err(|e| ("load", e.to_string()))?;
    let envoy = Envoy::start(&s.bin, &path, s.concurrency, &s.dir, name)
        .map_err(|e| ("load", e.to_string()))?;
    if let Some(log_check) = variant.log_check {
        log_check(&std::fs::read_to_string(&envoy.log).unwrap_or_default())
            .map_err(|e| ("load", e))?;
    }
    upstream
        .record
        .store(true, std::sync::atomic::Ordering::Relaxed);
    *upstream.last.lock().unwrap() = None;
    let verdict = http::one_shot(envoy.listener, req).and_then(|seen| {
        let up = upstream.last.lock().unwrap().clone();
        check(variant, sc, want, &seen, up.as_ref())
    });
    upstream
        .record
        .store(false, std::sync::atomic::Ordering::Relaxed);
    verdict.map_err(|e| ("verify", format!("differs from the native arm: {e}")))?;
    Ok(envoy)
}

/// Requests/s that `wrk` reaches on the same target, if wrk is installed.
fn wrk(
    addr: std::net::SocketAddr,
    req: &RequestTemplate,
    connections: u32,
    d: Duration,
) -> Option<f64> {
    let mut cmd = std::process::Command::new("wrk");
    // wrk takes whole seconds.
    let secs = d.as_secs_f64().round().max(1.0) as u64;
    cmd.args([
        "-t1",
        "-c",
        &connections.to_string(),
        "-d",
        &format!("{secs}s"),
    ]);
    for (k, v) in &req.headers {
        cmd.arg("-H").arg(format!(
            "{}: {}",
            String::from_utf8_lossy(k),
            String::from_utf8_lossy(v)
        ));
    }
    cmd.arg(format!("http://{addr}{}", req.path));
    let out = cmd.stderr(std::process::Stdio::null()).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Envoy RSS over `--concurrency` values for envoy-none and envoy-wasm-v8: the slope is the
/// memory each worker (and its VM) adds.
pub fn measure_scaling(s: &EnvoySettings, sc: &Scenario, process: u32, out: &mut WorkerOutput) {
    let Workload::Http(ex) = &sc.workload else {
        return;
    };
    let ((Some(builds), _), Some(config)) = (builds(s, sc), sc.file.case_config(&sc.case)) else {
        return;
    };
    let Ok(upstream) = Upstream::start(&ex.response) else {
        return;
    };
    let req = RequestTemplate::from_message(&ex.request);
    let config_text = String::from_utf8_lossy(&config).into_owned();
    for variant in config::variants(&sc.filter, &builds, &config_text)
        .into_iter()
        .filter(|v| ["envoy-none", config::NATIVE_MODULE, "envoy-wasm-v8"].contains(&v.name))
    {
        let mem = |threads| At {
            sc,
            scenario: "",
            arm: variant.name,
            phase: "memory",
            threads,
            process,
        };
        let mut points = Vec::new();
        for &c in &s.scaling {
            let name = format!("{}.scaling.{}.c{c}.p{process}", sc.filter, variant.name);
            let path = s.dir.join(format!("{name}.json"));
            let body = serde_json::to_string_pretty(&config::bootstrap(&variant, upstream.port))
                .expect("json");
            if std::fs::write(&path, body).is_err() {
                continue;
            }
            match Envoy::start(&s.bin, &path, c, &s.dir, &name) {
                Ok(envoy) => {
                    // Enough connections that every worker serves requests (VMs are per worker);
                    // a variant that served nothing gives no memory point.
                    let warm = http::load(
                        envoy.listener,
                        &req,
                        http::status_of(&ex.response.headers),
                        c * 4,
                        Duration::from_millis(200),
                        None,
                    );
                    if warm.completed == 0 || warm.errors > 0 {
                        out.fail(
                            &sc.filter,
                            "",
                            variant.name,
                            "scaling",
                            format!(
                                "{} failed requests: {}",
                                warm.errors,
                                warm.first_error.unwrap_or_default()
                            ),
                        );
                        continue;
                    }
                    let rss = envoy.rss_bytes().unwrap_or(0) as f64;
                    points.push((c as f64, rss));
                    out.rows.push(mem(c).row("envoy_rss_bytes", "bytes", rss));
                }
                Err(e) => out.fail(&sc.filter, "", variant.name, "scaling", e.to_string()),
            }
        }
        if let Some(slope) = filterbench_results::stats::slope(&points) {
            out.rows
                .push(mem(1).row("rss_per_worker_bytes", "bytes", slope));
        }
    }
}
