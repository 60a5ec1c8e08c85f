//! `filterbench run` end to end, on a tiny plan: the results file is complete and valid, and a
//! filter that fails is reported and never timed.

use std::path::Path;

use filterbench_results::Results;

mod common;
use common::{filterbench, text};
use filterbench_results::vocab::{Metric, Phase, Stage};

#[test]
fn a_short_run_writes_a_complete_results_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.json");
    let o = filterbench(&[
        "run",
        "--no-envoy",
        "--filters",
        "noop",
        "--arms",
        "native,wasmtime-cranelift",
        "--processes",
        "2",
        "--measure-ms",
        "30",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // The answer per filter, and the report written beside the results.
    assert!(text(&o).contains("WHAT WASM COSTS"), "{}", text(&o));
    assert!(out.with_extension("html").is_file(), "{}", text(&o));
    let r = Results::read(&out).unwrap();
    assert!(r.complete);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let arms: Vec<&str> = r.arms.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(arms, ["native", "wasmtime-cranelift", "harness"]);
    let noop = &r.filters[0];
    assert_eq!(noop.scenarios, ["small-headers", "large-headers"]);
    assert_eq!(noop.wasm_sha256.as_ref().map(String::len), Some(64));
    for arm in arms {
        for process in 0..2 {
            let has = |phase: Phase, metric: Metric| {
                r.rows.iter().any(|x| {
                    x.arm == arm && x.process == process && x.phase == phase && x.metric == metric
                })
            };
            assert!(has(Phase::Request, Metric::LatencyP99), "{arm} {process}");
            assert!(
                has(Phase::Request, Metric::CpuPerRequest),
                "{arm} {process}"
            );
            if arm != "harness" {
                assert!(has(Phase::Compile, Metric::Time), "{arm} {process}");
                assert!(
                    has(Phase::Memory, Metric::RssAnonPerVmBytes),
                    "{arm} {process}"
                );
            }
        }
    }
    // The schema round-trips exactly.
    let back: Results = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}

fn write_trap_module(dir: &Path) -> std::path::PathBuf {
    let src =
        include_str!("../../runners/tests/hostile/base.wat").replace("{{BODY}}", "unreachable");
    let path = dir.join("traps.wasm");
    std::fs::write(&path, wat::parse_str(src).unwrap()).unwrap();
    path
}

#[test]
fn a_filter_that_traps_is_reported_and_never_timed() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = write_trap_module(dir.path());
    let out = dir.path().join("results.json");
    let o = filterbench(&[
        "run",
        "--wasm",
        wasm.to_str().unwrap(),
        "--arms",
        "wasmtime-cranelift,wasmi",
        "--processes",
        "1",
        "--measure-ms",
        "20",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "a failing filter must fail the run");
    assert!(text(&o).contains("FAILED"), "{}", text(&o));
    let r = Results::read(&out).unwrap();
    for arm in ["wasmtime-cranelift", "wasmi"] {
        assert!(
            r.failures
                .iter()
                .any(|f| f.arm == arm && f.stage == Stage::Verify && f.message.contains("trap")),
            "{arm}: {:?}",
            r.failures
        );
        assert!(
            !r.rows
                .iter()
                .any(|x| x.arm == arm && x.phase == Phase::Request),
            "{arm} was timed"
        );
    }
}

#[test]
fn bad_arguments_get_clear_errors() {
    let o = filterbench(&["run", "--arms", "v8-turbo"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("no arm or Envoy variant matches `v8-turbo`"),
        "{}",
        text(&o)
    );
    let o = filterbench(&["run", "--wasm", "/nonexistent/filter.wasm"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("does not exist"), "{}", text(&o));
    let o = filterbench(&["run", "--filters", "nope"]);
    assert!(
        text(&o).contains("no filter matches `nope`"),
        "{}",
        text(&o)
    );
    let o = filterbench(&["run", "--protocols", "http1,h3"]);
    assert!(text(&o).contains("unknown protocol `h3`"), "{}", text(&o));
    // h2c is a protocol of the live-Envoy arms: asked without them, refused, not ignored.
    let o = filterbench(&["run", "--no-envoy", "--protocols", "h2c"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--protocols applies to the live-Envoy arms"),
        "{}",
        text(&o)
    );
    // Each cause said once (a library error that carries its source in its message).
    let o = filterbench(&["report", "/nonexistent/results.json"]);
    let e = text(&o);
    assert_eq!(e.matches("os error 2").count(), 1, "{e}");
}

#[test]
fn a_malformed_module_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wasm");
    std::fs::write(&bad, b"this is not wasm").unwrap();
    let out = dir.path().join("r.json");
    let o = filterbench(&[
        "run",
        "--wasm",
        bad.to_str().unwrap(),
        "--arms",
        "wasmtime-cranelift",
        "--processes",
        "1",
        "--measure-ms",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("not a WebAssembly module"),
        "{}",
        text(&o)
    );
}

/// Instruction counts of add-header on native, two repeats, with the slowdown knob at `burn`
/// rounds per request (None: off).
fn count(dir: &Path, name: &str, burn: Option<u32>) -> (std::path::PathBuf, Results) {
    let out = dir.join(name);
    let args = ["--arms", "native", "--requests", "20", "--repeats", "2"];
    let r = common::count_add_header(&args, &out, burn);
    (out, r)
}

fn compare_files(dir: &Path, base: &Path, new: &Path) -> std::process::Output {
    filterbench(&[
        "compare",
        base.to_str().unwrap(),
        new.to_str().unwrap(),
        "-o",
        dir.join("c.html").to_str().unwrap(),
    ])
}

#[test]
fn instruction_counts_repeat_agree_and_gate_a_real_slowdown() {
    let dir = tempfile::tempdir().unwrap();
    let (a, ra) = count(dir.path(), "a.json", None);
    // Two repeats of every figure, agreeing to well under the 0.5% of the deterministic rule.
    let of = |arm: &str| -> Vec<(&str, u32, f64)> {
        ra.rows
            .iter()
            .filter(|x| x.metric == Metric::Instructions && x.arm == arm)
            .map(|x| (x.scenario.as_str(), x.process, x.value))
            .collect()
    };
    let per = of("native");
    // The harness is counted beside the arms, below them: what their counts are net of.
    let harness = of("harness");
    for (sc, p, h) in &harness {
        let n = per
            .iter()
            .find(|x| x.0 == *sc && x.1 == *p)
            .expect("native beside");
        assert!(*h > 0.0 && *h < n.2, "{sc}: harness {h} vs native {}", n.2);
    }
    assert_eq!(harness.len(), per.len(), "{harness:?}");
    assert!(per.len() >= 2 && per.iter().any(|x| x.1 == 1), "{per:?}");
    for (sc, _, v) in &per {
        assert!(*v > 1000.0, "{sc}: {v}");
        let other = per.iter().find(|x| x.0 == *sc && x.2 != *v);
        assert!(other.is_none_or(|o| (o.2 - v).abs() / v < 0.005), "{per:?}");
    }
    // The same build again: every gating figure is judged unchanged by the deterministic rule.
    let (b, _) = count(dir.path(), "b.json", None);
    let o = compare_files(dir.path(), &a, &b);
    assert!(
        o.status.success(),
        "same build must not regress: {}",
        text(&o)
    );
    let out = text(&o);
    let gating = out
        .lines()
        .find_map(|l| l.strip_prefix("gating: "))
        .and_then(|l| l.split(';').next())
        .unwrap_or_else(|| panic!("no gating counts: {out}"));
    assert!(
        gating.contains(" 0 regressed") && gating.ends_with(" 0 unsure"),
        "{out}"
    );
    // The knob burns real instructions in the filter: the comparison fails on add-header.
    let (c, rc) = count(dir.path(), "c.json", Some(2000));
    assert!(rc.command_line[0].starts_with("FILTERBENCH_BURN="));
    let o = compare_files(dir.path(), &a, &c);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("regressed add-header"), "{}", text(&o));
}

#[test]
fn globs_aim_filters_scenarios_and_arms() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.json");
    let o = filterbench(&[
        "run",
        "--no-envoy",
        "--no-profile",
        "--no-report",
        "--filters",
        "no*",
        "--scenarios",
        "*large*",
        "--arms",
        "wasmtime-c*",
        "--processes",
        "1",
        "--measure-ms",
        "20",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let r = Results::read(&out).unwrap();
    let arms: Vec<&str> = r.arms.iter().map(|a| a.name.as_str()).collect();
    // Native joins as the reference; the harness as the baseline.
    assert_eq!(arms, ["native", "wasmtime-cranelift", "harness"]);
    assert_eq!(r.filters.len(), 1);
    assert_eq!(r.filters[0].scenarios, ["large-headers"]);
    assert!(!out.with_extension("html").exists());
    // A pattern that matches nothing is one clear error, before anything runs.
    let o = filterbench(&["run", "--no-envoy", "--scenarios", "nosuch*"]);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o);
    assert!(
        e.contains("no scenario of the selected filters matches `nosuch*`"),
        "{e}"
    );
    assert_eq!(e.matches("error:").count(), 1, "{e}");
}
