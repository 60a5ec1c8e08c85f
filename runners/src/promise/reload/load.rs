//! Steady closed-loop load through a reload, each response's version read from its output, and
//! what the responses say about the swap: when the new version first answered, when the old
//! one last did, and what failed in between.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;

use crate::envoy::http::{REQUEST_TIMEOUT, RequestTemplate};
use crate::envoy::protocol::{Protocol, Sender};

/// What one response said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The filter's header carried the output of version N.
    Version(u32),
    /// An answer without a version's output: a status other than 200, no header, a value no
    /// version gives.
    Failed(String),
    /// No answer: the connection was reset, refused or timed out.
    Reset(String),
}

/// One response, with when it completed.
#[derive(Clone, Debug)]
pub struct Event {
    pub at: Instant,
    pub outcome: Outcome,
}

/// How a response tells the versions apart: the value of `header` is `prefix` and the version.
#[derive(Clone, Debug)]
pub struct Marker {
    pub header: String,
    pub prefix: String,
}

impl Marker {
    /// The header value version `n` gives.
    pub fn value(&self, n: u32) -> String {
        format!("{}{n}", self.prefix)
    }

    fn read(&self, status: u16, headers: &hyper::HeaderMap) -> Outcome {
        if status != 200 {
            return Outcome::Failed(format!("status {status}"));
        }
        let values: Vec<&str> = headers
            .get_all(self.header.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        match values.as_slice() {
            [one] => match one.strip_prefix(&self.prefix).map(str::parse::<u32>) {
                Some(Ok(n)) => Outcome::Version(n),
                _ => Outcome::Failed(format!("{}: {one:?}, no version's output", self.header)),
            },
            [] => Outcome::Failed(format!("no {} header", self.header)),
            many => Outcome::Failed(format!("{} given {} times", self.header, many.len())),
        }
    }
}

/// Closed-loop load on `connections` connections in a thread of its own, until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Event>>,
}

impl Load {
    pub fn start(addr: SocketAddr, req: RequestTemplate, marker: Marker, connections: u32) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            rt.block_on(async move {
                let tasks: Vec<_> = (0..connections.max(1))
                    .map(|_| {
                        let (req, marker, stop) = (req.clone(), marker.clone(), flag.clone());
                        tokio::spawn(connection(addr, req, marker, stop))
                    })
                    .collect();
                let mut all = Vec::new();
                for t in tasks {
                    match t.await {
                        Ok(events) => all.extend(events),
                        Err(e) => all.push(Event {
                            at: Instant::now(),
                            outcome: Outcome::Reset(format!("load task: {e}")),
                        }),
                    }
                }
                all.sort_by_key(|e| e.at);
                all
            })
        });
        Load { stop, thread }
    }

    /// A load whose thread is `thread` (for tests of how a stop reads it).
    #[cfg(test)]
    fn of(thread: std::thread::JoinHandle<Vec<Event>>) -> Load {
        Load {
            stop: Arc::new(AtomicBool::new(false)),
            thread,
        }
    }

    /// Stops the load; every response it saw, in completion order. A load thread that
    /// panicked is an error: its responses are lost, and counting none would be a fake zero.
    pub fn stop(self) -> Result<Vec<Event>, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().map_err(|p| {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            format!("the load thread panicked ({why}): its responses are lost")
        })
    }
}

async fn connection(
    addr: SocketAddr,
    req: RequestTemplate,
    marker: Marker,
    stop: Arc<AtomicBool>,
) -> Vec<Event> {
    let mut events = Vec::new();
    let mut sender: Option<Sender> = None;
    while !stop.load(Ordering::Relaxed) {
        let s = match sender.take() {
            Some(s) => s,
            None => {
                match tokio::time::timeout(REQUEST_TIMEOUT, Sender::connect(addr, Protocol::Http1))
                    .await
                {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        events.push(reset(e));
                        // A refused connection would spin: a short pause before the next try.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    Err(_) => {
                        events.push(reset("connect timed out".into()));
                        continue;
                    }
                }
            }
        };
        let mut s = s;
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let resp = s.send(&req).await?;
            let (parts, body) = resp.into_parts();
            body.collect().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(marker.read(parts.status.as_u16(), &parts.headers))
        })
        .await;
        match answer {
            Ok(Ok(outcome)) => {
                events.push(Event {
                    at: Instant::now(),
                    outcome,
                });
                sender = Some(s);
            }
            Ok(Err(e)) => events.push(reset(e)),
            Err(_) => events.push(reset(format!(
                "no response within {} s",
                REQUEST_TIMEOUT.as_secs()
            ))),
        }
    }
    events
}

fn reset(why: String) -> Event {
    Event {
        at: Instant::now(),
        outcome: Outcome::Reset(why),
    }
}

/// What the responses completed after the write say about one swap from version `from` to
/// `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct Swap {
    /// Responses completed from the write until the load stopped.
    pub requests: u64,
    /// Answered without the old or the new version's output.
    pub failed: u64,
    pub reset: u64,
    pub first_failure: Option<String>,
    pub old_after: u64,
    pub new_after: u64,
    /// From the write: the first response of the new version.
    pub first_new: Option<Duration>,
    /// From the write: the last response of the old version (None: none came after it).
    pub last_old: Option<Duration>,
    /// From the write until every response showed the new version: the first new response
    /// after the last old one. None when the new version was never seen, or the old one
    /// answered last.
    pub settled: Option<Duration>,
}

