//! Differential fixtures: each filter's `fixtures.json` run on every arm. A case passes on an
//! arm when its expectations hold *and* its whole outcome equals the reference arm's.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::engines::LoadedModule;
use crate::host::http_call::{CallResponse, Upstream};
use crate::host::state::LogRecord;
use crate::host::vm::TickOutcome;
use crate::host::{
    BodyEnd, Clock, HeaderMap, HostState, HttpExchange, HttpOutcome, Message, SharedData,
    TcpConnection, TcpEvent, TcpOutcome, Vm, VmError,
};

/// The default fixture clock: 2023-11-14T22:13:20Z.
pub const DEFAULT_CLOCK_NS: u64 = 1_700_000_000_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterKind {
    Http,
    Tcp,
}

/// Bytes written as text, base64 or a generated repetition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Body {
    Text(String),
    Base64 {
        base64: String,
    },
    Repeat {
        repeat: String,
        times: usize,
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        suffix: String,
    },
}

impl Body {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Text(s) => s.as_bytes().to_vec(),
            Body::Base64 { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64)
                .unwrap_or_else(|e| panic!("fixture base64 {base64:?}: {e}")),
            Body::Repeat {
                repeat,
                times,
                prefix,
                suffix,
            } => {
                let mut v = Vec::with_capacity(prefix.len() + repeat.len() * times + suffix.len());
                v.extend_from_slice(prefix.as_bytes());
                for _ in 0..*times {
                    v.extend_from_slice(repeat.as_bytes());
                }
                v.extend_from_slice(suffix.as_bytes());
                v
            }
        }
    }
}

pub type Header = (String, Body);

fn header_map(h: &[Header]) -> HeaderMap {
    h.iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.bytes()))
        .collect()
}

/// Distinguishes an absent key (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    #[serde(default)]
    pub headers: Vec<Header>,
    pub body: Option<Body>,
    #[serde(default)]
    pub chunk_size: usize,
    /// Where the body's end of stream comes (`"last_chunk"`, the default, or `"empty_chunk"`:
    /// as Envoy's HTTP/1.1 codec delivers it).
    #[serde(default)]
    pub body_end: BodyEnd,
}

