//! The host's outbound HTTP calls and guest panics, on every arm (the native build included),
//! with the `callout` test filter: what a module that misuses a call gets is a clear error,
//! the same on every arm, never a hang or a request that silently passes.

use filterbench_runners::fixtures::{Step, run_case};
use filterbench_runners::{catalog, engines};
use serde_json::json;

/// Runs `callout`'s first case with `mode` on every arm; each arm's outcome of the request.
fn outcomes(mode: &str) -> Vec<(String, Step)> {
    outcomes_on(json!({ "mode": mode }), |_| true)
}

fn outcomes_on(config: serde_json::Value, keep: impl Fn(&str) -> bool) -> Vec<(String, Step)> {
    let f = catalog::find("callout").expect("the callout test filter is built");
    let mut case = f.fixtures.cases[0].clone();
    case.config = Some(Some(config));
    let limits = engines::Limits::default();
    engines::arm_names()
        .into_iter()
        .filter(|a| engines::applies(a, &f.artifacts) && keep(a))
        .map(|arm| {
            let module = engines::engine(arm, &limits)
                .and_then(|e| e.load(&f.artifacts))
                .unwrap_or_else(|e| panic!("{arm}: {e}"));
            let out = run_case(module.as_ref(), &f.fixtures, &case);
            assert!(out.start_error.is_none(), "{arm}: {:?}", out.start_error);
            let step = out.steps.into_iter().next().expect("one request");
            (arm.to_string(), step)
        })
        .collect()
}

/// Every arm failed the request with a message containing each of `want`, and the same one.
fn every_arm_fails(mode: &str, want: &[&str]) {
    check_failures(mode, want, outcomes(mode));
}

fn check_failures(mode: &str, want: &[&str], got: Vec<(String, Step)>) {
    assert!(got.len() >= 2, "at least two arms: {got:?}");
    for (arm, step) in &got {
        let Step::Failed(msg) = step else {
            panic!("{mode} / {arm}: expected a failure, got {step:?}");
        };
        for w in want {
            assert!(msg.contains(w), "{mode} / {arm}: {msg:?} lacks {w:?}");
        }
        assert_eq!(step, &got[0].1, "{mode}: {arm} differs from {}", got[0].0);
    }
}

#[test]
fn a_guest_panic_is_shown_with_its_message() {
    // The SDK's panic hook logs at critical level before the trap: the message is the
    // module's own and the same on every engine. Not on the native arm: a native build
    // aborts its process on a panic, as a NullVM plugin aborts Envoy.
    let native = filterbench_results::vocab::arm::NATIVE;
    check_failures(
        "panic",
        &[
            "trap in proxy_on_request_headers",
            "callout: asked to panic",
        ],
        outcomes_on(json!({ "mode": "panic" }), |a| a != native),
    );
}

#[test]
fn a_request_paused_for_a_call_and_never_resumed_is_an_error() {
    every_arm_fails("forget", &["did not resume it"]);
}

#[test]
fn calls_made_from_every_answer_are_bounded() {
    every_arm_fails("storm", &["more than 256 HTTP calls out"]);
}

#[test]
fn the_call_is_part_of_the_outcome() {
    for (arm, step) in outcomes("check") {
        let Step::Http(o) = step else {
            panic!("{arm}: {step:?}");
        };
        assert_eq!(o.calls.len(), 1, "{arm}");
        assert_eq!(o.calls[0].upstream, b"auth", "{arm}");
        assert!(
            o.calls[0]
                .headers
                .contains(&(b":path".to_vec(), b"/check".to_vec())),
            "{arm}"
        );
    }
}

#[test]
fn a_call_made_while_configuring_is_answered_before_any_request() {
    // Else the first request would carry it and differ from every later one.
    let config = json!({ "mode": "check", "configure_call": true });
    for (arm, step) in outcomes_on(config, |_| true) {
        let Step::Http(o) = step else {
            panic!("{arm}: {step:?}");
        };
        assert_eq!(o.calls.len(), 1, "{arm}: {:?}", o.calls);
        assert_eq!(o.calls[0].upstream, b"auth", "{arm}");
    }
}
