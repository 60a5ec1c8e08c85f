//! VM memory footprint: the artifact's size, what loading the module adds to RSS, and the
//! resident and heap bytes each further VM adds (the slope over 1..N live VMs, which cancels
//! the process's fixed costs), plus the guest's linear memory.

use filterbench_results::Row;
use filterbench_results::stats::slope;

use super::probes::{heap_bytes, rss_bytes};
use super::scenario::Scenario;
use super::{Plan, WorkerOutput};
use crate::engines;

pub fn measure(plan: &Plan, sc: &Scenario, arm: &str, process: u32, out: &mut WorkerOutput) {
    let r = (|| -> Result<Vec<(&'static str, f64)>, String> {
        let engine = engines::engine(arm, &plan.limits).map_err(|e| e.to_string())?;
        let file = if engine.name() == "native" {
            sc.artifacts.native.as_ref()
        } else {
            sc.artifacts.wasm.as_ref()
        };
        let file_bytes = file
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len());
        let rss0 = rss_bytes();
        let module = engine.load(&sc.artifacts).map_err(|e| e.to_string())?;
        let module_rss = rss_bytes().saturating_sub(rss0);
        let mut vms = Vec::new();
        let mut rss_points = Vec::new();
        let mut heap_points = Vec::new();
        for i in 1..=plan.memory_instances.max(2) {
            let mut vm = sc.start_vm(module.as_ref())?;
            // One request, so per-request allocations inside the VM are resident too.
            sc.run_once(&mut vm).map_err(|e| e.to_string())?;
            vms.push(vm);
            rss_points.push((i as f64, rss_bytes() as f64));
            if let Some(h) = heap_bytes() {
                heap_points.push((i as f64, h as f64));
            }
        }
        let linear = vms
            .iter_mut()
            .map(|vm| vm.instance().memory_bytes() as f64)
            .sum::<f64>()
            / vms.len() as f64;
        let mut m = vec![
            ("module_file_bytes", file_bytes as f64),
            ("module_rss_bytes", module_rss as f64),
            ("rss_per_vm_bytes", slope(&rss_points).unwrap_or(f64::NAN)),
            ("linear_memory_bytes", linear),
        ];
        if let Some(h) = slope(&heap_points) {
            m.push(("heap_per_vm_bytes", h));
        }
        Ok(m)
    })();
    match r {
        Ok(metrics) => out
            .rows
            .extend(metrics.into_iter().map(|(metric, value)| Row {
                filter: sc.filter.clone(),
                scenario: String::new(),
                arm: arm.to_string(),
                phase: "memory".into(),
                metric: metric.into(),
                unit: "bytes".into(),
                threads: 1,
                process,
                iteration: 0,
                value,
            })),
        Err(e) => out.fail(&sc.filter, "", arm, "memory", e),
    }
}
