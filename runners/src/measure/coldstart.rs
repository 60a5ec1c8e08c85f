//! Cold start, phase by phase: compile (validation included), instantiate, VM start with
//! configuration, and the first request — each on fresh objects, the first request checked.

use std::time::Instant;

use filterbench_results::Row;

use super::scenario::{Scenario, first_difference};
use super::{Plan, WorkerOutput};
use crate::engines;
use crate::host::Vm;

pub fn measure(plan: &Plan, sc: &Scenario, arm: &str, process: u32, out: &mut WorkerOutput) {
    let mut rows = Vec::new();
    let mut expected = None;
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
            if expected.is_none() {
                expected = Some(sc.verify(module.as_ref())?);
            }
            let want = expected.as_ref().expect("set above");
            if *want != first {
                return Err(format!(
                    "the first request differs from the verified outcome: {}",
                    first_difference(want, &first)
                ));
            }
            for (phase, d) in [
                ("compile", compile),
                ("instantiate", instantiate),
                ("start", start),
                ("first_request", first_request),
            ] {
                rows.push(Row {
                    filter: sc.filter.clone(),
                    scenario: String::new(),
                    arm: arm.to_string(),
                    phase: phase.into(),
                    metric: "time".into(),
                    unit: "ns".into(),
                    threads: 1,
                    process,
                    iteration: i,
                    value: d.as_nanos() as f64,
                });
            }
            Ok(())
        })();
        if let Err(e) = r {
            out.fail(&sc.filter, "", arm, "coldstart", e);
            return;
        }
    }
    out.rows.extend(rows);
}
