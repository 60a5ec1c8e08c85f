//! Cold start, phase by phase: compile (validation included), instantiate, VM start with
//! configuration, and the first request — each on fresh objects, the first request checked.

use std::time::Instant;

use filterbench_results::At;
use filterbench_results::vocab::{Metric, Phase, Stage};

use super::pipeline::{FilterCtx, Measurement, Scope};
use super::scenario::{Scenario, first_difference};
use super::{Plan, WorkerOutput};
use crate::engines;
use crate::fixtures::Step;
use crate::host::Vm;

/// Cold start of every proven arm, on the filter's first scenario.
pub struct ColdStart;

impl Measurement for ColdStart {
    fn name(&self) -> &'static str {
        "cold start"
    }
    fn applies(&self, ctx: &FilterCtx) -> bool {
        ctx.plan.cold_iterations > 0
    }
    fn steps(&self, ctx: &FilterCtx) -> u64 {
        ctx.arms.len() as u64
    }
    fn scope(&self) -> Scope {
        Scope::EachArm
    }
    fn measure(&self, ctx: &FilterCtx, arms: &[String], out: &mut WorkerOutput) {
        ctx.on_first_scenario(self.name(), arms, |sc, arm, want| {
            measure(ctx.plan, sc, arm, want, ctx.process, out)
        });
    }
}

/// Times `plan.cold_iterations` cold starts of `arm`; each first request must reproduce
/// `want`, the outcome the proof verified.
pub fn measure(
    plan: &Plan,
    sc: &Scenario,
    arm: &str,
    want: &Step,
    process: u32,
    out: &mut WorkerOutput,
) {
    // Rows are kept aside: an iteration that fails takes every figure of the arm with it.
    let mut rows = WorkerOutput::default();
    let at = At::new(&sc.filter, "", arm, Phase::Compile, process);
    for i in 0..plan.cold_iterations {
        let r = (|| -> Result<(), String> {
            let engine = engines::engine(arm, &plan.limits).map_err(|e| e.to_string())?;
            let t = Instant::now();
            let module = engine.load(&sc.artifacts).map_err(|e| e.to_string())?;
            let compile = t.elapsed();
            let t = Instant::now();
            let inst = module.instantiate(sc.host()).map_err(|e| e.to_string())?;
            let instantiate = t.elapsed();
            let t = Instant::now();
            let mut vm = Vm::from_instance(inst).map_err(|e| e.to_string())?;
            if !vm.configure().map_err(|e| e.to_string())? {
                return Err("proxy_on_configure returned false".into());
            }
            let start = t.elapsed();
            let t = Instant::now();
            let first = sc.run_once(&mut vm).map_err(|e| e.to_string())?;
            let first_request = t.elapsed();
            // Checked after the clock stopped, so the proof costs nothing in the figures.
            if *want != first {
                return Err(format!(
                    "the first request differs from the verified outcome: {}",
                    first_difference(want, &first)
                ));
            }
            for (phase, d) in
                Phase::COLD_START
                    .into_iter()
                    .zip([compile, instantiate, start, first_request])
            {
                rows.record(
                    &at.phase(phase).iteration(i),
                    Metric::Time,
                    d.as_nanos() as f64,
                );
            }
            Ok(())
        })();
        if let Err(e) = r {
            out.fail_at(&at, Stage::Coldstart, e);
            return;
        }
    }
    out.append(rows);
}
