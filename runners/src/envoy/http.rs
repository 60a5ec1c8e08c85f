//! The HTTP sides around Envoy, on tokio + hyper: the in-suite upstream (fixed response,
//! records the last request it received) and the load generator — closed loop (C connections
//! as fast as they go) and open loop at a constant rate with coordinated-omission correction
//! (latency counted from each request's intended send time, wrk2's method).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use super::expect::{Effect, Expect};
use crate::host::HeaderMap;
use crate::host::vm::Message;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// What the upstream received last (when recording).
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// The status a header map's `:status` names (200 when it names none).
pub(crate) fn status_of(headers: &HeaderMap) -> u16 {
    headers
        .iter()
        .find(|(k, _)| k == b":status")
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(200)
}

/// The checks the upstream makes on each request it receives while a variant is timed.
#[derive(Default)]
pub struct UpstreamChecks {
    /// The filter's effect on the request, checked on one request in the given number.
    effect: Mutex<Option<(Arc<Effect>, u32)>>,
    requests: AtomicU64,
    mismatches: AtomicU64,
    first: Mutex<Option<String>>,
}

impl UpstreamChecks {
    fn check(&self, h: &HeaderMap, body: &[u8]) {
        let Some((effect, every)) = self.effect.lock().unwrap().clone() else {
            return;
        };
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(u64::from(every.max(1)))
            && let Err(e) = effect.check("request", h, body)
        {
            self.mismatches.fetch_add(1, Ordering::Relaxed);
            self.first
                .lock()
                .unwrap()
                .get_or_insert(format!("upstream request {n}: {e}"));
        }
    }

    fn active(&self) -> bool {
        self.effect.lock().unwrap().is_some()
    }
}

