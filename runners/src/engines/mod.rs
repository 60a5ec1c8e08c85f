//! Engines behind one small trait, and the one registry of arms (native + every engine)
//! that the CLI, the fixture tests and the benches all enumerate.

use std::path::PathBuf;
use std::time::Duration;

use crate::host::Callback;
use crate::host::HostState;
use crate::host::abi::HostError;
use crate::host::bounds::HostBounds;
use crate::host::module_check::ModuleError;

pub mod native;
pub mod null;
pub mod wasmer;
pub mod wasmi;
pub mod wasmtime;

/// The two builds of one filter.
#[derive(Clone, Debug, Default)]
pub struct Artifacts {
    pub wasm: Option<PathBuf>,
    pub native: Option<PathBuf>,
}

/// How a callback that never returns is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuBound {
    /// The engine's cheapest mechanism: wasmtime's epoch deadline, fuel/metering elsewhere.
    Auto,
    /// An operator budget per callback (wasmtime fuel, wasmer metering, wasmi fuel).
    Fuel,
    /// A wall-clock deadline per callback (wasmtime epochs; engines without one use fuel).
    Deadline,
    /// No bound: measures the engine without the bound's own cost. Only for trusted filters.
    Off,
}

/// Bounds every VM runs under, the same meaning on every engine that supports them.
/// Missing fields deserialize to their defaults, so settings saved before a bound existed load.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest linear memory a guest may grow to; growing past it fails (memory.grow = -1).
    pub max_memory_bytes: u64,
    pub cpu: CpuBound,
    /// Operator budget per callback under [`CpuBound::Fuel`].
    pub fuel_per_call: u64,
    /// Wall-clock budget per callback under [`CpuBound::Deadline`].
    pub deadline: Duration,
    /// wasmtime: the pooling instance allocator instead of on-demand allocation.
    pub pooling: bool,
    /// Most elements any one table may grow to; `table.grow` past it fails (-1) and a table
    /// declared larger fails instantiation. Tables are not linear memory, so
    /// `max_memory_bytes` does not cover them.
    pub max_table_elements: u32,
    /// Most bytes one host call may read from guest memory or produce for it (WASI
    /// `random_get`); past it the call traps naming this bound, before the host allocates.
    pub max_host_call_bytes: u64,
    /// Most bytes of log records (`proxy_log`, WASI stdout/stderr) one VM keeps; a capturing
    /// VM that logs past it traps.
    pub max_log_bytes: u64,
    /// Most bytes of shared data and shared-queue contents (keys, values, queue names and
    /// messages) per plugin, across its VMs; a write past it traps.
    pub max_shared_data_bytes: u64,
    /// Most bytes a guest may store in host state: per request the header, body and local
    /// reply bytes it sets; per VM its properties and metric names. A write past it traps.
    pub max_host_state_bytes: u64,
    /// Most nested guest allocations: a host call made from inside the guest allocator may
    /// allocate again only this deep, so a re-entrant allocator cannot overflow the stack.
    pub max_alloc_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory_bytes: 256 << 20,
            cpu: CpuBound::Auto,
            // ~0.7–1.7 s of guest code here, at or under the wasmtime deadline; body-1MiB, the
            // dearest request, takes ~260 ms on wasmi: far above any sane filter callback.
            fuel_per_call: 2_000_000_000,
            deadline: Duration::from_secs(2),
            pooling: false,
            // Far above a real filter's table (a few thousand functions); 8–16 MiB per table.
            max_table_elements: 1 << 20,
            max_host_call_bytes: 16 << 20,
            max_log_bytes: 64 << 20,
            max_shared_data_bytes: 64 << 20,
            max_host_state_bytes: 64 << 20,
            max_alloc_depth: 2,
        }
    }
}

impl Limits {
    /// The host-side bounds a VM enforces (the engine sets them on each instance).
    pub fn host_bounds(&self) -> HostBounds {
        HostBounds {
            max_host_call_bytes: self.max_host_call_bytes,
            max_log_bytes: self.max_log_bytes,
            max_shared_data_bytes: self.max_shared_data_bytes,
            max_host_state_bytes: self.max_host_state_bytes,
            max_alloc_depth: self.max_alloc_depth,
        }
    }

