//! Steady-state per-request cost on one thread, arms interleaved in rounds, in two passes per
//! round: a batch pass (CPU per request and throughput, one clock read per batch, so the
//! loop's own cost stays out of the figures) and a latency pass (a stamp pair per request).
//! Every timed request, in both passes and on the harness too, must keep producing what the
//! proven one did.

use std::time::{Duration, Instant};

use filterbench_results::vocab::{Metric, Phase, Stage, arm};
use filterbench_results::{At, Histogram as HistRow};
use hdrhistogram::Histogram;

use super::pipeline::{FilterCtx, Learned, Measurement};
use super::probes::thread_cpu_ns;
use super::scenario::{Proof, Reference, Scenario, first_difference};
use super::stopping::{P999_SAMPLES, Stopping, net_interval};
use super::{LoadedArm, Plan, Progress, WorkerOutput, rotated};
use crate::fixtures::Step;
use crate::host::Vm;

/// The interleaved one-thread passes of every scenario on its proven arms and harness.
pub struct SteadyState;

impl Measurement for SteadyState {
    fn name(&self) -> &'static str {
        "steady state"
    }
    fn applies(&self, _: &FilterCtx) -> bool {
        true
    }
    fn steps(&self, ctx: &FilterCtx) -> u64 {
        ctx.scenarios.len() as u64 * (ctx.arms.len() as u64 + u64::from(ctx.plan.harness))
    }
    fn measure(&self, ctx: &FilterCtx, arms: &[String], out: &mut WorkerOutput) {
        for (i, sc) in ctx.scenarios.iter().enumerate() {
            // The proven arms asked for, in the plan's order, and the harness.
            let mut these = ctx.proven.arms_of(i);
            these.retain(|(a, want)| want.is_none() || arms.contains(&a.name));
            let learned = measure(ctx.plan, sc, &these, ctx.process, ctx, out);
            let mut all = ctx.learned.lock().expect("not poisoned");
            all.extend(learned.into_iter().map(|(arm, batch, proof)| Learned {
                scenario: i,
                arm,
                batch,
                proof,
            }));
        }
    }
}

/// A latency histogram as the results file keeps it: quantile points and the whole histogram
/// serialized, so the report merges processes exactly.
pub(crate) fn histogram_row(at: &At, h: &Histogram<u64>) -> HistRow {
    HistRow::from_hdr(&at.filter, &at.scenario, &at.arm, at.process, h)
}

/// How long a batch of the CPU/throughput pass lasts: its two clock reads (wall and the
/// loop's deadline) spread over every request of the batch.
const BATCH_TARGET_NS: u64 = 200_000;

/// A percentile is published only with this many samples beyond it in that process
/// (quantile q needs 10/(1-q) samples: p50 20, p90 100, p99 1,000, p99.9 10,000); otherwise
/// it is the max or near it, not the percentile its label says.
const TAIL_SAMPLES: f64 = 10.0;

/// One arm being timed on one scenario.
struct Live<'a> {
    arm: &'a LoadedArm,
    vm: Vm,
    /// Every request's full outcome must equal the verified first one's.
    proof: Proof,
    /// The last request's outcome: the next one is written over it, reusing its allocations.
    step: Step,
    /// Latency pass: one stamp pair per request.
    hist: Histogram<u64>,
    /// Batch pass: requests per clock read, sized in warm-up.
    batch: u64,
    requests: u64,
    wall_ns: u64,
    cpu_ns: u64,
    /// Each round's batch pass as (requests, thread CPU ns); `None` for a round it sat out.
    rounds: Vec<Option<(u64, u64)>>,
    /// Wall time spent in latency passes.
    latency_ns: u64,
    /// No more batch (latency) passes: settled, capped or failed.
    batch_done: bool,
    latency_done: bool,
    errors: u64,
    first_error: Option<String>,
}

