//! The search for the highest rate that keeps a latency percentile under a bound, as a state
//! machine fed one probe at a time (so several variants' searches can be interleaved):
//! an exponential ramp from the lowest rate until a probe breaks the bound, then bisection
//! between the highest passing and the lowest failing rate until they are within the
//! precision (Nighthawk's exponential-search step controller, our own code).

/// What the search wants next, or where it ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// Probe this rate (requests/s) and [`Search::record`] whether it kept the bound.
    Probe(f64),
    /// The highest rate that kept the bound; the lowest that broke it is within the precision.
    Found(f64),
    /// The lowest rate itself broke the bound: no sustainable rate to give.
    BrokenAtStart(f64),
    /// Still under the bound at the highest rate the search tries: the knee lies above it.
    AtCeiling(f64),
}

/// How the search moves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    /// The first and lowest rate tried.
    pub start: f64,
    /// The ramp's multiplier (> 1).
    pub factor: f64,
    /// The highest rate tried.
    pub ceiling: f64,
    /// Stop once (lowest failing − highest passing) ≤ precision × highest passing.
    pub precision: f64,
}

/// One variant's search.
#[derive(Clone, Debug)]
pub struct Search {
    b: Bounds,
    /// The highest rate that kept the bound so far.
    pass: Option<f64>,
    /// The lowest rate that broke it so far.
    fail: Option<f64>,
}

impl Search {
    pub fn new(b: Bounds) -> Search {
        Search {
            b,
            pass: None,
            fail: None,
        }
    }

    pub fn next(&self) -> Step {
        let b = &self.b;
        match (self.pass, self.fail) {
            (None, None) => Step::Probe(b.start),
            (None, Some(f)) if f <= b.start => Step::BrokenAtStart(b.start),
            // A break above the start took back every pass (see `record`): from the start again.
            (None, Some(_)) => Step::Probe(b.start),
            (Some(p), None) if p >= b.ceiling => Step::AtCeiling(p),
            (Some(p), None) => Step::Probe((p * b.factor.max(1.01)).min(b.ceiling)),
            (Some(p), Some(f)) if f - p <= b.precision * p => Step::Found(p),
            (Some(p), Some(f)) => Step::Probe((p + f) / 2.0),
        }
    }

    /// Whether the probe at `rate` kept the bound. The newer reading wins, so the bracket stays
    /// ordered: a pass above a failure (noise) moves the failure up; a failure at or under the
    /// highest pass takes the pass back, and the search starts again from the lowest rate under
    /// it (no rate is given above a break; only a break of the lowest rate itself gives
    /// [`Step::BrokenAtStart`]).
    pub fn record(&mut self, rate: f64, kept: bool) {
        if kept {
            self.pass = Some(self.pass.map_or(rate, |p| p.max(rate)));
            if self.fail.is_some_and(|f| f <= rate) {
                self.fail = None;
            }
        } else {
            self.fail = Some(self.fail.map_or(rate, |f| f.min(rate)));
            if self.pass.is_some_and(|p| p >= rate) {
                self.pass = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Bounds = Bounds {
        start: 1000.0,
        factor: 2.0,
        ceiling: 1e6,
        precision: 0.05,
    };

    /// Runs a search against a latency model; returns where it ended and the probes it made.
    fn run(b: Bounds, p99_at: impl Fn(f64) -> f64, bound: f64) -> (Step, usize) {
        let mut s = Search::new(b);
        for probes in 0..100 {
            match s.next() {
                Step::Probe(r) => s.record(r, p99_at(r) <= bound),
                end => return (end, probes),
            }
        }
        panic!("the search did not end in 100 probes");
    }

    /// A queue's p99 (M/M/1-like): flat well below capacity, without bound near it.
    fn queue(capacity: f64) -> impl Fn(f64) -> f64 {
        move |r| {
            if r >= capacity {
                f64::INFINITY
            } else {
                100e3 / (1.0 - r / capacity)
            }
        }
    }

    #[test]
    fn finds_the_knee_within_the_precision() {
        for capacity in [1_500.0, 9_000.0, 23_456.0, 400_000.0] {
            let model = queue(capacity);
            // The knee: the rate where p99 reaches 2 ms.
            let knee = capacity * (1.0 - 100e3 / 2e6);
            let (end, probes) = run(B, &model, 2e6);
            let Step::Found(r) = end else {
                panic!("{capacity}: {end:?}")
            };
            assert!(r <= knee, "{capacity}: {r} is above the knee {knee}");
            assert!(
                r >= knee / (1.0 + B.precision),
                "{capacity}: {r} is more than 5% under the knee {knee}"
            );
            assert!(probes < 20, "{capacity}: {probes} probes");
        }
    }

    #[test]
    fn a_bound_broken_at_the_lowest_rate_gives_no_rate() {
        let (end, probes) = run(B, |_| 3e6, 2e6);
        assert_eq!((end, probes), (Step::BrokenAtStart(1000.0), 1));
        // Just under the start is still broken at the start.
        assert_eq!(run(B, queue(1000.0), 2e6).0, Step::BrokenAtStart(1000.0));
    }

    #[test]
    fn a_knee_above_the_ceiling_is_said_so() {
        let b = Bounds {
            ceiling: 50_000.0,
            ..B
        };
        assert_eq!(run(b, queue(1e9), 2e6).0, Step::AtCeiling(50_000.0));
    }

    #[test]
    fn a_failure_under_a_pass_restarts_from_the_start_not_broken_at_it() {
        let mut s = Search::new(B);
        s.record(1000.0, true);
        s.record(2000.0, true);
        s.record(1500.0, false);
        // The start kept the bound: it is probed again, not said broken.
        assert_eq!(s.next(), Step::Probe(1000.0));
        s.record(1000.0, true);
        assert_eq!(s.next(), Step::Probe(1250.0));
        // Only the start itself breaking gives no rate.
        s.record(1000.0, false);
        assert_eq!(s.next(), Step::BrokenAtStart(1000.0));
    }

    #[test]
    fn a_noisy_pass_above_a_failure_keeps_the_bracket_ordered() {
        let mut s = Search::new(B);
        s.record(1000.0, true);
        s.record(4000.0, false);
        s.record(5000.0, true);
        assert_eq!(s.next(), Step::Probe(10_000.0));
        s.record(10_000.0, false);
        assert_eq!(s.next(), Step::Probe(7_500.0));
    }
}
