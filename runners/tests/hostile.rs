//! Hostile and broken modules on every wasm arm of the registry: each is refused with an
//! error that names the problem, or fails only the request it broke.

use std::io::Write;

use filterbench_runners::catalog;
use filterbench_runners::engines::{self, Artifacts, EngineError, Limits, LoadedModule, REGISTRY};
use filterbench_runners::fixtures::{self, FixtureFile, Step};
use filterbench_runners::host::module_check;
use filterbench_runners::host::{Clock, HostState, HttpExchange, SharedData, Vm};

#[path = "hostile/bounds.rs"]
mod bounds;
#[path = "hostile/features.rs"]
mod features;

const BASE: &str = include_str!("hostile/base.wat");

fn wat_with(body: &str) -> String {
    BASE.replace("{{BODY}}", body)
}

fn compile(src: &str) -> Vec<u8> {
    wat::parse_str(src).expect("test module assembles")
}

fn wasm_arms() -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|e| !e.is_native)
        .map(|e| e.name)
        .collect()
}

fn load(arm: &str, bytes: &[u8], limits: &Limits) -> Result<Box<dyn LoadedModule>, EngineError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    let artifacts = Artifacts {
        wasm: Some(f.path().to_path_buf()),
        native: None,
    };
    engines::engine(arm, limits)?.load(&artifacts)
}

fn file(requests: &str) -> FixtureFile {
    serde_json::from_str(&format!(
        r#"{{"filter": "hostile", "kind": "http", "config": {{}},
            "cases": [{{"name": "case", "requests": {requests}}}]}}"#
    ))
    .unwrap()
}

#[test]
fn bad_modules_are_rejected_with_a_clear_error() {
    let ok = wat_with("");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not wasm", b"\x7fELF\x02\x01\x01 not a module".to_vec(), "not a WebAssembly module"),
        ("truncated", compile(&ok)[..40].to_vec(), "invalid WebAssembly module"),
        (
            "older ABI",
            compile(&ok.replace("proxy_abi_version_0_2_1", "proxy_abi_version_0_1_0")),
            "no proxy_abi_version_0_2_1 marker (it has proxy_abi_version_0_1_0)",
        ),
        (
            "no ABI marker",
            compile(&ok.replace("(export \"proxy_abi_version_0_2_1\")", "")),
            "no proxy_abi_version_0_2_1 marker",
        ),
        (
            "no allocator",
            compile(&ok.replace("\"proxy_on_memory_allocate\"", "\"my_alloc\"")),
            "does not export `proxy_on_memory_allocate`",
        ),
        (
            "no memory",
            compile(&ok.replace("(export \"memory\")", "")),
            "does not export `memory`",
        ),
        (
            "unknown host function",
            compile(&ok.replace(
                "(memory",
                "(import \"env\" \"proxy_frobnicate\" (func (param i32) (result i32)))\n  (memory",
            )),
            "unknown host function `env.proxy_frobnicate`",
        ),
        (
            "unknown module",
            compile(&ok.replace(
                "(memory",
                "(import \"wasi_snapshot_preview1\" \"sock_open\" (func (param i32) (result i32)))\n  (memory",
            )),
            "unknown host function `wasi_snapshot_preview1.sock_open`",
        ),
        (
            "wrong import type",
            compile(&ok.replace(
                "(func $log (param i32 i32 i32) (result i32))",
                "(func $log (param i32 i32) (result i32))",
            )),
            "imports `proxy_log` with type (i32, i32) -> (i32)",
        ),
        (
            "wrong callback type",
            compile(&ok.replace(
                "(func (export \"proxy_on_configure\") (param i32 i32) (result i32) (i32.const 1))",
                "(func (export \"proxy_on_configure\") (param i32) (result i32) (i32.const 1))",
            )),
            "exports `proxy_on_configure` with type (i32) -> (i32)",
        ),
    ];
    let limits = Limits::default();
    for arm in wasm_arms() {
        for (what, bytes, want) in &cases {
            match load(arm, bytes, &limits) {
                Ok(_) => panic!("{arm} / {what}: loaded, expected an error containing {want:?}"),
                Err(e) => assert!(e.to_string().contains(want), "{arm} / {what}: {e}"),
            }
        }
    }
}

#[test]
fn a_trap_fails_only_that_request_and_the_vm_is_replaced() {
    // Traps on requests with exactly one header.
    let m = compile(&wat_with(
        "(if (i32.eq (local.get $n) (i32.const 1)) (then unreachable))",
    ));
    let f = file(
        r#"[{"request": {"headers": [["a", "1"]]}},
            {"request": {"headers": [["a", "1"], ["b", "2"]]}},
            {"request": {"headers": [["a", "1"]]}}]"#,
    );
    for arm in wasm_arms() {
        let module = load(arm, &m, &Limits::default()).unwrap();
        let out = fixtures::run_case(module.as_ref(), &f, &f.cases[0]);
        assert_eq!(
            out.steps[0],
            Step::Failed("trap in proxy_on_request_headers".into()),
            "{arm}"
        );
        assert!(
            matches!(out.steps[1], Step::Http(_)),
            "{arm}: {:?}",
            out.steps[1]
        );
        assert!(matches!(out.steps[2], Step::Failed(_)), "{arm}");
        assert_eq!(out.vm_restarts, 1, "{arm}");
    }
}

