//! Host calls and engine resources past the configured bounds: each ends in a clear error
//! naming the bound (or the wasm-level failure value), the process survives, and its peak
//! memory stays within the limits plus 64 MiB.

use std::time::{Duration, Instant};

use filterbench_runners::engines::Limits;
use filterbench_runners::host::{Clock, HostState, HttpExchange, SharedData, Vm};

use super::{BASE, compile, load, wasm_arms};

/// base.wat with extra module fields (imports first, then tables or data) and a body.
fn module(fields: &str, body: &str) -> Vec<u8> {
    compile(
        &BASE
            .replace("  (memory", &format!("  {fields}\n  (memory"))
            .replace("{{BODY}}", body),
    )
}

/// Starts a VM and sends one request with one header; the error as the harness reports it.
fn request(arm: &str, wasm: &[u8], limits: &Limits) -> Result<(), String> {
    let module = load(arm, wasm, limits).map_err(|e| e.to_string())?;
    let host = HostState::new(Some(b"{}".to_vec()), Clock::System, SharedData::new());
    let mut vm = Vm::start(module.as_ref(), host).map_err(|e| e.to_string())?;
    let ex = HttpExchange {
        request: filterbench_runners::host::Message {
            headers: vec![(b"a".to_vec(), b"1".to_vec())],
            ..Default::default()
        },
        ..Default::default()
    };
    vm.http(&ex).map(|_| ()).map_err(|e| e.to_string())
}

/// Runs `wasm` on every arm and asserts the request fails with an error containing `want`.
fn expect_error(what: &str, wasm: &[u8], limits: &Limits, want: &str) {
    for arm in wasm_arms() {
        match request(arm, wasm, limits) {
            Ok(()) => panic!("{arm} / {what}: succeeded, expected an error containing {want:?}"),
            Err(e) => {
                assert!(e.contains(want), "{arm} / {what}: {e}");
                // The messages, for `--nocapture` readers.
                eprintln!("{arm} / {what}: {e}");
            }
        }
    }
}

fn expect_ok(what: &str, wasm: &[u8], limits: &Limits) {
    for arm in wasm_arms() {
        if let Err(e) = request(arm, wasm, limits) {
            panic!("{arm} / {what}: {e}");
        }
    }
}

/// `n` times: `op`, with `$i` the iteration (stored at address 0 too, for distinct keys).
fn repeat(n: u32, op: &str) -> String {
    format!(
        "(local $i i32)
         (loop $l
           (i32.store (i32.const 0) (local.get $i))
           {op}
           (local.set $i (i32.add (local.get $i) (i32.const 1)))
           (br_if $l (i32.lt_u (local.get $i) (i32.const {n}))))"
    )
}

const FD_WRITE: &str = "(import \"wasi_snapshot_preview1\" \"fd_write\" \
                        (func $fd_write (param i32 i32 i32 i32) (result i32)))";
const RANDOM_GET: &str = "(import \"wasi_snapshot_preview1\" \"random_get\" \
                          (func $random_get (param i32 i32) (result i32)))";
const SET_BUFFER: &str = "(import \"env\" \"proxy_set_buffer_bytes\" \
                          (func $set_buffer (param i32 i32 i32 i32 i32) (result i32)))";
const ADD_HEADER: &str = "(import \"env\" \"proxy_add_header_map_value\" \
                          (func $add_header (param i32 i32 i32 i32 i32) (result i32)))";
const SET_PAIRS: &str = "(import \"env\" \"proxy_set_header_map_pairs\" \
                         (func $set_pairs (param i32 i32 i32) (result i32)))";
const SET_PROPERTY: &str = "(import \"env\" \"proxy_set_property\" \
                            (func $set_property (param i32 i32 i32 i32) (result i32)))";
const GET_PROPERTY: &str = "(import \"env\" \"proxy_get_property\" \
                            (func $get_property (param i32 i32 i32 i32) (result i32)))";
const LOCAL_REPLY: &str = "(import \"env\" \"proxy_send_local_response\" \
     (func $reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))";
const DEFINE_METRIC: &str = "(import \"env\" \"proxy_define_metric\" \
                             (func $metric (param i32 i32 i32 i32) (result i32)))";
const SET_SHARED: &str = "(import \"env\" \"proxy_set_shared_data\" \
                          (func $set_shared (param i32 i32 i32 i32 i32) (result i32)))";
