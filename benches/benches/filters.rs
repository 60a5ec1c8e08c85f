//! `cargo bench` groups, filterable by name:
//! - `lifecycle/<filter>/<scenario>/<arm>`: one whole request (context create → headers →
//!   body → log → done → delete) on a VM proven to produce the fixture's outcome;
//! - `hostcall/<function>/<arm>`: 100 calls of one host function per request (the
//!   `hostcalls` filter; `none` is the bare loop to subtract);
//! - `coldstart/<phase>/<filter>/<arm>`: compile, instantiate, start + configure, first request;
//! - `memory/<filter>/<arm>`: resident bytes each further VM adds (a byte measurement).
//!
//! Filters are loaded and proven lazily, on the first call of a bench's routine: criterion
//! calls a routine only for a bench its name filter (regex, or `--exact`) selects, and never
//! for `--list`, so `cargo bench -- lifecycle/add-header` loads add-header alone, with the
//! same matching as criterion's own. That first call is outside `b.iter`, so it is not timed.

use std::cell::OnceCell;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Bencher, Criterion, Throughput, criterion_group, criterion_main};
use filterbench_benches::bytes::ResidentBytes;
use filterbench_benches::{Benched, arms, benched, proven, request, scenarios};
use filterbench_results::vocab::Phase;
use filterbench_runners::engines::{self, Limits, LoadedModule};
use filterbench_runners::host::Vm;
use filterbench_runners::measure::scenario::Scenario;

/// A bench cannot go on without its proven filter: the failure names what failed.
fn or_abort<T>(sc: &Scenario, arm: &str, r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{} / {} on {arm}: {e}", sc.filter, sc.name))
}

fn lifecycle(c: &mut Criterion) {
    for sc in scenarios() {
        let hostcall = sc.filter == "hostcalls";
        let group_name = if hostcall {
            format!("hostcall/{}", sc.name)
        } else {
            format!("lifecycle/{}/{}", sc.filter, sc.name)
        };
        let mut g = c.benchmark_group(group_name);
        g.measurement_time(Duration::from_secs(1))
            .warm_up_time(Duration::from_millis(300))
            .sample_size(20);
        if hostcall {
            g.throughput(Throughput::Elements(100));
        }
        for arm in arms(&sc) {
            let mut state: Option<Benched> = None;
            g.bench_function(arm, |b| {
                let Benched { vm, proof, .. } =
                    state.get_or_insert_with(|| or_abort(&sc, arm, benched(&sc, arm)));
                b.iter(|| request(&sc, vm, proof))
            });
        }
        g.finish();
    }
}

/// One `coldstart/<phase>/<filter>` group: every arm of the filter, each loaded and proven
/// by the first of its four phases that criterion runs (the cell is shared by the phases).
fn phase(
    c: &mut Criterion,
    name: &str,
    sc: &Scenario,
    arms: &[(&'static str, OnceCell<Box<dyn LoadedModule>>)],
    (samples, measure): (usize, Duration),
    mut routine: impl FnMut(&mut Bencher, &str, &dyn LoadedModule),
) {
    let mut g = c.benchmark_group(format!("coldstart/{name}/{}", sc.filter));
    g.sample_size(samples)
        .measurement_time(measure)
        .warm_up_time(Duration::from_millis(200));
    for (arm, cell) in arms {
        g.bench_function(*arm, |b| {
            let module = cell.get_or_init(|| or_abort(sc, arm, proven(sc, arm)));
            routine(b, arm, module.as_ref())
        });
    }
    g.finish();
}

fn coldstart(c: &mut Criterion) {
    let firsts = scenarios();
    let mut seen = Vec::new();
    for sc in firsts.iter().filter(|s| s.filter != "hostcalls") {
        if seen.contains(&sc.filter) {
            continue;
        }
        seen.push(sc.filter.clone());
        let cells: Vec<_> = arms(sc).into_iter().map(|a| (a, OnceCell::new())).collect();
        let quick = (20, Duration::from_secs(1));
        phase(
            c,
            Phase::Compile.name(),
            sc,
            &cells,
            (10, Duration::from_secs(2)),
            // A fresh engine for each compile, as in the main job's cold start (a wasmer
            // engine with metering compiles one module only); neither making the engine nor
            // dropping it and its module is timed.
            |b, arm, _| {
                b.iter_batched(
                    || engines::engine(arm, &Limits::default()).unwrap(),
                    |engine| {
                        let module = engine.load(&sc.artifacts).unwrap();
                        (engine, module)
                    },
                    BatchSize::PerIteration,
                )
            },
        );
        phase(
            c,
            Phase::Instantiate.name(),
            sc,
            &cells,
            quick,
            |b, _, module| b.iter(|| module.instantiate(sc.host()).unwrap()),
        );
        phase(c, Phase::Start.name(), sc, &cells, quick, |b, _, module| {
            b.iter_batched(
                || module.instantiate(sc.host()).unwrap(),
                |inst| {
                    let mut vm = Vm::from_instance(inst).unwrap();
                    assert!(vm.configure().unwrap());
                    vm
                },
                BatchSize::SmallInput,
            )
        });
        phase(c, "first_request", sc, &cells, quick, |b, _, module| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut vm = sc.start_vm(module).unwrap();
                    let t = Instant::now();
                    sc.run_once(&mut vm).unwrap();
                    total += t.elapsed();
                }
                total
            })
        });
    }
}

fn memory(c: &mut Criterion<ResidentBytes>) {
    for sc in scenarios()
        .iter()
        .filter(|s| s.name == "small-headers" || s.filter == "body-redact" && s.name == "body-1MiB")
    {
        let mut g = c.benchmark_group(format!("memory/{}", sc.filter));
        g.sample_size(10)
            .measurement_time(Duration::from_secs(1))
            .warm_up_time(Duration::from_millis(100));
        for arm in arms(sc) {
            // The VMs kept, then their module: dropped in that order (a native arm's library
            // must outlive its VMs).
            let mut state: Option<(Vec<Vm>, Box<dyn LoadedModule>)> = None;
            // Each iteration adds one VM (after one request) and keeps it: the value is the
            // resident memory one more VM costs.
            g.bench_function(arm, |b| {
                let (live, module) =
                    state.get_or_insert_with(|| (Vec::new(), or_abort(sc, arm, proven(sc, arm))));
                b.iter(|| {
                    let mut vm = sc.start_vm(module.as_ref()).unwrap();
                    sc.run_once(&mut vm).unwrap();
                    live.push(vm);
                })
            });
        }
        g.finish();
    }
}

criterion_group!(time_benches, lifecycle, coldstart);
criterion_group! {
    name = memory_benches;
    config = Criterion::default().with_measurement(ResidentBytes);
    targets = memory
}
criterion_main!(time_benches, memory_benches);