/// The upstream Envoy routes to: answers every request with one fixed response.
pub struct Upstream {
    pub port: u16,
    pub record: Arc<AtomicBool>,
    pub last: Arc<Mutex<Option<Recorded>>>,
    checks: Arc<UpstreamChecks>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    pub fn start(response: &Message) -> std::io::Result<Upstream> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let status = status_of(&response.headers);
        let headers: Vec<(Vec<u8>, Vec<u8>)> = response
            .headers
            .iter()
            .filter(|(k, _)| !k.starts_with(b":") && k.as_slice() != b"content-length")
            .cloned()
            .collect();
        let body = Bytes::from(response.body.clone());
        let record = Arc::new(AtomicBool::new(false));
        let last = Arc::new(Mutex::new(None));
        let checks = Arc::new(UpstreamChecks::default());
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let (rec, lst, chk) = (record.clone(), last.clone(), checks.clone());
        let thread = std::thread::Builder::new()
            .name("upstream".into())
            .spawn(move || {
                runtime().block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    loop {
                        let conn = tokio::select! {
                            c = listener.accept() => c,
                            _ = &mut rx => return,
                        };
                        let Ok((stream, _)) = conn else { continue };
                        let _ = stream.set_nodelay(true);
                        let (headers, body, rec, lst, chk) = (
                            headers.clone(),
                            body.clone(),
                            rec.clone(),
                            lst.clone(),
                            chk.clone(),
                        );
                        tokio::spawn(async move {
                            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                                let (headers, body, rec, lst, chk) = (
                                    headers.clone(),
                                    body.clone(),
                                    rec.clone(),
                                    lst.clone(),
                                    chk.clone(),
                                );
                                async move {
                                    let (parts, incoming) = req.into_parts();
                                    let received = incoming.collect().await?.to_bytes();
                                    let recording = rec.load(Ordering::Relaxed);
                                    if recording || chk.active() {
                                        let mut h: HeaderMap = vec![
                                            (
                                                b":method".to_vec(),
                                                parts.method.as_str().as_bytes().to_vec(),
                                            ),
                                            (b":path".to_vec(), parts.uri.to_string().into_bytes()),
                                        ];
                                        h.extend(parts.headers.iter().map(|(k, v)| {
                                            (k.as_str().as_bytes().to_vec(), v.as_bytes().to_vec())
                                        }));
                                        chk.check(&h, &received);
                                        if recording {
                                            *lst.lock().unwrap() = Some(Recorded {
                                                headers: h,
                                                body: received.to_vec(),
                                            });
                                        }
                                    }
                                    let mut resp = Response::builder().status(status);
                                    for (k, v) in &headers {
                                        resp = resp.header(k.as_slice(), v.as_slice());
                                    }
                                    Ok::<_, hyper::Error>(
                                        resp.body(Full::new(body)).expect("valid response"),
                                    )
                                }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .keep_alive(true)
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        });
                    }
                })
            })?;
        Ok(Upstream {
            port,
            record,
            last,
            checks,
            stop: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Upstream {
    /// Runs `f` (a load on one variant) while the upstream checks each request against that
    /// variant's effect on it; a request that differs makes an error of the result, named.
    pub fn checking(&self, expect: &Expect, f: impl FnOnce() -> LoadResult) -> LoadResult {
        let (mut res, bad, first) = self.during(expect, f);
        if bad > 0 {
            res.errors += bad;
            res.first_error = first.or(res.first_error);
        }
        res
    }

    /// [`Upstream::checking`] for one request (or a few) sent by `f`.
    pub fn checked_one(
        &self,
        expect: &Expect,
        f: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        let (res, bad, first) = self.during(expect, f);
        res?;
        match (bad, first) {
            (0, _) => Ok(()),
            (_, Some(why)) => Err(why),
            (n, None) => Err(format!("{n} requests differ upstream")),
        }
    }

    /// `f`'s result, with how many requests reaching the upstream meanwhile differed from
    /// `expect`'s effect on them and how the first one did.
    fn during<T>(&self, expect: &Expect, f: impl FnOnce() -> T) -> (T, u64, Option<String>) {
        let c = &self.checks;
        c.requests.store(0, Ordering::Relaxed);
        c.mismatches.store(0, Ordering::Relaxed);
        *c.first.lock().unwrap() = None;
        *c.effect.lock().unwrap() =
            (!expect.upstream.is_empty()).then(|| (expect.upstream.clone(), expect.every));
        let res = f();
        *c.effect.lock().unwrap() = None;
        let bad = c.mismatches.load(Ordering::Relaxed);
        (res, bad, c.first.lock().unwrap().take())
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
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

    fn build(&self) -> Request<Full<Bytes>> {
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

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: &RequestTemplate,
) -> Result<Seen, String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(req.build())
        .await
        .map_err(|e| e.to_string())?;
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
    runtime().block_on(timed_out(async {
        let mut s = connect(addr).await?;
        send(&mut s, req).await
    }))
}

/// One keep-alive connection driven request by request from synchronous code (the counted
/// windows under callgrind, where what matters is exactly how many requests were sent).
pub struct Session {
    rt: tokio::runtime::Runtime,
    sender: SendRequest<Full<Bytes>>,
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
    let conns = connections.max(1) as usize;
    runtime().block_on(async move {
        let start = Instant::now() + Duration::from_millis(5);
        let end = start + duration;
        let mut tasks = Vec::new();
        for k in 0..conns {
            let (req, expect) = (req.clone(), expect.clone());
            tasks.push(tokio::spawn(async move {
                let mut hist = new_hist();
                let (mut done, mut errors, mut first_error) = (0u64, 0u64, None::<String>);
                let mut sender = match timed_out(connect(addr)).await {
                    Ok(s) => s,
                    Err(e) => return (hist, 0, 1, Some(e)),
                };
                // Open loop: this connection owns every conns-th slot of the schedule.
                let interval = rate.map(|r| Duration::from_secs_f64(conns as f64 / r.max(1.0)));
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
                            match timed_out(connect(addr)).await {
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
}
