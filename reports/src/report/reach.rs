//! Reach: what a probe filter could touch beyond the host API, per arm (phase `reach`). One
//! `reach_refused` row per arm × attempted access (1 refused, 0 allowed), and the observation
//! that says how; `filterbench reach` writes them.

use std::collections::BTreeMap;

use filterbench_results::vocab::{ArmKind, Metric, Phase, reach};

use crate::doc::{Block, Cell, Section, Table, Tone};
use crate::model::Analysis;

/// What an arm did with one access.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Allowed,
    Refused,
    /// Not attempted on this arm, with why.
    Absent(String),
}

/// (arm, access) → what was seen, and the arms in the report's order.
fn seen(a: &Analysis) -> (BTreeMap<(String, String), Seen>, Vec<String>) {
    let mut out = BTreeMap::new();
    for r in a.results.rows.iter() {
        if r.phase == Phase::Reach && r.metric == Metric::ReachRefused {
            // Several processes would each say the same; any refusal counts as one.
            let v = if r.value >= 0.5 {
                Seen::Refused
            } else {
                Seen::Allowed
            };
            let e = out
                .entry((r.arm.clone(), r.scenario.clone()))
                .or_insert(v.clone());
            if v == Seen::Allowed {
                *e = Seen::Allowed;
            }
        }
    }
    for x in &a.results.absent {
        if x.phase == Phase::Reach && x.metric == Metric::ReachRefused {
            out.entry((x.arm.clone(), x.scenario.clone()))
                .or_insert_with(|| Seen::Absent(x.reason.clone()));
        }
    }
    let mut arms: Vec<String> = out.keys().map(|(arm, _)| arm.clone()).collect();
    arms.sort_by_key(|x| (a.arm_index(x), x.clone()));
    arms.dedup();
    (out, arms)
}

/// The accesses in table order: the vocabulary's, then any other the file holds.
fn accesses(seen: &BTreeMap<(String, String), Seen>) -> Vec<String> {
    let mut out: Vec<String> = reach::ALL.iter().map(|s| s.to_string()).collect();
    for (_, access) in seen.keys() {
        if !out.contains(access) {
            out.push(access.clone());
        }
    }
    out.retain(|x| seen.keys().any(|(_, y)| y == x));
    out
}

/// What an arm said for an access (its observation), if any.
fn said<'a>(a: &'a Analysis, arm: &str, access: &str) -> Option<&'a str> {
    a.results
        .observations
        .iter()
        .find(|o| o.phase == Phase::Reach && o.arm == arm && o.scenario == access)
        .map(|o| o.text.as_str())
}

/// Whether `arm` is a native build (in process or as an Envoy module).
fn is_native(a: &Analysis, arm: &str) -> bool {
    a.arms
        .iter()
        .any(|x| x.name == arm && x.kind == ArmKind::Native)
        || arm == filterbench_results::vocab::arm::ENVOY_NATIVE_MODULE
}

/// The table: one row per arm, one column per access.
pub fn table(a: &Analysis) -> Option<Table> {
    let (seen, arms) = seen(a);
    if seen.is_empty() {
        return None;
    }
    let accesses = accesses(&seen);
    let rows = arms
        .iter()
        .map(|arm| {
            let mut row = vec![Cell::label(arm.as_str())];
            for access in &accesses {
                // The control is meant to be allowed: a refusal there is what is wrong.
                let (yes, no) = if access == reach::PROPERTY_ALLOWED {
                    (Tone::Good, Tone::Poor)
                } else {
                    (Tone::Poor, Tone::Good)
                };
                row.push(match seen.get(&(arm.clone(), access.clone())) {
                    Some(Seen::Allowed) => Cell::label("allowed").tone(yes),
                    Some(Seen::Refused) => Cell::label("refused").tone(no),
                    Some(Seen::Absent(_)) => Cell::label("n/a").tone(Tone::Muted),
                    None => Cell::none(),
                });
            }
            row
        })
        .collect();
    Some(Table {
        caption: "What the probe filter could do, per arm: allowed only when the harness got \
                  its planted evidence back (the canary's value, the written bytes, the \
                  connection); n/a = not attempted, or no verdict (no answer, the host died, \
                  or the control failed), on that arm (why: below)."
            .into(),
        groups: Vec::new(),
        header: std::iter::once("arm".to_string()).chain(accesses).collect(),
        rows,
        collapsed: false,
    })
}