    /// The bounds every wasm arm's flags state, after its CPU and memory bounds.
    pub(crate) fn bounds_flags(&self) -> String {
        format!(
            "tables={} host-call={}MiB logs={}MiB shared={}MiB state={}MiB alloc-depth={}",
            self.max_table_elements,
            self.max_host_call_bytes >> 20,
            self.max_log_bytes >> 20,
            self.max_shared_data_bytes >> 20,
            self.max_host_state_bytes >> 20,
            self.max_alloc_depth
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Module(#[from] ModuleError),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("arm `{arm}` needs a {what} build of the filter, and none was given")]
    NoArtifact { arm: String, what: &'static str },
    #[error("{engine} could not compile the module: {message}")]
    Compile { engine: String, message: String },
    #[error("{engine} could not instantiate the module: {message}")]
    Instantiate { engine: String, message: String },
    #[error("native library {path}: {message}")]
    Native { path: PathBuf, message: String },
    #[error("unknown arm `{0}` (known: {known})", known = arm_names().join(", "))]
    UnknownArm(String),
}

/// A guest callback that did not return normally.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("trap in {callback}: {message}")]
    Trap {
        callback: &'static str,
        message: String,
    },
    #[error("{callback} stopped: it exceeded its CPU bound ({bound})")]
    CpuLimit {
        callback: &'static str,
        bound: String,
    },
}

/// A running VM: callbacks in, host state out.
/// Not `Send`: some engines (wasmer) tie a store to its thread, so each worker thread
/// instantiates its own VM from the shared [`LoadedModule`], as Envoy does per worker.
pub trait Instance {
    /// Calls a callback; `Ok(None)` if the module does not export it.
    fn call(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, CallError>;
    fn host(&mut self) -> &mut HostState;
    /// Current guest linear memory in bytes; None where there is none (the native arm).
    fn memory_bytes(&mut self) -> Option<u64>;

    /// A callback as the VM driver makes it: effective context `ctx` set, the call (timed when
    /// profiling), the module's critical log taken (kept with a failure). Provided, so one
    /// virtual call does it all on every engine; the failure boxed so the result fits in two
    /// registers (one in memory stalled every callback on its reload).
    #[inline]
    fn call_in(
        &mut self,
        cb: Callback,
        args: &[u64],
        ctx: Option<u32>,
    ) -> Result<Option<u64>, Box<Failed>> {
        let host = self.host();
        if let Some(ctx) = ctx {
            host.effective_context = ctx;
        }
        let start = host.profile.is_some().then(std::time::Instant::now);
        let result = self.call(cb, args);
        let host = self.host();
        if let (Some(start), Some(p)) = (start, host.profile.as_mut()) {
            p.callbacks += 1;
            p.callback_ns += start.elapsed().as_nanos() as u64;
        }
        // Taken after every callback: a critical log that did not end in a trap explains
        // nothing later.
        let said = host.guest_message.take();
        result.map_err(|error| Box::new(Failed { error, said }))
    }
}

/// A failed callback and the start of its last critical log (where SDKs report a panic).
#[derive(Debug)]
pub struct Failed {
    pub error: CallError,
    pub said: Option<String>,
}

/// A compiled (or loaded) filter, ready to start VMs from.
pub trait LoadedModule: Send + Sync {
    fn instantiate(&self, host: HostState) -> Result<Box<dyn Instance>, EngineError>;
}

/// One arm: loads a filter's artifact and runs it.
pub trait Engine: Send + Sync {
    fn name(&self) -> &str;
    /// Engine crate and version, e.g. `wasmtime 48.0.8`.
    fn version(&self) -> String;
    /// The options that change what is measured (CPU bound, allocator), for the results.
    fn flags(&self) -> String;
    fn load(&self, artifacts: &Artifacts) -> Result<Box<dyn LoadedModule>, EngineError>;
    /// Whether the engine has a pooling instance allocator ([`Limits::pooling`] turns it on).
    fn has_pooling(&self) -> bool {
        false
    }
}

/// A registry entry: name → constructor.
pub struct EngineEntry {
    pub name: &'static str,
    pub is_native: bool,
    pub make: fn(&Limits) -> Box<dyn Engine>,
}

/// Every arm, in report order. Adding an engine is one file plus one line here.
pub static REGISTRY: &[EngineEntry] = &[
    EngineEntry {
        name: filterbench_results::vocab::arm::NATIVE,
        is_native: true,
        make: native::NativeEngine::make,
    },
    EngineEntry {
        name: filterbench_results::vocab::arm::WASMTIME_CRANELIFT,
        is_native: false,
        make: wasmtime::WasmtimeEngine::cranelift,
    },
    EngineEntry {
        name: filterbench_results::vocab::arm::WASMTIME_WINCH,
        is_native: false,
        make: wasmtime::WasmtimeEngine::winch,
    },
    EngineEntry {
        name: filterbench_results::vocab::arm::WASMER_CRANELIFT,
        is_native: false,
        make: wasmer::WasmerEngine::cranelift,
    },
    EngineEntry {
        name: filterbench_results::vocab::arm::WASMER_SINGLEPASS,
        is_native: false,
        make: wasmer::WasmerEngine::singlepass,
    },
    EngineEntry {
        name: filterbench_results::vocab::arm::WASMI,
        is_native: false,
        make: wasmi::WasmiEngine::make,
    },
];

pub fn arm_names() -> Vec<&'static str> {
    REGISTRY.iter().map(|e| e.name).collect()
}

/// Whether an arm can run a filter: a native arm needs a native build (AssemblyScript
/// filters have none), every other arm a `.wasm`.
pub fn applies(arm: &str, artifacts: &Artifacts) -> bool {
    let native = REGISTRY.iter().any(|e| e.name == arm && e.is_native);
    if native {
        artifacts.native.is_some()
    } else {
        artifacts.wasm.is_some()
    }
}

/// Builds the named arm.
pub fn engine(name: &str, limits: &Limits) -> Result<Box<dyn Engine>, EngineError> {
    REGISTRY
        .iter()
        .find(|e| e.name == name)
        .map(|e| (e.make)(limits))
        .ok_or_else(|| EngineError::UnknownArm(name.to_string()))
}

/// Reads a module and runs the engine-independent checks on it.
pub(crate) fn read_wasm(arm: &str, artifacts: &Artifacts) -> Result<Vec<u8>, EngineError> {
    let path = artifacts
        .wasm
        .as_ref()
        .ok_or_else(|| EngineError::NoArtifact {
            arm: arm.to_string(),
            what: ".wasm",
        })?;
    let bytes = std::fs::read(path).map_err(|source| EngineError::Io {
        path: path.clone(),
        source,
    })?;
    crate::host::module_check::check(&bytes)?;
    Ok(bytes)
}

/// Callbacks resolved once per instance into typed functions (no per-call type checks), for
/// runtimes with wasmtime's API shape (wasmtime, wasmi): `$rt::TypedFunc::call(store, params)`,
/// the function made typed by the adapter's own `typed(func, store)` (wasmtime skips the check
/// there: its load checked every callback's type once). Every callback parameter is an `i32`
/// in wasm32.
macro_rules! typed_callbacks {
    ($rt:ident) => {
        enum TypedCb {
            P0($rt::TypedFunc<(), ()>),
            P1($rt::TypedFunc<i32, ()>),
            P1R($rt::TypedFunc<i32, i32>),
            P2($rt::TypedFunc<(i32, i32), ()>),
            P2R($rt::TypedFunc<(i32, i32), i32>),
            P3($rt::TypedFunc<(i32, i32, i32), ()>),
            P3R($rt::TypedFunc<(i32, i32, i32), i32>),
            P5($rt::TypedFunc<(i32, i32, i32, i32, i32), ()>),
        }

        impl TypedCb {
            fn new<T>(
                f: $rt::Func,
                store: &$rt::Store<T>,
                spec: &crate::host::callbacks::CallbackSpec,
            ) -> Result<TypedCb, $rt::Error> {
                use crate::host::callbacks::Ret;
                Ok(match (spec.params, spec.ret != Ret::None) {
                    (0, false) => TypedCb::P0(typed(f, store)?),
                    (1, false) => TypedCb::P1(typed(f, store)?),
                    (1, true) => TypedCb::P1R(typed(f, store)?),
                    (2, false) => TypedCb::P2(typed(f, store)?),
                    (2, true) => TypedCb::P2R(typed(f, store)?),
                    (3, false) => TypedCb::P3(typed(f, store)?),
                    (3, true) => TypedCb::P3R(typed(f, store)?),
                    (5, false) => TypedCb::P5(typed(f, store)?),
                    (p, r) => unreachable!("no callback has shape ({p}, {r})"),
                })
            }

            /// Calls with `args` (one per parameter); callbacks without a result give 0.
            fn call<T>(&self, s: &mut $rt::Store<T>, args: &[u64]) -> Result<i32, $rt::Error> {
                let a = |i: usize| args[i] as u32 as i32;
                match self {
                    TypedCb::P0(f) => f.call(s, ()).map(|_| 0),
                    TypedCb::P1(f) => f.call(s, a(0)).map(|_| 0),
                    TypedCb::P1R(f) => f.call(s, a(0)),
                    TypedCb::P2(f) => f.call(s, (a(0), a(1))).map(|_| 0),
                    TypedCb::P2R(f) => f.call(s, (a(0), a(1))),
                    TypedCb::P3(f) => f.call(s, (a(0), a(1), a(2))).map(|_| 0),
                    TypedCb::P3R(f) => f.call(s, (a(0), a(1), a(2))),
                    TypedCb::P5(f) => f.call(s, (a(0), a(1), a(2), a(3), a(4))).map(|_| 0),
                }
            }
        }
    };
}
pub(crate) use typed_callbacks;

/// A wasm argument as the host's `u64` (an `i32` zero-extended, as a guest's `u32`).
pub(crate) trait Arg {
    fn arg(self) -> u64;
}
impl Arg for i32 {
    fn arg(self) -> u64 {
        self as u32 as u64
    }
}
impl Arg for i64 {
    fn arg(self) -> u64 {
        self as u64
    }
}

/// Links one host function returning a status as a typed function of the given parameter
/// types, for runtimes with wasmtime's `Linker::func_wrap` (wasmtime, wasmi); the `$link` of
/// [`typed_host_functions`] for them.
macro_rules! wrap_host_fn {
    ($rt:ident, $mem:ident, $err:path; ($linker:ident), $f:expr; $($a:ident: $t:ty),*) => {{
        let call = $f.call;
        $linker
            .func_wrap(
                $f.module,
                $f.name,
                move |mut caller: $rt::Caller<'_, StoreData>, $($a: $t),*| -> Result<i32, $rt::Error> {
                    let args: &[u64] = &[$(crate::engines::Arg::arg($a)),*];
                    let mut mem = $mem { caller: &mut caller };
                    crate::host::functions::call(call, &mut mem, args)
                        .map(|status| status as i32)
                        .map_err(|e| $err(e.to_string()))
                },
            )
            .map(|_| true)
            .map_err(|e| e.to_string())
    }};
}
pub(crate) use wrap_host_fn;

/// `fn link_typed(<params>, f) -> Result<bool, String>`: links host function `f` as a typed
/// function when its signature is one of the proxy-wasm shapes (one status result; 32-bit
/// parameters, or a 32-bit and a 64-bit one), so the runtime calls it without boxing
/// arguments as values; false for the rest, which the adapter links untyped. `$link!((params),
/// f; a: i32, ...)` is the adapter's macro that links one function of a given shape.
macro_rules! typed_host_functions {
    ($link:ident ($($p:ident: $pt:ty),*)) => {
        fn link_typed(
            $($p: $pt,)*
            f: &crate::host::functions::HostFunction,
        ) -> Result<bool, String> {
            if f.results != 1 {
                return Ok(false);
            }
            let wide: Vec<bool> = f
                .params
                .iter()
                .map(|k| matches!(k, filterbench_abi::Kind::U64 | filterbench_abi::Kind::I64))
                .collect();
            match wide.as_slice() {
                [false, true] => return $link!(($($p),*), f; a: i32, b: i64),
                w if w.iter().any(|x| *x) => return Ok(false),
                _ => {}
            }
            match f.params.len() {
                0 => $link!(($($p),*), f;),
                1 => $link!(($($p),*), f; a: i32),
                2 => $link!(($($p),*), f; a: i32, b: i32),
                3 => $link!(($($p),*), f; a: i32, b: i32, c: i32),
                4 => $link!(($($p),*), f; a: i32, b: i32, c: i32, d: i32),
                5 => $link!(($($p),*), f; a: i32, b: i32, c: i32, d: i32, e: i32),
                6 => $link!(($($p),*), f; a: i32, b: i32, c: i32, d: i32, e: i32, g: i32),
                7 => $link!(($($p),*), f; a: i32, b: i32, c: i32, d: i32, e: i32, g: i32, h: i32),
                8 => $link!(($($p),*), f; a: i32, b: i32, c: i32, d: i32, e: i32, g: i32, h: i32, i: i32),
                9 => $link!(($($p),*), f; a: i32, b: i32, c: i32, d: i32, e: i32, g: i32, h: i32, i: i32, j: i32),
                10 => $link!(($($p),*), f; a: i32, b: i32, c: i32, d: i32, e: i32, g: i32, h: i32, i: i32, j: i32, k: i32),
                11 => $link!(($($p),*), f; a: i32, b: i32, c: i32, d: i32, e: i32, g: i32, h: i32, i: i32, j: i32, k: i32, l: i32),
                12 => $link!(($($p),*), f; a: i32, b: i32, c: i32, d: i32, e: i32, g: i32, h: i32, i: i32, j: i32, k: i32, l: i32, m: i32),
                _ => Ok(false),
            }
        }
    };
}
pub(crate) use typed_host_functions;

/// A callback's raw `i32` result as the host reads it.
pub(crate) fn callback_result(cb: Callback, v: i32) -> u64 {
    match cb.spec().ret {
        crate::host::callbacks::Ret::Bool => (v != 0) as u64,
        _ => v as u32 as u64,
    }
}

/// Converts a host function's parameters to `u64`s for the ABI (zero-extending `i32`s; the
/// ABI reads signed values back per their kind).
pub(crate) fn args_u64(params: impl Iterator<Item = u64>) -> ([u64; 16], usize) {
    let mut args = [0u64; 16];
    let mut n = 0;
    for (slot, p) in args.iter_mut().zip(params) {
        *slot = p;
        n += 1;
    }
    (args, n)
}

/// The bytes `[ptr, ptr+len)` of a linear memory, or the ABI's out-of-bounds error.
pub(crate) fn slice_at(data: &[u8], ptr: u64, len: u64) -> Result<&[u8], HostError> {
    usize::try_from(ptr)
        .ok()
        .zip(usize::try_from(len).ok())
        .and_then(|(p, l)| data.get(p..p.checked_add(l)?))
        .ok_or(HostError::OutOfBounds { ptr, len })
}

pub(crate) fn slice_at_mut(data: &mut [u8], ptr: u64, len: u64) -> Result<&mut [u8], HostError> {
    usize::try_from(ptr)
        .ok()
        .zip(usize::try_from(len).ok())
        .and_then(|(p, l)| data.get_mut(p..p.checked_add(l)?))
        .ok_or(HostError::OutOfBounds { ptr, len })
}

/// An allocation request as the guest's `i32` allocator takes it.
pub(crate) fn alloc_size(size: u64) -> Result<i32, HostError> {
    i32::try_from(size).map_err(|_| HostError::Alloc(format!("{size} bytes exceeds wasm32")))
}

/// The guest allocator's answer; null means it is out of memory.
pub(crate) fn alloc_result(p: i32, size: i32) -> Result<u64, HostError> {
    if p == 0 {
        return Err(HostError::Alloc(format!(
            "allocating {size} bytes returned null"
        )));
    }
    Ok(p as u32 as u64)
}

/// Packs guest arguments per the callback's arity (all `i32` in wasm32).
pub(crate) fn check_arity(cb: Callback, args: &[u64]) {
    debug_assert_eq!(cb.spec().params, args.len(), "{:?}", cb);
}
