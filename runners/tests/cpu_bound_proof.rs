//! A filter that runs until the CPU bound stops it fails its proof saying so, with the arm's
//! bound, whichever engine it runs on and wherever it loops: a callback, `proxy_on_configure`,
//! or the module's start function (which the engines report as a failed instantiation).

use std::path::{Path, PathBuf};
use std::time::Duration;

use filterbench_results::vocab::Stage;
use filterbench_runners::engines::{self, Limits};
use filterbench_runners::measure::scenario::{self, Refusal};
use filterbench_runners::measure::{ByoFilter, Plan, Silent, run_worker};

const BASE: &str = include_str!("hostile/base.wat");
const SPIN: &str = "(loop $spin (br $spin))";

/// The base module with its request callback's body, or its start function, spinning.
fn write(dir: &Path, name: &str, body: &str, start: bool) -> PathBuf {
    let mut src = BASE.replace("{{BODY}}", body);
    if start {
        src = src.replace(
            "(func (export \"proxy_abi_version_0_2_1\"))",
            &format!(
                "(func (export \"proxy_abi_version_0_2_1\"))\n  (func $s {SPIN})\n  (start $s)"
            ),
        );
    }
    let path = dir.join(name);
    std::fs::write(&path, wat::parse_str(src).unwrap()).unwrap();
    path
}

fn plan(wasm: PathBuf, arms: &[&str], limits: Limits) -> Plan {
    let mut plan = Plan::quick();
    plan.byo = Some(ByoFilter {
        wasm,
        native: None,
        config: None,
        fixtures: None,
        language: None,
    });
    plan.arms = arms.iter().map(|a| a.to_string()).collect();
    plan.limits = limits;
    plan
}

/// Tight bounds so the test is quick: a 200 ms deadline, 20 million fuel.
fn tight() -> Limits {
    Limits {
        deadline: Duration::from_millis(200),
        fuel_per_call: 20_000_000,
        ..Limits::default()
    }
}

/// Every arm's proof failure of a one-process run, by arm.
fn refusals(plan: &Plan) -> Vec<(String, String)> {
    let out = run_worker(plan, 0, &Silent);
    assert!(out.rows.is_empty(), "{:#?}", out.rows);
    out.failures
        .iter()
        .filter(|f| f.arm != "harness")
        .inspect(|f| assert_eq!(f.stage, Stage::Verify, "{f:?}"))
        .map(|f| (f.arm.clone(), f.message.clone()))
        .collect()
}

#[test]
fn a_looping_callback_or_start_function_is_the_cpu_bound_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let arms = ["wasmtime-cranelift", "wasmtime-winch", "wasmi"];
    let want = |what: &str, arm: &str| {
        let bound = if arm == "wasmi" {
            "20 million fuel"
        } else {
            "200ms deadline"
        };
        format!("{what} ran past the CPU bound ({bound}); not measured")
    };
    let configure = BASE.contains(
        "(func (export \"proxy_on_configure\") (param i32 i32) (result i32) (i32.const 1))",
    );
    assert!(configure, "the base module's proxy_on_configure changed");
    let cases = [
        (
            "on_request_headers",
            write(dir.path(), "request.wasm", SPIN, false),
        ),
        (
            "the start function",
            write(dir.path(), "start.wasm", "", true),
        ),
    ];
    for (what, wasm) in cases {
        let got = refusals(&plan(wasm, &arms, tight()));
        let want: Vec<(String, String)> = arms
            .iter()
            .map(|a| (a.to_string(), want(what, a)))
            .collect();
        assert_eq!(got, want);
    }
    let config_loop = BASE.replace("{{BODY}}", "").replace(
        "(func (export \"proxy_on_configure\") (param i32 i32) (result i32) (i32.const 1))",
        &format!("(func (export \"proxy_on_configure\") (param i32 i32) (result i32) {SPIN} (i32.const 1))"),
    );
    let wasm = dir.path().join("configure.wasm");
    std::fs::write(&wasm, wat::parse_str(config_loop).unwrap()).unwrap();
    let got = refusals(&plan(wasm, &["wasmi"], tight()));
    assert_eq!(got, [("wasmi".to_string(), want("on_configure", "wasmi"))]);
}

/// wasmer's metering stops a start function with a plain `unreachable` trap: told from a
/// real one by the seconds it ran (at the default budget).
#[test]
fn wasmer_start_function_loop_is_the_cpu_bound_and_a_real_trap_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits::default();
    for (wasm, cpu_bound) in [
        (write(dir.path(), "start.wasm", "", true), true),
        (
            {
                let src = BASE.replace("{{BODY}}", "").replace(
                    "(func (export \"proxy_abi_version_0_2_1\"))",
                    "(func (export \"proxy_abi_version_0_2_1\"))\n  (func $s unreachable)\n  (start $s)",
                );
                let p = dir.path().join("trap.wasm");
                std::fs::write(&p, wat::parse_str(src).unwrap()).unwrap();
                p
            },
            false,
        ),
    ] {
        let plan = plan(wasm, &["wasmer-cranelift"], limits.clone());
        let sc = &scenario::scenarios(&plan).unwrap()[0];
        let module = engines::engine("wasmer-cranelift", &limits)
            .unwrap()
            .load(&sc.artifacts)
            .unwrap();
        match sc.check(module.as_ref()) {
            Err(Refusal::CpuBound(what)) if cpu_bound => assert_eq!(what, "the start function"),
            Err(Refusal::Failed(m)) if !cpu_bound => assert!(m.contains("unreachable"), "{m}"),
            other => panic!("cpu bound {cpu_bound}: {other:?}"),
        }
    }
}
