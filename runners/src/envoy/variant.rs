//! One variant's Envoy: what the filter brings to it, its bootstrap written and Envoy started
//! (at once or spawned and waited for later), then its output proven over HTTP against the
//! in-process native arm before anything is timed or counted.

use filterbench_results::vocab::{Metric, Stage};

use super::EnvoySettings;
use super::byo::{self, CallCount, Calls};
use super::config::{self, Check, Variant};
use super::expect::Expect;
use super::http::{self, RequestTemplate, Upstream};
use super::process::{self, Envoy};
use super::protocol::{self as proto, Leg, Protocol};
use super::verify::{self, check};
use crate::measure::WorkerOutput;
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
    /// The outbound calls each window must see answered (a brought module that calls out).
    pub calls: Option<CallCount>,
}

/// How every variant of one HTTP scenario is started and proven, by each path that times or
/// watches them alike: a brought module's call clusters served and its calls proven, and the
/// variants that cannot run it left out.
pub(crate) struct Starter<'a> {
    s: &'a EnvoySettings,
    sc: &'a Scenario,
    upstream: &'a Upstream,
    req: &'a RequestTemplate,
    want: &'a verify::Reference,
    /// The reference over h2c where its body shape differs from HTTP/1.1's (see
    /// [`verify::reference_over`]).
    want_h2c: std::cell::OnceCell<Option<Result<verify::Reference, String>>>,
    calls: Option<Calls>,
}

impl<'a> Starter<'a> {
    /// Err: the clusters a brought module calls cannot be served (no variant can start).
    pub(crate) fn new(
        s: &'a EnvoySettings,
        sc: &'a Scenario,
        (upstream, req): (&'a Upstream, &'a RequestTemplate),
        want: &'a verify::Reference,
    ) -> Result<Starter<'a>, String> {
        let calls = Calls::start(sc, &want.0)?;
        Ok(Starter {
            s,
            sc,
            upstream,
            req,
            want,
            want_h2c: Default::default(),
            calls,
        })
    }

    /// The selected variants that can run the filter, of those `config` gives; each selected
    /// one that cannot run a brought module is recorded absent (`metric`), with why, under each
    /// protocol leg's scenario name.
    pub(crate) fn variants(
        &self,
        (builds, config): (&config::Builds, &str),
        (metric, scenarios): (Metric, &[String]),
        process: u32,
        out: &mut WorkerOutput,
    ) -> Vec<Variant> {
        byo::absent(
            self.s,
            (self.sc, scenarios),
            &self.want.0,
            (metric, process),
            out,
        );
        config::variants(&self.sc.filter, builds, config)
            .into_iter()
            .filter(|v| self.s.selects(v.name) && self.runs(v.name))
            .collect()
    }

    /// Whether the variant `name` can run the filter (the native module's host answers no
    /// outbound calls).
    pub(crate) fn runs(&self, name: &str) -> bool {
        byo::runs(self.sc, &self.want.0, name)
    }

    /// Starts one variant's Envoy (config and log under `s.dir` as `name`, with the clusters
    /// the filter calls) and proves its output over HTTP against the in-process reference arm,
    /// and a brought module's outbound call against the reference's; on failure, the stage and
    /// why.
    pub(crate) fn start(&self, variant: &Variant, name: &str) -> Result<Verified, (Stage, String)> {
        self.start_over(variant, name, (self.upstream, Protocol::Http1))
    }

    /// [`Starter::start`] on one protocol's leg: Envoy's upstream cluster speaking `protocol`
    /// to `upstream` (which speaks it too), and the proof sent over it.
    pub(crate) fn start_on(
        &self,
        variant: &Variant,
        name: &str,
        leg: &Leg,
    ) -> Result<Verified, (Stage, String)> {
        self.start_over(variant, name, (&leg.upstream, leg.protocol))
    }

    fn start_over(
        &self,
        variant: &Variant,
        name: &str,
        (upstream, protocol): (&Upstream, Protocol),
    ) -> Result<Verified, (Stage, String)> {
        let clusters = self
            .calls
            .as_ref()
            .map(|c| c.clusters())
            .unwrap_or_default();
        let spawned = spawn_over(self.s, variant, (upstream.port, protocol), &clusters, name)?;
        let envoy = ready(spawned, variant)?;
        // Only the module's variants make its calls (V8; the native module runs no module that
        // calls out, envoy-none no filter).
        let calls = self
            .calls
            .as_ref()
            .filter(|_| variant.check == Check::Exact);
        let recording = calls.map(|c| c.record());
        // Computed when an h2c leg first starts: an HTTP/1.1-only run pays nothing for it.
        let h2c = || verify::reference_over(self.sc, Protocol::H2c);
        let want_h2c = match protocol {
            Protocol::H2c => self.want_h2c.get_or_init(h2c),
            _ => &None,
        };
        let want = match (protocol, want_h2c) {
            (Protocol::H2c, Some(Ok(w))) => w,
            (Protocol::H2c, Some(Err(e))) => {
                return Err((Stage::Verify, format!("no reference over h2c: {e}")));
            }
            _ => self.want,
        };
        let (sc, req) = (self.sc, self.req);
        let mut v = prove_over(protocol, envoy, sc, variant, upstream, req, want)?;
        if let (Some(c), Some(r)) = (calls, recording) {
            r.check(&want.0).map_err(|e| (Stage::Verify, e))?;
            v.calls = Some(c.count());
        }
        Ok(v)
    }
}

/// One variant's Envoy over HTTP/1.1 with the clusters the filter calls out to, not waited
/// for (callgrind starts them all at once).
pub(crate) fn spawn(
    s: &EnvoySettings,
    variant: &Variant,
    upstream_port: u16,
    clusters: &[(String, u16)],
    name: &str,
) -> Result<process::Pending, (Stage, String)> {
    spawn_over(s, variant, (upstream_port, Protocol::Http1), clusters, name)
}

/// [`spawn`] with the upstream cluster speaking `protocol` and the clusters the filter calls
/// out to, (name, local port) each.
fn spawn_over(
    s: &EnvoySettings,
    variant: &Variant,
    (upstream_port, protocol): (u16, Protocol),
    clusters: &[(String, u16)],
    name: &str,
) -> Result<process::Pending, (Stage, String)> {
    let path = s.dir.join(format!("{name}.json"));
    let mut bootstrap = config::bootstrap(variant, upstream_port);
    config::add_clusters(&mut bootstrap, clusters);
    proto::for_protocol(&mut bootstrap, protocol);
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
    prove_over(Protocol::Http1, envoy, sc, variant, upstream, req, want)
}

/// [`prove`] with the request sent over `protocol`.
pub(crate) fn prove_over(
    protocol: Protocol,
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
    let seen = http::one_shot_with(protocol, envoy.listener, req);
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
            // HTTP/1.1's message as it always was.
            match protocol {
                Protocol::Http1 => format!("differs from the in-process {reference} arm: {e}"),
                p => format!(
                    "over {}: differs from the in-process {reference} arm: {e}",
                    p.label()
                ),
            },
        )
    })?;
    Ok(Verified {
        envoy,
        expect: Expect::derive(variant, ex, &want.0, &want.1),
        seen: seen.map_err(|e| (Stage::Verify, e))?,
        calls: None,
    })
}
