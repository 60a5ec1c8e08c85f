//! When the steady state's timed passes of an arm stop (adaptive sampling): once its net CPU
//! per request is known to the plan's precision within the process, or at the cap.

use std::time::Duration;

use filterbench_results::stats::{Estimate, estimate};

use super::Plan;

/// Samples the latency pass aims for: the p99.9 floor (see the steady state's `TAIL_SAMPLES`).
pub(crate) const P999_SAMPLES: u64 = 10_000;

/// When an arm's timed passes stop.
pub(crate) struct Stopping {
    /// One batch (latency) turn of a round.
    pub turn: Duration,
    pub min_rounds: u32,
    /// Each pass's share of the plan's `measure`.
    pub cap_ns: u64,
    /// Target half-width of the 95% CI of net CPU per request, relative to it (0: none, the
    /// passes run to the cap).
    pub precision: f64,
}

impl Stopping {
    pub fn of(plan: &Plan) -> Stopping {
        let min_rounds = plan.rounds.max(1);
        let cap = plan.measure / 2;
        Stopping {
            // Without a precision target, the rounds split the cap evenly, as fixed-time
            // runs always did.
            turn: if plan.precision > 0.0 {
                plan.turn.min(cap / min_rounds)
            } else {
                cap / min_rounds
            },
            min_rounds,
            cap_ns: cap.as_nanos() as u64,
            precision: plan.precision,
        }
    }

    /// Whether `rounds` (net of the harness's same rounds, where there is a harness) give CPU
    /// per request within the target.
    pub fn precise(
        &self,
        rounds: &[Option<(u64, u64)>],
        harness: Option<&[Option<(u64, u64)>]>,
    ) -> bool {
        self.precision > 0.0
            && net_interval(rounds, harness)
                .is_some_and(|e| e.mean > 0.0 && e.relative_ci() <= self.precision)
    }
}

/// The interval of net CPU per request over the rounds (see [`net_rounds`]): what stopping
/// judges and what the results record at the stop. `None` without two paired rounds.
pub(crate) fn net_interval(
    rounds: &[Option<(u64, u64)>],
    harness: Option<&[Option<(u64, u64)>]>,
) -> Option<Estimate> {
    net_rounds(rounds, harness).and_then(|v| estimate(&v))
}

/// Per-request CPU of each round, minus the harness's in the same round (rounds where either
/// sat out are left out). `None` without two such rounds.
pub(crate) fn net_rounds(
    rounds: &[Option<(u64, u64)>],
    harness: Option<&[Option<(u64, u64)>]>,
) -> Option<Vec<f64>> {
    let per =
        |r: &Option<(u64, u64)>| r.and_then(|(n, cpu)| (n > 0).then(|| cpu as f64 / n as f64));
    let v: Vec<f64> = rounds
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let a = per(r)?;
            match harness {
                None => Some(a),
                Some(h) => Some(a - per(h.get(i)?)?),
            }
        })
        .collect();
    (v.len() >= 2).then_some(v)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Stopping, net_rounds};

    fn stop(precision: f64) -> Stopping {
        Stopping {
            turn: Duration::from_millis(10),
            min_rounds: 3,
            cap_ns: 100_000_000,
            precision,
        }
    }

    #[test]
    fn rounds_are_netted_round_by_round_and_skip_rounds_sat_out() {
        let arm = [Some((10, 3_000)), None, Some((20, 5_000)), Some((0, 0))];
        let harness = [
            Some((10, 1_000)),
            Some((10, 1_000)),
            Some((10, 2_000)),
            None,
        ];
        // Round 0: 300 - 100; round 1 sat out; round 2: 250 - 200; round 3 ran no request.
        assert_eq!(net_rounds(&arm, Some(&harness)), Some(vec![200.0, 50.0]));
        assert_eq!(net_rounds(&arm, None), Some(vec![300.0, 250.0]));
        assert_eq!(net_rounds(&arm[..1], None), None);
    }

    #[test]
    fn without_a_target_the_rounds_split_the_cap_evenly() {
        let mut plan = crate::measure::Plan::quick();
        plan.measure = Duration::from_millis(300);
        plan.rounds = 3;
        plan.precision = 0.0;
        assert_eq!(Stopping::of(&plan).turn, Duration::from_millis(50));
        plan.precision = 0.02;
        plan.turn = Duration::from_millis(10);
        let s = Stopping::of(&plan);
        assert_eq!((s.turn, s.cap_ns), (Duration::from_millis(10), 150_000_000));
    }

    #[test]
    fn an_arm_stops_on_a_tight_net_interval_only() {
        let harness: Vec<_> = (0..4).map(|_| Some((100u64, 10_000u64))).collect();
        // Net 100 ns ± 1 ns: within 2%.
        let steady: Vec<_> = [20_000, 20_100, 19_900, 20_000]
            .iter()
            .map(|&c| Some((100u64, c)))
            .collect();
        assert!(stop(0.02).precise(&steady, Some(&harness)));
        // The same gross figures against a harness that takes most of them: a net of ~5 ns
        // moving by ±1 ns is not known to 2%.
        let heavy: Vec<_> = (0..4).map(|_| Some((100u64, 19_500u64))).collect();
        assert!(!stop(0.02).precise(&steady, Some(&heavy)));
        // No target: never precise enough to stop early.
        assert!(!stop(0.0).precise(&steady, Some(&harness)));
        // A net at or below zero is not a precise figure.
        let below: Vec<_> = (0..4).map(|_| Some((100u64, 20_500u64))).collect();
        assert!(!stop(0.02).precise(&steady, Some(&below)));
    }
}
