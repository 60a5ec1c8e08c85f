//! The instrumented per-request breakdown (`filterbench profile`, and the `profile` phase of a
//! run): where one request's time goes on an arm — guest code, host functions, the driver
//! around the callbacks — and what crossed the boundary. Stored as ordinary rows of phase
//! [`Phase::Profile`], so reports read it like any other figure; the diagnosis is computed here once
//! for the CLI and the report.

use std::collections::BTreeMap;

use crate::vocab::{Metric, Phase};
use crate::{At, Batch, Row};

/// One arm's breakdown, per request (means over the profiled requests).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Breakdown {
    /// Wall time per request, instrumentation included.
    pub total_ns: f64,
    /// Inside callbacks but not in host functions: the guest's own code and its allocator.
    pub guest_ns: f64,
    /// Inside host functions.
    pub host_ns: f64,
    /// Outside callbacks: the driver, VM entry/exit trampolines, bookkeeping.
    pub driver_ns: f64,
    pub host_calls: f64,
    pub bytes_out_of_guest: f64,
    pub bytes_into_guest: f64,
    /// Calls to the guest allocator made by the host (to hand it buffers).
    pub guest_allocs: f64,
    /// Linear-memory growth over the whole profiled run, bytes.
    pub memory_growth: f64,
    pub callbacks: f64,
    /// Calls per request of each host function.
    pub calls: BTreeMap<String, f64>,
}

impl Breakdown {
    /// The scalar figures with their metrics (everything but the per-function calls).
    fn scalars(&mut self) -> [(Metric, &mut f64); 10] {
        [
            (Metric::Total, &mut self.total_ns),
            (Metric::Guest, &mut self.guest_ns),
            (Metric::Host, &mut self.host_ns),
            (Metric::Driver, &mut self.driver_ns),
            (Metric::HostCalls, &mut self.host_calls),
            (Metric::BytesOutOfGuest, &mut self.bytes_out_of_guest),
            (Metric::BytesIntoGuest, &mut self.bytes_into_guest),
            (Metric::GuestAllocs, &mut self.guest_allocs),
            (Metric::MemoryGrowth, &mut self.memory_growth),
            (Metric::Callbacks, &mut self.callbacks),
        ]
    }

    /// Records the breakdown at `at` (its phase becomes [`Phase::Profile`]).
    pub fn record(&self, out: &mut Batch, at: &At) {
        let at = at.phase(Phase::Profile);
        let mut me = self.clone();
        for (metric, value) in me.scalars() {
            if metric == Metric::MemoryGrowth && value.is_nan() {
                out.absent(
                    &at,
                    metric,
                    "this arm has no guest linear memory (a native build)",
                );
            } else {
                out.record(&at, metric, *value);
            }
        }
        for (f, n) in &self.calls {
            out.record(&at, Metric::calls(f), *n);
        }
    }

    /// The breakdown as rows of phase [`Phase::Profile`].
    pub fn rows(&self, filter: &str, scenario: &str, arm: &str, process: u32) -> Vec<Row> {
        let mut out = Batch::default();
        self.record(
            &mut out,
            &At::new(filter, scenario, arm, Phase::Profile, process),
        );
        out.rows
    }

