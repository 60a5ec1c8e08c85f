//! compare: a file against itself and against a jittered copy shows no significant change; an
//! injected slowdown is flagged as a regression, a speed-up as an improvement.

mod common;

use filterbench_reports::{Thresholds, Verdict, compare};

#[test]
fn a_file_against_itself_has_no_change() {
    let r = common::fixture(1, 0.02);
    let c = compare(&r, &r, &Thresholds::default());
    assert!(!c.changes.is_empty());
    assert!(c.changes.iter().all(|x| x.verdict == Verdict::NoChange));
    assert!(!c.has_regression());
    assert!(c.only_base.is_empty() && c.only_new.is_empty() && c.new_failures.is_empty());
    assert!(c.notes.is_empty(), "{:?}", c.notes);
    assert!(c.text().contains("RESULT: no significant regression"));
}

#[test]
fn jitter_within_a_few_percent_is_no_significant_change() {
    let base = common::fixture(1, 0.02);
    let new = common::fixture(2, 0.02);
    let c = compare(&base, &new, &Thresholds::default());
    let flagged: Vec<String> = c
        .changes
        .iter()
        .filter(|x| x.verdict != Verdict::NoChange)
        .map(|x| format!("{:?} {:?} {}", x.key, x.verdict, x.change))
        .collect();
    assert!(flagged.is_empty(), "{flagged:#?}");
    assert!(!c.has_regression());
}

#[test]
fn an_injected_slowdown_is_a_regression() {
    let base = common::fixture(1, 0.02);
    let new = common::scaled(common::fixture(2, 0.02), "wasmi", "latency_p99", 1.3);
    let c = compare(&base, &new, &Thresholds::default());
    assert!(c.has_regression());
    let reg = c.with_verdict(Verdict::Regressed);
    assert!(!reg.is_empty());
    assert!(
        reg.iter()
            .all(|x| x.key.arm == "wasmi" && x.key.metric == "latency_p99"),
        "{reg:#?}"
    );
    // Every scenario of the arm is caught, with the change inside its interval.
    assert_eq!(reg.len(), 5);
    for x in &reg {
        assert!(x.ci_low > 0.0 && x.ci_low <= x.change && x.change <= x.ci_high);
        assert!((x.change - 0.3).abs() < 0.06, "{}", x.change);
    }
    assert!(c.text().contains("RESULT: significant regression"));
    let md = c.markdown();
    assert!(md.contains("## Regressions"), "{md}");
    assert!(
        md.contains("| add-header | small-headers | wasmi | request | latency_p99 | 1 |"),
        "{md}"
    );
    let html = c.html().unwrap();
    assert!(html.contains("Significant regression."));
    assert!(html.contains("<svg"));
}

#[test]
fn faster_throughput_is_an_improvement_not_a_regression() {
    let base = common::fixture(1, 0.02);
    let new = common::scaled(
        common::fixture(2, 0.02),
        "wasmtime-cranelift",
        "throughput",
        1.25,
    );
    let c = compare(&base, &new, &Thresholds::default());
    assert!(!c.has_regression());
    let imp = c.with_verdict(Verdict::Improved);
    assert_eq!(imp.len(), 10, "5 scenarios × 2 thread counts");
    assert!(imp.iter().all(|x| x.bigger_is_better));
}

#[test]
fn threshold_and_ungated_metrics() {
    let base = common::fixture(1, 0.0);
    let new = common::scaled(common::fixture(1, 0.0), "native", "latency_max", 1.5);
    // A noisy maximum is reported but does not fail the comparison…
    let c = compare(&base, &new, &Thresholds::default());
    assert!(c.count(Verdict::Regressed) > 0);
    assert!(!c.has_regression());
    // …unless it is gated; and a threshold above the change makes it no change at all.
    let gated = Thresholds {
        ungated: Vec::new(),
        ..Thresholds::default()
    };
    assert!(compare(&base, &new, &gated).has_regression());
    let lax = Thresholds {
        pct: 60.0,
        ungated: Vec::new(),
    };
    assert!(!compare(&base, &new, &lax).has_regression());
}

#[test]
fn a_new_failure_is_a_regression() {
    let base = common::fixture(1, 0.02);
    let mut new = base.clone();
    new.failures.push(filterbench_results::Failure {
        filter: "hostcalls".into(),
        scenario: "log".into(),
        arm: "wasmi".into(),
        stage: "run".into(),
        message: "trap".into(),
    });
    let c = compare(&base, &new, &Thresholds::default());
    assert!(c.has_regression());
    assert_eq!(c.new_failures.len(), 1);
    assert!(c.markdown().contains("New failures"));
}

#[test]
fn single_process_runs_are_inconclusive_not_regressions() {
    let only_first = |mut r: filterbench_results::Results| {
        r.rows.retain(|x| x.process == 0);
        r
    };
    let base = only_first(common::fixture(1, 0.02));
    let new = only_first(common::scaled(
        common::fixture(2, 0.02),
        "wasmi",
        "latency_p99",
        1.3,
    ));
    let c = compare(&base, &new, &Thresholds::default());
    assert!(!c.has_regression());
    assert!(c.count(Verdict::Inconclusive) > 0);
    assert_eq!(c.count(Verdict::Regressed), 0);
}
