//! `filterbench load` on loopback against our own upstream standing in for the targets (no
//! Envoy): what each target must answer, and the rates the open loop refuses.

use filterbench_runners::envoy::http::Upstream;
use filterbench_runners::host::vm::Message;

mod common;
use common::{filterbench, text};

fn answering(status: &str) -> Upstream {
    let response = Message {
        headers: vec![(b":status".to_vec(), status.as_bytes().to_vec())],
        ..Default::default()
    };
    Upstream::start(&response).unwrap()
}

/// `--expect-status` is A's alone: B (the same without the filter) answers 200 unless
/// `--expect-status-b` says otherwise.
#[test]
fn expect_status_is_for_target_a_and_b_has_its_own() {
    let (a, b) = (answering("503"), answering("200"));
    let dir = tempfile::tempdir().unwrap();
    let (url_a, url_b) = (
        format!("http://127.0.0.1:{}", a.port),
        format!("http://127.0.0.1:{}", b.port),
    );
    let out = dir.path().join("load.json");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "load",
            "--target",
            &url_a,
            "--target-b",
            &url_b,
            "--expect-status",
            "503",
            "--duration-ms",
            "100",
            "--warmup-ms",
            "0",
            "--rounds",
            "1",
            "--closed-loop",
            "1",
            "--no-report",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        filterbench(&args)
    };
    let o = run(&[]);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert_eq!(said.matches("every response verified").count(), 2, "{said}");
    let o = run(&["--expect-status-b", "503"]);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert_eq!(said.matches("every response verified").count(), 1, "{said}");
}

/// A rate that is not a finite number of requests/s from 1 up is refused before any load, by
/// name (an infinite one would never end; one below 1 would be run at another).
#[test]
fn rates_out_of_range_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("load.json");
    for rate in ["inf", "NaN", "0", "-5", "0.5", "1e300"] {
        // `--rate=`: a value that starts with `-` is the value, not the next option.
        let rate_arg = format!("--rate={rate}");
        let o = filterbench(&[
            "load",
            "--target",
            "http://127.0.0.1:9",
            &rate_arg,
            "--out",
            out.to_str().unwrap(),
        ]);
        let said = text(&o);
        assert_eq!(o.status.code(), Some(2), "{rate}: {said}");
        assert!(
            said.contains("--rate") && said.contains("1 to"),
            "{rate}: {said}"
        );
    }
    assert!(!out.exists());
}
