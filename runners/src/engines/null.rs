//! The `harness` pseudo-arm: a module whose callbacks do nothing, so its time is the harness's
//! own cost per request (header copies, buffering, outcome, the timing loop), which reports
//! subtract.
//!
//! Unscripted, it exports nothing and the VM driver runs the whole request/response path. With
//! a script (the traced callbacks of a real filter's request) it replays what that filter
//! returned and where it stopped the stream — a local reply, a closed connection — so the
//! harness walks the same path as the scenario it is subtracted from, never work the filter
//! skips.

use std::sync::Arc;

use super::{CallError, EngineError, Instance, LoadedModule};
use crate::host::vm::TracedCall;
use crate::host::{Callback, HostState};

#[derive(Default)]
pub struct NullModule {
    script: Arc<[TracedCall]>,
    /// The timer period the mirrored filter set, so a tick scenario's harness ticks too.
    tick_period_ms: u32,
}

impl NullModule {
    /// A harness replaying the callbacks of one traced request on every request.
    pub fn scripted(script: Vec<TracedCall>) -> NullModule {
        NullModule {
            script: script.into(),
            tick_period_ms: 0,
        }
    }

    /// The same, with the timer period of the filter it mirrors.
    pub fn ticking(mut self, period_ms: u32) -> NullModule {
        self.tick_period_ms = period_ms;
        self
    }
}

impl LoadedModule for NullModule {
    fn instantiate(&self, mut host: HostState) -> Result<Box<dyn Instance>, EngineError> {
        host.tick_period_ms = self.tick_period_ms;
        Ok(Box::new(NullInstance {
            host,
            script: self.script.clone(),
            cursor: None,
        }))
    }
}

struct NullInstance {
    host: HostState,
    script: Arc<[TracedCall]>,
    /// Position in the script within the current stream; `None` outside streams (VM start).
    cursor: Option<usize>,
}

impl Instance for NullInstance {
    #[inline(always)] // into `call_in`, so that its result stays in registers
    fn call(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, CallError> {
        if self.script.is_empty() {
            return Ok(None);
        }
        // A context with a parent is a new stream: the script starts over.
        if cb == Callback::OnContextCreate && args.get(1).is_some_and(|p| *p != 0) {
            self.cursor = Some(0);
        }
        let Some(i) = self.cursor else {
            return Ok(None);
        };
        let Some(step) = self.script.get(i).filter(|s| s.cb == cb) else {
            return Ok(None);
        };
        self.cursor = Some(i + 1);
        let stream = &mut self.host.stream;
        // Most steps change nothing: only a reply or a close is copied in.
        if stream.local_reply.is_none() && step.local_reply.is_some() {
            stream.local_reply.clone_from(&step.local_reply);
        }
        if step.closed != [false; 4] {
            for (now, then) in stream.closed.iter_mut().zip(step.closed) {
                *now |= then;
            }
        }
        Ok(step.ret)
    }
    #[inline]
    fn host(&mut self) -> &mut HostState {
        &mut self.host
    }
    fn memory_bytes(&mut self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::vm::Message;
    use crate::host::{Clock, HttpExchange, LocalReply, SharedData, Vm};

    fn exchange() -> HttpExchange {
        let msg = |k: &str| Message {
            headers: vec![(k.as_bytes().to_vec(), b"v".to_vec())],
            body: b"body".to_vec(),
            ..Default::default()
        };
        HttpExchange {
            request: msg("request"),
            response: msg("response"),
        }
    }

    fn traced(module: &NullModule) -> (Option<LocalReply>, Vec<Callback>) {
        let host = HostState::new(None, Clock::Fixed(0), SharedData::new());
        let mut vm = Vm::start(module, host).unwrap();
        vm.http(&exchange()).unwrap();
        let (out, trace) = vm.traced(|vm| vm.http(&exchange()));
        (
            out.unwrap().local_reply,
            trace.iter().map(|c| c.cb).collect(),
        )
    }

    #[test]
    fn unscripted_harness_runs_the_whole_exchange() {
        let (reply, calls) = traced(&NullModule::default());
        assert_eq!(reply, None);
        assert!(calls.contains(&Callback::OnResponseBody), "{calls:?}");
    }

    #[test]
    fn scripted_harness_stops_where_the_filter_replied() {
        // A filter that replies locally on the request headers: the script of its request.
        let (_, full) = traced(&NullModule::default());
        let reply = LocalReply {
            status: 401,
            details: Vec::new(),
            body: Vec::new(),
            headers: Vec::new(),
            grpc_status: -1,
        };
        let script: Vec<TracedCall> = full
            .iter()
            .filter(|cb| {
                !matches!(
                    cb,
                    Callback::OnRequestBody
                        | Callback::OnResponseHeaders
                        | Callback::OnResponseBody
                )
            })
            .map(|&cb| TracedCall {
                cb,
                ret: Some(0),
                local_reply: (cb != Callback::OnContextCreate).then(|| reply.clone()),
                closed: [false; 4],
            })
            .collect();
        let (got, calls) = traced(&NullModule::scripted(script));
        assert_eq!(got, Some(reply));
        assert!(calls.contains(&Callback::OnRequestHeaders), "{calls:?}");
        assert!(!calls.contains(&Callback::OnRequestBody), "{calls:?}");
        assert!(!calls.contains(&Callback::OnResponseHeaders), "{calls:?}");
    }
}
