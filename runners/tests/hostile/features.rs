//! WebAssembly proposals beyond what every engine runs: the module check refuses each with
//! one message on every arm (left to the engines, some ran the module and others refused it
//! in their own words), and lets through what every engine runs.

use filterbench_runners::engines::{Limits, REGISTRY};
use filterbench_runners::host::module_check::{PROPOSALS, Proposal};
use filterbench_runners::host::{Clock, HostState, HttpExchange, SharedData, Vm};

use super::{BASE, compile, load, wasm_arms};

const MEMORY: &str = "(memory (export \"memory\") 2)";

/// base.wat with `memory` in place of its memory, extra module fields and a body.
fn module(memory: &str, fields: &str, body: &str) -> Vec<u8> {
    compile(
        &BASE
            .replace(MEMORY, &format!("{fields}\n  {memory}"))
            .replace("{{BODY}}", body),
    )
}

fn proposal(name: &str) -> &'static Proposal {
    PROPOSALS
        .iter()
        .find(|p| p.name.starts_with(name))
        .unwrap_or_else(|| panic!("no proposal named {name:?}"))
}

/// One module per refused proposal, and the proposal its refusal must name.
fn refused_cases() -> Vec<(&'static str, Vec<u8>)> {
    let v128 = "(v128.store (i32.const 64) (i32x4.add (v128.const i32x4 1 2 3 4) \
                (v128.load (i32.const 64))))";
    let relaxed = "(v128.store (i32.const 64) \
                   (i32x4.relaxed_trunc_f32x4_s (v128.const f32x4 1 2 3 4)))";
    let countdown = "(func $down (param i32) (result i32)
        (if (result i32) (local.get 0)
          (then (return_call $down (i32.sub (local.get 0) (i32.const 1))))
          (else (i32.const 0))))";
    let func_ref = "(type $ft (func (result i32))) (func $g (type $ft) (i32.const 0))
                    (elem declare func $g)";
    vec![
        (
            "memory64",
            module(
                "(memory (export \"memory\") i64 2)",
                "",
                "(i64.store (i64.const 64) (i64.const 1))",
            ),
        ),
        (
            "threads",
            module("(memory (export \"memory\") 2 2 shared)", "", ""),
        ),
        (
            "threads",
            module(
                MEMORY,
                "",
                "(drop (i32.atomic.rmw.add (i32.const 64) (i32.const 1)))",
            ),
        ),
        ("SIMD", module(MEMORY, "", v128)),
        ("relaxed SIMD", module(MEMORY, "", relaxed)),
        (
            "tail calls",
            module(MEMORY, countdown, "(drop (call $down (i32.const 1000)))"),
        ),
        (
            "exception handling",
            module(
                MEMORY,
                "(tag $e)",
                "(block $h (try_table (catch_all $h) (throw $e)))",
            ),
        ),
        (
            "typed function references",
            module(MEMORY, func_ref, "(drop (call_ref $ft (ref.func $g)))"),
        ),
        (
            "garbage collection",
            module(
                MEMORY,
                "(type $s (struct (field i32)))",
                "(drop (struct.get $s 0 (struct.new $s (i32.const 1))))",
            ),
        ),
        (
            "GC-managed references",
            module(
                MEMORY,
                "",
                "(local $x externref) (drop (ref.is_null (local.get $x)))",
            ),
        ),
    ]
}

#[test]
fn every_engine_refuses_a_proposal_some_engine_lacks_with_one_message() {
    let limits = Limits::default();
    for (name, wasm) in refused_cases() {
        let p = proposal(name);
        let mut messages = Vec::new();
        for arm in wasm_arms() {
            match load(arm, &wasm, &limits) {
                Ok(_) => panic!("{arm} / {name}: loaded, expected the module check's refusal"),
                Err(e) => messages.push((arm, e.to_string())),
            }
        }
        let (first_arm, first) = &messages[0];
        for (arm, m) in &messages {
            assert_eq!(m, first, "{arm} and {first_arm} refuse {name} differently");
        }
        let want = format!("module uses {}, which not every engine here runs: ", p.name);
        assert!(first.starts_with(&want), "{name}: {first}");
        for lacking in p.missing_on {
            assert!(first.contains(lacking), "{name}: {first} omits {lacking}");
        }
        eprintln!("{name}: {first}");
    }
}

