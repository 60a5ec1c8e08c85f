//! The results vocabulary: every phase, metric, unit, arm kind, failure stage and well-known arm
//! name, defined once. Rows carry these types, serde writes them as the same readable words the
//! JSON always had, and a metric knows its unit, which direction is better, and whether it may
//! gate a nightly comparison — so no other crate spells a name or guesses a unit.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What part of a filter's life a figure measures.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Steady-state requests (in process or through Envoy).
    #[default]
    Request,
    /// Compiling the module (validation included).
    Compile,
    /// Instantiating a compiled module.
    Instantiate,
    /// Starting the VM and configuring the plugin.
    Start,
    /// The first request on a fresh VM.
    FirstRequest,
    /// Footprint: module, per VM, per worker.
    Memory,
    /// The instrumented breakdown (attribution, not cost).
    Profile,
}

impl Phase {
    /// The cold-start phases, in the order they happen.
    pub const COLD_START: [Phase; 4] = [
        Phase::Compile,
        Phase::Instantiate,
        Phase::Start,
        Phase::FirstRequest,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Phase::Request => "request",
            Phase::Compile => "compile",
            Phase::Instantiate => "instantiate",
            Phase::Start => "start",
            Phase::FirstRequest => "first_request",
            Phase::Memory => "memory",
            Phase::Profile => "profile",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The unit of a figure.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum Unit {
    #[default]
    #[serde(rename = "ns")]
    Ns,
    #[serde(rename = "req/s")]
    PerSecond,
    #[serde(rename = "bytes")]
    Bytes,
    #[serde(rename = "count")]
    Count,
    /// A ratio of two figures (derived, e.g. by compare).
    #[serde(rename = "×")]
    Ratio,
}

impl Unit {
    pub const fn name(self) -> &'static str {
        match self {
            Unit::Ns => "ns",
            Unit::PerSecond => "req/s",
            Unit::Bytes => "bytes",
            Unit::Count => "count",
            Unit::Ratio => "×",
        }
    }
}

/// Which way a change of a figure is an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
    /// Descriptive (a count of calls, a file size): a change is news, not a verdict.
    Neither,
}

macro_rules! metrics {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $unit:ident, $better:ident, $gating:literal; )*) => {
        /// A measured quantity. Serialised as its name (`cpu_per_request`); the host-call counts
        /// of the breakdown are `calls:<function>`.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Metric {
            #[default]
            $( $(#[$doc])* $variant, )*
            /// Calls per request of one host function (breakdown); made by [`Metric::calls`],
            /// holding the whole name (`calls:<function>`).
            Calls(&'static str),
        }

        impl Metric {
            /// Every metric but the per-function call counts.
            pub const ALL: &'static [Metric] = &[$(Metric::$variant),*];

            pub fn name(&self) -> &'static str {
                match self {
                    $(Metric::$variant => $name,)*
                    Metric::Calls(name) => name,
                }
            }

            pub fn unit(&self) -> Unit {
                match self {
                    $(Metric::$variant => Unit::$unit,)*
                    Metric::Calls(_) => Unit::Count,
                }
            }

            pub fn better(&self) -> Better {
                match self {
                    $(Metric::$variant => Better::$better,)*
                    Metric::Calls(_) => Better::Neither,
                }
            }

            /// Whether this metric may gate a nightly comparison (with its phase and arm: see
            /// the compare module's gating table).
            pub fn gating(&self) -> bool {
                match self {
                    $(Metric::$variant => $gating,)*
                    Metric::Calls(_) => false,
                }
            }
        }

        impl FromStr for Metric {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Metric, UnknownName> {
                match s {
                    $($name => Ok(Metric::$variant),)*
                    _ => s
                        .strip_prefix(CALLS_PREFIX)
                        .map(Metric::calls)
                        .ok_or_else(|| UnknownName { kind: "metric", name: s.to_string() }),
                }
            }
        }
    };
}

/// Prefix of the per-host-function call-count metrics (`calls:proxy_get_header_map_value`).
pub const CALLS_PREFIX: &str = "calls:";

