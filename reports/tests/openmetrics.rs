//! `--format openmetrics`: the output passes a strict check of the OpenMetrics 1.0 text grammar
//! (families, metadata before samples, units as name suffixes, label escaping, unique series,
//! `# EOF` last) and holds the estimates of the results file, in base units.

mod common;

use std::collections::BTreeSet;

use filterbench_reports::Format;
use filterbench_results::summary::{Key, summarize};
use filterbench_results::vocab::{Metric, Phase};
use filterbench_results::{Results, Row};

#[derive(Debug, Default)]
struct Family {
    name: String,
    kind: String,
    unit: Option<String>,
    help: Option<String>,
    /// (sample name, labels, value).
    samples: Vec<(String, Labels, f64)>,
}

fn is_name(s: &str, colons: bool) -> bool {
    let mut c = s.chars();
    let ok = |ch: char, first: bool| {
        ch.is_ascii_alphabetic()
            || ch == '_'
            || (colons && ch == ':')
            || (!first && ch.is_ascii_digit())
    };
    c.next().is_some_and(|ch| ok(ch, true)) && c.all(|ch| ok(ch, false))
}

fn parse_value(s: &str) -> Result<f64, String> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let numeric = {
        let (mant, exp) = body.split_once(['e', 'E']).unwrap_or((body, "0"));
        let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        let (int, frac) = mant.split_once('.').unwrap_or((mant, "0"));
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        digits(int) && digits(frac) && digits(exp)
    };
    if numeric || ["Inf", "NaN"].contains(&body) {
        s.replace("Inf", "inf")
            .parse()
            .map_err(|e| format!("{s}: {e}"))
    } else {
        Err(format!("not an OpenMetrics number: {s:?}"))
    }
}

type Labels = Vec<(String, String)>;

