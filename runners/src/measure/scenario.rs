//! Benchmark scenarios: a filter's `bench` fixture cases (or a generic request for a filter
//! the user brought), with what each must produce before its time counts.

use std::time::{Duration, Instant};

use super::Plan;
use crate::catalog;
use crate::engines::{Artifacts, LoadedModule};
use crate::fixtures::{self, Case, FixtureFile, Step};
use crate::host::{Clock, HostState, HttpExchange, SharedData, TcpConnection, Vm, VmError};

pub mod byo;
mod proof;
mod same;
pub use proof::{Proof, Reference, Signature, first_difference, signature};

#[derive(Clone, Debug)]
pub enum Workload {
    Http(HttpExchange),
    Tcp(TcpConnection),
    /// One timer tick on the root context (a module that works on a timer).
    Tick,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub filter: String,
    pub name: String,
    pub artifacts: Artifacts,
    pub file: FixtureFile,
    pub case: Case,
    pub workload: Workload,
    /// True for the user's own filter: no fixture to check beyond "configures and completes".
    pub byo: bool,
    /// A scenario of this filter left out, and why (recorded once as absent figures).
    pub left_out: Option<(String, String)>,
    /// A brought module's request makes HTTP calls out, as its probe found (false when not
    /// probed): the progress count leaves out the Envoy variants that cannot run it.
    pub calls_out: bool,
}

impl Scenario {
    fn new(
        filter: &str,
        file: &FixtureFile,
        case: &Case,
        artifacts: Artifacts,
        byo: bool,
    ) -> Option<Scenario> {
        let workload = match (case.requests.first(), case.connections.first()) {
            (Some(r), _) => Workload::Http(r.exchange()),
            (None, Some(c)) => Workload::Tcp(c.connection()),
            (None, None) if case.ticks > 0 => Workload::Tick,
            (None, None) => return None,
        };
        Some(Scenario {
            filter: filter.to_string(),
            name: case.bench.clone().unwrap_or_else(|| case.name.clone()),
            artifacts,
            file: file.clone(),
            case: case.clone(),
            workload,
            byo,
            left_out: None,
            calls_out: false,
        })
    }

    /// True when the timed request's outcome changes with every repetition (see [`Proof`]).
    pub fn varies(&self) -> bool {
        self.case.bench_varies
    }

    /// A fresh host for this scenario; logs are not kept while timing.
    pub fn host(&self) -> HostState {
        let clock = Clock::Fixed(self.case.clock_ns.unwrap_or(fixtures::DEFAULT_CLOCK_NS));
        let mut host = HostState::new(self.file.case_config(&self.case), clock, SharedData::new());
        host.plugin.name = self.filter.clone();
        host.plugin.root_id = self.filter.clone();
        host.upstream = self.case.upstream();
        host.capture_logs = false;
        host
    }

