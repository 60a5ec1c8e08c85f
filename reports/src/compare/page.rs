//! The comparison as a [`Page`]: verdict, regressions, improvements, failures, change charts
//! for the headline figures, and every figure in a folded table.

use super::{Change, Comparison, Rule, Verdict};
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

fn tone(v: Verdict) -> Tone {
    match v {
        Verdict::Regressed => Tone::Poor,
        Verdict::Improved => Tone::Good,
        Verdict::Unchanged => Tone::Plain,
        Verdict::Unsure => Tone::Muted,
    }
}

fn change_table(caption: &str, changes: &[&Change], collapsed: bool) -> Table {
    let header = [
        "filter", "scenario", "arm", "phase", "metric", "threads", "base", "new", "change",
        "verdict",
    ];
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
                vec![
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
                ]
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
    verdict.blocks.push(if !cmp.implausible.is_empty() {
        Block::Callout(
            "Failed: implausible gating figures, nothing can be concluded.".into(),
            Tone::Poor,
        )
    } else if cmp.has_regression() {
        Block::Callout("Significant regression.".into(), Tone::Poor)
    } else {
        Block::Callout("No significant regression.".into(), Tone::Good)
    });
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
            s.blocks.push(Block::Table(change_table("", &list, false)));
        }
        sections.push(s);
    }
    if !cmp.missing.is_empty() {
        let mut s = Section::new("missing", "Missing gating figures");
        s.summary = true;
        s.para("In the base, not in the new run: each gates unless the new run says why.");
        s.blocks.push(Block::Table(Table {
            caption: String::new(),
            groups: Vec::new(),
            header: ["filter", "scenario", "arm", "figure", "threads", "why"]
                .iter()
                .map(|h| h.to_string())
                .collect(),
            rows: cmp
                .missing
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
            collapsed: false,
        }));
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
            Metric::CpuRatioToReference,
            "CPU per request over the reference arm: change",
        ),
        (Metric::Throughput1Thread, "throughput, 1 thread: change"),
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
    let mut gating = Section::new("gating", "Gating figures");
    let every_gate: Vec<&Change> = cmp.gates.iter().collect();
    gating.blocks.push(Block::Table(change_table(
        "Every gating figure in both runs",
        &every_gate,
        true,
    )));
    sections.push(gating);
    let mut all = Section::new("all", "Every other figure (not gating)");
    let every: Vec<&Change> = cmp.changes.iter().collect();
    all.blocks.push(Block::Table(change_table(
        "Every raw figure in both runs: verdicts without multiplicity control, for reading",
        &every,
        true,
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
