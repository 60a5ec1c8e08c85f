//! HdrHistogram percentile-distribution text (`.hgrm`). All histograms go into one file, one
//! block per stored histogram (per filter × scenario × arm × worker process), then, where the
//! file keeps whole histograms, one block per filter × scenario × arm merged exactly over its
//! processes (`process=all`). Each block opens with a `# filterbench histogram` line naming it,
//! then is what HdrHistogram's `outputPercentileDistribution` prints, values in microseconds
//! (recorded in ns, scaling ratio 1000): from the whole histogram at HdrHistogram's default of
//! 5 ticks per half distance where it is kept, else from the stored quantile points. Split at
//! the `# filterbench histogram` lines to feed one block to an .hgrm plotter.

use std::fmt::Write;

use filterbench_results::histogram::quantile_points;
use filterbench_results::{Hdr, Results};

use super::Exporter;
use crate::ReportError;
use crate::model::cumulative;

pub struct HgrmExporter;

/// Marks the start of each block.
pub const BLOCK_MARK: &str = "# filterbench histogram";
/// The `process=` of a block merged over every process.
pub const ALL_PROCESSES: &str = "all";
const SCALE: f64 = 1000.0;
/// HdrHistogram's default resolution of a percentile distribution.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// What one block prints: its points as (quantile, ns, cumulative count) and its summary.
struct Block {
    points: Vec<(f64, u64, u64)>,
    mean_ns: f64,
    stdev_ns: f64,
    max_ns: u64,
    count: u64,
}

impl Block {
    fn of_hdr(h: &Hdr) -> Block {
        let mut total = 0;
        let points = quantile_points(h, TICKS_PER_HALF_DISTANCE)
            .into_iter()
            .map(|(q, v, c)| {
                total += c;
                (q, v, total)
            })
            .collect();
        Block {
            points,
            mean_ns: h.mean(),
            stdev_ns: h.stdev(),
            max_ns: h.max(),
            count: h.len(),
        }
    }

    fn write(&self, out: &mut String, name: &str) {
        let _ = writeln!(out, "{BLOCK_MARK} {name} unit=us");
        let _ = writeln!(
            out,
            "{:>12} {:>14} {:>10} {:>14}\n",
            "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
        );
        for &(q, v, total) in &self.points {
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
            self.mean_ns / SCALE,
            self.stdev_ns / SCALE
        );
        let _ = writeln!(
            out,
            "#[Max     = {:12.3}, Total count    = {:12}]",
            self.max_ns as f64 / SCALE,
            self.count
        );
        out.push('\n');
    }
}

impl Exporter for HgrmExporter {
    fn serialize(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let mut out = String::new();
        for h in &results.histograms {
            let block = match h.decode() {
                Ok(whole) => Block::of_hdr(&whole),
                // A file from before whole histograms were kept: its quantile points.
                Err(_) => Block {
                    points: cumulative(h),
                    mean_ns: h.mean_ns,
                    stdev_ns: h.stdev_ns,
                    max_ns: h.max_ns,
                    count: h.count,
                },
            };
            let name = format!(
                "filter={} scenario={} arm={} process={}",
                h.filter, h.scenario, h.arm, h.process
            );
            block.write(&mut out, &name);
        }
        for run in results.histogram_runs() {
            // Only exact merges: mixing processes' points would be a different distribution.
            if let Ok(merged) = results.merged_histogram(run) {
                let name = format!(
                    "filter={} scenario={} arm={} process={ALL_PROCESSES}",
                    run.filter, run.scenario, run.arm
                );
                Block::of_hdr(&merged).write(&mut out, &name);
            }
        }
        Ok(out.into_bytes())
    }
}
