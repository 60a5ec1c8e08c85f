//! Failures, machine and versions, and how to reproduce the run.

use crate::doc::{Block, Cell, Section, Table, Tone};
use crate::format;
use crate::model::Analysis;

pub fn failures(a: &Analysis) -> Section {
    let mut s = Section::new("failures", "Failures");
    s.summary = true;
    let mut f = a.results.failures.clone();
    if f.is_empty() {
        s.para("None: every filter × arm was verified and measured.");
        return s;
    }
    f.sort_by(|x, y| {
        (&x.filter, &x.scenario, &x.arm, &x.stage).cmp(&(&y.filter, &y.scenario, &y.arm, &y.stage))
    });
    s.para(format!(
        "{} failure(s). A filter × arm listed here has no timing rows: it failed verification, \
         trapped or changed its output while timed, or its worker process died.",
        f.len()
    ));
    s.blocks.push(Block::Table(Table {
        caption: String::new(),
        groups: Vec::new(),
        header: ["filter", "scenario", "arm", "stage", "message"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows: f
            .iter()
            .map(|x| {
                vec![
                    Cell::label(x.filter.as_str()),
                    Cell::label(x.scenario.as_str()),
                    Cell::label(x.arm.as_str()),
                    Cell::label(x.stage.name()).tone(Tone::Poor),
                    Cell::label(x.message.as_str()),
                ]
            })
            .collect(),
        collapsed: false,
    }));
    s
}

/// Figures the run measured but did not publish, each with its reason.
pub fn absent(a: &Analysis) -> Section {
    let mut s = Section::new("absent", "Absent figures");
    s.summary = true;
    if a.results.absent.is_empty() {
        return s;
    }
    s.para(
        "Not published because they could not be measured well enough; no value stands in \
         for them anywhere in this report.",
    );
    s.blocks.push(Block::Table(Table {
        caption: String::new(),
        groups: Vec::new(),
        header: ["filter", "scenario", "arm", "figure", "process", "reason"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows: a
            .results
            .absent
            .iter()
            .map(|x| {
                vec![
                    Cell::label(x.filter.as_str()),
                    Cell::label(x.scenario.as_str()),
                    Cell::label(x.arm.as_str()),
                    Cell::label(format!("{} {} ({} thr)", x.phase, x.metric, x.threads)),
                    Cell::num(x.process.to_string()),
                    Cell::label(format!("absent: {}", x.reason)).tone(Tone::Muted),
                ]
            })
            .collect(),
        collapsed: false,
    }));
    s
}

pub fn machine(a: &Analysis) -> Section {
    let r = a.results;
    let m = &r.machine;
    let mut s = Section::new("machine", "Machine and versions");
    s.summary = true;
    s.blocks.push(Block::Facts(vec![
        ("host".into(), m.hostname.clone()),
        (
            "CPU".into(),
            format!("{} ({} logical CPUs)", m.cpu_model, m.cpus),
        ),
        (
            "memory".into(),
            m.memory_bytes
                .map_or_else(|| "unknown".to_string(), |b| format::bytes(b as f64)),
        ),
        ("OS".into(), format!("{}, kernel {}", m.os, m.kernel)),
        ("filterbench".into(), r.filterbench_version.clone()),
        (
            "git commit".into(),
            r.git_commit.clone().unwrap_or_else(|| "unknown".into()),
        ),
        (
            "profile".into(),
            format!(
                "{}{}",
                r.profile,
                if r.complete { "" } else { " (incomplete)" }
            ),
        ),
        ("started".into(), format::utc(r.started_unix)),
        ("duration".into(), format::ns(r.duration_s * 1e9)),
    ]));
    s.blocks.push(Block::Table(Table {
        caption: "Arms".into(),
        groups: Vec::new(),
        header: ["arm", "kind", "version", "flags"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows: a
            .arms
            .iter()
            .map(|x| {
                vec![
                    Cell::label(x.name.as_str()),
                    Cell::label(x.kind.name()),
                    Cell::label(x.version.as_str()),
                    Cell::label(x.flags.as_str()),
                ]
            })
            .collect(),
        collapsed: false,
    }));
    let mut filters = r.filters.clone();
    filters.sort_by(|x, y| x.name.cmp(&y.name));
    s.blocks.push(Block::Table(Table {
        caption: "Filters".into(),
        groups: Vec::new(),
        header: [
            "filter",
            "kind",
            "language",
            "scenarios",
            ".wasm size",
            ".wasm SHA-256",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows: filters
            .iter()
            .map(|f| {
                vec![
                    Cell::label(f.name.as_str()),
                    Cell::label(f.kind.as_str()),
                    Cell::label(f.language.as_str()),
                    Cell::label(f.scenarios.join(", ")),
                    f.wasm_bytes
                        .map_or_else(Cell::none, |b| Cell::num(format::bytes(b as f64))),
                    Cell::label(
                        f.wasm_sha256
                            .as_deref()
                            .map_or("–".to_string(), |h| h[..h.len().min(16)].to_string()),
                    ),
                ]
            })
            .collect(),
        collapsed: true,
    }));
    s
}

pub fn reproduce(a: &Analysis) -> Section {
    let r = a.results;
    let mut s = Section::new("reproduce", "How to reproduce");
    s.summary = true;
    let mut lines = Vec::new();
    if let Some(c) = &r.git_commit {
        lines.push(format!("git checkout {c}"));
    }
    lines.push("scripts/setup.sh".into());
    lines.push("scripts/build.sh   # cargo build --release --workspace --all-targets".into());
    if r.command_line.is_empty() {
        lines.push("# (the results file does not record its command line)".into());
    } else {
        lines.push(format::shell_line(&r.command_line));
    }
    lines.push("filterbench report RESULTS.json   # this page".into());
    s.para(
        "On a machine like the one above, from a checkout of the repository. The run writes \
         a new results file; `filterbench compare OLD.json NEW.json` tells whether anything \
         changed beyond noise.",
    );
    s.blocks.push(Block::Code(lines.join("\n")));
    s
}