pub(crate) fn new_hist() -> Histogram<u64> {
    // 1 ns to 100 s at 3 significant figures.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

/// Starts the arm's timed VM and checks its first request against the proven outcome
/// (`want`; `None` for the harness, which mirrors a path and has none).
fn prepare<'a>(sc: &Scenario, arm: &'a LoadedArm, want: Option<&Step>) -> Result<Live<'a>, String> {
    let mut vm = sc.start_vm(arm.module.as_ref())?;
    let mut proof = Proof::new(&mut vm, sc.varies() && want.is_some());
    let first = sc.run_once(&mut vm).map_err(|e| e.to_string())?;
    if let Some(want) = want
        && *want != first
    {
        return Err(format!(
            "the timed VM's first request differs from the verified outcome: {}",
            first_difference(want, &first)
        ));
    }
    proof.check(&first, &mut vm);
    Ok(Live {
        arm,
        vm,
        proof,
        step: first,
        hist: new_hist(),
        batch: 1,
        requests: 0,
        wall_ns: 0,
        cpu_ns: 0,
        rounds: Vec::new(),
        latency_ns: 0,
        batch_done: false,
        latency_done: false,
        errors: 0,
        first_error: None,
    })
}

/// Runs one request and checks its outcome: the one place every timed request (latency and
/// batch passes alike, harness included) is proven. False on any difference or error.
fn request(sc: &Scenario, l: &mut Live) -> bool {
    match sc.run_into(&mut l.vm, &mut l.step) {
        Ok(()) if l.proof.check(&l.step, &mut l.vm) => true,
        Ok(()) => {
            l.errors += 1;
            let why = l.proof.explain();
            l.first_error.get_or_insert_with(|| {
                why.unwrap_or_else(|| "a timed request produced a different outcome".into())
            });
            false
        }
        Err(e) => {
            l.errors += 1;
            l.first_error.get_or_insert_with(|| e.to_string());
            // Fail closed for that request and carry on with a fresh VM (if none starts,
            // every further request fails too, and the arm with it).
            if let Ok(vm) = sc.start_vm(l.arm.module.as_ref()) {
                l.vm = vm;
            }
            false
        }
    }
}

/// Warm-up: runs requests for `budget` and sizes the batch so one lasts about
/// [`BATCH_TARGET_NS`].
fn warm_up(sc: &Scenario, l: &mut Live, budget: Duration) {
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        request(sc, l);
        n += 1;
        if start.elapsed() >= budget {
            break;
        }
    }
    let per_request = (start.elapsed().as_nanos() as u64 / n).max(1);
    l.batch = (BATCH_TARGET_NS / per_request).clamp(1, 1 << 20);
}

/// Batches of requests until `budget`, timed as a whole: CPU per request and throughput
/// without a clock read per request. Returns (requests, wall ns, thread CPU ns).
pub(crate) fn batches(budget: Duration, batch: u64, mut one: impl FnMut()) -> (u64, u64, u64) {
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    let mut n = 0u64;
    let wall = loop {
        for _ in 0..batch {
            one();
        }
        n += batch;
        let wall = start.elapsed();
        if wall >= budget {
            break wall;
        }
    };
    (n, wall.as_nanos() as u64, thread_cpu_ns() - cpu0)
}

/// The batch pass of one round.
fn timed_batches(sc: &Scenario, l: &mut Live, budget: Duration) {
    let batch = l.batch;
    let (n, wall, cpu) = batches(budget, batch, || {
        request(sc, l);
    });
    l.requests += n;
    l.wall_ns += wall;
    l.cpu_ns += cpu;
    l.rounds.push(Some((n, cpu)));
}

/// The latency pass of one round: a stamp pair per request (their cost stays out of the CPU
/// and throughput figures, which come from the batch pass).
fn timed_latency(sc: &Scenario, l: &mut Live, budget: Duration) {
    let start = Instant::now();
    loop {
        let t0 = Instant::now();
        let ok = request(sc, l);
        let t1 = Instant::now();
        if ok {
            l.hist
                .saturating_record(((t1 - t0).as_nanos() as u64).max(1));
        }
        if t1 - start >= budget {
            l.latency_ns += (t1 - start).as_nanos() as u64;
            break;
        }
    }
}

