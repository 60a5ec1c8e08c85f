//! One "VM" per Envoy worker thread: a private copy of the filter's native library (its own
//! SDK statics, as separate wasm VMs have their own memory) with its root context started and
//! configured, and the streams it is serving. Callbacks are called by address with
//! integer-class arguments, as the in-process native arm does.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use filterbench_abi::{NATIVE_SHIM_VERSION, NativeHostCall};
use libloading::Library;

use crate::abi::EnvoyFilter;

type Fn0 = unsafe extern "C" fn() -> usize;
type Fn1 = unsafe extern "C" fn(usize) -> usize;
type Fn2 = unsafe extern "C" fn(usize, usize) -> usize;
type Fn3 = unsafe extern "C" fn(usize, usize, usize) -> usize;

/// The proxy-wasm callbacks this host drives, by export name.
#[derive(Clone, Copy)]
pub enum Cb {
    ContextCreate,
    VmStart,
    Configure,
    RequestHeaders,
    RequestBody,
    RequestTrailers,
    ResponseHeaders,
    ResponseBody,
    ResponseTrailers,
    Log,
    Done,
    Delete,
}

const NAMES: [&str; 12] = [
    "proxy_on_context_create",
    "proxy_on_vm_start",
    "proxy_on_configure",
    "proxy_on_request_headers",
    "proxy_on_request_body",
    "proxy_on_request_trailers",
    "proxy_on_response_headers",
    "proxy_on_response_body",
    "proxy_on_response_trailers",
    "proxy_on_log",
    "proxy_on_done",
    "proxy_on_delete",
];

pub const ROOT: u32 = 1;

/// A filter library loaded for one worker, with per-VM host state.
pub struct Vm {
    callbacks: [Option<usize>; 12],
    alloc: usize,
    initializer: Option<usize>,
    next_context: Cell<u32>,
    // Host state is behind cells: host calls reach the VM while one of its callbacks runs.
    /// Live streams: context id → Envoy's filter object.
    pub streams: RefCell<HashMap<u32, EnvoyFilter>>,
    pub plugin_config: Vec<u8>,
    pub plugin_name: String,
    pub properties: RefCell<HashMap<Vec<u8>, Vec<u8>>>,
    /// Metrics by id - 1: (name, value).
    pub metrics: RefCell<Vec<(Vec<u8>, i64)>>,
    // Last: function addresses above point into it.
    _lib: Library,
}

impl Vm {
    /// Loads a private copy of `bytes` (the library at `path`) and installs `host`; the
    /// caller then runs [`Vm::initialize`] with host calls routed to this VM.
    pub fn load(
        path: &Path,
        bytes: &[u8],
        plugin_name: &str,
        plugin_config: &[u8],
        host: NativeHostCall,
    ) -> Result<Box<Vm>, String> {
        let err = |m: String| format!("{}: {m}", path.display());
        let mut copy = tempfile::Builder::new()
            .prefix("filterbench-envoy-module-")
            .suffix(".so")
            .tempfile()
            .map_err(|e| err(format!("cannot make a private copy: {e}")))?;
        copy.write_all(bytes)
            .map_err(|e| err(format!("cannot make a private copy: {e}")))?;
        // SAFETY: loading runs the library's initialisers; filters are our own builds.
        let lib = unsafe { Library::new(copy.path()) }.map_err(|e| err(e.to_string()))?;
        drop(copy);
        let sym = |name: &str| -> Option<usize> {
            // SAFETY: only the address is taken; calls go through typed transmutes by arity.
            unsafe { lib.get::<unsafe extern "C" fn()>(name.as_bytes()) }
                .ok()
                .map(|s| *s as usize)
        };
        if sym("proxy_abi_version_0_2_1").is_none() {
            return Err(err("not a proxy-wasm 0.2.1 filter (no ABI marker)".into()));
        }
        let init = sym("filterbench_native_init")
            .ok_or_else(|| err("not linked with filterbench-native-shim".into()))?;
        // SAFETY: the shim defines filterbench_native_init with this signature.
        let init: unsafe extern "C" fn(NativeHostCall) -> u32 =
            unsafe { std::mem::transmute::<usize, _>(init) };
        let version = unsafe { init(host) };
        if version != NATIVE_SHIM_VERSION {
            return Err(err(format!(
                "native shim protocol {version}, this module speaks {NATIVE_SHIM_VERSION}"
            )));
        }
        let alloc = sym("proxy_on_memory_allocate")
            .or_else(|| sym("malloc"))
            .ok_or_else(|| err("no proxy_on_memory_allocate".into()))?;
        let initializer = sym("_initialize").or_else(|| sym("_start"));
        Ok(Box::new(Vm {
            callbacks: NAMES.map(sym),
            alloc,
            initializer,
            next_context: Cell::new(ROOT + 1),
            streams: RefCell::default(),
            plugin_config: plugin_config.to_vec(),
            plugin_name: plugin_name.to_string(),
            properties: RefCell::default(),
            metrics: RefCell::default(),
            _lib: lib,
        }))
    }

    /// Runs the library's initialiser, then creates, starts and configures the root context
    /// (Envoy's order); false if the filter refused its configuration.
    pub fn initialize(&self) -> bool {
        if let Some(f) = self.initializer {
            // SAFETY: the SDK's (or C runtime's) initialiser takes no arguments.
            unsafe { std::mem::transmute::<usize, Fn0>(f)() };
        }
        self.call(Cb::ContextCreate, &[ROOT as usize, 0]);
        let ok = |r: Option<usize>| r.is_none_or(|r| r & 0xff != 0);
        let vm_ok = ok(self.call(Cb::VmStart, &[ROOT as usize, 0]));
        let len = self.plugin_config.len();
        vm_ok && ok(self.call(Cb::Configure, &[ROOT as usize, len]))
    }

    /// Calls a callback with integer-class arguments; None if the filter does not export it.
    pub fn call(&self, cb: Cb, args: &[usize]) -> Option<usize> {
        let f = self.callbacks[cb as usize]?;
        // SAFETY: `f` is the library's export of that proxy-wasm callback, whose parameters
        // are all integer-class (u32, usize, bool); extra bits are ignored by the callee.
        Some(unsafe {
            match args.len() {
                1 => std::mem::transmute::<usize, Fn1>(f)(args[0]),
                2 => std::mem::transmute::<usize, Fn2>(f)(args[0], args[1]),
                3 => std::mem::transmute::<usize, Fn3>(f)(args[0], args[1], args[2]),
                n => unreachable!("no callback with {n} parameters is driven"),
            }
        })
    }

    /// Memory for the filter, from its own allocator (it frees what the host returns).
    pub fn alloc(&self, n: usize) -> *mut u8 {
        // SAFETY: `alloc` is the library's proxy_on_memory_allocate(size) -> pointer.
        unsafe { std::mem::transmute::<usize, Fn1>(self.alloc)(n) as *mut u8 }
    }

    pub fn new_context(&self) -> u32 {
        let id = self.next_context.get();
        self.next_context.set(id + 1);
        id
    }
}
