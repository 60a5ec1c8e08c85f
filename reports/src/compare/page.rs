//! The comparison as a [`Page`]: verdict, regressions, improvements, failures, what the
//! gating figures could detect, change charts for the headline figures, and every figure in a
//! folded table.

use std::collections::BTreeMap;

use super::{Change, Comparison, Missing, Outcome, Rule, Sensitivity, Verdict};
use crate::charts::bars::{Bar, Bars, Scale, hbars};
use crate::charts::{GREY, Series, arm_colors};
use crate::doc::{Block, Cell, Chart, Page, Section, Table, Tone};
use crate::format;
use filterbench_results::vocab::{ArmKind, Metric, Phase};

pub(super) fn subject(c: &Change) -> String {
    let k = &c.key;
    let scope = if k.scenario.is_empty() {
        k.filter.clone()
    } else {
        format!("{} / {}", k.filter, k.scenario)
    };
    format!(
        "{scope} / {}: {} {} ({} thr)",
        k.arm, k.phase, k.metric, k.threads
    )
}

fn interval(c: &Change) -> String {
    format!(
        "[{}, {}]",
        format::change(c.ci_low),
        format::change(c.ci_high)
    )
}

/// One line: what, before → after, change and interval.
pub fn describe_change(c: &Change) -> String {
    format!(
        "{} {} → {}, {} {}",
        subject(c),
        format::unit(&c.unit, c.base.mean),
        format::unit(&c.unit, c.new.mean),
        format::change(c.change),
        interval(c)
    )
}

/// The section of every gating figure (the Markdown summary unfolds it).
pub(super) const GATING: &str = "gating";

/// A level: "0.05", "5.6e-5".
fn level(alpha: f64) -> String {
    if alpha >= 0.001 {
        format!("{alpha:.3}").trim_end_matches('0').to_string()
    } else {
        format!("{alpha:.1e}")
    }
}

/// The smallest change a figure's test could flag, in words.
pub(super) fn detectable(c: &Change) -> String {
    match (c.detectable, c.rule) {
        (None, _) => "nothing (too few processes on a side, or a zero base)".into(),
        (Some(d), Rule::Deterministic) => {
            format!("over {} (deterministic: by size)", format::pct(d))
        }
        (Some(d), _) => format!("{} or more (α = {})", format::pct(d), level(c.alpha)),
    }
}

/// The same as a table cell, muted when it cannot flag a change of the threshold.
fn detectable_cell(cmp: &Comparison, c: &Change) -> Cell {
    let cell = match (c.detectable, c.rule) {
        (None, _) => Cell::num("nothing").with_sub("too few processes"),
        (Some(d), Rule::Deterministic) => Cell::num(format::pct(d)).with_sub("by size"),
        (Some(d), _) => Cell::num(format::pct(d)).with_sub(format!("α {}", level(c.alpha))),
    };
    if c.detectable.is_some_and(|d| d <= cmp.threshold_of(c)) {
        cell
    } else {
        cell.tone(Tone::Muted)
    }
}

fn tone(v: Verdict) -> Tone {
    match v {
        Verdict::Regressed => Tone::Poor,
        Verdict::Improved => Tone::Good,
        Verdict::Unchanged => Tone::Plain,
        Verdict::Unsure => Tone::Muted,
    }
}

/// A table of changes; `gating` (the comparison) adds the column of what each could flag.
fn change_table(
    caption: &str,
    changes: &[&Change],
    collapsed: bool,
    gating: Option<&Comparison>,
) -> Table {
    let mut header = vec![
        "filter", "scenario", "arm", "phase", "metric", "threads", "base", "new", "change",
        "verdict",
    ];
    if gating.is_some() {
        header.push("could flag");
    }
    Table {
        caption: caption.into(),
        groups: Vec::new(),
        header: header.iter().map(|h| h.to_string()).collect(),
        rows: changes
            .iter()
            .map(|c| {
                let k = &c.key;
                let verdict = match c.rule {
                    Rule::Deterministic => format!("{} (deterministic)", c.verdict.label()),
                    _ if c.p_adjusted.is_finite() => {
                        format!("{} (Holm p {:.3})", c.verdict.label(), c.p_adjusted)
                    }
                    _ => c.verdict.label().to_string(),
                };
                let mut row = vec![
                    Cell::label(k.filter.as_str()),
                    Cell::label(k.scenario.as_str()),
                    Cell::label(k.arm.as_str()),
                    Cell::label(k.phase.name()),
                    Cell::label(k.metric.name()),
                    Cell::num(k.threads.to_string()),
                    Cell::num(format::unit(&c.unit, c.base.mean)),
                    Cell::num(format::unit(&c.unit, c.new.mean)),
                    Cell::num(format::change(c.change))
                        .with_sub(if c.ci_low.is_finite() {
                            interval(c)
                        } else {
                            String::new()
                        })
                        .tone(tone(c.verdict)),
                    Cell::label(verdict).tone(tone(c.verdict)),
                ];
                if let Some(cmp) = gating {
                    row.push(detectable_cell(cmp, c));
                }
                row
            })
            .collect(),
        collapsed,
    }
}

