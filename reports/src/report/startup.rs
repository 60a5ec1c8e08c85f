//! Cold start (one chart per phase) and memory per VM (one chart per per-VM metric), each with
//! its full table.

use filterbench_results::summary::Key;
use std::collections::{BTreeMap, BTreeSet};

use filterbench_results::stats::estimate;

use super::{bar, est_cell, figure, series};
use crate::ReportError;
use crate::charts::bars::{Bar, Bars, Scale, hbars};
use crate::doc::{Block, Cell, Chart, Section, Table};
use crate::format;
use crate::model::Analysis;
use crate::report::headline::Place;
use filterbench_results::vocab::{Metric, Phase};

/// Memory metrics, the per-VM ones first: the VM's private state is the like-with-like figure
/// (a native instance's private copy of its library is file-backed, shown apart).
const MEMORY: [(Metric, &str); 7] = [
    (
        Metric::RssAnonPerVmBytes,
        "private RSS each further VM adds (its own state)",
    ),
    (
        Metric::RssFilePerVmBytes,
        "file-backed RSS each further VM adds (native: its private library copy)",
    ),
    (
        Metric::RssPerVmBytes,
        "RSS each further VM adds, private + file-backed",
    ),
    (Metric::HeapPerVmBytes, "malloc'd heap each further VM adds"),
    (Metric::LinearMemoryBytes, "guest linear memory per VM"),
    (Metric::ModuleRssBytes, "RSS added by loading the module"),
    (Metric::ModuleFileBytes, "module file size"),
];

/// The cold-start phases the file has rows of, in the order they happen.
fn phases(a: &Analysis) -> Vec<Phase> {
    let found: BTreeSet<Phase> = a.table.keys().map(|k| k.phase).collect();
    Phase::COLD_START
        .into_iter()
        .filter(|p| found.contains(p))
        .collect()
}

/// (filter, scenario) pairs with rows of `phase`, in filter order.
fn subjects(a: &Analysis, phase: Phase) -> Vec<(String, String)> {
    let have: BTreeSet<(&str, &str)> = a
        .table
        .keys()
        .filter(|k| k.phase == phase)
        .map(|k| (k.filter.as_str(), k.scenario.as_str()))
        .collect();
    a.filters()
        .iter()
        .flat_map(|f| {
            have.iter()
                .filter(move |(hf, _)| hf == f)
                .map(|(hf, hs)| (hf.to_string(), hs.to_string()))
        })
        .collect()
}

fn label(f: &str, s: &str) -> String {
    if s.is_empty() {
        f.into()
    } else {
        format!("{f} / {s}")
    }
}

