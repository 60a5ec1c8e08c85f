//! Every host function a module may import (the proxy-wasm ABI and the WASI subset), as one
//! list the engine adapters register and the module checks consult.

use std::sync::LazyLock;

use filterbench_abi::{IMPORTS, ImportId, Kind};

use super::abi::{self, GuestMemory, HostError};
use super::wasi::{self, WasiFn};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostCall {
    Proxy(ImportId),
    Wasi(WasiFn),
}

#[derive(Debug)]
pub struct HostFunction {
    pub module: &'static str,
    pub name: &'static str,
    pub params: &'static [Kind],
    /// 0 or 1 (an `i32` status or errno).
    pub results: usize,
    pub call: HostCall,
}

pub static HOST_FUNCTIONS: LazyLock<Vec<HostFunction>> = LazyLock::new(|| {
    let proxy = IMPORTS.iter().enumerate().map(|(i, spec)| HostFunction {
        module: "env",
        name: spec.name,
        params: spec.params,
        results: 1,
        call: HostCall::Proxy(ImportId::from_index(i as u32).expect("index within IMPORTS")),
    });
    let wasi = wasi::WASI_FUNCTIONS
        .iter()
        .map(|(f, name, params, results)| HostFunction {
            module: wasi::MODULE,
            name,
            params,
            results: *results,
            call: HostCall::Wasi(*f),
        });
    proxy.chain(wasi).collect()
});

pub fn find(module: &str, name: &str) -> Option<&'static HostFunction> {
    HOST_FUNCTIONS
        .iter()
        .find(|f| f.module == module && f.name == name)
}

/// Runs a host function with the guest's arguments (one `u64` per parameter).
pub fn call(f: HostCall, m: &mut dyn GuestMemory, args: &[u64]) -> Result<u32, HostError> {
    match f {
        HostCall::Proxy(id) => abi::dispatch(id, m, args),
        HostCall::Wasi(w) => wasi::dispatch(w, m, args),
    }
}
