//! The VM driver: the proxy-wasm callback sequence for VM start, configuration, an HTTP
//! exchange and a TCP connection, written once over [`Instance`], so every arm is driven
//! through exactly the same calls.

use serde::{Deserialize, Serialize};

use super::callbacks::Callback;
use super::http_call::{MAX_CALLS_PER_STEP, OutboundCall};
use super::state::{Clock, HeaderMap, HostState, LocalReply, StreamState};
use crate::engines::{CallError, EngineError, Instance, LoadedModule};

/// Action returned by header/body/data callbacks.
const ACTION_CONTINUE: u64 = 0;

/// Whether a headers callback's action stops the stream: StopIteration (1) and the
/// StopAllIteration variants (3, 4) do; Continue (0) and ContinueAndEndStream (2) do not.
fn headers_paused(action: Option<u64>) -> bool {
    matches!(action, Some(1 | 3 | 4))
}

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("proxy_on_vm_start returned false")]
    VmStartFailed,
    #[error("VM is unusable after an earlier failure: {0}")]
    Broken(String),
    /// A trap after the module logged at critical level (where SDKs report a panic).
    #[error("{error}; the module logged before it: {said}")]
    Said { error: CallError, said: String },
    /// The filter's calls left a request unable to finish (as it would hang in a proxy).
    #[error("{0}")]
    Flow(String),
}

/// One side of an HTTP exchange as the host delivers it.
#[derive(Clone, Debug, Default)]
pub struct Message {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Deliver the body in chunks of this size (0 = one chunk).
    pub chunk_size: usize,
    /// How the body's end of stream reaches the filter.
    pub end: BodyEnd,
}

/// Where a body's end of stream comes: each proxy codec has its own shape, and a filter that
/// acts on every body callback (the C++ SDK's example rewrites each) forwards a different body
/// under each, so the in-process reference must take the shape of the host it is proven against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyEnd {
    /// On the last data chunk: Envoy 1.40 over h2c with our upstream and load generator, and
    /// the suite's fixtures (their timed figures stay comparable).
    #[default]
    LastChunk,
    /// The data with end_of_stream false, then an empty chunk with end_of_stream true: what
    /// Envoy 1.40's HTTP/1.1 codec gives a wasm filter and the dynamic module, both ways
    /// (measured: a 2 B response body as (2, false), (0, true) on every request).
    EmptyChunk,
}

#[derive(Clone, Debug, Default)]
pub struct HttpExchange {
    pub request: Message,
    pub response: Message,
}

/// What came out of an exchange: what the proxy would have forwarded, or the local reply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpOutcome {
    pub request_headers: HeaderMap,
    pub request_body: Vec<u8>,
    pub response_headers: HeaderMap,
    pub response_body: Vec<u8>,
    pub local_reply: Option<LocalReply>,
    /// HTTP calls the filter made out while handling the exchange, as the upstream got them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<OutboundCall>,
}

/// What one timer tick (`proxy_on_tick`) produced: the HTTP calls it made out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickOutcome {
    pub calls: Vec<OutboundCall>,
}

#[derive(Clone, Debug)]
pub enum TcpEvent {
    Downstream { data: Vec<u8>, end_of_stream: bool },
    Upstream { data: Vec<u8>, end_of_stream: bool },
}

#[derive(Clone, Debug, Default)]
pub struct TcpConnection {
    pub events: Vec<TcpEvent>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpOutcome {
    pub downstream_forwarded: Vec<u8>,
    pub upstream_forwarded: Vec<u8>,
    pub closed: bool,
    /// HTTP calls the filter made out while handling the connection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<OutboundCall>,
}

/// One callback of a traced request: what it returned and where the stream stood after it,
/// so the harness can replay the very path a scenario takes with empty callbacks.
#[derive(Clone, Debug)]
pub struct TracedCall {
    pub cb: Callback,
    pub ret: Option<u64>,
    pub local_reply: Option<LocalReply>,
    pub closed: [bool; 4],
}

/// A started VM with its root context.
pub struct Vm {
    inst: Box<dyn Instance>,
    root: u32,
    next_ctx: u32,
    broken: Option<String>,
    trace: Option<Vec<TracedCall>>,
}

/// PeerType::Local, as a proxy reports a connection it closed itself.
const PEER_LOCAL: u64 = 1;

impl Vm {
    /// Instantiates the module and runs `_initialize`/`_start`, the root context's creation
    /// and `proxy_on_vm_start`. Configuration is a separate step ([`Vm::configure`]).
    pub fn start(module: &dyn LoadedModule, host: HostState) -> Result<Vm, VmError> {
        Self::from_instance(module.instantiate(host)?)
    }

