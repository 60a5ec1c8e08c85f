//! Per-request sections: latency percentile curves per scenario, throughput bars per filter,
//! and the full per-request table.

use super::{bar, figure, series};
use crate::ReportError;
use crate::charts::bars::{Bars, Scale, hbars};
use crate::charts::latency::{Line, percentile_chart};
use crate::doc::{Block, Cell, Chart, Section, Table};
use crate::format;
use crate::model::Analysis;
use crate::net::net_cell;
use crate::report::headline::Place;
use filterbench_results::summary::Key;
use filterbench_results::vocab::{ArmKind, Metric, Phase};

pub fn latency(a: &Analysis) -> Result<Section, ReportError> {
    let mut s = Section::new("latency", "Latency percentiles");
    let mut charts = Vec::new();
    for (f, sc) in a.scenarios() {
        // In process and in Envoy apart: a thousandfold apart, one axis would flatten one.
        for place in Place::BOTH {
            let mut lines = Vec::new();
            for arm in a.arms.iter().filter(|x| place.holds(x.kind)) {
                if let Some(c) = a.curve(&f, &sc, &arm.name) {
                    lines.push(Line {
                        series: series(a, &[&arm.name]).remove(0),
                        points: c.points,
                        count: c.count,
                    });
                }
            }
            let title = format!("{f} / {sc}{}", place.suffix());
            if let Some(svg) = percentile_chart(&title, &lines)? {
                charts.push(Chart { title, svg });
            }
        }
    }
    if !charts.is_empty() {
        s.para(
            "One curve per arm, merged over worker processes (HdrHistogram, single thread). \
             The x axis spreads the tail: 90%, 99%, 99.9%… are equally spaced; the last point \
             of each curve is the largest latency seen.",
        );
        s.blocks.push(Block::Charts(charts));
    }
    Ok(s)
}

pub fn throughput(a: &Analysis) -> Result<Section, ReportError> {
    let mut s = Section::new("throughput", "Throughput and per-request cost");
    let arms: Vec<&str> = a
        .arms_with(Phase::Request)
        .iter()
        .map(|x| x.name.as_str())
        .collect();
    if arms.is_empty() {
        return Ok(s);
    }
    let scenarios = a.scenarios();
    let mut charts = Vec::new();
    let all = arms.clone();
    for (f, place) in a
        .filters()
        .into_iter()
        .flat_map(|f| Place::BOTH.map(|p| (f.clone(), p)))
    {
        let arms: Vec<&str> = all
            .iter()
            .copied()
            .filter(|n| {
                place.holds(a.kind(n)) || a.kind(n) == ArmKind::Harness && place == Place::InProcess
            })
            .collect();
        if arms.is_empty() {
            continue;
        }
        let groups: Vec<String> = scenarios
            .iter()
            .filter(|(sf, _)| *sf == f)
            .map(|(_, sc)| sc.clone())
            .collect();
        if groups.is_empty() {
            continue;
        }
        let values = groups
            .iter()
            .map(|sc| {
                arms.iter()
                    .map(|arm| {
                        bar(a.get(&Key::new(
                            &f,
                            sc,
                            arm,
                            Phase::Request,
                            Metric::Throughput,
                            1,
                        )))
                    })
                    .collect()
            })
            .collect();
        let title = format!("{f}: throughput, 1 thread{}", place.suffix());
        if let Some(svg) = hbars(&Bars {
            title: title.clone(),
            axis: "requests per second".into(),
            groups,
            series: series(a, &arms),
            values,
            format: format::rate,
            axis_format: format::rate,
            scale: Scale::Linear,
        })? {
            charts.push(Chart { title, svg });
        }
    }
    s.para(
        "Requests per second on one thread, mean over worker processes with its 95% confidence \
         interval as whiskers. The harness arm is the host alone: the ceiling any filter runs \
         under.",
    );
    s.blocks.push(Block::Charts(charts));
    for place in Place::BOTH {
        let of_place: Vec<&str> = arms
            .iter()
            .copied()
            .filter(|n| place.holds(a.kind(n)))
            .collect();
        let mut t = details(a, &of_place);
        if !t.rows.is_empty() {
            t.drop_empty_columns(2);
            s.blocks.push(Block::Table(t));
        }
    }
    let t = super::maxrate::table(a);
    if !t.rows.is_empty() {
        s.blocks.push(Block::Table(t));
    }
    Ok(s)
}

/// Every per-request figure of every scenario × arm.
fn details(a: &Analysis, arms: &[&str]) -> Table {
    let mt = a.multi_threads();
    let mut header: Vec<String> = [
        "filter / scenario",
        "arm",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "CPU/request, gross",
        "CPU/request, net",
        "mean latency, net",
        "throughput 1 thr",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    header.extend(mt.iter().map(|n| format!("throughput {n} thr")));
    let mut rows = Vec::new();
    for (f, sc) in a.scenarios() {
        for arm in arms {
            let k = |m: Metric, t: u32| Key::new(&f, &sc, arm, Phase::Request, m, t);
            if !a.table.contains_key(&k(Metric::Throughput, 1))
                && !a.table.contains_key(&k(Metric::LatencyP50, 1))
            {
                continue;
            }
            let mut row = vec![
                Cell::label(f.as_str()).with_sub(sc.as_str()),
                Cell::label(*arm),
            ];
            for m in [
                Metric::LatencyP50,
                Metric::LatencyP90,
                Metric::LatencyP99,
                Metric::LatencyP999,
                Metric::LatencyMax,
                Metric::CpuPerRequest,
            ] {
                row.push(figure(a, &k(m, 1), format::ns));
            }
            for m in [Metric::CpuPerRequest, Metric::LatencyMean] {
                row.push(a.net(&k(m, 1)).map_or_else(Cell::none, |n| net_cell(&n)));
            }
            row.push(figure(a, &k(Metric::Throughput, 1), format::rate));
            for n in &mt {
                row.push(figure(a, &k(Metric::Throughput, *n), format::rate));
            }
            rows.push(row);
        }
    }
    Table {
        caption: "All per-request figures (mean over processes, ± half-width of the 95% CI of \
                  the mean); net = minus the harness (Envoy: minus envoy-none), per process"
            .into(),
        groups: Vec::new(),
        header,
        rows,
        collapsed: true,
    }
}
