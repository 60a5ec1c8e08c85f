//! Results files that are corrupt or crafted: implausible figures are refused quickly (never a
//! chart that draws for ever), a comparison on them fails closed, and text from the file comes
//! out inert in Markdown, CSV and HTML.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use filterbench_reports::charts::bars::{Bar, Bars, Scale, hbars};
use filterbench_reports::charts::latency::{Line, percentile_chart};
use filterbench_reports::charts::{GREY, Series};
use filterbench_reports::compare::trend::Entry;
use filterbench_reports::{Format, Thresholds, compare};
use filterbench_results::vocab::{Metric, Stage};
use filterbench_results::{Attachment, Failure, Results, Row};

/// Runs `f` on its own thread and fails the test unless it returns within five seconds (the
/// bug this guards against ran until the kernel killed it).
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("gave no answer within 5 s")
}

/// The fixture with every figure of add-header on wasmi set to `value` (the shape that sent
/// the report into plotters' tick search).
fn with_value(value: f64) -> Results {
    let mut r = common::fixture(1, 0.02);
    for row in &mut r.rows {
        if row.filter == "add-header" && row.arm == "wasmi" {
            row.value = value;
        }
    }
    r
}

#[test]
fn implausible_figures_are_refused_quickly_by_every_format() {
    for value in [1e308, -1e308, f64::NAN, f64::INFINITY, 2e15] {
        for format in [Format::Html, Format::Markdown] {
            let r = with_value(value);
            let e = within_seconds(move || format.exporter().serialize(&r))
                .expect_err("an implausible figure must be refused")
                .to_string();
            assert!(
                e.contains("\"add-header\"") && e.contains("\"wasmi\"") && e.contains("process"),
                "the error names the row: {e}"
            );
        }
    }
    // Large but plausible figures make a report.
    assert!(Format::Html.exporter().serialize(&with_value(1e9)).is_ok());
}

#[test]
fn charts_refuse_unbounded_axes_quickly() {
    let series = vec![Series {
        name: "a".into(),
        color: GREY,
    }];
    for (scale, value) in [
        (Scale::Log, 1e308),
        (Scale::Linear, 1e308),
        (Scale::Auto, f64::INFINITY),
    ] {
        let bars = Bars {
            title: "t".into(),
            axis: "ns".into(),
            groups: vec!["g".into(), "h".into()],
            series: series.clone(),
            values: vec![
                vec![Some(Bar {
                    value,
                    low: value,
                    high: value,
                })],
                vec![Some(Bar {
                    value: 1e-300,
                    low: 1e-300,
                    high: 1e-300,
                })],
            ],
            format: |v| format!("{v}"),
            axis_format: |v| format!("{v}"),
            scale,
        };
        let out = within_seconds(move || hbars(&bars).map(|_| ()));
        assert!(out.is_err(), "{scale:?} {value}");
    }
    // A tiny positive figure beside a normal one only shortens the log axis.
    let fine = Bars {
        title: "t".into(),
        axis: "ns".into(),
        groups: vec!["g".into(), "h".into()],
        series: series.clone(),
        values: vec![
            vec![Some(Bar {
                value: 1e6,
                low: 1e6,
                high: 1e6,
            })],
            vec![Some(Bar {
                value: 1e-300,
                low: 1e-300,
                high: 1e-300,
            })],
        ],
        format: |v| format!("{v}"),
        axis_format: |v| format!("{v}"),
        scale: Scale::Log,
    };
    assert!(within_seconds(move || hbars(&fine).map(|s| s.is_some())).unwrap());
    let line = Line {
        series: series[0].clone(),
        points: vec![(0.5, 1e3), (0.99, 1e300)],
        count: 1000,
    };
    assert!(within_seconds(move || percentile_chart("t", &[line]).map(|_| ())).is_err());
}

