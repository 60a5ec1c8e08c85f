//! History of the gating figures, one JSON line per run, and the trend page: each gating figure
//! over the runs with its 95% interval as a band, so a slow drift shows before it crosses the
//! threshold of a single comparison.

use std::io::Write as _;
use std::path::Path;

use filterbench_results::Results;
use filterbench_results::summary::Key;
use serde::{Deserialize, Serialize};

use crate::ReportError;
use crate::doc::{Block, Cell, Chart, Page, Section, Table};
use crate::format;

#[derive(Debug, thiserror::Error)]
pub enum TrendError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {source}")]
    Parse {
        path: String,
        line: usize,
        source: serde_json::Error,
    },
}

/// One gating figure of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub filter: String,
    pub scenario: String,
    pub arm: String,
    /// The gate's name.
    pub figure: String,
    pub threads: u32,
    pub unit: String,
    pub n: usize,
    pub mean: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// One line of the history file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub started_unix: u64,
    pub commit: Option<String>,
    pub profile: String,
    pub points: Vec<Point>,
}

impl Entry {
    pub fn of(r: &Results) -> Entry {
        Entry {
            started_unix: r.started_unix,
            commit: r.git_commit.clone(),
            profile: r.profile.clone(),
            // An implausible figure (a corrupt run, which its comparison fails) would flatten
            // every later chart of its series: it stays out of the history.
            points: super::gate::figures(r)
                .measured
                .into_iter()
                .filter(|(_, f)| {
                    let unit = f.gate.name.unit();
                    [f.value.mean, f.value.ci_low, f.value.ci_high]
                        .iter()
                        .all(|v| filterbench_results::check::plausible(*v, unit))
                })
                .map(|(k, f)| Point {
                    filter: k.filter,
                    scenario: k.scenario,
                    arm: k.arm,
                    figure: k.metric.name().to_string(),
                    threads: k.threads,
                    unit: f.gate.name.unit().name().to_string(),
                    n: f.value.n,
                    mean: f.value.mean,
                    ci_low: f.value.ci_low,
                    ci_high: f.value.ci_high,
                })
                .collect(),
        }
    }
}

/// Appends a run's gating figures to a JSON-lines history.
pub fn append(path: &Path, r: &Results) -> Result<(), TrendError> {
    let io = |source| TrendError::Io {
        path: path.display().to_string(),
        source,
    };
    // An entry of plain numbers and strings always serialises.
    let line = serde_json::to_string(&Entry::of(r)).expect("a history entry serialises");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    writeln!(f, "{line}").map_err(io)
}

