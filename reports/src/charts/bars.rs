//! Grouped horizontal bars with 95% confidence-interval whiskers: one group per category
//! (scenario, filter, phase), one bar per arm. Horizontal so long category names read
//! without rotation; the value is written at the end of each bar.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    FONT, LEGEND_W, Series, drawable, err, finish_svg, legend, log_label, log_start, once,
};
use crate::ReportError;

/// A bar's value and its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log,
    /// Log when every value is positive and they span more than ~1.5 decades.
    Auto,
}

pub struct Bars {
    pub title: String,
    /// Axis description, with the unit.
    pub axis: String,
    pub groups: Vec<String>,
    pub series: Vec<Series>,
    /// `[group][series]`.
    pub values: Vec<Vec<Option<Bar>>>,
    /// Formats a bar's value label.
    pub format: fn(f64) -> String,
    /// Formats an axis tick (often the same as `format`).
    pub axis_format: fn(f64) -> String,
    pub scale: Scale,
}

const BAR_H: i32 = 13;
const GROUP_GAP: i32 = 12;

pub fn hbars(b: &Bars) -> Result<Option<String>, ReportError> {
    // Arms with no value anywhere get no slot and no legend entry.
    let used: Vec<usize> = (0..b.series.len())
        .filter(|&s| {
            b.values
                .iter()
                .any(|g| g.get(s).is_some_and(|v| v.is_some()))
        })
        .collect();
    if used.is_empty() {
        return Ok(None);
    }
    let bars: Vec<&Bar> = b.values.iter().flatten().flatten().collect();
    let lo = bars
        .iter()
        .map(|v| v.value.min(v.low))
        .fold(f64::INFINITY, f64::min);
    let hi = bars
        .iter()
        .map(|v| v.value.max(v.high))
        .fold(f64::NEG_INFINITY, f64::max);
    let positive_lo = bars
        .iter()
        .map(|v| v.value)
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let log = match b.scale {
        Scale::Log => positive_lo.is_finite(),
        Scale::Linear => false,
        Scale::Auto => lo > 0.0 && hi / lo > 30.0,
    };
    let n_groups = b.groups.len() as i32;
    let group_h = used.len() as i32 * BAR_H + GROUP_GAP;
    let label_w = b
        .groups
        .iter()
        .map(|g| g.chars().count())
        .max()
        .unwrap_or(4) as u32
        * 8
        + 24;
    let label_w = label_w.clamp(70, 300);
    let (top, bottom) = (44i32, 56i32);
    let h = (top + bottom + n_groups * group_h) as u32;
    let w = 760u32 + label_w.saturating_sub(120);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot, side) = root.split_horizontally(w - LEGEND_W);
        // Room to the right of the longest bar for its value label.
        let (x0, x1) = if log {
            (
                log_start(positive_lo.min(lo.max(positive_lo)) / 1.05, hi * 6.0),
                hi * 6.0,
            )
        } else {
            (lo.min(0.0) * 1.1, hi.max(0.0) * 1.35 + f64::EPSILON)
        };
        drawable(&b.title, x0, x1)?;
        let y_range = 0.0..(n_groups * group_h) as f64;
        let fmt = b.axis_format;
        let span = (x1 / x0).log10();
        let caption = (FONT, 18);
        if log {
            let mut chart = ChartBuilder::on(&plot)
                .caption(&b.title, caption)
                .margin_right(12)
                .margin_top(8)
                .x_label_area_size(bottom as u32 - 8)
                .y_label_area_size(label_w)
                .build_cartesian_2d((x0..x1).log_scale(), y_range)
                .map_err(err)?;
            let x_fmt = once(|x| log_label(x, span, fmt));
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(0)
                .x_labels((span.ceil() as usize).max(1) * 10)
                .x_label_formatter(&x_fmt)
                .x_desc(format!("{} (log scale)", b.axis))
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 15))
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
                .draw()
                .map_err(err)?;
            draw_bars(&mut chart, &root, b, &used, group_h, x0)?;
        } else {
            let mut chart = ChartBuilder::on(&plot)
                .caption(&b.title, caption)
                .margin_right(12)
                .margin_top(8)
                .x_label_area_size(bottom as u32 - 8)
                .y_label_area_size(label_w)
                .build_cartesian_2d(x0..x1, y_range)
                .map_err(err)?;
            super::linear_value_axis(&mut chart, &b.axis, fmt)?;
            draw_bars(&mut chart, &root, b, &used, group_h, 0.0)?;
        }
        let series: Vec<Series> = used.iter().map(|&s| b.series[s].clone()).collect();
        legend(&side, &series, top + 8)?;
        root.present().map_err(err)?;
    }
    Ok(Some(finish_svg(svg, &b.title)))
}

/// Bars, whiskers, value labels, group labels and group separators, on either x scale.
fn draw_bars<'a, DB, X>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    root: &DrawingArea<DB, plotters::coord::Shift>,
    b: &Bars,
    used: &[usize],
    group_h: i32,
    base: f64,
) -> Result<(), ReportError>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
{
    let total = (b.groups.len() as i32 * group_h) as f64;
    // y grows upwards in plotters; group 0 goes at the top.
    let y_of =
        |g: usize, slot: f64| total - (g as i32 * group_h) as f64 - GROUP_GAP as f64 / 2.0 - slot;
    let value_style = TextStyle::from((FONT, 13).into_font())
        .color(&RGBColor(0x33, 0x33, 0x33))
        .pos(Pos::new(HPos::Left, VPos::Center));
    let group_style = TextStyle::from((FONT, 15).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    let x_start = chart.x_range().start;
    let x_end = chart.x_range().end;
    for (g, row) in b.values.iter().enumerate() {
        for (slot, &s) in used.iter().enumerate() {
            let Some(bar) = row.get(s).copied().flatten() else {
                continue;
            };
            let top = y_of(g, slot as f64 * BAR_H as f64 + 1.0);
            let bottom = y_of(g, (slot + 1) as f64 * BAR_H as f64 - 1.0);
            let mid = (top + bottom) / 2.0;
            let color = b.series[s].color;
            let from = base.max(x_start);
            let to = bar.value.max(x_start);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(from, top), (to, bottom)],
                    color.filled(),
                )))
                .map_err(super::err)?;
            let (lo, hi) = (bar.low.max(x_start), bar.high.min(x_end));
            if hi > lo {
                let whisker = BLACK.stroke_width(1);
                let cap = (top - bottom) * 0.3;
                chart
                    .draw_series([
                        PathElement::new(vec![(lo, mid), (hi, mid)], whisker),
                        PathElement::new(vec![(lo, mid - cap), (lo, mid + cap)], whisker),
                        PathElement::new(vec![(hi, mid - cap), (hi, mid + cap)], whisker),
                    ])
                    .map_err(super::err)?;
            }
            let (px, py) = chart.backend_coord(&(bar.value.max(bar.high).max(to), mid));
            root.draw_text(&(b.format)(bar.value), &value_style, (px + 5, py))
                .map_err(super::err)?;
        }
        let (px, py) =
            chart.backend_coord(&(x_start, y_of(g, (used.len() as i32 * BAR_H) as f64 / 2.0)));
        root.draw_text(&b.groups[g], &group_style, (px - 8, py))
            .map_err(super::err)?;
        if g > 0 {
            let y = total - (g as i32 * group_h) as f64;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x_start, y), (x_end, y)],
                    RGBColor(0xcc, 0xcc, 0xcc).stroke_width(1),
                )))
                .map_err(super::err)?;
        }
    }
    Ok(())
}