#[test]
fn compare_fails_closed_on_implausible_gating_figures() {
    let base = common::fixture(1, 0.02);
    assert!(!compare(&base, &base, &Thresholds::default()).has_regression());
    for value in [f64::NAN, 1e308, f64::INFINITY] {
        // One process of one gating figure, in either file.
        let mut bad = base.clone();
        let row = bad
            .rows
            .iter_mut()
            .find(|r| r.arm == "wasmi" && r.metric == Metric::CpuPerRequest && r.threads == 1)
            .unwrap();
        row.value = value;
        for (b, n) in [(&base, &bad), (&bad, &base)] {
            let c = compare(b, n, &Thresholds::default());
            assert!(c.has_regression(), "{value}");
            assert!(
                c.implausible[0].contains("\"wasmi\""),
                "{:?}",
                c.implausible
            );
            let text = c.text();
            assert!(text.contains("RESULT: failed"), "{text}");
            assert!(!text.contains("no significant regression"), "{text}");
            assert!(c.markdown().contains("Failed: implausible"));
        }
    }
    // The nightly history keeps no implausible point.
    let mut huge = base.clone();
    for r in huge.rows.iter_mut().filter(|r| r.arm == "wasmi") {
        r.value = 1e308;
    }
    let (good, bad) = (Entry::of(&base).points, Entry::of(&huge).points);
    assert!(bad.len() < good.len() && bad.iter().all(|p| p.mean.abs() <= 1e15));
    // A figure that gates nothing is left out with a note, not a failure.
    let mut odd = base.clone();
    odd.rows
        .iter_mut()
        .find(|r| r.metric == Metric::LatencyP99)
        .unwrap()
        .value = 1e308;
    let c = compare(&base, &odd, &Thresholds::default());
    assert!(
        c.implausible.is_empty() && !c.has_regression(),
        "{:?}",
        c.implausible
    );
    assert!(
        c.notes.iter().any(|n| n.contains("implausible")),
        "{:?}",
        c.notes
    );
}

const HOSTILE: &str =
    "evil|<script>alert(1)</script>`x`\n# h1\n| a | b |\\|[c](javascript:alert(1))";

/// The fixture with hostile text in a failure, an arm of a row, and an attachment.
fn hostile() -> Results {
    let mut r = common::fixture(1, 0.02);
    r.failures.push(Failure {
        filter: HOSTILE.into(),
        scenario: format!("={HOSTILE}"),
        arm: "@arm".into(),
        stage: Stage::default(),
        message: HOSTILE.into(),
    });
    for (i, lead) in ["=", "+", "-", "@"].iter().enumerate() {
        r.rows.push(Row {
            filter: format!("{lead}HYPERLINK(\"http://x\",\"y\")"),
            scenario: HOSTILE.into(),
            arm: format!("{lead}cmd|' /C calc'!A0"),
            process: i as u32,
            value: 1.0,
            ..Default::default()
        });
    }
    r.attachments.push(Attachment {
        filter: "add-header".into(),
        scenario: "small-headers".into(),
        arm: "wasmi".into(),
        kind: "flamegraph".into(),
        path: "javascript:alert(1)".into(),
        note: HOSTILE.into(),
    });
    r
}

fn render(format: Format, r: &Results) -> String {
    String::from_utf8(format.exporter().serialize(r).unwrap()).unwrap()
}

#[test]
fn markdown_keeps_hostile_text_inert() {
    let md = render(Format::Markdown, &hostile());
    assert!(
        md.contains("evil\\|"),
        "the failure is in the summary, escaped:\n{md}"
    );
    assert!(!md.replace("\\<", "").contains("<script"), "{md}");
    assert!(!md.replace("\\](", "").contains("](javascript:"), "{md}");
    assert!(!md.lines().any(|l| l.starts_with("# h1")), "{md}");
    assert!(!md.lines().any(|l| l.starts_with("| a | b |")), "{md}");
    // Every line of a table has as many unescaped pipes as its header.
    let pipes = |l: &str| {
        l.replace("\\\\", "")
            .replace("\\|", "")
            .matches('|')
            .count()
    };
    let mut head = None;
    for l in md.lines() {
        if !l.starts_with('|') {
            head = None;
            continue;
        }
        let n = *head.get_or_insert(pipes(l));
        assert_eq!(pipes(l), n, "{l}");
    }
}

#[test]
fn csv_quotes_and_neutralises_formulas() {
    let csv = render(Format::Csv, &hostile());
    for lead in ["=", "+", "-", "@"] {
        assert!(
            csv.contains(&format!("\"'{lead}HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"")),
            "{lead}"
        );
    }
    // No record starts a cell with a formula character outside quotes.
    for record in csv.lines() {
        for cell in record.split(',') {
            assert!(!cell.starts_with(['=', '+', '@']), "{cell:?} in {record}");
        }
    }
}

#[test]
fn html_escapes_everything_from_the_file() {
    let html = render(Format::Html, &hostile());
    assert!(html.contains("alert(1)"), "the hostile text is shown");
    assert!(!html.contains("<script>"));
    assert!(!html.contains("href=\"javascript:"));
    // The backquote helper: code spans of hostile text are escaped too.
    let mut r = common::fixture(1, 0.02);
    r.machine.cpu_model = "`<img src=x onerror=alert(1)>`".into();
    r.profile = "<b>`<i>`</b>".into();
    let html = render(Format::Html, &r);
    assert!(
        !html.contains("<img src=x") && !html.contains("<b>"),
        "escaped"
    );
    assert!(html.contains("&#60;img src=x") || html.contains("&lt;img src=x"));
}