const QUEUE: &str = "(import \"env\" \"proxy_register_shared_queue\" \
                     (func $register (param i32 i32 i32) (result i32)))
                     (import \"env\" \"proxy_enqueue_shared_queue\" \
                     (func $enqueue (param i32 i32 i32) (result i32)))";

/// An fd_write of `n` iovecs, each the first 64 KiB of memory: n × 64 KiB of output from a
/// small memory. The iovec array goes at 128 KiB, after growing memory to hold it.
fn fd_write_iovecs(n: u32) -> Vec<u8> {
    let pages = (n * 8).div_ceil(65536);
    let body = format!(
        "(local $i i32)
         (drop (memory.grow (i32.const {pages})))
         (loop $l
           (i32.store (i32.add (i32.const 131072) (i32.mul (local.get $i) (i32.const 8))) (i32.const 0))
           (i32.store (i32.add (i32.const 131076) (i32.mul (local.get $i) (i32.const 8))) (i32.const 65536))
           (local.set $i (i32.add (local.get $i) (i32.const 1)))
           (br_if $l (i32.lt_u (local.get $i) (i32.const {n}))))
         (drop (call $fd_write (i32.const 1) (i32.const 131072) (i32.const {n}) (i32.const 0)))"
    );
    module(FD_WRITE, &body)
}

#[test]
fn wasi_output_and_randomness_are_bounded_per_host_call() {
    let limits = Limits::default();
    // 512 MiB and 8 GiB of output; the default 16 MiB bound stops both before allocating.
    for n in [8192, 131072] {
        let what = format!("fd_write of {n} iovecs");
        expect_error(&what, &fd_write_iovecs(n), &limits, "`max_host_call_bytes`");
    }
    let random = module(
        RANDOM_GET,
        "(drop (call $random_get (i32.const 0) (i32.const -1)))",
    );
    // It ran 15 s past the 2 s deadline; refused before generating, it is quick (the time
    // includes compiling the module on every arm).
    let started = Instant::now();
    expect_error(
        "random_get of 4 GiB",
        &random,
        &limits,
        "`max_host_call_bytes`",
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn every_guest_memory_read_is_bounded_per_host_call() {
    let limits = Limits {
        max_host_call_bytes: 32 << 10,
        ..Limits::default()
    };
    // Each reads 64 KiB from guest memory in one call, past the 32 KiB bound.
    let cases = [
        (
            "proxy_log",
            "",
            "(drop (call $log (i32.const 2) (i32.const 0) (i32.const 65536)))",
        ),
        (
            "proxy_set_buffer_bytes",
            SET_BUFFER,
            "(drop (call $set_buffer (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 65536)))",
        ),
        (
            "proxy_add_header_map_value",
            ADD_HEADER,
            "(drop (call $add_header (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 65536)))",
        ),
        (
            "proxy_set_header_map_pairs",
            SET_PAIRS,
            "(drop (call $set_pairs (i32.const 0) (i32.const 0) (i32.const 65536)))",
        ),
        (
            "proxy_set_property",
            SET_PROPERTY,
            "(drop (call $set_property (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 65536)))",
        ),
        (
            "proxy_send_local_response",
            LOCAL_REPLY,
            "(drop (call $reply (i32.const 403) (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 65536) (i32.const 0) (i32.const 0) (i32.const -1)))",
        ),
        (
            "proxy_define_metric",
            DEFINE_METRIC,
            "(drop (call $metric (i32.const 0) (i32.const 0) (i32.const 65536) (i32.const 0)))",
        ),
        (
            "proxy_set_shared_data",
            SET_SHARED,
            "(drop (call $set_shared (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 65536) (i32.const 0)))",
        ),
    ];
    for (what, imports, body) in cases {
        expect_error(
            what,
            &module(imports, body),
            &limits,
            "`max_host_call_bytes`",
        );
    }
    // The same calls within the bound still work (so the bound is not simply always hit).
    let within = module(
        SET_BUFFER,
        "(if (call $set_buffer (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 16384))
           (then unreachable))",
    );
    expect_ok("proxy_set_buffer_bytes of 16 KiB", &within, &limits);
}

/// Small bounds, so a few hundred 16 KiB calls pass them.
fn tight() -> Limits {
    Limits {
        max_memory_bytes: 16 << 20,
        max_table_elements: 4096,
        max_host_call_bytes: 1 << 20,
        max_log_bytes: 256 << 10,
        max_shared_data_bytes: 256 << 10,
        max_host_state_bytes: 256 << 10,
        ..Limits::default()
    }
}

/// Repeated host calls, each within the per-call bound, that would keep growing host state.
fn accumulating_cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let kib16 = "(i32.const 16384)";
    vec![
        (
            "proxy_log × 10,000",
            module(
                "",
                &repeat(
                    10_000,
                    &format!("(drop (call $log (i32.const 2) (i32.const 0) {kib16}))"),
                ),
            ),
            "`max_log_bytes`",
        ),
        (
            "proxy_set_shared_data, distinct keys",
            module(
                SET_SHARED,
                &repeat(
                    10_000,
                    &format!(
                        "(drop (call $set_shared (i32.const 0) (i32.const 4) (i32.const 0) {kib16} (i32.const 0)))"
                    ),
                ),
            ),
            "`max_shared_data_bytes`",
        ),
        (
            "proxy_enqueue_shared_queue",
            // Registering an existing name again returns its id: the queue is made once.
            module(
                QUEUE,
                &repeat(
                    10_000,
                    &format!(
                        "(drop (call $register (i32.const 1024) (i32.const 1) (i32.const 8)))
                         (drop (call $enqueue (i32.load (i32.const 8)) (i32.const 0) {kib16}))"
                    ),
                ),
            ),
            "`max_shared_data_bytes`",
        ),
        (
            "proxy_add_header_map_value",
            module(
                ADD_HEADER,
                &repeat(
                    10_000,
                    &format!(
                        "(drop (call $add_header (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 0) {kib16}))"
                    ),
                ),
            ),
            "`max_host_state_bytes`",
        ),
        (
            "proxy_set_buffer_bytes, appending",
            module(
                SET_BUFFER,
                &repeat(
                    10_000,
                    &format!(
                        "(drop (call $set_buffer (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) {kib16}))"
                    ),
                ),
            ),
            "`max_host_state_bytes`",
        ),
        (
            "proxy_set_property, distinct paths",
            module(
                SET_PROPERTY,
                &repeat(
                    10_000,
                    &format!(
                        "(drop (call $set_property (i32.const 0) (i32.const 4) (i32.const 0) {kib16}))"
                    ),
                ),
            ),
            "`max_host_state_bytes`",
        ),
        (
            "proxy_define_metric, distinct names",
            module(
                DEFINE_METRIC,
                &repeat(
                    10_000,
                    &format!(
                        "(drop (call $metric (i32.const 0) (i32.const 0) {kib16} (i32.const 1024)))"
                    ),
                ),
            ),
            "`max_host_state_bytes`",
        ),
    ]
}

#[test]
fn host_state_logs_and_shared_data_are_bounded_across_calls() {
    for (what, wasm, want) in accumulating_cases() {
        expect_error(what, &wasm, &tight(), want);
    }
    // Rewriting one key or path stores its new value in place of the old: no growth.
    let same_key = module(
        &format!("{SET_SHARED} {SET_PROPERTY}"),
        &repeat(
            1000,
            "(if (call $set_shared (i32.const 4) (i32.const 4) (i32.const 0) (i32.const 16384) (i32.const 0))
               (then unreachable))
             (if (call $set_property (i32.const 4) (i32.const 4) (i32.const 0) (i32.const 16384))
               (then unreachable))",
        ),
    );
    expect_ok("rewriting one shared key and property", &same_key, &tight());
}

