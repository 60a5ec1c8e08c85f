//! Bencher Metric Format: `{"<bench>": {"<measure>": {"value", "lower_value", "upper_value"}}}`,
//! the mean over worker processes and its 95% confidence interval.

use std::collections::BTreeMap;

use filterbench_results::Results;
use serde::Serialize;

use super::{Exporter, measures};
use crate::ReportError;

pub struct BmfExporter;

#[derive(Serialize)]
struct Metric {
    value: f64,
    lower_value: f64,
    upper_value: f64,
}

impl Exporter for BmfExporter {
    fn serialize(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let mut out: BTreeMap<String, BTreeMap<String, Metric>> = BTreeMap::new();
        for m in measures(results) {
            let e = m.estimate;
            out.entry(m.bench).or_default().insert(
                m.measure,
                Metric {
                    value: e.mean,
                    lower_value: e.ci_low,
                    upper_value: e.ci_high,
                },
            );
        }
        serde_json::to_vec_pretty(&out).map_err(|source| ReportError::Json {
            format: "bmf",
            source,
        })
    }
}
