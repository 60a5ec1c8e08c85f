//! The report of one results file as a [`Page`]: headline ratios, latency curves, throughput,
//! cold start, memory, host-call cost, failures, machine and how to reproduce. Each section is
//! a group-by over the rows; any arm appears, grouped by kind.

pub(crate) mod answer;
pub(crate) mod answer_text;
mod breakdown;
pub mod fault;
mod figures;
pub(crate) mod headline;
mod hostcalls;
mod info;
pub mod instructions;
mod languages;
pub(crate) mod maxrate;
mod perf;
pub(crate) mod protocols;
mod reach;
pub mod reload;
mod startup;
pub(crate) mod verdict;

pub use answer::undecided;

use filterbench_results::Results;
use filterbench_results::stats::Estimate;
use filterbench_results::summary::Key;

use crate::ReportError;
use crate::charts::{GREY, Series, arm_colors, bars::Bar};
use crate::doc::{Cell, Page};
use crate::format;
use crate::model::Analysis;

/// Builds the whole report, refusing a file with an implausible figure (see
/// [`filterbench_results::check`]): a report must not publish the rest of a corrupt file as if
/// sound, and the figure would wreck every sum and chart it enters.
pub fn build(results: &Results) -> Result<Page, ReportError> {
    results.check()?;
    let a = Analysis::new(results);
    let short = results
        .git_commit
        .as_deref()
        .map(|c| &c[..c.len().min(10)])
        .unwrap_or("unknown commit");
    let mut sections: Vec<_> = answer::section(&a).into_iter().collect();
    sections.push(headline::section(&a));
    if let Some(s) = instructions::section(&a) {
        sections.push(s);
    }
    if let Some(s) = languages::section(&a) {
        sections.push(s);
    }
    sections.push(perf::latency(&a)?);
    sections.push(perf::throughput(&a)?);
    sections.push(startup::cold_start(&a)?);
    sections.push(startup::memory(&a)?);
    if let Some(s) = hostcalls::section(&a)? {
        sections.push(s);
    }
    if let Some(s) = breakdown::section(&a)? {
        sections.push(s);
    }
    // The other side of the trade (issue 22): what a wasm filter buys for its cost.
    sections.extend(protocols::section(&a));
    sections.extend(fault::section(&a));
    sections.extend(reload::section(&a));
    sections.extend(reach::section(&a));
    sections.push(info::failures(&a));
    sections.push(info::absent(&a));
    sections.push(info::machine(&a));
    sections.push(info::reproduce(&a));
    sections.retain(|s| !s.blocks.is_empty());
    Ok(Page {
        title: format!(
            "filterbench: {} run of {}",
            results.profile,
            format::utc(results.started_unix)
        ),
        subtitle: format!(
            "{} · {} CPUs · filterbench {} · {short}{}",
            results.machine.cpu_model,
            results.machine.cpus,
            results.filterbench_version,
            if results.complete {
                ""
            } else {
                " · INCOMPLETE RUN"
            }
        ),
        sections,
    })
}

/// Mean with the 95% CI below it.
pub(crate) fn est_cell(e: Option<&Estimate>, fmt: fn(f64) -> String) -> Cell {
    match e {
        None => Cell::none(),
        Some(e) if e.n > 1 => {
            Cell::num(fmt(e.mean)).with_sub(format!("±{:.1}%", e.relative_ci() * 100.0))
        }
        Some(e) => Cell::num(fmt(e.mean)),
    }
}

/// A figure's mean ± CI, else why the run left it out ([`crate::net::missing_cell`]).
pub(crate) fn figure(a: &Analysis, key: &Key, fmt: fn(f64) -> String) -> Cell {
    match a.get(key) {
        Some(e) => est_cell(Some(e), fmt),
        None => crate::net::missing_cell(a, key),
    }
}

pub(crate) fn bar(e: Option<&Estimate>) -> Option<Bar> {
    e.map(|e| Bar {
        value: e.mean,
        low: e.ci_low,
        high: e.ci_high,
    })
}

/// The chart series of some arms, coloured consistently across the report.
pub(crate) fn series(a: &Analysis, arms: &[&str]) -> Vec<Series> {
    let colors = arm_colors(a.arms.iter().map(|x| (x.name.as_str(), x.kind)));
    arms.iter()
        .map(|n| Series {
            name: n.to_string(),
            color: colors.get(*n).copied().unwrap_or(GREY),
        })
        .collect()
}
