//! Where the extra time goes: the instrumented per-request breakdown of each arm (guest code,
//! host functions, driver and VM entry/exit) as a stacked bar per arm, the boundary traffic,
//! a one-line diagnosis against native, and links to the flame graphs beside the results.

use filterbench_results::breakdown::Breakdown;
use plotters::style::RGBColor;

use crate::ReportError;
use crate::charts::Series;
use crate::charts::stacked::{Stacked, stacked};
use crate::doc::{Block, Cell, Chart, Section, Table, local_href};
use crate::format;
use crate::model::{Analysis, REFERENCE_ARM};
use filterbench_results::vocab::Phase;

/// Guest code, host functions, driver.
const PART_COLORS: [RGBColor; 3] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xba, 0xb0, 0xac),
];

pub fn section(a: &Analysis) -> Result<Option<Section>, ReportError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for r in a.results.rows.iter().filter(|r| r.phase == Phase::Profile) {
        let p = (r.filter.clone(), r.scenario.clone());
        if !pairs.contains(&p) {
            pairs.push(p);
        }
    }
    if pairs.is_empty() && a.results.attachments.is_empty() {
        return Ok(None);
    }
    let mut s = Section::new("profile", "Where the extra time goes");
    s.para(
        "Each arm runs the scenario's request with the host instrumented: the time inside host \
         functions, inside the guest's callbacks outside host functions (its own code and \
         allocator), and outside the callbacks (the driver, VM entry and exit). Instrumentation \
         adds its own cost, so these times are for attribution, not for costs; the request \
         figures above are measured with it off. Counts are exact.",
    );
    let parts: Vec<Series> = Breakdown::default()
        .parts()
        .iter()
        .zip(PART_COLORS)
        .map(|((name, _), color)| Series {
            name: name.to_string(),
            color,
        })
        .collect();
    for (filter, scenario) in pairs {
        let arms: Vec<(String, Breakdown)> = a
            .arms
            .iter()
            .filter_map(|arm| {
                Breakdown::from_rows(&a.results.rows, &filter, &scenario, &arm.name)
                    .map(|b| (arm.name.clone(), b))
            })
            .collect();
        if arms.is_empty() {
            continue;
        }
        let title = format!("{filter} / {scenario}: time per request by part");
        if let Some(svg) = stacked(&Stacked {
            title: title.clone(),
            axis: "wall time per request (instrumented)".into(),
            rows: arms.iter().map(|(n, _)| n.clone()).collect(),
            parts: parts.clone(),
            values: arms
                .iter()
                .map(|(_, b)| b.parts().iter().map(|p| p.1).collect())
                .collect(),
            format: format::ns,
        })? {
            s.blocks.push(Block::Charts(vec![Chart { title, svg }]));
        }
        if let Some((_, native)) = arms.iter().find(|(n, _)| n == REFERENCE_ARM) {
            for (name, b) in arms.iter().filter(|(n, _)| n != REFERENCE_ARM) {
                s.para(b.diagnosis(name, native));
            }
        }
        let header = [
            "arm",
            "per request",
            "guest code",
            "host functions",
            "driver + entry/exit",
            "host calls",
            "bytes out of guest",
            "bytes into guest",
            "guest allocs",
            "memory growth",
            "most called",
        ];
        let rows = arms
            .iter()
            .map(|(name, b)| {
                let top: Vec<String> = b
                    .top_calls(3)
                    .iter()
                    .map(|(f, n)| format!("{} {n:.0}", f.trim_start_matches("proxy_")))
                    .collect();
                vec![
                    Cell::label(name.as_str()),
                    Cell::num(format::ns(b.total_ns)),
                    Cell::num(format::ns(b.guest_ns)),
                    Cell::num(format::ns(b.host_ns)),
                    Cell::num(format::ns(b.driver_ns)),
                    Cell::num(format!("{:.1}", b.host_calls)),
                    Cell::num(format::bytes(b.bytes_out_of_guest)),
                    Cell::num(format::bytes(b.bytes_into_guest)),
                    Cell::num(format!("{:.1}", b.guest_allocs)),
                    Cell::num(format::bytes(b.memory_growth)),
                    Cell::label(top.join(", ")),
                ]
            })
            .collect();
        s.blocks.push(Block::Table(Table {
            caption: format!("{filter} / {scenario}: per request, instrumented"),
            groups: Vec::new(),
            header: header.iter().map(|h| h.to_string()).collect(),
            rows,
            collapsed: true,
        }));
        let links: Vec<(String, String)> = a
            .results
            .attachments
            .iter()
            .filter(|x| x.filter == filter && x.scenario == scenario)
            .filter_map(|x| {
                let label = if x.note.is_empty() {
                    format!("{} of {}", x.kind, x.arm)
                } else {
                    format!("{} of {}: {}", x.kind, x.arm, x.note)
                };
                // A target with a scheme (`javascript:`) is no file beside the report.
                Some((label, local_href(&x.path)?))
            })
            .collect();
        if !links.is_empty() {
            s.blocks.push(Block::Links(links));
        }
    }
    // Attachments of scenarios without a breakdown (e.g. Envoy flame graphs).
    let orphan: Vec<(String, String)> = a
        .results
        .attachments
        .iter()
        .filter(|x| {
            !a.results.rows.iter().any(|r| {
                r.phase == Phase::Profile && r.filter == x.filter && r.scenario == x.scenario
            })
        })
        .filter_map(|x| {
            Some((
                format!(
                    "{} / {}: {} of {} {}",
                    x.filter, x.scenario, x.kind, x.arm, x.note
                ),
                local_href(&x.path)?,
            ))
        })
        .collect();
    if !orphan.is_empty() {
        s.blocks.push(Block::Links(orphan));
    }
    Ok(Some(s))
}
