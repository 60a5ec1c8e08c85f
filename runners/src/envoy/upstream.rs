//! The in-suite upstream Envoy routes to: a fixed response to every request, over HTTP/1.1 or
//! h2c; it records the last request it received and checks each one against the filter's
//! effect while a variant is timed. (Split from `http.rs`, which keeps the load generator.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::expect::{Effect, Expect};
use super::http::{LoadResult, runtime, status_of};
use super::protocol::Protocol;
use crate::host::HeaderMap;
use crate::host::vm::Message;

/// What the upstream received last (when recording).
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
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

/// The most request body the upstream reads: far above the largest fixture body (1 MiB) and
/// Envoy's 16 MiB buffer, so only a runaway or hostile sender meets it; past it, 413.
pub const MAX_REQUEST_BODY: usize = 64 << 20;

/// The upstream Envoy routes to: answers every request with one fixed response.
pub struct Upstream {
    pub port: u16,
    pub record: Arc<AtomicBool>,
    pub last: Arc<Mutex<Option<Recorded>>>,
    checks: Arc<UpstreamChecks>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What every connection's service shares.
struct Shared {
    status: u16,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Bytes,
    body_limit: usize,
    record: Arc<AtomicBool>,
    last: Arc<Mutex<Option<Recorded>>>,
    checks: Arc<UpstreamChecks>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request's headers as Envoy forwarded them: `:path` and `:authority` from the URI, which
/// HTTP/2 gives absolute (`http://host/x`) where HTTP/1.1 gives `/x` and a Host header.
fn request_headers(parts: &hyper::http::request::Parts) -> HeaderMap {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut h: HeaderMap = vec![
        (
            b":method".to_vec(),
            parts.method.as_str().as_bytes().to_vec(),
        ),
        (b":path".to_vec(), path.as_bytes().to_vec()),
    ];
    if let Some(a) = parts.uri.authority() {
        h.push((b":authority".to_vec(), a.as_str().as_bytes().to_vec()));
    }
    h.extend(
        parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().as_bytes().to_vec(), v.as_bytes().to_vec())),
    );
    h
}

async fn handle(req: Request<Incoming>, s: Arc<Shared>) -> Result<Response<Full<Bytes>>, BoxError> {
    let (parts, incoming) = req.into_parts();
    let received = match Limited::new(incoming, s.body_limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            let resp = Response::builder()
                .status(413)
                .body(Full::new(Bytes::new()));
            return Ok(resp.expect("valid response"));
        }
        Err(e) => return Err(e),
    };
    let recording = s.record.load(Ordering::Relaxed);
    if recording || s.checks.active() {
        let h = request_headers(&parts);
        s.checks.check(&h, &received);
        if recording {
            *s.last.lock().unwrap() = Some(Recorded {
                headers: h,
                body: received.to_vec(),
            });
        }
    }
    let mut resp = Response::builder().status(s.status);
    for (k, v) in &s.headers {
        resp = resp.header(k.as_slice(), v.as_slice());
    }
    Ok(resp
        .body(Full::new(s.body.clone()))
        .expect("valid response"))
}

impl Upstream {
    pub fn start(response: &Message) -> std::io::Result<Upstream> {
        Upstream::start_with(response, Protocol::Http1)
    }

    /// [`Upstream::start`] speaking `protocol` (h2c: prior knowledge, as Envoy's cluster is
    /// told to speak it).
    pub fn start_with(response: &Message, protocol: Protocol) -> std::io::Result<Upstream> {
        Upstream::start_limited(response, protocol, MAX_REQUEST_BODY)
    }

    fn start_limited(
        response: &Message,
        protocol: Protocol,
        body_limit: usize,
    ) -> std::io::Result<Upstream> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            status: status_of(&response.headers),
            headers: response
                .headers
                .iter()
                .filter(|(k, _)| !k.starts_with(b":") && k.as_slice() != b"content-length")
                .cloned()
                .collect(),
            body: Bytes::from(response.body.clone()),
            body_limit,
            record: Arc::new(AtomicBool::new(false)),
            last: Arc::new(Mutex::new(None)),
            checks: Arc::new(UpstreamChecks::default()),
        });
        let (record, last, checks) = (
            shared.record.clone(),
            shared.last.clone(),
            shared.checks.clone(),
        );
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
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
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            let svc =
                                hyper::service::service_fn(move |req| handle(req, shared.clone()));
                            let io = TokioIo::new(stream);
                            let _ = match protocol {
                                Protocol::Http1 => {
                                    hyper::server::conn::http1::Builder::new()
                                        .keep_alive(true)
                                        .serve_connection(io, svc)
                                        .await
                                }
                                Protocol::H2c => {
                                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                                        .serve_connection(io, svc)
                                        .await
                                }
                            };
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::super::http::{RequestTemplate, one_shot_with};
    use super::*;

    fn get(h: &HeaderMap, k: &[u8]) -> Option<String> {
        h.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// HTTP/2 gives the server an absolute URI; `:path` must still be the path, as over
    /// HTTP/1.1, or a path-rewriting filter's proof fails under h2c.
    #[test]
    fn the_path_is_recorded_as_a_path_over_both_protocols() {
        let response = Message::default();
        for p in [Protocol::Http1, Protocol::H2c] {
            let up = Upstream::start_with(&response, p).unwrap();
            up.record.store(true, Ordering::Relaxed);
            let addr = SocketAddr::from(([127, 0, 0, 1], up.port));
            let mut req = RequestTemplate::from_message(&Message::default());
            req.path = "/x?y=1".into();
            assert_eq!(one_shot_with(p, addr, &req).unwrap().status, 200);
            let h = up.last.lock().unwrap().take().unwrap().headers;
            assert_eq!(get(&h, b":path").as_deref(), Some("/x?y=1"), "{p:?}");
            let authority = get(&h, b":authority").or_else(|| get(&h, b"host"));
            assert_eq!(authority.as_deref(), Some("example.com"), "{p:?}");
        }
    }

    /// A body past the bound is answered 413, not read on; one at it is taken.
    #[test]
    fn a_body_past_the_bound_is_refused() {
        for p in [Protocol::Http1, Protocol::H2c] {
            let up = Upstream::start_limited(&Message::default(), p, 16).unwrap();
            let addr = SocketAddr::from(([127, 0, 0, 1], up.port));
            let mut req = RequestTemplate::from_message(&Message::default());
            req.body = Bytes::from(vec![b'a'; 16]);
            assert_eq!(one_shot_with(p, addr, &req).unwrap().status, 200, "{p:?}");
            req.body = Bytes::from(vec![b'a'; 17]);
            assert_eq!(one_shot_with(p, addr, &req).unwrap().status, 413, "{p:?}");
        }
    }
}
