//! A criterion measurement in bytes of resident memory, so `memory/...` benches report what
//! each VM adds to the process (RSS from /proc/self/statm) instead of time.

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter};

use filterbench_runners::measure::probes::rss_bytes;

pub struct ResidentBytes;

impl Measurement for ResidentBytes {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        rss_bytes()
    }
    fn end(&self, start: u64) -> u64 {
        rss_bytes().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
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
