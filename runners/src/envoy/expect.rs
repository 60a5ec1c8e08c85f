//! What every timed response must show, derived once from the verified outcome: the status,
//! the response headers the filter added, changed (with their values) or removed, and the body
//! (its bytes when small, else its size) or the local reply. The load generator checks it on
//! each response, so a filter that stops doing its job under load fails instead of looking fast.

use std::time::Instant;

use super::config::{Check, Variant};
use super::http::{self, Seen};
use crate::host::{HeaderMap, HttpExchange, HttpOutcome};

/// Bodies up to this size are compared byte for byte; larger ones by size, so the check stays
/// cheap beside Envoy's own cost of moving them.
const EXACT_BODY_MAX: usize = 4096;

/// The share of Envoy's CPU per request the check may cost before only a fraction of the
/// responses is checked.
pub const MAX_CHECK_SHARE: f64 = 0.02;

#[derive(Clone, Debug, PartialEq)]
enum Body {
    Any,
    Len(usize),
    Exact(Vec<u8>),
}

/// The filter's effect on one side of the exchange (the response the client gets, or the request
/// the upstream gets).
#[derive(Clone, Debug, PartialEq)]
pub struct Effect {
    /// Headers the filter added or changed: name and value (None: the value follows the clock,
    /// so only its presence can be compared).
    present: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Headers of the input the filter removed.
    removed: Vec<Vec<u8>>,
    body: Body,
}

impl Effect {
    const NONE: Effect = Effect {
        present: Vec::new(),
        removed: Vec::new(),
        body: Body::Any,
    };

    /// The headers `output` has that `input` had not (or with another value), those it dropped,
    /// and with `exact`, its body. `:path` is compared, other pseudo-headers are not.
    fn between(
        input: &HeaderMap,
        output: &HeaderMap,
        out_body: &[u8],
        exact: bool,
        volatile: &[Vec<u8>],
    ) -> Effect {
        let compared = |k: &[u8]| !k.starts_with(b":") || k == b":path";
        let mut e = Effect::NONE;
        for (k, v) in output {
            if compared(k) && get(input, k) != Some(v.as_slice()) {
                let value = (!volatile.contains(k)).then(|| v.clone());
                e.present.push((k.clone(), value));
            }
        }
        for (k, _) in input {
            if compared(k) && get(output, k).is_none() {
                e.removed.push(k.clone());
            }
        }
        if exact {
            e.body = body(out_body);
        }
        e
    }

    /// Whether there is anything to check.
    pub fn is_empty(&self) -> bool {
        *self == Effect::NONE
    }

    /// The first way `headers` and `body` (of the `side` named) differ from the effect.
    pub fn check(&self, side: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
        for (k, v) in &self.present {
            let ok = headers
                .iter()
                .any(|(sk, sv)| sk == k && v.as_ref().is_none_or(|v| v == sv));
            if !ok {
                return Err(format!(
                    "{side} header {} = {:?} missing",
                    String::from_utf8_lossy(k),
                    v.as_deref()
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default()
                ));
            }
        }
        if let Some(k) = self.removed.iter().find(|k| get(headers, k).is_some()) {
            return Err(format!(
                "{side} header {} should have been removed",
                String::from_utf8_lossy(k)
            ));
        }
        match &self.body {
            Body::Any => Ok(()),
            Body::Len(n) if body.len() == *n => Ok(()),
            Body::Exact(b) if body == b.as_slice() => Ok(()),
            Body::Len(n) => Err(format!("{side} body of {} B (expected {n} B)", body.len())),
            Body::Exact(b) => Err(format!(
                "{side} body {:?} (expected {:?})",
                String::from_utf8_lossy(&body[..body.len().min(64)]),
                String::from_utf8_lossy(&b[..b.len().min(64)])
            )),
        }
    }
}

impl Default for Effect {
    fn default() -> Effect {
        Effect::NONE
    }
}

/// What each exchange of one variant must show.
#[derive(Clone, Debug)]
pub struct Expect {
    pub status: u16,
    /// On the response the client gets.
    response: Effect,
    /// On the request the upstream gets (checked by the upstream).
    pub upstream: std::sync::Arc<Effect>,
    /// Check one response in `every` (1: all of them).
    pub every: u32,
}

fn get<'a>(m: &'a HeaderMap, k: &[u8]) -> Option<&'a [u8]> {
    m.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_slice())
}

fn body(b: &[u8]) -> Body {
    if b.len() <= EXACT_BODY_MAX {
        Body::Exact(b.to_vec())
    } else {
        Body::Len(b.len())
    }
}

impl Expect {
    /// Only the status (no filter, or nothing known about the filter's output).
    pub fn status(status: u16) -> Expect {
        Expect {
            status,
            response: Effect::NONE,
            upstream: Default::default(),
            every: 1,
        }
    }

    /// From the in-process native outcome `want` of exchange `ex`, for `variant` (how strictly
    /// it is compared: see [`Check`]); `volatile` names the headers whose values follow the clock.
    /// A different implementation of the job (`Check::Key`) is held to the response headers
    /// only: it need not rewrite request headers or bodies the same way.
    pub fn derive(
        variant: &Variant,
        ex: &HttpExchange,
        want: &HttpOutcome,
        volatile: &[Vec<u8>],
    ) -> Expect {
        let status = want.local_reply.as_ref().map_or_else(
            || http::status_of(&ex.response.headers),
            |r| r.status as u16,
        );
        let mut e = Expect::status(status);
        let exact = variant.check == Check::Exact;
        match (&want.local_reply, variant.check) {
            (_, Check::None) => {}
            (Some(r), Check::Exact) => e.response.body = body(&r.body),
            (Some(_), _) => {}
            (None, _) => {
                e.response = Effect::between(
                    &ex.response.headers,
                    &want.response_headers,
                    &want.response_body,
                    exact,
                    volatile,
                );
                if exact {
                    e.upstream = std::sync::Arc::new(Effect::between(
                        &ex.request.headers,
                        &want.request_headers,
                        &want.request_body,
                        true,
                        volatile,
                    ));
                }
            }
        }
        e
    }

