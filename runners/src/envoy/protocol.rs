//! The protocol between our generator and Envoy and between Envoy and our upstream: HTTP/1.1
//! (the default everywhere) or h2c, HTTP/2 over cleartext with prior knowledge. Envoy's
//! listener needs no change for h2c: its codec (`AUTO`, the default) tells an HTTP/2 preface
//! from HTTP/1.1 on a plaintext connection; its cluster must be told to speak HTTP/2.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::http::RequestTemplate;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    #[default]
    #[serde(rename = "http1")]
    Http1,
    #[serde(rename = "h2c")]
    H2c,
}

impl Protocol {
    /// As the command line and the arm flags say it.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Http1 => "http1",
            Protocol::H2c => "h2c",
        }
    }

    /// As people read it.
    pub const fn label(self) -> &'static str {
        match self {
            Protocol::Http1 => "HTTP/1.1",
            Protocol::H2c => "HTTP/2 (h2c)",
        }
    }

    /// The scenario name figures of `scenario` over this protocol are recorded under (the
    /// results vocabulary's one convention: HTTP/1.1 keeps the name, h2c adds a suffix).
    pub fn scenario(self, scenario: &str) -> String {
        filterbench_results::vocab::protocol::scenario(scenario, self == Protocol::H2c)
    }

    /// The protocol a recorded scenario name says it was measured over.
    pub fn of_scenario(recorded: &str) -> Protocol {
        match filterbench_results::vocab::protocol::split(recorded).1 {
            true => Protocol::H2c,
            false => Protocol::Http1,
        }
    }

    /// The protocols a run asked for; none named: HTTP/1.1 alone.
    pub fn or_default(asked: &[Protocol]) -> Vec<Protocol> {
        if asked.is_empty() {
            vec![Protocol::Http1]
        } else {
            // Each protocol once, HTTP/1.1 first: its Envoy gives the per-variant memory
            // figures (recorded once per variant, from the first leg).
            [Protocol::Http1, Protocol::H2c]
                .into_iter()
                .filter(|p| asked.contains(p))
                .collect()
        }
    }
}

/// One protocol's side of a scenario's live-Envoy runs: our upstream speaking it (Envoy's
/// cluster is told to, too) and the scenario name its figures are recorded under.
pub struct Leg {
    pub protocol: Protocol,
    pub upstream: super::http::Upstream,
    pub scenario: String,
}

impl Leg {
    /// A leg per protocol of `protocols` (HTTP/1.1 alone when empty) for `scenario`, whose
    /// upstream answers `response`.
    pub fn start_all(
        protocols: &[Protocol],
        scenario: &str,
        response: &crate::host::vm::Message,
    ) -> Result<Vec<Leg>, String> {
        Protocol::or_default(protocols)
            .into_iter()
            .map(|protocol| {
                let upstream = super::http::Upstream::start_with(response, protocol)
                    .map_err(|e| format!("upstream ({}): {e}", protocol.label()))?;
                Ok(Leg {
                    protocol,
                    upstream,
                    scenario: protocol.scenario(scenario),
                })
            })
            .collect()
    }

    /// What an Envoy's name (its config and log files) adds for this leg: nothing over
    /// HTTP/1.1, so those keep today's names.
    pub fn file_suffix(&self) -> &'static str {
        match self.protocol {
            Protocol::Http1 => "",
            Protocol::H2c => ".h2c",
        }
    }
}

impl std::str::FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Protocol, String> {
        match s {
            "http1" | "http/1.1" | "h1" => Ok(Protocol::Http1),
            "h2c" | "http2" | "h2" => Ok(Protocol::H2c),
            _ => Err(format!("unknown protocol `{s}` (http1 or h2c)")),
        }
    }
}

/// One client connection of either protocol.
pub enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    pub async fn connect(addr: SocketAddr, protocol: Protocol) -> Result<Sender, String> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(stream);
        let e = |e: hyper::Error| e.to_string();
        Ok(match protocol {
            Protocol::Http1 => {
                let (s, conn) = http1::handshake(io).await.map_err(e)?;
                tokio::spawn(conn);
                Sender::H1(s)
            }
            Protocol::H2c => {
                let (s, conn) = http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(e)?;
                tokio::spawn(conn);
                Sender::H2(s)
            }
        })
    }

    pub async fn send(&mut self, req: &RequestTemplate) -> Result<Response<Incoming>, String> {
        let e = |e: hyper::Error| e.to_string();
        match self {
            Sender::H1(s) => {
                s.ready().await.map_err(e)?;
                s.send_request(req.build()).await.map_err(e)
            }
            Sender::H2(s) => {
                s.ready().await.map_err(e)?;
                s.send_request(h2_request(req)).await.map_err(e)
            }
        }
    }
}

/// The template as an HTTP/2 request: HTTP/2 has no Host header but `:scheme` and
/// `:authority` pseudo-headers, which hyper takes from an absolute URI.
fn h2_request(req: &RequestTemplate) -> Request<Full<Bytes>> {
    let host = req
        .headers
        .iter()
        .find(|(k, _)| k == b"host")
        .map_or_else(|| "localhost".into(), |(_, v)| String::from_utf8_lossy(v));
    let mut r = Request::builder()
        .method(req.method.as_str())
        .uri(format!("http://{host}{}", req.path));
    for (k, v) in req.headers.iter().filter(|(k, _)| k != b"host") {
        r = r.header(k.as_slice(), v.as_slice());
    }
    r.body(Full::new(req.body.clone())).expect("valid request")
}

/// Makes a bootstrap's upstream cluster speak `protocol` (HTTP/1.1: left as it is, Envoy's
/// default); the clusters of a filter's own calls keep HTTP/1.1. The listener accepts both
/// protocols as it is.
pub fn for_protocol(bootstrap: &mut Value, protocol: Protocol) {
    if protocol == Protocol::Http1 {
        return;
    }
    let Some(clusters) = bootstrap["static_resources"]["clusters"].as_array_mut() else {
        return;
    };
    for c in clusters
        .iter_mut()
        .filter(|c| c["name"] == super::config::UPSTREAM_CLUSTER)
    {
        c["typed_extension_protocol_options"] = json!({
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}}}});
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_h2_requests_carry_the_authority() {
        for p in [Protocol::Http1, Protocol::H2c] {
            assert_eq!(p.name().parse::<Protocol>(), Ok(p));
        }
        let req = RequestTemplate {
            method: "GET".into(),
            path: "/a?b=1".into(),
            headers: vec![
                (b"host".to_vec(), b"example.com".to_vec()),
                (b"x-k".to_vec(), b"v".to_vec()),
            ],
            body: Bytes::new(),
        };
        let r = h2_request(&req);
        assert_eq!(r.uri().to_string(), "http://example.com/a?b=1");
        assert!(r.headers().get("host").is_none() && r.headers()["x-k"] == "v");
        let name = super::super::config::UPSTREAM_CLUSTER;
        let mut b = json!({"static_resources": {"clusters": [{"name": name}]}});
        for_protocol(&mut b, Protocol::Http1);
        assert!(b["static_resources"]["clusters"][0]["typed_extension_protocol_options"].is_null());
        for_protocol(&mut b, Protocol::H2c);
        let o = &b["static_resources"]["clusters"][0]["typed_extension_protocol_options"];
        assert!(!o.is_null());
    }
}
