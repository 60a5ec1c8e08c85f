//! Correctness over HTTP before load: each Envoy variant against the in-process native arm.

use std::time::Duration;

use super::config::{Check, Variant};
use super::expect::Expect;
use super::http::{self, Seen};
use super::protocol::Protocol;
use crate::engines;
use crate::fixtures::Step;
use crate::host::{BodyEnd, Clock, HeaderMap, HttpOutcome};
use crate::measure::scenario::{Scenario, Workload};

/// The in-process native outcome with the real clock (Envoy has no fixture clock), and the
/// header names whose values depend on the clock: two runs a few milliseconds apart differ
/// there, so only their presence can be compared with Envoy's.
pub(crate) type Reference = (HttpOutcome, Vec<Vec<u8>>);

/// The in-process arm Envoy's outcomes are proven against: the first arm that applies, as in
/// the fixture check — `native`, or for a filter without a native build (a wasm-only language,
/// a brought module without one) the first wasm arm, `wasmtime-cranelift`.
pub(crate) fn reference_arm(sc: &Scenario) -> Option<&'static str> {
    engines::arm_names()
        .into_iter()
        .find(|a| engines::applies(a, &sc.artifacts))
}

/// The reference for requests over `protocol`: a scenario whose bodies take the shape of
/// Envoy's HTTP/1.1 codec (data, then an empty end-of-stream chunk) is re-run in the shape
/// h2c gives (end of stream on the last data frame, measured), since a filter that acts on
/// every body callback forwards a different body under each. `None` when the shape is the same.
pub(super) fn reference_over(
    sc: &Scenario,
    protocol: Protocol,
) -> Option<Result<Reference, String>> {
    let Workload::Http(ex) = &sc.workload else {
        return None;
    };
    let shaped = [&ex.request, &ex.response]
        .iter()
        .any(|m| m.end == BodyEnd::EmptyChunk);
    if protocol != Protocol::H2c || !shaped {
        return None;
    }
    let mut h2 = sc.clone();
    if let Workload::Http(ex) = &mut h2.workload {
        ex.request.end = BodyEnd::LastChunk;
        ex.response.end = BodyEnd::LastChunk;
    }
    Some(native_reference(&h2))
}

pub(super) fn native_reference(sc: &Scenario) -> Result<Reference, String> {
    let arm = reference_arm(sc).ok_or("no arm can run this filter")?;
    let module = engines::engine(arm, &Default::default())
        .and_then(|e| e.load(&sc.artifacts))
        .map_err(|e| e.to_string())?;
    let once = || -> Result<HttpOutcome, String> {
        let mut host = sc.host();
        host.clock = Clock::System;
        let mut vm = crate::host::Vm::start(module.as_ref(), host).map_err(|e| e.to_string())?;
        if !vm.configure().map_err(|e| e.to_string())? {
            return Err(format!("the {arm} arm refused the configuration"));
        }
        match sc.run_once(&mut vm).map_err(|e| e.to_string())? {
            Step::Http(o) => Ok(o),
            other => Err(format!("not an HTTP outcome: {other:?}")),
        }
    };
    let a = once()?;
    std::thread::sleep(Duration::from_millis(3));
    let b = once()?;
    let volatile = a
        .request_headers
        .iter()
        .chain(&a.response_headers)
        .filter(|(k, v)| {
            get(&b.request_headers, k).or_else(|| get(&b.response_headers, k)) != Some(v.as_slice())
        })
        .map(|(k, _)| k.clone())
        .collect();
    Ok((a, volatile))
}

fn get<'a>(m: &'a HeaderMap, k: &[u8]) -> Option<&'a [u8]> {
    m.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_slice())
}

/// Compares what Envoy did with what the native arm did, on the headers the filter touched.
pub(super) fn check(
    variant: &Variant,
    sc: &Scenario,
    (want, volatile): &Reference,
    seen: &Seen,
    upstream: Option<&http::Recorded>,
) -> Result<(), String> {
    let Workload::Http(ex) = &sc.workload else {
        return Err("not an HTTP scenario".into());
    };
    // The response side is what every timed response is checked against, so it is derived once.
    let expect = Expect::derive(variant, ex, want, volatile);
    if seen.status != expect.status {
        return Err(format!(
            "status {} where the native arm gives {}",
            seen.status, expect.status
        ));
    }
    let mut problems: Vec<String> = expect.check(seen).err().into_iter().collect();
    if variant.check == Check::None || want.local_reply.is_some() {
        return if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        };
    }
    let Some(up) = upstream else {
        return Err("the upstream saw no request".into());
    };
    // A different implementation need not rewrite request headers the same way, but must get
    // the response-side effect right.
    if variant.check == Check::Exact {
        for (k, v) in &want.request_headers {
            if k.starts_with(b":") && k.as_slice() != b":path" {
                continue;
            }
            let matches =
                |(ak, av): &(Vec<u8>, Vec<u8>)| ak == k && (av == v || volatile.contains(k));
            if get(&ex.request.headers, k) != Some(v.as_slice()) && !up.headers.iter().any(matches)
            {
                problems.push(format!(
                    "request header {} = {:?} missing",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(v)
                ));
            }
        }
        for (k, _) in &ex.request.headers {
            if !k.starts_with(b":")
                && get(&want.request_headers, k).is_none()
                && get(&up.headers, k).is_some()
            {
                problems.push(format!(
                    "request header {} should have been removed",
                    String::from_utf8_lossy(k)
                ));
            }
        }
        // The whole body, also where the timed check compares only its size.
        if seen.body != want.response_body {
            problems.push(format!(
                "client got a {} B body, native forwards {} B",
                seen.body.len(),
                want.response_body.len()
            ));
        }
        if up.body != want.request_body {
            problems.push(format!(
                "upstream got a {} B body, native forwards {} B",
                up.body.len(),
                want.request_body.len()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
