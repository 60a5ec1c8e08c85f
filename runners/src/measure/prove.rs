//! Prove once: every (scenario, arm) of a filter is proven a single time per process — the
//! whole fixture case, and for a filter without fixtures the same outcome as the first arm —
//! before any measurement. An arm that fails to load or to prove on any scenario records one
//! failure and is left out of every measurement; the harness of each scenario is built here
//! too, from a proven arm's path.

use filterbench_results::At;
use filterbench_results::vocab::{Phase, Stage, arm};

use super::scenario::{Refusal, Scenario};
use super::{LoadedArm, Plan, WorkerOutput};
use crate::engines::null::NullModule;
use crate::engines::{self};
use crate::fixtures::Step;

/// What the proof left for the measurements of one filter.
#[derive(Default)]
pub struct Proven {
    /// The arms proven on every scenario, loaded, in plan order.
    pub arms: Vec<LoadedArm>,
    /// Per scenario (the filter's order), per proven arm (the order of `arms`): the verified
    /// outcome of the first request, which a measured VM's first request must reproduce.
    pub outcomes: Vec<Vec<Step>>,
    /// Per scenario: its harness, when the plan wants one and it took a proven arm's path.
    pub harness: Vec<Option<LoadedArm>>,
}

impl Proven {
    /// The verified first outcome of `arm` on scenario `i`.
    pub fn outcome(&self, i: usize, arm: &str) -> Option<&Step> {
        let k = self.arms.iter().position(|a| a.name == arm)?;
        self.outcomes.get(i)?.get(k)
    }

    /// Scenario `i`'s arms to measure: every proven arm with its verified outcome, then the
    /// harness (which has no outcome of its own: it mirrors a path).
    pub fn arms_of(&self, i: usize) -> Vec<(&LoadedArm, Option<&Step>)> {
        let mut v: Vec<(&LoadedArm, Option<&Step>)> = self
            .arms
            .iter()
            .zip(&self.outcomes[i])
            .map(|(a, s)| (a, Some(s)))
            .collect();
        if let Some(h) = &self.harness[i] {
            v.push((h, None));
        }
        v
    }
}

/// Loads `arms` and proves each on every scenario of `scenarios` (one filter's).
pub fn prove(
    plan: &Plan,
    scenarios: &[&Scenario],
    arms: &[String],
    process: u32,
    out: &mut WorkerOutput,
) -> Proven {
    let Some(first) = scenarios.first() else {
        return Proven::default();
    };
    let filter = first.filter.as_str();
    let mut loaded = Vec::new();
    for name in arms {
        match engines::engine(name, &plan.limits).and_then(|e| {
            let module = e.load(&first.artifacts)?;
            Ok((e, module))
        }) {
            Ok((e, module)) => loaded.push(LoadedArm {
                name: name.clone(),
                module,
                engine: Some(e),
            }),
            Err(e) => out.fail_at(
                &At::new(filter, "", name, Phase::Request, process),
                Stage::Load,
                e.to_string(),
            ),
        }
    }
    prove_loaded(plan, scenarios, loaded, process, out)
}

