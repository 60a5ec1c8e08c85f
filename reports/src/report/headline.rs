//! The headline: per filter × scenario × engine, CPU per request net of the harness as a
//! multiple of the reference arm's net, with its 95% CI and the 70% claim's verdict on it;
//! then gross ratios (throughput, p99, CPU) as percentages, marked inconclusive where the
//! interval spans more than one tone band.

use filterbench_results::stats::Estimate;
use filterbench_results::summary::Key;

use crate::doc::{Block, Cell, Section, Table, Tone};
use crate::format::pct;
use crate::model::{Analysis, HOSTCALL_FILTER};
use crate::net::{self, Claim, NetRatio, net_ratio_cell};
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm};

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
        Some(e) if e.n > 1 => {
            let interval = format!("[{}, {}]", pct(e.ci_low), pct(e.ci_high));
            let (lo, hi) = (
                tone(e.ci_low, bigger_better),
                tone(e.ci_high, bigger_better),
            );
            // An interval across bands (or reaching 0) is no finding: not coloured as one.
            if lo != hi || e.ci_low <= 0.0 {
                Cell::num(pct(e.mean))
                    .tone(Tone::Muted)
                    .with_sub(format!("{interval} inconclusive"))
            } else {
                Cell::num(pct(e.mean)).tone(lo).with_sub(interval)
            }
        }
        Some(e) => Cell::num(pct(e.mean))
            .tone(Tone::Muted)
            .with_sub("one process, no interval"),
    }
}

/// `key` over the same figure of its reference arm ([`Analysis::reference`]), as a gross
/// percentage with its interval: the one cell every rendering uses for a gross ratio.
pub(crate) fn gross_ratio_cell(a: &Analysis, key: &Key, bigger_better: bool) -> Cell {
    let r = a
        .reference_for(&key.filter, &key.arm)
        .and_then(|r| a.ratio(key, r));
    ratio_cell(r.as_ref(), bigger_better)
}

/// The two places an arm runs, each with its own tables: an Envoy figure over an in-process
/// one means nothing, and their magnitudes differ a thousandfold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    InProcess,
    Envoy,
}

impl Place {
    pub(crate) const BOTH: [Place; 2] = [Place::InProcess, Place::Envoy];

    pub(crate) fn holds(self, kind: ArmKind) -> bool {
        match self {
            Place::InProcess => matches!(kind, ArmKind::Wasm | ArmKind::Native),
            Place::Envoy => kind == ArmKind::Envoy,
        }
    }

    /// A chart title's suffix.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Place::InProcess => ", in process",
            Place::Envoy => ", in Envoy",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Place::InProcess => "in process, × native",
            Place::Envoy => {
                "in Envoy, × the native build (module, else built-in; those × no filter)"
            }
        }
    }
}

