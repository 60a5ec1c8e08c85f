//! The measurement suite run inside one worker process: for every scenario × arm, prove the
//! filter's output once, then run every measurement that applies ([`pipeline`]). The parent
//! (`filterbench run`) repeats workers in several processes and aggregates; a worker only
//! produces raw rows.

pub mod callgrind;
pub mod coldstart;
pub mod envoy_http;
pub mod envoy_maxrate;
pub mod envoy_scaling;
pub mod envoy_tcp;
pub mod instantiate;
pub mod memory;
pub mod perf;
pub mod pipeline;
pub mod probes;
pub mod profile;
pub mod prove;
pub mod scenario;
pub mod steady;
pub mod stopping;
pub mod threads;

use std::path::PathBuf;
use std::time::Duration;

use filterbench_results::vocab::{ArmKind, arm};
use serde::{Deserialize, Serialize};

use crate::engines::{self, Engine, Limits, LoadedModule};
pub use pipeline::run_worker;
pub use scenario::Scenario;

/// The name of the pseudo-arm that measures the harness itself.
pub const HARNESS_ARM: &str = arm::HARNESS;

/// A filter not in the catalogue, brought by the user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ByoFilter {
    pub wasm: PathBuf,
    pub native: Option<PathBuf>,
    /// Plugin configuration file (sent as is).
    pub config: Option<PathBuf>,
    /// A fixtures.json of our format: the full differential proof instead of a generic request.
    #[serde(default)]
    pub fixtures: Option<PathBuf>,
    /// Its source language when filterbench built it (`run --source`); else unknown.
    #[serde(default)]
    pub language: Option<String>,
}

/// What a worker measures and how long; passed to worker processes as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub profile: String,
    pub filters: Vec<String>,
    pub byo: Option<ByoFilter>,
    pub arms: Vec<String>,
    /// Filter × arm pairs an earlier process refused (could not load or prove): later
    /// processes leave them out rather than hit the same failure (a CPU bound) again.
    #[serde(default)]
    pub refused: Vec<(String, String)>,
    /// The benchmark scenarios to run, by name (empty: every one of each filter).
    #[serde(default)]
    pub scenarios: Vec<String>,
    pub limits: Limits,
    /// Worker processes (repetitions).
    pub processes: u32,
    /// Most timed time per scenario × arm per process (half batch pass, half latency pass),
    /// in at least `rounds` interleaved rounds.
    pub measure: Duration,
    pub rounds: u32,
    /// Stop an arm's batch passes once the 95% CI of its net CPU per request in this process
    /// is within ± this fraction (0: always run to `measure`).
    #[serde(default)]
    pub precision: f64,
    /// One arm's turn in a round when stopping on `precision`.
    #[serde(default)]
    pub turn: Duration,
    pub warmup: Duration,
    /// Thread counts for the multi-VM throughput runs (each thread has its own VM).
    pub threads: Vec<u32>,
    /// Duration of each multi-thread throughput run.
    pub throughput_time: Duration,
    /// Multi-thread runs on every scenario (full) or each filter's first (quick).
    #[serde(default)]
    pub threads_all: bool,
    pub cold_iterations: u32,
    /// Warm instantiations timed per arm and allocator (0: none).
    #[serde(default)]
    pub instantiations: u32,
    /// VMs instantiated to fit the memory-per-VM slope.
    pub memory_instances: u32,
    pub harness: bool,
    /// Instrumented requests per scenario × arm for the breakdown (`profile` phase), run in the
    /// first worker process only and bounded by `profile_time`; 0 turns it off.
    pub profile_requests: u64,
    pub profile_time: Duration,
    /// The live-Envoy part, when Envoy is there and wanted.
    pub envoy: Option<crate::envoy::EnvoySettings>,
    /// Envoy: measure every bench scenario (full) or only each filter's first (quick), and
    /// the per-worker memory scaling for every filter (full) or the first (quick).
    pub envoy_all: bool,
    /// The highest rate under a latency bound per Envoy variant (`run --max-rate`; slow).
    #[serde(default)]
    pub max_rate: Option<crate::envoy::maxrate::MaxRateSettings>,
    /// The protocols every local Envoy variant is timed (and max-rate searched) over,
    /// interleaved in the rounds (empty: HTTP/1.1 alone).
    #[serde(default)]
    pub envoy_protocols: Vec<crate::envoy::protocol::Protocol>,
}

impl Plan {
    /// The whole matrix in a few minutes on 2 cores.
    pub fn quick() -> Plan {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
        Plan {
            profile: "quick".into(),
            filters: Vec::new(),
            byo: None,
            arms: Vec::new(),
            refused: Vec::new(),
            scenarios: Vec::new(),
            limits: Limits::default(),
            processes: 3,
            measure: Duration::from_millis(160),
            rounds: 3,
            precision: 0.03,
            turn: Duration::from_millis(10),
            warmup: Duration::from_millis(10),
            threads: vec![cpus.max(2)],
            throughput_time: Duration::from_millis(40),
            threads_all: false,
            cold_iterations: 1,
            instantiations: 200,
            memory_instances: 8,
            harness: true,
            profile_requests: 1000,
            profile_time: Duration::from_millis(25),
            envoy: None,
            envoy_all: false,
            max_rate: None,
            envoy_protocols: Vec::new(),
        }
    }

