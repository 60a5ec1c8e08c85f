//! `filterbench load --target`: our generator against an Envoy (or a sidecar) we did not start.
//! One target or two (A with the filter, B without), each over one protocol or both, all
//! loaded in interleaved rounds as the local variants are; every response is checked against
//! what the target must show (status, and for A the response headers the filter adds, changes
//! or removes), and a response that differs is a failed request, never a timed one.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use filterbench_results::vocab::{Metric, Phase, Stage, arm};
use filterbench_results::{At, Batch};
use hdrhistogram::Histogram;

use super::config::{self, Check, Variant};
use super::expect::Expect;
use super::http::{self, RequestTemplate};
use super::protocol::Protocol;
use super::{P99_FLOOR, P999_FLOOR};
use crate::measure::scenario::{Scenario, Workload};
use crate::measure::{Plan, rotated};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("target `{url}`: {why}")]
    Target { url: String, why: String },
    #[error("filter {filter}: {why}")]
    Filter { filter: String, why: String },
}

/// Where a target URL points: the address to connect to, its authority (the Host of a request
/// that has none of its own) and its path, when it names one other than `/`.
#[derive(Clone, Debug)]
pub struct Url {
    pub addr: SocketAddr,
    pub authority: String,
    pub path: Option<String>,
}

/// Parses `http://HOST[:PORT][/path]`; cleartext only (HTTP/1.1 or h2c).
pub fn parse_url(url: &str) -> Result<Url, RemoteError> {
    let err = |why: String| RemoteError::Target {
        url: url.to_string(),
        why,
    };
    let uri: hyper::Uri = url.parse().map_err(|e| err(format!("{e}")))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(s) => {
            return Err(err(format!(
                "scheme {s}: only http:// (cleartext) is supported"
            )));
        }
        None => return Err(err("no scheme: write it as http://HOST:PORT".into())),
    }
    let auth = uri.authority().ok_or_else(|| err("no host".into()))?;
    let port = auth.port_u16().unwrap_or(80);
    let addr = (auth.host().trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|e| err(format!("cannot resolve {}: {e}", auth.host())))?
        .next()
        .ok_or_else(|| err(format!("{} resolves to no address", auth.host())))?;
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .filter(|p| p != "/" && !p.is_empty());
    Ok(Url {
        addr,
        authority: auth.as_str().to_string(),
        path,
    })
}

/// One target to load: the arm its figures are recorded under, the request it gets and what
/// each of its responses must show.
pub struct Target {
    pub arm: String,
    pub url: Url,
    pub req: RequestTemplate,
    pub expect: Expect,
}

/// How the targets are loaded.
#[derive(Clone, Debug)]
pub struct LoadSettings {
    pub protocols: Vec<Protocol>,
    /// Connections (closed loop: each as fast as it goes; open loop: the rate's schedule
    /// spread over them).
    pub connections: u32,
    /// None: closed loop; Some: open loop at this many requests/s per target.
    pub rate: Option<f64>,
    /// Timed time per target × protocol, split over `rounds` interleaved rounds.
    pub duration: Duration,
    pub rounds: u32,
    /// Untimed (but checked) load per target × protocol before the rounds.
    pub warmup: Duration,
}

/// The HTTP scenario `name` (None: the first) of `filter`'s fixtures.
pub fn scenario(filter: &str, name: Option<&str>) -> Result<Scenario, RemoteError> {
    let err = |why: String| RemoteError::Filter {
        filter: filter.to_string(),
        why,
    };
    let mut plan = Plan::quick();
    plan.filters = vec![filter.to_string()];
    plan.scenarios = name.into_iter().map(str::to_string).collect();
    crate::measure::scenario::scenarios(&plan)
        .map_err(err)?
        .into_iter()
        .find(|s| matches!(s.workload, Workload::Http(_)))
        .ok_or_else(|| err("no HTTP benchmark scenario".into()))
}