    /// Starts and configures a VM; a refused configuration is an error here.
    pub fn start_vm(&self, module: &dyn LoadedModule) -> Result<Vm, String> {
        let mut vm = Vm::start(module, self.host()).map_err(|e| e.to_string())?;
        match vm.configure() {
            Ok(true) => Ok(vm),
            Ok(false) => Err("proxy_on_configure returned false".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn run_once(&self, vm: &mut Vm) -> Result<Step, VmError> {
        match &self.workload {
            Workload::Http(ex) => vm.http(ex).map(Step::Http),
            Workload::Tcp(c) => vm.tcp(c).map(Step::Tcp),
            Workload::Tick => vm.tick().map(Step::Tick),
        }
    }

    /// [`run_once`](Self::run_once) into `step`, reusing its allocations (the previous
    /// request's outcome): the timed loops' form, so a warm request allocates nothing of the
    /// harness's own. On an error `step` holds a partial outcome.
    pub fn run_into(&self, vm: &mut Vm, step: &mut Step) -> Result<(), VmError> {
        match (&self.workload, &mut *step) {
            (Workload::Http(ex), Step::Http(o)) => vm.http_into(ex, o),
            (Workload::Tcp(c), Step::Tcp(o)) => vm.tcp_into(c, o),
            (Workload::Tick, _) => vm.tick().map(|o| *step = Step::Tick(o)),
            // The first request of a buffer (or one after a failure): a fresh outcome.
            _ => self.run_once(vm).map(|s| *step = s),
        }
    }

    /// Proves the filter works on this arm: the whole fixture case must pass. Returns the
    /// outcome of the first request, which the timed VM's first request must reproduce.
    pub fn verify(&self, module: &dyn LoadedModule) -> Result<Step, String> {
        self.check(module).map_err(|e| e.to_string())
    }

    /// [`verify`](Self::verify), telling a callback stopped by the CPU bound from other failures.
    pub fn check(&self, module: &dyn LoadedModule) -> Result<Step, Refusal> {
        let started = Instant::now();
        let out = fixtures::run_case(module, &self.file, &self.case);
        if let Some(callback) = cpu_bound_hit(&out, started.elapsed()) {
            return Err(Refusal::CpuBound(callback));
        }
        let problems = fixtures::check_expectations(&self.case, &out);
        if !problems.is_empty() {
            let p: Vec<String> = problems
                .iter()
                .map(|m| format!("{}: expected {}, got {}", m.field, m.expected, m.actual))
                .collect();
            return Err(Refusal::Failed(format!(
                "output differs from the fixture: {}",
                p.join("; ")
            )));
        }
        out.steps
            .into_iter()
            .next()
            .ok_or_else(|| Refusal::Failed("the case ran no request".into()))
    }
}

/// Why an arm failed its proof.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A callback (or the start function) ran until the engine's CPU bound stopped it.
    #[error("{0} ran past the CPU bound")]
    CpuBound(String),
    #[error("{0}")]
    Failed(String),
}

/// The callback the CPU bound stopped in a case, if it did (named without `proxy_`).
fn cpu_bound_hit(out: &fixtures::CaseOutcome, took: Duration) -> Option<String> {
    let failed = out.steps.iter().filter_map(|s| match s {
        Step::Failed(m) => Some(m),
        _ => None,
    });
    // `cpu limit in <callback>`: the fixtures' engine-independent text for a stopped callback.
    if let Some(cb) = out
        .start_error
        .iter()
        .chain(failed)
        .find_map(|m| m.strip_prefix("cpu limit in "))
    {
        return Some(cb.trim_start_matches("proxy_").to_string());
    }
    // A start function runs inside instantiation, whose errors the engines give as text:
    // wasmtime's epoch trap says "interrupt", fuel says "all fuel consumed", and wasmer's
    // metering traps as a plain "unreachable", told from a real one by the time it took: the
    // default budget (2·10^9 points) lasts ~0.7 s there, a start function that traps at once
    // takes microseconds.
    let e = out.start_error.as_deref()?;
    let stopped = e.contains("wasm trap: interrupt")
        || e.contains("all fuel consumed")
        || e.contains("unreachable") && took >= Duration::from_millis(100);
    stopped.then(|| "the start function".to_string())
}

/// Every scenario of the plan, grouped by filter in plan order.
pub fn scenarios(plan: &Plan) -> Result<Vec<Scenario>, String> {
    let mut out = Vec::new();
    for name in &plan.filters {
        let f = catalog::find(name).map_err(|e| e.to_string())?;
        for case in f.fixtures.cases.iter().filter(|c| {
            c.bench
                .as_ref()
                .is_some_and(|b| plan.scenarios.is_empty() || plan.scenarios.contains(b))
        }) {
            out.extend(Scenario::new(
                &f.name,
                &f.fixtures,
                case,
                f.artifacts.clone(),
                false,
            ));
        }
    }
    if let Some(b) = &plan.byo {
        let (mut scenarios, note) = byo::scenarios(plan, b)?;
        if let Some(note) = note {
            for sc in &mut scenarios {
                sc.left_out = Some((byo::GET.to_string(), note.clone()));
            }
        }
        out.extend(scenarios);
    }
    if out.is_empty() {
        return Err("no benchmark scenarios selected".into());
    }
    Ok(out)
}
