//! A brought module (`run --wasm`, `--source`) in live Envoy: the variants that cannot run it,
//! each said with why, and the clusters its outbound calls (`proxy_http_call`) need, served by
//! a local upstream that answers as the in-process host's upstream does — so Envoy's outcome
//! can equal the in-process one.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use filterbench_results::vocab::{Metric, Phase, arm};

use super::config;
use super::http::{LoadResult, Upstream};
use super::{Envoy, EnvoySettings, at};
use crate::host::HttpOutcome;
use crate::host::vm::Message;
use crate::measure::WorkerOutput;
use crate::measure::scenario::Scenario;

/// The clusters one request of the filter calls out to, each an Envoy cluster on one local
/// upstream answering every call with the in-process host's answer.
pub(crate) struct Calls {
    upstream: Upstream,
    clusters: Vec<String>,
    /// Calls one request makes (the reference's).
    per_request: u64,
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
            ..Default::default()
        };
        let upstream =
            Upstream::start(&message).map_err(|e| format!("the upstream of its calls: {e}"))?;
        Ok(Some(Calls {
            upstream,
            clusters,
            per_request: want.calls.len() as u64,
        }))
    }

    /// The clusters the module calls, each with the port answering it.
    pub(crate) fn clusters(&self) -> Vec<(String, u16)> {
        self.clusters
            .iter()
            .map(|c| (c.clone(), self.upstream.port))
            .collect()
    }

    /// Records the next call that reaches the upstream (before a variant's proof) until the
    /// guard is checked or dropped: recording takes a lock per call, which no timed window may
    /// pay, so a launch or proof that fails early must not leave it on.
    pub(crate) fn record(&self) -> Recording<'_> {
        *self.upstream.last.lock().unwrap() = None;
        self.upstream.record.store(true, Ordering::Relaxed);
        Recording(&self.upstream)
    }

    /// What each window of a variant running the module must see answered.
    pub(crate) fn count(&self) -> CallCount {
        CallCount {
            clusters: self.clusters.clone(),
            per_request: self.per_request,
        }
    }
}

/// The calls' upstream recording; stops when dropped.
pub(crate) struct Recording<'a>(&'a Upstream);

impl Drop for Recording<'_> {
    fn drop(&mut self) {
        self.0.record.store(false, Ordering::Relaxed);
    }
}

impl Recording<'_> {
    /// After a variant's proof: its last call reached the upstream as the in-process reference's
    /// did (method, path, body). Stops recording.
    pub(crate) fn check(self, want: &HttpOutcome) -> Result<(), String> {
        self.0.record.store(false, Ordering::Relaxed);
        let (Some(got), Some(call)) = (self.0.last.lock().unwrap().take(), want.calls.last())
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

/// The calls each request of a variant running a brought module must make, counted in every
/// window: a filter that stops calling out under load (fails open) would otherwise read as
/// fast. Counted by Envoy (its calls' clusters' `upstream_rq_completed`, an atomic per
/// cluster): nothing on the requests' path, and each variant's Envoy counts only its own.
#[derive(Clone, Debug)]
pub(crate) struct CallCount {
    clusters: Vec<String>,
    per_request: u64,
}

/// How long calls of a window's requests may still be answered after it (a filter that does
/// not wait for its call's answer).
const SETTLE: Duration = Duration::from_secs(1);

impl CallCount {
    /// Calls answered so far on `envoy`'s calls' clusters.
    fn answered(&self, envoy: &Envoy) -> Result<u64, String> {
        // A plain filter: cluster names need no regex escaping, lines are matched exactly.
        let text = envoy
            .get("/stats?filter=upstream_rq_completed")
            .map_err(|e| e.to_string())?;
        self.clusters.iter().try_fold(0, |sum, c| {
            let name = format!("cluster.{c}.upstream_rq_completed: ");
            text.lines()
                .find_map(|l| l.strip_prefix(&name))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|n| sum + n)
                .ok_or_else(|| format!("Envoy reports no {}", name.trim_end_matches(": ")))
        })
    }

    /// Runs `f` (a window of load on `envoy`); fewer calls answered meanwhile than
    /// (calls per request × completed requests) make an error of the result: not verified,
    /// never timed. Calls made by requests the window did not complete may count, so a
    /// shortfall is real.
    pub(crate) fn window(
        count: Option<&CallCount>,
        envoy: &Envoy,
        f: impl FnOnce() -> LoadResult,
    ) -> LoadResult {
        let Some(c) = count else { return f() };
        let before = c.answered(envoy);
        let mut res = f();
        if let Err(why) = c.made(envoy, before, res.completed) {
            res.errors += 1;
            res.first_error.get_or_insert(why);
        }
        res
    }

    /// Calls answered so far (taken before a window, for [`CallCount::made`]).
    pub(crate) fn before(&self, envoy: &Envoy) -> Result<u64, String> {
        self.answered(envoy)
    }

    /// Err (why, as "not verified: …") unless `requests` completed since `before` had their
    /// calls answered, waiting up to [`SETTLE`] for the last.
    pub(crate) fn made(
        &self,
        envoy: &Envoy,
        before: Result<u64, String>,
        requests: u64,
    ) -> Result<(), String> {
        let need = self.per_request * requests;
        let deadline = Instant::now() + SETTLE;
        loop {
            let made = before.clone().and_then(|b| {
                let now = self.answered(envoy)?;
                now.checked_sub(b)
                    .ok_or_else(|| format!("Envoy's counter fell from {b} to {now}"))
            });
            match made {
                Ok(n) if n >= need => return Ok(()),
                Ok(n) if Instant::now() >= deadline => {
                    return Err(format!(
                        "not verified: {n} outbound calls answered on {} for {requests} \
                         completed requests, which make {} each",
                        self.clusters.join(", "),
                        self.per_request
                    ));
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("not verified: outbound calls not counted: {e}")),
            }
        }
    }
}

/// Whether `variant` can run the brought filter of `sc` whose reference outcome is `want`: the
/// native module's host answers no outbound calls.
pub(crate) fn runs(sc: &Scenario, want: &HttpOutcome, variant: &str) -> bool {
    !(sc.byo && variant == config::NATIVE_MODULE && !want.calls.is_empty())
}

/// Whether `variant` is expected to run `sc` before its reference is had (the progress
/// count): as [`runs`], on what the module's probe found.
pub(crate) fn expected_to_run(sc: &Scenario, variant: &str) -> bool {
    !(sc.byo && variant == config::NATIVE_MODULE && sc.calls_out)
}

/// Records, for a brought filter, each selected Envoy variant that does not run it, with why
/// (as the absence of `metric`, the figure the path calling it gives), under each of
/// `scenarios` (one per protocol leg, so no leg's cell is left without its reason).
pub(crate) fn absent(
    s: &EnvoySettings,
    (sc, scenarios): (&Scenario, &[String]),
    want: &HttpOutcome,
    (metric, process): (Metric, u32),
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
        for scenario in scenarios {
            let at = at(sc, scenario, name, Phase::Request, process);
            out.absent(&at, metric, reason.clone());
        }
    }
}

/// Why a timer scenario is not measured in Envoy.
pub const TICK_NOT_PER_REQUEST: &str =
    "a timer tick runs inside Envoy on Envoy's own schedule, not per request: nothing to time";