#[test]
fn bad_guest_pointers_get_invalid_memory_access_not_a_crash() {
    // proxy_log with a pointer past the end of memory must answer status 6.
    let m = compile(&wat_with(
        "(if (i32.ne (call $log (i32.const 2) (i32.const 0x7fff0000) (i32.const 16)) (i32.const 6))
            (then unreachable))",
    ));
    let f = file(r#"[{"request": {"headers": [["a", "1"]]}}]"#);
    for arm in wasm_arms() {
        let module = load(arm, &m, &Limits::default()).unwrap();
        let out = fixtures::run_case(module.as_ref(), &f, &f.cases[0]);
        assert!(
            matches!(out.steps[0], Step::Http(_)),
            "{arm}: {:?}",
            out.steps[0]
        );
    }
}

#[test]
fn native_arm_refuses_a_library_that_is_not_a_filter() {
    let not_a_lib = tempfile::NamedTempFile::new().unwrap();
    let artifacts = Artifacts {
        wasm: None,
        native: Some(not_a_lib.path().to_path_buf()),
    };
    let err = engines::engine("native", &Limits::default())
        .unwrap()
        .load(&artifacts)
        .err()
        .expect("an empty file is not a library");
    assert!(err.to_string().contains("native library"), "{err}");
}

#[test]
fn an_endless_loop_is_stopped_by_the_cpu_bound_on_every_engine() {
    let m = compile(&wat_with("(loop $spin (br $spin))"));
    let f =
        file(r#"[{"request": {"headers": [["a", "1"]]}}, {"request": {"headers": [["a", "1"]]}}]"#);
    let limits = Limits {
        deadline: std::time::Duration::from_millis(200),
        fuel_per_call: 20_000_000,
        ..Limits::default()
    };
    for arm in wasm_arms() {
        let module = load(arm, &m, &limits).unwrap();
        let started = std::time::Instant::now();
        let out = fixtures::run_case(module.as_ref(), &f, &f.cases[0]);
        assert_eq!(
            out.steps,
            vec![Step::Failed("cpu limit in proxy_on_request_headers".into()); 2],
            "{arm}"
        );
        assert_eq!(out.vm_restarts, 1, "{arm}");
        // Not a timing assertion on the filter: only that the suite is not hung.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{arm}"
        );
    }
}

#[test]
fn unbounded_memory_growth_is_refused_past_the_limit_on_every_engine() {
    // Grows 1 MiB at a time until the engine refuses, then traps to say so.
    let m = compile(&wat_with(
        "(loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
         unreachable",
    ));
    let limit = 32u64 << 20;
    let limits = Limits {
        max_memory_bytes: limit,
        ..Limits::default()
    };
    for arm in wasm_arms() {
        let module = load(arm, &m, &limits).unwrap();
        let host = HostState::new(Some(b"{}".to_vec()), Clock::System, SharedData::new());
        let mut vm = Vm::start(module.as_ref(), host).unwrap();
        let ex = HttpExchange::default();
        let err = vm.http(&ex).expect_err("growth must end in the trap");
        assert!(
            err.to_string().contains("proxy_on_request_headers"),
            "{arm}: {err}"
        );
        let grown = vm
            .instance()
            .memory_bytes()
            .expect("a wasm arm has linear memory");
        assert!(
            grown <= limit && grown >= limit - (1 << 20),
            "{arm}: {grown} bytes"
        );
    }
}

#[test]
fn an_sdk_filter_built_for_wasip1_runs_with_the_wasi_subset() {
    let filter = catalog::find("add-header").unwrap();
    let wasm = catalog::wasip1_wasm("add-header").expect("build.rs makes a wasip1 add-header");
    let info = module_check::check(&std::fs::read(&wasm).unwrap()).unwrap();
    assert!(
        info.imports
            .iter()
            .any(|(m, _)| m == "wasi_snapshot_preview1"),
        "expected WASI imports, got {:?}",
        info.imports
    );
    let artifacts = Artifacts {
        wasm: Some(wasm),
        native: None,
    };
    for arm in wasm_arms() {
        let module = engines::engine(arm, &Limits::default())
            .unwrap()
            .load(&artifacts)
            .unwrap_or_else(|e| panic!("{arm}: {e}"));
        for case in &filter.fixtures.cases {
            let out = fixtures::run_case(module.as_ref(), &filter.fixtures, case);
            let problems = fixtures::check_expectations(case, &out);
            assert!(problems.is_empty(), "{arm} / {}: {problems:?}", case.name);
        }
    }
}
