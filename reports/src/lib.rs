//! Reports over filterbench results files. Reads only `filterbench-results`: an HTML report with
//! inline SVG charts, exporters for other tools (one file each behind [`export::Exporter`]),
//! and [`compare::compare`] for run-to-run regressions.

pub mod charts;
pub mod compare;
pub mod doc;
pub mod export;
pub mod format;
pub mod html;
pub mod model;
pub mod net;
pub mod report;
pub mod terminal;

pub use compare::{Comparison, Thresholds, Verdict, compare};
pub use export::{Exporter, Format};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("drawing a chart failed: {0}")]
    Chart(String),
    #[error("rendering HTML failed: {0}")]
    Template(String),
    #[error("serializing {format} failed: {source}")]
    Json {
        format: &'static str,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Implausible(#[from] filterbench_results::Refused),
    #[error("unknown format `{0}` (known: {known})", known = Format::NAMES.join(", "))]
    UnknownFormat(String),
}
