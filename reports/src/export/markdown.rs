//! The report's summary sections (headline ratios, host-call cost, failures, machine,
//! reproduce) as Markdown, for a CI job summary or a pull-request comment.

use filterbench_results::Results;

use super::Exporter;
use crate::ReportError;

pub struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn serialize(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let page = crate::report::build(results)?;
        Ok(crate::doc::markdown(&page, true).into_bytes())
    }
}
