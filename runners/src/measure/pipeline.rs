//! The one measuring pipeline of a worker process: per filter, every (scenario, arm) is proven
//! once ([`prove`](super::prove)), then each measurement of [`MEASUREMENTS`] that applies runs on
//! the proven arms and records through the results recorder. Adding a measurement is one file
//! implementing [`Measurement`] and one entry in [`MEASUREMENTS`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use filterbench_results::At;
use filterbench_results::vocab::{Metric, Phase, Stage};

use super::prove::{Proven, prove, prove_loaded};
use super::scenario::{self, Proof, Scenario};
use super::{LoadedArm, Plan, Progress, WorkerOutput};
use crate::engines;

/// How the pipeline calls a measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Arm by arm, each arm's turn running every per-arm measurement before the next arm's:
    /// figures of a fresh state (cold start, then memory) are taken after the previous step
    /// of the same arm, not after another arm's teardown.
    EachArm,
    /// Once for the filter, with every proven arm.
    Filter,
}

/// One kind of figure, measured on one filter's proven arms.
pub trait Measurement: Sync {
    /// What the progress line and a skipped step say.
    fn name(&self) -> &'static str;
    /// Whether the plan asks for this measurement of this filter (known before anything is
    /// loaded or proven).
    fn applies(&self, ctx: &FilterCtx) -> bool;
    /// The progress steps it reports for this filter, from the plan alone (arms that fail
    /// their proof are stepped over by the pipeline, so the total stays right).
    fn steps(&self, ctx: &FilterCtx) -> u64;
    fn scope(&self) -> Scope {
        Scope::Filter
    }
    /// Measures `arms` (proven, in this process's order; one with [`Scope::EachArm`]).
    fn measure(&self, ctx: &FilterCtx, arms: &[String], out: &mut WorkerOutput);
}

/// Every measurement, in the order a worker runs them on each filter: cold start and memory
/// first, the nearest to a fresh process.
pub static MEASUREMENTS: &[&dyn Measurement] = &[
    &super::coldstart::ColdStart,
    &super::instantiate::Instantiate,
    &super::memory::Memory,
    &super::steady::SteadyState,
    &super::threads::Threads,
    &super::profile::ProfileRun,
    &super::envoy_http::EnvoyHttp,
    &super::envoy_tcp::EnvoyTcp,
    &super::envoy_scaling::EnvoyScaling,
    &super::envoy_maxrate::EnvoyMaxRate,
];

/// What the one-thread steady state learned of an arm on a scenario, for the N-thread runs:
/// the batch size warm-up chose and the proof its timed VM settled (which further VMs owe).
pub struct Learned {
    pub scenario: usize,
    pub arm: String,
    pub batch: u64,
    pub proof: Proof,
}

/// One filter as the measurements see it.
pub struct FilterCtx<'a> {
    pub plan: &'a Plan,
    pub process: u32,
    pub filter: &'a str,
    /// This filter's scenarios, in catalogue order.
    pub scenarios: Vec<&'a Scenario>,
    /// Every scenario of the run (what is measured once per run looks at the other filters).
    pub all: &'a [Scenario],
    /// The plan's arms that apply to this filter, in plan order, before any proof (less those
    /// an earlier process refused).
    pub arms: Vec<String>,
    /// The proof's results: the proven arms, loaded, their outcomes, the harness.
    pub proven: Proven,
    /// Written by the steady state, read by the N-thread runs.
    pub learned: Mutex<Vec<Learned>>,
    progress: &'a dyn Progress,
    stepped: AtomicU64,
}

