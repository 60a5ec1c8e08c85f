//! The HTTP sides around Envoy, on tokio + hyper: the in-suite upstream (`upstream.rs`,
//! re-exported here) and the load generator — closed loop (C connections as fast as they go)
//! and open loop at a constant rate with coordinated-omission correction (latency counted
//! from each request's intended send time, wrk2's method), over HTTP/1.1 or h2c.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;

use super::expect::Expect;
use super::protocol::{Protocol, Sender};
pub use super::upstream::{Recorded, Upstream};
use crate::host::HeaderMap;
use crate::host::vm::Message;

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The status a header map's `:status` names (200 when it names none).
pub fn status_of(headers: &HeaderMap) -> u16 {
    headers
        .iter()
        .find(|(k, _)| k == b":status")
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(200)
}

/// A request as the fixture describes it.
#[derive(Clone, Debug)]
pub struct RequestTemplate {
    pub method: String,
    pub path: String,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Bytes,
}

impl RequestTemplate {
    pub fn from_message(m: &Message) -> RequestTemplate {
        let get = |name: &[u8]| {
            m.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let mut headers: Vec<(Vec<u8>, Vec<u8>)> = m
            .headers
            .iter()
            .filter(|(k, _)| !k.starts_with(b":") && k.as_slice() != b"host")
            .cloned()
            .collect();
        headers.push((
            b"host".to_vec(),
            get(b":authority")
                .unwrap_or_else(|| "example.com".into())
                .into_bytes(),
        ));
        RequestTemplate {
            method: get(b":method").unwrap_or_else(|| "GET".into()),
            path: get(b":path").unwrap_or_else(|| "/".into()),
            headers,
            body: Bytes::from(m.body.clone()),
        }
    }

    pub(super) fn build(&self) -> Request<Full<Bytes>> {
        let mut r = Request::builder()
            .method(self.method.as_str())
            .uri(self.path.as_str());
        for (k, v) in &self.headers {
            r = r.header(k.as_slice(), v.as_slice());
        }
        r.body(Full::new(self.body.clone())).expect("valid request")
    }
}

/// A response as the client saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    Sender::connect(addr, Protocol::Http1).await
}

async fn send(sender: &mut Sender, req: &RequestTemplate) -> Result<Seen, String> {
    let resp = sender.send(req).await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Seen {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
        body: body.to_vec(),
    })
}

/// How long any request of ours may take before it counts as failed (a filter that hangs
/// must not make the generator wait forever).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

async fn timed_out<T>(
    f: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(REQUEST_TIMEOUT, f)
        .await
        .map_err(|_| format!("no response within {} s", REQUEST_TIMEOUT.as_secs()))?
}

/// One request on a fresh connection (the correctness pass).
pub fn one_shot(addr: SocketAddr, req: &RequestTemplate) -> Result<Seen, String> {
    one_shot_with(Protocol::Http1, addr, req)
}

/// [`one_shot`] over `protocol`.
pub fn one_shot_with(
    protocol: Protocol,
    addr: SocketAddr,
    req: &RequestTemplate,
) -> Result<Seen, String> {
    runtime().block_on(timed_out(async {
        let mut s = Sender::connect(addr, protocol).await?;
        send(&mut s, req).await
    }))
}

/// One keep-alive connection driven request by request from synchronous code (the counted
/// windows under callgrind, where what matters is exactly how many requests were sent).
pub struct Session {
    rt: tokio::runtime::Runtime,
    sender: Sender,
}

impl Session {
    pub fn open(addr: SocketAddr) -> Result<Session, String> {
        let rt = runtime();
        let sender = rt.block_on(timed_out(connect(addr)))?;
        Ok(Session { rt, sender })
    }

    /// Sends `req` and checks the response against `expect` (every response, whatever
    /// `expect.every` says).
    pub fn send_checked(&mut self, req: &RequestTemplate, expect: &Expect) -> Result<(), String> {
        let seen = self.rt.block_on(timed_out(send(&mut self.sender, req)))?;
        expect.check(&seen)
    }
}

/// What a load run measured.
pub struct LoadResult {
    pub completed: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub wall: Duration,
    pub hist: Histogram<u64>,
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid bounds")
}

/// The time between one connection's slots at `rate` requests/s over `conns` connections.
fn slot_interval(rate: f64, conns: usize) -> Result<Duration, String> {
    if !(rate.is_finite() && rate > 0.0) {
        return Err(format!("rate {rate} req/s: not a positive finite number"));
    }
    match Duration::try_from_secs_f64(conns as f64 / rate) {
        Ok(iv) if !iv.is_zero() => Ok(iv),
        _ => Err(format!(
            "rate {rate} req/s over {conns} connections: no time between requests"
        )),
    }
}

/// A load that did not run, and why.
fn refused(why: String) -> LoadResult {
    LoadResult {
        completed: 0,
        errors: 1,
        first_error: Some(why),
        wall: Duration::ZERO,
        hist: new_hist(),
    }
}

/// `rate` = None: closed loop; Some(r): open loop at r requests/s in total. Each response (or
/// one in `expect.every`) is checked against `expect`; a response that differs is an error
/// named by its first difference, and is not timed.
pub fn load(
    addr: SocketAddr,
    req: &RequestTemplate,
    expect: &Expect,
    connections: u32,
    duration: Duration,
    rate: Option<f64>,
) -> LoadResult {
    load_with(
        Protocol::Http1,
        addr,
        req,
        expect,
        connections,
        duration,
        rate,
    )
}

