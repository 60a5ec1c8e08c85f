//! A criterion measurement in bytes of resident memory, so `memory/...` benches report what
//! each VM adds to the process (RSS from /proc/self/statm) instead of time.

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter};

use filterbench_runners::measure::probes::rss_bytes;

pub struct ResidentBytes;

/// A bench that measures memory cannot go on without it: no made-up value.
fn rss() -> u64 {
    rss_bytes().expect("resident set size from /proc/self/statm")
}

impl Measurement for ResidentBytes {
    type Intermediate = u64;
    // Signed: memory handed back while measuring is a real negative change, not a 0.
    type Value = i64;

    fn start(&self) -> u64 {
        rss()
    }
    fn end(&self, start: u64) -> i64 {
        rss() as i64 - start as i64
    }
    fn add(&self, a: &i64, b: &i64) -> i64 {
        a + b
    }
    fn zero(&self) -> i64 {
        0
    }
    fn to_f64(&self, v: &i64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &BytesFormatter
    }
}

struct BytesFormatter;

impl ValueFormatter for BytesFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical >= 1048576.0 {
            (1048576.0, "MiB")
        } else if typical >= 1024.0 {
            (1024.0, "KiB")
        } else {
            (1.0, "B")
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(&self, _: f64, _: &Throughput, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|_| {});
        "B/elem"
    }
    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "B"
    }
}
