//! `filterbench run` refuses what it cannot measure quickly and says why: a looping filter
//! once per arm (not in every phase and process), a worker that dies, a library that does not
//! load, an `--out` under a file; a user's module never passes for a catalogue filter; and a
//! run stopped by a signal leaves no temporary folder or worker behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use filterbench_results::Results;
use filterbench_results::vocab::Stage;

mod common;
use common::{filterbench, text};
#[path = "common/procs.rs"]
mod procs;
use procs::{alive, children};

const BASE: &str = include_str!("../../runners/tests/hostile/base.wat");

/// The base module with `body` as its request callback, written to `dir/name`.
fn module(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let bytes = wat::parse_str(BASE.replace("{{BODY}}", body)).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

const WASM_ARMS: [&str; 5] = [
    "wasmtime-cranelift",
    "wasmtime-winch",
    "wasmer-cranelift",
    "wasmer-singlepass",
    "wasmi",
];

#[test]
fn an_endless_loop_is_refused_once_per_arm_at_its_cpu_bound() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = module(dir.path(), "loop.wasm", "(loop $spin (br $spin))");
    let out = dir.path().join("results.json");
    let started = Instant::now();
    let o = filterbench(&[
        "run",
        "--wasm",
        wasm.to_str().unwrap(),
        "--no-envoy",
        "--quick",
        "--out",
        out.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    eprintln!("the looping module's run took {took:.1?}");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Each arm pays its CPU bound once, side by side. 15 s holds once every arm's bound is
    // about the 2 s deadline; fuel of 10 billion is 3-8 s of work per fuel-bound arm, over
    // 15 s in all on a busy machine.
    let fuel = filterbench_runners::engines::Limits::default().fuel_per_call;
    let limit = Duration::from_secs(if fuel <= 2_000_000_000 { 15 } else { 30 });
    assert!(took <= limit, "{took:?}: {}", text(&o));
    // Later processes do not try again: their steps come within a second or two of the
    // first process's last (the log's lines start with `[   16 s] step …`).
    let at = |process: u32| -> Vec<u64> {
        let tag = format!(": process {process}: ");
        text(&o)
            .lines()
            .filter(|l| l.contains(&tag))
            .filter_map(|l| {
                l.strip_prefix('[')?
                    .split_once(" s]")?
                    .0
                    .trim()
                    .parse()
                    .ok()
            })
            .collect()
    };
    let (first, third) = (at(1), at(3));
    assert!(!first.is_empty() && !third.is_empty(), "{}", text(&o));
    assert!(
        third.iter().max() <= first.iter().max().map(|s| s + 2).as_ref(),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("on_request_headers ran past the CPU bound ("),
        "{}",
        text(&o)
    );
    let r = Results::read(&out).unwrap();
    for arm in WASM_ARMS {
        let of_arm: Vec<_> = r.failures.iter().filter(|f| f.arm == arm).collect();
        assert_eq!(of_arm.len(), 1, "{arm}: {of_arm:#?}");
        let f = of_arm[0];
        assert_eq!(f.stage, Stage::Verify, "{arm}");
        assert!(
            f.message
                .starts_with("on_request_headers ran past the CPU bound (")
                && f.message.ends_with("); not measured"),
            "{arm}: {}",
            f.message
        );
    }
    assert!(
        r.failures
            .iter()
            .any(|f| f.arm == "wasmtime-cranelift" && f.message.contains("(2 s deadline)")),
        "{:#?}",
        r.failures
    );
    assert!(r.rows.is_empty(), "{:#?}", r.rows);
}

/// A native build of the base module whose request callback is `body` (C), or None without a
/// C compiler.
fn native_library(dir: &Path, body: &str) -> Option<PathBuf> {
    let src = dir.join("filter.c");
    let lib = dir.join("libfilter.so");
    std::fs::write(
        &src,
        format!(
            "#include <stdlib.h>
#include <unistd.h>
void proxy_abi_version_0_2_1(void) {{}}
unsigned filterbench_native_init(void *host) {{ (void)host; return 1; }}
void *proxy_on_memory_allocate(long n) {{ return malloc(n); }}
void proxy_on_context_create(long a, long b) {{ (void)a; (void)b; }}
int proxy_on_vm_start(long a, long b) {{ (void)a; (void)b; return 1; }}
int proxy_on_configure(long a, long b) {{ (void)a; (void)b; return 1; }}
int proxy_on_request_headers(long a, long b, long c) {{ (void)a; (void)b; (void)c; {body} return 0; }}
"
        ),
    )
    .unwrap();
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .ok()?;
    assert!(built.success(), "cc failed on the test library");
    Some(lib)
}

fn run_byo(wasm: &Path, native: &Path, out: &Path) -> std::process::Output {
    filterbench(&[
        "run",
        "--wasm",
        wasm.to_str().unwrap(),
        "--native",
        native.to_str().unwrap(),
        "--arms",
        "native",
        "--no-envoy",
        "--no-report",
        "--processes",
        "1",
        "--measure-ms",
        "20",
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn a_native_build_that_exits_is_named_as_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = module(dir.path(), "exits.wasm", "");
    let Some(lib) = native_library(dir.path(), "_exit(0);") else {
        eprintln!("skipped: no C compiler");
        return;
    };
    let o = run_byo(&wasm, &lib, &dir.path().join("results.json"));
    let e = text(&o);
    assert!(!o.status.success(), "{e}");
    assert!(
        e.contains("worker process 1 exited (exit status: 0, during `byo-exits: proof`) without its results"),
        "{e}"
    );
    assert!(e.contains("may have called exit()"), "{e}");
    assert!(!e.contains("os error 2"), "{e}");
}

#[test]
fn a_native_build_that_is_not_a_library_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = module(dir.path(), "plain.wasm", "");
    let lib = dir.path().join("libnot.so");
    std::fs::write(
        &lib,
        "not an ELF file, only text, long enough to have a header\n".repeat(4),
    )
    .unwrap();
    let out = dir.path().join("results.json");
    let o = run_byo(&wasm, &lib, &out);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let r = Results::read(&out).unwrap();
    let f = r
        .failures
        .iter()
        .find(|f| f.arm == "native" && f.stage == Stage::Load)
        .unwrap_or_else(|| panic!("{:#?}", r.failures));
    // dlerror's reason, once, about the file the user gave (not the private copy).
    assert_eq!(
        f.message.matches("invalid ELF header").count(),
        1,
        "{}",
        f.message
    );
    assert!(f.message.contains(lib.to_str().unwrap()), "{}", f.message);
    assert!(!f.message.contains("filterbench-native-"), "{}", f.message);
}

#[test]
fn an_out_under_a_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, "").unwrap();
    let out = file.join("sub/results.json");
    let o = filterbench(&["run", "--no-envoy", "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    let e = text(&o);
    assert!(e.contains(&format!("{} is a file", file.display())), "{e}");
    assert!(!e.contains("File exists"), "{e}");
}

#[test]
fn a_module_named_like_a_catalogue_filter_is_not_that_filter() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = module(dir.path(), "add-header.wasm", "");
    let out = dir.path().join("results.json");
    let o = filterbench(&[
        "run",
        "--wasm",
        wasm.to_str().unwrap(),
        "--arms",
        "wasmi",
        "--no-envoy",
        "--no-report",
        "--no-profile",
        "--processes",
        "1",
        "--measure-ms",
        "20",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let r = Results::read(&out).unwrap();
    let names: Vec<&str> = r.filters.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["byo-add-header"]);
    assert_eq!(r.filters[0].language, "unknown");
    assert!(r.rows.iter().all(|x| x.filter == "byo-add-header"));
}

#[test]
fn a_signal_removes_the_temporary_folder_and_the_worker() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let tmp = tempfile::tempdir().unwrap();
        // Apart from the temporary folders, which are all this test counts.
        let results = tempfile::tempdir().unwrap();
        let out = results.path().join("results.json");
        let mut run = Command::new(env!("CARGO_BIN_EXE_filterbench"))
            .args(["run", "--no-envoy", "--no-report", "--filters", "noop"])
            .args([
                "--arms",
                "native",
                "--processes",
                "3",
                "--measure-ms",
                "3000",
            ])
            .arg("--out")
            .arg(&out)
            // The run's temporary folder goes where this test can look.
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let worker = loop {
            if let Some(&w) = children(run.id()).first() {
                break w;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no worker");
            std::thread::sleep(Duration::from_millis(50));
        };
        // Inside the worker's measurement, well past its start.
        std::thread::sleep(Duration::from_millis(500));
        // SAFETY: a signal to the child this test started.
        assert_eq!(unsafe { libc::kill(run.id() as libc::pid_t, signal) }, 0);
        let status = run.wait().unwrap();
        let o = std::process::Output {
            status,
            stdout: Vec::new(),
            stderr: std::io::read_to_string(run.stderr.take().unwrap())
                .unwrap()
                .into_bytes(),
        };
        assert_eq!(status.code(), Some(code), "{}", text(&o));
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        let gone = Instant::now();
        while alive(worker) {
            assert!(
                gone.elapsed() < Duration::from_secs(10),
                "worker {worker} lives"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
