//! Live reload: swapping a filter version in a running host under load (phase `reload`). One
//! row per filter × arm: each figure the mean over trials (recorded as processes) with its 95%
//! interval, and each trial in words below.

use filterbench_results::summary::Key;
use filterbench_results::vocab::{Metric, Phase};

use crate::doc::{Block, Cell, Section, Table, clip};
use crate::model::Analysis;

/// (filter, scenario, arm) with a reload figure or a reload failure, in the run's arm order.
fn runs(a: &Analysis) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = a
        .results
        .rows
        .iter()
        .filter(|r| r.phase == Phase::Reload)
        .map(|r| (r.filter.clone(), r.scenario.clone(), r.arm.clone()))
        .chain(
            a.results
                .absent
                .iter()
                .filter(|x| x.phase == Phase::Reload)
                .map(|x| (x.filter.clone(), x.scenario.clone(), x.arm.clone())),
        )
        .collect();
    // A failed arm keeps no figure: its failure on a reload scenario names it.
    let failed: Vec<(String, String, String)> = a
        .results
        .failures
        .iter()
        .filter(|x| {
            out.iter()
                .any(|(f, s, _)| *f == x.filter && *s == x.scenario)
        })
        .map(|x| (x.filter.clone(), x.scenario.clone(), x.arm.clone()))
        .collect();
    out.extend(failed);
    out.sort_by_key(|(f, s, arm)| (f.clone(), s.clone(), a.arm_index(arm)));
    out.dedup();
    out
}

fn key(run: &(String, String, String), metric: Metric) -> Key {
    Key::new(&run.0, &run.1, &run.2, Phase::Reload, metric, 1)
}

/// Mean ± the half-width of its 95% CI (one trial: the value alone); nothing when absent (the
/// report's list of absent figures says why).
fn interval(a: &Analysis, k: &Key, fmt: fn(f64) -> String) -> Cell {
    match a.get(k) {
        Some(e) if e.n > 1 => Cell::num(format!(
            "{} ±{}",
            fmt(e.mean),
            fmt((e.ci_high - e.ci_low) / 2.0)
        )),
        Some(e) => Cell::num(fmt(e.mean)),
        None => Cell::none(),
    }
}

/// Milliseconds from nanoseconds, to three significant digits or whole ones.
fn ms(v: f64) -> String {
    let m = v / 1e6;
    match m.abs() {
        x if x >= 100.0 => format!("{m:.0}"),
        x if x >= 10.0 => format!("{m:.1}"),
        _ => format!("{m:.2}"),
    }
}

/// A time as "mean ±half ms".
fn time(a: &Analysis, k: &Key) -> Cell {
    match a.get(k) {
        Some(e) if e.n > 1 => Cell::num(format!(
            "{} ±{} ms",
            ms(e.mean),
            ms((e.ci_high - e.ci_low) / 2.0)
        )),
        Some(e) => Cell::num(format!("{} ms", ms(e.mean))),
        None => Cell::none(),
    }
}

/// The mean alone (a figure whose spread says little, e.g. requests sent).
fn mean(a: &Analysis, k: &Key, fmt: fn(f64) -> String) -> Cell {
    a.get(k).map_or(Cell::none(), |e| Cell::num(fmt(e.mean)))
}

fn count(v: f64) -> String {
    format!("{v:.0}")
}

fn mib(v: f64) -> String {
    format!("{:.0}", v / f64::from(1u32 << 20))
}

/// "before → after" of two figures' means.
fn pair(
    a: &Analysis,
    run: &(String, String, String),
    m: (Metric, Metric),
    fmt: fn(f64) -> String,
) -> Cell {
    let mean = |m: Metric| a.get(&key(run, m)).map(|e| fmt(e.mean));
    match (mean(m.0), mean(m.1)) {
        (Some(b), Some(after)) => Cell::num(format!("{b} → {after}")),
        _ => Cell::none(),
    }
}

fn failure<'a>(
    a: &'a Analysis,
    run: &(String, String, String),
) -> Option<&'a filterbench_results::Failure> {
    a.results
        .failures
        .iter()
        .find(|x| x.filter == run.0 && x.scenario == run.1 && x.arm == run.2)
}

/// The tables, two per filter × scenario (how the version changed): per arm, the swap (time to
/// the new version's first answer and until every answer is the new version's, requests sent
/// and failed in the window), then what stayed in Envoy (memory, V8 VMs, the native module's
/// old shim and old filter code).
pub fn tables(a: &Analysis) -> Vec<Table> {
    let all = runs(a);
    let mut swaps: Vec<(String, String)> =
        all.iter().map(|(f, s, _)| (f.clone(), s.clone())).collect();
    swaps.dedup();
    swaps
        .iter()
        .flat_map(|(f, sc)| {
            let runs: Vec<_> = all
                .iter()
                .filter(|r| r.0 == *f && r.1 == *sc)
                .cloned()
                .collect();
            [swap_table(a, f, sc, &runs), code_table(a, f, sc, &runs)]
        })
        .collect()
}

