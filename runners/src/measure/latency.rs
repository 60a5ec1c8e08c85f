//! Steady-state per-request cost on one thread, arms interleaved in rounds, in two passes per
//! round: a batch pass (CPU per request and throughput, one clock read per batch, so the
//! loop's own cost stays out of the figures) and a latency pass (a stamp pair per request);
//! then throughput with N threads, each with its own VM. Every timed request, in both passes
//! and on the harness too, must keep producing what the verified one did.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use filterbench_results::{Absent, Histogram as HistRow, Row};
use hdrhistogram::Histogram;

use super::probes::{process_cpu_ns, thread_cpu_ns};
use super::scenario::{Proof, Reference, Scenario, first_difference};
use super::{HARNESS_ARM, LOOP_COST_METRIC, LoadedArm, Plan, Progress, WorkerOutput, rotated};
use crate::engines::LoadedModule;
use crate::engines::null::NullModule;
use crate::fixtures::Step;
use crate::host::Vm;

/// A latency histogram as the results file keeps it (HdrHistogram quantile points).
pub(crate) fn histogram_row(
    filter: &str,
    scenario: &str,
    arm: &str,
    process: u32,
    h: &Histogram<u64>,
) -> HistRow {
    HistRow {
        filter: filter.to_string(),
        scenario: scenario.to_string(),
        arm: arm.to_string(),
        process,
        count: h.len(),
        mean_ns: h.mean(),
        stdev_ns: h.stdev(),
        max_ns: h.max(),
        points: h
            .iter_quantiles(1)
            .map(|v| {
                (
                    v.quantile_iterated_to(),
                    v.value_iterated_to(),
                    v.count_since_last_iteration(),
                )
            })
            .collect(),
    }
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
    /// Latency pass: one stamp pair per request.
    hist: Histogram<u64>,
    /// Batch pass: requests per clock read, sized in warm-up.
    batch: u64,
    requests: u64,
    wall_ns: u64,
    cpu_ns: u64,
    errors: u64,
    first_error: Option<String>,
}

fn new_hist() -> Histogram<u64> {
    // 1 ns to 100 s at 3 significant figures.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

/// Verifies the arm, starts its timed VM and checks that VM's first request.
fn prepare<'a>(
    sc: &Scenario,
    arm: &'a LoadedArm,
    reference: &mut Option<(String, Step)>,
) -> Result<Live<'a>, String> {
    let harness = arm.name == HARNESS_ARM;
    let expected = if harness {
        None
    } else {
        let step = sc.verify(arm.module.as_ref())?;
        // A filter without fixtures must at least behave the same on every arm.
        if sc.byo {
            match reference {
                Some((ref_arm, want)) if *want != step => {
                    return Err(format!(
                        "outcome differs from {ref_arm}'s on the same request"
                    ));
                }
                Some(_) => {}
                None => *reference = Some((arm.name.clone(), step.clone())),
            }
        }
        Some(step)
    };
    let mut vm = sc.start_vm(arm.module.as_ref())?;
    let mut proof = Proof::new(&mut vm, sc.varies() && !harness);
    let first = sc.run_once(&mut vm).map_err(|e| e.to_string())?;
    if let Some(want) = &expected
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
        hist: new_hist(),
        batch: 1,
        requests: 0,
        wall_ns: 0,
        cpu_ns: 0,
        errors: 0,
        first_error: None,
    })
}

