//! One HTTP exchange or TCP connection driven through the filter. The `_into` forms write into
//! an outcome the caller keeps from one request to the next and reuse its allocations (header
//! entries, body bytes) and the stream's buffers: a warm VM's request allocates nothing of the
//! harness's own, so the timed loop measures callbacks, not `malloc`. `http` and `tcp` are the
//! same path into a fresh outcome.

use super::super::http_call::OutboundCall;
use super::super::state::{HeaderMap, StreamState};
use super::{
    ACTION_CONTINUE, BodyEnd, Callback, HttpExchange, HttpOutcome, Message, PEER_LOCAL,
    TcpConnection, TcpEvent, TcpOutcome, Vm, VmError, headers_paused,
};

/// Copies `src` into `dst`, overwriting the entries of `spare` (the previous outcome's map of
/// the same direction) in place, so a warm VM copies header bytes into allocations it already
/// has; `spare` is left with `dst`'s old (emptied) list.
fn fill_map(dst: &mut HeaderMap, src: &HeaderMap, spare: &mut HeaderMap) {
    dst.clear();
    std::mem::swap(dst, spare);
    dst.truncate(src.len());
    for ((name, value), (k, v)) in dst.iter_mut().zip(src) {
        name.clear();
        name.extend_from_slice(k);
        value.clear();
        value.extend_from_slice(v);
    }
    // (Guarded: an empty extend is still an out-of-line call.)
    if dst.len() < src.len() {
        let reused = dst.len();
        dst.extend_from_slice(&src[reused..]);
    }
}

/// Where one direction's headers and body go: the outcome's map (its entries reused) and body.
struct Side<'a> {
    map: usize,
    buf: usize,
    on_headers: Callback,
    on_body: Callback,
    spare: &'a mut HeaderMap,
    forwarded: &'a mut Vec<u8>,
}

impl Vm {
    /// Headers then body chunks of one direction, the forwarded body into `side.forwarded`.
    /// False once the filter sent a local reply.
    fn deliver(
        &mut self,
        ctx: u64,
        msg: &Message,
        side: Side,
        calls: &mut Vec<OutboundCall>,
    ) -> Result<bool, VmError> {
        let Side {
            map,
            buf,
            on_headers,
            on_body,
            spare,
            forwarded,
        } = side;
        fill_map(&mut self.host().stream.maps[map], &msg.headers, spare);
        let no_body = msg.body.is_empty();
        let n = msg.headers.len() as u64;
        let action = self.call(on_headers, &[ctx, n, no_body as u64])?;
        let (answered, replied) = self.answer_then_replied(calls)?;
        if replied {
            return Ok(false);
        }
        // Paused to wait for a call's answer: the answer must resume the stream (or reply),
        // else a proxy would hold the request until its timeout.
        if answered > 0 && headers_paused(action) {
            self.resumed_after_call(on_headers, map / 2)?;
        }
        if no_body {
            return Ok(true);
        }
        let size = if msg.chunk_size == 0 {
            msg.body.len()
        } else {
            msg.chunk_size
        };
        let last: Option<&[u8]> = (msg.end == BodyEnd::EmptyChunk).then_some(&[]);
        let mut chunks = msg.body.chunks(size).chain(last).peekable();
        while let Some(chunk) = chunks.next() {
            let eos = chunks.peek().is_none();
            let buffered = &mut self.host().stream.buffers[buf];
            buffered.extend_from_slice(chunk);
            let len = buffered.len() as u64;
            let action = self.call(on_body, &[ctx, len, eos as u64])?;
            let (answered, replied) = self.answer_then_replied(calls)?;
            if replied {
                return Ok(false);
            }
            // The last chunk held back for a call must be released by its answer.
            if answered > 0 && eos && action.unwrap_or(ACTION_CONTINUE) != ACTION_CONTINUE {
                self.resumed_after_call(on_body, map / 2)?;
            }
            // Continue releases what is buffered; Pause keeps buffering (Envoy's
            // StopIterationAndBuffer). At end of stream the rest goes out either way.
            if action.unwrap_or(ACTION_CONTINUE) == ACTION_CONTINUE || eos {
                forwarded.append(&mut self.host().stream.buffers[buf]);
            }
        }
        Ok(true)
    }

