//! Closed-loop throughput with N threads, each with its own VM (Envoy's VM per worker), on
//! every arm that passed the one-thread steady state: each thread's VM owes what that arm's
//! one-thread VM proved, from its first request on.

use std::sync::Barrier;
use std::time::Instant;

use filterbench_results::vocab::{Metric, Phase, Stage, arm};

use super::pipeline::{FilterCtx, Learned, Measurement};
use super::probes::process_cpu_ns;
use super::scenario::{Proof, Reference, Scenario};
use super::steady::batches;
use super::{LoadedArm, Plan, Progress, WorkerOutput, rotated};
use crate::engines::LoadedModule;
use crate::fixtures::Step;

pub struct Threads;

impl Measurement for Threads {
    fn name(&self) -> &'static str {
        "threads"
    }
    fn applies(&self, ctx: &FilterCtx) -> bool {
        !ctx.plan.threads.is_empty()
    }
    fn steps(&self, ctx: &FilterCtx) -> u64 {
        scenarios(ctx) as u64
    }
    fn measure(&self, ctx: &FilterCtx, arms: &[String], out: &mut WorkerOutput) {
        let learned = ctx.learned.lock().expect("not poisoned");
        for (i, sc) in ctx.scenarios.iter().enumerate().take(scenarios(ctx)) {
            ctx.step(&format!("{} / {}: {}", ctx.filter, sc.name, self.name()));
            let arms: Vec<(&LoadedArm, &Learned)> = learned
                .iter()
                .filter(|l| l.scenario == i && (l.arm == arm::HARNESS || arms.contains(&l.arm)))
                .filter_map(|l| {
                    let arm = ctx
                        .proven
                        .arms_of(i)
                        .into_iter()
                        .find(|a| a.0.name == l.arm)?;
                    Some((arm.0, l))
                })
                .collect();
            measure(ctx.plan, sc, &arms, ctx.process, out);
        }
    }
}

/// How many of the filter's scenarios (in catalogue order) the N-thread runs cover.
fn scenarios(ctx: &FilterCtx) -> usize {
    if ctx.plan.threads_all {
        ctx.scenarios.len()
    } else {
        ctx.scenarios.len().min(1)
    }
}

/// Every thread count of the plan on every arm of `arms` (each with what its one-thread run
/// learned).
pub fn measure(
    plan: &Plan,
    sc: &Scenario,
    arms: &[(&LoadedArm, &Learned)],
    process: u32,
    out: &mut WorkerOutput,
) {
    for &threads in &plan.threads {
        for (arm, learned) in rotated(arms, process) {
            let at = filterbench_results::At::new(
                &sc.filter,
                &sc.name,
                &arm.name,
                Phase::Request,
                process,
            )
            .threads(threads);
            match throughput(
                sc,
                arm.module.as_ref(),
                threads,
                learned.batch,
                &learned.proof,
                plan,
            ) {
                Ok((rps, cpu)) => {
                    out.record(&at, Metric::Throughput, rps);
                    out.record(&at, Metric::CpuPerRequest, cpu);
                }
                Err(e) => out.fail_at(&at, Stage::Run, format!("{threads} threads: {e}")),
            }
        }
    }
}

/// Closed-loop throughput of `threads` threads, each with its own VM.
/// Returns (requests/s, process CPU ns per request).
fn throughput(
    sc: &Scenario,
    module: &dyn LoadedModule,
    threads: u32,
    batch: u64,
    proof: &Proof,
    plan: &Plan,
) -> Result<(f64, f64), String> {
    let barrier = Barrier::new(threads as usize + 1);
    let deadline_after = plan.throughput_time;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<(u64, Proof), String> {
                    let mut vm = sc.start_vm(module);
                    // Each thread's VM owes the one-thread VM's outcome from its first request.
                    let proof = vm.as_mut().ok().map(|vm| {
                        let mut p = proof.fresh(vm);
                        let step = sc
                            .run_once(vm)
                            .unwrap_or_else(|e| Step::Failed(e.to_string()));
                        p.check(&step, vm);
                        (p, step)
                    });
                    barrier.wait();
                    let mut vm = vm?;
                    let (mut proof, mut step) = proof.expect("a started VM has its proof");
                    let mut failed = None;
                    // Batches, as in the one-thread pass: a clock read per batch, each request
                    // written over the last one's outcome.
                    let (n, _, _) = batches(deadline_after, batch, || {
                        if failed.is_some() {
                            return;
                        }
                        match sc.run_into(&mut vm, &mut step) {
                            Ok(()) if proof.check(&step, &mut vm) => {}
                            Ok(()) => failed = proof.explain(),
                            Err(e) => failed = Some(e.to_string()),
                        }
                    });
                    match failed {
                        Some(e) => Err(e),
                        None => Ok((n, proof)),
                    }
                })
            })
            .collect();
        barrier.wait();
        let cpu0 = process_cpu_ns();
        let start = Instant::now();
        let mut total = 0u64;
        let mut err = None;
        let mut proofs = Vec::new();
        for w in workers {
            match w.join().expect("throughput worker panicked") {
                Ok((n, p)) => {
                    total += n;
                    proofs.push(p);
                }
                Err(e) => err = Some(e),
            }
        }
        let wall = start.elapsed().as_nanos() as f64;
        let cpu = (process_cpu_ns() - cpu0) as f64;
        // Past what the one-thread VM proved, a varying outcome is proven now, untimed.
        let mut reference = Reference::new(sc, "the same arm", module);
        for p in &mut proofs {
            if !p.settle(&mut reference, module) {
                err = err.or_else(|| p.explain());
                break;
            }
        }
        match err {
            Some(e) => Err(e),
            None if total == 0 => Err("no request completed".into()),
            None => Ok((total as f64 * 1e9 / wall, cpu / total as f64)),
        }
    })
}
