//! The one proxy-wasm host: ABI, state, callbacks, module checks and the VM driver.

pub mod abi;
pub mod bounds;
pub mod callbacks;
pub mod functions;
pub mod http_call;
pub mod module_check;
pub mod state;
pub mod vm;
pub mod wasi;

#[cfg(test)]
pub(crate) mod delivery_tests;

pub use callbacks::Callback;
pub use state::{Clock, HeaderMap, HostState, LocalReply, SharedData};
pub use vm::{
    BodyEnd, HttpExchange, HttpOutcome, Message, TcpConnection, TcpEvent, TcpOutcome, Vm, VmError,
};
