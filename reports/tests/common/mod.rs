//! Test fixtures: results files built in code, with deterministic per-process jitter, covering
//! every kind of arm (native, wasm, harness, envoy), the host-call filter and a failure.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use filterbench_results::vocab::{ArmKind, Metric, Phase, Stage, arm};
use filterbench_results::{ArmInfo, Failure, FilterInfo, Histogram, Machine, Results, Row};

/// (arm, kind, base cost in ns per request).
pub const ARMS: [(&str, ArmKind, f64); 6] = [
    (arm::NATIVE, ArmKind::Native, 1000.0),
    ("wasmtime-cranelift", ArmKind::Wasm, 1500.0),
    ("wasmi", ArmKind::Wasm, 8000.0),
    (arm::HARNESS, ArmKind::Harness, 200.0),
    (arm::ENVOY_BUILTIN, ArmKind::Envoy, 50_000.0),
    (arm::ENVOY_WASM_V8, ArmKind::Envoy, 60_000.0),
];
pub const PROCESSES: u32 = 3;
/// The filter × scenario × arm that failed (and so has no rows).
pub const FAILED: (&str, &str, &str) = ("add-header", "large-headers", "envoy-wasm-v8");

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A deterministic factor in [1 − jitter, 1 + jitter] for a figure.
fn noise(seed: u64, what: &str, jitter: f64) -> f64 {
    let mut z = fnv(what) ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let u = (z >> 11) as f64 / (1u64 << 53) as f64;
    1.0 + jitter * (2.0 * u - 1.0)
}

fn scenarios() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("add-header", vec!["small-headers", "large-headers"]),
        ("hostcalls", vec!["none", "get_header", "log"]),
    ]
}

/// Extra CPU per request of a hostcalls scenario: 100 calls of a known per-call cost.
fn hostcall_extra(scenario: &str, arm: &str) -> f64 {
    let per_call = match (scenario, arm) {
        ("none", _) => 0.0,
        (_, "native") => 5.0,
        (_, "wasmi") => 40.0,
        (_, "harness") => 0.0,
        ("log", _) => 30.0,
        _ => 20.0,
    };
    per_call * 100.0
}

