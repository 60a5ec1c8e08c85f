//! Every host function a module may import (the proxy-wasm ABI and the WASI subset), as one
//! list the engine adapters register and the module checks consult.

use std::sync::LazyLock;
use std::time::Instant;

use filterbench_abi::{IMPORTS, ImportId, Kind};

use super::abi::{self, GuestMemory, HostError};
use super::state::Profile;
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
    // The pre-preview-1 module name, which AssemblyScript's runtimes import `proc_exit` from
    // (same signature and meaning).
    let unstable = wasi::WASI_FUNCTIONS
        .iter()
        .filter(|(f, ..)| wasi::UNSTABLE_ALIASES.contains(f))
        .map(|(f, name, params, results)| HostFunction {
            module: wasi::MODULE_UNSTABLE,
            name,
            params,
            results: *results,
            call: HostCall::Wasi(*f),
        });
    proxy.chain(wasi).chain(unstable).collect()
});

pub fn find(module: &str, name: &str) -> Option<&'static HostFunction> {
    HOST_FUNCTIONS
        .iter()
        .find(|f| f.module == module && f.name == name)
}

fn dispatch(f: HostCall, m: &mut dyn GuestMemory, args: &[u64]) -> Result<u32, HostError> {
    match f {
        HostCall::Proxy(id) => abi::dispatch(id, m, args),
        HostCall::Wasi(w) => wasi::dispatch(w, m, args),
    }
}

impl HostCall {
    pub fn name(self) -> &'static str {
        match self {
            HostCall::Proxy(id) => id.spec().name,
            HostCall::Wasi(w) => wasi::WASI_FUNCTIONS
                .iter()
                .find(|(f, ..)| *f == w)
                .map_or("wasi", |(_, name, ..)| name),
        }
    }
}

/// Runs a host function with the guest's arguments (one `u64` per parameter). Every engine
/// and the native arm come through here, so this is where profiling counts.
pub fn call(f: HostCall, m: &mut dyn GuestMemory, args: &[u64]) -> Result<u32, HostError> {
    let h = m.host();
    h.call_bytes = 0;
    if h.profile.is_none() {
        return dispatch(f, m, args);
    }
    let start = Instant::now();
    let mut c = Counting {
        inner: m,
        tally: Profile::default(),
    };
    let r = dispatch(f, &mut c, args);
    let elapsed = start.elapsed().as_nanos() as u64;
    let Counting { inner, tally } = c;
    let p = inner.host().profile.as_mut().expect("profiling is on");
    let e = p.calls.entry(f.name().to_string()).or_default();
    e.0 += 1;
    // Time in the guest allocator is guest time, not host time.
    e.1 += elapsed.saturating_sub(tally.guest_alloc_ns);
    p.bytes_from_guest += tally.bytes_from_guest;
    p.bytes_to_guest += tally.bytes_to_guest;
    p.guest_allocs += tally.guest_allocs;
    p.guest_alloc_bytes += tally.guest_alloc_bytes;
    p.guest_alloc_ns += tally.guest_alloc_ns;
    r
}

/// Counts what crosses the boundary during one host call.
struct Counting<'a> {
    inner: &'a mut dyn GuestMemory,
    tally: Profile,
}

impl GuestMemory for Counting<'_> {
    fn ptr_size(&self) -> usize {
        self.inner.ptr_size()
    }
    fn read(&mut self, ptr: u64, len: u64) -> Result<Vec<u8>, HostError> {
        self.tally.bytes_from_guest += len;
        self.inner.read(ptr, len)
    }
    fn write(&mut self, ptr: u64, data: &[u8]) -> Result<(), HostError> {
        self.tally.bytes_to_guest += data.len() as u64;
        self.inner.write(ptr, data)
    }
    fn alloc(&mut self, size: u64) -> Result<u64, HostError> {
        let t = Instant::now();
        let r = self.inner.alloc(size);
        self.tally.guest_alloc_ns += t.elapsed().as_nanos() as u64;
        self.tally.guest_allocs += 1;
        self.tally.guest_alloc_bytes += size;
        r
    }
    fn host(&mut self) -> &mut crate::host::HostState {
        self.inner.host()
    }
}
