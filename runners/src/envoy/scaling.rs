//! Envoy's memory per worker (RSS over `--concurrency` values) and the wrk cross-check of our
//! load generator's throughput.

use std::time::Duration;

use super::expect::Expect;
use super::http::{self, RequestTemplate, Upstream};
use filterbench_results::vocab::{Metric, Phase, Stage, arm};

use super::{Envoy, EnvoySettings, at, builds, config};
use crate::measure::WorkerOutput;
use crate::measure::scenario::{Scenario, Workload};

/// Requests/s that `wrk` reaches on the same target, if wrk is installed.
pub(super) fn wrk(
    addr: std::net::SocketAddr,
    req: &RequestTemplate,
    connections: u32,
    d: Duration,
) -> Option<f64> {
    let mut cmd = std::process::Command::new("wrk");
    // wrk takes whole seconds.
    let secs = d.as_secs_f64().round().max(1.0) as u64;
    cmd.args([
        "-t1",
        "-c",
        &connections.to_string(),
        "-d",
        &format!("{secs}s"),
    ]);
    for (k, v) in &req.headers {
        cmd.arg("-H").arg(format!(
            "{}: {}",
            String::from_utf8_lossy(k),
            String::from_utf8_lossy(v)
        ));
    }
    cmd.arg(format!("http://{addr}{}", req.path));
    let out = cmd.stderr(std::process::Stdio::null()).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Envoy RSS over `--concurrency` values for envoy-none and envoy-wasm-v8: the slope is the
/// memory each worker (and its VM) adds.
pub fn measure_scaling(s: &EnvoySettings, sc: &Scenario, process: u32, out: &mut WorkerOutput) {
    let Workload::Http(ex) = &sc.workload else {
        return;
    };
    let ((Some(builds), _), Some(config)) = (builds(s, sc), sc.file.case_config(&sc.case)) else {
        return;
    };
    let Ok(upstream) = Upstream::start(&ex.response) else {
        return;
    };
    // A brought module's calls need their clusters (ours make none); a reference that cannot
    // be had is already a failure of the scenario's closed loop.
    let want = if sc.byo {
        match super::native_reference(sc) {
            Ok(w) => Some(w.0),
            Err(_) => return,
        }
    } else {
        None
    };
    let calls = match want.as_ref().map(|w| super::byo::Calls::start(sc, w)) {
        Some(Err(_)) => return,
        Some(Ok(c)) => c,
        None => None,
    };
    // A brought module may answer the request itself.
    let status = match want.as_ref().and_then(|w| w.local_reply.as_ref()) {
        Some(r) => r.status as u16,
        None => http::status_of(&ex.response.headers),
    };
    let clusters = calls.as_ref().map(|c| c.clusters()).unwrap_or_default();
    let req = RequestTemplate::from_message(&ex.request);
    let config_text = String::from_utf8_lossy(&config).into_owned();
    for variant in config::variants(&sc.filter, &builds, &config_text)
        .into_iter()
        .filter(|v| [arm::ENVOY_NONE, config::NATIVE_MODULE, arm::ENVOY_WASM_V8].contains(&v.name))
        .filter(|v| {
            want.as_ref()
                .is_none_or(|w| super::byo::runs(sc, w, v.name))
        })
    {
        let mem = |threads| at(sc, "", variant.name, Phase::Memory, process).threads(threads);
        let mut points = Vec::new();
        for &c in &s.scaling {
            let name = format!("{}.scaling.{}.c{c}.p{process}", sc.filter, variant.name);
            let path = s.dir.join(format!("{name}.json"));
            let mut bootstrap = config::bootstrap(&variant, upstream.port);
            config::add_clusters(&mut bootstrap, &clusters);
            let body = serde_json::to_string_pretty(&bootstrap).expect("json");
            if std::fs::write(&path, body).is_err() {
                continue;
            }
            match Envoy::start(&s.bin, &path, c, &s.dir, &name) {
                Ok(envoy) => {
                    // Enough connections that every worker serves requests (VMs are per worker);
                    // a variant that served nothing gives no memory point.
                    let warm = http::load(
                        envoy.listener,
                        &req,
                        &Expect::status(status),
                        c * 4,
                        Duration::from_millis(100),
                        None,
                    );
                    if warm.completed == 0 || warm.errors > 0 {
                        out.fail_at(
                            &mem(c),
                            Stage::Scaling,
                            format!(
                                "{} failed requests: {}",
                                warm.errors,
                                warm.first_error.unwrap_or_default()
                            ),
                        );
                        continue;
                    }
                    if variant.name == arm::ENVOY_WASM_V8
                        && let Err(e) = super::v8_vms(&envoy, c, &mem(c), out)
                    {
                        out.fail_at(&mem(c), Stage::Scaling, e);
                        continue;
                    }
                    match envoy.rss_bytes() {
                        Ok(rss) => {
                            points.push((c as f64, rss as f64));
                            out.record(&mem(c), Metric::EnvoyRssBytes, rss as f64);
                        }
                        Err(e) => out.absent(&mem(c), Metric::EnvoyRssBytes, e.to_string()),
                    }
                }
                Err(e) => out.fail_at(&mem(c), Stage::Scaling, e.to_string()),
            }
        }
        if let Some(slope) = filterbench_results::stats::slope(&points) {
            out.record(&mem(1), Metric::RssPerWorkerBytes, slope);
        }
    }
}