/// A full results file. `seed` and `jitter` (relative, e.g. 0.02) vary the values per process.
pub fn fixture(seed: u64, jitter: f64) -> Results {
    let mut r = Results::new();
    r.started_unix = 1_764_000_000;
    r.duration_s = 12.5;
    r.command_line = vec![
        "filterbench".into(),
        "run".into(),
        "--quick".into(),
        "--out".into(),
        "results/fixture.json".into(),
    ];
    r.git_commit = Some("0123456789abcdef0123456789abcdef01234567".into());
    r.profile = "quick".into();
    r.complete = true;
    r.machine = Machine {
        hostname: "ci".into(),
        os: "Debian GNU/Linux 12".into(),
        kernel: "6.1".into(),
        cpu_model: "Test CPU".into(),
        cpus: 2,
        memory_bytes: Some(8 << 30),
    };
    for (name, kind, _) in ARMS {
        r.arms.push(ArmInfo {
            name: name.into(),
            kind,
            version: format!("{name} 1.0"),
            flags: String::new(),
        });
    }
    for (f, scs) in scenarios() {
        r.filters.push(FilterInfo {
            name: f.into(),
            kind: "http".into(),
            language: "rust".into(),
            wasm_bytes: Some(125_000),
            wasm_sha256: Some("ab".repeat(32)),
            scenarios: scs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        });
    }
    let row = |f: &str,
               sc: &str,
               arm: &str,
               phase: Phase,
               metric: Metric,
               threads: u32,
               process: u32,
               iteration: u32,
               value: f64| Row {
        filter: f.into(),
        scenario: sc.into(),
        arm: arm.into(),
        phase,
        metric,
        unit: metric.unit(),
        threads,
        process,
        iteration,
        value: value
            * noise(
                seed,
                &format!("{f}/{sc}/{arm}/{phase}/{metric}/{threads}/{process}/{iteration}"),
                jitter,
            ),
    };
    for (f, scs) in scenarios() {
        for (arm, kind, base) in ARMS {
            for p in 0..PROCESSES {
                for sc in &scs {
                    if (f, *sc, arm) == FAILED {
                        continue;
                    }
                    let cost = base
                        + if f == "hostcalls" {
                            hostcall_extra(sc, arm)
                        } else {
                            0.0
                        };
                    let scale = if *sc == "large-headers" { 2.0 } else { 1.0 };
                    let cost = cost * scale;
                    for (m, k) in [
                        (Metric::LatencyP50, 1.0),
                        (Metric::LatencyP90, 1.2),
                        (Metric::LatencyP99, 2.0),
                        (Metric::LatencyP999, 5.0),
                        (Metric::LatencyMax, 20.0),
                        (Metric::LatencyMean, 1.1),
                    ] {
                        r.rows
                            .push(row(f, sc, arm, Phase::Request, m, 1, p, 0, cost * k));
                    }
                    for t in [1, 2] {
                        r.rows.push(row(
                            f,
                            sc,
                            arm,
                            Phase::Request,
                            Metric::CpuPerRequest,
                            t,
                            p,
                            0,
                            cost * 0.9,
                        ));
                        r.rows.push(row(
                            f,
                            sc,
                            arm,
                            Phase::Request,
                            Metric::Throughput,
                            t,
                            p,
                            0,
                            1e9 * t as f64 * 0.95 / cost,
                        ));
                    }
                    let v = cost as u64;
                    r.histograms.push(Histogram {
                        filter: f.into(),
                        scenario: sc.to_string(),
                        arm: arm.into(),
                        process: p,
                        count: 10_000,
                        mean_ns: cost * 1.1,
                        stdev_ns: cost * 0.3,
                        max_ns: v * 20,
                        points: vec![
                            (0.0, v * 9 / 10, 10),
                            (0.5, v, 4990),
                            (0.9, v * 12 / 10, 4000),
                            (0.99, v * 2, 900),
                            (0.999, v * 5, 90),
                            (0.9999, v * 20, 10),
                            (1.0, v * 20, 0),
                        ],
                        hdr_base64: None,
                    });
                }
                if kind == ArmKind::Harness || kind == ArmKind::Envoy {
                    continue;
                }
                let startup = if kind == ArmKind::Native { 0.01 } else { 1.0 } * base;
                for it in 0..2 {
                    for (phase, k) in [
                        (Phase::Compile, 50_000.0),
                        (Phase::Instantiate, 100.0),
                        (Phase::Start, 20.0),
                        (Phase::FirstRequest, 2.0),
                    ] {
                        r.rows
                            .push(row(f, "", arm, phase, Metric::Time, 1, p, it, startup * k));
                    }
                }
                for (m, v) in [
                    (Metric::ModuleFileBytes, 125_000.0),
                    (Metric::ModuleRssBytes, 400_000.0),
                    (Metric::RssPerVmBytes, 20_480.0 * base / 1000.0),
                    (Metric::HeapPerVmBytes, 17_000.0 * base / 1000.0),
                    (Metric::LinearMemoryBytes, 1_179_648.0),
                ] {
                    r.rows.push(row(f, "", arm, Phase::Memory, m, 1, p, 0, v));
                }
            }
        }
    }
    r.failures.push(Failure {
        filter: FAILED.0.into(),
        scenario: FAILED.1.into(),
        arm: FAILED.2.into(),
        stage: Stage::Verify,
        message: "response header `x-added` missing <expected: yes>".into(),
    });
    r
}

/// `results` with every value of `arm`'s `metric` multiplied by `factor`.
pub fn scaled(mut results: Results, arm: &str, metric: Metric, factor: f64) -> Results {
    for row in &mut results.rows {
        if row.arm == arm && row.metric == metric {
            row.value *= factor;
        }
    }
    results
}

/// The committed trimmed copy of a real quick run (noop; native, wasmtime-cranelift, wasmi,
/// harness).
pub fn real() -> Results {
    Results::read(&data("quick-trimmed.json")).expect("committed results file reads")
}

/// One single-thread row of `metric` in its own unit, for tests that set every value.
pub fn row(
    f: &str,
    sc: &str,
    arm: &str,
    phase: Phase,
    metric: Metric,
    p: usize,
    value: f64,
) -> Row {
    Row {
        filter: f.into(),
        scenario: sc.into(),
        arm: arm.into(),
        phase,
        metric,
        unit: metric.unit(),
        threads: 1,
        process: p as u32,
        iteration: 0,
        value,
    }
}

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}