pub fn cold_start(a: &Analysis) -> Result<Section, ReportError> {
    let mut s = Section::new("coldstart", "Cold start");
    let phases = phases(a);
    let mut charts = Vec::new();
    let mut arms_seen: BTreeSet<&str> = BTreeSet::new();
    for phase in &phases {
        let arms: Vec<&str> = a
            .arms_with(*phase)
            .iter()
            .map(|x| x.name.as_str())
            .collect();
        arms_seen.extend(arms.iter().copied());
        let subj = subjects(a, *phase);
        let values = subj
            .iter()
            .map(|(f, sc)| {
                arms.iter()
                    .map(|arm| bar(a.get(&Key::new(f, sc, arm, *phase, Metric::Time, 1))))
                    .collect()
            })
            .collect();
        let title = format!("cold start: {phase}");
        if let Some(svg) = hbars(&Bars {
            title: title.clone(),
            axis: "time".into(),
            groups: subj.iter().map(|(f, sc)| label(f, sc)).collect(),
            series: series(a, &arms),
            values,
            format: format::ns,
            axis_format: format::ns,
            scale: Scale::Log,
        })? {
            charts.push(Chart { title, svg });
        }
    }
    if charts.is_empty() {
        return Ok(s);
    }
    s.para(
        "Time for each phase of bringing up a VM: compile (including validation), instantiate, \
         start and configure, first request. Mean over processes (each the mean of its \
         iterations), whiskers the 95% confidence interval.",
    );
    s.blocks.push(Block::Charts(charts));
    // Table: a row per subject × arm, a column per phase and their total (summed per process).
    let arms: Vec<&str> = a
        .arms
        .iter()
        .map(|x| x.name.as_str())
        .filter(|n| arms_seen.contains(n))
        .collect();
    let mut header = vec!["filter".to_string(), "arm".to_string()];
    header.extend(phases.iter().map(|p| p.name().to_string()));
    header.push("total".into());
    let mut rows = Vec::new();
    let subj: BTreeSet<(String, String)> = phases.iter().flat_map(|p| subjects(a, *p)).collect();
    let ordered: Vec<(String, String)> = a
        .filters()
        .iter()
        .flat_map(|f| subj.iter().filter(move |(sf, _)| sf == f).cloned())
        .collect();
    for (f, sc) in &ordered {
        for arm in &arms {
            let mut row = vec![Cell::label(label(f, sc)), Cell::label(*arm)];
            let mut per_process: BTreeMap<u32, (f64, usize)> = BTreeMap::new();
            let mut any = false;
            for phase in &phases {
                let k = Key::new(f, sc, arm, *phase, Metric::Time, 1);
                if let Some(m) = a.table.get(&k) {
                    any = true;
                    for (p, v) in m {
                        let e = per_process.entry(*p).or_default();
                        e.0 += v;
                        e.1 += 1;
                    }
                }
                row.push(figure(a, &k, format::ns));
            }
            if !any {
                continue;
            }
            // A process's total counts only when it has every phase.
            let totals: Vec<f64> = per_process
                .values()
                .filter(|(_, n)| *n == phases.len())
                .map(|(t, _)| *t)
                .collect();
            row.push(est_cell(estimate(&totals).as_ref(), format::ns));
            rows.push(row);
        }
    }
    s.blocks.push(Block::Table(Table {
        caption: "Cold start per filter × arm (mean, ± half-width of the 95% CI)".into(),
        groups: Vec::new(),
        header,
        rows,
        collapsed: true,
    }));
    if let Some(t) = warm_instantiation(a) {
        s.blocks.push(Block::Table(t));
    }
    Ok(s)
}

/// The warm instantiation figures, default allocator and pooling.
const INSTANTIATE: [Metric; 4] = [
    Metric::InstantiateP50,
    Metric::InstantiateP99,
    Metric::InstantiatePooledP50,
    Metric::InstantiatePooledP99,
];

/// Warm instantiation per filter × arm: p50 and p99 on the default and the pooling allocator.
fn warm_instantiation(a: &Analysis) -> Option<Table> {
    let key = |f: &str, arm: &str, m: Metric| Key::new(f, "", arm, Phase::Instantiate, m, 1);
    let mut rows = Vec::new();
    for f in a.filters() {
        for arm in a.arms.iter().map(|x| x.name.as_str()) {
            if !INSTANTIATE
                .iter()
                .any(|m| a.get(&key(&f, arm, *m)).is_some())
            {
                continue;
            }
            let mut row = vec![Cell::label(f.as_str()), Cell::label(arm)];
            row.extend(
                INSTANTIATE
                    .iter()
                    .map(|m| figure(a, &key(&f, arm, *m), format::ns)),
            );
            rows.push(row);
        }
    }
    (!rows.is_empty()).then(|| Table {
        caption: "Warm instantiation: the same loaded module instantiated again (each instance \
                  then proven): each process's p50 and p99, their mean over processes with the \
                  95% CI; pooled = the engine's pooling allocator"
            .into(),
        groups: vec![
            (String::new(), 2),
            ("default allocator".into(), 2),
            ("pooling allocator".into(), 2),
        ],
        header: ["filter", "arm", "p50", "p99", "p50", "p99"]
            .map(String::from)
            .to_vec(),
        rows,
        collapsed: false,
    })
}

/// Bytes plotted in a binary unit, so linear axis ticks land on round numbers of it.
struct ByteUnit {
    div: f64,
    name: &'static str,
    /// Bar label, from a value in the unit.
    value: fn(f64) -> String,
    /// Axis tick, from a value in the unit.
    axis: fn(f64) -> String,
}

impl ByteUnit {
    fn for_max(max: f64) -> ByteUnit {
        if max >= 2.0 * 1048576.0 {
            ByteUnit {
                div: 1048576.0,
                name: "MiB",
                value: |v| format::bytes(v * 1048576.0),
                axis: |v| format!("{} MiB", format::trim(&format::sig3(v))),
            }
        } else {
            ByteUnit {
                div: 1024.0,
                name: "KiB",
                value: |v| format::bytes(v * 1024.0),
                axis: |v| format!("{} KiB", format::trim(&format::sig3(v))),
            }
        }
    }
}