/// Relative change of one request metric per scenario × arm, whiskers the 95% interval.
fn change_chart(cmp: &Comparison, metric: Metric, title: &str) -> Option<Chart> {
    let pick: Vec<&Change> = cmp
        .gates
        .iter()
        .filter(|c| c.key.phase == Phase::Request && c.key.metric == metric && c.key.threads == 1)
        .filter(|c| c.change.is_finite())
        .collect();
    let label = |f: &str, s: &str| format!("{f} / {s}");
    let groups: Vec<String> = cmp
        .scenarios
        .iter()
        .filter(|(f, s)| {
            pick.iter()
                .any(|c| c.key.filter == *f && c.key.scenario == *s)
        })
        .map(|(f, s)| label(f, s))
        .collect();
    let arms: Vec<(usize, &str, ArmKind)> = cmp
        .arms
        .iter()
        .enumerate()
        .filter(|(_, a)| pick.iter().any(|c| c.key.arm == a.name))
        .map(|(i, a)| (i, a.name.as_str(), a.kind))
        .collect();
    let values = groups
        .iter()
        .map(|g| {
            arms.iter()
                .map(|(_, arm, _)| {
                    pick.iter()
                        .find(|c| c.key.arm == *arm && label(&c.key.filter, &c.key.scenario) == *g)
                        .map(|c| Bar {
                            value: c.change,
                            low: c.ci_low,
                            high: c.ci_high,
                        })
                })
                .collect()
        })
        .collect();
    let colors = arm_colors(cmp.arms.iter().map(|a| (a.name.as_str(), a.kind)));
    let series = arms
        .iter()
        .map(|(_, name, _)| Series {
            name: name.to_string(),
            color: colors.get(*name).copied().unwrap_or(GREY),
        })
        .collect();
    hbars(&Bars {
        title: title.into(),
        axis: "change, new vs base".into(),
        groups,
        series,
        values,
        format: format::change,
        axis_format: format::change,
        scale: Scale::Linear,
    })
    .ok()
    .flatten()
    .map(|svg| Chart {
        title: title.into(),
        svg,
    })
}

