//! Blast radius: what a filter failing on purpose costs the host, per arm (phase `fault`,
//! scenario = the fault mode): requests failed and reset, whether the host survived, the time
//! until answers were good again, and how each trial ended, in words.

use std::collections::BTreeMap;

use filterbench_results::Results;
use filterbench_results::vocab::{Metric, Phase};

use crate::doc::{Block, Cell, Section, Table, Tone};
use crate::model::Analysis;

/// The section's anchor, also how `filterbench fault` finds it.
pub const ID: &str = "fault";

/// One (mode, arm): its figures over trials, absences and observations.
#[derive(Default)]
struct Cells {
    values: BTreeMap<Metric, Vec<f64>>,
    /// Why a figure is absent, and in how many trials.
    absent: BTreeMap<Metric, (String, usize)>,
    /// Trials with a bad answer and no good one after it (stuck, or failing every request).
    never: usize,
    /// Trials whose host died (no recovery to measure).
    died: usize,
    how: Vec<String>,
}

/// Whether a recovery's absence says no good answer came after the first bad one (the
/// runner's words: a stuck request, or bad answers to the end).
fn never_recovered(why: &str) -> bool {
    why.starts_with("no good answer") || why.starts_with("a request never returned")
}

type Key = (String, String);

fn slot<'a>(v: &'a mut Vec<(Key, Cells)>, mode: &str, arm: &str) -> &'a mut Cells {
    let i = match v.iter().position(|(k, _)| k.0 == mode && k.1 == arm) {
        Some(i) => i,
        None => {
            v.push(((mode.to_string(), arm.to_string()), Cells::default()));
            v.len() - 1
        }
    };
    &mut v[i].1
}

/// (mode, arm) in the order the results first name them.
fn gather(r: &Results) -> Vec<(Key, Cells)> {
    let mut v = Vec::new();
    for x in r.rows.iter().filter(|x| x.phase == Phase::Fault) {
        let c = slot(&mut v, &x.scenario, &x.arm);
        c.values.entry(x.metric).or_default().push(x.value);
    }
    for x in r.absent.iter().filter(|x| x.phase == Phase::Fault) {
        let c = slot(&mut v, &x.scenario, &x.arm);
        if x.metric == Metric::FaultRecoveryTime {
            c.never += usize::from(never_recovered(&x.reason));
            c.died += usize::from(x.reason.starts_with("the host died"));
        }
        c.absent
            .entry(x.metric)
            .or_insert_with(|| (x.reason.clone(), 0))
            .1 += 1;
    }
    for x in r.observations.iter().filter(|x| x.phase == Phase::Fault) {
        slot(&mut v, &x.scenario, &x.arm).how.push(x.text.clone());
    }
    v
}

/// Mean over trials, with the range when there are several.
fn figure(c: &Cells, m: Metric, show: fn(f64) -> String) -> Cell {
    let Some(v) = c.values.get(&m).filter(|v| !v.is_empty()) else {
        return Cell::none();
    };
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let cell = Cell::num(show(mean));
    if v.len() < 2 {
        return cell;
    }
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    cell.with_sub(format!("{}–{}", show(lo), show(hi)))
}

fn count(v: f64) -> String {
    format!("{v:.0}")
}

