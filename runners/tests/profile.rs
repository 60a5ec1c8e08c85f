//! The profile counters against a filter whose host calls are known exactly: `hostcalls`
//! makes 100 calls of one function per request, plus its fixed per-request calls.

use filterbench_runners::engines::{Limits, REGISTRY};
use filterbench_runners::measure::profile::profile_arm;
use filterbench_runners::measure::{Plan, scenario};

fn hostcalls(op: &str) -> scenario::Scenario {
    let mut plan = Plan::quick();
    plan.filters = vec!["hostcalls".into()];
    scenario::scenarios(&plan)
        .unwrap()
        .into_iter()
        .find(|s| s.name == op)
        .unwrap()
}

#[test]
fn counters_match_the_calls_the_filter_makes_on_every_arm() {
    let requests = 10;
    for arm in REGISTRY.iter().map(|e| e.name) {
        let p = profile_arm(
            &hostcalls("get_header"),
            arm,
            &Limits::default(),
            requests,
            None,
        )
        .unwrap();
        let calls = |name: &str| p.profile.calls.get(name).map_or(0, |c| c.0);
        // 100 lookups of user-agent per request...
        assert_eq!(
            calls("proxy_get_header_map_value"),
            100 * requests,
            "{arm}: {:?}",
            p.profile.calls
        );
        // ...and the report header, written once per request.
        assert_eq!(calls("proxy_replace_header_map_value"), requests, "{arm}");
        // Each lookup copies the 11-byte header name out and the 11-byte value in.
        assert_eq!(
            p.profile.bytes_from_guest,
            requests * (100 * 10 + 11 + "GetHeader:100:1100".len() as u64),
            "{arm}"
        );
        assert_eq!(p.profile.guest_allocs, 100 * requests, "{arm}");
        assert_eq!(p.profile.guest_alloc_bytes, 100 * 11 * requests, "{arm}");
        assert!(p.profile.callbacks >= 6 * requests, "{arm}");

        let none =
            profile_arm(&hostcalls("none"), arm, &Limits::default(), requests, None).unwrap();
        assert_eq!(
            none.profile.calls.get("proxy_get_header_map_value"),
            None,
            "{arm}"
        );
        assert_eq!(
            none.profile.host_calls(),
            requests,
            "{arm}: only the report header"
        );
    }
}

#[test]
fn profiling_is_off_by_default() {
    let sc = hostcalls("none");
    assert!(sc.host().profile.is_none());
}