    /// Status `status`, and the upstream must receive header `name` = `value` (for tests).
    #[cfg(test)]
    pub(crate) fn upstream_needs(status: u16, name: &str, value: &str) -> Expect {
        let mut e = Expect::status(status);
        e.upstream = std::sync::Arc::new(Effect {
            present: vec![(name.as_bytes().to_vec(), Some(value.as_bytes().to_vec()))],
            ..Effect::NONE
        });
        e
    }

    /// The first way `seen` differs from what is expected, named.
    pub fn check(&self, seen: &Seen) -> Result<(), String> {
        if seen.status != self.status {
            return Err(format!("status {} (expected {})", seen.status, self.status));
        }
        self.response.check("response", &seen.headers, &seen.body)
    }

    /// Also requires response header `name` = `value` (an expectation given on the command
    /// line, for a target we did not start).
    pub fn needs_response_header(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase().into_bytes();
        let value = Some(value.as_bytes().to_vec());
        self.response.present.push((name, value));
    }

    /// Our generator's CPU for one check of `seen`, in ns (best of a few timed batches, so a
    /// preemption does not count).
    pub fn cost_ns(&self, seen: &Seen) -> f64 {
        const N: u32 = 2000;
        (0..5)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..N {
                    let _ = std::hint::black_box(self.check(std::hint::black_box(seen)));
                }
                t.elapsed().as_nanos() as f64 / N as f64
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// Checks one response in `every` so the check costs at most [`MAX_CHECK_SHARE`] of
    /// Envoy's `envoy_cpu_ns` per request (every response when it is cheap enough).
    pub fn sample_for(&mut self, check_ns: f64, envoy_cpu_ns: f64) {
        let share = check_ns / envoy_cpu_ns;
        self.every = if share.is_finite() && share > MAX_CHECK_SHARE {
            (share / MAX_CHECK_SHARE).ceil() as u32
        } else {
            1
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(status: u16, headers: &[(&str, &str)], body: &str) -> Seen {
        Seen {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn expect() -> Expect {
        Expect {
            response: Effect {
                present: vec![
                    (b"x-a".to_vec(), Some(b"1".to_vec())),
                    (b"date".to_vec(), None),
                ],
                removed: vec![b"x-gone".to_vec()],
                body: Body::Exact(b"hello".to_vec()),
            },
            ..Expect::status(200)
        }
    }

    #[test]
    fn each_difference_is_named() {
        let e = expect();
        let good = [("x-a", "1"), ("date", "now")];
        assert!(e.check(&seen(200, &good, "hello")).is_ok());
        let err = |s: Seen| e.check(&s).unwrap_err();
        assert!(err(seen(500, &good, "hello")).contains("status 500"));
        assert!(err(seen(200, &[("x-a", "2"), ("date", "x")], "hello")).contains("x-a"));
        assert!(err(seen(200, &[("x-a", "1")], "hello")).contains("date"));
        let gone = [("x-a", "1"), ("date", "x"), ("x-gone", "y")];
        assert!(err(seen(200, &gone, "hello")).contains("removed"));
        assert!(err(seen(200, &good, "hello-changed")).contains("body"));
        let mut big = expect();
        big.response.body = Body::Len(5);
        assert!(big.check(&seen(200, &good, "HELLO")).is_ok());
        assert!(big.check(&seen(200, &good, "hello!")).is_err());
    }

    #[test]
    fn an_expensive_check_is_sampled() {
        let mut e = expect();
        e.sample_for(100.0, 50_000.0);
        assert_eq!(e.every, 1);
        e.sample_for(3000.0, 50_000.0);
        assert_eq!(e.every, 3);
    }
}

#[cfg(test)]
mod effect_tests {
    use super::*;

    fn map(h: &[(&str, &str)]) -> HeaderMap {
        h.iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_request_rewrite_is_derived_and_checked() {
        let input = map(&[(":path", "/a"), ("x-old", "1"), ("x-keep", "k")]);
        let output = map(&[(":path", "/b"), ("x-new", "2"), ("x-keep", "k")]);
        let e = Effect::between(&input, &output, b"{}", true, &[]);
        assert!(!e.is_empty());
        let ok = map(&[(":path", "/b"), ("x-new", "2"), ("x-keep", "k")]);
        assert!(e.check("request", &ok, b"{}").is_ok());
        let err = |h: &[(&str, &str)], b: &[u8]| e.check("request", &map(h), b).unwrap_err();
        assert!(err(&[(":path", "/a"), ("x-new", "2")], b"{}").contains(":path"));
        assert!(err(&[(":path", "/b"), ("x-new", "2"), ("x-old", "1")], b"{}").contains("x-old"));
        assert!(err(&[(":path", "/b"), ("x-new", "2")], b"{!}").contains("body"));
        assert!(Effect::between(&input, &input, b"", false, &[]).is_empty());
    }
}