fn ms(v: f64) -> String {
    let ms = v / 1e6;
    if ms < 1.0 {
        format!("{:.0} µs", v / 1e3)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn survived(c: &Cells) -> Cell {
    match c.values.get(&Metric::FaultHostSurvived) {
        Some(v) if !v.is_empty() => {
            let yes = v.iter().filter(|x| **x >= 1.0).count();
            // Every trial alike: yes or no; else how many of them the host survived.
            let text = match (yes, v.len()) {
                // Alive is not serving: a host stuck in the filter, or failing every request
                // to the end, is no success.
                (y, n) if y == n && c.never >= n => "alive, never good".to_string(),
                (y, n) if y == n && c.never > 0 => format!("alive, {}/{n} never good", c.never),
                (y, n) if y == n => "yes".to_string(),
                (0, _) => "no".to_string(),
                (y, n) => format!("{y}/{n}"),
            };
            let tone = if yes == v.len() && c.never == 0 {
                Tone::Good
            } else {
                Tone::Poor
            };
            // Trials whose survival is unknown (the host stopped by filterbench) are said.
            let text = match c.absent.get(&Metric::FaultHostSurvived).map_or(0, |a| a.1) {
                0 => text,
                u => format!("{text}, {u}?"),
            };
            Cell::label(text).tone(tone)
        }
        _ => Cell::label("?").tone(Tone::Muted),
    }
}

/// Recovery: the figure, or why there is none in a word.
fn recovery(c: &Cells) -> Cell {
    if c.values.is_empty() {
        // Not run: its reason is the observation.
        return Cell::none();
    }
    if let Some(v) = c.values.get(&Metric::FaultRecoveryTime) {
        let lost = c.never + c.died;
        if lost == 0 {
            return figure(c, Metric::FaultRecoveryTime, ms);
        }
        // Some trials never recovered: the mean of the others, with how many recovered.
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        return Cell::num(format!("{} ({}/{})", ms(mean), v.len(), v.len() + lost))
            .tone(Tone::Poor);
    }
    match c.absent.get(&Metric::FaultRecoveryTime).map(|(w, _)| w) {
        _ if c.never > 0 => Cell::label("never").tone(Tone::Poor),
        _ if c.died > 0 => Cell::label("died").tone(Tone::Poor),
        Some(why) if why.contains("nothing to recover") => Cell::label("no failure"),
        Some(why) if why.contains("not run") || why.starts_with("load") => Cell::none(),
        Some(_) => Cell::label("never").tone(Tone::Poor),
        None => Cell::none(),
    }
}

/// The table of figures, (mode × arm) rows; the observations come as a list after it.
pub fn table(r: &Results) -> Option<(Table, Vec<String>)> {
    let cells = gather(r);
    if cells.is_empty() {
        return None;
    }
    let mut t = Table {
        caption: "Blast radius per fault mode × arm (mean over trials; range below when more \
                  than one)"
            .into(),
        header: [
            "mode", "arm", "requests", "failed", "reset", "survived", "recovery",
        ]
        .map(String::from)
        .to_vec(),
        ..Default::default()
    };
    let mut how = Vec::new();
    for ((mode, arm), c) in &cells {
        let not_run = c.values.is_empty();
        t.rows.push(vec![
            Cell::label(mode.clone()),
            Cell::label(arm.clone()),
            figure(c, Metric::FaultRequests, count),
            figure(c, Metric::FaultRequestsFailed, count),
            figure(c, Metric::FaultRequestsReset, count),
            if not_run { Cell::none() } else { survived(c) },
            recovery(c),
        ]);
        for (i, h) in c.how.iter().enumerate() {
            let trial = if c.how.len() > 1 {
                format!(" (trial {})", i + 1)
            } else {
                String::new()
            };
            how.push(format!("{mode} / {arm}{trial}: {h}"));
        }
    }
    Some((t, how))
}

/// A range of per-arm means, as one value when they agree.
fn span(v: &[f64], show: fn(f64) -> String) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if show(lo) == show(hi) {
        show(lo)
    } else {
        format!("{}–{}", show(lo), show(hi))
    }
}

/// How one arm's trials ended, for grouping arms that ended alike in the answer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ending {
    Died,
    Never,
    /// Good again in some trials only.
    Partly,
    /// Good again in every trial, in process or in Envoy (their times differ in kind).
    Recovered(bool),
    NoFailure,
}