    /// Rebuilds the breakdown of one filter × scenario × arm from rows (means over processes).
    pub fn from_rows<'a>(
        rows: impl IntoIterator<Item = &'a Row>,
        filter: &str,
        scenario: &str,
        arm: &str,
    ) -> Option<Breakdown> {
        let mut sums: BTreeMap<&Metric, (f64, u32)> = BTreeMap::new();
        for r in rows {
            if r.phase == Phase::Profile
                && r.filter == filter
                && r.scenario == scenario
                && r.arm == arm
            {
                let e = sums.entry(&r.metric).or_default();
                e.0 += r.value;
                e.1 += 1;
            }
        }
        if sums.is_empty() {
            return None;
        }
        let mut b = Breakdown::default();
        for (metric, (sum, n)) in sums {
            let mean = sum / f64::from(n);
            if let Some(f) = metric.function() {
                b.calls.insert(f.to_string(), mean);
            } else if let Some((_, v)) = b.scalars().into_iter().find(|(m, _)| m == metric) {
                *v = mean;
            }
        }
        Some(b)
    }

    /// The parts of the time, in stacking order.
    pub fn parts(&self) -> [(&'static str, f64); 3] {
        [
            ("guest code", self.guest_ns),
            ("host functions", self.host_ns),
            ("driver + VM entry/exit", self.driver_ns),
        ]
    }

    /// The most called host functions, most first.
    pub fn top_calls(&self, n: usize) -> Vec<(&str, f64)> {
        let mut v: Vec<(&str, f64)> = self.calls.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v.truncate(n);
        v
    }

    /// One line saying where this arm's extra time over `native` goes.
    pub fn diagnosis(&self, arm: &str, native: &Breakdown) -> String {
        let extra = self.total_ns - native.total_ns;
        if extra <= 0.0 {
            return format!(
                "{arm}: no extra time over native ({} vs {} per request)",
                ns(self.total_ns),
                ns(native.total_ns)
            );
        }
        let mine = self.parts();
        let theirs = native.parts();
        let (i, d) = (0..3)
            .map(|i| (i, mine[i].1 - theirs[i].1))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("three parts");
        let detail = match i {
            0 if self.guest_allocs >= 0.05 => format!(
                "; the host also called the guest allocator {:.1} times per request",
                self.guest_allocs
            ),
            0 => String::new(),
            1 => format!(
                " ({:.0} calls; {} copied out of and {} into guest memory per request)",
                self.host_calls,
                bytes(self.bytes_out_of_guest),
                bytes(self.bytes_into_guest)
            ),
            _ => format!(" ({:.0} callbacks per request)", self.callbacks),
        };
        if d > extra {
            return format!(
                "{arm}: the extra {} per request is all {} (+{}; the other parts are {} faster \
                 than native's){detail}",
                ns(extra),
                mine[i].0,
                ns(d),
                ns(d - extra)
            );
        }
        format!(
            "{arm}: {:.0}% of the extra {} per request is {}{detail}",
            d / extra * 100.0,
            ns(extra),
            mine[i].0
        )
    }
}

fn ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} ms", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.2} µs", v / 1e3)
    } else {
        format!("{v:.0} ns")
    }
}

fn bytes(b: f64) -> String {
    if b >= 1048576.0 {
        format!("{:.1} MiB", b / 1048576.0)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(total: f64, guest: f64, host: f64, out: f64) -> Breakdown {
        Breakdown {
            total_ns: total,
            guest_ns: guest,
            host_ns: host,
            driver_ns: total - guest - host,
            host_calls: 4.0,
            bytes_out_of_guest: out,
            callbacks: 3.0,
            calls: [("proxy_log".to_string(), 2.0)].into(),
            ..Default::default()
        }
    }

    #[test]
    fn rows_round_trip() {
        let b = sample(1000.0, 300.0, 500.0, 64.0);
        let mut rows = b.rows("f", "s", "a", 0);
        rows.extend(b.rows("f", "s", "a", 1));
        rows.extend(sample(9.0, 1.0, 1.0, 1.0).rows("f", "s", "other", 0));
        assert_eq!(Breakdown::from_rows(&rows, "f", "s", "a"), Some(b));
        assert_eq!(Breakdown::from_rows(&rows, "f", "s", "none"), None);
    }

    #[test]
    fn diagnosis_names_the_largest_extra_part() {
        let native = sample(1000.0, 300.0, 500.0, 64.0);
        let wasm = sample(2000.0, 400.0, 1300.0, 1048576.0);
        let d = wasm.diagnosis("wasmtime", &native);
        assert_eq!(
            d,
            "wasmtime: 80% of the extra 1.00 µs per request is host functions \
             (4 calls; 1.0 MiB copied out of and 0 B into guest memory per request)"
        );
        assert!(native.diagnosis("native", &wasm).contains("no extra time"));
    }
}