/// Interleaved rounds (A B C, B C A, ...) so drift on a shared machine hits every arm alike;
/// in each, every arm not yet done runs a batch turn, then a latency turn. An arm's batch
/// passes stop once its net CPU per request is known to the plan's precision (see
/// [`Stopping`]) or at half the plan's `measure`; its latency passes once the histogram
/// holds the p99.9 floor or at the other half.
fn timed_rounds(plan: &Plan, sc: &Scenario, live: &mut [Live], process: u32) {
    let stop = Stopping::of(plan);
    let harness = live.iter().position(|l| l.arm.name == arm::HARNESS);
    let mut round = 0u32;
    loop {
        let order: Vec<usize> = (0..live.len()).filter(|&i| !live[i].batch_done).collect();
        for &i in &rotated(&order, process + round) {
            timed_batches(sc, &mut live[i], stop.turn);
        }
        for l in live.iter_mut().filter(|l| l.batch_done) {
            l.rounds.push(None);
        }
        let order: Vec<usize> = (0..live.len()).filter(|&i| !live[i].latency_done).collect();
        for &i in &rotated(&order, process + round + 1) {
            timed_latency(sc, &mut live[i], stop.turn);
        }
        round += 1;
        let others_done = |live: &[Live]| {
            live.iter()
                .enumerate()
                .all(|(i, l)| Some(i) == harness || l.batch_done)
        };
        for i in 0..live.len() {
            let reference = harness.filter(|&h| h != i).map(|h| live[h].rounds.clone());
            let l = &mut live[i];
            let enough = round >= stop.min_rounds;
            l.batch_done |= l.errors > 0
                || (enough
                    && (l.wall_ns >= stop.cap_ns
                        || (Some(i) != harness && stop.precise(&l.rounds, reference.as_deref()))));
            // The histogram needs its samples, not rounds: a fast arm has them in one turn.
            l.latency_done |= l.errors > 0
                || l.hist.len() >= P999_SAMPLES
                || (enough && l.latency_ns >= stop.cap_ns);
        }
        // The harness is the other arms' reference: timed as long as any of them is.
        if let Some(h) = harness {
            let done = others_done(live) || live[h].errors > 0 || live[h].wall_ns >= stop.cap_ns;
            live[h].batch_done = done && round >= stop.min_rounds;
        }
        if live.iter().all(|l| l.batch_done && l.latency_done) {
            break;
        }
    }
}

/// The batch loop's own cost per request, with nothing to do but a black-boxed call.
fn loop_cost(batch: u64) -> f64 {
    let (n, _, cpu) = batches(Duration::from_millis(5), batch, || {
        std::hint::black_box(());
    });
    cpu as f64 / n as f64
}

/// The percentiles of one histogram, each only above its sample floor (else why not).
fn percentiles(h: &Histogram<u64>) -> Vec<(Metric, Result<f64, String>)> {
    [
        (Metric::LatencyP50, "p50", 0.5),
        (Metric::LatencyP90, "p90", 0.9),
        (Metric::LatencyP99, "p99", 0.99),
        (Metric::LatencyP999, "p99.9", 0.999),
    ]
    .into_iter()
    .map(|(metric, label, q)| {
        let need = (TAIL_SAMPLES / (1.0 - q)).round() as u64;
        let value = if h.len() >= need {
            Ok(h.value_at_quantile(q) as f64)
        } else {
            Err(format!(
                "{label} needs {need} samples in a process, had {}",
                h.len()
            ))
        };
        (metric, value)
    })
    .collect()
}

