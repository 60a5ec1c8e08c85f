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

/// What each response of one variant must show.
#[derive(Clone, Debug)]
pub struct Expect {
    pub status: u16,
    /// Headers the filter added or changed: name and value (None: the value follows the clock,
    /// so only its presence can be compared).
    present: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Headers of the upstream's response the filter removed.
    removed: Vec<Vec<u8>>,
    body: Body,
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
            present: Vec::new(),
            removed: Vec::new(),
            body: Body::Any,
            every: 1,
        }
    }

    /// From the in-process native outcome `want` of exchange `ex`, for `variant` (how strictly
    /// it is compared: see [`Check`]); `volatile` names the headers whose values follow the clock.
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
        match (&want.local_reply, variant.check) {
            (_, Check::None) => {}
            (Some(r), Check::Exact) => e.body = body(&r.body),
            (Some(_), _) => {}
            (None, check) => {
                let input = &ex.response.headers;
                for (k, v) in &want.response_headers {
                    if !k.starts_with(b":") && get(input, k) != Some(v.as_slice()) {
                        let value = (!volatile.contains(k)).then(|| v.clone());
                        e.present.push((k.clone(), value));
                    }
                }
                for (k, _) in input {
                    if !k.starts_with(b":") && get(&want.response_headers, k).is_none() {
                        e.removed.push(k.clone());
                    }
                }
                if check == Check::Exact {
                    e.body = body(&want.response_body);
                }
            }
        }
        e
    }

    /// The first way `seen` differs from what is expected, named.
    pub fn check(&self, seen: &Seen) -> Result<(), String> {
        if seen.status != self.status {
            return Err(format!("status {} (expected {})", seen.status, self.status));
        }
        for (k, v) in &self.present {
            let ok = seen
                .headers
                .iter()
                .any(|(sk, sv)| sk == k && v.as_ref().is_none_or(|v| v == sv));
            if !ok {
                return Err(format!(
                    "response header {} = {:?} missing",
                    String::from_utf8_lossy(k),
                    v.as_deref()
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default()
                ));
            }
        }
        if let Some(k) = self
            .removed
            .iter()
            .find(|k| get(&seen.headers, k).is_some())
        {
            return Err(format!(
                "response header {} should have been removed",
                String::from_utf8_lossy(k)
            ));
        }
        match &self.body {
            Body::Any => Ok(()),
            Body::Len(n) if seen.body.len() == *n => Ok(()),
            Body::Exact(b) if seen.body == *b => Ok(()),
            Body::Len(n) => Err(format!("body of {} B (expected {n} B)", seen.body.len())),
            Body::Exact(b) => Err(format!(
                "body {:?} (expected {:?})",
                String::from_utf8_lossy(&seen.body[..seen.body.len().min(64)]),
                String::from_utf8_lossy(&b[..b.len().min(64)])
            )),
        }
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
            present: vec![
                (b"x-a".to_vec(), Some(b"1".to_vec())),
                (b"date".to_vec(), None),
            ],
            removed: vec![b"x-gone".to_vec()],
            body: Body::Exact(b"hello".to_vec()),
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
        let big = Expect {
            body: Body::Len(5),
            ..expect()
        };
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