/// Reads a history; a line that does not parse is an error, not skipped.
pub fn read(path: &Path) -> Result<Vec<Entry>, TrendError> {
    let text = std::fs::read_to_string(path).map_err(|source| TrendError::Io {
        path: path.display().to_string(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|source| TrendError::Parse {
                path: path.display().to_string(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const W: f64 = 480.0;
const H: f64 = 140.0;
/// Room above the plot for the figure's name.
const TOP: f64 = 20.0;
const PAD: f64 = 8.0;

/// A small SVG: the mean as a line, the 95% interval as a band, one step per run.
fn spark(title: &str, pts: &[(usize, &Point)], runs: usize) -> String {
    let lo = pts
        .iter()
        .map(|(_, p)| p.ci_low.min(p.mean))
        .fold(f64::INFINITY, f64::min);
    let hi = pts
        .iter()
        .map(|(_, p)| p.ci_high.max(p.mean))
        .fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo {
        hi - lo
    } else {
        hi.abs().max(1.0) * 0.1
    };
    let x = |i: usize| PAD + (W - 2.0 * PAD) * i as f64 / (runs.max(2) - 1) as f64;
    let y = |v: f64| H - PAD - (H - TOP - 2.0 * PAD) * (v - lo) / span;
    let upper: Vec<String> = pts
        .iter()
        .map(|(i, p)| format!("{:.1},{:.1}", x(*i), y(p.ci_high)))
        .collect();
    let lower: Vec<String> = pts
        .iter()
        .rev()
        .map(|(i, p)| format!("{:.1},{:.1}", x(*i), y(p.ci_low)))
        .collect();
    let mean: Vec<String> = pts
        .iter()
        .map(|(i, p)| format!("{:.1},{:.1}", x(*i), y(p.mean)))
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" role=\"img\" \
         aria-label=\"{t}\"><title>{t}</title>\
         <polygon points=\"{u} {l}\" fill=\"#9ecae1\" fill-opacity=\"0.5\"/>\
         <polyline points=\"{m}\" fill=\"none\" stroke=\"#08519c\" stroke-width=\"2\"/>\
         <text x=\"{PAD}\" y=\"13\" font-size=\"11\" font-weight=\"bold\">{t}</text>\
         <text x=\"{PAD}\" y=\"{top}\" font-size=\"10\">{hi}</text>\
         <text x=\"{PAD}\" y=\"{b}\" font-size=\"10\">{lo}</text></svg>",
        t = escape(title),
        u = upper.join(" "),
        l = lower.join(" "),
        m = mean.join(" "),
        hi = format::unit(&pts[0].1.unit, hi),
        lo = format::unit(&pts[0].1.unit, lo),
        b = H - 2.0,
        top = TOP + 10.0,
    )
}

/// The trend page of a history: one chart per gating figure, and the last run's values.
pub fn page(history: &[Entry]) -> Page {
    let mut keys: Vec<Key> = history
        .iter()
        .flat_map(|e| &e.points)
        .filter_map(|p| {
            // A figure this build no longer gates on has no chart.
            let g = super::gate::gate(p.figure.parse().ok()?)?;
            Some(Key::new(
                &p.filter,
                &p.scenario,
                &p.arm,
                g.phase,
                g.name,
                p.threads,
            ))
        })
        .collect();
    keys.sort();
    keys.dedup();
    let mut charts = Vec::new();
    let mut rows = Vec::new();
    for k in &keys {
        let pts: Vec<(usize, &Point)> = history
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                e.points
                    .iter()
                    .find(|p| {
                        (&p.filter, &p.scenario, &p.arm, p.figure.as_str(), p.threads)
                            == (&k.filter, &k.scenario, &k.arm, k.metric.name(), k.threads)
                    })
                    .map(|p| (i, p))
            })
            .collect();
        let Some((_, last)) = pts.last() else {
            continue;
        };
        let scope = [k.filter.as_str(), k.scenario.as_str(), k.arm.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" / ");
        let title = format!("{scope}: {}", k.metric);
        rows.push(vec![
            Cell::label(k.filter.as_str()),
            Cell::label(k.scenario.as_str()),
            Cell::label(k.arm.as_str()),
            Cell::label(k.metric.name()),
            Cell::num(pts.len().to_string()),
            Cell::num(format::unit(&last.unit, last.mean)).with_sub(format!(
                "[{}, {}]",
                format::unit(&last.unit, last.ci_low),
                format::unit(&last.unit, last.ci_high)
            )),
        ]);
        charts.push(Chart {
            svg: spark(&title, &pts, history.len()),
            title,
        });
    }
    let mut s = Section::new("trend", "Gating figures over time");
    s.summary = true;
    s.para(format!(
        "{} runs, from {} to {}. Line: the mean over worker processes; band: its 95% interval.",
        history.len(),
        history
            .first()
            .map_or(String::new(), |e| format::utc(e.started_unix)),
        history
            .last()
            .map_or(String::new(), |e| format::utc(e.started_unix)),
    ));
    s.blocks.push(Block::Table(Table {
        caption: "Latest value of each gating figure".into(),
        groups: Vec::new(),
        header: ["filter", "scenario", "arm", "figure", "runs", "latest"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows,
        collapsed: true,
    }));
    s.blocks.push(Block::Charts(charts));
    Page {
        title: "filterbench: trend of the gating figures".into(),
        subtitle: String::new(),
        sections: vec![s],
    }
}

pub fn html(history: &[Entry]) -> Result<String, ReportError> {
    crate::html::render(
        &page(history),
        "Generated by filterbench compare --history. Self-contained: no script, nothing loaded from the network.",
    )
}