#[test]
fn a_reentrant_guest_allocator_is_refused_not_a_stack_overflow() {
    // The allocator asks for a property, which the host returns in memory from the allocator.
    let src = BASE
        .replace(
            "  (memory (export \"memory\") 2)",
            &format!("  {GET_PROPERTY}\n  (memory (export \"memory\") 2)\n  (data (i32.const 1024) \"plugin_name\")"),
        )
        .replace(
            "    (local.set $p (global.get $heap))",
            "    (drop (call $get_property (i32.const 1024) (i32.const 11) (i32.const 2048) (i32.const 2052)))
    (local.set $p (global.get $heap))",
        )
        .replace(
            "{{BODY}}",
            "(drop (call $get_property (i32.const 1024) (i32.const 11) (i32.const 2048) (i32.const 2052)))",
        );
    expect_error(
        "re-entrant allocator",
        &compile(&src),
        &Limits::default(),
        "`max_alloc_depth`",
    );
}

/// Grows a table by 32M elements (256 MiB or more); fails the request unless refused (-1).
fn huge_table_grow() -> Vec<u8> {
    module(
        "(table $t 1 funcref)",
        "(if (i32.ne (table.grow $t (ref.null func) (i32.const 33554432)) (i32.const -1)) (then unreachable))",
    )
}

