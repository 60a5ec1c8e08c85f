//! One variant's Envoy: what the filter brings to it, its bootstrap written and Envoy started
//! (at once or spawned and waited for later), then its output proven over HTTP against the
//! in-process native arm before anything is timed or counted.

use filterbench_results::vocab::Stage;

use super::EnvoySettings;
use super::config::{self, Variant};
use super::expect::Expect;
use super::http::{self, RequestTemplate, Upstream};
use super::process::{self, Envoy};
use super::verify::{self, check};
use crate::measure::scenario::{Scenario, Workload};

/// What the scenario's filter brings to Envoy; a reason when the native-module arm cannot run
/// although the filter has a native build (an Envoy of another dynamic-modules ABI).
pub(crate) fn builds(s: &EnvoySettings, sc: &Scenario) -> (Option<config::Builds>, Option<String>) {
    let Some(wasm) = sc.artifacts.wasm.clone() else {
        return (None, None);
    };
    let (module, why) = match (&sc.artifacts.native, config::dynamic_module(&s.version)) {
        (None, _) => (None, None),
        (Some(lib), Ok(m)) => (Some((m, lib.clone())), None),
        (Some(_), Err(e)) => (None, Some(e)),
    };
    (Some(config::Builds { wasm, module }), why)
}

/// A variant's Envoy whose output was proven, with what each of its responses must show and
/// the response that proved it.
pub(crate) struct Verified {
    pub envoy: Envoy,
    pub expect: Expect,
    pub seen: http::Seen,
}

/// Starts one variant's Envoy (config and log under `s.dir` as `name`) and proves its output
/// over HTTP against the in-process native arm; on failure, the stage and why.
pub(crate) fn start_verified(
    s: &EnvoySettings,
    sc: &Scenario,
    variant: &Variant,
    upstream: &Upstream,
    req: &RequestTemplate,
    want: &verify::Reference,
    name: &str,
) -> Result<Verified, (Stage, String)> {
    let envoy = launch(s, variant, upstream.port, name)?;
    prove(envoy, sc, variant, upstream, req, want)
}

/// Starts one variant's Envoy (config and log under `s.dir` as `name`), not yet proven.
pub(crate) fn launch(
    s: &EnvoySettings,
    variant: &Variant,
    upstream_port: u16,
    name: &str,
) -> Result<Envoy, (Stage, String)> {
    launch_calling(s, variant, upstream_port, &[], name)
}

/// [`launch`] with the clusters the filter calls out to, (name, local port) each.
pub(crate) fn launch_calling(
    s: &EnvoySettings,
    variant: &Variant,
    upstream_port: u16,
    clusters: &[(String, u16)],
    name: &str,
) -> Result<Envoy, (Stage, String)> {
    ready(
        spawn_calling(s, variant, upstream_port, clusters, name)?,
        variant,
    )
}

/// [`launch`] without waiting for Envoy to be ready.
pub(crate) fn spawn(
    s: &EnvoySettings,
    variant: &Variant,
    upstream_port: u16,
    name: &str,
) -> Result<process::Pending, (Stage, String)> {
    spawn_calling(s, variant, upstream_port, &[], name)
}

/// [`spawn`] with the clusters the filter calls out to.
fn spawn_calling(
    s: &EnvoySettings,
    variant: &Variant,
    upstream_port: u16,
    clusters: &[(String, u16)],
    name: &str,
) -> Result<process::Pending, (Stage, String)> {
    let path = s.dir.join(format!("{name}.json"));
    let mut bootstrap = config::bootstrap(variant, upstream_port);
    config::add_clusters(&mut bootstrap, clusters);
    for_counting(s, &mut bootstrap);
    let body = serde_json::to_string_pretty(&bootstrap).expect("json");
    std::fs::write(&path, body).map_err(|e| (Stage::Load, e.to_string()))?;
    Envoy::spawn(&s.bin, &path, s.concurrency, &s.dir, name, &s.under)
        .map_err(|e| (Stage::Load, e.to_string()))
}

/// Waits for a spawned variant's Envoy, then checks its log.
pub(crate) fn ready(p: process::Pending, variant: &Variant) -> Result<Envoy, (Stage, String)> {
    let envoy = p.ready().map_err(|e| (Stage::Load, e.to_string()))?;
    if let Some(log_check) = variant.log_check {
        log_check(&std::fs::read_to_string(&envoy.log).unwrap_or_default())
            .map_err(|e| (Stage::Load, e))?;
    }
    Ok(envoy)
}

/// An Envoy run under another program (callgrind) has its windows counted: the main thread's
/// periodic stats flush would land in some windows and not in others, so stats are flushed only
/// when the admin API asks.
pub(crate) fn for_counting(s: &EnvoySettings, bootstrap: &mut serde_json::Value) {
    if !s.under.program.is_empty() {
        bootstrap["stats_flush_on_admin"] = true.into();
    }
}

/// Proves a started variant's output over HTTP against the in-process native arm (one
/// request; the upstream records what reached it).
pub(crate) fn prove(
    envoy: Envoy,
    sc: &Scenario,
    variant: &Variant,
    upstream: &Upstream,
    req: &RequestTemplate,
    want: &verify::Reference,
) -> Result<Verified, (Stage, String)> {
    let Workload::Http(ex) = &sc.workload else {
        return Err((Stage::Verify, "not an HTTP scenario".into()));
    };
    upstream
        .record
        .store(true, std::sync::atomic::Ordering::Relaxed);
    *upstream.last.lock().unwrap() = None;
    let seen = http::one_shot(envoy.listener, req);
    let verdict = seen.clone().and_then(|seen| {
        let up = upstream.last.lock().unwrap().clone();
        check(variant, sc, want, &seen, up.as_ref())
    });
    upstream
        .record
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let reference = verify::reference_arm(sc).unwrap_or("reference");
    verdict.map_err(|e| {
        (
            Stage::Verify,
            format!("differs from the in-process {reference} arm: {e}"),
        )
    })?;
    Ok(Verified {
        envoy,
        expect: Expect::derive(variant, ex, &want.0, &want.1),
        seen: seen.map_err(|e| (Stage::Verify, e))?,
    })
}