/// Reads the swap out of `events` (in completion order) for a write at `written`.
pub fn analyse(events: &[Event], written: Instant, from: u32, to: u32) -> Swap {
    let after: Vec<&Event> = events.iter().filter(|e| e.at >= written).collect();
    let since = |e: &Event| e.at.duration_since(written);
    let mut s = Swap {
        requests: after.len() as u64,
        failed: 0,
        reset: 0,
        first_failure: None,
        old_after: 0,
        new_after: 0,
        first_new: None,
        last_old: None,
        settled: None,
    };
    for e in &after {
        match &e.outcome {
            Outcome::Version(n) if *n == to => {
                s.new_after += 1;
                s.first_new.get_or_insert(since(e));
            }
            Outcome::Version(n) if *n == from => {
                s.old_after += 1;
                s.last_old = Some(since(e));
            }
            Outcome::Version(n) => {
                s.failed += 1;
                s.first_failure
                    .get_or_insert(format!("output of version {n}, neither {from} nor {to}"));
            }
            Outcome::Failed(why) => {
                s.failed += 1;
                s.first_failure.get_or_insert(why.clone());
            }
            Outcome::Reset(why) => {
                s.reset += 1;
                s.first_failure.get_or_insert(why.clone());
            }
        }
    }
    // Settled: the first new response that no old one followed.
    s.settled = after
        .iter()
        .filter(|e| e.outcome == Outcome::Version(to))
        .map(|e| since(e))
        .find(|t| s.last_old.is_none_or(|old| *t > old));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t0: Instant, ms: u64, outcome: Outcome) -> Event {
        Event {
            at: t0 + Duration::from_millis(ms),
            outcome,
        }
    }

    #[test]
    fn a_swap_settles_at_the_first_new_answer_after_the_last_old_one() {
        let t0 = Instant::now();
        let events = vec![
            ev(t0, 0, Outcome::Version(1)),
            ev(t0, 10, Outcome::Version(1)),
            ev(t0, 20, Outcome::Version(2)),
            ev(t0, 30, Outcome::Version(1)),
            ev(t0, 40, Outcome::Reset("reset".into())),
            ev(t0, 50, Outcome::Version(2)),
            ev(t0, 60, Outcome::Version(2)),
        ];
        let w = t0 + Duration::from_millis(5);
        let s = analyse(&events, w, 1, 2);
        assert_eq!(s.requests, 6);
        assert_eq!((s.old_after, s.new_after, s.reset, s.failed), (2, 3, 1, 0));
        assert_eq!(s.first_new, Some(Duration::from_millis(15)));
        assert_eq!(s.last_old, Some(Duration::from_millis(25)));
        assert_eq!(s.settled, Some(Duration::from_millis(45)));
    }

    /// A reload whose new version never answered, or whose old version answered last, has no
    /// settling time: it is not a reload.
    #[test]
    fn no_new_output_no_reload() {
        let t0 = Instant::now();
        let old = vec![
            ev(t0, 10, Outcome::Version(1)),
            ev(t0, 20, Outcome::Version(1)),
        ];
        let s = analyse(&old, t0, 1, 2);
        assert_eq!((s.first_new, s.settled), (None, None));
        let back = vec![
            ev(t0, 10, Outcome::Version(2)),
            ev(t0, 20, Outcome::Version(1)),
        ];
        let s = analyse(&back, t0, 1, 2);
        assert_eq!(s.first_new, Some(Duration::from_millis(10)));
        assert_eq!(s.settled, None);
        let other = vec![ev(t0, 10, Outcome::Version(3))];
        let s = analyse(&other, t0, 1, 2);
        assert_eq!((s.failed, s.settled), (1, None));
    }

    #[test]
    fn a_panicked_load_thread_is_an_error_not_zero_requests() {
        let l = Load::of(std::thread::spawn(|| -> Vec<Event> { panic!("boom") }));
        let e = l.stop().unwrap_err();
        assert!(e.contains("boom") && e.contains("panicked"), "{e}");
        let t0 = Instant::now();
        let ok = Load::of(std::thread::spawn(move || {
            vec![ev(t0, 1, Outcome::Version(0))]
        }));
        assert_eq!(ok.stop().unwrap().len(), 1);
    }

    #[test]
    fn the_marker_reads_one_version_or_names_what_is_wrong() {
        let m = Marker {
            header: "x-v".into(),
            prefix: "reload-".into(),
        };
        let mut h = hyper::HeaderMap::new();
        assert!(matches!(m.read(200, &h), Outcome::Failed(w) if w.contains("no x-v")));
        h.insert("x-v", m.value(7).parse().unwrap());
        assert_eq!(m.read(200, &h), Outcome::Version(7));
        assert!(matches!(m.read(503, &h), Outcome::Failed(w) if w.contains("503")));
        h.append("x-v", "reload-8".parse().unwrap());
        assert!(matches!(m.read(200, &h), Outcome::Failed(_)));
    }
}
