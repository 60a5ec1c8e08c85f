//! github-action-benchmark's custom tools: `customSmallerIsBetter` (latency, CPU, time, memory)
//! and `customBiggerIsBetter` (throughput), each an array of
//! `{"name", "unit", "value", "range", "extra"}`.

use filterbench_results::Results;
use serde::Serialize;

use super::{Exporter, measures};
use crate::ReportError;

pub struct GabExporter {
    /// True for `customBiggerIsBetter`.
    pub bigger: bool,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    unit: String,
    value: f64,
    range: String,
    extra: String,
}

impl Exporter for GabExporter {
    fn serialize(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let entries: Vec<Entry> = measures(results)
            .into_iter()
            .filter(|m| m.bigger_is_better == self.bigger)
            .map(|m| {
                let e = m.estimate;
                Entry {
                    name: format!("{} {}", m.bench, m.measure),
                    unit: m.unit,
                    value: e.mean,
                    range: format!("± {}", (e.ci_high - e.ci_low) / 2.0),
                    extra: format!(
                        "mean of {} worker processes; 95% CI [{}, {}]; median {}",
                        e.n, e.ci_low, e.ci_high, e.median
                    ),
                }
            })
            .collect();
        serde_json::to_vec_pretty(&entries).map_err(|source| ReportError::Json {
            format: if self.bigger {
                "gab-bigger"
            } else {
                "gab-smaller"
            },
            source,
        })
    }
}