    /// Longer runs and more repetitions for tighter intervals.
    pub fn full() -> Plan {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
        Plan {
            profile: "full".into(),
            processes: 5,
            measure: Duration::from_secs(2),
            rounds: 4,
            precision: 0.01,
            turn: Duration::from_millis(50),
            warmup: Duration::from_millis(200),
            threads: (1..=cpus.max(2)).filter(|t| *t > 1).collect(),
            throughput_time: Duration::from_secs(1),
            threads_all: true,
            cold_iterations: 5,
            instantiations: 1000,
            memory_instances: 16,
            profile_requests: 20000,
            profile_time: Duration::from_millis(500),
            envoy_all: true,
            ..Plan::quick()
        }
    }
}

/// Progress events; measuring code never prints.
pub trait Progress: Sync {
    fn total(&self, _steps: u64) {}
    fn step(&self, _label: &str) {}
    /// Work that is not a counted step (a filter's proof): what a worker that dies was doing.
    fn doing(&self, _label: &str) {}
}

/// A [`Progress`] that ignores everything.
pub struct Silent;
impl Progress for Silent {}

/// What one worker process measured: the results crate's [`filterbench_results::Batch`],
/// merged into the results file by [`filterbench_results::Results::merge`].
pub type WorkerOutput = filterbench_results::Batch;

/// One arm ready to run one filter.
pub struct LoadedArm {
    pub name: String,
    pub module: Box<dyn LoadedModule>,
    pub engine: Option<Box<dyn Engine>>,
}

/// Arms in the order this process visits them: rotated by the process index, so no arm is
/// always first (or last) while the machine drifts.
pub fn rotated<T: Clone>(items: &[T], by: u32) -> Vec<T> {
    let mut v = items.to_vec();
    if !v.is_empty() {
        let k = by as usize % v.len();
        v.rotate_left(k);
    }
    v
}

fn sha256_file(path: &std::path::Path) -> Option<(String, u64)> {
    use sha2::Digest;
    let bytes = std::fs::read(path).ok()?;
    let digest = sha2::Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some((hex, bytes.len() as u64))
}

/// The filters of a plan as the results file records them: the very files every arm ran.
pub fn describe_filters(plan: &Plan) -> Result<Vec<filterbench_results::FilterInfo>, String> {
    let scenarios = scenario::scenarios(plan)?;
    let mut out: Vec<filterbench_results::FilterInfo> = Vec::new();
    for sc in &scenarios {
        if let Some(f) = out.iter_mut().find(|f| f.name == sc.filter) {
            f.scenarios.push(sc.name.clone());
            continue;
        }
        let wasm = sc.artifacts.wasm.as_deref().and_then(sha256_file);
        let native = sc.artifacts.native.as_deref().and_then(sha256_file);
        out.push(filterbench_results::FilterInfo {
            name: sc.filter.clone(),
            kind: format!("{:?}", sc.file.kind).to_lowercase(),
            language: if sc.byo {
                plan.byo
                    .as_ref()
                    .and_then(|b| b.language.clone())
                    .unwrap_or_else(|| "unknown".into())
            } else {
                crate::catalog::find(&sc.filter)
                    .map_or("unknown", |f| f.language)
                    .into()
            },
            job: crate::languages::job(&sc.filter).to_string(),
            wasm_path: sc.artifacts.wasm.as_ref().map(|p| p.display().to_string()),
            wasm_sha256: wasm.as_ref().map(|w| w.0.clone()),
            wasm_bytes: wasm.map(|w| w.1),
            native_path: sc
                .artifacts
                .native
                .as_ref()
                .map(|p| p.display().to_string()),
            native_sha256: native.map(|n| n.0),
            scenarios: vec![sc.name.clone()],
        });
    }
    Ok(out)
}

/// The arms of a plan as the results file records them.
pub fn describe_arms(plan: &Plan) -> Vec<filterbench_results::ArmInfo> {
    let mut out: Vec<_> = plan
        .arms
        .iter()
        .filter_map(|a| engines::engine(a, &plan.limits).ok())
        .map(|e| filterbench_results::ArmInfo {
            name: e.name().to_string(),
            kind: if e.name() == arm::NATIVE {
                ArmKind::Native
            } else {
                ArmKind::Wasm
            },
            version: e.version(),
            flags: e.flags(),
        })
        .collect();
    if let Some(e) = &plan.envoy {
        for name in crate::envoy::config::ENVOY_ARMS {
            out.push(filterbench_results::ArmInfo {
                name: name.to_string(),
                kind: ArmKind::Envoy,
                version: format!("envoy {}", e.version),
                flags: format!(
                    "{}; --concurrency {}; {} connections; upstream: in-suite tokio; {}",
                    match *name {
                        arm::ENVOY_WASM_V8 => "V8 wasm runtime",
                        arm::ENVOY_NATIVE_MODULE =>
                            "dynamic module (ABI v0.2.0) running the filter's native build",
                        arm::ENVOY_LUA => "Lua filter",
                        arm::ENVOY_BUILTIN => "Envoy's built-in filter",
                        _ => "no filter",
                    },
                    e.concurrency,
                    e.connections,
                    crate::envoy::flags_note()
                ) + &crate::envoy::protocols_note(&plan.envoy_protocols),
            });
        }
    }
    if plan.harness {
        out.push(filterbench_results::ArmInfo {
            name: arm::HARNESS.into(),
            kind: ArmKind::Harness,
            version: env!("CARGO_PKG_VERSION").into(),
            flags: "each scenario's callback sequence replayed with empty callbacks (stopping where the filter replied locally or closed)".into(),
        });
    }
    out
}
