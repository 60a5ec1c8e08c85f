//! Horizontal stacked bars: one bar per row (an arm), split into parts (guest code, host
//! functions, driver), on a linear axis so the parts' lengths add up; the total is written at
//! the end of each bar.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, LEGEND_W, Series, err, finish_svg, legend, linear_value_axis};
use crate::ReportError;

pub struct Stacked {
    pub title: String,
    pub axis: String,
    pub rows: Vec<String>,
    /// The parts, in stacking order, with their colours.
    pub parts: Vec<Series>,
    /// `[row][part]`, non-negative.
    pub values: Vec<Vec<f64>>,
    pub format: fn(f64) -> String,
}

const ROW_H: i32 = 22;

pub fn stacked(s: &Stacked) -> Result<Option<String>, ReportError> {
    if s.rows.is_empty() {
        return Ok(None);
    }
    let total = |r: &Vec<f64>| r.iter().map(|v| v.max(0.0)).sum::<f64>();
    let hi = s.values.iter().map(total).fold(0.0, f64::max);
    if hi <= 0.0 {
        return Ok(None);
    }
    super::drawable(&s.title, 0.0, hi * 1.3)?;
    let label_w = (s.rows.iter().map(|r| r.chars().count()).max().unwrap_or(4) as u32 * 8 + 24)
        .clamp(70, 260);
    let (top, bottom) = (44i32, 56i32);
    let h = (top + bottom + s.rows.len() as i32 * ROW_H) as u32;
    let w = 760u32 + label_w.saturating_sub(120);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot, side) = root.split_horizontally(w - LEGEND_W);
        let n = s.rows.len() as f64;
        let mut chart = ChartBuilder::on(&plot)
            .caption(&s.title, (FONT, 18))
            .margin_right(12)
            .margin_top(8)
            .x_label_area_size(bottom as u32 - 8)
            .y_label_area_size(label_w)
            .build_cartesian_2d(0.0..hi * 1.3, 0.0..n)
            .map_err(err)?;
        let fmt = s.format;
        linear_value_axis(&mut chart, &s.axis, fmt)?;
        let value_style = TextStyle::from((FONT, 13).into_font())
            .color(&RGBColor(0x33, 0x33, 0x33))
            .pos(Pos::new(HPos::Left, VPos::Center));
        let row_style = TextStyle::from((FONT, 15).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (i, (name, parts)) in s.rows.iter().zip(&s.values).enumerate() {
            // Row 0 at the top.
            let y1 = n - i as f64 - 0.15;
            let y0 = n - i as f64 - 0.85;
            let mut x = 0.0;
            for (p, v) in parts.iter().enumerate() {
                let v = v.max(0.0);
                let color = s.parts.get(p).map_or(BLACK, |p| p.color);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, y0), (x + v, y1)],
                        color.filled(),
                    )))
                    .map_err(err)?;
                x += v;
            }
            let mid = (y0 + y1) / 2.0;
            let (px, py) = chart.backend_coord(&(x, mid));
            root.draw_text(&fmt(x), &value_style, (px + 5, py))
                .map_err(err)?;
            let (lx, ly) = chart.backend_coord(&(0.0, mid));
            root.draw_text(name, &row_style, (lx - 8, ly))
                .map_err(err)?;
        }
        legend(&side, &s.parts, top + 8)?;
        root.present().map_err(err)?;
    }
    Ok(Some(finish_svg(svg, &s.title)))
}
