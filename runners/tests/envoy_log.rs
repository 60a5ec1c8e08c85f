//! An Envoy that exits before it is ready is explained by its log, which keeps what Envoy
//! wrote on stderr (a bad flag or config is reported there before its logger is up).

use std::time::Duration;

use filterbench_runners::envoy::process::{Envoy, Under};

#[test]
fn an_envoy_that_exits_at_once_shows_its_stderr_in_the_log_tail() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "{}").unwrap();
    // Stands in for an Envoy that refuses its command line: says why on stderr and exits.
    let under = Under {
        program: vec![
            "/bin/sh".into(),
            "-c".into(),
            "echo 'PARSE ERROR: Argument: (--concurrency)' >&2; exit 1".into(),
            "sh".into(),
        ],
        ready_within: Some(Duration::from_secs(10)),
    };
    let err = Envoy::spawn("envoy".as_ref(), &config, 1, dir.path(), "early", &under)
        .unwrap()
        .ready()
        .err()
        .expect("an Envoy that exits is not ready");
    let e = err.to_string();
    assert_eq!(
        e.matches("PARSE ERROR: Argument: (--concurrency)").count(),
        1,
        "{e}"
    );
}
