//! Inline SVG charts drawn with plotters. Every chart keeps its legend in a band of its own on
//! the right and draws category labels itself, so labels never overlap the data or each other.

pub mod bars;
pub mod latency;
pub mod stacked;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::ReportError;
use std::collections::BTreeMap;

use filterbench_results::vocab::{ArmKind, arm};

pub const FONT: &str = "sans-serif";
/// Width of the legend band.
pub const LEGEND_W: u32 = 180;

/// An arm without a colour of its own.
pub const GREY: RGBColor = RGBColor(0x9a, 0x9a, 0x9a);

/// Colours of wasm engines (Tableau 10's first six: distinct in print and for common colour
/// blindness).
const WASM_PALETTE: [RGBColor; 6] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xb0, 0x7a, 0xa1),
];

/// Colours of Envoy variants, in the order of [`arm::ENVOY`] (none, built-in, native module,
/// Lua, V8): none of the wasm engines'.
const ENVOY_PALETTE: [RGBColor; 5] = [
    RGBColor(0xba, 0xb0, 0xac),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0x3b, 0x3b, 0x3b),
    RGBColor(0xb8, 0xa2, 0x00),
    RGBColor(0xd3, 0x37, 0x82),
];

/// Each arm's one colour for the whole report, whatever chart it is in: the reference in
/// near-black, the harness in grey, Envoy variants by their fixed place in the vocabulary, wasm
/// engines by a hash of their name (the same colour in every run that has the same engines;
/// a clash moves the later name in sorted order to the next free colour).
pub fn arm_colors<'n>(
    arms: impl IntoIterator<Item = (&'n str, ArmKind)>,
) -> BTreeMap<String, RGBColor> {
    let mut out = BTreeMap::new();
    let mut wasm: Vec<&str> = Vec::new();
    for (name, kind) in arms {
        let fixed = match kind {
            ArmKind::Native => Some(RGBColor(0x22, 0x22, 0x22)),
            ArmKind::Harness => Some(GREY),
            ArmKind::Envoy => arm::ENVOY
                .iter()
                .position(|e| *e == name)
                .map(|i| ENVOY_PALETTE[i]),
            ArmKind::Wasm | ArmKind::Other => None,
        };
        match fixed {
            Some(c) => {
                out.insert(name.to_string(), c);
            }
            None => wasm.push(name),
        }
    }
    wasm.sort_unstable();
    wasm.dedup();
    let mut taken = [false; WASM_PALETTE.len()];
    for name in wasm {
        let mut i = fnv(name) as usize % WASM_PALETTE.len();
        // Past six engines colours repeat; the legend still names each line.
        for _ in 0..WASM_PALETTE.len() {
            if !taken[i] {
                break;
            }
            i = (i + 1) % WASM_PALETTE.len();
        }
        taken[i] = true;
        out.insert(name.to_string(), WASM_PALETTE[i]);
    }
    out
}

/// FNV-1a: a hash that is the same in every build (std's is seeded per process).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A named, coloured series (one arm).
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub color: RGBColor,
}

pub fn err<E: std::fmt::Debug>(e: E) -> ReportError {
    ReportError::Chart(format!("{e:?}"))
}

/// Draws the legend in its own band, one swatch and name per line.
pub fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    series: &[Series],
    top: i32,
) -> Result<(), ReportError> {
    let style = TextStyle::from((FONT, 15).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, s) in series.iter().enumerate() {
        let y = top + i as i32 * 20;
        area.draw(&Rectangle::new([(8, y - 5), (24, y + 5)], s.color.filled()))
            .map_err(err)?;
        area.draw_text(&s.name, &style, (30, y)).map_err(err)?;
    }
    Ok(())
}

/// The linear value axis of the horizontal bar charts: value ticks along x, no y labels (the
/// rows draw their own), light grid.
pub fn linear_value_axis<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    desc: &str,
    fmt: fn(f64) -> String,
) -> Result<(), ReportError> {
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(6)
        .x_label_formatter(&|x| crate::format::trim(&fmt(*x)))
        .x_desc(desc)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
        .draw()
        .map_err(err)
}