    /// Drives one HTTP request/response through the filter.
    pub fn http(&mut self, ex: &HttpExchange) -> Result<HttpOutcome, VmError> {
        let mut out = HttpOutcome::default();
        let r = self.http_into(ex, &mut out);
        // Outside the timed loop a VM keeps no request's buffers.
        self.host().stream = StreamState::default();
        r.map(|()| out)
    }

    /// [`Vm::http`] into `out`, whose previous content is replaced and whose allocations are
    /// reused; the stream keeps its buffers' capacity for the next request.
    pub fn http_into(&mut self, ex: &HttpExchange, out: &mut HttpOutcome) -> Result<(), VmError> {
        self.host().stream.reset();
        let HttpOutcome {
            request_headers,
            request_body,
            response_headers,
            response_body,
            local_reply,
            calls,
        } = out;
        // The old header maps stay as spare entries until the stream's maps replace them.
        request_body.clear();
        response_body.clear();
        calls.clear();
        if local_reply.is_some() {
            *local_reply = None;
        }
        let ctx = self.new_context()?;
        let request = Side {
            map: 0,
            buf: 0,
            on_headers: Callback::OnRequestHeaders,
            on_body: Callback::OnRequestBody,
            spare: request_headers,
            forwarded: request_body,
        };
        if self.deliver(ctx, &ex.request, request, calls)? {
            let response = Side {
                map: 2,
                buf: 1,
                on_headers: Callback::OnResponseHeaders,
                on_body: Callback::OnResponseBody,
                spare: response_headers,
                forwarded: response_body,
            };
            self.deliver(ctx, &ex.response, response, calls)?;
        }
        self.end_context(ctx, calls)?;
        let s = &mut self.host().stream;
        // The outcome takes the final maps; the stream the spares left over, emptied below.
        std::mem::swap(request_headers, &mut s.maps[0]);
        std::mem::swap(response_headers, &mut s.maps[2]);
        // `out`'s was emptied above: a swap, so no drop of it in place.
        std::mem::swap(local_reply, &mut s.local_reply);
        s.reset();
        if local_reply.is_some() {
            // Nothing reached the upstream, and the client got the local reply instead.
            response_headers.clear();
            response_body.clear();
        }
        Ok(())
    }

    /// Drives one TCP connection through a network filter.
    pub fn tcp(&mut self, conn: &TcpConnection) -> Result<TcpOutcome, VmError> {
        let mut out = TcpOutcome::default();
        let r = self.tcp_into(conn, &mut out);
        self.host().stream = StreamState::default();
        r.map(|()| out)
    }

    /// [`Vm::tcp`] into `out`, reusing its allocations as [`Vm::http_into`] does.
    pub fn tcp_into(&mut self, conn: &TcpConnection, out: &mut TcpOutcome) -> Result<(), VmError> {
        self.host().stream.reset();
        out.downstream_forwarded.clear();
        out.upstream_forwarded.clear();
        out.closed = false;
        out.calls.clear();
        let ctx = self.new_context()?;
        self.call(Callback::OnNewConnection, &[ctx])?;
        self.answer_calls(&mut out.calls)?;
        let closed = |vm: &mut Vm| vm.host().stream.closed[2] || vm.host().stream.closed[3];
        for ev in &conn.events {
            if closed(self) {
                break;
            }
            let (data, eos, buf, cb) = match ev {
                TcpEvent::Downstream {
                    data,
                    end_of_stream,
                } => (data, *end_of_stream, 2, Callback::OnDownstreamData),
                TcpEvent::Upstream {
                    data,
                    end_of_stream,
                } => (data, *end_of_stream, 3, Callback::OnUpstreamData),
            };
            let buffered = &mut self.host().stream.buffers[buf];
            buffered.extend_from_slice(data);
            let len = buffered.len() as u64;
            let action = self.call(cb, &[ctx, len, eos as u64])?;
            self.answer_calls(&mut out.calls)?;
            if !closed(self) && action.unwrap_or(ACTION_CONTINUE) == ACTION_CONTINUE {
                let to = if buf == 2 {
                    &mut out.downstream_forwarded
                } else {
                    &mut out.upstream_forwarded
                };
                to.append(&mut self.host().stream.buffers[buf]);
            }
        }
        out.closed = closed(self);
        self.call(Callback::OnDownstreamConnectionClose, &[ctx, PEER_LOCAL])?;
        self.call(Callback::OnUpstreamConnectionClose, &[ctx, PEER_LOCAL])?;
        self.end_context(ctx, &mut out.calls)?;
        self.host().stream.reset();
        Ok(())
    }
}