/// `name{a="x",b="y"} value [timestamp]` into its parts.
fn parse_sample(line: &str) -> Result<(String, Labels, f64), String> {
    let name_end = line.find(['{', ' ']).ok_or(format!("no value: {line}"))?;
    let name = &line[..name_end];
    if !is_name(name, true) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels: Labels = Vec::new();
    if let Some(mut body) = rest.strip_prefix('{') {
        while !body.starts_with('}') {
            let (label, after) = body.split_once("=\"").ok_or(format!("bad label: {line}"))?;
            if !is_name(label, false) || labels.iter().any(|(l, _)| l == label) {
                return Err(format!("bad or repeated label {label:?}: {line}"));
            }
            let (mut value, mut chars) = (String::new(), after.char_indices());
            let end = loop {
                match chars.next().ok_or("unterminated label value")? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        c => return Err(format!("bad escape \\{c}: {line}")),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.push((label.to_string(), value));
            body = &after[end + 1..];
            if let Some(next) = body.strip_prefix(',') {
                body = next;
            } else if !body.starts_with('}') {
                return Err(format!("junk after a label: {line}"));
            }
        }
        rest = &body[1..];
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or(format!("no space before value: {line}"))?;
    let mut parts = value.split(' ');
    let v = parse_value(parts.next().unwrap_or(""))?;
    if let Some(ts) = parts.next() {
        parse_value(ts)?;
    }
    if parts.next().is_some() {
        return Err(format!("junk after the value: {line}"));
    }
    Ok((name.to_string(), labels, v))
}

/// Every family of an OpenMetrics text, or the first way it breaks the format.
fn parse(text: &str) -> Result<Vec<Family>, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("does not end in `# EOF`")?;
    let mut families: Vec<Family> = Vec::new();
    for line in body.lines() {
        if let Some(meta) = line.strip_prefix("# ") {
            let mut it = meta.splitn(3, ' ');
            let (what, name, arg) = (it.next(), it.next().unwrap_or(""), it.next());
            if families.last().is_none_or(|f| f.name != name) {
                if families.iter().any(|f| f.name == name) {
                    return Err(format!("family {name} is split"));
                }
                if !is_name(name, true) {
                    return Err(format!("bad family name {name:?}"));
                }
                families.push(Family {
                    name: name.into(),
                    ..Default::default()
                });
            }
            let f = families.last_mut().unwrap();
            if !f.samples.is_empty() {
                return Err(format!("metadata after samples of {name}"));
            }
            let arg = arg.ok_or(format!("empty {line}"))?.to_string();
            let slot = match what {
                Some("TYPE") => {
                    let kinds = ["gauge", "counter", "info", "stateset", "unknown"];
                    if !kinds.contains(&arg.as_str()) {
                        return Err(format!("unknown type {arg}"));
                    }
                    f.kind = arg;
                    continue;
                }
                Some("UNIT") if !name.ends_with(&format!("_{arg}")) => {
                    return Err(format!("unit {arg} is not a suffix of {name}"));
                }
                Some("UNIT") => &mut f.unit,
                Some("HELP") if arg.replace("\\\\", "").replace("\\n", "").contains('\\') => {
                    return Err(format!("bad escape in {line}"));
                }
                Some("HELP") => &mut f.help,
                _ => return Err(format!("not a metadata line: {line}")),
            };
            if slot.replace(arg).is_some() {
                return Err(format!("repeated metadata: {line}"));
            }
        } else {
            let (name, labels, v) = parse_sample(line)?;
            let f = families
                .last_mut()
                .ok_or(format!("sample before any TYPE: {line}"))?;
            let want = match f.kind.as_str() {
                "gauge" | "unknown" => f.name.clone(),
                "info" => format!("{}_info", f.name),
                "" => return Err(format!("{} has no TYPE", f.name)),
                k => return Err(format!("{k} samples are not checked here")),
            };
            if name != want {
                return Err(format!("sample {name} in family {}", f.name));
            }
            let mut sorted = labels.clone();
            sorted.sort();
            if f.samples.iter().any(|(_, l, _)| {
                let mut o = l.clone();
                o.sort();
                o == sorted
            }) {
                return Err(format!("repeated series: {line}"));
            }
            f.samples.push((name, labels, v));
        }
    }
    for f in &families {
        let reserved = ["_total", "_created", "_count", "_sum", "_bucket", "_info"];
        if f.kind == "gauge" && reserved.iter().any(|s| f.name.ends_with(s)) {
            return Err(format!("gauge {} ends in a reserved suffix", f.name));
        }
        if f.kind == "info" && f.samples.iter().any(|s| s.2 != 1.0) {
            return Err(format!("info {} is not 1", f.name));
        }
    }
    Ok(families)
}

fn export(r: &Results) -> String {
    String::from_utf8(Format::OpenMetrics.exporter().serialize(r).unwrap()).unwrap()
}

fn value(fs: &[Family], family: &str, want: &[(&str, &str)]) -> f64 {
    let f = fs
        .iter()
        .find(|f| f.name == family)
        .unwrap_or_else(|| panic!("no {family}"));
    let hits: Vec<f64> = f
        .samples
        .iter()
        .filter(|(_, l, _)| {
            l.len() == want.len()
                && want
                    .iter()
                    .all(|(k, v)| l.iter().any(|(a, b)| a == k && b == v))
        })
        .map(|s| s.2)
        .collect();
    assert_eq!(hits.len(), 1, "{family} {want:?}");
    hits[0]
}

#[test]
fn the_output_parses_strictly_and_holds_the_estimates_in_base_units() {
    let mut r = common::fixture(1, 0.02);
    r.rows.push(Row {
        filter: "add-header".into(),
        scenario: "small-headers".into(),
        arm: "wasmi".into(),
        phase: Phase::Profile,
        metric: Metric::calls("proxy_log"),
        unit: Metric::calls("proxy_log").unit(),
        threads: 1,
        value: 3.0,
        ..Default::default()
    });
    let text = export(&r);
    let fs = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let cpu = fs
        .iter()
        .find(|f| f.name == "filterbench_cpu_per_request_seconds")
        .unwrap();
    assert_eq!(
        (cpu.kind.as_str(), cpu.unit.as_deref()),
        ("gauge", Some("seconds"))
    );
    assert!(cpu.help.is_some());
    let est = summarize(&r);
    let key = Key::new(
        "add-header",
        "small-headers",
        "wasmi",
        Phase::Request,
        Metric::CpuPerRequest,
        1,
    );
    let labels = [
        ("filter", "add-header"),
        ("scenario", "small-headers"),
        ("arm", "wasmi"),
        ("phase", Phase::Request.name()),
        ("threads", "1"),
    ];
    let e = est[&key];
    let mean = value(&fs, "filterbench_cpu_per_request_seconds", &labels);
    assert!(
        (mean - e.mean * 1e-9).abs() < 1e-12 * mean.abs(),
        "{mean} vs {}",
        e.mean
    );
    let lo = value(&fs, "filterbench_cpu_per_request_ci95_low_seconds", &labels);
    let hi = value(
        &fs,
        "filterbench_cpu_per_request_ci95_high_seconds",
        &labels,
    );
    assert!(lo < mean && mean < hi, "{lo} {mean} {hi}");
    // A per-filter figure has no scenario; a metric named after its unit keeps its name.
    let mem = [
        ("filter", "add-header"),
        ("arm", "wasmi"),
        ("phase", "memory"),
        ("threads", "1"),
    ];
    assert!(value(&fs, "filterbench_module_rss_bytes", &mem) > 0.0);
    let mut calls = labels.to_vec();
    calls[3].1 = Phase::Profile.name();
    calls.push(("function", "proxy_log"));
    assert_eq!(value(&fs, "filterbench_calls", &calls), 3.0);
    // Every metric of the file has its family, named by the vocabulary.
    let names: BTreeSet<&str> = fs.iter().map(|f| f.name.as_str()).collect();
    for m in r
        .rows
        .iter()
        .map(|x| x.metric)
        .filter(|m| m.function().is_none())
    {
        let stem = format!("filterbench_{}", m.name());
        assert!(names.iter().any(|n| n.starts_with(&stem)), "{m}");
    }
    assert!(names.contains("filterbench_run"));
    // The real file too.
    parse(&export(&common::real())).unwrap();
}

#[test]
fn the_checker_refuses_what_openmetrics_does() {
    let good = "# TYPE a_seconds gauge\n# UNIT a_seconds seconds\n# HELP a_seconds x\n\
                a_seconds{x=\"1\"} 2.5\na_seconds{x=\"2\"} 1e-9\n# EOF\n";
    assert_eq!(parse(good).unwrap()[0].samples.len(), 2);
    for bad in [
        good.replace("# EOF\n", ""),
        good.replace("# EOF\n", "# EOF\nextra\n"),
        good.replace("# UNIT a_seconds seconds", "# UNIT a_seconds bytes"),
        good.replace("x=\"2\"", "x=\"1\""),
        good.replace("x=\"2\"", "x=\"\\q\""),
        good.replace("1e-9", "one"),
        good.replace("a_seconds{x=\"2\"}", "b{x=\"2\"}"),
        good.replace("# TYPE a_seconds gauge\n", ""),
        format!(
            "{}a_seconds 1\n# EOF\n",
            good.replace("# EOF\n", "# TYPE b gauge\nb 1\n")
        ),
        good.replace("{x=\"1\"}", "{x=\"1\",x=\"3\"}"),
    ] {
        assert!(parse(&bad).is_err(), "accepted:\n{bad}");
    }
}