/// What a response through the filter must show, from what its native build does to the
/// scenario's exchange in process: the status and the response headers it adds, changes or
/// removes. Bodies are not compared: the target's upstream is not ours, so its body is unknown.
pub fn expect_from_fixtures(sc: &Scenario) -> Result<Expect, RemoteError> {
    let Workload::Http(ex) = &sc.workload else {
        return Err(RemoteError::Filter {
            filter: sc.filter.clone(),
            why: "not an HTTP scenario".into(),
        });
    };
    let (want, volatile) =
        super::verify::native_reference(sc).map_err(|why| RemoteError::Filter {
            filter: sc.filter.clone(),
            why: format!("no native reference: {why}"),
        })?;
    // Held as a different implementation of the job is (`Check::Key`): the response side only.
    let mut variant = variant_of(sc, arm::ENVOY_NONE)?;
    variant.check = Check::Key;
    Ok(Expect::derive(&variant, ex, &want, &volatile))
}

/// The variant `name` of the scenario's filter, as `run` configures it.
pub(super) fn variant_of(sc: &Scenario, name: &str) -> Result<Variant, RemoteError> {
    let err = |why: String| RemoteError::Filter {
        filter: sc.filter.clone(),
        why,
    };
    let cfg = sc
        .file
        .case_config(&sc.case)
        .map(|c| String::from_utf8_lossy(&c).into_owned())
        .unwrap_or_default();
    let builds = config::Builds {
        wasm: sc
            .artifacts
            .wasm
            .clone()
            .ok_or_else(|| err("no .wasm".into()))?,
        module: None,
    };
    config::variants(&sc.filter, &builds, &cfg)
        .into_iter()
        .find(|v| v.name == name)
        .ok_or_else(|| err(format!("no variant {name}")))
}

/// The scenario name figures of `scenario` over `protocol` are recorded under (HTTP/1.1 keeps
/// the fixture's name, so its figures compare with local runs'), at a fixed `rate` if any.
pub fn scenario_name(scenario: &str, protocol: Protocol, rate: Option<f64>) -> String {
    let mut s = protocol.scenario(scenario);
    if let Some(r) = rate {
        s.push_str(&format!("@{r:.0}rps"));
    }
    s
}

/// What one target did over one protocol, for the terminal.
#[derive(Clone, Debug)]
pub struct Tally {
    pub arm: String,
    pub scenario: String,
    pub protocol: Protocol,
    pub completed: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Completed requests per second of timed time (closed loop: the target's throughput).
    pub rps: f64,
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("bounds")
}

struct Slot<'a> {
    target: &'a Target,
    protocol: Protocol,
    at: At,
    check_ns: f64,
    completed: u64,
    errors: u64,
    first_error: Option<String>,
    wall: Duration,
    hist: Histogram<u64>,
    alive: bool,
}

impl Slot<'_> {
    fn load(&self, s: &LoadSettings, d: Duration) -> http::LoadResult {
        let t = self.target;
        let c = s.connections;
        http::load_with(self.protocol, t.url.addr, &t.req, &t.expect, c, d, s.rate)
    }

    fn count(&mut self, res: &http::LoadResult, what: &str) {
        self.errors += res.errors;
        if self.first_error.is_none() {
            self.first_error = res.first_error.clone().map(|e| format!("{what}: {e}"));
        }
    }
}