pub fn memory(a: &Analysis) -> Result<Section, ReportError> {
    let mut s = Section::new("memory", "Memory per VM");
    let found: BTreeSet<Metric> = a
        .table
        .keys()
        .filter(|k| k.phase == Phase::Memory)
        .map(|k| k.metric)
        .collect();
    let mut metrics: Vec<(Metric, String)> = MEMORY
        .iter()
        .filter(|(m, _)| found.contains(m))
        .map(|(m, d)| (*m, d.to_string()))
        .collect();
    metrics.extend(
        found
            .iter()
            .filter(|m| !MEMORY.iter().any(|(k, _)| k == *m))
            .map(|m| (*m, m.name().replace('_', " "))),
    );
    if metrics.is_empty() {
        return Ok(s);
    }
    let arms: Vec<&str> = a
        .arms_with(Phase::Memory)
        .iter()
        .map(|x| x.name.as_str())
        .collect();
    let subj = subjects(a, Phase::Memory);
    let mut charts = Vec::new();
    // The two per-VM figures are charted; the rest are in the table.
    for (m, desc) in metrics.iter().take(2) {
        let values: Vec<Vec<Option<Bar>>> = subj
            .iter()
            .map(|(f, sc)| {
                // A slope whose interval reaches 0 is noise, not memory: not drawn (the
                // table below gives it with its interval).
                arms.iter()
                    .map(|arm| {
                        bar(a
                            .get(&Key::new(f, sc, arm, Phase::Memory, *m, 1))
                            .filter(|e| e.ci_low > 0.0))
                    })
                    .collect()
            })
            .collect();
        let max = values
            .iter()
            .flatten()
            .flatten()
            .map(|b| b.value.abs().max(b.high.abs()))
            .fold(0.0, f64::max);
        let ByteUnit {
            div,
            name: unit,
            value: value_fmt,
            axis: axis_fmt,
        } = ByteUnit::for_max(max);
        let values = values
            .into_iter()
            .map(|g| {
                g.into_iter()
                    .map(|b| {
                        b.map(|b| Bar {
                            value: b.value / div,
                            low: b.low / div,
                            high: b.high / div,
                        })
                    })
                    .collect()
            })
            .collect();
        let title = desc.clone();
        if let Some(svg) = hbars(&Bars {
            title: title.clone(),
            axis: format!("bytes per VM, in {unit}"),
            groups: subj.iter().map(|(f, sc)| label(f, sc)).collect(),
            series: series(a, &arms),
            values,
            format: value_fmt,
            axis_format: axis_fmt,
            scale: Scale::Linear,
        })? {
            charts.push(Chart { title, svg });
        }
    }
    s.para(
        "What each further live VM costs: the least-squares slope of RSS and of malloc'd bytes \
         over 1..N live VMs of one module, and the guest's linear memory. The native arm's \
         \"VM\" is a private copy of the filter's shared library.",
    );
    s.blocks.push(Block::Charts(charts));
    let mut header = vec!["filter".to_string(), "arm".to_string()];
    header.extend(
        metrics
            .iter()
            .map(|(m, _)| m.name().trim_end_matches("_bytes").replace('_', " ")),
    );
    for place in Place::BOTH {
        let mut rows = Vec::new();
        for (f, sc) in &subj {
            for arm in arms.iter().filter(|n| place.holds(a.kind(n))) {
                let cells: Vec<Cell> = metrics
                    .iter()
                    .map(|(m, _)| {
                        figure(
                            a,
                            &Key::new(f, sc, arm, Phase::Memory, *m, 1),
                            format::bytes,
                        )
                    })
                    .collect();
                if cells.iter().all(|c| c.text == "–") {
                    continue;
                }
                let mut row = vec![Cell::label(label(f, sc)), Cell::label(*arm)];
                row.extend(cells);
                rows.push(row);
            }
        }
        let mut t = Table {
            caption: format!(
                "Memory per filter × arm, {} (mean, ± half-width of the 95% CI)",
                match place {
                    Place::InProcess => "in process",
                    Place::Envoy => "in Envoy",
                }
            ),
            groups: Vec::new(),
            header: header.clone(),
            rows,
            collapsed: true,
        };
        if !t.rows.is_empty() {
            t.drop_empty_columns(2);
            s.blocks.push(Block::Table(t));
        }
    }
    Ok(s)
}
