//! Live Envoy under steady closed-loop load while something watches its process — a sampling
//! profiler attached to its pid. Each variant is proven against the native arm first, and a
//! sample taken while requests failed is refused.

use std::time::Duration;

use super::byo::CallCount;
use super::http::{self, RequestTemplate, Upstream};
use super::verify::native_reference;
use super::{EnvoySettings, Starter, config};
use crate::measure::scenario::{Scenario, Workload};

/// Each variant's name and what watching it gave (or why it could not be watched).
pub type Watched<R> = Vec<(String, Result<R, String>)>;

/// Runs `during(variant, envoy pid, d)` for each named variant while Envoy serves the scenario's
/// request on `s.connections` connections; returns each variant's outcome.
pub fn under_load<R>(
    s: &EnvoySettings,
    sc: &Scenario,
    variants: &[&str],
    d: Duration,
    during: impl Fn(&str, u32, Duration) -> Result<R, String>,
) -> Result<Watched<R>, String> {
    let Workload::Http(ex) = &sc.workload else {
        return Err(format!(
            "{} / {} is not an HTTP scenario",
            sc.filter, sc.name
        ));
    };
    let ((Some(builds), _), Some(cfg)) = (super::builds(s, sc), sc.file.case_config(&sc.case))
    else {
        return Err(format!("{} has no .wasm or configuration", sc.filter));
    };
    let want = native_reference(sc).map_err(|e| format!("no native reference: {e}"))?;
    let upstream = Upstream::start(&ex.response).map_err(|e| format!("upstream: {e}"))?;
    let req = RequestTemplate::from_message(&ex.request);
    // As the timed runs: a brought module's clusters served and its calls proven and counted.
    let starter = Starter::new(s, sc, (&upstream, &req), &want)?;
    std::fs::create_dir_all(&s.dir).map_err(|e| format!("{}: {e}", s.dir.display()))?;
    let mut out = Vec::new();
    let cfg = String::from_utf8_lossy(&cfg).into_owned();
    for variant in config::variants(&sc.filter, &builds, &cfg)
        .into_iter()
        .filter(|v| variants.contains(&v.name))
    {
        let name = format!("{}.{}.{}.sampled", sc.filter, sc.name, variant.name);
        let result = (|| {
            let _pinned = super::process::PinnedHere::ours();
            if !starter.runs(variant.name) {
                return Err(format!(
                    "{} does not run this module (it calls out)",
                    variant.name
                ));
            }
            let v = starter.start(&variant, &name).map_err(|(_, e)| e)?;
            let (mut envoy, expect, calls) = (v.envoy, v.expect, v.calls);
            http::load(envoy.listener, &req, &expect, s.connections, s.warmup, None);
            let listener = envoy.listener;
            let (res, watched) = std::thread::scope(|scope| {
                // Load starts first and outlasts the watcher on both ends.
                let load = scope.spawn(|| {
                    CallCount::window(calls.as_ref(), &envoy, || {
                        upstream.checking(&expect, || {
                            http::load(
                                listener,
                                &req,
                                &expect,
                                s.connections,
                                d + Duration::from_millis(400),
                                None,
                            )
                        })
                    })
                });
                std::thread::sleep(Duration::from_millis(150));
                let watched = during(variant.name, envoy.pid, d);
                (load.join().expect("load thread"), watched)
            });
            envoy.check_alive().map_err(|e| e.to_string())?;
            if res.errors > 0 || res.completed == 0 {
                return Err(format!(
                    "{} failed requests under load: {}",
                    res.errors,
                    res.first_error.unwrap_or_default()
                ));
            }
            watched
        })();
        out.push((variant.name.to_string(), result));
    }
    Ok(out)
}