/// The answer in one sentence per mode: the arms grouped by how the failure ended, each group
/// with the range of its arms' means (mean over trials), so the sentence stays readable.
fn answer(r: &Results) -> Vec<String> {
    let cells = gather(r);
    let in_envoy = |arm: &str| {
        r.arms
            .iter()
            .any(|a| a.name == arm && a.kind == filterbench_results::vocab::ArmKind::Envoy)
    };
    let mut modes: Vec<&str> = Vec::new();
    for ((m, _), _) in &cells {
        if !modes.contains(&m.as_str()) {
            modes.push(m);
        }
    }
    let mut out = Vec::new();
    for mode in modes {
        // Ending → (arms, failed means, reset means, recovery means).
        type Group<'a> = (Vec<&'a str>, Vec<f64>, Vec<f64>, Vec<f64>);
        let mut groups: BTreeMap<Ending, Group> = BTreeMap::new();
        let mut partly = Vec::new();
        for ((m, arm), c) in &cells {
            if m != mode || c.values.is_empty() {
                continue;
            }
            let mean = |m: Metric| {
                c.values
                    .get(&m)
                    .filter(|v| !v.is_empty())
                    .map(|v| v.iter().sum::<f64>() / v.len() as f64)
            };
            let (failed, reset) = (
                mean(Metric::FaultRequestsFailed),
                mean(Metric::FaultRequestsReset),
            );
            let bad = failed.unwrap_or_default() + reset.unwrap_or_default() > 0.0;
            let rec = mean(Metric::FaultRecoveryTime);
            let ending = match rec {
                _ if mean(Metric::FaultHostSurvived).is_some_and(|s| s < 1.0) => Ending::Died,
                Some(t) if c.never + c.died > 0 => {
                    let k = c.values.get(&Metric::FaultRecoveryTime).map_or(0, Vec::len);
                    let n = k + c.never + c.died;
                    partly.push(format!(
                        "on {arm} it is good again after {} in only {k} of {n} trials",
                        ms(t)
                    ));
                    Ending::Partly
                }
                Some(_) => Ending::Recovered(in_envoy(arm)),
                None if bad => Ending::Never,
                None => Ending::NoFailure,
            };
            if ending == Ending::Partly {
                continue;
            }
            let g = groups.entry(ending).or_default();
            g.0.push(arm);
            g.1.extend(failed);
            g.2.extend(reset);
            g.3.extend(rec);
        }
        let mut parts: Vec<String> = Vec::new();
        for (ending, (arms, failed, reset, rec)) in &groups {
            let arms = arms.join(", ");
            let reset_part = if reset.iter().any(|x| *x > 0.0) {
                format!(" and {} reset", span(reset, count))
            } else {
                String::new()
            };
            parts.push(match ending {
                Ending::Died => format!(
                    "kills the host on {arms} ({} requests reset or unanswered)",
                    span(reset, count)
                ),
                Ending::Never => format!(
                    "costs {} failed{reset_part} requests and is never good again in the \
                     window on {arms}",
                    span(failed, count)
                ),
                Ending::Recovered(_) => format!(
                    "costs {} failed{reset_part} requests and is good again after {} on {arms}",
                    span(failed, count),
                    span(rec, ms)
                ),
                Ending::NoFailure => format!("fails no request on {arms}"),
                Ending::Partly => continue,
            });
        }
        parts.extend(partly);
        if !parts.is_empty() {
            out.push(format!("A {mode} in the filter {}.", parts.join("; ")));
        }
    }
    out
}

/// The section, when the results hold its figures.
pub fn section(a: &Analysis) -> Option<Section> {
    let (t, how) = table(a.results)?;
    let mut s = Section::new(ID, "Blast radius: the filter failing on purpose");
    s.para(
        "add-header's failing variant (the test filter misbehave, built as wasm and natively; \
         the same failures in Lua for envoy-lua) adds the header for its first requests, then \
         panics, loops, grows its memory without bound or writes through a null pointer, under \
         steady load. Failed = answered badly (a 5xx local reply, a 200 without the header, or \
         failed by the in-process host); reset = requests sent whose connection was reset or \
         that were never answered (a request stuck in the filter counts from when it was \
         sent; refused connects are not requests); survived = the host process was alive \
         (and Envoy's admin API answered) at the end, \"alive, never good\" when no good \
         answer came after the first bad one (stuck, or failing every request); recovery = \
         from the first bad answer to the first good one after it, with (k/n) when only k of \
         n trials recovered.",
    );
    for line in answer(a.results) {
        s.blocks.push(Block::Callout(line, Tone::Plain));
    }
    s.blocks.push(Block::Table(t));
    if !how.is_empty() {
        s.blocks.push(Block::Facts(
            how.into_iter()
                .map(|h| match h.split_once(": ") {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (String::new(), h),
                })
                .collect(),
        ));
    }
    Some(s)
}