/// Ratios of one metric: rows are scenarios, columns the compared arms of one place, each
/// against its reference for the row's filter, plus a geometric-mean row.
pub(crate) fn ratio_table(
    a: &Analysis,
    place: Place,
    caption: &str,
    metric: Metric,
    threads: u32,
    bigger_better: bool,
) -> Option<Table> {
    let arms: Vec<_> = a
        .compared_arms()
        .into_iter()
        .filter(|x| place.holds(x.kind))
        .collect();
    let scenarios = a.scenarios();
    if arms.is_empty() || scenarios.is_empty() {
        return None;
    }
    let groups = vec![(String::new(), 2), (place.label().to_string(), arms.len())];
    let mut header = vec!["filter".to_string(), "scenario".to_string()];
    header.extend(arms.iter().map(|a| a.name.clone()));
    let mut rows = Vec::new();
    let mut logs: Vec<Vec<f64>> = vec![Vec::new(); arms.len()];
    for (f, s) in &scenarios {
        let mut row = vec![Cell::label(f.as_str()), Cell::label(s.as_str())];
        let mut any = false;
        for (i, arm) in arms.iter().enumerate() {
            // Against no filter only where that is the arm's own reference (the native builds):
            // a V8 cell over `envoy-none` would read as over native under this table's label.
            let reference = a.reference_for(f, &arm.name).filter(|r| {
                *r != arm::ENVOY_NONE || a.reference(&arm.name) == Some(arm::ENVOY_NONE)
            });
            let r = reference.and_then(|reference| {
                a.ratio(
                    &Key::new(f, s, &arm.name, Phase::Request, metric, threads),
                    reference,
                )
            });
            if let Some(e) = &r
                && e.mean > 0.0
                && f != HOSTCALL_FILTER
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
    let mut gm = vec![
        Cell::label("all scenarios"),
        Cell::label("geometric mean of the means, no interval"),
    ];
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

/// Arms with a net CPU ratio: a reference that is not their own baseline.
pub(crate) fn net_arms<'b>(a: &'b Analysis) -> Vec<&'b str> {
    a.compared_arms()
        .into_iter()
        .map(|x| x.name.as_str())
        .filter(|n| a.baseline(n).is_some() && a.reference(n) != a.baseline(n))
        .collect()
}

/// CPU per request net of the baseline, × the reference's net, per scenario and arm, with a
/// geometric-mean row (hostcalls micro-scenarios left out) that has an interval of its own.
pub fn net_table(a: &Analysis, place: Place) -> Option<Table> {
    let arms: Vec<&str> = net_arms(a)
        .into_iter()
        .filter(|n| place.holds(a.kind(n)))
        .collect();
    if arms.is_empty() {
        return None;
    }
    let mut header = vec!["filter".to_string(), "scenario".to_string()];
    header.extend(arms.iter().map(|n| n.to_string()));
    let mut rows = Vec::new();
    let mut all: Vec<Vec<NetRatio>> = vec![Vec::new(); arms.len()];
    for (f, s) in a.scenarios() {
        let rs: Vec<Option<NetRatio>> = arms
            .iter()
            .map(|arm| a.net_ratio(&net::cpu_key(&f, &s, arm)))
            .collect();
        if rs.iter().all(Option::is_none) {
            continue;
        }
        let mut row = vec![Cell::label(f.as_str()), Cell::label(s.as_str())];
        for (i, r) in rs.into_iter().enumerate() {
            row.push(match &r {
                Some(r) => net_ratio_cell(r),
                None => net::missing_cell(a, &net::cpu_key(&f, &s, arms[i])),
            });
            if let Some(r) = r
                && f != HOSTCALL_FILTER
            {
                all[i].push(r);
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return None;
    }
    let mut gm = vec![
        Cell::label("all but hostcalls"),
        Cell::label("geometric mean"),
    ];
    for rs in &all {
        let refs: Vec<&NetRatio> = rs.iter().collect();
        gm.push(match net::geomean(&refs) {
            (Some(r), 0) => net_ratio_cell(&r),
            (Some(r), skipped) => {
                let c = net_ratio_cell(&r);
                let sub = format!("{} ({skipped} cannot tell, left out)", c.sub);
                c.with_sub(sub)
            }
            (None, _) => Cell::none(),
        });
    }
    rows.push(gm);
    Some(Table {
        caption: format!(
            "CPU per request net of the {}: × reference (lower is better); the {:.0}% claim \
             holds at ≤ {} over the whole interval",
            match place {
                Place::InProcess => "harness",
                Place::Envoy => "Envoy without a filter",
            },
            net::CLAIM_SPEED * 100.0,
            net::times(net::CLAIM_MAX_COST)
        ),
        groups: vec![(String::new(), 2), (place.label().to_string(), arms.len())],
        header,
        rows,
        collapsed: false,
    })
}

/// Per arm with a net ratio, one sentence: the geometric mean of its net CPU ratios over
/// the scenarios (hostcalls left out) with its interval, and the claim's verdict on it.
pub fn verdicts(a: &Analysis) -> Vec<(String, Claim)> {
    net_arms(a)
        .into_iter()
        .map(|arm| {
            let rs: Vec<NetRatio> = a
                .scenarios()
                .into_iter()
                .filter(|(f, _)| f != HOSTCALL_FILTER)
                .filter_map(|(f, s)| a.net_ratio(&net::cpu_key(&f, &s, arm)))
                .collect();
            let refs: Vec<&NetRatio> = rs.iter().collect();
            let (gm, skipped) = net::geomean(&refs);
            let claim = gm.as_ref().map_or(Claim::CannotTell, Claim::of_ratio);
            let reference = a.reference(arm).unwrap_or_default();
            let what = match &gm {
                Some(NetRatio::Measured { est, .. }) => format!(
                    "net CPU per request {} {reference}'s [{}, {}] (geometric mean of {} \
                     scenarios, 95% CI over processes)",
                    net::times(est.mean),
                    net::times(est.ci_low),
                    net::times(est.ci_high),
                    rs.len() - skipped
                ),
                Some(NetRatio::CannotTell(why)) => format!("no aggregate ({why})"),
                None => "no scenario with a measurable net ratio".into(),
            };
            let sentence = format!(
                "{arm}: {what}; the {:.0}% claim {}{}.",
                net::CLAIM_SPEED * 100.0,
                match claim {
                    Claim::CannotTell => "cannot be told",
                    c => c.word(),
                },
                if skipped > 0 {
                    format!(" ({skipped} scenario(s) cannot tell, left out)")
                } else {
                    String::new()
                }
            );
            (sentence, claim)
        })
        .collect()
}

pub fn section(a: &Analysis) -> Section {
    let mut s = Section::new(
        "headline",
        "WebAssembly as % of native: net cost × reference, then gross percentages",
    );
    s.summary = true;
    if !a.results.complete {
        s.para("This run did not complete: figures below cover only what was measured before it stopped.");
    }
    s.para(format!(
        "Net cost: per worker process, the arm's CPU time per request minus the `harness` \
         arm's (the host driving an empty callback sequence, timing loop included) for the same \
         scenario — inside Envoy, minus `envoy-none`'s — divided by the reference arm's net \
         cost; then the mean over processes with its 95% confidence interval (Student's t). \
         Verdict on \"wasm runs at ≥ {:.0}% of native speed\" (net cost ratio ≤ {}): holds \
         when the whole interval is at or under it, fails when the whole interval is above, \
         cannot tell otherwise. A net cost whose interval (of the paired per-process \
         differences) reaches 0 is below resolution: no ratio over it.",
        net::CLAIM_SPEED * 100.0,
        net::times(net::CLAIM_MAX_COST)
    ));
    if let Some(note) = sampling_note(a) {
        s.para(note);
    }
    for (sentence, claim) in verdicts(a) {
        s.blocks.push(Block::Callout(sentence, claim.tone()));
    }
    for place in Place::BOTH {
        if let Some(t) = net_table(a, place) {
            s.blocks.push(Block::Table(t));
        }
    }
    s.para(
        "Gross ratios below include the harness. Each cell is the arm's figure as a percentage \
         of its reference arm's: `native` for in-process arms; inside Envoy, for each filter, \
         `envoy-native-module` (the same filter built natively, as an Envoy dynamic module) \
         where it has one, else `envoy-native` (Envoy's built-in filter for the job), and those \
         two against `envoy-none`. Computed process by process — the arms of one worker process \
         ran interleaved, so the ratio cancels most machine drift — then averaged over \
         processes, with the 95% confidence interval (Student's t) below. Green: within 10% of \
         the reference; amber: within 2×; red: worse than 2×; grey: the interval spans more \
         than one of these bands (inconclusive).",
    );
    for place in Place::BOTH {
        let mut tables = vec![
            (
                "Throughput, 1 thread: % of reference (higher is better)".to_string(),
                Metric::Throughput,
                1,
                true,
                false,
            ),
            (
                "p99 latency: % of reference (lower is better)".into(),
                Metric::LatencyP99,
                1,
                false,
                false,
            ),
        ];
        for n in a.multi_threads() {
            tables.push((
                format!("Throughput, {n} threads (one VM each): % of reference (higher is better)"),
                Metric::Throughput,
                n,
                true,
                true,
            ));
        }
        tables.push((
            "CPU time per request, gross (harness included): % of reference (lower is better)"
                .into(),
            Metric::CpuPerRequest,
            1,
            false,
            true,
        ));
        for (caption, metric, threads, bigger, collapsed) in tables {
            if let Some(mut t) = ratio_table(a, place, &caption, metric, threads, bigger) {
                t.collapsed = collapsed;
                s.blocks.push(Block::Table(t));
            }
        }
    }
    if s.blocks.iter().all(|b| matches!(b, Block::Para(_))) {
        s.blocks.clear();
    }
    s
}

/// How long the in-process arms were timed and how precisely each process knew its net CPU
/// per request when its batch passes stopped (adaptive sampling stops them early once within
/// the run's target); `None` for results without these rows.
fn sampling_note(a: &Analysis) -> Option<String> {
    let values = |m: Metric| -> Vec<f64> {
        let mut v: Vec<f64> = a
            .table
            .iter()
            .filter(|(k, _)| k.metric == m && k.arm != arm::HARNESS)
            .flat_map(|(_, per)| per.values().copied())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (ci, timed) = (values(Metric::CpuCiWithin), values(Metric::TimedNs));
    if ci.is_empty() || timed.is_empty() {
        return None;
    }
    let at = |v: &[f64], q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some(format!(
        "Sampling: each in-process arm's batch passes ran in interleaved rounds until its net \
         CPU per request was known to the run's target within its process, or to the time cap. \
         At the stop, the 95% interval over rounds was ±{} in the median arm × scenario × \
         process (±{} at the 90th percentile), after {} of batch passes (median; {} at the \
         90th percentile).",
        pct(at(&ci, 0.5)),
        pct(at(&ci, 0.9)),
        crate::format::ns(at(&timed, 0.5)),
        crate::format::ns(at(&timed, 0.9)),
    ))
}