/// Times one scenario on `arms` (each with its proven outcome; the harness with none) and
/// records their figures. Returns, per arm that passed, its batch size and settled proof.
pub fn measure(
    plan: &Plan,
    sc: &Scenario,
    arms: &[(&LoadedArm, Option<&Step>)],
    process: u32,
    progress: &dyn Progress,
    out: &mut WorkerOutput,
) -> Vec<(String, u64, Proof)> {
    let at = |arm: &str| At::new(&sc.filter, &sc.name, arm, Phase::Request, process);
    let mut live = Vec::new();
    for (arm, want) in arms {
        match prepare(sc, arm, *want) {
            Ok(l) => live.push(l),
            Err(e) => out.fail_at(&at(&arm.name), Stage::Verify, e),
        }
    }
    for l in &mut live {
        // A request that fails in warm-up fails the arm like any other.
        warm_up(sc, l, plan.warmup);
    }
    timed_rounds(plan, sc, &mut live, process);
    // A varying outcome is proven after the clock stopped, request by request, against an
    // untimed VM of the reference arm (the first that applies: native, where there is one).
    if let Some(r) = live.iter().map(|l| l.arm).find(|a| a.name != arm::HARNESS) {
        let mut reference = Reference::new(sc, &format!("the {} arm", r.name), r.module.as_ref());
        for l in &mut live {
            if !l.proof.settle(&mut reference, l.arm.module.as_ref()) && l.errors == 0 {
                l.errors = 1;
                l.first_error = l.proof.explain();
            }
        }
    }
    let harness_rounds = live
        .iter()
        .find(|l| l.arm.name == arm::HARNESS)
        .map(|l| l.rounds.as_slice());
    let mut passed = Vec::new();
    for l in &live {
        progress.step(&format!("{} / {} / {}", sc.filter, sc.name, l.arm.name));
        let at = at(&l.arm.name);
        if l.errors > 0 || l.requests == 0 || l.hist.is_empty() {
            let msg = l
                .first_error
                .clone()
                .unwrap_or_else(|| "no request completed".into());
            out.fail_at(
                &at,
                Stage::Run,
                format!("{} failed requests: {msg}", l.errors),
            );
            continue;
        }
        let h = &l.hist;
        for (metric, value) in percentiles(h) {
            match value {
                Ok(v) => out.record(&at, metric, v),
                Err(reason) => out.absent(&at, metric, reason),
            }
        }
        out.record(&at, Metric::LatencyMax, h.max() as f64);
        out.record(&at, Metric::LatencyMean, h.mean());
        out.record(
            &at,
            Metric::CpuPerRequest,
            l.cpu_ns as f64 / l.requests as f64,
        );
        out.record(
            &at,
            Metric::Throughput,
            l.requests as f64 * 1e9 / l.wall_ns as f64,
        );
        out.record(&at, Metric::TimedNs, l.wall_ns as f64);
        let reference = harness_rounds.filter(|_| l.arm.name != arm::HARNESS);
        match net_interval(&l.rounds, reference) {
            Some(e) => out.record(&at, Metric::CpuCiWithin, e.relative_ci()),
            None => out.absent(
                &at,
                Metric::CpuCiWithin,
                "fewer than two rounds paired with the harness".to_string(),
            ),
        }
        if l.arm.name == arm::HARNESS {
            out.record(&at, Metric::LoopCostPerRequest, loop_cost(l.batch));
        }
        out.histograms.push(histogram_row(&at, h));
        passed.push((l.arm.name.clone(), l.batch, l.proof.clone()));
    }
    passed
}

#[cfg(test)]
mod tests {
    use super::{Metric, new_hist, percentiles};

    #[test]
    fn a_percentile_needs_ten_samples_beyond_it() {
        let mut h = new_hist();
        for v in 1..=1_000u64 {
            h.record(v).unwrap();
        }
        let got = percentiles(&h);
        let published: Vec<&Metric> = got.iter().filter(|p| p.1.is_ok()).map(|p| &p.0).collect();
        assert_eq!(
            published,
            [
                &Metric::LatencyP50,
                &Metric::LatencyP90,
                &Metric::LatencyP99
            ]
        );
        assert_eq!(
            got[3].1,
            Err("p99.9 needs 10000 samples in a process, had 1000".into())
        );
        h.reset();
        for v in 1..=12u64 {
            h.record(v).unwrap();
        }
        assert!(percentiles(&h).iter().all(|p| p.1.is_err()));
    }
}
