//! The per-filter answer ([`super::answer`]) as terminal text, at most 100 columns wide: what
//! `run` prints last, so a terminal's last lines hold it.

use std::fmt::Write;

use filterbench_results::stats::Estimate;

use filterbench_results::vocab::{ArmKind, arm};

use super::answer::{
    Basis, FilterAnswer, Unit, added, answers, basis, difference, opt, processes, ratio_text,
    reference_notes, share,
};
use crate::model::{Analysis, HOSTCALL_FILTER};
use crate::net;

/// Filters with no native build to compare with (a module brought without `--native`): the
/// CPU per request each engine spends in the filter (net of the harness), so that a run of
/// such a module still ends with its figures.
fn unreferenced(a: &Analysis, answered: &[FilterAnswer]) -> Vec<String> {
    let mut out = Vec::new();
    for (filter, scenario) in a.scenarios() {
        if filter == HOSTCALL_FILTER || answered.iter().any(|x| x.filter == filter) {
            continue;
        }
        let cells: Vec<String> = a
            .arms
            .iter()
            .filter(|x| x.kind == ArmKind::Wasm)
            .filter_map(|w| {
                let k = net::cpu_key(&filter, &scenario, &w.name);
                let d = difference(a, &k, &k.with_arm(arm::HARNESS))?;
                let figure = added(&d, Unit::Ns);
                Some(format!(
                    "  {:<20}{}",
                    w.name,
                    figure.trim_start_matches('+')
                ))
            })
            .collect();
        if !cells.is_empty() {
            out.push(format!(
                "{filter} / {scenario}: no native build to compare with (--native gives one).\n\
                 CPU per request (or tick) in the filter, net of the harness, ± 95% CI:"
            ));
            out.extend(cells);
        }
    }
    out
}

/// The verdict's bands, as one terminal line.
const BANDS: &str = "on par ≤ 1.11×, fair ≤ 2×, costly > 2×; unclear: its 95% CI spans two";

/// The answer as terminal text, at most 100 columns wide: the first wasm engine in process
/// (every engine is in the report), V8 in Envoy.
pub fn text(a: &Analysis) -> String {
    let answers = answers(a);
    let mut out = String::new();
    for line in unreferenced(a, &answers) {
        let _ = writeln!(out, "{line}");
    }
    if answers.is_empty() {
        return out;
    }
    let first = answers
        .iter()
        .find_map(|x| x.engines.first().map(|e| e.arm.clone()))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "WHAT WASM COSTS per request (each filter's first scenario; ± 95% CI over {} processes)",
        processes(a)
    );
    let mut rows: Vec<[String; 8]> = vec![
        [
            String::new(),
            format!("in process, {first}"),
            String::new(),
            "in Envoy, V8".into(),
            String::new(),
            "through-".into(),
            "RSS".into(),
            String::new(),
        ],
        [
            "filter".into(),
            "CPU added".into(),
            "× native".into(),
            "own ×".into(),
            "over native".into(),
            "put".into(),
            "added".into(),
            "verdict".into(),
        ],
    ];
    let basis = basis(a, &answers);
    for x in &answers {
        // By name: a filter on which the first engine failed shows "–" there, not another's.
        let eng = x.engines.iter().find(|e| e.arm == first);
        let env = x.envoy.as_ref();
        let ns = |e: Option<&Estimate>| opt(e, |d| added(d, Unit::Ns));
        rows.push([
            x.filter.clone(),
            ns(eng.and_then(|e| e.added.as_ref())),
            eng.map_or_else(|| "–".into(), |e| ratio_text(e.ratio.as_ref())),
            env.map_or_else(|| "–".into(), |e| ratio_text(e.own_ratio.as_ref())),
            ns(env.and_then(|e| e.over_reference.as_ref())),
            opt(env.and_then(|e| e.throughput.as_ref()), share),
            opt(env.and_then(|e| e.rss.as_ref()), |d| added(d, Unit::Bytes)),
            x.verdict.map_or_else(|| "–".into(), |v| v.word().into()),
        ]);
    }
    // Widths from the header and the figures: the group row's labels may run on.
    let mut width = [0usize; 8];
    for r in &rows[1..] {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    // Two spaces between columns where they fit in 100, else one.
    let gap = if width.iter().sum::<usize>() + 2 * (width.len() - 1) <= 100 {
        "  "
    } else {
        " "
    };
    let mut group = String::new();
    let mut at = 0usize;
    for (i, c) in rows[0].iter().enumerate() {
        if !c.is_empty() {
            let fill = at
                .saturating_sub(group.chars().count())
                .max(usize::from(i > 0));
            group.push_str(&" ".repeat(fill));
            group.push_str(c);
        }
        at += width[i] + gap.len();
    }
    let _ = writeln!(out, "{}", group.trim_end());
    for r in &rows[1..] {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            let pad = " ".repeat(width[i] - c.chars().count());
            // Labels left, figures right.
            if i == 0 || i == 7 {
                let _ = write!(line, "{c}{pad}{gap}");
            } else {
                let _ = write!(line, "{pad}{c}{gap}");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    for note in reference_notes(&answers)
        .into_iter()
        .chain(super::answer::disturbed_note(a, &answers))
    {
        let _ = writeln!(out, "{}", crate::terminal::wrap(&note, 100, "  "));
    }
    match &basis {
        Some(Basis::EnvoyOwn) => {
            let _ = writeln!(
                out,
                "own × = V8's CPU/request over no filter ÷ the native module's over no filter"
            );
            let _ = writeln!(out, "Verdict from own ×: {BANDS}");
        }
        Some(Basis::InProcess(e)) => {
            let _ = writeln!(out, "Verdict from {e}'s × native (net of the harness):");
            let _ = writeln!(out, "  {BANDS}");
        }
        None => {}
    }
    out
}
