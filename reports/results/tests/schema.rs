//! The checked-in JSON Schema is what the types generate, and a results file measured by the
//! runners' own code validates against it while a file with a word outside the vocabulary does
//! not. Regenerate the schema after changing the types:
//! `UPDATE_SCHEMA=1 cargo test --release -p filterbench-results --test schema`.

mod validate;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use filterbench_results::schema::{SCHEMA_FILE, json_schema_text};
use filterbench_results::vocab::arm;
use filterbench_results::{Results, SCHEMA_VERSION};
use filterbench_runners::measure::{Plan, Silent, describe_arms, describe_filters, run_worker};
use serde_json::{Value, json};

fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_FILE)
}

fn schema() -> Value {
    let text = std::fs::read_to_string(schema_path()).expect("the schema is checked in");
    serde_json::from_str(&text).expect("the schema is JSON")
}

#[test]
fn the_checked_in_schema_is_what_the_types_generate() {
    let generated = json_schema_text();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(schema_path(), &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(schema_path()).unwrap_or_default();
    // Compared as JSON values: key order follows serde_json's features, which the workspace's
    // other crates may change (`preserve_order`).
    let parse = |t: &str| serde_json::from_str::<Value>(t).ok();
    assert!(
        parse(&checked_in).is_some() && parse(&checked_in) == parse(&generated),
        "{} differs from what the types generate; rerun with UPDATE_SCHEMA=1",
        schema_path().display()
    );
    let s = schema();
    assert_eq!(s["properties"]["schema_version"]["const"], SCHEMA_VERSION);
    assert!(s["$defs"]["Histogram"]["properties"]["hdr_base64"].is_object());
}

/// One worker's measurement of the noop filter on native and wasmi, as `filterbench run` would
/// write it, with two worker processes.
fn measured() -> Results {
    let mut plan = Plan::quick();
    plan.filters = vec!["noop".into()];
    plan.arms = vec![arm::NATIVE.into(), arm::WASMI.into()];
    plan.processes = 2;
    plan.measure = Duration::from_millis(20);
    plan.rounds = 1;
    plan.warmup = Duration::from_millis(5);
    plan.threads = vec![2];
    plan.throughput_time = Duration::from_millis(10);
    plan.instantiations = 10;
    plan.memory_instances = 2;
    plan.profile_requests = 20;
    plan.profile_time = Duration::from_millis(5);
    let mut r = Results::new();
    r.profile = plan.profile.clone();
    r.command_line = vec!["schema-test".into()];
    r.arms = describe_arms(&plan);
    r.filters = describe_filters(&plan).expect("noop is in the catalogue");
    for process in 0..plan.processes {
        r.merge(run_worker(&plan, process, &Silent));
    }
    r.complete = true;
    r
}

/// Python's `jsonschema` verdict on `file`, when it is installed (None otherwise).
fn python_verdict(file: &Path) -> Option<bool> {
    let script = "import json,sys,jsonschema\n\
        s=json.load(open(sys.argv[1])); f=json.load(open(sys.argv[2]))\n\
        jsonschema.Draft202012Validator.check_schema(s)\n\
        sys.exit(0 if jsonschema.Draft202012Validator(s).is_valid(f) else 3)";
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(schema_path())
        .arg(file)
        .output()
        .ok()?;
    match o.status.code() {
        Some(0) => Some(true),
        Some(3) => Some(false),
        _ => {
            eprintln!(
                "python3 jsonschema not usable, cross-check skipped: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            None
        }
    }
}

/// A way to break a valid file: what it breaks, and how.
type Break = (&'static str, fn(&mut Value));

#[test]
fn a_real_results_file_validates_and_a_wrong_word_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let r = measured();
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
    r.write(&path).unwrap();
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let s = schema();
    let errors = validate::errors(&s, &file);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_ne!(
        python_verdict(&path),
        Some(false),
        "Python's jsonschema refuses it"
    );

    // The runners keep whole histograms, and those of the two processes merge exactly.
    assert!(r.histograms.iter().all(|h| h.hdr_base64.is_some()));
    let run = r.histogram_runs()[0];
    let hs = r.histograms_of(run);
    assert_eq!(hs.len(), 2);
    let merged = r.merged_histogram(run).unwrap();
    assert_eq!(merged.len(), hs.iter().map(|h| h.count).sum::<u64>());
    assert_eq!(merged.max(), hs.iter().map(|h| h.max_ns).max().unwrap());

    // Each broken copy fails validation, as the reader refuses it too.
    let breaks: [Break; 4] = [
        ("an unknown metric", |f| {
            f["rows"][0]["metric"] = json!("latency_p42")
        }),
        ("another schema version", |f| {
            f["schema_version"] = json!(SCHEMA_VERSION + 1)
        }),
        ("no rows", |f| {
            f.as_object_mut().unwrap().remove("rows");
        }),
        ("a histogram that is not text", |f| {
            f["histograms"][0]["hdr_base64"] = json!(12)
        }),
    ];
    for (what, break_it) in breaks {
        let mut bad = file.clone();
        break_it(&mut bad);
        assert!(!validate::errors(&s, &bad).is_empty(), "{what} validates");
        let bad_path = dir.path().join("bad.json");
        std::fs::write(&bad_path, serde_json::to_vec(&bad).unwrap()).unwrap();
        assert!(Results::read(&bad_path).is_err(), "{what} reads");
        assert_ne!(python_verdict(&bad_path), Some(true), "{what}: Python");
    }
    // A host-call count is a metric word too.
    let mut calls = file.clone();
    calls["rows"][0]["metric"] = json!("calls:proxy_log");
    assert_eq!(validate::errors(&s, &calls), Vec::<String>::new());
}
