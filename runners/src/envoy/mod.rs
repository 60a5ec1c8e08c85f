//! The live-Envoy arms: the same `.wasm` in a real Envoy (V8) beside Envoy's native filter and
//! a Lua script doing the same work, and no filter at all, all behind the same upstream and
//! driven by our load generator. Each variant is proven against the in-process native arm
//! over HTTP before it is timed; variants (and protocols: HTTP/1.1, h2c) run interleaved, and
//! figures become the same rows as the in-process arms (arm = variant name; an h2c figure's
//! scenario carries the results vocabulary's h2c suffix).

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
mod timed;
mod upstream;
mod variant;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

use filterbench_results::At;
use filterbench_results::vocab::{Metric, Phase, arm};
use serde::{Deserialize, Serialize};

use crate::measure::WorkerOutput;
use crate::measure::scenario::{Scenario, Workload};
pub use process::{Envoy, EnvoyError};
pub use scaling::measure_scaling;
pub use timed::{measure_scenario, measure_scenario_over, open_loop_scenario};
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

/// What an Envoy arm's flags add when it was timed over more than HTTP/1.1: the protocols,
/// and where the h2c figures are (the arm keeps its name; the scenario says the protocol).
pub fn protocols_note(protocols: &[protocol::Protocol]) -> String {
    let ps = protocol::Protocol::or_default(protocols);
    if ps == [protocol::Protocol::Http1] {
        return String::new();
    }
    let labels: Vec<&str> = ps.iter().map(|p| p.label()).collect();
    format!(
        "; over {} (generator to Envoy and Envoy to upstream; an Envoy per protocol, rounds \
         interleaved), h2c figures under the scenario name + `{}`",
        labels.join(" and "),
        filterbench_results::vocab::protocol::H2C_SUFFIX
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
        .filter(|v| s.selects(v.name) && byo::expected_to_run(sc, v.name))
        .count() as u64
}