pub fn build(cmp: &Comparison) -> Page {
    let mut verdict = Section::new("verdict", "Verdict");
    verdict.summary = true;
    let sentence = cmp.result_sentence();
    let mut callout: String = sentence
        .chars()
        .take(1)
        .flat_map(char::to_uppercase)
        .collect();
    callout.push_str(&sentence[sentence.chars().next().map_or(0, char::len_utf8)..]);
    callout.push('.');
    verdict.blocks.push(Block::Callout(
        callout,
        match cmp.outcome() {
            Outcome::Failed | Outcome::Regression => Tone::Poor,
            Outcome::Inconclusive => Tone::Fair,
            Outcome::NoRegression => Tone::Good,
        },
    ));
    verdict.para(cmp.counts_line());
    verdict.blocks.push(Block::Facts(vec![
        ("base".into(), cmp.base_name.clone()),
        ("new".into(), cmp.new_name.clone()),
        (
            "gating figures".into(),
            super::gate::GATES
                .iter()
                .map(|g| g.name.name())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "regressed / improved".into(),
            format!(
                "Welch's test over worker processes rejects no change after Holm's adjustment over \
                 the gating set (α = {}) and |change| > {}%; a deterministic figure whose repeats \
                 agree within {}%: |change| > {}%",
                cmp.thresholds.alpha,
                cmp.thresholds.pct,
                cmp.thresholds.agreement * 100.0,
                cmp.thresholds.deterministic_pct
            ),
        ),
        (
            "unchanged".into(),
            format!(
                "the 90% interval of the change (two one-sided 5% tests) lies inside ±{}%",
                cmp.thresholds.pct
            ),
        ),
        ("unsure".into(), "neither".into()),
        (
            "could flag".into(),
            "per gating figure, the smallest change this pair of runs could flag: \
             t(1 − α/2, Welch df) × the standard error of the difference over the base mean, α \
             its Holm step (α/(m − k), k the other figures flagged); inconclusive when fewer \
             than half the gating figures could flag a change of their threshold or more than \
             half are unsure"
                .into(),
        ),
    ]));
    for i in cmp.implausible.iter().take(super::SHOWN) {
        verdict.para(format!("Implausible: {i}."));
    }
    if let Some(more) = cmp
        .implausible
        .len()
        .checked_sub(super::SHOWN)
        .filter(|n| *n > 0)
    {
        verdict.para(format!("Implausible: {more} more."));
    }
    for n in &cmp.notes {
        verdict.para(format!("Note: {n}."));
    }
    let mut sections = vec![verdict];
    for (v, id, title) in [
        (Verdict::Regressed, "regressions", "Regressions"),
        (Verdict::Improved, "improvements", "Improvements"),
    ] {
        let mut s = Section::new(id, title);
        s.summary = true;
        let list = cmp.with_verdict(v);
        if list.is_empty() {
            s.para("None.");
        } else {
            s.blocks
                .push(Block::Table(change_table("", &list, false, Some(cmp))));
        }
        sections.push(s);
    }
    if !cmp.missing.is_empty() {
        let mut s = Section::new("missing", "Missing gating figures");
        s.summary = true;
        s.para("In the base, not in the new run: each gates unless the new run says why.");
        s.blocks
            .push(Block::Table(missing_table("", &cmp.missing, false)));
        sections.push(s);
    }
    if !cmp.new_failures.is_empty() || !cmp.fixed_failures.is_empty() {
        let mut s = Section::new("failures", "Failures");
        s.summary = true;
        for (list, caption) in [
            (&cmp.new_failures, "New failures"),
            (&cmp.fixed_failures, "No longer failing"),
        ] {
            if list.is_empty() {
                continue;
            }
            s.blocks.push(Block::Table(Table {
                caption: caption.into(),
                groups: Vec::new(),
                header: ["filter", "scenario", "arm", "stage", "message"]
                    .iter()
                    .map(|h| h.to_string())
                    .collect(),
                rows: list
                    .iter()
                    .map(|f| {
                        vec![
                            Cell::label(f.filter.as_str()),
                            Cell::label(f.scenario.as_str()),
                            Cell::label(f.arm.as_str()),
                            Cell::label(f.stage.name()),
                            Cell::label(f.message.as_str()),
                        ]
                    })
                    .collect(),
                collapsed: false,
            }));
        }
        sections.push(s);
    }
    let charts: Vec<Chart> = [
        (
            Metric::CpuNetRatioToReference,
            "net CPU per request over the reference arm's: change",
        ),
        (Metric::CpuNetOfHarness, "net CPU per request: change"),
    ]
    .iter()
    .filter_map(|(m, t)| change_chart(cmp, *m, t))
    .collect();
    if !charts.is_empty() {
        let mut s = Section::new("charts", "Headline figures");
        s.para("Relative change of each scenario × arm, new vs base; whiskers are the 95% Welch interval.");
        s.blocks.push(Block::Charts(charts));
        sections.push(s);
    }
    sections.push(sensitivity(cmp));
    let mut gating = Section::new(GATING, "Gating figures");
    let every_gate: Vec<&Change> = cmp.gates.iter().collect();
    gating.blocks.push(Block::Table(change_table(
        "Every gating figure in both runs, with the smallest change this pair could flag on it",
        &every_gate,
        true,
        Some(cmp),
    )));
    if !cmp.ungated.is_empty() {
        gating.blocks.push(Block::Table(missing_table(
            "Not gated: the base cannot resolve these headline figures",
            &cmp.ungated,
            true,
        )));
    }
    sections.push(gating);
    let mut all = Section::new("all", "Every other figure (not gating)");
    let every: Vec<&Change> = cmp.changes.iter().collect();
    all.blocks.push(Block::Table(change_table(
        "Every raw figure in both runs: verdicts without multiplicity control, for reading",
        &every,
        true,
        None,
    )));
    if !cmp.only_base.is_empty() || !cmp.only_new.is_empty() {
        let rows = cmp
            .only_base
            .iter()
            .map(|k| (k, "base only"))
            .chain(cmp.only_new.iter().map(|k| (k, "new only")))
            .map(|(k, w)| {
                vec![
                    Cell::label(w),
                    Cell::label(k.filter.as_str()),
                    Cell::label(k.scenario.as_str()),
                    Cell::label(k.arm.as_str()),
                    Cell::label(k.phase.name()),
                    Cell::label(k.metric.name()),
                    Cell::num(k.threads.to_string()),
                ]
            })
            .collect();
        all.blocks.push(Block::Table(Table {
            caption: "Figures in only one run".into(),
            groups: Vec::new(),
            header: [
                "in", "filter", "scenario", "arm", "phase", "metric", "threads",
            ]
            .iter()
            .map(|h| h.to_string())
            .collect(),
            rows,
            collapsed: true,
        }));
    }
    sections.push(all);
    Page {
        title: "filterbench: comparison".into(),
        subtitle: format!("{} → {}", cmp.base_name, cmp.new_name),
        sections,
    }
}