/// Proves, warms and loads every target over every protocol in interleaved rounds; records
/// rows (filter `filter`, arm = the target's) into `out` and returns what each did.
pub fn measure(
    s: &LoadSettings,
    filter: &str,
    scenario: &str,
    targets: &[Target],
    out: &mut Batch,
) -> Vec<Tally> {
    let mut slots: Vec<Slot> = Vec::new();
    for t in targets {
        for &p in &s.protocols {
            let name = scenario_name(scenario, p, s.rate);
            let at = At::new(filter, &name, &t.arm, Phase::Request, 0);
            let mut slot = Slot {
                target: t,
                protocol: p,
                at,
                check_ns: 0.0,
                completed: 0,
                errors: 0,
                first_error: None,
                wall: Duration::ZERO,
                hist: new_hist(),
                alive: true,
            };
            // One request first: a target that does not show the effect is not loaded.
            match http::one_shot_with(p, t.url.addr, &t.req).and_then(|seen| {
                t.expect.check(&seen)?;
                Ok(seen)
            }) {
                Ok(seen) => slot.check_ns = t.expect.cost_ns(&seen),
                Err(e) => {
                    out.fail_at(&slot.at, Stage::Verify, format!("{}: {e}", p.label()));
                    slot.alive = false;
                }
            }
            slots.push(slot);
        }
    }
    for slot in slots.iter_mut().filter(|x| x.alive) {
        let res = slot.load(s, s.warmup);
        slot.count(&res, "warm-up");
    }
    let rounds = s.rounds.max(1);
    let order: Vec<usize> = (0..slots.len()).filter(|i| slots[*i].alive).collect();
    for round in 0..rounds {
        for i in rotated(&order, round) {
            let slot = &mut slots[i];
            let res = slot.load(s, s.duration / rounds);
            slot.completed += res.completed;
            slot.wall += res.wall;
            let _ = slot.hist.add(&res.hist);
            slot.count(&res, &format!("round {round}"));
        }
    }
    slots.iter().map(|x| record(s, x, out)).collect()
}

/// One target × protocol's rows, or its failure (no figure of a target that failed a check).
fn record(s: &LoadSettings, x: &Slot, out: &mut Batch) -> Tally {
    let rps = x.completed as f64 / x.wall.as_secs_f64().max(1e-9);
    let tally = Tally {
        arm: x.target.arm.clone(),
        scenario: x.at.scenario.clone(),
        protocol: x.protocol,
        completed: x.completed,
        errors: x.errors,
        first_error: x.first_error.clone(),
        rps,
    };
    if !x.alive {
        return tally;
    }
    if x.errors > 0 || x.completed == 0 {
        let msg = format!(
            "{}: {} of {} requests failed (a response that differs from the expected effect \
             is not timed): {}",
            x.protocol.label(),
            x.errors,
            x.errors + x.completed,
            x.first_error
                .clone()
                .unwrap_or_else(|| "none completed".into())
        );
        out.fail_at(&x.at, Stage::Run, msg);
        return tally;
    }
    let at = &x.at;
    for (m, q, floor, label) in [
        (Metric::LatencyP50, 0.5, 1, "p50"),
        (Metric::LatencyP90, 0.9, 1, "p90"),
        (Metric::LatencyP99, 0.99, P99_FLOOR, "p99"),
        (Metric::LatencyP999, 0.999, P999_FLOOR, "p99.9"),
    ] {
        if x.hist.len() >= floor {
            out.record(at, m, x.hist.value_at_quantile(q) as f64);
        } else {
            let why = format!("{label} needs {floor} samples, had {}", x.hist.len());
            out.absent(at, m, why);
        }
    }
    out.record(at, Metric::LatencyMax, x.hist.max() as f64);
    out.histograms
        .push(crate::measure::steady::histogram_row(at, &x.hist));
    if s.rate.is_none() {
        out.record(at, Metric::Throughput, rps);
        out.absent(at, Metric::CpuPerRequest, NO_CPU.to_string());
        out.record(at, Metric::ResponseCheckNs, x.check_ns);
        out.record(at, Metric::ResponsesCheckedFraction, 1.0);
    }
    tally
}

const NO_CPU: &str = "not started by filterbench: its CPU is not read";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_scenario_names() {
        let u = parse_url("http://127.0.0.1:8080/x?y=1").unwrap();
        assert_eq!(u.addr, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(
            (u.authority.as_str(), u.path.as_deref()),
            ("127.0.0.1:8080", Some("/x?y=1"))
        );
        assert_eq!(parse_url("http://10.1.2.1").unwrap().addr.port(), 80);
        assert_eq!(parse_url("http://10.1.2.1:9/").unwrap().path, None);
        for bad in ["https://10.1.2.1", "10.1.2.1:80", "http://"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        assert_eq!(scenario_name("get", Protocol::Http1, None), "get");
        assert_eq!(
            scenario_name("get", Protocol::H2c, Some(500.0)),
            "get+h2c@500rps"
        );
    }
}
