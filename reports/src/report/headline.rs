//! The headline: each arm as a percentage of its reference arm, per filter × scenario, for
//! throughput and p99 latency, from per-process ratios with 95% confidence intervals.

use filterbench_results::stats::Estimate;
use filterbench_results::summary::Key;

use crate::doc::{Block, Cell, Section, Table, Tone};
use crate::format::pct;
use crate::model::Analysis;

/// Tone of a ratio to the reference: within 10% is on par, within 2× is fair.
pub(crate) fn tone(r: f64, bigger_better: bool) -> Tone {
    let r = if bigger_better { r } else { 1.0 / r };
    if !r.is_finite() {
        Tone::Plain
    } else if r >= 0.9 {
        Tone::Good
    } else if r >= 0.5 {
        Tone::Fair
    } else {
        Tone::Poor
    }
}

fn ratio_cell(e: Option<&Estimate>, bigger_better: bool) -> Cell {
    match e {
        None => Cell::none(),
        Some(e) => {
            let c = Cell::num(pct(e.mean)).tone(tone(e.mean, bigger_better));
            if e.n > 1 {
                c.with_sub(format!("[{}, {}]", pct(e.ci_low), pct(e.ci_high)))
            } else {
                c
            }
        }
    }
}

/// Ratios of one metric: rows are scenarios, columns the compared arms grouped by kind and
/// reference, plus a geometric-mean row.
pub(crate) fn ratio_table(
    a: &Analysis,
    caption: &str,
    metric: &str,
    threads: u32,
    bigger_better: bool,
) -> Option<Table> {
    let arms = a.compared_arms();
    let scenarios = a.scenarios();
    if arms.is_empty() || scenarios.is_empty() {
        return None;
    }
    let mut groups: Vec<(String, usize)> = vec![(String::new(), 2)];
    for arm in &arms {
        let label = format!(
            "{} vs {}",
            arm.kind,
            a.reference(&arm.name).unwrap_or_default()
        );
        match groups.last_mut() {
            Some((l, n)) if *l == label => *n += 1,
            _ => groups.push((label, 1)),
        }
    }
    let mut header = vec!["filter".to_string(), "scenario".to_string()];
    header.extend(arms.iter().map(|a| a.name.clone()));
    let mut rows = Vec::new();
    let mut logs: Vec<Vec<f64>> = vec![Vec::new(); arms.len()];
    for (f, s) in &scenarios {
        let mut row = vec![Cell::label(f.as_str()), Cell::label(s.as_str())];
        let mut any = false;
        for (i, arm) in arms.iter().enumerate() {
            let r = a.reference(&arm.name).and_then(|reference| {
                a.ratio(
                    &Key::new(f, s, &arm.name, "request", metric, threads),
                    reference,
                )
            });
            if let Some(e) = &r
                && e.mean > 0.0
            {
                logs[i].push(e.mean.ln());
                any = true;
            }
            row.push(ratio_cell(r.as_ref(), bigger_better));
        }
        if any {
            rows.push(row);
        }
    }
    if rows.is_empty() {
        return None;
    }
    let mut gm = vec![Cell::label("all scenarios"), Cell::label("geometric mean")];
    for l in &logs {
        gm.push(if l.is_empty() {
            Cell::none()
        } else {
            let g = (l.iter().sum::<f64>() / l.len() as f64).exp();
            Cell::num(pct(g)).tone(tone(g, bigger_better))
        });
    }
    rows.push(gm);
    Some(Table {
        caption: caption.into(),
        groups,
        header,
        rows,
        collapsed: false,
    })
}

pub fn section(a: &Analysis) -> Section {
    let mut s = Section::new("headline", "WebAssembly as % of native");
    s.summary = true;
    if !a.results.complete {
        s.para("This run did not complete: figures below cover only what was measured before it stopped.");
    }
    s.para(
        "Each cell is the arm's figure as a percentage of its reference arm's: `native` for \
         in-process arms; inside Envoy, `envoy-native-module` (the same filter built natively, \
         as an Envoy dynamic module) where the filter has one, else `envoy-native` (Envoy's \
         built-in filter for the job), and those two against `envoy-none`. Computed process by \
         process — the \
         arms of one worker process ran interleaved, so the ratio cancels most machine drift — \
         then averaged over processes, with the 95% confidence interval (Student's t) below. \
         Green: within 10% of the reference; amber: within 2×; red: worse than 2×.",
    );
    if let Some(t) = ratio_table(
        a,
        "Throughput, 1 thread: % of reference (higher is better)",
        "throughput",
        1,
        true,
    ) {
        s.blocks.push(Block::Table(t));
    }
    if let Some(t) = ratio_table(
        a,
        "p99 latency: % of reference (lower is better)",
        "latency_p99",
        1,
        false,
    ) {
        s.blocks.push(Block::Table(t));
    }
    for n in a.multi_threads() {
        if let Some(mut t) = ratio_table(
            a,
            &format!("Throughput, {n} threads (one VM each): % of reference (higher is better)"),
            "throughput",
            n,
            true,
        ) {
            t.collapsed = true;
            s.blocks.push(Block::Table(t));
        }
    }
    if let Some(mut t) = ratio_table(
        a,
        "CPU time per request: % of reference (lower is better)",
        "cpu_per_request",
        1,
        false,
    ) {
        t.collapsed = true;
        s.blocks.push(Block::Table(t));
    }
    if s.blocks.iter().all(|b| matches!(b, Block::Para(_))) {
        s.blocks.clear();
    }
    s
}
