//! `filterbench profile`: where one request's time and bytes go on each arm — host calls per
//! ABI function, time in host functions vs guest code vs the driver around the callbacks,
//! bytes copied across the boundary, guest allocations, linear-memory growth — and a one-line
//! diagnosis of the extra time against the native arm. Instrumented runs are slower than
//! `run`'s; the breakdown is for attribution, not for costs.

use std::time::{Duration, Instant};

use filterbench_results::breakdown::Breakdown;
use serde::{Deserialize, Serialize};

use filterbench_results::vocab::{Phase, Stage};

use super::pipeline::{FilterCtx, Measurement};
use super::scenario::{Proof, Reference, Scenario};
use super::{Progress, WorkerOutput};
use crate::engines::{self, Limits, LoadedModule};
use crate::fixtures::Step;
use crate::host::state::Profile;

/// The breakdown of every scenario on every proven arm (not the harness), for attribution,
/// not costs: in the first worker process only.
pub struct ProfileRun;

impl Measurement for ProfileRun {
    fn name(&self) -> &'static str {
        Phase::Profile.name()
    }
    fn applies(&self, ctx: &FilterCtx) -> bool {
        ctx.process == 0 && ctx.plan.profile_requests > 0
    }
    fn steps(&self, ctx: &FilterCtx) -> u64 {
        ctx.scenarios.len() as u64
    }
    fn measure(&self, ctx: &FilterCtx, arms: &[String], out: &mut WorkerOutput) {
        for (i, sc) in ctx.scenarios.iter().enumerate() {
            ctx.step(&format!("{} / {}: {}", ctx.filter, sc.name, self.name()));
            for (arm, want) in ctx.proven.arms_of(i) {
                let (Some(want), true) = (want, arms.contains(&arm.name)) else {
                    continue;
                };
                let at = ctx.at(&sc.name, &arm.name, Phase::Profile);
                match profile_module(
                    sc,
                    &arm.name,
                    arm.module.as_ref(),
                    want,
                    ctx.plan.profile_requests,
                    Some(ctx.plan.profile_time),
                ) {
                    Ok(p) => p.breakdown().record(out, &at),
                    Err(e) => out.fail_at(&at, Stage::Profile, e),
                }
            }
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArmProfile {
    pub arm: String,
    pub requests: u64,
    /// Wall time of all profiled requests.
    pub total_ns: u64,
    pub profile: Profile,
    /// Guest linear memory before and after; None on an arm without one (native).
    pub memory_before: Option<u64>,
    pub memory_after: Option<u64>,
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
        // A difference of measured times, signed: clamping would hide a clock that disagrees.
        self.per(self.profile.callback_ns) - self.per(self.profile.host_ns())
    }
    /// Outside callbacks: the driver, VM entry/exit trampolines, outcome bookkeeping.
    pub fn driver_per_request(&self) -> f64 {
        self.per(self.total_ns) - self.per(self.profile.callback_ns)
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

    /// The per-request breakdown as the results file stores it.
    pub fn breakdown(&self) -> Breakdown {
        let (from, to) = self.bytes_per_request();
        Breakdown {
            total_ns: self.total_per_request(),
            guest_ns: self.guest_per_request(),
            host_ns: self.host_per_request(),
            driver_ns: self.driver_per_request(),
            host_calls: self.calls_per_request(),
            bytes_out_of_guest: from,
            bytes_into_guest: to,
            guest_allocs: self.allocs_per_request(),
            // NaN where there is no linear memory: recorded as absent, not as a growth of 0.
            memory_growth: match (self.memory_before, self.memory_after) {
                (Some(b), Some(a)) => a as f64 - b as f64,
                _ => f64::NAN,
            },
            callbacks: self.per(self.profile.callbacks),
            calls: self
                .profile
                .calls
                .iter()
                .map(|(f, c)| (f.clone(), self.per(c.0)))
                .collect(),
        }
    }
}

/// Profiled requests before a time limit may stop them (a 1 MiB body takes up to 0.2 s a
/// request on an interpreter: the breakdown is an average, a few suffice).
const MIN_PROFILED: u64 = 3;

/// Profiles up to `requests` requests of a scenario on one arm (fewer when `time_limit` runs
/// out first), after proving its output.
pub fn profile_arm(
    sc: &Scenario,
    arm: &str,
    limits: &Limits,
    requests: u64,
    time_limit: Option<Duration>,
) -> Result<ArmProfile, String> {
    let module = engines::engine(arm, limits)
        .and_then(|e| e.load(&sc.artifacts))
        .map_err(|e| e.to_string())?;
    let want = sc.verify(module.as_ref())?;
    profile_module(sc, arm, module.as_ref(), &want, requests, time_limit)
}

/// Profiles an already loaded and proven module (`want`: its verified first outcome): up to
/// `requests` requests, or fewer when `time_limit` runs out first (never fewer than
/// [`MIN_PROFILED`]); the untimed warm-up before them is bounded by `time_limit` too.
pub fn profile_module(
    sc: &Scenario,
    arm: &str,
    module: &dyn LoadedModule,
    want: &Step,
    requests: u64,
    time_limit: Option<Duration>,
) -> Result<ArmProfile, String> {
    let mut vm = sc.start_vm(module)?;
    let mut proof = Proof::new(&mut vm, sc.varies());
    let warm = Instant::now();
    // Each request written over the last one's outcome, as in the timed loops.
    let mut step = sc.run_once(&mut vm).map_err(|e| e.to_string())?;
    if step != *want {
        return Err("the profiled VM's first request differs from the verified outcome".into());
    }
    proof.check(&step, &mut vm);
    for _ in 1..requests.clamp(1, 50) {
        if time_limit.is_some_and(|t| warm.elapsed() > t) {
            break;
        }
        sc.run_into(&mut vm, &mut step).map_err(|e| e.to_string())?;
        proof.check(&step, &mut vm);
    }
    let memory_before = vm.instance().memory_bytes();
    vm.host().profile = Some(Box::default());
    let start = Instant::now();
    let mut done = 0;
    while done < requests {
        sc.run_into(&mut vm, &mut step).map_err(|e| e.to_string())?;
        if !proof.check(&step, &mut vm) {
            break;
        }
        done += 1;
        if done >= MIN_PROFILED && time_limit.is_some_and(|t| start.elapsed() > t) {
            break;
        }
    }
    let total_ns = start.elapsed().as_nanos() as u64;
    let profile = *vm.host().profile.take().expect("profiling was on");
    if !proof.settle(&mut Reference::new(sc, "the same arm", module), module) {
        return Err(proof
            .explain()
            .unwrap_or_else(|| "a profiled request changed its outcome".into()));
    }
    Ok(ArmProfile {
        arm: arm.to_string(),
        requests: done,
        total_ns,
        profile,
        memory_before,
        memory_after: vm.instance().memory_bytes(),
    })
}
