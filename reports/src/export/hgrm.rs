//! HdrHistogram percentile-distribution text (`.hgrm`), written from the stored quantile
//! points. All histograms go into one file, one block per stored histogram (per filter ×
//! scenario × arm × worker process); each block opens with a `# filterbench histogram` line
//! naming it, then is exactly what HdrHistogram's `outputPercentileDistribution` prints, values
//! in microseconds (recorded in ns, scaling ratio 1000). Split at the `# filterbench histogram`
//! lines to feed one block to an .hgrm plotter.

use std::fmt::Write;

use filterbench_results::Results;

use super::Exporter;
use crate::ReportError;
use crate::model::cumulative;

pub struct HgrmExporter;

/// Marks the start of each block.
pub const BLOCK_MARK: &str = "# filterbench histogram";
const SCALE: f64 = 1000.0;

impl Exporter for HgrmExporter {
    fn serialize(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let mut out = String::new();
        for h in &results.histograms {
            let _ = writeln!(
                out,
                "{BLOCK_MARK} filter={} scenario={} arm={} process={} unit=us",
                h.filter, h.scenario, h.arm, h.process
            );
            let _ = writeln!(
                out,
                "{:>12} {:>14} {:>10} {:>14}\n",
                "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
            );
            for (q, v, total) in cumulative(h) {
                let value = v as f64 / SCALE;
                if q < 1.0 {
                    let _ = writeln!(
                        out,
                        "{value:12.3} {q:2.12} {total:10} {:14.2}",
                        1.0 / (1.0 - q)
                    );
                } else {
                    let _ = writeln!(out, "{value:12.3} {q:2.12} {total:10}");
                }
            }
            let _ = writeln!(
                out,
                "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
                h.mean_ns / SCALE,
                h.stdev_ns / SCALE
            );
            let _ = writeln!(
                out,
                "#[Max     = {:12.3}, Total count    = {:12}]",
                h.max_ns as f64 / SCALE,
                h.count
            );
            out.push('\n');
        }
        Ok(out.into_bytes())
    }
}
