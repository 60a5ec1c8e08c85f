//! The steady load of a fault trial: a few keep-alive HTTP/1.1 connections in a closed loop,
//! each request's send and answer times and outcome logged, so the tally can say when the first
//! bad answer came and when good ones came back. Plain blocking sockets on threads: a
//! connection stuck on a hung filter must not hold up the others, and every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{Outcome, Tally};

/// The header add-header (and misbehave while it behaves) adds to every response.
pub const HEADER: &str = "x-filterbench";
pub const VALUE: &str = "added";

/// One request: when it was sent and answered (since the load began), and how it ended.
#[derive(Clone, Debug)]
pub struct Event {
    pub sent: Duration,
    pub done: Duration,
    pub outcome: Outcome,
}

/// Runs `connections` closed loops against `addr` until `window` has passed; a request not
/// answered within `timeout` counts as unanswered (and its connection is dropped). `watch` is
/// called about every 20 ms from the calling thread meanwhile (the RSS watchdog).
pub fn run(
    addr: SocketAddr,
    connections: u32,
    window: Duration,
    timeout: Duration,
    mut watch: impl FnMut(),
) -> Tally {
    let start = Instant::now();
    let end = start + window;
    let threads: Vec<_> = (0..connections.max(1))
        .map(|_| std::thread::spawn(move || connection(addr, start, end, timeout)))
        .collect();
    while Instant::now() < end + timeout {
        watch();
        if threads.iter().all(|t| t.is_finished()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut events, mut refused): (Vec<Event>, u64) = (Vec::new(), 0);
    for t in threads {
        // Every wait in a connection is bounded by `timeout`, so each ends soon after `end`.
        if let Ok((mut e, r)) = t.join() {
            events.append(&mut e);
            refused += r;
        }
    }
    events.sort_by_key(|e| e.done);
    let mut tally = Tally {
        refused,
        ..Tally::default()
    };
    for e in &events {
        tally.add(e.sent, e.done, &e.outcome);
    }
    if let Some(b) = tally.first_bad {
        tally.in_flight_lost = events
            .iter()
            .filter(|e| e.sent < b && matches!(e.outcome, Outcome::Reset | Outcome::Unanswered))
            .count() as u64;
    }
    tally
}

/// One closed loop: its requests, and the connects that failed (no request was sent on them).
fn connection(
    addr: SocketAddr,
    start: Instant,
    end: Instant,
    timeout: Duration,
) -> (Vec<Event>, u64) {
    let (mut out, mut refused) = (Vec::new(), 0);
    let mut conn: Option<BufReader<TcpStream>> = None;
    while Instant::now() < end {
        let c = match conn.take() {
            Some(c) => c,
            None => match TcpStream::connect_timeout(&addr, timeout) {
                Ok(s) => BufReader::new(s),
                Err(e) => {
                    // Not a request: none was sent. Refused means nothing listens any more
                    // (Envoy died): this loop is over. A connect timing out (a full backlog
                    // behind a stuck worker) is tried again.
                    refused += 1;
                    if e.kind() == std::io::ErrorKind::ConnectionRefused {
                        break;
                    }
                    // Any other quick failure: do not spin.
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            },
        };
        let sent = start.elapsed();
        let (outcome, kept) = exchange(c, timeout);
        conn = kept;
        out.push(Event {
            sent,
            done: start.elapsed(),
            outcome,
        });
    }
    (out, refused)
}

/// One request on `c`; the connection back when it can carry another.
fn exchange(
    mut c: BufReader<TcpStream>,
    timeout: Duration,
) -> (Outcome, Option<BufReader<TcpStream>>) {
    let s = c.get_mut();
    if s.set_read_timeout(Some(timeout)).is_err()
        || s.write_all(b"GET / HTTP/1.1\r\nHost: filterbench\r\n\r\n")
            .is_err()
    {
        return (Outcome::Reset, None);
    }
    match read_response(&mut c) {
        Ok((status, header, close)) => {
            let outcome = match (status, header) {
                (200, true) => Outcome::Good,
                (200, false) => Outcome::Wrong,
                (s, _) => Outcome::Status(s),
            };
            (outcome, (!close).then_some(c))
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            (Outcome::Unanswered, None)
        }
        Err(_) => (Outcome::Reset, None),
    }
}

/// Status, whether the add-header header was there, whether the connection closes.
fn read_response(c: &mut BufReader<TcpStream>) -> std::io::Result<(u16, bool, bool)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    if c.read_line(&mut line)? == 0 {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("status line"))?;
    let (mut length, mut chunked, mut header, mut close) = (0usize, false, false, false);
    loop {
        line.clear();
        if c.read_line(&mut line)? == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "content-length" => length = v.parse().map_err(|_| bad("content-length"))?,
            "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
            "connection" => close = v.eq_ignore_ascii_case("close"),
            _ if k == HEADER => header = v == VALUE,
            _ => {}
        }
    }
    if chunked {
        loop {
            line.clear();
            c.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).map_err(|_| bad("chunk size"))?;
            let mut skip = vec![0; n + 2];
            c.read_exact(&mut skip)?;
            if n == 0 {
                break;
            }
        }
    } else {
        let mut skip = vec![0; length];
        c.read_exact(&mut skip)?;
    }
    Ok((status, header, close))
}
