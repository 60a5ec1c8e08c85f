//! VM memory footprint: the artifact's size, what loading the module adds to RSS, and what
//! each further VM adds (the slope over 1..N live VMs, which cancels the process's fixed
//! costs), plus the guest's linear memory.
//!
//! Per VM, resident memory is split by what backs it: anonymous pages are the VM's own state
//! (`rss_anon_per_vm_bytes`, the like-with-like figure), file-backed pages are code a VM maps
//! for itself (`rss_file_per_vm_bytes`: the native arm's private copy of its library, which
//! the SDK's global state forces and Envoy's NullVM would share). `rss_per_vm_bytes` is their
//! sum. `heap_per_vm_bytes` is what malloc handed out, touched or not: wasmi grows its linear
//! memory as a `Vec` (amortised doubling), so 18 pages (1.1 MiB, all zeroed, resident) sit in
//! a 2.2 MiB block whose untouched half is heap but not RSS. Free pages are handed back to the
//! kernel first, or VMs reusing memory an earlier step freed would add no RSS at all (how
//! wasmi once read 0 per VM).
//!
//! No figure is made up: one that could not be measured, or whose slope does not fit a line
//! (see [`R2_MIN`]), is absent with the reason.

use filterbench_results::At;
use filterbench_results::stats::fit;
use filterbench_results::vocab::{Metric, Phase, Stage, arm};

use super::pipeline::{FilterCtx, Measurement, Scope};
use super::probes::{heap_bytes, release_free_memory, resident};
use super::scenario::Scenario;
use super::{Plan, Progress, WorkerOutput};
use crate::engines;

/// A per-VM slope is published only if the points fit a line: R² at least this, or no
/// variation at all (every VM added exactly the same), and never a negative slope (memory
/// handed back while VMs were added says nothing about a VM's cost).
pub const R2_MIN: f64 = 0.9;

/// A figure or why it is absent.
type Figure = (Metric, Result<f64, String>);

/// The slope of `points` under the [`R2_MIN`] rule.
fn per_vm(points: &[(f64, f64)]) -> Result<f64, String> {
    let f = fit(points).ok_or_else(|| format!("{} points, need two VMs", points.len()))?;
    if f.slope < 0.0 {
        return Err(format!(
            "negative slope ({:.0} bytes per VM over {} VMs): memory was returned while VMs were added",
            f.slope,
            points.len()
        ));
    }
    match f.r2 {
        Some(r2) if r2 < R2_MIN => Err(format!(
            "poor linear fit over {} VMs (R² {r2:.2} < {R2_MIN})",
            points.len()
        )),
        _ => Ok(f.slope),
    }
}

