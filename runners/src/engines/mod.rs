//! Engines behind one small trait, and the one registry of arms (native + every engine)
//! that the CLI, the fixture tests and the benches all enumerate.

use std::path::PathBuf;

use crate::host::Callback;
use crate::host::HostState;
use crate::host::module_check::ModuleError;

pub mod native;
pub mod wasmtime;

/// The two builds of one filter.
#[derive(Clone, Debug, Default)]
pub struct Artifacts {
    pub wasm: Option<PathBuf>,
    pub native: Option<PathBuf>,
}

/// Bounds every VM runs under, the same meaning on every engine that supports them.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest linear memory a guest may grow to.
    pub max_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory_bytes: 256 << 20,
        }
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
}

/// A running VM: callbacks in, host state out.
pub trait Instance: Send {
    /// Calls a callback; `Ok(None)` if the module does not export it.
    fn call(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, CallError>;
    fn host(&mut self) -> &mut HostState;
    /// Current guest linear memory in bytes (0 for the native arm).
    fn memory_bytes(&mut self) -> u64;
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
    fn load(&self, artifacts: &Artifacts) -> Result<Box<dyn LoadedModule>, EngineError>;
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
        name: "native",
        is_native: true,
        make: native::NativeEngine::make,
    },
    EngineEntry {
        name: "wasmtime-cranelift",
        is_native: false,
        make: wasmtime::WasmtimeEngine::cranelift,
    },
];

pub fn arm_names() -> Vec<&'static str> {
    REGISTRY.iter().map(|e| e.name).collect()
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
    crate::host::module_check::check(&bytes, &[])?;
    Ok(bytes)
}

/// Callbacks resolved once per instance into typed functions (no per-call type checks), for
/// runtimes with wasmtime's API shape (wasmtime, wasmi): `$rt::Func::typed` and
/// `$rt::TypedFunc::call(store, params)`. Every callback parameter is an `i32` in wasm32.
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
                    (0, false) => TypedCb::P0(f.typed(store)?),
                    (1, false) => TypedCb::P1(f.typed(store)?),
                    (1, true) => TypedCb::P1R(f.typed(store)?),
                    (2, false) => TypedCb::P2(f.typed(store)?),
                    (2, true) => TypedCb::P2R(f.typed(store)?),
                    (3, false) => TypedCb::P3(f.typed(store)?),
                    (3, true) => TypedCb::P3R(f.typed(store)?),
                    (5, false) => TypedCb::P5(f.typed(store)?),
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

/// A callback's raw `i32` result as the host reads it.
pub(crate) fn callback_result(cb: Callback, v: i32) -> u64 {
    match cb.spec().ret {
        crate::host::callbacks::Ret::Bool => (v != 0) as u64,
        _ => v as u32 as u64,
    }
}

/// Packs guest arguments per the callback's arity (all `i32` in wasm32).
pub(crate) fn check_arity(cb: Callback, args: &[u64]) {
    debug_assert_eq!(cb.spec().params, args.len(), "{:?}", cb);
}