/// Runs one request and checks its outcome: the one place every timed request (latency and
/// batch passes alike, harness included) is proven. False on any difference or error.
fn request(sc: &Scenario, l: &mut Live) -> bool {
    match sc.run_once(&mut l.vm) {
        Ok(step) if l.proof.check(&step, &mut l.vm) => true,
        Ok(_) => {
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
fn batches(budget: Duration, batch: u64, mut one: impl FnMut()) -> (u64, u64, u64) {
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

/// The harness for this scenario: the callbacks of a real arm's request replayed empty, so it
/// takes the path the filter takes (a local reply skips the upstream half) and no other.
fn harness_arm(sc: &Scenario, reference: &LoadedArm) -> Result<LoadedArm, String> {
    let mut vm = sc.start_vm(reference.module.as_ref())?;
    let (step, script) = vm.traced(|vm| sc.run_once(vm));
    let step = step.map_err(|e| e.to_string())?;
    let module = NullModule::scripted(script);
    let mut vm = sc.start_vm(&module)?;
    let mirrored = sc.run_once(&mut vm).map_err(|e| e.to_string())?;
    let path = |s: &Step| match s {
        Step::Http(o) => Some((o.local_reply.is_some(), false)),
        Step::Tcp(o) => Some((false, o.closed)),
        Step::Failed(_) => None,
    };
    if path(&mirrored) != path(&step) {
        return Err(format!(
            "the harness did not take {}'s path (local reply, closed)",
            reference.name
        ));
    }
    Ok(LoadedArm {
        name: HARNESS_ARM.into(),
        module: Box::new(module),
        engine: None,
    })
}

fn row(
    sc: &Scenario,
    arm: &str,
    metric: &str,
    unit: &str,
    threads: u32,
    process: u32,
    value: f64,
) -> Row {
    Row {
        filter: sc.filter.clone(),
        scenario: sc.name.clone(),
        arm: arm.to_string(),
        phase: "request".into(),
        metric: metric.into(),
        unit: unit.into(),
        threads,
        process,
        iteration: 0,
        value,
    }
}

/// The percentiles of one histogram, each only above its sample floor (else why not).
fn percentiles(h: &Histogram<u64>) -> Vec<(&'static str, Result<f64, String>)> {
    [
        ("latency_p50", "p50", 0.5),
        ("latency_p90", "p90", 0.9),
        ("latency_p99", "p99", 0.99),
        ("latency_p999", "p99.9", 0.999),
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

pub fn measure_scenario(
    plan: &Plan,
    sc: &Scenario,
    loaded: &[LoadedArm],
    process: u32,
    progress: &dyn Progress,
    out: &mut WorkerOutput,
) {
    let mut reference = None;
    // Declared before `live`, which borrows it.
    let harness: Option<LoadedArm>;
    let mut live = Vec::new();
    for arm in loaded {
        match prepare(sc, arm, &mut reference) {
            Ok(l) => live.push(l),
            Err(e) => out.fail(&sc.filter, &sc.name, &arm.name, "verify", e),
        }
    }
    harness = match (plan.harness, live.first()) {
        (false, _) => None,
        (true, None) => {
            out.fail(
                &sc.filter,
                &sc.name,
                HARNESS_ARM,
                "verify",
                "no arm passed, so there is no path for the harness to mirror".into(),
            );
            None
        }
        (true, Some(first)) => match harness_arm(sc, first.arm) {
            Ok(h) => Some(h),
            Err(e) => {
                out.fail(&sc.filter, &sc.name, HARNESS_ARM, "verify", e);
                None
            }
        },
    };
    if let Some(h) = &harness {
        match prepare(sc, h, &mut reference) {
            Ok(l) => live.push(l),
            Err(e) => out.fail(&sc.filter, &sc.name, HARNESS_ARM, "verify", e),
        }
    }
    for l in &mut live {
        // A request that fails in warm-up fails the arm like any other.
        warm_up(sc, l, plan.warmup);
    }
    // Interleaved rounds (A B C, B C A, ...) so drift on a shared machine hits every arm
    // alike; each round gives half its time to the batch pass, half to the latency pass.
    let rounds = plan.rounds.max(1);
    let half = plan.measure / rounds / 2;
    let order: Vec<usize> = (0..live.len()).collect();
    for round in 0..rounds {
        for i in rotated(&order, process + round) {
            timed_batches(sc, &mut live[i], half);
        }
        for i in rotated(&order, process + round + 1) {
            timed_latency(sc, &mut live[i], half);
        }
    }
    // A varying outcome is proven after the clock stopped, request by request, against an
    // untimed VM of the reference arm (the first that applies: native, where there is one).
    if let Some(r) = live.iter().map(|l| l.arm).find(|a| a.name != HARNESS_ARM) {
        let mut reference = Reference::new(sc, &format!("the {} arm", r.name), r.module.as_ref());
        for l in &mut live {
            if !l.proof.settle(&mut reference, l.arm.module.as_ref()) && l.errors == 0 {
                l.errors = 1;
                l.first_error = l.proof.explain();
            }
        }
    }
    let mut ok_arms = Vec::new();
    for l in &live {
        progress.step(&format!("{} / {} / {}", sc.filter, sc.name, l.arm.name));
        if l.errors > 0 || l.requests == 0 || l.hist.is_empty() {
            let msg = l
                .first_error
                .clone()
                .unwrap_or_else(|| "no request completed".into());
            out.fail(
                &sc.filter,
                &sc.name,
                &l.arm.name,
                "run",
                format!("{} failed requests: {msg}", l.errors),
            );
            continue;
        }
        let h = &l.hist;
        let name = l.arm.name.as_str();
        for (metric, value) in percentiles(h) {
            match value {
                Ok(v) => out.rows.push(row(sc, name, metric, "ns", 1, process, v)),
                Err(reason) => out.absent.push(Absent {
                    filter: sc.filter.clone(),
                    scenario: sc.name.clone(),
                    arm: name.to_string(),
                    phase: "request".into(),
                    metric: metric.into(),
                    threads: 1,
                    process,
                    reason,
                }),
            }
        }
        out.rows.push(row(
            sc,
            name,
            "latency_max",
            "ns",
            1,
            process,
            h.max() as f64,
        ));
        out.rows
            .push(row(sc, name, "latency_mean", "ns", 1, process, h.mean()));
        out.rows.push(row(
            sc,
            name,
            "cpu_per_request",
            "ns",
            1,
            process,
            l.cpu_ns as f64 / l.requests as f64,
        ));
        out.rows.push(row(
            sc,
            name,
            "throughput",
            "req/s",
            1,
            process,
            l.requests as f64 * 1e9 / l.wall_ns as f64,
        ));
        if name == HARNESS_ARM {
            let cost = loop_cost(l.batch);
            out.rows
                .push(row(sc, name, LOOP_COST_METRIC, "ns", 1, process, cost));
        }
        out.histograms
            .push(histogram_row(&sc.filter, &sc.name, name, process, h));
        ok_arms.push((l.arm, l.batch, l.proof.clone()));
    }
    drop(live);
    for &threads in &plan.threads {
        for (arm, batch, proof) in rotated(&ok_arms, process) {
            match throughput(sc, arm.module.as_ref(), threads, batch, &proof, plan) {
                Ok((rps, cpu)) => {
                    out.rows.push(row(
                        sc,
                        &arm.name,
                        "throughput",
                        "req/s",
                        threads,
                        process,
                        rps,
                    ));
                    out.rows.push(row(
                        sc,
                        &arm.name,
                        "cpu_per_request",
                        "ns",
                        threads,
                        process,
                        cpu,
                    ));
                }
                Err(e) => out.fail(
                    &sc.filter,
                    &sc.name,
                    &arm.name,
                    "run",
                    format!("{threads} threads: {e}"),
                ),
            }
        }
    }
}

/// Closed-loop throughput of `threads` threads, each with its own VM (Envoy's VM per worker).
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
                        p
                    });
                    barrier.wait();
                    let mut vm = vm?;
                    let mut proof = proof.expect("a started VM has its proof");
                    let mut failed = None;
                    // Batches, as in the one-thread pass: a clock read per batch.
                    let (n, _, _) = batches(deadline_after, batch, || {
                        if failed.is_some() {
                            return;
                        }
                        match sc.run_once(&mut vm) {
                            Ok(step) if proof.check(&step, &mut vm) => {}
                            Ok(_) => failed = proof.explain(),
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

#[cfg(test)]
mod tests {
    use super::{new_hist, percentiles};

    #[test]
    fn a_percentile_needs_ten_samples_beyond_it() {
        let mut h = new_hist();
        for v in 1..=1_000u64 {
            h.record(v).unwrap();
        }
        let got = percentiles(&h);
        let published: Vec<&str> = got.iter().filter(|p| p.1.is_ok()).map(|p| p.0).collect();
        assert_eq!(published, ["latency_p50", "latency_p90", "latency_p99"]);
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
