//! Decide, then stop: after the run's processes, a filter whose verdict is measured but not
//! decided (its 95% interval spans two bands) gets more processes of its live-Envoy part alone
//! — where the verdict's own-cost figure comes from — until it is decided or the cap is reached.
//! Time goes to the undecided filters only; every decided one keeps the run's processes.

use filterbench_results::Results;
use filterbench_results::vocab::arm;
use filterbench_runners::measure::Plan;

/// How many more processes at most, and the wall-clock budget for them.
#[derive(Clone, Copy, Debug)]
pub struct Cap {
    pub processes: u32,
    pub seconds: f64,
}

impl Cap {
    /// The profile's cap: quick spends at most 3 more processes and 90 s; full 5 and 20 min.
    pub fn for_profile(full: bool) -> Cap {
        if full {
            Cap {
                processes: 5,
                seconds: 1200.0,
            }
        } else {
            Cap {
                processes: 3,
                seconds: 90.0,
            }
        }
    }
}

/// How much longer an extra process's closed loop is than the run's: it runs 3 variants, not 5.
const LONGER: u32 = 2;

/// The filters that need another process, or none when Envoy is not part of the run (the
/// in-process verdict rests on every arm's processes alike).
pub fn undecided(plan: &Plan, results: &Results) -> Vec<String> {
    if plan.envoy.is_none() {
        return Vec::new();
    }
    filterbench_reports::report::undecided(results)
}

/// The plan of one more process: `filters`' closed-loop Envoy variants only — no in-process
/// arm, no harness, no per-worker scaling, open loop, wrk cross-check or max-rate search (those
/// were measured by the run's processes and no verdict rests on them).
pub fn envoy_only(plan: &Plan, filters: &[String]) -> Plan {
    let mut p = plan.clone();
    // A brought module is the run's one filter, named by the module itself.
    if p.byo.is_none() {
        p.filters = filters.to_vec();
    }
    p.arms = Vec::new();
    p.harness = false;
    p.profile_requests = 0;
    p.max_rate = None;
    if let Some(e) = &mut p.envoy {
        e.scaling = Vec::new();
        e.rate_fractions = Vec::new();
        e.wrk = false;
        // The verdict needs V8 and its references only (they always run: no filter, the native
        // builds); Lua is left out, and its time goes to a longer closed loop of those.
        e.variants = vec![arm::ENVOY_WASM_V8.to_string()];
        e.duration *= LONGER;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extra_process_runs_envoy_alone_on_the_named_filters() {
        let mut plan = Plan::quick();
        plan.arms = vec!["native".into(), "wasmi".into()];
        plan.filters = vec!["add-header".into(), "noop".into()];
        // Without Envoy nothing is left undecided that more Envoy processes could decide.
        assert!(undecided(&plan, &Results::new()).is_empty());
        plan.envoy = Some(filterbench_runners::envoy::EnvoySettings {
            bin: "envoy".into(),
            version: "1.40.0".into(),
            concurrency: 1,
            connections: 4,
            duration: std::time::Duration::from_millis(600),
            rounds: 3,
            warmup: std::time::Duration::from_millis(100),
            rate_fractions: vec![0.5],
            rate_duration: std::time::Duration::from_millis(300),
            wrk: true,
            scaling: vec![1, 2],
            dir: "envoy".into(),
            under: Default::default(),
            variants: Vec::new(),
        });
        let p = envoy_only(&plan, &["noop".to_string()]);
        assert_eq!(p.filters, ["noop"]);
        assert!(p.arms.is_empty());
        assert!(!p.harness);
        assert_eq!(p.profile_requests, 0);
        let e = p.envoy.as_ref().expect("envoy settings kept");
        assert_eq!(e.variants, [arm::ENVOY_WASM_V8]);
        assert!(e.scaling.is_empty() && e.rate_fractions.is_empty() && !e.wrk);
        assert_eq!(e.duration, std::time::Duration::from_millis(1200));
    }
}