    /// [`Vm::start`] on an instance already made (so cold-start phases can be timed apart).
    pub fn from_instance(inst: Box<dyn Instance>) -> Result<Vm, VmError> {
        let mut vm = Vm {
            inst,
            root: 1,
            next_ctx: 2,
            broken: None,
            trace: None,
        };
        if vm.call(Callback::Initialize, &[])?.is_none() {
            vm.call(Callback::Start, &[])?;
        }
        let root = vm.root as u64;
        vm.call(Callback::OnContextCreate, &[root, 0])?;
        let vm_cfg_len = vm.host().vm_config.as_ref().map_or(0, Vec::len) as u64;
        if vm.call(Callback::OnVmStart, &[root, vm_cfg_len])? == Some(0) {
            return Err(VmError::VmStartFailed);
        }
        // Calls made while starting are answered before the VM takes requests.
        vm.answer_calls(&mut Vec::new())?;
        Ok(vm)
    }

    /// `proxy_on_configure` with the plugin configuration; `Ok(false)` if the filter refused it.
    pub fn configure(&mut self) -> Result<bool, VmError> {
        let len = self.host().plugin_config.as_ref().map_or(0, Vec::len) as u64;
        let r = self.call(Callback::OnConfigure, &[self.root as u64, len])?;
        // Answered now, so that no request carries the configuration's calls.
        self.answer_calls(&mut Vec::new())?;
        Ok(r != Some(0))
    }

    pub fn host(&mut self) -> &mut HostState {
        self.inst.host()
    }

    pub fn instance(&mut self) -> &mut dyn Instance {
        self.inst.as_mut()
    }

    /// Runs `f` recording every callback it makes (only to script the harness; never timed).
    pub fn traced<T>(&mut self, f: impl FnOnce(&mut Vm) -> T) -> (T, Vec<TracedCall>) {
        self.trace = Some(Vec::new());
        let r = f(self);
        (r, self.trace.take().unwrap_or_default())
    }