/// Proves arms already loaded on every scenario of `scenarios` (one filter's).
pub fn prove_loaded(
    plan: &Plan,
    scenarios: &[&Scenario],
    loaded: Vec<LoadedArm>,
    process: u32,
    out: &mut WorkerOutput,
) -> Proven {
    let Some(first) = scenarios.first() else {
        return Proven::default();
    };
    let filter = first.filter.as_str();
    // Each arm proves in a thread of its own: a filter that loops costs every arm its CPU bound
    // (seconds each), paid side by side rather than one arm after another. A thread stops at
    // its arm's first failure.
    let checked: Vec<Vec<Result<Step, Refusal>>> = std::thread::scope(|s| {
        let threads: Vec<_> = loaded
            .iter()
            .map(|arm| {
                s.spawn(move || {
                    let mut v = Vec::new();
                    for sc in scenarios {
                        let r = sc.check(arm.module.as_ref());
                        let failed = r.is_err();
                        v.push(r);
                        if failed {
                            break;
                        }
                    }
                    v
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut checked: Vec<_> = checked.into_iter().map(Vec::into_iter).collect();
    // Per arm: its outcome on each scenario, or None once it failed one.
    let mut outcomes: Vec<Option<Vec<Step>>> = loaded.iter().map(|_| Some(Vec::new())).collect();
    for sc in scenarios {
        // A filter without fixtures must at least behave the same on every arm.
        let mut reference: Option<(&str, Step)> = None;
        for ((arm, got), results) in loaded.iter().zip(outcomes.iter_mut()).zip(&mut checked) {
            let Some(steps) = got else { continue };
            let step = results
                .next()
                .expect("a proof per scenario up to the arm's first failure")
                .map_err(|e| refusal(arm, e))
                .and_then(|step| match &reference {
                    Some((ref_arm, want)) if sc.byo && *want != step => Err(format!(
                        "outcome differs from {ref_arm}'s on the same request"
                    )),
                    Some(_) => Ok(step),
                    None => {
                        reference = Some((&arm.name, step.clone()));
                        Ok(step)
                    }
                });
            match step {
                Ok(step) => steps.push(step),
                Err(e) => {
                    let at = At::new(filter, &sc.name, &arm.name, Phase::Request, process);
                    out.fail_at(&at, Stage::Verify, e);
                    *got = None;
                }
            }
        }
    }
    let mut proven = Proven::default();
    let mut per_arm = Vec::new();
    for (arm, steps) in loaded.into_iter().zip(outcomes) {
        if let Some(steps) = steps {
            proven.arms.push(arm);
            per_arm.push(steps);
        }
    }
    proven.outcomes = (0..scenarios.len())
        .map(|i| per_arm.iter().map(|steps| steps[i].clone()).collect())
        .collect();
    proven.harness = scenarios
        .iter()
        .map(|sc| {
            if !plan.harness {
                return None;
            }
            let at = At::new(filter, &sc.name, arm::HARNESS, Phase::Request, process);
            let Some(first) = proven.arms.first() else {
                out.fail_at(
                    &at,
                    Stage::Verify,
                    "no arm passed, so there is no path for the harness to mirror",
                );
                return None;
            };
            harness_arm(sc, first)
                .map_err(|e| out.fail_at(&at, Stage::Verify, e))
                .ok()
        })
        .collect();
    proven
}

/// The harness for this scenario: the callbacks of a real arm's request replayed empty, so it
/// takes the path the filter takes (a local reply skips the upstream half) and no other.
fn harness_arm(sc: &Scenario, reference: &LoadedArm) -> Result<LoadedArm, String> {
    let module = harness_module(sc, reference.module.as_ref(), &reference.name)?;
    Ok(LoadedArm {
        name: arm::HARNESS.into(),
        module: Box::new(module),
        engine: None,
    })
}

/// The harness module of [`harness_arm`], mirroring `reference` (named `name`): what the timed
/// pipeline and the instruction counts (`filterbench instructions`) subtract alike.
pub fn harness_module(
    sc: &Scenario,
    reference: &dyn crate::engines::LoadedModule,
    name: &str,
) -> Result<NullModule, String> {
    let mut vm = sc.start_vm(reference)?;
    let (step, script) = vm.traced(|vm| sc.run_once(vm));
    let step = step.map_err(|e| e.to_string())?;
    let module = NullModule::scripted(script).ticking(vm.host().tick_period_ms);
    let mut vm = sc.start_vm(&module)?;
    let mirrored = sc.run_once(&mut vm).map_err(|e| e.to_string())?;
    let path = |s: &Step| match s {
        Step::Http(o) => Some((o.local_reply.is_some(), false)),
        Step::Tcp(o) => Some((false, o.closed)),
        Step::Tick(_) => Some((false, false)),
        Step::Failed(_) => None,
    };
    if path(&mirrored) != path(&step) {
        return Err(format!(
            "the harness did not take {name}'s path (local reply, closed)"
        ));
    }
    Ok(module)
}

/// A failed proof as the results say it; the CPU bound with the arm's own bound.
fn refusal(arm: &LoadedArm, e: Refusal) -> String {
    match e {
        Refusal::CpuBound(callback) => {
            let bound = arm
                .engine
                .as_ref()
                .map_or("no bound".into(), |e| bound(&e.flags()));
            format!("{callback} ran past the CPU bound ({bound}); not measured")
        }
        Refusal::Failed(m) => m,
    }
}

/// The CPU bound of an engine's flags (`cpu=epoch(2000ms) mem=…`), in words.
fn bound(flags: &str) -> String {
    let cpu = flags.split_whitespace().next().unwrap_or("");
    let Some((kind, n)) = cpu
        .strip_prefix("cpu=")
        .and_then(|c| c.strip_suffix(')'))
        .and_then(|c| c.split_once('('))
    else {
        return cpu.to_string();
    };
    let count = |n: &str| match n.parse::<u64>() {
        Ok(v) if v >= 1_000_000_000 && v % 1_000_000_000 == 0 => {
            format!("{} billion", v / 1_000_000_000)
        }
        Ok(v) if v >= 1_000_000 && v % 1_000_000 == 0 => format!("{} million", v / 1_000_000),
        _ => n.to_string(),
    };
    match (kind, n.strip_suffix("ms").map(str::parse::<u64>)) {
        ("epoch", Some(Ok(ms))) if ms % 1000 == 0 => format!("{} s deadline", ms / 1000),
        ("epoch", _) => format!("{n} deadline"),
        ("metering", _) => format!("{} metering points", count(n)),
        _ => format!("{} {kind}", count(n)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bounds_read_in_words() {
        assert_eq!(super::bound("cpu=epoch(2000ms) mem=256MiB"), "2 s deadline");
        assert_eq!(super::bound("cpu=epoch(250ms)"), "250ms deadline");
        assert_eq!(
            super::bound("cpu=metering(10000000000) mem=256MiB"),
            "10 billion metering points"
        );
        assert_eq!(super::bound("cpu=fuel(20000000)"), "20 million fuel");
        assert_eq!(super::bound("cpu=off"), "cpu=off");
    }
}