#[test]
fn tables_are_bounded_like_memory() {
    let limits = tight();
    let table = "(table $t 1 funcref)";
    // Within the bound a grow succeeds; past it table.grow answers -1 (the guest traps
    // otherwise, so a missing bound fails the request).
    let small = module(
        table,
        "(if (i32.eq (table.grow $t (ref.null func) (i32.const 100)) (i32.const -1)) (then unreachable))",
    );
    expect_ok("table.grow by 100", &small, &limits);
    expect_ok("table.grow by 32M answers -1", &huge_table_grow(), &limits);
    for arm in wasm_arms() {
        let declared = module("(table 40000000 funcref)", "");
        assert!(
            request(arm, &declared, &limits).is_err(),
            "{arm}: a table declared past the bound instantiated"
        );
    }
    let many = module(&"(table 1 funcref)".repeat(17), "");
    for arm in wasm_arms() {
        let err = load(arm, &many, &limits)
            .err()
            .expect("17 tables are refused");
        assert!(
            err.to_string()
                .contains("module declares 17 tables; at most 16 are allowed"),
            "{arm}: {err}"
        );
    }
}

#[test]
fn deeply_nested_blocks_are_refused_before_compiling() {
    let nested = |depth: usize| {
        module(
            "",
            &format!("{}{}", "block\n".repeat(depth), "end\n".repeat(depth)),
        )
    };
    let deep = nested(1_000_000);
    for arm in wasm_arms() {
        let started = Instant::now();
        let err = load(arm, &deep, &Limits::default())
            .err()
            .expect("1M nested blocks are refused");
        assert!(
            err.to_string()
                .contains("nests blocks more than 10000 deep (`MAX_NESTING_DEPTH`"),
            "{arm}: {err}"
        );
        let took = started.elapsed();
        assert!(took < Duration::from_secs(10), "{arm}: took {took:?}");
    }
    expect_ok("1,000 nested blocks", &nested(1000), &Limits::default());
}

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in kB");
    kib << 10
}

const CHILD: &str = "FILTERBENCH_HOSTILE_PEAK_CHILD";

/// Runs the memory-hungry cases in a child process of its own (tests in this process run
/// in parallel, so its peak would be theirs too), every arm, and checks the child's peak.
#[test]
fn peak_memory_stays_within_the_limits_plus_64_mib() {
    let limits = tight();
    if std::env::var_os(CHILD).is_some() {
        for (what, wasm, want) in accumulating_cases() {
            expect_error(what, &wasm, &limits, want);
        }
        expect_error(
            "fd_write",
            &fd_write_iovecs(8192),
            &limits,
            "`max_host_call_bytes`",
        );
        let random = module(
            RANDOM_GET,
            "(drop (call $random_get (i32.const 0) (i32.const -1)))",
        );
        expect_error("random_get", &random, &limits, "`max_host_call_bytes`");
        expect_ok("table.grow by 32M", &huge_table_grow(), &limits);
        println!("peak_rss_bytes={}", peak_rss_bytes());
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "bounds::peak_memory_stays_within_the_limits_plus_64_mib",
        ])
        .args(["--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak: u64 = stdout
        .lines()
        .find_map(|l| l.split_once("peak_rss_bytes=").map(|(_, v)| v))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in the child's output: {stdout}"));
    let configured = limits.max_memory_bytes
        + limits.max_host_call_bytes
        + limits.max_log_bytes
        + limits.max_shared_data_bytes
        + 2 * limits.max_host_state_bytes;
    let allowed = configured + (64 << 20);
    eprintln!("peak RSS {} MiB, allowed {} MiB", peak >> 20, allowed >> 20);
    assert!(peak <= allowed, "peak RSS {peak} bytes > {allowed}");
}
