//! The in-suite upstream Envoy routes to: a fixed response to every request, over HTTP/1.1 or
//! h2c; it records the last request it received and checks each one against the filter's
//! effect while a variant is timed. (Split from `http.rs`, which keeps the load generator.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
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
        Upstream::start_with(response, Protocol::Http1)
    }

    /// [`Upstream::start`] speaking `protocol` (h2c: prior knowledge, as Envoy's cluster is
    /// told to speak it).
    pub fn start_with(response: &Message, protocol: Protocol) -> std::io::Result<Upstream> {
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
