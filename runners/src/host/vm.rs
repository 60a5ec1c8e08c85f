//! The VM driver: the proxy-wasm callback sequence for VM start, configuration, an HTTP
//! exchange and a TCP connection, written once over [`Instance`], so every arm is driven
//! through exactly the same calls.

use serde::{Deserialize, Serialize};

use super::callbacks::Callback;
use super::http_call::{MAX_CALLS_PER_STEP, OutboundCall};
use super::state::{Clock, HeaderMap, HostState, LocalReply};
use crate::engines::{CallError, EngineError, Failed, Instance, LoadedModule};

mod exchange;

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

    /// One callback. Inlined: its result then never goes through memory on the way to the
    /// caller's branch, which matters for every callback of every timed request.
    #[inline]
    fn call(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, VmError> {
        if self.broken.is_some() || self.trace.is_some() {
            return self.call_slow(cb, args);
        }
        self.inst
            .call_in(cb, args, Self::context_of(cb, args))
            .map_err(|f| self.failed(*f))
    }

    /// Host calls made by a context's callback belong to that context (the allocator,
    /// `_initialize` and `_start` take none).
    fn context_of(cb: Callback, args: &[u64]) -> Option<u32> {
        match cb {
            Callback::MemoryAllocate | Callback::Initialize | Callback::Start => None,
            _ => args.first().map(|c| *c as u32),
        }
    }

    /// [`Vm::call`] on a broken VM (refused) or while tracing (recorded).
    #[inline(never)]
    fn call_slow(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, VmError> {
        if let Some(why) = &self.broken {
            return Err(VmError::Broken(why.clone()));
        }
        let r = self.inst.call_in(cb, args, Self::context_of(cb, args));
        self.record(cb, r.as_ref().ok().copied().flatten());
        r.map_err(|f| self.failed(*f))
    }

    /// A callback's failure, with what the module said before it; the VM is broken from now.
    #[cold]
    fn failed(&mut self, Failed { error, said }: Failed) -> VmError {
        let e = match said {
            Some(said) => VmError::Said { error, said },
            None => VmError::Call(error),
        };
        self.broken = Some(e.to_string());
        e
    }

    /// Records a callback for the harness's script (see [`Vm::traced`]).
    fn record(&mut self, cb: Callback, ret: Option<u64>) {
        let stream = &self.inst.host().stream;
        let call = TracedCall {
            cb,
            ret,
            local_reply: stream.local_reply.clone(),
            closed: stream.closed,
        };
        self.trace.get_or_insert_with(Vec::new).push(call);
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

    /// After a stream callback: its calls answered (how many), and whether the stream has
    /// had a local reply — with one look at the host when no call is in flight.
    #[inline]
    fn answer_then_replied(
        &mut self,
        calls: &mut Vec<OutboundCall>,
    ) -> Result<(usize, bool), VmError> {
        let h = self.host();
        if h.http_calls.pending.is_empty() {
            return Ok((0, h.stream.local_reply.is_some()));
        }
        let answered = self.answer_pending(calls)?;
        Ok((answered, self.host().stream.local_reply.is_some()))
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
    #[inline]
    fn answer_calls(&mut self, made: &mut Vec<OutboundCall>) -> Result<usize, VmError> {
        // After every callback of every request: most have no call in flight.
        if self.host().http_calls.pending.is_empty() {
            return Ok(0);
        }
        self.answer_pending(made)
    }

    /// [`Vm::answer_calls`] once there is a call in flight.
    #[inline(never)]
    fn answer_pending(&mut self, made: &mut Vec<OutboundCall>) -> Result<usize, VmError> {
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
        h.stream.reset();
        self.call(Callback::OnTick, &[self.root as u64])?;
        let mut out = TickOutcome::default();
        self.answer_calls(&mut out.calls)?;
        self.host().stream.reset();
        Ok(out)
    }
}
