//! `filterbench profile`: where one request's time and bytes go on each arm — host calls per
//! ABI function, time in host functions vs guest code vs the driver around the callbacks,
//! bytes copied across the boundary, guest allocations, linear-memory growth — and a one-line
//! diagnosis of the extra time against the native arm. Instrumented runs are slower than
//! `run`'s; the breakdown is for attribution, not for costs.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::scenario::{Scenario, signature};
use crate::engines::{self, Limits};
use crate::host::state::Profile;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArmProfile {
    pub arm: String,
    pub requests: u64,
    /// Wall time of all profiled requests.
    pub total_ns: u64,
    pub profile: Profile,
    pub memory_before: u64,
    pub memory_after: u64,
}

impl ArmProfile {
    fn per(&self, v: u64) -> f64 {
        v as f64 / self.requests.max(1) as f64
    }
    pub fn total_per_request(&self) -> f64 {
        self.per(self.total_ns)
    }
    pub fn host_per_request(&self) -> f64 {
        self.per(self.profile.host_ns())
    }
    /// Inside callbacks but not in host functions: the guest's own code (and its allocator).
    pub fn guest_per_request(&self) -> f64 {
        self.per(
            self.profile
                .callback_ns
                .saturating_sub(self.profile.host_ns()),
        )
    }
    /// Outside callbacks: the driver, VM entry/exit trampolines, outcome bookkeeping.
    pub fn driver_per_request(&self) -> f64 {
        self.per(self.total_ns.saturating_sub(self.profile.callback_ns))
    }
    pub fn calls_per_request(&self) -> f64 {
        self.per(self.profile.host_calls())
    }
    pub fn bytes_per_request(&self) -> (f64, f64) {
        (
            self.per(self.profile.bytes_from_guest),
            self.per(self.profile.bytes_to_guest),
        )
    }
    pub fn allocs_per_request(&self) -> f64 {
        self.per(self.profile.guest_allocs)
    }
}

/// Profiles `requests` requests of a scenario on one arm, after proving its output.
pub fn profile_arm(
    sc: &Scenario,
    arm: &str,
    limits: &Limits,
    requests: u64,
) -> Result<ArmProfile, String> {
    let module = engines::engine(arm, limits)
        .and_then(|e| e.load(&sc.artifacts))
        .map_err(|e| e.to_string())?;
    let want = sc.verify(module.as_ref())?;
    let mut vm = sc.start_vm(module.as_ref())?;
    for _ in 0..50 {
        sc.run_once(&mut vm).map_err(|e| e.to_string())?;
    }
    let memory_before = vm.instance().memory_bytes();
    vm.host().profile = Some(Box::default());
    let start = Instant::now();
    for _ in 0..requests {
        let step = sc.run_once(&mut vm).map_err(|e| e.to_string())?;
        if signature(&step) != signature(&want) {
            return Err("a profiled request changed its outcome".into());
        }
    }
    let total_ns = start.elapsed().as_nanos() as u64;
    let profile = *vm.host().profile.take().expect("profiling was on");
    Ok(ArmProfile {
        arm: arm.to_string(),
        requests,
        total_ns,
        profile,
        memory_before,
        memory_after: vm.instance().memory_bytes(),
    })
}

fn human_bytes(b: f64) -> String {
    if b >= 1048576.0 {
        format!("{:.1} MiB", b / 1048576.0)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

/// One line saying where an arm's extra time over native goes.
pub fn diagnosis(native: &ArmProfile, arm: &ArmProfile) -> String {
    let extra = arm.total_per_request() - native.total_per_request();
    if extra <= 0.0 {
        return format!(
            "{}: no extra time over native ({:.0} ns vs {:.0} ns per request)",
            arm.arm,
            arm.total_per_request(),
            native.total_per_request()
        );
    }
    let parts = [
        (
            "guest code",
            arm.guest_per_request() - native.guest_per_request(),
        ),
        (
            "host calls",
            arm.host_per_request() - native.host_per_request(),
        ),
        (
            "VM entry/exit and driver",
            arm.driver_per_request() - native.driver_per_request(),
        ),
    ];
    let (name, d) = parts
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("three parts");
    let (from, to) = arm.bytes_per_request();
    let detail = match name {
        "host calls" => format!(
            " ({:.0} calls, {} copied out of and {} into guest memory per request)",
            arm.calls_per_request(),
            human_bytes(from),
            human_bytes(to)
        ),
        "guest code" => format!(
            " ({:.0} guest allocations by the host per request)",
            arm.allocs_per_request()
        ),
        _ => format!(
            " ({} callbacks per request)",
            arm.profile.callbacks / arm.requests.max(1)
        ),
    };
    format!(
        "{}: {:.0}% of the extra {:.0} ns per request is {name}{detail}",
        arm.arm,
        (d / extra * 100.0).clamp(0.0, 999.0),
        extra
    )
}
