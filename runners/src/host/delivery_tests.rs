//! How the VM driver delivers bodies: the (length, end_of_stream) of every body callback, seen
//! by a module that records its calls and does nothing else.

use std::sync::{Arc, Mutex};

use super::vm::{BodyEnd, HttpExchange, Message};
use super::{Callback, Clock, HostState, SharedData, Vm};
use crate::engines::{CallError, EngineError, Instance, LoadedModule};

type Calls = Arc<Mutex<Vec<(Callback, Vec<u64>)>>>;

/// A module exporting every callback, each continuing; it records what it was called with.
#[derive(Default)]
struct Recorder(Calls);

struct Recording {
    host: HostState,
    calls: Calls,
}

impl LoadedModule for Recorder {
    fn instantiate(&self, host: HostState) -> Result<Box<dyn Instance>, EngineError> {
        Ok(Box::new(Recording {
            host,
            calls: self.0.clone(),
        }))
    }
}

impl Instance for Recording {
    fn call(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, CallError> {
        self.calls.lock().unwrap().push((cb, args.to_vec()));
        // 1: true for the VM's and configuration's callbacks, Continue (0) for the stream's.
        let stream = matches!(
            cb,
            Callback::OnRequestHeaders
                | Callback::OnRequestBody
                | Callback::OnResponseHeaders
                | Callback::OnResponseBody
        );
        Ok(Some(u64::from(!stream)))
    }
    fn host(&mut self) -> &mut HostState {
        &mut self.host
    }
    fn memory_bytes(&mut self) -> Option<u64> {
        None
    }
}

/// The (length, end_of_stream) of each body callback of `cb` for one exchange.
pub(crate) fn body_calls(ex: &HttpExchange, cb: Callback) -> Vec<(u64, bool)> {
    let rec = Recorder::default();
    let host = HostState::new(None, Clock::Fixed(0), SharedData::new());
    let mut vm = Vm::start(&rec, host).unwrap();
    rec.0.lock().unwrap().clear();
    vm.http(ex).unwrap();
    let calls = rec.0.lock().unwrap();
    calls
        .iter()
        .filter(|(c, _)| *c == cb)
        .map(|(_, a)| (a[1], a[2] != 0))
        .collect()
}

fn exchange(body: &[u8], chunk_size: usize, end: BodyEnd) -> HttpExchange {
    let msg = Message {
        headers: vec![(b"k".to_vec(), b"v".to_vec())],
        body: body.to_vec(),
        chunk_size,
        end,
    };
    HttpExchange {
        request: msg.clone(),
        response: msg,
    }
}

#[test]
fn a_body_ends_on_its_last_chunk_by_default() {
    let ex = exchange(b"ok", 0, BodyEnd::default());
    for cb in [Callback::OnRequestBody, Callback::OnResponseBody] {
        assert_eq!(body_calls(&ex, cb), [(2, true)], "{cb:?}");
    }
}

#[test]
fn envoys_http1_shape_ends_a_body_with_an_empty_chunk() {
    // Measured in Envoy 1.40 over HTTP/1.1: (2, false) then (0, true), both directions.
    let ex = exchange(b"ok", 0, BodyEnd::EmptyChunk);
    for cb in [Callback::OnRequestBody, Callback::OnResponseBody] {
        assert_eq!(body_calls(&ex, cb), [(2, false), (0, true)], "{cb:?}");
    }
    let ex = exchange(b"abc", 2, BodyEnd::EmptyChunk);
    let got = body_calls(&ex, Callback::OnResponseBody);
    assert_eq!(got, [(2, false), (1, false), (0, true)]);
}

#[test]
fn an_empty_body_ends_on_the_headers_in_either_shape() {
    for end in [BodyEnd::LastChunk, BodyEnd::EmptyChunk] {
        let ex = exchange(b"", 0, end);
        assert_eq!(body_calls(&ex, Callback::OnResponseBody), [], "{end:?}");
    }
}
