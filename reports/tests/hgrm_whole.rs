//! `--format hgrm` on a file that keeps whole histograms: each process's block is HdrHistogram's
//! full percentile distribution, and each run gets a block merged exactly over its processes.

use filterbench_reports::Format;
use filterbench_results::hdrhistogram::Histogram as Hdr;
use filterbench_results::{Histogram, Results};

fn blocks(r: &Results) -> Vec<String> {
    let text = String::from_utf8(Format::Hgrm.exporter().serialize(r).unwrap()).unwrap();
    text.split("# filterbench histogram")
        .filter(|b| !b.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// (value in µs, cumulative count) of a block's data lines.
fn lines(block: &str) -> Vec<(f64, u64)> {
    block
        .lines()
        .skip(3)
        .take_while(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn whole_histograms_print_in_full_and_merge_exactly() {
    let mut r = Results::new();
    let mut all = Hdr::<u64>::new_with_bounds(1, 100_000_000_000, 3).unwrap();
    for p in 0..3u32 {
        let mut h = Hdr::<u64>::new_with_bounds(1, 100_000_000_000, 3).unwrap();
        for i in 0..5_000u64 {
            h.record(10_000 * u64::from(p + 1) + i).unwrap();
        }
        all.add(&h).unwrap();
        r.histograms
            .push(Histogram::from_hdr("f", "s", "wasmi", p, &h));
    }
    let bs = blocks(&r);
    assert_eq!(bs.len(), 3 + 1);
    for (b, h) in bs.iter().zip(&r.histograms) {
        // Five ticks per half distance: many more lines than the stored points.
        assert!(lines(b).len() > 2 * h.points.len(), "{b}");
        assert_eq!(lines(b).last().unwrap().1, h.count);
    }
    let merged = &bs[3];
    assert!(merged.starts_with(" filter=f scenario=s arm=wasmi process=all unit=us"));
    let data = lines(merged);
    assert_eq!(data.last().unwrap().1, 15_000);
    // The median line is the median of all requests, which no process's own points hold.
    let median = data.iter().find(|(_, c)| *c >= 7_500).unwrap().0;
    assert_eq!(median, all.value_at_quantile(0.5) as f64 / 1000.0);
    assert!(merged.contains(&format!("Total count    = {:>12}]", 15_000)));

    // Without whole histograms there is nothing to merge exactly, and no merged block.
    for h in &mut r.histograms {
        h.hdr_base64 = None;
    }
    assert_eq!(blocks(&r).len(), 3);
}
