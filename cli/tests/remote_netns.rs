//! `load --target` across a network-namespace pair: our upstream and two Envoys (add-header
//! on V8, and no filter) in namespace A, our generator in namespace B, joined by a veth pair,
//! so the remote path is exercised for real and never through loopback. Over HTTP/1.1 and
//! over h2c (generator to Envoy and Envoy to upstream). Each test makes its own namespaces and
//! removes them, and every process it started, on every exit path (Drop guards); skipped, with
//! why, where namespaces cannot be made (not root) or when Envoy is to be skipped.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use filterbench_results::Results;
use filterbench_results::vocab::{Metric, arm};

mod common;
use common::text;

fn ip(args: &[&str]) -> Result<(), String> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// Two namespaces joined by a veth pair (A: `.1/30`, B: `.2/30`); deleted on drop.
struct Pair {
    a: String,
    b: String,
    veth: String,
    made: Vec<String>,
    prefix: String,
}

impl Pair {
    fn create(tag: &str) -> Result<Pair, String> {
        let id = format!("{tag}{:x}", std::process::id());
        let mut p = Pair {
            a: format!("fb{id}a"),
            b: format!("fb{id}b"),
            veth: format!("fbv{id}"),
            made: Vec::new(),
            prefix: format!("10.213.{}", std::process::id() % 250),
        };
        for ns in [p.a.clone(), p.b.clone()] {
            ip(&["netns", "add", &ns])?;
            p.made.push(ns);
        }
        let (va, vb) = (format!("{}a", p.veth), format!("{}b", p.veth));
        ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
        ip(&["link", "set", &va, "netns", &p.a])?;
        ip(&["link", "set", &vb, "netns", &p.b])?;
        for (ns, dev, host) in [(&p.a, &va, 1), (&p.b, &vb, 2)] {
            let addr = format!("{}.{host}/30", p.prefix);
            ip(&["-n", ns, "addr", "add", &addr, "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(p)
    }

    fn addr_a(&self) -> String {
        format!("{}.1", self.prefix)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and with it its peer.
        let _ = ip(&["link", "del", &format!("{}a", self.veth)]);
        for ns in &self.made {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// `filterbench __serve` in namespace A; stopped on drop (stdin closed, then killed).
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the variants in A; their listeners by variant name.
fn serve(pair: &Pair, dir: &Path, http2: bool) -> (Serving, Vec<(String, String)>) {
    let log = std::fs::File::create(dir.join("serve.stderr")).unwrap();
    let bin = env!("CARGO_BIN_EXE_filterbench");
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        &pair.a,
        bin,
        "__serve",
        "--filter",
        "add-header",
    ])
    .args(["--listen", &pair.addr_a()])
    .arg("--dir")
    .arg(dir.join("envoy"));
    if http2 {
        cmd.arg("--http2");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("ip netns exec");
    let stdout = child.stdout.take().unwrap();
    let serving = Serving(child);
    let mut listeners = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line == "ready" {
            return (serving, listeners);
        }
        if let Some((name, addr)) = line.split_once(' ') {
            listeners.push((name.to_string(), addr.to_string()));
        }
    }
    let mut why = String::new();
    let _ = std::fs::File::open(dir.join("serve.stderr")).map(|mut f| f.read_to_string(&mut why));
    panic!("__serve ended before it was ready: {why}");
}

/// `filterbench load <args>` in namespace B.
fn load(pair: &Pair, args: &[&str]) -> Output {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            &pair.b,
            env!("CARGO_BIN_EXE_filterbench"),
            "load",
        ])
        .args(args)
        .output()
        .expect("ip netns exec")
}

fn setup(tag: &str) -> Option<Pair> {
    if std::env::var("FILTERBENCH_SKIP_ENVOY").as_deref() == Ok("1") {
        eprintln!("FILTERBENCH_SKIP_ENVOY=1: no Envoy to load across namespaces");
        return None;
    }
    match Pair::create(tag) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("skipped: cannot make a network-namespace pair here ({e}); needs root");
            None
        }
    }
}

/// V8 (target A) against no filter (target B), both in namespace A, from namespace B: every
/// response verified (A: add-header's header), both measured, rounds interleaved.
fn across(tag: &str, http2: bool) {
    let Some(pair) = setup(tag) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_serving, listeners) = serve(&pair, dir.path(), http2);
    let url = |variant: &str| {
        let (_, addr) = listeners.iter().find(|(n, _)| n == variant).unwrap();
        let port = addr.rsplit_once(':').unwrap().1;
        format!("http://{}:{port}", pair.addr_a())
    };
    let (v8, none) = (url(arm::ENVOY_WASM_V8), url(arm::ENVOY_NONE));
    let out = dir.path().join("load.json");
    let mut args = vec![
        "--target",
        &v8,
        "--target-b",
        &none,
        "--arm-a",
        arm::ENVOY_WASM_V8,
        "--arm-b",
        arm::ENVOY_NONE,
        "--filter",
        "add-header",
        "--duration-ms",
        "400",
        "--warmup-ms",
        "50",
        "--rounds",
        "4",
        "--no-report",
        "--out",
        out.to_str().unwrap(),
    ];
    if http2 {
        args.push("--http2");
    }
    let o = load(&pair, &args);
    let said = text(&o);
    eprintln!("{said}");
    assert!(o.status.success(), "{said}");
    assert_eq!(said.matches("every response verified").count(), 2, "{said}");
    let r = Results::read(&out).unwrap();
    assert!(r.complete && r.failures.is_empty(), "{:?}", r.failures);
    for variant in [arm::ENVOY_WASM_V8, arm::ENVOY_NONE] {
        let rps: Vec<f64> = r
            .rows
            .iter()
            .filter(|x| x.arm == variant && x.metric == Metric::Throughput)
            .inspect(|x| assert_eq!(x.scenario.ends_with("+h2c"), http2, "{}", x.scenario))
            .map(|x| x.value)
            .collect();
        assert!(rps.len() == 1 && rps[0] > 0.0, "{variant}: {rps:?}");
        let verified: u64 = r
            .histograms
            .iter()
            .filter(|h| h.arm == variant)
            .map(|h| h.count)
            .sum();
        assert!(verified > 0, "{variant}");
    }
    // The same results file and report as `run`'s: the summary shows both variants.
    let o = common::filterbench(&["summary", "--verbose", out.to_str().unwrap()]);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(
        said.contains(arm::ENVOY_WASM_V8) && said.contains(arm::ENVOY_NONE),
        "{said}"
    );
    // The check is real: a header the filter does not add fails target A, which is not timed.
    let o = load(
        &pair,
        &[
            "--target",
            &v8,
            "--filter",
            "add-header",
            "--expect-header",
            "x-not-added=1",
            "--duration-ms",
            "100",
            "--warmup-ms",
            "0",
            "--rounds",
            "1",
            "--no-report",
            "--out",
            dir.path().join("bad.json").to_str().unwrap(),
        ],
    );
    let said = text(&o);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(said.contains("x-not-added"), "{said}");
    let r = Results::read(&dir.path().join("bad.json")).unwrap();
    assert!(
        r.rows.iter().all(|x| x.arm != arm::REMOTE_A),
        "{:?}",
        r.rows
    );
}

#[test]
fn load_across_namespaces_over_http1() {
    across("h", false);
}

#[test]
fn load_across_namespaces_over_h2c() {
    across("2", true);
}
