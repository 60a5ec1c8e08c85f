//! Steady-state per-request cost: latency distribution, CPU time per request and throughput
//! on one thread (arms interleaved in rounds), then throughput with N threads, each with its
//! own VM. Every timed request must keep producing what the verified one did.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use filterbench_results::{Histogram as HistRow, Row};
use hdrhistogram::Histogram;

use super::probes::{process_cpu_ns, thread_cpu_ns};
use super::scenario::{Scenario, signature};
use super::{HARNESS_ARM, LoadedArm, Plan, Progress, WorkerOutput, rotated};
use crate::engines::LoadedModule;
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

/// One arm being timed on one scenario.
struct Live<'a> {
    arm: &'a LoadedArm,
    vm: Vm,
    sig: Option<(bool, bool)>,
    hist: Histogram<u64>,
    iterations: u64,
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
    let first = sc.run_once(&mut vm).map_err(|e| e.to_string())?;
    if let Some(want) = &expected
        && *want != first
    {
        return Err("the timed VM's first request differs from the verified outcome".into());
    }
    Ok(Live {
        arm,
        vm,
        sig: signature(&first),
        hist: new_hist(),
        iterations: 0,
        wall_ns: 0,
        cpu_ns: 0,
        errors: 0,
        first_error: None,
    })
}

/// Runs requests for `budget`; `record` false for warm-up.
fn timed(sc: &Scenario, l: &mut Live, budget: Duration, record: bool) {
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    loop {
        let t0 = Instant::now();
        let r = sc.run_once(&mut l.vm);
        let dt = t0.elapsed().as_nanos() as u64;
        match r {
            Ok(step) if signature(&step) == l.sig => {
                if record {
                    l.hist.saturating_record(dt.max(1));
                    l.iterations += 1;
                }
            }
            Ok(_) => {
                l.errors += 1;
                l.first_error
                    .get_or_insert_with(|| "a timed request produced a different outcome".into());
            }
            Err(e) => {
                l.errors += 1;
                l.first_error.get_or_insert_with(|| e.to_string());
                // Fail closed for that request and carry on with a fresh VM.
                match sc.start_vm(l.arm.module.as_ref()) {
                    Ok(vm) => l.vm = vm,
                    Err(_) => break,
                }
            }
        }
        if start.elapsed() >= budget {
            break;
        }
    }
    if record {
        l.wall_ns += start.elapsed().as_nanos() as u64;
        l.cpu_ns += thread_cpu_ns() - cpu0;
    }
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

pub fn measure_scenario(
    plan: &Plan,
    sc: &Scenario,
    loaded: &[LoadedArm],
    process: u32,
    progress: &dyn Progress,
    out: &mut WorkerOutput,
) {
    let mut reference = None;
    let mut live = Vec::new();
    for arm in loaded {
        match prepare(sc, arm, &mut reference) {
            Ok(mut l) => {
                timed(sc, &mut l, plan.warmup, false);
                live.push(l);
            }
            Err(e) => out.fail(&sc.filter, &sc.name, &arm.name, "verify", e),
        }
    }
    // Interleaved rounds (A B C, B C A, ...) so drift on a shared machine hits every arm alike.
    let rounds = plan.rounds.max(1);
    let chunk = plan.measure / rounds;
    let order: Vec<usize> = (0..live.len()).collect();
    for round in 0..rounds {
        for i in rotated(&order, process + round) {
            timed(sc, &mut live[i], chunk, true);
        }
    }
    let mut ok_arms = Vec::new();
    for l in &live {
        progress.step(&format!("{} / {} / {}", sc.filter, sc.name, l.arm.name));
        if l.errors > 0 || l.iterations == 0 {
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
        for (metric, q) in [
            ("latency_p50", 0.5),
            ("latency_p90", 0.9),
            ("latency_p99", 0.99),
            ("latency_p999", 0.999),
        ] {
            out.rows.push(row(
                sc,
                name,
                metric,
                "ns",
                1,
                process,
                h.value_at_quantile(q) as f64,
            ));
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
            l.cpu_ns as f64 / l.iterations as f64,
        ));
        out.rows.push(row(
            sc,
            name,
            "throughput",
            "req/s",
            1,
            process,
            l.iterations as f64 * 1e9 / l.wall_ns as f64,
        ));
        out.histograms
            .push(histogram_row(&sc.filter, &sc.name, name, process, h));
        ok_arms.push(l.arm);
    }
    drop(live);
    for &threads in &plan.threads {
        for arm in rotated(&ok_arms, process) {
            match throughput(sc, arm.module.as_ref(), threads, plan) {
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
    plan: &Plan,
) -> Result<(f64, f64), String> {
    let barrier = Barrier::new(threads as usize + 1);
    let deadline_after = plan.throughput_time;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<u64, String> {
                    let mut vm = sc.start_vm(module);
                    let sig = match vm.as_mut() {
                        Ok(vm) => sc.run_once(vm).ok().as_ref().and_then(signature),
                        Err(_) => None,
                    };
                    barrier.wait();
                    let mut vm = vm?;
                    let start = Instant::now();
                    let mut n = 0u64;
                    while start.elapsed() < deadline_after {
                        let step = sc.run_once(&mut vm).map_err(|e| e.to_string())?;
                        if signature(&step) != sig {
                            return Err("a request produced a different outcome".into());
                        }
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        barrier.wait();
        let cpu0 = process_cpu_ns();
        let start = Instant::now();
        let mut total = 0u64;
        let mut err = None;
        for w in workers {
            match w.join().expect("throughput worker panicked") {
                Ok(n) => total += n,
                Err(e) => err = Some(e),
            }
        }
        let wall = start.elapsed().as_nanos() as f64;
        let cpu = (process_cpu_ns() - cpu0) as f64;
        match err {
            Some(e) => Err(e),
            None if total == 0 => Err("no request completed".into()),
            None => Ok((total as f64 * 1e9 / wall, cpu / total as f64)),
        }
    })
}
