//! Warm instantiation: one loaded module instantiated again and again, as a proxy does for each
//! new VM (a new worker, a reload). Cold start times the first instantiation of a fresh module;
//! this is the steady price, p50 and p99 over many, with the engine's default allocator and,
//! where the engine has one, its pooling allocator (wasmtime: slots reserved up front, so an
//! instance reuses memory instead of mapping it). Every instance is configured and runs the
//! scenario's first request, checked against the proof, after its clock stopped.

use std::time::Instant;

use filterbench_results::At;
use filterbench_results::vocab::{Metric, Phase, Stage};

use super::pipeline::{FilterCtx, Measurement, Scope};
use super::scenario::{Scenario, first_difference};
use super::{Plan, WorkerOutput};
use crate::engines::{self, Limits, LoadedModule};
use crate::fixtures::Step;
use crate::host::Vm;

/// Instantiations before the timed ones (first-use allocations, page faults of the code).
const WARM: u32 = 10;

pub struct Instantiate;

impl Measurement for Instantiate {
    fn name(&self) -> &'static str {
        "instantiate"
    }
    fn applies(&self, ctx: &FilterCtx) -> bool {
        ctx.plan.instantiations > 0
    }
    fn steps(&self, ctx: &FilterCtx) -> u64 {
        ctx.arms.len() as u64
    }
    fn scope(&self) -> Scope {
        Scope::EachArm
    }
    fn measure(&self, ctx: &FilterCtx, arms: &[String], out: &mut WorkerOutput) {
        ctx.on_first_scenario(self.name(), arms, |sc, arm, want| {
            // The proven arm's module is the default allocator's: loaded once, not again here.
            let loaded = ctx.proven.arms.iter().find(|a| a.name == arm);
            let module = loaded.map(|a| a.module.as_ref());
            measure(ctx.plan, sc, arm, module, want, ctx.process, out)
        });
    }
}

/// Nanoseconds of `n` timed instantiations of `module` (after [`WARM`]), each instance then
/// proven outside the clock.
fn times(
    sc: &Scenario,
    module: &dyn LoadedModule,
    want: &Step,
    n: u32,
) -> Result<Vec<u64>, String> {
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..WARM + n {
        // The host's per-VM state is the same for every arm: built before the clock starts.
        let host = sc.host();
        let t = Instant::now();
        let inst = module.instantiate(host).map_err(|e| e.to_string())?;
        let ns = t.elapsed().as_nanos() as u64;
        let mut vm = Vm::from_instance(inst).map_err(|e| e.to_string())?;
        if !vm.configure().map_err(|e| e.to_string())? {
            return Err(format!("instance {i}: proxy_on_configure returned false"));
        }
        let first = sc.run_once(&mut vm).map_err(|e| e.to_string())?;
        if *want != first {
            return Err(format!(
                "instance {i}: the first request differs from the verified outcome: {}",
                first_difference(want, &first)
            ));
        }
        if i >= WARM {
            out.push(ns);
        }
    }
    Ok(out)
}

/// The `q` quantile of sorted `v` (nearest rank).
fn quantile(v: &[u64], q: f64) -> f64 {
    let k = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[k - 1] as f64
}

/// Instantiation p50/p99 of `arm` on the default allocator and, if the engine has one, the
/// pooling allocator; p99 only with at least 100 instantiations.
pub fn measure(
    plan: &Plan,
    sc: &Scenario,
    arm: &str,
    loaded: Option<&dyn LoadedModule>,
    want: &Step,
    process: u32,
    out: &mut WorkerOutput,
) {
    let at = At::new(&sc.filter, "", arm, Phase::Instantiate, process);
    let n = plan.instantiations;
    let mut rows = WorkerOutput::default();
    let pooled = Limits {
        pooling: true,
        ..plan.limits.clone()
    };
    for (limits, p50, p99) in [
        (&plan.limits, Metric::InstantiateP50, Metric::InstantiateP99),
        (
            &pooled,
            Metric::InstantiatePooledP50,
            Metric::InstantiatePooledP99,
        ),
    ] {
        let r = (|| -> Result<Option<Vec<u64>>, String> {
            if let (Some(module), false) = (loaded, limits.pooling) {
                return times(sc, module, want, n).map(Some);
            }
            let engine = engines::engine(arm, limits).map_err(|e| e.to_string())?;
            if limits.pooling && !engine.has_pooling() {
                return Ok(None);
            }
            let module = engine.load(&sc.artifacts).map_err(|e| e.to_string())?;
            times(sc, module.as_ref(), want, n).map(Some)
        })();
        match r {
            Ok(Some(mut v)) => {
                v.sort_unstable();
                rows.record(&at, p50, quantile(&v, 0.5));
                if v.len() >= 100 {
                    rows.record(&at, p99, quantile(&v, 0.99));
                } else {
                    rows.absent(
                        &at,
                        p99,
                        format!("p99 needs 100 instantiations, had {}", v.len()),
                    );
                }
            }
            Ok(None) => {
                let why = format!("{arm} has no pooling allocator");
                rows.absent(&at, p50, why.clone());
                rows.absent(&at, p99, why);
            }
            Err(e) => {
                // One failed instance takes every figure of the arm with it.
                out.fail_at(&at, Stage::Coldstart, e);
                return;
            }
        }
    }
    out.append(rows);
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&[7], 0.99), 7.0);
    }
}