fn figures(plan: &Plan, sc: &Scenario, arm: &str) -> Result<Vec<Figure>, String> {
    let engine = engines::engine(arm, &plan.limits).map_err(|e| e.to_string())?;
    let file = if engine.name() == arm::NATIVE {
        sc.artifacts.native.as_ref()
    } else {
        sc.artifacts.wasm.as_ref()
    };
    let file_bytes = match file {
        None => Err("no artifact file for this arm".to_string()),
        Some(p) => std::fs::metadata(p)
            .map(|m| m.len() as f64)
            .map_err(|e| format!("{}: {e}", p.display())),
    };
    let unreadable = || "/proc/self/status has no resident-memory lines".to_string();
    release_free_memory();
    let before = resident().ok_or_else(unreadable)?;
    let module = engine.load(&sc.artifacts).map_err(|e| e.to_string())?;
    // What the module keeps, not the compiler's freed scratch the allocator still holds.
    release_free_memory();
    let after = resident().ok_or_else(unreadable)?;
    let module_rss = if after.total >= before.total {
        Ok((after.total - before.total) as f64)
    } else {
        Err(format!(
            "RSS fell by {} bytes while the module loaded (memory returned meanwhile)",
            before.total - after.total
        ))
    };
    let mut vms = Vec::new();
    let (mut total, mut anon, mut mapped, mut heap) = (vec![], vec![], vec![], vec![]);
    for i in 1..=plan.memory_instances.max(2) {
        let mut vm = sc.start_vm(module.as_ref())?;
        // One request, so per-request allocations inside the VM are resident too.
        sc.run_once(&mut vm).map_err(|e| e.to_string())?;
        vms.push(vm);
        let x = i as f64;
        let r = resident().ok_or_else(unreadable)?;
        total.push((x, r.total as f64));
        anon.push((x, r.anon as f64));
        mapped.push((x, r.file as f64));
        if let Some(h) = heap_bytes() {
            heap.push((x, h as f64));
        }
    }
    let linear: Option<Vec<u64>> = vms
        .iter_mut()
        .map(|vm| vm.instance().memory_bytes())
        .collect();
    let linear = linear
        .map(|l| l.iter().sum::<u64>() as f64 / l.len() as f64)
        .ok_or_else(|| "this arm has no guest linear memory (a native build)".to_string());
    let heap = if heap.is_empty() {
        Err("no malloc statistics on this platform".to_string())
    } else {
        per_vm(&heap)
    };
    Ok(vec![
        (Metric::ModuleFileBytes, file_bytes),
        (Metric::ModuleRssBytes, module_rss),
        (Metric::RssPerVmBytes, per_vm(&total)),
        (Metric::RssAnonPerVmBytes, per_vm(&anon)),
        (Metric::RssFilePerVmBytes, per_vm(&mapped)),
        (Metric::HeapPerVmBytes, heap),
        (Metric::LinearMemoryBytes, linear),
    ])
}

/// The footprint of every proven arm, on the filter's first scenario.
pub struct Memory;

impl Measurement for Memory {
    fn name(&self) -> &'static str {
        Phase::Memory.name()
    }
    fn applies(&self, _: &FilterCtx) -> bool {
        true
    }
    fn steps(&self, ctx: &FilterCtx) -> u64 {
        ctx.arms.len() as u64
    }
    fn scope(&self) -> Scope {
        Scope::EachArm
    }
    fn measure(&self, ctx: &FilterCtx, arms: &[String], out: &mut WorkerOutput) {
        for arm in arms {
            ctx.step(&format!("{} / {arm}: {}", ctx.filter, self.name()));
            measure(ctx.plan, ctx.scenarios[0], arm, ctx.process, out);
        }
    }
}

pub fn measure(plan: &Plan, sc: &Scenario, arm: &str, process: u32, out: &mut WorkerOutput) {
    let at = At::new(&sc.filter, "", arm, Phase::Memory, process);
    let figures = match figures(plan, sc, arm) {
        Ok(f) => f,
        Err(e) => return out.fail_at(&at, Stage::Memory, e),
    };
    for (metric, value) in figures {
        match value {
            Ok(value) => out.record(&at, metric, value),
            Err(reason) => out.absent(&at, metric, reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::per_vm;

    fn points(f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        (1..=8).map(|i| (i as f64, f(i as f64))).collect()
    }

    #[test]
    fn a_slope_is_published_only_when_it_fits() {
        assert_eq!(per_vm(&points(|i| 1e6 + 4096.0 * i)), Ok(4096.0));
        // Every VM added nothing: flat, exact, published.
        assert_eq!(per_vm(&points(|_| 1e6)), Ok(0.0));
        let shrinking = per_vm(&points(|i| 1e6 - 541.0 * 1024.0 * i)).unwrap_err();
        assert!(shrinking.contains("negative slope"), "{shrinking}");
        let jumpy = per_vm(&points(|i| if i == 6.0 { 2e6 } else { 1e6 + i })).unwrap_err();
        assert!(jumpy.contains("poor linear fit"), "{jumpy}");
        assert!(per_vm(&[(1.0, 1.0)]).is_err());
    }
}