/// [`load`] over `protocol` (h2c: each connection carries one request at a time, as HTTP/1.1
/// does, so both protocols keep the same number of requests in flight).
pub fn load_with(
    protocol: Protocol,
    addr: SocketAddr,
    req: &RequestTemplate,
    expect: &Expect,
    connections: u32,
    duration: Duration,
    rate: Option<f64>,
) -> LoadResult {
    let conns = connections.max(1) as usize;
    // Open loop: each connection owns every conns-th slot of the schedule. A rate with no
    // (or a zero) interval would never let a slot pass `end`, so it is refused, not run.
    let interval = match rate.map(|r| slot_interval(r, conns)).transpose() {
        Ok(iv) => iv,
        Err(why) => return refused(why),
    };
    runtime().block_on(async move {
        let start = Instant::now() + Duration::from_millis(5);
        let end = start + duration;
        let mut tasks = Vec::new();
        for k in 0..conns {
            let (req, expect) = (req.clone(), expect.clone());
            tasks.push(tokio::spawn(async move {
                let mut hist = new_hist();
                let (mut done, mut errors, mut first_error) = (0u64, 0u64, None::<String>);
                let mut sender = match timed_out(Sender::connect(addr, protocol)).await {
                    Ok(s) => s,
                    Err(e) => return (hist, 0, 1, Some(e)),
                };
                let mut i = 0u32;
                tokio::time::sleep_until(start.into()).await;
                loop {
                    let intended = match interval {
                        Some(iv) => start + iv * i + iv.mul_f64(k as f64 / conns as f64),
                        None => Instant::now(),
                    };
                    if intended >= end {
                        break;
                    }
                    if interval.is_some() {
                        // tokio's timer has 1 ms granularity: sleep to just before the slot,
                        // then yield until it, so the generator's own lateness is not
                        // charged to the server.
                        if let Some(early) = intended.checked_sub(Duration::from_millis(2))
                            && early > Instant::now()
                        {
                            tokio::time::sleep_until(early.into()).await;
                        }
                        while Instant::now() < intended {
                            tokio::task::yield_now().await;
                        }
                    }
                    i += 1;
                    // Spread over connections, so a sampled check still sees every connection.
                    let checked = (i + k as u32).is_multiple_of(expect.every.max(1));
                    match timed_out(send(&mut sender, &req)).await {
                        Ok(seen) => match if checked { expect.check(&seen) } else { Ok(()) } {
                            Ok(()) => {
                                hist.saturating_record(intended.elapsed().as_nanos().max(1) as u64);
                                done += 1;
                            }
                            Err(e) => {
                                errors += 1;
                                first_error.get_or_insert(format!("response {done}: {e}"));
                            }
                        },
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                            match timed_out(Sender::connect(addr, protocol)).await {
                                Ok(s) => sender = s,
                                Err(_) => break,
                            }
                        }
                    }
                }
                (hist, done, errors, first_error)
            }));
        }
        let mut out = LoadResult {
            completed: 0,
            errors: 0,
            first_error: None,
            wall: Duration::ZERO,
            hist: new_hist(),
        };
        for t in tasks {
            match t.await {
                Ok((h, d, e, fe)) => {
                    let _ = out.hist.add(&h);
                    out.completed += d;
                    out.errors += e;
                    if out.first_error.is_none() {
                        out.first_error = fe;
                    }
                }
                Err(e) => {
                    out.errors += 1;
                    out.first_error.get_or_insert(format!("load task: {e}"));
                }
            }
        }
        out.wall = Instant::now().saturating_duration_since(start);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The upstream's own check, with our generator sending straight to it (no Envoy): a
    /// request without the header the filter should have added is an error, named.
    #[test]
    fn the_upstream_checks_every_request_while_timed() {
        let response = Message {
            headers: vec![(b":status".to_vec(), b"200".to_vec())],
            body: b"ok".to_vec(),
            ..Default::default()
        };
        let up = Upstream::start(&response).unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], up.port));
        let mut req = RequestTemplate::from_message(&Message::default());
        let expect = Expect::upstream_needs(200, "x-new", "2");
        let d = Duration::from_millis(100);
        let res = up.checking(&expect, || load(addr, &req, &expect, 2, d, None));
        assert!(res.errors > 0 && res.completed > 0);
        let why = res.first_error.unwrap();
        assert!(
            why.contains("upstream request") && why.contains("x-new"),
            "{why}"
        );
        req.headers.push((b"x-new".to_vec(), b"2".to_vec()));
        let res = up.checking(&expect, || load(addr, &req, &expect, 2, d, None));
        assert_eq!((res.errors, res.first_error), (0, None));
        // Outside `checking` nothing is checked.
        req.headers.pop();
        assert_eq!(load(addr, &req, &expect, 2, d, None).errors, 0);
    }

    /// A rate with no time between requests is refused at once, not run (it would never end),
    /// and one below 1 req/s is not quietly run at another.
    #[test]
    fn rates_without_an_interval_are_refused() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 9));
        let req = RequestTemplate::from_message(&Message::default());
        let d = Duration::from_secs(3600);
        for r in [f64::INFINITY, f64::NAN, 0.0, -1.0, 1e300] {
            let t = Instant::now();
            let res = load(addr, &req, &Expect::status(200), 2, d, Some(r));
            assert!(t.elapsed() < Duration::from_secs(1), "{r}");
            assert_eq!((res.completed, res.errors), (0, 1), "{r}");
            assert!(res.first_error.unwrap().contains("rate"), "{r}");
        }
        assert_eq!(slot_interval(0.5, 1), Ok(Duration::from_secs(2)));
        assert_eq!(slot_interval(4.0, 2), Ok(Duration::from_millis(500)));
    }
}
