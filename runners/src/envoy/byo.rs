//! A brought module (`run --wasm`, `--source`) in live Envoy: the variants that cannot run it,
//! each said with why, and the clusters its outbound calls (`proxy_http_call`) need, served by
//! a local upstream that answers as the in-process host's upstream does — so Envoy's outcome
//! can equal the in-process one.

use filterbench_results::vocab::{Metric, Phase, arm};

use super::config;
use super::http::Upstream;
use super::{EnvoySettings, at};
use crate::host::HttpOutcome;
use crate::host::vm::Message;
use crate::measure::WorkerOutput;
use crate::measure::scenario::Scenario;

/// The clusters one request of the filter calls out to, each an Envoy cluster on one local
/// upstream answering every call with the in-process host's answer.
pub(crate) struct Calls {
    upstream: Upstream,
    clusters: Vec<String>,
}

impl Calls {
    /// For the calls of the reference outcome `want` (None when it makes none).
    pub(crate) fn start(sc: &Scenario, want: &HttpOutcome) -> Result<Option<Calls>, String> {
        let mut clusters: Vec<String> = want
            .calls
            .iter()
            .map(|c| String::from_utf8_lossy(&c.upstream).into_owned())
            .collect();
        clusters.sort();
        clusters.dedup();
        if clusters.is_empty() {
            return Ok(None);
        }
        // Envoy routes the request itself there: a call to it would get the request's answer.
        if clusters.iter().any(|c| c == config::UPSTREAM_CLUSTER) {
            return Err(format!(
                "the module calls cluster `{}`, the name of the suite's own upstream in Envoy",
                config::UPSTREAM_CLUSTER
            ));
        }
        let answer = sc.host().upstream.response;
        let message = Message {
            headers: answer.headers,
            body: answer.body,
            chunk_size: 0,
        };
        let upstream =
            Upstream::start(&message).map_err(|e| format!("the upstream of its calls: {e}"))?;
        Ok(Some(Calls { upstream, clusters }))
    }

    /// The clusters the module calls, each with the port answering it.
    pub(crate) fn clusters(&self) -> Vec<(String, u16)> {
        self.clusters
            .iter()
            .map(|c| (c.clone(), self.upstream.port))
            .collect()
    }

    /// Records the next call that reaches the upstream (before a variant's proof).
    pub(crate) fn record(&self) {
        *self.upstream.last.lock().unwrap() = None;
        self.upstream
            .record
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// After a variant's proof: its last call reached the upstream as the in-process reference's
    /// did (method, path, body). Stops recording.
    pub(crate) fn check(&self, want: &HttpOutcome) -> Result<(), String> {
        self.upstream
            .record
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let (Some(got), Some(call)) =
            (self.upstream.last.lock().unwrap().take(), want.calls.last())
        else {
            return Err("the module's outbound call never reached its cluster".into());
        };
        let get = |h: &crate::host::HeaderMap, k: &[u8]| {
            h.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        for k in [&b":method"[..], b":path"] {
            let (g, w) = (get(&got.headers, k), get(&call.headers, k));
            if g != w {
                return Err(format!(
                    "outbound call {} {g:?} where the in-process call has {w:?}",
                    String::from_utf8_lossy(k)
                ));
            }
        }
        if got.body != call.body {
            return Err(format!(
                "outbound call body of {} B where the in-process call's has {} B",
                got.body.len(),
                call.body.len()
            ));
        }
        Ok(())
    }
}

/// Whether `variant` can run the brought filter of `sc` whose reference outcome is `want`: the
/// native module's host answers no outbound calls.
pub(crate) fn runs(sc: &Scenario, want: &HttpOutcome, variant: &str) -> bool {
    !(sc.byo && variant == config::NATIVE_MODULE && !want.calls.is_empty())
}

/// Records, for a brought filter, each selected Envoy variant that does not run it, with why.
pub(crate) fn absent(
    s: &EnvoySettings,
    sc: &Scenario,
    want: &HttpOutcome,
    process: u32,
    out: &mut WorkerOutput,
) {
    if !sc.byo {
        return;
    }
    let reference = super::verify::reference_arm(sc).unwrap_or("reference");
    let mut why = vec![
        (
            arm::ENVOY_BUILTIN,
            "Envoy has no built-in filter known to do a brought module's job".to_string(),
        ),
        (
            arm::ENVOY_LUA,
            "no Lua script is known to do a brought module's job".to_string(),
        ),
    ];
    if sc.artifacts.native.is_none() {
        why.push((
            config::NATIVE_MODULE,
            format!(
                "the module has no native build (give --native, or a --source language with one); \
                 Envoy's outcomes were proven against the in-process {reference} arm instead"
            ),
        ));
    } else if !runs(sc, want, config::NATIVE_MODULE) {
        let clusters: Vec<String> = want
            .calls
            .iter()
            .map(|c| String::from_utf8_lossy(&c.upstream).into_owned())
            .collect();
        why.push((
            config::NATIVE_MODULE,
            format!(
                "the module calls out (proxy_http_call to {}) and the dynamic module's host \
                 (native-baseline/envoy-module) answers no outbound calls",
                clusters.join(", ")
            ),
        ));
    }
    for (name, reason) in why.into_iter().filter(|(n, _)| s.selects(n)) {
        let at = at(sc, &sc.name, name, Phase::Request, process);
        out.absent(&at, Metric::CpuPerRequest, reason);
    }
}

/// Why a timer scenario is not measured in Envoy.
pub const TICK_NOT_PER_REQUEST: &str =
    "a timer tick runs inside Envoy on Envoy's own schedule, not per request: nothing to time";