/// The rows: a failed arm its failure (no figure), the others `cells`.
fn rows(
    a: &Analysis,
    runs: &[(String, String, String)],
    width: usize,
    cells: impl Fn(&(String, String, String)) -> Vec<Cell>,
) -> Vec<Vec<Cell>> {
    runs.iter()
        .map(|run| {
            let mut row = vec![Cell::label(run.2.as_str())];
            match failure(a, run) {
                Some(x) => {
                    row.push(Cell::label(format!("failed: {}", clip(&x.message, 30))));
                    row.resize(width, Cell::none());
                }
                None => row.extend(cells(run)),
            }
            row
        })
        .collect()
}

fn header(h: &[&str]) -> Vec<String> {
    h.iter().map(|h| h.to_string()).collect()
}

fn swap_table(
    a: &Analysis,
    filter: &str,
    scenario: &str,
    runs: &[(String, String, String)],
) -> Table {
    let header = header(&["arm", "first new", "all new", "requests", "failed"]);
    let rows = rows(a, runs, header.len(), |run| {
        vec![
            time(a, &key(run, Metric::ReloadFirstNewTime)),
            time(a, &key(run, Metric::ReloadTime)),
            mean(a, &key(run, Metric::ReloadRequests), count),
            interval(a, &key(run, Metric::ReloadRequestsFailed), count),
        ]
    });
    Table {
        caption: format!(
            "Live reload of {filter}, {scenario}, under closed-loop load, through \
             extension-config discovery from a watched file (mean over trials ± half-width \
             of the 95% CI; times from the rename of the new resource into the watched \
             folder). first new: until the new version's first answer; all new: until its \
             first answer after the old version's last one; requests: completed from the \
             rename until the load stopped; failed: of those, without either version's \
             output, or reset"
        ),
        groups: Vec::new(),
        header,
        rows,
        collapsed: false,
    }
}

fn code_table(
    a: &Analysis,
    filter: &str,
    scenario: &str,
    runs: &[(String, String, String)],
) -> Table {
    let rss = (Metric::ReloadRssBeforeBytes, Metric::ReloadRssAfterBytes);
    let vms = (Metric::ReloadWasmVmsBefore, Metric::ReloadWasmVmsAfter);
    let copies = (
        Metric::ReloadFilterCopiesBefore,
        Metric::ReloadFilterCopiesAfter,
    );
    let header = header(&[
        "arm",
        "RSS MiB",
        "V8 VMs",
        "old shim maps",
        "lib copies",
        "old lib kept",
    ]);
    let rows = rows(a, runs, header.len(), |run| {
        vec![
            pair(a, run, rss, mib),
            pair(a, run, vms, count),
            interval(a, &key(run, Metric::ReloadOldModuleMappings), count),
            pair(a, run, copies, count),
            interval(a, &key(run, Metric::ReloadOldFilterCopies), count),
        ]
    });
    Table {
        caption: format!(
            "What stays in Envoy across a swap of {filter}, {scenario} (means over trials, \
             before → after the swap). RSS MiB: Envoy's resident set; V8 VMs: Wasm VMs \
             alive; native module only: old shim maps: mappings of the previous version's \
             dynamic-module shim file (not the filter's code); lib copies: private copies of \
             the filter's library mapped (the filter's code, loaded from a deleted temporary \
             copy; every version's still mapped counts); old lib kept: of the copies the previous \
             version added, those still mapped after (0: its filter code was unloaded)"
        ),
        groups: Vec::new(),
        header,
        rows,
        collapsed: false,
    }
}

/// The section, when the results hold its figures.
pub fn section(a: &Analysis) -> Option<Section> {
    let tables = tables(a);
    if tables.is_empty() {
        return None;
    }
    let mut s = Section::new("reload", "Live reload");
    s.para(
        "A filter's version swapped in a running Envoy under steady load: the new version (a new \
         module file — swap-module — or the same file with a new configuration — \
         swap-config —, each version with its own output) written to the file Envoy's \
         extension-config discovery watches. Each trial swaps from the version before, in \
         the same Envoy. \
         Requests: those completed from the write until the load stopped; failed: answered \
         without either version's output, or reset. A failed swap ends its arm (the version \
         Envoy runs is then unknown). Under the native module the filter's code is loaded by \
         the dynamic-module shim from a private, deleted copy of the filter's library: old \
         shim maps counts the previous shim file's mappings, lib copies the private copies \
         mapped before → after the swap, old lib kept those of the previous version still \
         mapped after it (0: the old filter code unloaded).",
    );
    s.blocks.extend(tables.into_iter().map(Block::Table));
    let lines: Vec<(String, String)> = a
        .results
        .observations
        .iter()
        .filter(|o| o.phase == Phase::Reload)
        .map(|o| {
            let label = format!("{} {} trial {}", o.arm, o.scenario, o.process);
            (label, o.text.clone())
        })
        .collect();
    if !lines.is_empty() {
        s.blocks.push(Block::Facts(lines));
    }
    s.summary = true;
    Some(s)
}
