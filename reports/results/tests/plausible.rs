//! Implausible figures (not finite, or beyond their unit's bound) are found and named; every
//! figure of a real run is plausible.

use std::path::Path;

use filterbench_results::check::{limit, plausible};
use filterbench_results::vocab::{Metric, Unit};
use filterbench_results::{Histogram, Results, Row};

fn real() -> Results {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/quick-trimmed.json");
    Results::read(&path).expect("committed results file reads")
}

#[test]
fn a_real_run_is_plausible() {
    let r = real();
    assert!(!r.rows.is_empty());
    assert_eq!(r.check(), Ok(()));
}

#[test]
fn bounds_are_per_unit_and_inclusive() {
    assert!(plausible(1e15, Unit::Ns) && !plausible(1.000_001e15, Unit::Ns));
    assert!(plausible(-1e15, Unit::Bytes) && !plausible(-2e15, Unit::Bytes));
    assert!(!plausible(2e12, Unit::PerSecond) && plausible(1e12, Unit::PerSecond));
    assert!(!plausible(2e9, Unit::Ratio));
    for u in [
        Unit::Ns,
        Unit::PerSecond,
        Unit::Bytes,
        Unit::Count,
        Unit::Ratio,
    ] {
        assert!(limit(u) > 0.0);
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e308] {
            assert!(!plausible(v, u), "{v} {u:?}");
        }
    }
}

#[test]
fn an_implausible_row_is_named() {
    for value in [1e308, f64::NAN, f64::NEG_INFINITY] {
        let mut r = real();
        r.rows.push(Row {
            filter: "add-header".into(),
            scenario: "small-headers".into(),
            arm: "wasmi".into(),
            metric: Metric::CpuPerRequest,
            threads: 1,
            process: 7,
            iteration: 3,
            value,
            ..Default::default()
        });
        let e = r.check().unwrap_err().to_string();
        for part in [
            "\"add-header\"",
            "\"small-headers\"",
            "\"wasmi\"",
            "cpu_per_request",
            "process 7",
            "iteration 3",
        ] {
            assert!(e.contains(part), "{part} in {e}");
        }
        assert_eq!(r.implausible().len(), 1);
    }
}

#[test]
fn implausible_histograms_and_durations_are_found() {
    let mut r = real();
    r.histograms.push(Histogram {
        filter: "f".into(),
        max_ns: u64::MAX,
        points: vec![(0.5, 100, 1), (1.0, u64::MAX, 1)],
        ..Default::default()
    });
    r.duration_s = f64::NAN;
    let found: Vec<String> = r.implausible().iter().map(|i| i.to_string()).collect();
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found[0].contains("max_ns") && found[1].contains("points"),
        "{found:?}"
    );
    assert!(found[2].contains("duration_s") && found[2].contains("not finite"));
    assert!(r.check().unwrap_err().to_string().contains("(and 2 more)"));
}
