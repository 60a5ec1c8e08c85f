//! What one host call costs per arm, from the `hostcalls` filter: each scenario calls one host
//! function 100 times per request and `none` runs the bare loop.

use super::{bar, series};
use crate::ReportError;
use crate::charts::bars::{Bars, Scale, hbars};
use crate::doc::{Block, Cell, Chart, Section, Table};
use crate::format;
use crate::model::{Analysis, HOSTCALL_BASE, HOSTCALL_FLOOR, HOSTCALLS_PER_REQUEST};
use filterbench_results::vocab::ArmKind;

pub fn section(a: &Analysis) -> Result<Option<Section>, ReportError> {
    let ops = a.hostcall_ops();
    // A host call on the harness (no filter runs) is meaningless.
    let arms: Vec<&str> = a
        .arms
        .iter()
        .filter(|x| x.kind != ArmKind::Harness)
        .map(|x| x.name.as_str())
        .filter(|arm| ops.iter().any(|op| a.hostcall_cost(op, arm).is_some()))
        .collect();
    if ops.is_empty() || arms.is_empty() {
        return Ok(None);
    }
    let mut s = Section::new("hostcalls", "Host-call cost");
    s.summary = true;
    s.para(format!(
        "CPU time of one call of each host function: (CPU per request of the op's scenario − \
         of `{HOSTCALL_BASE}`) / {HOSTCALLS_PER_REQUEST}, paired process by process, mean and \
         95% confidence interval. Rows are sorted by op name."
    ));
    if ops.contains(HOSTCALL_FLOOR) {
        s.para(format!(
            "`{HOSTCALL_FLOOR}` calls `proxy_done`, which the host answers without doing \
             anything: the floor of one crossing into the host and back on each arm (the \
             engine's entry and exit plus our dispatch). Above it, an op's row is the call's own \
             work: reading and writing guest memory, the guest allocator, the host state."
        ));
    }
    let mut header = vec!["host function".to_string()];
    header.extend(arms.iter().map(|x| x.to_string()));
    let mut rows = Vec::new();
    let mut values = Vec::new();
    for op in &ops {
        let mut row = vec![Cell::label(*op)];
        let mut vals = Vec::new();
        for arm in &arms {
            let e = a.hostcall_cost(op, arm);
            row.push(match &e {
                None => Cell::none(),
                Some(e) if e.n > 1 => Cell::num(format::ns(e.mean)).with_sub(format!(
                    "[{}, {}]",
                    format::ns(e.ci_low),
                    format::ns(e.ci_high)
                )),
                Some(e) => Cell::num(format::ns(e.mean)),
            });
            vals.push(bar(e.as_ref()));
        }
        rows.push(row);
        values.push(vals);
    }
    s.blocks.push(Block::Table(Table {
        caption: "Cost per host call".into(),
        groups: Vec::new(),
        header,
        rows,
        collapsed: false,
    }));
    let title = "host-call cost per call".to_string();
    if let Some(svg) = hbars(&Bars {
        title: title.clone(),
        axis: "CPU time per call".into(),
        groups: ops.iter().map(|o| o.to_string()).collect(),
        series: series(a, &arms),
        values,
        format: format::ns,
        axis_format: format::ns,
        scale: Scale::Auto,
    })? {
        s.blocks.push(Block::Charts(vec![Chart { title, svg }]));
    }
    Ok(Some(s))
}