    /// True once a callback failed; the VM must then be discarded (as Envoy does).
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    fn call(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, VmError> {
        if let Some(why) = &self.broken {
            return Err(VmError::Broken(why.clone()));
        }
        let profiling = self.inst.host().profile.is_some();
        let start = profiling.then(std::time::Instant::now);
        // Host calls made by a context's callback belong to that context (the allocator,
        // `_initialize` and `_start` take none).
        if let (Some(ctx), false) = (
            args.first(),
            matches!(
                cb,
                Callback::MemoryAllocate | Callback::Initialize | Callback::Start
            ),
        ) {
            self.inst.host().effective_context = *ctx as u32;
        }
        let r = self.inst.call(cb, args).map_err(|e| {
            let said = self.inst.host().guest_message.take();
            let e = match said {
                Some(said) => VmError::Said { error: e, said },
                None => VmError::Call(e),
            };
            self.broken = Some(e.to_string());
            e
        });
        if r.is_ok() && self.inst.host().guest_message.is_some() {
            // A critical log that did not end in a trap explains nothing later.
            self.inst.host().guest_message = None;
        }
        if let (Some(start), Some(p)) = (start, self.inst.host().profile.as_mut()) {
            p.callbacks += 1;
            p.callback_ns += start.elapsed().as_nanos() as u64;
        }
        if self.trace.is_some() {
            let stream = &self.inst.host().stream;
            let call = TracedCall {
                cb,
                ret: r.as_ref().ok().copied().flatten(),
                local_reply: stream.local_reply.clone(),
                closed: stream.closed,
            };
            self.trace.get_or_insert_with(Vec::new).push(call);
        }
        r
    }

    fn new_context(&mut self) -> Result<u64, VmError> {
        let ctx = self.next_ctx as u64;
        self.next_ctx = self.next_ctx.wrapping_add(1).max(2);
        self.call(Callback::OnContextCreate, &[ctx, self.root as u64])?;
        Ok(ctx)
    }

    /// Calls made while the stream ends are answered before `proxy_on_delete`, while their
    /// context still exists, and belong to the stream's outcome.
    fn end_context(&mut self, ctx: u64, calls: &mut Vec<OutboundCall>) -> Result<(), VmError> {
        self.call(Callback::OnLog, &[ctx])?;
        self.call(Callback::OnDone, &[ctx])?;
        self.answer_calls(calls)?;
        self.call(Callback::OnDelete, &[ctx])?;
        Ok(())
    }

    fn replied(&mut self) -> bool {
        self.inst.host().stream.local_reply.is_some()
    }

    /// A stream paused while a call was out must have been resumed by its answer (or
    /// replied to), else a proxy would hold it until its timeout.
    fn resumed_after_call(&mut self, cb: Callback, stream: usize) -> Result<(), VmError> {
        if self.host().stream.continued[stream] {
            return Ok(());
        }
        Err(VmError::Flow(format!(
            "{} paused the stream for an HTTP call and did not resume it \
             (proxy_continue_stream) or reply when the answer came",
            cb.spec().name
        )))
    }

    /// Answers every HTTP call in flight from the in-suite upstream, in order, calling
    /// `proxy_on_http_call_response` on the context that made each; calls made from a
    /// response are answered too, up to [`MAX_CALLS_PER_STEP`]. Returns how many it answered.
    fn answer_calls(&mut self, made: &mut Vec<OutboundCall>) -> Result<usize, VmError> {
        let mut answered = 0;
        while let Some((token, ctx, call)) = self.host().http_calls.pending.pop_front() {
            if made.len() >= MAX_CALLS_PER_STEP {
                return Err(VmError::Flow(format!(
                    "more than {MAX_CALLS_PER_STEP} HTTP calls out in one request or tick: \
                     the filter keeps calling out from its own call responses"
                )));
            }
            let h = self.host();
            let response = h.upstream.response.clone();
            let sizes = [
                response.headers.len(),
                response.body.len(),
                response.trailers.len(),
            ];
            h.http_calls.response = Some(response);
            made.push(call);
            answered += 1;
            let [headers, body, trailers] = sizes.map(|n| n as u64);
            let args = [ctx as u64, token as u64, headers, body, trailers];
            let r = self.call(Callback::OnHttpCallResponse, &args);
            self.host().http_calls.response = None;
            r?;
        }
        Ok(answered)
    }

    /// One timer tick: the fixture clock moves on by the tick period, then `proxy_on_tick`
    /// on the root context, then the answers to any calls it made.
    pub fn tick(&mut self) -> Result<TickOutcome, VmError> {
        let period = self.host().tick_period_ms;
        if period == 0 {
            return Err(VmError::Flow(
                "the module set no tick period (proxy_set_tick_period_milliseconds)".into(),
            ));
        }
        let h = self.host();
        if let Clock::Fixed(ns) = h.clock {
            h.clock = Clock::Fixed(ns.wrapping_add(u64::from(period) * 1_000_000));
        }
        h.stream = StreamState::default();
        self.call(Callback::OnTick, &[self.root as u64])?;
        let mut out = TickOutcome::default();
        self.answer_calls(&mut out.calls)?;
        self.host().stream = StreamState::default();
        Ok(out)
    }

    /// Headers then body chunks of one direction. Returns what was forwarded, or `None`
    /// once the filter sent a local reply.
    #[allow(clippy::too_many_arguments)]
    fn deliver(
        &mut self,
        ctx: u64,
        msg: &Message,
        map: usize,
        buf: usize,
        on_headers: Callback,
        on_body: Callback,
        calls: &mut Vec<OutboundCall>,
    ) -> Result<Option<Vec<u8>>, VmError> {
        self.host().stream.maps[map] = msg.headers.clone();
        let no_body = msg.body.is_empty();
        let n = msg.headers.len() as u64;
        let action = self.call(on_headers, &[ctx, n, no_body as u64])?;
        let answered = self.answer_calls(calls)?;
        if self.replied() {
            return Ok(None);
        }
        // Paused to wait for a call's answer: the answer must resume the stream (or reply),
        // else a proxy would hold the request until its timeout.
        if answered > 0 && headers_paused(action) {
            self.resumed_after_call(on_headers, map / 2)?;
        }
        let mut forwarded = Vec::new();
        if no_body {
            return Ok(Some(forwarded));
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
            self.host().stream.buffers[buf].extend_from_slice(chunk);
            let len = self.host().stream.buffers[buf].len() as u64;
            let action = self.call(on_body, &[ctx, len, eos as u64])?;
            let answered = self.answer_calls(calls)?;
            if self.replied() {
                return Ok(None);
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
        Ok(Some(forwarded))
    }

    /// Drives one HTTP request/response through the filter.
    pub fn http(&mut self, ex: &HttpExchange) -> Result<HttpOutcome, VmError> {
        self.host().stream = StreamState::default();
        let ctx = self.new_context()?;
        let mut out = HttpOutcome::default();
        let mut calls = Vec::new();
        let req = self.deliver(
            ctx,
            &ex.request,
            0,
            0,
            Callback::OnRequestHeaders,
            Callback::OnRequestBody,
            &mut calls,
        )?;
        if let Some(body) = req {
            out.request_body = body;
            if let Some(body) = self.deliver(
                ctx,
                &ex.response,
                2,
                1,
                Callback::OnResponseHeaders,
                Callback::OnResponseBody,
                &mut calls,
            )? {
                out.response_body = body;
            }
        }
        self.end_context(ctx, &mut calls)?;
        out.calls = calls;
        let s = std::mem::take(&mut self.host().stream);
        let [req_h, _, resp_h, _] = s.maps;
        out.request_headers = req_h;
        out.response_headers = resp_h;
        out.local_reply = s.local_reply;
        if out.local_reply.is_some() {
            // Nothing reached the upstream, and the client got the local reply instead.
            out.response_headers.clear();
            out.response_body.clear();
        }
        Ok(out)
    }

    /// Drives one TCP connection through a network filter.
    pub fn tcp(&mut self, conn: &TcpConnection) -> Result<TcpOutcome, VmError> {
        self.host().stream = StreamState::default();
        let ctx = self.new_context()?;
        self.call(Callback::OnNewConnection, &[ctx])?;
        let mut out = TcpOutcome::default();
        self.answer_calls(&mut out.calls)?;
        for ev in &conn.events {
            if self.host().stream.closed[2] || self.host().stream.closed[3] {
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
            self.host().stream.buffers[buf].extend_from_slice(data);
            let len = self.host().stream.buffers[buf].len() as u64;
            let action = self.call(cb, &[ctx, len, eos as u64])?;
            self.answer_calls(&mut out.calls)?;
            let closed = self.host().stream.closed[2] || self.host().stream.closed[3];
            if !closed && action.unwrap_or(ACTION_CONTINUE) == ACTION_CONTINUE {
                let data = std::mem::take(&mut self.host().stream.buffers[buf]);
                if buf == 2 {
                    out.downstream_forwarded.extend_from_slice(&data);
                } else {
                    out.upstream_forwarded.extend_from_slice(&data);
                }
            }
        }
        out.closed = self.host().stream.closed[2] || self.host().stream.closed[3];
        self.call(Callback::OnDownstreamConnectionClose, &[ctx, PEER_LOCAL])?;
        self.call(Callback::OnUpstreamConnectionClose, &[ctx, PEER_LOCAL])?;
        self.end_context(ctx, &mut out.calls)?;
        self.host().stream = StreamState::default();
        Ok(out)
    }
}
