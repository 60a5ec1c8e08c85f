//! `cargo bench` groups, filterable by name:
//! - `lifecycle/<filter>/<scenario>/<arm>`: one whole request (context create → headers →
//!   body → log → done → delete) on a VM proven to produce the fixture's outcome;
//! - `hostcall/<function>/<arm>`: 100 calls of one host function per request (the
//!   `hostcalls` filter; `none` is the bare loop to subtract);
//! - `coldstart/<phase>/<filter>/<arm>`: compile, instantiate, start + configure, first request;
//! - `memory/<filter>/<arm>`: resident bytes each further VM adds (a byte measurement).

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use filterbench_benches::bytes::ResidentBytes;
use filterbench_benches::{arms, checked_vm, load, request, scenarios};
use filterbench_runners::host::Vm;

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
            let module = load(&sc, arm).unwrap_or_else(|e| panic!("{} on {arm}: {e}", sc.filter));
            let (mut vm, mut proof) = checked_vm(&sc, module.as_ref())
                .unwrap_or_else(|e| panic!("{} / {} on {arm}: {e}", sc.filter, sc.name));
            g.bench_function(arm, |b| b.iter(|| request(&sc, &mut vm, &mut proof)));
        }
        g.finish();
    }
}

fn coldstart(c: &mut Criterion) {
    let firsts = scenarios();
    let mut seen = Vec::new();
    for sc in firsts.iter().filter(|s| s.filter != "hostcalls") {
        if seen.contains(&sc.filter) {
            continue;
        }
        seen.push(sc.filter.clone());
        for arm in arms(sc) {
            let module = load(sc, arm).unwrap();
            checked_vm(sc, module.as_ref())
                .unwrap_or_else(|e| panic!("{} on {arm}: {e}", sc.filter));
            let engine = filterbench_runners::engines::engine(arm, &Default::default()).unwrap();
            let mut g = c.benchmark_group(format!("coldstart/compile/{}", sc.filter));
            g.sample_size(10)
                .measurement_time(Duration::from_secs(2))
                .warm_up_time(Duration::from_millis(200));
            g.bench_function(arm, |b| b.iter(|| engine.load(&sc.artifacts).unwrap()));
            g.finish();
            let mut g = c.benchmark_group(format!("coldstart/instantiate/{}", sc.filter));
            g.sample_size(20)
                .measurement_time(Duration::from_secs(1))
                .warm_up_time(Duration::from_millis(200));
            g.bench_function(arm, |b| b.iter(|| module.instantiate(sc.host()).unwrap()));
            g.finish();
            let mut g = c.benchmark_group(format!("coldstart/start/{}", sc.filter));
            g.sample_size(20)
                .measurement_time(Duration::from_secs(1))
                .warm_up_time(Duration::from_millis(200));
            g.bench_function(arm, |b| {
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
            g.finish();
            let mut g = c.benchmark_group(format!("coldstart/first_request/{}", sc.filter));
            g.sample_size(20)
                .measurement_time(Duration::from_secs(1))
                .warm_up_time(Duration::from_millis(200));
            g.bench_function(arm, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let mut vm = sc.start_vm(module.as_ref()).unwrap();
                        let t = Instant::now();
                        sc.run_once(&mut vm).unwrap();
                        total += t.elapsed();
                    }
                    total
                })
            });
            g.finish();
        }
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
            let module = load(sc, arm).unwrap();
            checked_vm(sc, module.as_ref())
                .unwrap_or_else(|e| panic!("{} on {arm}: {e}", sc.filter));
            let mut live = Vec::new();
            // Each iteration adds one VM (after one request) and keeps it: the value is the
            // resident memory one more VM costs.
            g.bench_function(arm, |b| {
                b.iter(|| {
                    let mut vm = sc.start_vm(module.as_ref()).unwrap();
                    sc.run_once(&mut vm).unwrap();
                    live.push(vm);
                })
            });
            drop(live);
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
