//! The `harness` pseudo-arm: a module that exports nothing, so the VM driver runs the whole
//! callback sequence with every callback returning at once. Its time is the harness's own
//! cost per request (header copies, buffering, outcome), which reports subtract.

use super::{CallError, EngineError, Instance, LoadedModule};
use crate::host::{Callback, HostState};

pub struct NullModule;

impl LoadedModule for NullModule {
    fn instantiate(&self, host: HostState) -> Result<Box<dyn Instance>, EngineError> {
        Ok(Box::new(NullInstance { host }))
    }
}

struct NullInstance {
    host: HostState,
}

impl Instance for NullInstance {
    fn call(&mut self, _: Callback, _: &[u64]) -> Result<Option<u64>, CallError> {
        Ok(None)
    }
    fn host(&mut self) -> &mut HostState {
        &mut self.host
    }
    fn memory_bytes(&mut self) -> u64 {
        0
    }
}