impl MessageSpec {
    pub fn message(&self) -> Message {
        Message {
            headers: header_map(&self.headers),
            body: self.body.as_ref().map(Body::bytes).unwrap_or_default(),
            chunk_size: self.chunk_size,
            end: self.body_end,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalReplyExpect {
    pub status: u32,
    pub body: Option<Body>,
    #[serde(default)]
    pub headers_include: Vec<Header>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    pub request_headers: Option<Vec<Header>>,
    #[serde(default)]
    pub request_headers_include: Vec<Header>,
    #[serde(default)]
    pub request_headers_exclude: Vec<String>,
    pub response_headers: Option<Vec<Header>>,
    #[serde(default)]
    pub response_headers_include: Vec<Header>,
    #[serde(default)]
    pub response_headers_exclude: Vec<String>,
    pub request_body: Option<Body>,
    pub response_body: Option<Body>,
    #[serde(default, deserialize_with = "double_option")]
    pub local_reply: Option<Option<LocalReplyExpect>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestCase {
    #[serde(default)]
    pub request: MessageSpec,
    #[serde(default)]
    pub response: MessageSpec,
    #[serde(default)]
    pub expect: HttpExpect,
}

impl RequestCase {
    pub fn exchange(&self) -> HttpExchange {
        HttpExchange {
            request: self.request.message(),
            response: self.response.message(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    pub downstream: Option<Body>,
    pub upstream: Option<Body>,
    #[serde(default)]
    pub end_of_stream: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpExpect {
    pub downstream_forwarded: Option<Body>,
    pub upstream_forwarded: Option<Body>,
    pub closed: Option<bool>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionCase {
    pub events: Vec<EventSpec>,
    #[serde(default)]
    pub expect: TcpExpect,
}

impl ConnectionCase {
    pub fn connection(&self) -> TcpConnection {
        TcpConnection {
            events: self
                .events
                .iter()
                .map(|e| match (&e.downstream, &e.upstream) {
                    (Some(d), _) => TcpEvent::Downstream {
                        data: d.bytes(),
                        end_of_stream: e.end_of_stream,
                    },
                    (None, u) => TcpEvent::Upstream {
                        data: u.as_ref().map(Body::bytes).unwrap_or_default(),
                        end_of_stream: e.end_of_stream,
                    },
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// Absent: the file's default; `null`: no configuration; a string: sent raw.
    #[serde(default, deserialize_with = "double_option")]
    pub config: Option<Option<Value>>,
    pub clock_ns: Option<u64>,
    #[serde(default = "yes")]
    pub expect_configure: bool,
    #[serde(default)]
    pub requests: Vec<RequestCase>,
    #[serde(default)]
    pub connections: Vec<ConnectionCase>,
    /// Timer ticks driven after configuration, before any request: each moves the fixture
    /// clock on by the tick period the module set and calls `proxy_on_tick`.
    #[serde(default)]
    pub ticks: u32,
    /// What the in-suite upstream answers the filter's HTTP calls (default: `Upstream`'s).
    pub upstream: Option<UpstreamSpec>,
    #[serde(default)]
    pub expect_metrics: BTreeMap<String, i64>,
    #[serde(default)]
    pub expect_logs: Vec<String>,
    /// Names a benchmark scenario: the suite times this case's first request (or connection)
    /// repeated on one VM, after checking its outcome against this fixture.
    pub bench: Option<String>,
    /// The benchmarked request's outcome legitimately changes from one repetition to the next
    /// on one VM (a per-VM counter in a header, a token bucket): each timed request is then
    /// proven against the reference arm's request of the same index, not the first's outcome.
    #[serde(default)]
    pub bench_varies: bool,
}

fn yes() -> bool {
    true
}

/// A fixture's in-suite upstream: the clusters it serves (absent: any) and its answer.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    pub clusters: Option<Vec<String>>,
    #[serde(flatten)]
    pub response: MessageSpec,
    #[serde(default)]
    pub trailers: Vec<Header>,
}

impl Case {
    /// The upstream this case's calls reach.
    pub fn upstream(&self) -> Upstream {
        let Some(u) = &self.upstream else {
            return Upstream::default();
        };
        let m = u.response.message();
        Upstream {
            clusters: u
                .clusters
                .as_ref()
                .map(|c| c.iter().map(|n| n.as_bytes().to_vec()).collect()),
            response: CallResponse {
                headers: m.headers,
                body: m.body,
                trailers: header_map(&u.trailers),
            },
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureFile {
    pub filter: String,
    pub kind: FilterKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub config: Value,
    pub cases: Vec<Case>,
    /// What the filter is for: a benchmarked job, or a test of the suite itself.
    #[serde(default)]
    pub role: Role,
}

/// A filter's role in the suite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A job the suite benchmarks: part of a default run and of the report.
    #[default]
    Bench,
    /// A filter that tests the suite (e.g. one that misbehaves while timed): run only when named.
    Test,
}

/// The plugin configuration bytes of a configuration value (strings are sent raw).
pub fn config_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        other => serde_json::to_vec(other).expect("JSON value serialises"),
    }
}

impl FixtureFile {
    /// The plugin configuration a case runs with.
    pub fn case_config(&self, case: &Case) -> Option<Vec<u8>> {
        match &case.config {
            None => Some(config_bytes(&burned(&self.filter, &self.config))),
            Some(None) => None,
            Some(Some(v)) => Some(config_bytes(&burned(&self.filter, v))),
        }
    }
}

/// The slowdown knob (filters/common `burn_iterations`): `FILTERBENCH_BURN=<filter>=<rounds>,…`
/// adds the key to the named filters' object configurations, so a nightly comparison can be
/// tested against a real slowdown of one filter. Unset: configurations as in the fixtures.
pub const BURN_ENV: &str = "FILTERBENCH_BURN";

fn burned(filter: &str, config: &Value) -> Value {
    let rounds = std::env::var(BURN_ENV).ok().and_then(|spec| {
        spec.split(',').find_map(|p| {
            p.split_once('=')
                .filter(|(f, _)| *f == filter)?
                .1
                .parse::<u64>()
                .ok()
        })
    });
    match (rounds, config) {
        (Some(n), Value::Object(m)) => {
            let mut m = m.clone();
            m.insert("burn_iterations".into(), n.into());
            Value::Object(m)
        }
        _ => config.clone(),
    }
}

/// Result of one request or connection; a failure keeps only what is engine-independent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Http(HttpOutcome),
    Tcp(TcpOutcome),
    Tick(TickOutcome),
    Failed(String),
}

/// Everything a case produced on one arm.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CaseOutcome {
    pub start_error: Option<String>,
    pub configured: bool,
    pub steps: Vec<Step>,
    pub metrics: BTreeMap<String, i64>,
    pub logs: Vec<LogRecord>,
    pub unimplemented: BTreeMap<&'static str, u64>,
    /// VMs discarded and recreated after a failure.
    pub vm_restarts: u32,
}

/// A failure as every arm gives it: the callback and the module's own words, not the engine's.
pub fn failure(e: &VmError) -> String {
    use crate::engines::CallError::{CpuLimit, Trap};
    let (call, said) = match e {
        VmError::Call(c) => (c, None),
        VmError::Said { error, said } => (error, Some(said)),
        other => return other.to_string(),
    };
    match (call, said) {
        // The module's own words are the same on every arm; the engine's trap text is not.
        (Trap { callback, .. }, Some(said)) => format!("trap in {callback}: {said}"),
        (Trap { callback, .. }, None) => format!("trap in {callback}"),
        (CpuLimit { callback, .. }, _) => format!("cpu limit in {callback}"),
    }
}

fn start_vm(
    module: &dyn LoadedModule,
    file: &FixtureFile,
    case: &Case,
    shared: &std::sync::Arc<SharedData>,
) -> Result<(Vm, bool), VmError> {
    let clock = Clock::Fixed(case.clock_ns.unwrap_or(DEFAULT_CLOCK_NS));
    let mut host = HostState::new(file.case_config(case), clock, shared.clone());
    host.plugin.name = file.filter.clone();
    host.plugin.root_id = file.filter.clone();
    host.upstream = case.upstream();
    let mut vm = Vm::start(module, host)?;
    let ok = vm.configure()?;
    Ok((vm, ok))
}

/// Most timer ticks a case may ask for: fixtures can come from users (`--fixtures`), and each
/// tick is a step kept in memory.
pub const MAX_TICKS: u32 = 10_000;

/// Runs one case on one loaded module.
pub fn run_case(module: &dyn LoadedModule, file: &FixtureFile, case: &Case) -> CaseOutcome {
    let shared = SharedData::new();
    let mut out = CaseOutcome::default();
    if case.ticks > MAX_TICKS {
        out.start_error = Some(format!(
            "case {:?} asks for {} ticks, more than the {MAX_TICKS} a case may have",
            case.name, case.ticks
        ));
        return out;
    }
    let (mut vm, configured) = match start_vm(module, file, case, &shared) {
        Ok(v) => v,
        Err(e) => {
            out.start_error = Some(failure(&e));
            return out;
        }
    };
    out.configured = configured;
    if configured {
        let ticks = (0..case.ticks).map(|_| None);
        let http = case.requests.iter().map(|r| Some(Ok(r.exchange())));
        let tcp = case.connections.iter().map(|c| Some(Err(c.connection())));
        for step in ticks.chain(http).chain(tcp) {
            if vm.is_broken() {
                // Fail closed for that request, then carry on with a fresh VM, as Envoy does.
                match start_vm(module, file, case, &shared) {
                    Ok((fresh, _)) => vm = fresh,
                    Err(e) => {
                        out.start_error = Some(failure(&e));
                        break;
                    }
                }
                out.vm_restarts += 1;
            }
            let r = match &step {
                None => vm.tick().map(Step::Tick),
                Some(Ok(ex)) => vm.http(ex).map(Step::Http),
                Some(Err(conn)) => vm.tcp(conn).map(Step::Tcp),
            };
            out.steps
                .push(r.unwrap_or_else(|e| Step::Failed(failure(&e))));
        }
    }
    let host = vm.host();
    out.metrics = host.metrics.snapshot();
    out.logs = std::mem::take(&mut host.logs);
    out.unimplemented = host.unimplemented.clone();
    out
}

mod check;
pub use check::{Mismatch, check_expectations, diff};
