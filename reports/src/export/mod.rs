//! Output formats, one small file each behind [`Exporter`], chosen through [`Format`] (the
//! shape of hyperfine's `src/export/`). Tracker formats share one naming of benchmarks and
//! measures ([`measures`]) so Bencher, github-action-benchmark and criterion agree.

mod bmf;
mod csv;
mod fortio;
mod gab;
mod hgrm;
mod html;
mod markdown;
mod openmetrics;

use std::str::FromStr;

use filterbench_results::Results;
use filterbench_results::stats::Estimate;

use crate::ReportError;
use crate::model::Analysis;
use filterbench_results::vocab::{ArmKind, Better, Metric, Phase};

/// Turns a whole results file into one output file's bytes.
pub trait Exporter {
    fn serialize(&self, results: &Results) -> Result<Vec<u8>, ReportError>;
}

/// Every output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The full report: tables and inline SVG charts in one self-contained file.
    Html,
    /// The summary sections as GitHub-flavoured Markdown (a CI job summary, a PR comment).
    Markdown,
    /// Every row of the results file.
    Csv,
    /// HdrHistogram percentile distributions, one block per stored histogram.
    Hgrm,
    /// Bencher Metric Format JSON.
    Bmf,
    /// github-action-benchmark `customSmallerIsBetter` (everything but throughput).
    GabSmaller,
    /// github-action-benchmark `customBiggerIsBetter` (throughput).
    GabBigger,
    /// Fortio's result JSON of every live-Envoy load run (an array, one document a run).
    Fortio,
    /// OpenMetrics text: every figure as gauges (mean and 95% CI bounds), ending in `# EOF`.
    OpenMetrics,
}

impl Format {
    pub const ALL: [Format; 9] = [
        Format::Html,
        Format::Markdown,
        Format::Csv,
        Format::Hgrm,
        Format::Bmf,
        Format::GabSmaller,
        Format::GabBigger,
        Format::Fortio,
        Format::OpenMetrics,
    ];
    pub const NAMES: [&'static str; 9] = [
        "html",
        "markdown",
        "csv",
        "hgrm",
        "bmf",
        "gab-smaller",
        "gab-bigger",
        "fortio",
        "openmetrics",
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|f| *f == self).unwrap_or(0)]
    }

    /// File-name suffix for the default output path (`<results stem>.<extension>`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Markdown => "md",
            Format::Csv => "csv",
            Format::Hgrm => "hgrm",
            Format::Bmf => "bmf.json",
            Format::GabSmaller => "gab-smaller.json",
            Format::GabBigger => "gab-bigger.json",
            Format::Fortio => "fortio.json",
            // The OpenMetrics text format has no registered extension; `.om.txt` says both
            // what it is and that it is text.
            Format::OpenMetrics => "om.txt",
        }
    }

    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Html => Box::new(html::HtmlExporter),
            Format::Markdown => Box::new(markdown::MarkdownExporter),
            Format::Csv => Box::new(csv::CsvExporter),
            Format::Hgrm => Box::new(hgrm::HgrmExporter),
            Format::Bmf => Box::new(bmf::BmfExporter),
            Format::GabSmaller => Box::new(gab::GabExporter { bigger: false }),
            Format::GabBigger => Box::new(gab::GabExporter { bigger: true }),
            Format::Fortio => Box::new(fortio::FortioExporter),
            Format::OpenMetrics => Box::new(openmetrics::OpenMetricsExporter),
        }
    }
}

impl FromStr for Format {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Format, ReportError> {
        Self::NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|i| Self::ALL[i])
            .ok_or_else(|| ReportError::UnknownFormat(s.to_string()))
    }
}

/// One tracked figure: a benchmark name as the criterion benches spell it, a measure, and the
/// estimate over worker processes.
#[derive(Clone, Debug, PartialEq)]
pub struct Measure {
    /// `lifecycle/<filter>/<scenario>/<arm>`, `coldstart/<phase>/<filter>/<arm>`,
    /// `memory/<filter>/<arm>`, `hostcall/<op>/<arm>`.
    pub bench: String,
    /// `latency` (p50 or a phase time), `throughput`, or the metric's own name; figures with
    /// several threads get a `_<n>t` suffix.
    pub measure: String,
    pub unit: String,
    pub bigger_is_better: bool,
    pub estimate: Estimate,
}

/// Every figure of the file as tracker measures, in a stable order.
pub fn measures(results: &Results) -> Vec<Measure> {
    let a = Analysis::new(results);
    let mut out = Vec::new();
    for (k, e) in &a.est {
        let with_scenario = |prefix: &str| {
            if k.scenario.is_empty() {
                format!("{prefix}/{}/{}", k.filter, k.arm)
            } else {
                format!("{prefix}/{}/{}/{}", k.filter, k.scenario, k.arm)
            }
        };
        let bench = match k.phase {
            Phase::Request => with_scenario("lifecycle"),
            Phase::Memory => with_scenario("memory"),
            Phase::Profile => with_scenario("profile"),
            phase => with_scenario(&format!("coldstart/{phase}")),
        };
        let mut measure = match (k.phase, k.metric) {
            (Phase::Request, Metric::LatencyP50) | (_, Metric::Time) => "latency".to_string(),
            (_, m) => m.name().to_string(),
        };
        if k.threads > 1 {
            measure = format!("{measure}_{}t", k.threads);
        }
        out.push(Measure {
            bench,
            measure,
            unit: k.metric.unit().name().to_string(),
            bigger_is_better: k.metric.better() == Better::Higher,
            estimate: *e,
        });
    }
    // Host-call cost per call, derived (see the report's host-call section).
    let ops = a.hostcall_ops();
    for op in ops {
        for arm in a.arms.iter().filter(|x| x.kind != ArmKind::Harness) {
            if let Some(e) = a.hostcall_cost(op, &arm.name) {
                out.push(Measure {
                    bench: format!("hostcall/{op}/{}", arm.name),
                    measure: "latency".into(),
                    unit: "ns".into(),
                    bigger_is_better: false,
                    estimate: e,
                });
            }
        }
    }
    out.retain(|m| m.estimate.mean.is_finite());
    out
}