/// Makes plotters' fixed-size SVG scale with the page and names it for screen readers.
pub fn finish_svg(svg: String, title: &str) -> String {
    let label = title
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    svg.replacen(
        "<svg ",
        &format!("<svg class=\"chart\" role=\"img\" aria-label=\"{label}\" "),
        1,
    )
}

/// Largest magnitude an axis may reach. Results are refused far below it
/// ([`filterbench_results::check`]); this is the charts' own guard, because plotters' search
/// for tick positions over a huge or non-finite range runs practically forever.
pub const AXIS_LIMIT: f64 = 1e18;
/// Most decades a log axis spans; a smaller figure is drawn at the axis' start.
pub const MAX_DECADES: f64 = 18.0;

/// Refuses an axis from `lo` to `hi` that is not finite, not increasing or beyond
/// [`AXIS_LIMIT`].
pub fn drawable(title: &str, lo: f64, hi: f64) -> Result<(), ReportError> {
    let ok = |v: f64| v.is_finite() && v.abs() <= AXIS_LIMIT;
    if ok(lo) && ok(hi) && lo < hi {
        Ok(())
    } else {
        Err(ReportError::Chart(format!(
            "chart \"{title}\" would need an axis from {lo:e} to {hi:e} (at most ±{AXIS_LIMIT:e})"
        )))
    }
}

/// The start of a log axis ending at `hi`: the power of ten at or below `lo`, but at most
/// [`MAX_DECADES`] below `hi`, so the tick count stays small whatever the smallest figure.
pub fn log_start(lo: f64, hi: f64) -> f64 {
    let floor = hi / 10f64.powf(MAX_DECADES);
    decades(lo.max(floor), 1.0).0
}

/// Powers of ten bracketing [lo, hi] on a log axis.
pub fn decades(lo: f64, hi: f64) -> (f64, f64) {
    (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    )
}

/// A label formatter that blanks a key point equal to the previous one: plotters' log axis
/// yields each decade twice (as the last multiple of one decade and the start of the next), and
/// two texts drawn on one spot read as bold.
pub fn once(f: impl Fn(f64) -> String) -> impl Fn(&f64) -> String {
    let last = std::cell::Cell::new(f64::NAN);
    move |v| {
        if *v == last.get() {
            String::new()
        } else {
            last.set(*v);
            f(*v)
        }
    }
}

/// Label for a log-axis key point: decades always, 2× and 5× only when the axis spans few
/// decades (plotters offers every integer multiple; labelling them all would overlap).
pub fn log_label(v: f64, span_decades: f64, fmt: fn(f64) -> String) -> String {
    let mantissa = v / 10f64.powf(v.log10().floor());
    let m = mantissa.round();
    let keep = (mantissa - m).abs() < 1e-6
        && (m == 1.0 || (span_decades <= 3.0 && (m == 2.0 || m == 5.0)));
    if keep {
        crate::format::trim(&fmt(v))
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_labels_thin_out() {
        let f: fn(f64) -> String = crate::format::ns;
        assert_eq!(log_label(1000.0, 2.0, f), "1 µs");
        assert_eq!(log_label(2000.0, 2.0, f), "2 µs");
        assert_eq!(log_label(3000.0, 2.0, f), "");
        assert_eq!(log_label(2000.0, 5.0, f), "");
        assert_eq!(decades(300.0, 41951.0), (100.0, 100000.0));
        assert_eq!(log_start(300.0, 1e5), 100.0);
        assert_eq!(log_start(1e-300, 1e6), 1e-12);
    }

    #[test]
    fn axes_must_be_finite_and_bounded() {
        assert!(drawable("t", 0.0, 1e6).is_ok());
        for (lo, hi) in [
            (0.0, f64::INFINITY),
            (f64::NAN, 1.0),
            (0.0, 1e308),
            (1.0, 1.0),
        ] {
            assert!(drawable("t", lo, hi).is_err(), "{lo}..{hi}");
        }
    }
}
