//! The HTTP/1.1-against-h2c section on hand-made results: every variant shows both protocols,
//! each figure under its own protocol's column, the h2c ÷ HTTP/1.1 ratio paired per process,
//! and the headline comparisons once per protocol.

use filterbench_reports::doc::{Block, Cell, Table};
use filterbench_reports::report;
use filterbench_reports::terminal;
use filterbench_results::vocab::{ArmKind, Metric, Phase, arm, protocol};
use filterbench_results::{ArmInfo, FilterInfo, Results, Row};

const F: &str = "add-header";
const S: &str = "get";
const VARIANTS: [&str; 3] = [
    arm::ENVOY_NONE,
    arm::ENVOY_NATIVE_MODULE,
    arm::ENVOY_WASM_V8,
];

/// CPU per request: distinct per variant and protocol so a swapped or dropped column shows.
fn cpu(variant: &str, h2c: bool, process: u32) -> f64 {
    let base = match variant {
        arm::ENVOY_NONE => 10_000.0,
        arm::ENVOY_NATIVE_MODULE => 12_000.0,
        _ => 20_000.0,
    };
    // h2c costs 1.5× in every process; processes drift alike for both protocols.
    base * if h2c { 1.5 } else { 1.0 } * (1.0 + 0.01 * f64::from(process))
}

fn results(with_h2c: bool) -> Results {
    let mut r = Results::new();
    r.complete = true;
    r.filters.push(FilterInfo {
        name: F.into(),
        language: "rust".into(),
        scenarios: vec![S.into()],
        ..Default::default()
    });
    for v in VARIANTS {
        r.arms.push(ArmInfo {
            name: v.into(),
            kind: ArmKind::Envoy,
            ..Default::default()
        });
        for h2c in [false, true].into_iter().filter(|h| with_h2c || !h) {
            for process in 0..3 {
                let c = cpu(v, h2c, process);
                for (metric, value) in [
                    (Metric::CpuPerRequest, c),
                    (Metric::Throughput, 1e9 / c),
                    (Metric::LatencyP99, c * 10.0),
                ] {
                    r.rows.push(Row {
                        filter: F.into(),
                        scenario: protocol::scenario(S, h2c),
                        arm: v.into(),
                        phase: Phase::Request,
                        metric,
                        unit: metric.unit(),
                        threads: 1,
                        process,
                        iteration: 0,
                        value,
                    });
                }
            }
        }
    }
    r
}

fn tables(r: &Results) -> Vec<Table> {
    let page = report::build(r).expect("a sound file");
    page.sections
        .into_iter()
        .filter(|s| s.id == "protocols")
        .flat_map(|s| s.blocks)
        .filter_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn text(c: &Cell) -> &str {
    c.text.as_str()
}

#[test]
fn each_variant_shows_both_protocols_in_their_own_columns() {
    let r = results(true);
    let ts = tables(&r);
    assert_eq!(ts.len(), 2, "side by side and the headline per protocol");
    let side = &ts[0];
    assert_eq!(
        side.header[2..5],
        ["CPU/req HTTP/1.1", "CPU/req h2c", "CPU/req h2c ÷ HTTP/1.1"]
    );
    assert_eq!(side.header[9], "p99 h2c");
    assert_eq!(side.groups[1], ("CPU/req".to_string(), 3));
    let arms: Vec<&str> = side.rows.iter().map(|row| text(&row[1])).collect();
    assert_eq!(arms, VARIANTS, "every variant, in the run's order");
    for row in &side.rows {
        let v = text(&row[1]);
        assert_eq!(
            text(&row[0]),
            format!("{F} / {S}"),
            "the HTTP/1.1 name labels the row"
        );
        // Means over processes 0..3 (drift 1.00, 1.01, 1.02: mean 1.01).
        let mean = |h2c| filterbench_reports::format::ns(cpu(v, h2c, 1));
        assert_eq!(text(&row[2]), mean(false), "{v}: HTTP/1.1 CPU");
        assert_eq!(text(&row[3]), mean(true), "{v}: h2c CPU");
        assert_eq!(text(&row[4]), "1.50×", "{v}: h2c ÷ HTTP/1.1");
        assert!(row[4].sub.contains("1.50"), "{v}: with its interval");
        // Throughput and p99, each protocol's own.
        assert_eq!(text(&row[7]), "0.67×", "{v}: throughput h2c ÷ HTTP/1.1");
        assert_eq!(text(&row[10]), "1.50×", "{v}: p99 h2c ÷ HTTP/1.1");
        assert!(
            row.iter().all(|c| !c.text.is_empty()),
            "{v}: a cell is empty"
        );
    }
    let head = &ts[1];
    let protocols: Vec<&str> = head.rows.iter().map(|row| text(&row[1])).collect();
    assert_eq!(protocols, ["HTTP/1.1", "h2c"]);
    for row in &head.rows {
        // V8 ÷ none and V8 ÷ native module hold over either protocol (both scaled alike).
        assert_eq!(text(&row[2]), "2.00×", "{}", text(&row[1]));
        assert_eq!(text(&row[3]), "1.67×", "{}", text(&row[1]));
        // Net: (20 − 10) ÷ (12 − 10) = 5× on both.
        assert_eq!(text(&row[4]), "5.00×", "{}", text(&row[1]));
    }
    // The verbose terminal summary carries the same table.
    let t = terminal::render(&r);
    assert!(t.contains("h2c ÷ HTTP/1.1"), "{t}");
}

#[test]
fn no_section_without_h2c_figures() {
    assert!(tables(&results(false)).is_empty());
}
