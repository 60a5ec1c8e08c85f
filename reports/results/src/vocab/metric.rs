//! Metrics: each measured quantity with its unit, the direction that is better, and whether it
//! may gate a nightly comparison.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Better, Unit, UnknownName};

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
    /// Blast radius (phase `fault`, scenario = the fault mode): requests sent while the filter
    /// failed on purpose, those that got no good answer (a 5xx, a wrong output), those reset or
    /// never answered, the time from the first bad answer until answers were good again, and
    /// whether the host (Envoy, or the in-process worker) was alive afterwards (1 or 0).
    FaultRequests = "fault_requests", Count, Neither, false;
    FaultRequestsFailed = "fault_requests_failed", Count, Lower, false;
    FaultRequestsReset = "fault_requests_reset", Count, Lower, false;
    FaultRecoveryTime = "fault_recovery_time", Ns, Lower, false;
    FaultHostSurvived = "fault_host_survived", Ratio, Higher, false;
    /// Live reload (phase `reload`, one process per trial, each a swap from version N-1 to N;
    /// times from the rename of the new resource into the watched folder). `reload_time`:
    /// until the new version settled — its first answer after the old version's last one
    /// (from then on every answer seen is version N's). `reload_requests`: responses completed
    /// from the rename until the load stopped; `reload_requests_failed`: of those, answered
    /// without version N-1's or N's output, plus those reset; `reload_rss_*_bytes`: Envoy's
    /// resident set just before the rename and after the window.
    ReloadTime = "reload_time", Ns, Lower, false;
    ReloadRequests = "reload_requests", Count, Neither, false;
    ReloadRequestsFailed = "reload_requests_failed", Count, Lower, false;
    ReloadRssBeforeBytes = "reload_rss_before_bytes", Bytes, Neither, false;
    ReloadRssAfterBytes = "reload_rss_after_bytes", Bytes, Neither, false;
    /// `reload_first_new_time`: until the first answer of version N (old answers may still
    /// follow it); `reload_requests_reset`: responses not answered at all (reset, refused,
    /// timed out), also counted in `reload_requests_failed`; `reload_wasm_vms_*`: V8 VMs
    /// Envoy reports alive before and after; `reload_old_module_mappings`: mappings of the
    /// previous version's dynamic-module shim file (`module-v{N-1}.so`, the file Envoy loads)
    /// still in Envoy after the swap — the shim only, not the filter's code.
    ReloadFirstNewTime = "reload_first_new_time", Ns, Lower, false;
    ReloadRequestsReset = "reload_requests_reset", Count, Lower, false;
    ReloadWasmVmsBefore = "reload_wasm_vms_before", Count, Neither, false;
    ReloadWasmVmsAfter = "reload_wasm_vms_after", Count, Neither, false;
    ReloadOldModuleMappings = "reload_old_module_mappings", Count, Lower, false;
    /// The filter's own code under the native module: the shim loads the filter's library from
    /// a private temporary copy deleted once loaded, so it shows in Envoy's maps only as
    /// `filterbench-envoy-module-*.so (deleted)`. `reload_filter_copies_*`: such copies mapped
    /// (distinct files; every version's still mapped counts) before the rename and after the
    /// window; `reload_old_filter_copies`: of the copies version N-1 added (for N = 1, all
    /// mapped before), those still mapped after the window (0: its filter code unloaded).
    ReloadFilterCopiesBefore = "reload_filter_copies_before", Count, Neither, false;
    ReloadFilterCopiesAfter = "reload_filter_copies_after", Count, Neither, false;
    ReloadOldFilterCopies = "reload_old_filter_copies", Count, Lower, false;
    /// Reach (phase `reach`, scenario = the attempted access): 1 when the arm refused it, 0 when
    /// the filter got through; the observation says how.
    ReachRefused = "reach_refused", Ratio, Higher, false;
    /// Derived gating figures of `compare` (see its gating table), computed per process: CPU
    /// per request net of the arm's baseline (the harness in process, `envoy-none` in Envoy: the
    /// filter's own cost there), net CPU over the reference arm's net CPU (the headline ratio),
    /// instructions per request, compile time, memory per VM.
    CpuNetOfHarness = "cpu_net_of_harness", Ns, Lower, true;
    EnvoyCpuNetOfNone = "envoy_cpu_net_of_none", Ns, Lower, true;
    CpuNetRatioToReference = "cpu_net_ratio_to_reference", Ratio, Lower, true;
    InstructionsPerRequest = "instructions_per_request", Count, Lower, true;
    CompileTime = "compile_time", Ns, Lower, true;
    MemoryPerVm = "memory_per_vm", Bytes, Lower, true;
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