/// Every gating figure in a few narrow columns, one table per gating figure name: the
/// Markdown summary's form of the gating table (the HTML has the full one).
pub(super) fn narrow_gate_tables(cmp: &Comparison) -> Vec<Table> {
    let mut by_figure: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for c in &cmp.gates {
        by_figure.entry(c.key.metric.name()).or_default().push(c);
    }
    by_figure
        .into_iter()
        .map(|(figure, list)| Table {
            caption: format!("{figure}: change, verdict, smallest change this pair could flag"),
            groups: Vec::new(),
            header: [
                "filter / scenario",
                "arm",
                "change",
                "verdict",
                "could flag",
            ]
            .iter()
            .map(|h| h.to_string())
            .collect(),
            rows: list
                .iter()
                .map(|c| {
                    let k = &c.key;
                    let scope = if k.scenario.is_empty() {
                        k.filter.clone()
                    } else {
                        format!("{} / {}", k.filter, k.scenario)
                    };
                    vec![
                        Cell::label(scope),
                        Cell::label(k.arm.as_str()),
                        Cell::num(format::change(c.change)),
                        Cell::label(c.verdict.label()),
                        Cell::num(match (c.detectable, c.rule) {
                            (None, _) => "nothing".into(),
                            (Some(d), Rule::Deterministic) => format!(">{}", format::pct(d)),
                            (Some(d), _) => format::pct(d),
                        }),
                    ]
                })
                .collect(),
            collapsed: false,
        })
        .collect()
}

/// Gating figures without a change to judge, and why.
fn missing_table(caption: &str, list: &[Missing], collapsed: bool) -> Table {
    Table {
        caption: caption.into(),
        groups: Vec::new(),
        header: ["filter", "scenario", "arm", "figure", "threads", "why"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows: list
            .iter()
            .map(|m| {
                let k = &m.key;
                let why = match &m.reason {
                    Some(r) => Cell::label(r.as_str()),
                    None => Cell::label("no reason given: gates").tone(Tone::Poor),
                };
                vec![
                    Cell::label(k.filter.as_str()),
                    Cell::label(k.scenario.as_str()),
                    Cell::label(k.arm.as_str()),
                    Cell::label(k.metric.name()),
                    Cell::num(k.threads.to_string()),
                    why,
                ]
            })
            .collect(),
        collapsed,
    }
}

/// What the gating figures could detect: overall, then per gating figure × arm.
fn sensitivity(cmp: &Comparison) -> Section {
    let mut s = Section::new("detectable", "What this comparison could detect");
    s.summary = true;
    s.para(format!(
        "Not flagged is not unchanged. Per gating figure, the smallest change this pair of runs \
         could flag, from both runs' spreads over worker processes, Welch's degrees of freedom \
         and the figure's Holm step; the threshold is {}% (deterministic figures: {}%). \
         Overall: {}.",
        cmp.thresholds.pct,
        cmp.thresholds.deterministic_pct,
        cmp.sensitivity().describe()
    ));
    let mut groups: BTreeMap<(String, usize, String), Vec<&Change>> = BTreeMap::new();
    for c in &cmp.gates {
        let arm = cmp.arms.iter().position(|a| a.name == c.key.arm);
        let k = (
            c.key.metric.name().to_string(),
            arm.unwrap_or(usize::MAX),
            c.key.arm.clone(),
        );
        groups.entry(k).or_default().push(c);
    }
    if groups.is_empty() {
        return s;
    }
    let rows = groups
        .into_iter()
        .map(|((figure, _, arm), list)| {
            let sens = Sensitivity::of(&list, |c| cmp.threshold_of(c));
            let largest = list
                .iter()
                .map(|c| c.detectable.unwrap_or(f64::INFINITY))
                .fold(0.0, f64::max);
            let fmt = |v: Option<f64>| v.map_or("nothing".into(), format::pct);
            vec![
                Cell::label(figure),
                Cell::label(arm),
                Cell::num(list.len().to_string()),
                Cell::num(format!(
                    "{} ({})",
                    sens.covered,
                    format::pct(sens.covered as f64 / list.len() as f64)
                )),
                Cell::num(fmt(sens.median)),
                Cell::num(fmt(largest.is_finite().then_some(largest))),
            ]
        })
        .collect();
    s.blocks.push(Block::Table(Table {
        caption: "Per gating figure × arm: how many could flag a change of their threshold \
                  (covered), and the median and largest change they could flag"
            .into(),
        groups: Vec::new(),
        header: ["figure", "arm", "figures", "covered", "median", "largest"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows,
        collapsed: false,
    }));
    s
}