impl<'a> FilterCtx<'a> {
    /// The filter's context before its proof.
    pub fn new(
        plan: &'a Plan,
        process: u32,
        filter: &'a str,
        all: &'a [Scenario],
        progress: &'a dyn Progress,
    ) -> FilterCtx<'a> {
        let scenarios: Vec<&Scenario> = all.iter().filter(|s| s.filter == filter).collect();
        let arms = match scenarios.first() {
            None => Vec::new(),
            Some(sc) => plan
                .arms
                .iter()
                .filter(|a| engines::applies(a, &sc.artifacts))
                .filter(|a| !plan.refused.iter().any(|(f, r)| f == filter && r == *a))
                .cloned()
                .collect(),
        };
        FilterCtx {
            plan,
            process,
            filter,
            scenarios,
            all,
            arms,
            proven: Proven::default(),
            learned: Mutex::new(Vec::new()),
            progress,
            stepped: AtomicU64::new(0),
        }
    }

    /// Where a figure of scenario `scenario` (empty: a per-filter figure) of `arm` belongs.
    pub fn at(&self, scenario: &str, arm: &str, phase: Phase) -> At {
        At::new(self.filter, scenario, arm, phase, self.process)
    }

    /// The proven arms' names, rotated by the process index so no arm is always first.
    fn proven_names(&self) -> Vec<String> {
        let names: Vec<String> = self.proven.arms.iter().map(|a| a.name.clone()).collect();
        super::rotated(&names, self.process)
    }

    /// The Envoy scenarios of this filter: every one (full) or the first (quick).
    pub fn envoy_scenarios(&self) -> Vec<&'a Scenario> {
        if self.plan.envoy.is_none() || self.filter == NO_ENVOY_FILTER {
            return Vec::new();
        }
        let n = if self.plan.envoy_all {
            self.scenarios.len()
        } else {
            1
        };
        self.scenarios.iter().take(n).copied().collect()
    }

    /// `f` on each of `arms` with the filter's first scenario and the arm's verified outcome
    /// there, a progress step each (`what` names the measurement).
    pub fn on_first_scenario(
        &self,
        what: &str,
        arms: &[String],
        mut f: impl FnMut(&Scenario, &str, &crate::fixtures::Step),
    ) {
        let sc = self.scenarios[0];
        for arm in arms {
            self.step(&format!("{} / {arm}: {what}", self.filter));
            let want = self
                .proven
                .outcome(0, arm)
                .expect("a proven arm has its outcome");
            f(sc, arm, want);
        }
    }

    /// Whether this is the first filter of the run measured in Envoy.
    pub fn first_envoy_filter(&self) -> bool {
        self.all
            .iter()
            .find(|s| s.filter != NO_ENVOY_FILTER)
            .is_some_and(|s| s.filter == self.filter)
    }
}

/// The filter that exercises host calls only: nothing of it to see in Envoy.
const NO_ENVOY_FILTER: &str = "hostcalls";

impl Progress for FilterCtx<'_> {
    fn step(&self, label: &str) {
        self.stepped.fetch_add(1, Ordering::Relaxed);
        self.progress.step(label);
    }
}

