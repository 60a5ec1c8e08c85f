//! Instructions per request inside Envoy, beside the same filter in process: what the sandbox
//! costs in instructions, in Envoy and out (`filterbench instructions --envoy`). Inside Envoy
//! a filter's own cost is its variant's count minus the count of Envoy without a filter (the
//! same request, the same Envoy); in process the count is the filter and our driver.

use filterbench_results::summary::Key;
use filterbench_results::vocab::{Metric, Phase, arm};

use crate::doc::{Block, Cell, Section, Table};
use crate::model::{Analysis, REFERENCE_ARM};

/// The in-process arms shown beside Envoy's variants.
pub const IN_PROCESS: [&str; 3] = [REFERENCE_ARM, arm::WASMTIME_CRANELIFT, arm::WASMI];

fn key(filter: &str, scenario: &str, arm: &str) -> Key {
    Key::new(
        filter,
        scenario,
        arm,
        Phase::Request,
        Metric::Instructions,
        1,
    )
}

/// (filter, scenario) pairs with an instruction count of Envoy without a filter.
fn counted(a: &Analysis) -> Vec<(String, String)> {
    a.scenarios()
        .into_iter()
        .filter(|(f, s)| a.est.contains_key(&key(f, s, arm::ENVOY_NONE)))
        .collect()
}

fn mean(a: &Analysis, f: &str, s: &str, arm: &str) -> Option<f64> {
    a.est.get(&key(f, s, arm)).map(|e| e.mean)
}

/// The filter's own instructions per request in `variant`: the variant's count minus Envoy's
/// without a filter.
pub fn own(a: &Analysis, f: &str, s: &str, variant: &str) -> Option<f64> {
    Some(mean(a, f, s, variant)? - mean(a, f, s, arm::ENVOY_NONE)?)
}

/// An in-process arm's count net of the harness's, where the harness was counted (older files
/// and runs without it: the gross count, and the table says so).
fn in_process(a: &Analysis, f: &str, s: &str, arm: &str) -> Option<f64> {
    let gross = mean(a, f, s, arm)?;
    let all_net = counted(a)
        .iter()
        .all(|(f, s)| mean(a, f, s, arm::HARNESS).is_some());
    match (all_net, mean(a, f, s, arm::HARNESS)) {
        (true, Some(h)) => Some(gross - h),
        (true, None) => None,
        (false, _) => Some(gross),
    }
}

fn count_cell(v: Option<f64>) -> Cell {
    v.map_or(Cell::none(), |v| Cell::num(format!("{v:.0}")))
}

fn ratio_cell(num: Option<f64>, den: Option<f64>) -> Cell {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => Cell::num(format!("{:.2}×", n / d)),
        _ => Cell::none(),
    }
}

/// The summary table: per filter × scenario, the filter's own instructions per request in
/// each Envoy variant and V8 ÷ native module, beside the in-process counts.
pub fn own_table(a: &Analysis) -> Option<Table> {
    let pairs = counted(a);
    if pairs.is_empty() {
        return None;
    }
    let variants = &arm::ENVOY[1..];
    let mut header = vec![
        "filter".to_string(),
        "scenario".into(),
        "Envoy, no filter".into(),
    ];
    header.extend(variants.iter().map(|v| format!("{v} own")));
    header.push("V8 own ÷ native module own".into());
    header.extend(IN_PROCESS.iter().map(|x| x.to_string()));
    header.push(format!("{} ÷ {REFERENCE_ARM}", arm::WASMTIME_CRANELIFT));
    header.push(format!("{} ÷ {REFERENCE_ARM}", arm::WASMI));
    let mut rows = Vec::new();
    for (f, s) in &pairs {
        let mut row = vec![
            Cell::label(f.as_str()),
            Cell::label(s.as_str()),
            count_cell(mean(a, f, s, arm::ENVOY_NONE)),
        ];
        row.extend(variants.iter().map(|v| count_cell(own(a, f, s, v))));
        row.push(ratio_cell(
            own(a, f, s, arm::ENVOY_WASM_V8),
            own(a, f, s, arm::ENVOY_NATIVE_MODULE),
        ));
        row.extend(
            IN_PROCESS
                .iter()
                .map(|x| count_cell(in_process(a, f, s, x))),
        );
        let native = in_process(a, f, s, REFERENCE_ARM);
        row.push(ratio_cell(
            in_process(a, f, s, arm::WASMTIME_CRANELIFT),
            native,
        ));
        row.push(ratio_cell(in_process(a, f, s, arm::WASMI), native));
        rows.push(row);
    }
    // Every in-process cell is net of the harness, or none is: a net ratio is never set
    // beside a gross one.
    let net = pairs
        .iter()
        .all(|(f, s)| mean(a, f, s, arm::HARNESS).is_some());
    let groups = vec![
        (String::new(), 2),
        (
            "inside Envoy (instructions / request)".to_string(),
            variants.len() + 2,
        ),
        (
            if net {
                "in process, the filter's own (instructions / request, net of the harness)"
            } else {
                "in process (instructions / request, GROSS: the harness was not counted)"
            }
            .to_string(),
            IN_PROCESS.len() + 2,
        ),
    ];
    Some(Table {
        caption: "The filter's own instructions per request: inside Envoy, each variant minus \
                  Envoy without a filter (same request, same Envoy); in process, each arm \
                  minus the harness (our driver replaying the filter's callbacks empty). TCP: in Envoy per round trip on an open connection, in \
                  process per scenario connection (open, data, close)"
            .into(),
        groups,
        header,
        rows,
        collapsed: false,
    })
}

/// Every counted Envoy variant: the whole process's instructions per request, and how far the
/// windows spread ((max − min) ÷ mean).
pub fn windows_table(a: &Analysis) -> Option<Table> {
    let pairs = counted(a);
    if pairs.is_empty() {
        return None;
    }
    let mut rows = Vec::new();
    for (f, s) in &pairs {
        for v in arm::ENVOY {
            let Some(e) = a.est.get(&key(f, s, v)) else {
                continue;
            };
            rows.push(vec![
                Cell::label(f.as_str()),
                Cell::label(s.as_str()),
                Cell::label(v),
                Cell::num(format!("{:.0}", e.mean)),
                Cell::num(format!("{:.2}%", (e.max - e.min) / e.mean * 100.0)),
                Cell::num(e.n.to_string()),
            ]);
        }
    }
    Some(Table {
        caption: "Envoy under callgrind: the whole process's instructions per request, over \
                  zeroed windows"
            .into(),
        groups: Vec::new(),
        header: [
            "filter",
            "scenario",
            "variant",
            "instructions / request",
            "spread",
            "windows",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        collapsed: true,
    })
}

pub fn section(a: &Analysis) -> Option<Section> {
    let own = own_table(a)?;
    let mut s = Section::new(
        "instructions-envoy",
        "Instructions per request, in Envoy and in process",
    );
    s.summary = true;
    s.para(
        "Counted under valgrind's callgrind (deterministic: the same binary and request give the \
         same count on a busy machine). Inside Envoy, each variant runs in its own Envoy (one \
         worker) and is proven against the in-process native arm first; every response in a \
         window is checked.",
    );
    s.blocks.push(Block::Table(own));
    if let Some(t) = windows_table(a) {
        s.blocks.push(Block::Table(t));
    }
    Some(s)
}