/// The plain sentences: an arm whose control failed (its verdicts void), each native arm that
/// read the environment, then every allowance — "refused everything" only when every access
/// was judged and refused.
pub fn verdicts(a: &Analysis) -> Vec<(String, Tone)> {
    let (seen, arms) = seen(a);
    let mut out = Vec::new();
    for arm in &arms {
        let of = |x: &str| seen.get(&(arm.clone(), x.to_string()));
        if of(reach::PROPERTY_ALLOWED) != Some(&Seen::Allowed) {
            let why = match of(reach::PROPERTY_ALLOWED) {
                Some(Seen::Absent(why)) => why.clone(),
                Some(Seen::Refused) => "the host refused it".into(),
                _ => "it was not tried".into(),
            };
            out.push((
                format!(
                    "{arm}: NO VERDICT — the probe's control ({}) was not allowed, so the probe \
                     is broken on this arm and none of its refusals means anything ({why}).",
                    reach::PROPERTY_ALLOWED
                ),
                Tone::Poor,
            ));
            continue;
        }
        // An access with no row at all was not judged either.
        let with = |want: fn(Option<&Seen>) -> bool| -> Vec<&str> {
            reach::ALL
                .iter()
                .copied()
                // The control is meant to be allowed.
                .filter(|x| *x != reach::PROPERTY_ALLOWED)
                .filter(|x| want(of(x)))
                .collect()
        };
        let allowed = with(|s| s == Some(&Seen::Allowed));
        let unjudged = with(|s| matches!(s, None | Some(Seen::Absent(_))));
        let env = allowed.contains(&reach::ENV);
        if env && is_native(a, arm) {
            let how = said(a, arm, reach::ENV).unwrap_or("allowed");
            out.push((
                format!("The native arm {arm} READS THE PROCESS ENVIRONMENT ({how})."),
                Tone::Poor,
            ));
        }
        let not_judged = if unjudged.is_empty() {
            String::new()
        } else {
            format!(" Not judged: {} (why: below).", unjudged.join(", "))
        };
        out.push(match (allowed.is_empty(), unjudged.is_empty()) {
            (true, true) => (
                format!("{arm}: refused everything it was tried on beyond the host API."),
                Tone::Good,
            ),
            (true, false) => (
                format!("{arm}: refused every access that was judged.{not_judged}"),
                Tone::Fair,
            ),
            (false, _) => (
                format!("{arm}: allowed {}.{not_judged}", allowed.join(", ")),
                Tone::Poor,
            ),
        });
    }
    out
}

/// The section, when the results hold its figures.
pub fn section(a: &Analysis) -> Option<Section> {
    let table = table(a)?;
    let mut s = Section::new(
        "reach",
        "Reach: what a filter can touch beyond the host API",
    );
    s.para(
        "A probe filter (filters/reach), built to wasm and natively from one source, tries \
         one access per request (a fresh VM in process, a fresh Envoy per access live, so a \
         trap hides nothing): read the environment (a canary variable the harness set), open \
         a canary file, read another live stream's headers through \
         proxy_set_effective_context, read a property inside the exposed set (the control, \
         request.path) and outside it (environment.<canary>), write outside its own memory \
         (wasm: past the end of linear memory; native: a buffer of the harness, or the \
         canary's value in Envoy's environment block), and connect to a socket the harness \
         listens on.",
    );
    s.para(
        "How to read other-stream: both streams run in the same VM, so the host alone decides \
         whether the switch reaches the other stream — the sandbox does not separate streams \
         of one filter. The environment a wasm VM sees in Envoy is what its \
         vm_config.environment_variables lists (nothing here).",
    );
    for (text, tone) in verdicts(a) {
        s.blocks.push(Block::Callout(text, tone));
    }
    s.blocks.push(Block::Table(table));
    let (seen, arms) = seen(a);
    let accesses = accesses(&seen);
    let mut rows = Vec::new();
    for arm in &arms {
        for access in &accesses {
            let text = match (
                said(a, arm, access),
                seen.get(&(arm.clone(), access.clone())),
            ) {
                (Some(t), _) => t.to_string(),
                (None, Some(Seen::Absent(why))) => format!("not attempted: {why}"),
                _ => continue,
            };
            rows.push(vec![
                Cell::label(arm.as_str()),
                Cell::label(access.as_str()),
                Cell::label(text),
            ]);
        }
    }
    s.blocks.push(Block::Table(Table {
        caption: "What happened, per arm and access, in the probe's and the harness's words."
            .into(),
        groups: Vec::new(),
        header: ["arm", "access", "what happened"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows,
        collapsed: true,
    }));
    if !a.results.command_line.is_empty() {
        s.blocks.push(Block::Code(a.results.command_line.join(" ")));
    }
    s.summary = true;
    Some(s)
}