/// A measurement that applies to a filter, with the progress steps it will report.
type Planned = (&'static dyn Measurement, u64);

/// Runs the plan in this process (`process` numbers the repetition).
pub fn run_worker(plan: &Plan, process: u32, progress: &dyn Progress) -> WorkerOutput {
    let mut out = WorkerOutput::default();
    let scenarios = match scenario::scenarios(plan) {
        Ok(s) => s,
        Err(e) => {
            out.fail_at(&At::default(), Stage::Worker, e);
            return out;
        }
    };
    let mut filters: Vec<&str> = scenarios.iter().map(|s| s.filter.as_str()).collect();
    filters.dedup();
    // A scenario the filter cannot run (a service's HTTP one) is said once, not measured.
    let mut left_out: Vec<_> = scenarios
        .iter()
        .filter_map(|s| Some((s.filter.as_str(), s.left_out.as_ref()?)))
        .collect();
    left_out.dedup();
    for (filter, (name, why)) in left_out {
        let at = At::new(filter, name, "", Phase::Request, process);
        out.absent(&at, Metric::CpuPerRequest, why.clone());
    }
    let planned: Vec<(FilterCtx, Vec<Planned>)> = filters
        .into_iter()
        .map(|f| {
            let ctx = FilterCtx::new(plan, process, f, &scenarios, progress);
            let ms = MEASUREMENTS
                .iter()
                .filter(|m| m.applies(&ctx))
                .map(|m| (*m, m.steps(&ctx)))
                .collect();
            (ctx, ms)
        })
        .collect();
    progress.total(
        planned
            .iter()
            .flat_map(|(_, ms)| ms.iter().map(|m| m.1))
            .sum(),
    );
    for (mut ctx, measurements) in planned {
        progress.doing(&format!("{}: proof", ctx.filter));
        ctx.proven = prove(plan, &ctx.scenarios, &ctx.arms, process, &mut out);
        let arms = ctx.proven_names();
        let mut stepped = vec![0; measurements.len()];
        let mut run = |k: usize, arms: &[String], out: &mut WorkerOutput| {
            ctx.stepped.store(0, Ordering::Relaxed);
            measurements[k].0.measure(&ctx, arms, out);
            stepped[k] += ctx.stepped.load(Ordering::Relaxed);
        };
        let each_arm: Vec<usize> = (0..measurements.len())
            .filter(|&k| measurements[k].0.scope() == Scope::EachArm)
            .collect();
        for arm in &arms {
            for &k in &each_arm {
                run(k, std::slice::from_ref(arm), &mut out);
            }
        }
        for k in (0..measurements.len()).filter(|k| !each_arm.contains(k)) {
            run(k, &arms, &mut out);
        }
        // Steps of arms that failed their proof (or of a variant that could not start).
        for ((m, steps), done) in measurements.iter().zip(stepped) {
            for _ in done..*steps {
                progress.step(&format!("{}: {} (skipped)", ctx.filter, m.name()));
            }
        }
        // The filter's loaded arms are dropped here, before the next filter's are loaded.
    }
    out
}

/// One scenario on arms already loaded: the proof, then the timed in-process measurements
/// (steady state and N threads), as the pipeline runs them.
pub fn measure_timed(
    plan: &Plan,
    sc: &Scenario,
    arms: Vec<LoadedArm>,
    process: u32,
    progress: &dyn Progress,
    out: &mut WorkerOutput,
) {
    let mut ctx = FilterCtx::new(
        plan,
        process,
        &sc.filter,
        std::slice::from_ref(sc),
        progress,
    );
    ctx.proven = prove_loaded(plan, &ctx.scenarios, arms, process, out);
    let names = ctx.proven_names();
    for m in [
        &super::steady::SteadyState as &dyn Measurement,
        &super::threads::Threads,
    ] {
        m.measure(&ctx, &names, out);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use filterbench_results::vocab::{Phase, Stage, arm};

    use super::{MEASUREMENTS, run_worker};
    use crate::measure::{ByoFilter, Plan, Progress};

    #[derive(Default)]
    struct Count {
        total: AtomicU64,
        steps: AtomicU64,
    }

    impl Progress for Count {
        fn total(&self, steps: u64) {
            self.total.store(steps, Ordering::Relaxed);
        }
        fn step(&self, _: &str) {
            self.steps.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn every_measurement_has_its_own_name() {
        let mut names: Vec<&str> = MEASUREMENTS.iter().map(|m| m.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), MEASUREMENTS.len());
    }

    /// A filter that traps fails its proof once per arm and is measured by nothing; the
    /// filter beside it is measured by everything; the progress total is what was stepped.
    #[test]
    fn a_failed_proof_is_one_failure_and_no_figure_and_the_total_holds() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("traps.wasm");
        let src = include_str!("../../tests/hostile/base.wat").replace("{{BODY}}", "unreachable");
        std::fs::write(&wasm, wat::parse_str(src).unwrap()).unwrap();
        let mut plan = Plan::quick();
        plan.filters = vec!["add-header".into()];
        plan.byo = Some(ByoFilter {
            wasm,
            native: None,
            config: None,
            fixtures: None,
            language: None,
        });
        plan.arms = vec![arm::NATIVE.into(), arm::WASMI.into()];
        plan.measure = Duration::from_millis(20);
        plan.rounds = 1;
        plan.warmup = Duration::from_millis(5);
        plan.threads = vec![2];
        plan.throughput_time = Duration::from_millis(10);
        plan.cold_iterations = 1;
        plan.memory_instances = 2;
        plan.profile_requests = 20;
        plan.profile_time = Duration::from_millis(5);
        let count = Count::default();
        let out = run_worker(&plan, 0, &count);

        assert_eq!(
            count.steps.load(Ordering::Relaxed),
            count.total.load(Ordering::Relaxed)
        );
        let trap: Vec<_> = out
            .failures
            .iter()
            .filter(|f| f.filter == "byo-traps")
            .collect();
        // wasmi proves and fails; native does not apply; the harness has no path to mirror.
        assert_eq!(trap.len(), 2, "{trap:#?}");
        assert!(trap.iter().all(|f| f.stage == Stage::Verify), "{trap:#?}");
        assert!(!out.rows.iter().any(|r| r.filter == "byo-traps"));
        assert!(!out.histograms.iter().any(|h| h.filter == "byo-traps"));

        assert!(
            !out.failures.iter().any(|f| f.filter == "add-header"),
            "{:#?}",
            out.failures
        );
        for a in [arm::NATIVE, "wasmi", arm::HARNESS] {
            for phase in [
                Phase::Request,
                Phase::Compile,
                Phase::Memory,
                Phase::Profile,
            ] {
                let want = a != arm::HARNESS || phase == Phase::Request;
                let has = out
                    .rows
                    .iter()
                    .any(|r| r.filter == "add-header" && r.arm == a && r.phase == phase);
                assert_eq!(has, want, "{a} {phase}");
            }
            let threads = out.rows.iter().any(|r| r.arm == a && r.threads == 2);
            assert!(threads, "{a} has its N-thread rows");
        }
    }
}