/// Every arm a proposal names is an arm of the registry (a renamed arm would leave a stale
/// name in the refusal), and none is named twice.
#[test]
fn proposals_name_only_registered_wasm_arms() {
    let arms = wasm_arms();
    for p in PROPOSALS {
        assert!(!p.missing_on.is_empty(), "{}: every engine runs it", p.name);
        for (i, arm) in p.missing_on.iter().enumerate() {
            assert!(arms.contains(arm), "{}: {arm} is not an arm", p.name);
            assert!(!p.missing_on[..i].contains(arm), "{}: {arm} twice", p.name);
        }
    }
    assert!(
        REGISTRY.iter().any(|e| e.is_native),
        "the native arm is there"
    );
}

#[test]
fn proposals_every_engine_runs_pass_the_check_and_run_everywhere() {
    // Extended const, multi-value, sign extension, saturating float-to-int, bulk memory and
    // a second funcref table: each checked, so an engine that skipped one fails the request.
    let fields = "(global $three i32 (i32.add (i32.const 1) (i32.const 2)))
        (func $pair (result i32 i32) (i32.const 4) (i32.const 5))
        (table $a 1 funcref) (table $b 2 funcref)";
    let body = "(if (i32.ne (global.get $three) (i32.const 3)) (then unreachable))
        (if (i32.ne (i32.add (call $pair)) (i32.const 9)) (then unreachable))
        (if (i32.ne (i32.extend8_s (i32.const 255)) (i32.const -1)) (then unreachable))
        (if (i32.ne (i32.trunc_sat_f32_s (f32.const 1e30)) (i32.const 2147483647))
          (then unreachable))
        (memory.fill (i32.const 64) (i32.const 7) (i32.const 16))
        (if (i32.ne (i32.load8_u (i32.const 79)) (i32.const 7)) (then unreachable))
        (if (i32.eqz (ref.is_null (table.get $b (i32.const 1)))) (then unreachable))";
    let wasm = module(MEMORY, fields, body);
    for arm in wasm_arms() {
        let loaded = load(arm, &wasm, &Limits::default()).unwrap_or_else(|e| panic!("{arm}: {e}"));
        let host = HostState::new(Some(b"{}".to_vec()), Clock::System, SharedData::new());
        let mut vm = Vm::start(loaded.as_ref(), host).unwrap_or_else(|e| panic!("{arm}: {e}"));
        if let Err(e) = vm.http(&HttpExchange::default()) {
            panic!("{arm}: {e}");
        }
    }
}

/// Whether the engine behind `arm` compiles `wasm` without the module check, configured as
/// its adapter configures it where that decides the proposals it takes (CPU and memory
/// bounds, pooling and metering do not: measured on every arm).
fn engine_compiles(arm: &str, wasm: &[u8]) -> bool {
    let wasmtime = |strategy| {
        let mut cfg = wasmtime::Config::new();
        cfg.strategy(strategy);
        let engine = wasmtime::Engine::new(&cfg).unwrap();
        wasmtime::Module::new(&engine, wasm).is_ok()
    };
    let wasmer = |compiler: Box<dyn wasmer::sys::CompilerConfig>| {
        let engine: wasmer::Engine = wasmer::sys::EngineBuilder::new(compiler).into();
        wasmer::Module::new(&wasmer::Store::new(engine), wasm).is_ok()
    };
    match arm {
        "wasmtime-cranelift" => wasmtime(wasmtime::Strategy::Cranelift),
        "wasmtime-winch" => wasmtime(wasmtime::Strategy::Winch),
        "wasmer-cranelift" => wasmer(Box::<wasmer::sys::Cranelift>::default()),
        "wasmer-singlepass" => wasmer(Box::<wasmer::sys::Singlepass>::default()),
        "wasmi" => wasmi::Module::new(&wasmi::Engine::default(), wasm).is_ok(),
        _ => panic!("{arm}: a new arm; add how its engine compiles here"),
    }
}

/// `PROPOSALS` says which engines lack what; an engine upgrade or a changed configuration
/// that adds or drops a proposal fails here, so the refusal is revised with it.
#[test]
fn proposals_list_exactly_the_engines_that_cannot_compile_them() {
    for (name, wasm) in refused_cases() {
        let p = proposal(name);
        for arm in wasm_arms() {
            let lacks = p.missing_on.contains(&arm);
            assert_eq!(
                engine_compiles(arm, &wasm),
                !lacks,
                "{arm} / {name}: PROPOSALS says it {} compile it",
                if lacks { "cannot" } else { "can" }
            );
        }
    }
}
