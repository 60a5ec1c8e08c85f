//! The network (L4) filter in live Envoy: our `.wasm` as a network filter in front of
//! `tcp_proxy`, against `tcp_proxy` alone, to a tokio echo server. A round trip (write the
//! scenario's downstream bytes, read them echoed back) is one "request".

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use filterbench_results::At;
use filterbench_results::vocab::{Metric, Phase, Stage, arm};

use super::process::Envoy;
use super::{EnvoySettings, at, http};
use crate::host::TcpEvent;
use crate::measure::scenario::{Scenario, Workload};
use crate::measure::{Progress, WorkerOutput, rotated};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// An echo server on a free loopback port, stopped on drop.
pub(crate) struct Echo {
    pub(crate) port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Echo {
    pub(crate) fn start() -> std::io::Result<Echo> {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.set_nonblocking(true)?;
        let port = l.local_addr()?.port();
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime().block_on(async move {
                let l = tokio::net::TcpListener::from_std(l).expect("listener");
                loop {
                    let conn = tokio::select! { c = l.accept() => c, _ = &mut rx => return };
                    let Ok((mut s, _)) = conn else { continue };
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 65536];
                        while let Ok(n) = s.read(&mut buf).await {
                            if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                }
            })
        });
        Ok(Echo {
            port,
            stop: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn bootstrap(wasm: Option<(&str, &Path, &str)>, upstream: u16) -> Value {
    let mut filters = Vec::new();
    if let Some((name, path, config)) = wasm {
        filters.push(json!({"name": "envoy.filters.network.wasm", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm",
            "config": {"name": name, "root_id": name, "fail_open": false,
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": config},
                "vm_config": {"vm_id": name, "runtime": "envoy.wasm.runtime.v8",
                              "code": {"local": {"filename": path.display().to_string()}}}}}}));
    }
    filters.push(
        json!({"name": "envoy.filters.network.tcp_proxy", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        "stat_prefix": "tcp", "cluster": "upstream"}}),
    );
    json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [{"name": "main",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                "filter_chains": [{"filters": filters}]}],
            "clusters": [{"name": "upstream", "type": "STATIC", "connect_timeout": "1s",
                "load_assignment": {"cluster_name": "upstream", "endpoints": [{"lb_endpoints": [{"endpoint": {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": upstream}}}}]}]}}]
        }
    })
}

/// What a TCP load run measured.
struct Trips {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    hist: Histogram<u64>,
    wall: Duration,
}

/// Round trips on `conns` connections for `d`; each echo must bring back exactly the bytes sent
/// (the first difference is named), within [`http::REQUEST_TIMEOUT`].
fn load(addr: SocketAddr, payload: &[u8], conns: u32, d: Duration) -> Trips {
    let payload = payload.to_vec();
    runtime().block_on(async move {
        let start = Instant::now();
        let end = start + d;
        let mut tasks = Vec::new();
        for _ in 0..conns.max(1) {
            let payload = payload.clone();
            tasks.push(tokio::spawn(async move {
                let mut h =
                    Histogram::<u64>::new_with_bounds(1, 100_000_000_000, 3).expect("bounds");
                let (mut ok, err) = (0u64, 0u64);
                let connect = tokio::net::TcpStream::connect(addr);
                let mut s = match tokio::time::timeout(http::REQUEST_TIMEOUT, connect).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return (0, 1, Some(format!("connect: {e}")), h),
                    Err(_) => return (0, 1, Some("connect timed out".into()), h),
                };
                let _ = s.set_nodelay(true);
                let mut back = vec![0u8; payload.len()];
                while Instant::now() < end {
                    let t = Instant::now();
                    let r = async {
                        s.write_all(&payload).await?;
                        s.read_exact(&mut back).await
                    };
                    let why = match tokio::time::timeout(http::REQUEST_TIMEOUT, r).await {
                        Ok(Ok(_)) if back == payload => {
                            h.saturating_record(t.elapsed().as_nanos().max(1) as u64);
                            ok += 1;
                            continue;
                        }
                        Ok(Ok(_)) => {
                            let at = back.iter().zip(&payload).position(|(a, b)| a != b);
                            format!("round trip {ok}: echoed bytes differ at offset {at:?}")
                        }
                        Ok(Err(e)) => format!("round trip {ok}: {e}"),
                        Err(_) => format!("round trip {ok}: no echo within the timeout"),
                    };
                    return (ok, err + 1, Some(why), h);
                }
                (ok, err, None, h)
            }));
        }
        let mut out = Trips {
            ok: 0,
            errors: 0,
            first_error: None,
            hist: Histogram::<u64>::new_with_bounds(1, 100_000_000_000, 3).expect("bounds"),
            wall: Duration::ZERO,
        };
        for t in tasks {
            match t.await {
                Ok((o, e, why, h)) => {
                    out.ok += o;
                    out.errors += e;
                    if out.first_error.is_none() {
                        out.first_error = why;
                    }
                    let _ = out.hist.add(&h);
                }
                Err(e) => {
                    out.errors += 1;
                    out.first_error.get_or_insert(format!("load task: {e}"));
                }
            }
        }
        out.wall = start.elapsed();
        out
    })
}

/// The TCP variants: no filter, and the `.wasm` on V8.
pub const VARIANTS: [&str; 2] = [arm::ENVOY_NONE, arm::ENVOY_WASM_V8];

/// Measures a TCP scenario through Envoy: tcp_proxy alone, and with our wasm network filter.
pub fn measure_scenario(
    s: &EnvoySettings,
    sc: &Scenario,
    process: u32,
    progress: &dyn Progress,
    out: &mut WorkerOutput,
) {
    let Workload::Tcp(conn) = &sc.workload else {
        return;
    };
    let fail_at = |arm: &str| at(sc, &sc.name, arm, Phase::Request, process);
    let (Some(wasm), Some(config)) = (sc.artifacts.wasm.as_ref(), sc.file.case_config(&sc.case))
    else {
        return;
    };
    let payload = payload(conn);
    let config = String::from_utf8_lossy(&config).into_owned();
    let Ok(echo) = Echo::start() else { return };
    let _ = std::fs::create_dir_all(&s.dir);
    let mut running: Vec<(&'static str, Envoy)> = Vec::new();
    let ours = Some((sc.filter.as_str(), wasm.as_path(), config.as_str()));
    for (arm, filter) in VARIANTS
        .into_iter()
        .zip([None, ours])
        .filter(|(arm, _)| s.selects(arm))
    {
        progress.step(&format!("envoy {} / {} / {arm}", sc.filter, sc.name));
        let name = format!("{}.{}.{arm}.p{process}", sc.filter, sc.name);
        match launch(s, filter, echo.port, &name)
            .and_then(|envoy| prove(envoy, &payload, filter.map(|_| config.as_str())))
        {
            Ok(envoy) => running.push((arm, envoy)),
            Err((stage, why)) => out.fail_at(&fail_at(arm), stage, why),
        }
    }
    let _pinned = super::process::PinnedHere::ours();
    let rounds = s.rounds.max(1);
    // Per variant: the round trips, and Envoy's worker CPU over them (or why it is unknown).
    let mut acc: Vec<(Trips, Result<u64, String>)> = running
        .iter()
        .map(|_| {
            let empty = Trips {
                ok: 0,
                errors: 0,
                first_error: None,
                hist: Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("bounds"),
                wall: Duration::ZERO,
            };
            (empty, Ok(0))
        })
        .collect();
    let order: Vec<usize> = (0..running.len()).collect();
    for round in 0..rounds {
        for i in rotated(&order, process + round) {
            let (_, envoy) = &running[i];
            let cpu0 = envoy.worker_cpu_ns();
            let t = load(envoy.listener, &payload, s.connections, s.duration / rounds);
            let cpu1 = envoy.worker_cpu_ns();
            let (a, cpu) = &mut acc[i];
            a.ok += t.ok;
            a.errors += t.errors;
            if a.first_error.is_none() {
                a.first_error = t.first_error;
            }
            let _ = a.hist.add(&t.hist);
            a.wall += t.wall;
            *cpu = match (&*cpu, cpu0, cpu1) {
                (Err(e), _, _) => Err(e.clone()),
                (Ok(c), Ok(x), Ok(y)) => Ok(c + (y - x)),
                (_, Err(e), _) | (_, _, Err(e)) => Err(e.to_string()),
            };
        }
    }
    for ((arm, envoy), (t, cpu)) in running.iter_mut().zip(acc) {
        let alive = envoy.check_alive().map_err(|e| e.to_string());
        if t.errors > 0 || t.ok == 0 || alive.is_err() {
            let why = alive.err().or(t.first_error).unwrap_or_default();
            out.fail_at(
                &fail_at(arm),
                Stage::Run,
                format!("{} failed round trips: {why}", t.errors),
            );
            continue;
        }
        super::latency_rows(out, sc, &sc.name, arm, process, &t.hist);
        let at = fail_at(arm);
        out.record(&at, Metric::Throughput, t.ok as f64 / t.wall.as_secs_f64());
        match cpu {
            Ok(c) => out.record(&at, Metric::CpuPerRequest, c as f64 / t.ok as f64),
            Err(e) => out.absent(
                &at,
                Metric::CpuPerRequest,
                format!("Envoy's worker CPU could not be read: {e}"),
            ),
        }
        let mem = At {
            scenario: String::new(),
            ..at.phase(Phase::Memory).threads(s.concurrency)
        };
        match envoy.rss_bytes() {
            Ok(rss) => out.record(&mem, Metric::EnvoyRssAfterLoadBytes, rss as f64),
            Err(e) => out.absent(&mem, Metric::EnvoyRssAfterLoadBytes, e.to_string()),
        }
    }
}

/// The bytes a scenario's client sends in one round trip.
pub(crate) fn payload(conn: &crate::host::TcpConnection) -> Vec<u8> {
    conn.events
        .iter()
        .filter_map(|e| match e {
            TcpEvent::Downstream { data, .. } => Some(data.clone()),
            TcpEvent::Upstream { .. } => None,
        })
        .flatten()
        .collect()
}

/// Our filter as the TCP wasm variant sees it: its name, `.wasm` and configuration.
pub(crate) type TcpFilter<'a> = (&'a str, &'a Path, &'a str);

/// Starts one TCP variant's Envoy (`filter` None: tcp_proxy alone) in front of the echo server.
pub(crate) fn launch(
    s: &EnvoySettings,
    filter: Option<TcpFilter>,
    echo_port: u16,
    name: &str,
) -> Result<Envoy, (Stage, String)> {
    spawn(s, filter, echo_port, name)?
        .ready()
        .map_err(|e| (Stage::Load, e.to_string()))
}

/// [`launch`] without waiting for Envoy to be ready.
pub(crate) fn spawn(
    s: &EnvoySettings,
    filter: Option<TcpFilter>,
    echo_port: u16,
    name: &str,
) -> Result<super::process::Pending, (Stage, String)> {
    let path = s.dir.join(format!("{name}.json"));
    let mut b = bootstrap(filter, echo_port);
    super::for_counting(s, &mut b);
    std::fs::write(&path, serde_json::to_string_pretty(&b).expect("json"))
        .map_err(|e| (Stage::Load, e.to_string()))?;
    Envoy::spawn(&s.bin, &path, s.concurrency, &s.dir, name, &s.under)
        .map_err(|e| (Stage::Load, e.to_string()))
}

/// Proof before load: one connection's bytes come back whole, and with our filter (its
/// configuration given) Envoy's stats show it counted them (its metrics are recorded at close).
pub(crate) fn prove(
    envoy: Envoy,
    payload: &[u8],
    config: Option<&str>,
) -> Result<Envoy, (Stage, String)> {
    let ok = load(envoy.listener, payload, 1, Duration::from_millis(50)).ok;
    // Under callgrind, Envoy takes its time to see the close and record the metric.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let counted =
            config.map(|c| envoy.stat(&format!("wasmcustom.{}downstream_bytes_total", prefix(c))));
        let proven = ok > 0
            && counted
                .as_ref()
                .is_none_or(|c| c.is_some_and(|c| c >= payload.len() as u64));
        if proven {
            return Ok(envoy);
        }
        if ok == 0 || Instant::now() > deadline {
            return Err((
                Stage::Verify,
                format!("echo ok {ok}, filter counted {:?} bytes", counted.flatten()),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One TCP connection driven round trip by round trip from synchronous code (the counted
/// windows under callgrind); each echo must bring back exactly the bytes sent.
pub(crate) struct Session(std::net::TcpStream);

impl Session {
    pub(crate) fn open(addr: SocketAddr) -> Result<Session, String> {
        let s = std::net::TcpStream::connect_timeout(&addr, http::REQUEST_TIMEOUT)
            .map_err(|e| format!("connect: {e}"))?;
        let _ = s.set_nodelay(true);
        s.set_read_timeout(Some(http::REQUEST_TIMEOUT))
            .and_then(|()| s.set_write_timeout(Some(http::REQUEST_TIMEOUT)))
            .map_err(|e| e.to_string())?;
        Ok(Session(s))
    }

    pub(crate) fn round_trip(&mut self, payload: &[u8]) -> Result<(), String> {
        use std::io::{Read, Write};
        let mut back = vec![0u8; payload.len()];
        self.0
            .write_all(payload)
            .and_then(|()| self.0.read_exact(&mut back))
            .map_err(|e| e.to_string())?;
        match back.iter().zip(payload).position(|(a, b)| a != b) {
            None => Ok(()),
            Some(at) => Err(format!("echoed bytes differ at offset {at}")),
        }
    }
}

/// The stat prefix tcp-bytes uses for its metrics (its `prefix` setting).
fn prefix(config: &str) -> String {
    serde_json::from_str::<Value>(config)
        .ok()
        .and_then(|v| v["prefix"].as_str().map(str::to_string))
        .unwrap_or_else(|| "tcp_bytes_".into())
}
