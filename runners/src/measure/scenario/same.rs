//! Outcome equality for the timed loop: exactly `==` on [`Step`], but short byte strings (header
//! names and values, small bodies) are compared inline with a few word loads instead of a
//! `memcmp` call each — a call per field cost more than the rest of the proof together.

use crate::fixtures::Step;
use crate::host::{HeaderMap, HttpOutcome, TcpOutcome};

/// `a == b` for two outcomes.
pub fn same_step(a: &Step, b: &Step) -> bool {
    match (a, b) {
        (Step::Http(a), Step::Http(b)) => same_http(a, b),
        (Step::Tcp(a), Step::Tcp(b)) => same_tcp(a, b),
        (Step::Tick(a), Step::Tick(b)) => a == b,
        (Step::Failed(a), Step::Failed(b)) => a == b,
        _ => false,
    }
}

fn same_http(a: &HttpOutcome, b: &HttpOutcome) -> bool {
    // Destructured so that a new field cannot be left out of the proof.
    let HttpOutcome {
        request_headers,
        request_body,
        response_headers,
        response_body,
        local_reply,
        calls,
    } = a;
    same_map(request_headers, &b.request_headers)
        && same_bytes(request_body, &b.request_body)
        && same_map(response_headers, &b.response_headers)
        && same_bytes(response_body, &b.response_body)
        && *local_reply == b.local_reply
        && *calls == b.calls
}

fn same_tcp(a: &TcpOutcome, b: &TcpOutcome) -> bool {
    let TcpOutcome {
        downstream_forwarded,
        upstream_forwarded,
        closed,
        calls,
    } = a;
    same_bytes(downstream_forwarded, &b.downstream_forwarded)
        && same_bytes(upstream_forwarded, &b.upstream_forwarded)
        && *closed == b.closed
        && *calls == b.calls
}

fn same_map(a: &HeaderMap, b: &HeaderMap) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ak, av), (bk, bv))| same_bytes(ak, bk) && same_bytes(av, bv))
}

/// `a == b`; up to 16 bytes with two (overlapping) loads per side, longer ones by `memcmp`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w4 = |s: &[u8], at: usize| u32::from_ne_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    let w8 = |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    match n {
        0 => true,
        // Positions 0, n/2 and n-1 cover every byte of 1 to 3.
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=8 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        9..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::LocalReply;

    #[test]
    fn bytes_agree_with_eq_at_every_length_and_position() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).collect();
            assert!(same_bytes(&a, &a.clone()));
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x80;
                assert!(!same_bytes(&a, &b), "length {n}, byte {i}");
            }
            let mut longer = a.clone();
            longer.push(0);
            assert!(!same_bytes(&a, &longer));
        }
    }

    #[test]
    fn outcomes_agree_with_eq() {
        let h = |k: &str, v: &str| (k.as_bytes().to_vec(), v.as_bytes().to_vec());
        let base = HttpOutcome {
            request_headers: vec![h(":method", "GET"), h(":path", "/")],
            request_body: b"{}".to_vec(),
            response_headers: vec![h(":status", "200"), h("x-filterbench", "added")],
            response_body: b"hello".to_vec(),
            ..HttpOutcome::default()
        };
        let variants: Vec<fn(&mut HttpOutcome)> = vec![
            |o| o.request_headers[1].1 = b"/a".to_vec(),
            |o| o.request_headers[0].0[1] = b'M',
            |o| drop(o.request_headers.pop()),
            |o| o.response_headers.push((b"x".to_vec(), Vec::new())),
            |o| o.response_headers[1].1 = b"addeD".to_vec(),
            |o| o.request_body.clear(),
            |o| o.response_body[4] = b'O',
            |o| {
                o.local_reply = Some(LocalReply {
                    status: 403,
                    details: Vec::new(),
                    body: Vec::new(),
                    headers: Vec::new(),
                    grpc_status: -1,
                })
            },
        ];
        let a = Step::Http(base.clone());
        assert!(same_step(&a, &Step::Http(base.clone())));
        for change in variants {
            let mut o = base.clone();
            change(&mut o);
            let b = Step::Http(o);
            assert_eq!(same_step(&a, &b), a == b);
            assert!(!same_step(&a, &b));
        }
        let tcp = TcpOutcome {
            downstream_forwarded: b"ping".to_vec(),
            ..TcpOutcome::default()
        };
        let mut closed = tcp.clone();
        closed.closed = true;
        assert!(same_step(&Step::Tcp(tcp.clone()), &Step::Tcp(tcp.clone())));
        assert!(!same_step(&Step::Tcp(tcp), &Step::Tcp(closed)));
        assert!(!same_step(&a, &Step::Failed("x".into())));
    }
}
