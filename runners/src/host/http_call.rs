//! Outbound HTTP calls (`proxy_http_call`) and the in-suite upstream that answers them.
//!
//! A call is queued when the guest makes it; the VM driver answers every queued call as soon
//! as the callback that made it returns, by calling `proxy_on_http_call_response` on the
//! context that made it, with the answer readable through the call-response map and buffer
//! types. The answer comes from the [`Upstream`], a deterministic stand-in for a cluster, so
//! every arm sees the same response and a timed request stays in process.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::abi::{GuestMemory, HostError, deserialize_map, status};
use super::bounds::ENTRY_OVERHEAD;
use super::state::HeaderMap;

/// A call the guest made, as the upstream received it (part of the filter's output).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OutboundCall {
    pub upstream: Vec<u8>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: HeaderMap,
    pub timeout_ms: u32,
}

/// What an upstream answers: the call-response headers, body and trailers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallResponse {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: HeaderMap,
}

/// The in-suite upstream: answers every call to a known cluster with one response.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// Cluster names that exist; `None` accepts any name (a module the suite does not know
    /// names clusters of its own deployment).
    pub clusters: Option<Vec<Vec<u8>>>,
    pub response: CallResponse,
}

impl Default for Upstream {
    /// `200` with 16 bytes counting up from 0: a stand-in for an echo or bytes service
    /// (httpbin's `/bytes/N`, which the SDK examples call, answers random bytes; these are
    /// fixed so every arm takes the same branch).
    fn default() -> Self {
        let body: Vec<u8> = (0u8..16).collect();
        Upstream {
            clusters: None,
            response: CallResponse {
                headers: vec![
                    (b":status".to_vec(), b"200".to_vec()),
                    (
                        b"content-type".to_vec(),
                        b"application/octet-stream".to_vec(),
                    ),
                    (
                        b"content-length".to_vec(),
                        body.len().to_string().into_bytes(),
                    ),
                ],
                body,
                trailers: Vec::new(),
            },
        }
    }
}

/// Calls in flight and the response being delivered, per VM.
#[derive(Debug, Default)]
pub struct HttpCalls {
    /// (token, context that made it, the call), answered in order.
    pub pending: VecDeque<(u32, u32, OutboundCall)>,
    next_token: u32,
    /// The response `proxy_on_http_call_response` is reading now.
    pub response: Option<CallResponse>,
}

/// Calls the host answers at most per request (or tick): a filter that calls out again from
/// every response would otherwise never finish its request.
pub const MAX_CALLS_PER_STEP: usize = 256;

fn has(map: &HeaderMap, name: &[u8]) -> bool {
    map.iter().any(|(k, v)| k == name && !v.is_empty())
}

/// `proxy_http_call(upstream, headers, body, trailers, timeout, &token)`.
pub fn http_call(m: &mut dyn GuestMemory, a: &[u64]) -> Result<u32, HostError> {
    let upstream = m.take(a[0], a[1])?;
    let headers = m.take(a[2], a[3])?;
    let body = m.take(a[4], a[5])?;
    let trailers = m.take(a[6], a[7])?;
    let (Some(mut headers), Some(trailers)) =
        (deserialize_map(&headers), deserialize_map(&trailers))
    else {
        return Ok(status::BAD_ARGUMENT);
    };
    for (k, _) in &mut headers {
        k.make_ascii_lowercase();
    }
    let h = m.host();
    let known = h
        .upstream
        .clusters
        .as_ref()
        .is_none_or(|c| c.contains(&upstream));
    // Envoy refuses a call to an unknown cluster, or without the request line it needs.
    if !known
        || ![&b":method"[..], b":path", b":authority"]
            .iter()
            .all(|n| has(&headers, n))
    {
        return Ok(status::BAD_ARGUMENT);
    }
    let held = [&headers, &trailers]
        .iter()
        .flat_map(|m| m.iter())
        .map(|(k, v)| (k.len() + v.len()) as u64 + ENTRY_OVERHEAD)
        .sum::<u64>()
        + (upstream.len() + body.len()) as u64
        + ENTRY_OVERHEAD;
    h.charge_stream(held, 0)?;
    h.http_calls.next_token = h.http_calls.next_token.wrapping_add(1).max(1);
    let token = h.http_calls.next_token;
    let call = OutboundCall {
        upstream,
        headers,
        body,
        trailers,
        timeout_ms: a[8] as u32,
    };
    h.http_calls
        .pending
        .push_back((token, h.effective_context, call));
    m.write_u32(a[9], token)?;
    Ok(status::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_upstream_answers_any_cluster_with_fixed_bytes() {
        let u = Upstream::default();
        assert!(u.clusters.is_none());
        assert_eq!(u.response.body[0], 0);
        assert_eq!(u.response.body.len(), 16);
        assert!(has(&u.response.headers, b":status"));
    }
}