impl Metric {
    /// The host function of a call-count metric.
    pub fn function(&self) -> Option<&'static str> {
        match self {
            Metric::Calls(name) => name.strip_prefix(CALLS_PREFIX),
            _ => None,
        }
    }

    /// The call count of host function `function`. Names are interned, so a metric stays
    /// `Copy`; they are the ABI's few dozen functions, each kept once for the process's life.
    pub fn calls(function: &str) -> Metric {
        let full = format!("{CALLS_PREFIX}{function}");
        let function = full.as_str();
        use std::collections::BTreeSet;
        use std::sync::{Mutex, OnceLock};
        static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
        let mut names = NAMES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let name = match names.get(function) {
            Some(n) => *n,
            None => {
                let n: &'static str = Box::leak(function.to_string().into_boxed_str());
                names.insert(n);
                n
            }
        };
        Metric::Calls(name)
    }
}

metrics! {
    /// Latency percentiles of one request (ns), from that process's histogram.
    LatencyP50 = "latency_p50", Ns, Lower, false;
    LatencyP90 = "latency_p90", Ns, Lower, false;
    LatencyP99 = "latency_p99", Ns, Lower, false;
    LatencyP999 = "latency_p999", Ns, Lower, false;
    LatencyMax = "latency_max", Ns, Lower, false;
    LatencyMean = "latency_mean", Ns, Lower, false;
    /// CPU time per request (thread CPU in process; Envoy's CPU in Envoy).
    CpuPerRequest = "cpu_per_request", Ns, Lower, true;
    /// Requests per second (closed loop).
    Throughput = "throughput", PerSecond, Higher, true;
    /// Requests per second measured by wrk, the cross-check of our generator.
    ThroughputWrk = "throughput_wrk", PerSecond, Higher, false;
    /// Wall time of the batch passes that gave `cpu_per_request` (adaptive sampling stops
    /// them early once precise enough).
    TimedNs = "timed_ns", Ns, Neither, false;
    /// Half-width of the 95% CI of net CPU per request within the process, relative to it,
    /// when the batch passes stopped (over their rounds; gross where there is no harness).
    CpuCiWithin = "cpu_ci_within", Ratio, Neither, false;
    /// The timing loop's own CPU per request (harness rows): what the batches leave in.
    LoopCostPerRequest = "loop_cost_per_request", Ns, Lower, false;
    /// Wall time of one cold-start phase.
    Time = "time", Ns, Lower, true;
    /// Instructions per request under callgrind (deterministic mode).
    Instructions = "instructions", Count, Lower, true;
    /// Warm instantiation of a loaded module (phase `instantiate`), on the engine's default
    /// allocator and on its pooling allocator.
    InstantiateP50 = "instantiate_p50", Ns, Lower, false;
    InstantiateP99 = "instantiate_p99", Ns, Lower, false;
    InstantiatePooledP50 = "instantiate_pooled_p50", Ns, Lower, false;
    InstantiatePooledP99 = "instantiate_pooled_p99", Ns, Lower, false;
    ModuleFileBytes = "module_file_bytes", Bytes, Neither, false;
    ModuleRssBytes = "module_rss_bytes", Bytes, Lower, false;
    /// Resident bytes each further VM adds: private (anonymous) plus file-backed.
    RssPerVmBytes = "rss_per_vm_bytes", Bytes, Lower, false;
    /// The VM's own private state per VM (anonymous memory): the like-with-like figure.
    RssAnonPerVmBytes = "rss_anon_per_vm_bytes", Bytes, Lower, true;
    /// File-backed memory mapped per VM (native: its private copy of the library).
    RssFilePerVmBytes = "rss_file_per_vm_bytes", Bytes, Lower, false;
    HeapPerVmBytes = "heap_per_vm_bytes", Bytes, Lower, false;
    LinearMemoryBytes = "linear_memory_bytes", Bytes, Lower, false;
    /// Envoy's resident set while loaded.
    EnvoyRssBytes = "envoy_rss_bytes", Bytes, Lower, false;
    /// Envoy's resident set right after the timed closed loop (`envoy_rss_bytes` is the
    /// scaling runs' figure, after a short warm-up at each `--concurrency`).
    EnvoyRssAfterLoadBytes = "envoy_rss_after_load_bytes", Bytes, Lower, false;
    /// Our load generator's CPU to check one Envoy response against the verified outcome.
    ResponseCheckNs = "response_check_ns", Ns, Lower, false;
    /// The fraction of timed Envoy responses checked (1 unless checking is dear).
    ResponsesCheckedFraction = "responses_checked_fraction", Count, Neither, false;
    /// Envoy's own allocator statistic (`server.memory_allocated`).
    MemoryAllocatedBytes = "memory_allocated_bytes", Bytes, Lower, false;
    /// Wasm VMs Envoy reports alive.
    WasmVms = "wasm_vms", Count, Neither, false;
    /// The highest open-loop rate (coordinated-omission corrected, every response checked)
    /// whose latency percentile `latency_bound_percentile` stays at or under `latency_bound`
    /// (default p99 ≤ 2 ms), searched per Envoy variant per process; of this machine, with our
    /// generator and upstream on its other CPUs (`run --max-rate`).
    MaxRateUnderBound = "max_rate_under_bound", PerSecond, Higher, false;
    /// A variant's `max_rate_under_bound` over envoy-none's in the same process (paired).
    MaxRateVsNone = "max_rate_vs_none", Ratio, Higher, false;
    /// The bound and its percentile (99: p99) that `max_rate_under_bound` was searched under.
    LatencyBound = "latency_bound", Ns, Neither, false;
    LatencyBoundPercentile = "latency_bound_percentile", Count, Neither, false;
    /// Envoy's workers' CPU over wall time at the highest rate that kept the bound: well under
    /// 1, our generator (not Envoy) set the limit.
    MaxRateEnvoyBusy = "max_rate_envoy_busy", Ratio, Neither, false;
    /// Envoy RSS added per worker thread (slope over concurrency).
    RssPerWorkerBytes = "rss_per_worker_bytes", Bytes, Lower, true;
    /// Breakdown (phase `profile`), per request.
    Total = "total", Ns, Lower, false;
    Guest = "guest", Ns, Lower, false;
    Host = "host", Ns, Lower, false;
    Driver = "driver", Ns, Lower, false;
    HostCalls = "host_calls", Count, Neither, false;
    BytesOutOfGuest = "bytes_out_of_guest", Bytes, Neither, false;
    BytesIntoGuest = "bytes_into_guest", Bytes, Neither, false;
    GuestAllocs = "guest_allocs", Count, Neither, false;
    MemoryGrowth = "memory_growth", Bytes, Neither, false;
    Callbacks = "callbacks", Count, Neither, false;
    /// Derived gating figures of `compare` (see its gating table), computed per process.
    CpuRatioToReference = "cpu_ratio_to_reference", Ratio, Lower, true;
    CpuNetOfHarness = "cpu_net_of_harness", Ns, Lower, true;
    Throughput1Thread = "throughput_1_thread", PerSecond, Higher, true;
    InstructionsPerRequest = "instructions_per_request", Count, Lower, true;
    CompileTime = "compile_time", Ns, Lower, true;
    MemoryPerVm = "memory_per_vm", Bytes, Lower, true;
    EnvoyCpuVsNone = "envoy_cpu_vs_none", Ratio, Lower, true;
    EnvoyCpuVsNativeModule = "envoy_cpu_vs_native_module", Ratio, Lower, true;
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Metric {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Metric, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A name that is not in the vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}`")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
}

/// What sort of arm produced a figure.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ArmKind {
    /// The filter's native build, in process.
    Native,
    /// The filter's `.wasm` on an in-process engine.
    Wasm,
    /// A live Envoy variant.
    Envoy,
    /// The host driving empty callbacks: its own cost, subtracted for "net" figures.
    Harness,
    /// Not listed by the run (a row of an unknown arm).
    #[default]
    Other,
}

impl ArmKind {
    /// Display order of kinds.
    pub const ORDER: [ArmKind; 5] = [
        ArmKind::Native,
        ArmKind::Wasm,
        ArmKind::Envoy,
        ArmKind::Harness,
        ArmKind::Other,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            ArmKind::Native => "native",
            ArmKind::Wasm => "wasm",
            ArmKind::Envoy => "envoy",
            ArmKind::Harness => "harness",
            ArmKind::Other => "other",
        }
    }
}

impl fmt::Display for ArmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a filter × arm failed.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The worker could not start its plan.
    #[default]
    Worker,
    /// The engine or the module could not be loaded.
    Load,
    /// The proof before timing (fixture case, equality with the reference arm).
    Verify,
    /// While timed: a trap, a stopped callback, or an output that differs from the proof.
    Run,
    Coldstart,
    Memory,
    Profile,
    /// Instruction counting (callgrind).
    Instructions,
    /// Envoy's per-worker memory scaling.
    Scaling,
    /// Sampling for a flame graph (perf).
    Flamegraph,
}

impl Stage {
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Worker => "worker",
            Stage::Load => "load",
            Stage::Verify => "verify",
            Stage::Run => "run",
            Stage::Coldstart => "coldstart",
            Stage::Memory => "memory",
            Stage::Profile => "profile",
            Stage::Instructions => "instructions",
            Stage::Scaling => "scaling",
            Stage::Flamegraph => "flamegraph",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `FromStr` for the closed word lists, by their names (`"first_request".parse::<Phase>()`).
macro_rules! parse_by_name {
    ($($t:ident: $($v:ident),+;)+) => {$(
        impl FromStr for $t {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<$t, UnknownName> {
                [$($t::$v),+]
                    .into_iter()
                    .find(|x| x.name() == s)
                    .ok_or_else(|| UnknownName { kind: stringify!($t), name: s.to_string() })
            }
        }
    )+};
}

parse_by_name! {
    Phase: Request, Compile, Instantiate, Start, FirstRequest, Memory, Profile;
    Unit: Ns, PerSecond, Bytes, Count, Ratio;
    ArmKind: Native, Wasm, Envoy, Harness, Other;
    Stage: Worker, Load, Verify, Run, Coldstart, Memory, Profile, Instructions, Scaling, Flamegraph;
}

/// Arm names the suite itself gives (engines name theirs in the runners' registry).
pub mod arm {
    /// The filter's native build in process: the reference of every in-process wasm arm.
    pub const NATIVE: &str = "native";
    /// The harness pseudo-arm.
    pub const HARNESS: &str = "harness";
    /// The engines' arms (the runners' registry names them with these); claims are judged on
    /// the fastest JIT here, wasmtime-cranelift.
    pub const WASMTIME_CRANELIFT: &str = "wasmtime-cranelift";
    pub const WASMTIME_WINCH: &str = "wasmtime-winch";
    pub const WASMER_CRANELIFT: &str = "wasmer-cranelift";
    pub const WASMER_SINGLEPASS: &str = "wasmer-singlepass";
    pub const WASMI: &str = "wasmi";
    /// Envoy variants: no filter, Envoy's built-in filter, the native build as a dynamic
    /// module, Lua, and the `.wasm` on V8.
    pub const ENVOY_NONE: &str = "envoy-none";
    pub const ENVOY_BUILTIN: &str = "envoy-native";
    pub const ENVOY_NATIVE_MODULE: &str = "envoy-native-module";
    pub const ENVOY_LUA: &str = "envoy-lua";
    pub const ENVOY_WASM_V8: &str = "envoy-wasm-v8";
    /// The targets of `filterbench load` (an Envoy or sidecar we did not start), A and B, unless
    /// named as the Envoy variant each runs.
    pub const REMOTE_A: &str = "remote-a";
    pub const REMOTE_B: &str = "remote-b";
    pub const REMOTE: [&str; 2] = [REMOTE_A, REMOTE_B];
    /// Every Envoy variant, in display order.
    pub const ENVOY: [&str; 5] = [
        ENVOY_NONE,
        ENVOY_BUILTIN,
        ENVOY_NATIVE_MODULE,
        ENVOY_LUA,
        ENVOY_WASM_V8,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_round_trips_through_its_name_and_json() {
        let mut all = Metric::ALL.to_vec();
        all.push(Metric::calls("proxy_log"));
        for m in all {
            let parsed: Metric = m.name().parse().unwrap();
            assert_eq!(parsed, m);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
            assert_eq!(serde_json::from_str::<Metric>(&json).unwrap(), m);
        }
        let names: std::collections::BTreeSet<_> = Metric::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Metric::ALL.len(), "two metrics share a name");
        assert!("latency_p42".parse::<Metric>().is_err());
    }

    #[test]
    fn words_in_json_are_the_names() {
        assert_eq!(
            serde_json::to_string(&Phase::FirstRequest).unwrap(),
            "\"first_request\""
        );
        assert_eq!(
            serde_json::to_string(&Unit::PerSecond).unwrap(),
            "\"req/s\""
        );
        assert_eq!(
            serde_json::to_string(&ArmKind::Harness).unwrap(),
            "\"harness\""
        );
        assert_eq!(
            serde_json::to_string(&Stage::Coldstart).unwrap(),
            "\"coldstart\""
        );
        for p in Phase::COLD_START {
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.name())
            );
        }
    }
}
