//! HdrHistogram-style latency percentile curves: x is the percentile on a log scale of
//! 1/(1−q), so 90%, 99%, 99.9%… are evenly spaced and the tail gets the room it deserves.

use plotters::prelude::*;

use super::{
    FONT, LEGEND_W, Series, decades, drawable, err, finish_svg, legend, log_label, log_start, once,
};
use crate::ReportError;
use crate::format;

/// One arm's curve: (fraction at or below, latency ns) and the number of samples.
pub struct Line {
    pub series: Series,
    pub points: Vec<(f64, f64)>,
    pub count: u64,
}

/// 1/(1−q), capped at the sample count: the largest value is the (1 − 1/n) quantile, not an
/// infinite one.
fn x_of(q: f64, count: u64) -> f64 {
    let n = count.max(2) as f64;
    if q >= 1.0 - 1.0 / n {
        n
    } else {
        1.0 / (1.0 - q)
    }
}

/// "99.9%" for x = 1000.
fn percentile_label(x: f64) -> String {
    let nines = x.log10().round() as i32;
    if (x.log10() - nines as f64).abs() > 1e-6 {
        return String::new();
    }
    match nines {
        0 => "0%".into(),
        1 => "90%".into(),
        n => format!("99.{}%", "9".repeat((n - 2) as usize)).replace("99.%", "99%"),
    }
}

pub fn percentile_chart(title: &str, lines: &[Line]) -> Result<Option<String>, ReportError> {
    let lines: Vec<&Line> = lines.iter().filter(|l| !l.points.is_empty()).collect();
    if lines.is_empty() {
        return Ok(None);
    }
    let plotted: Vec<Vec<(f64, f64)>> = lines
        .iter()
        .map(|l| {
            // Start the curve at the 0th percentile with the smallest value.
            let mut pts = vec![(1.0, l.points[0].1.max(1.0))];
            pts.extend(
                l.points
                    .iter()
                    .map(|&(q, v)| (x_of(q, l.count), v.max(1.0))),
            );
            pts
        })
        .collect();
    let all = plotted.iter().flatten();
    let x_max = all.clone().map(|p| p.0).fold(10.0, f64::max);
    let y_lo = all.clone().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let y_hi = all.map(|p| p.1).fold(0.0, f64::max);
    let (_, x_hi) = decades(1.0, x_max);
    // Start at a decade: plotters labels a log axis only from its first power of ten up.
    let (y_lo, y_hi) = (log_start(y_lo, y_hi * 1.15), y_hi * 1.15);
    drawable(title, 1.0, x_hi)?;
    drawable(title, y_lo, y_hi)?;
    let span = (y_hi / y_lo).log10();
    let (w, h) = (780u32, 400u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot, side) = root.split_horizontally(w - LEGEND_W);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(72)
            .build_cartesian_2d((1.0..x_hi).log_scale(), (y_lo..y_hi).log_scale())
            .map_err(err)?;
        let x_decades = x_hi.log10().round().max(1.0) as usize;
        let y_decades = span.ceil().max(1.0) as usize;
        let y_fmt = once(|y| log_label(y, span, format::ns));
        chart
            .configure_mesh()
            .x_labels(x_decades + 1)
            .y_labels(y_decades * 10)
            .x_label_formatter(&|x| percentile_label(*x))
            .y_label_formatter(&y_fmt)
            .x_desc("percentile (log scale of 1/(1−q))")
            .y_desc("latency (log scale)")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
            .draw()
            .map_err(err)?;
        for (l, pts) in lines.iter().zip(&plotted) {
            chart
                .draw_series(LineSeries::new(
                    pts.iter().copied(),
                    l.series.color.stroke_width(2),
                ))
                .map_err(err)?;
        }
        let series: Vec<Series> = lines.iter().map(|l| l.series.clone()).collect();
        legend(&side, &series, 50)?;
        root.present().map_err(err)?;
    }
    Ok(Some(finish_svg(svg, title)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_on_the_axis() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1e4), "99.99%");
        assert_eq!(percentile_label(20.0), "");
        assert!((x_of(0.99, 1000) - 100.0).abs() < 1e-9);
        assert_eq!(x_of(1.0, 1000), 1000.0);
    }
}
