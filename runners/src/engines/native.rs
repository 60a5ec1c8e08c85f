//! The `native` arm: the same filter crate built as a shared library and driven with host
//! calls as direct function calls, as Envoy's NullVM does.
//!
//! Each instance loads its own copy of the library, so instances share no SDK state (the
//! SDK keeps its dispatcher in statics), just as separate VMs share none. That copy's code is
//! mapped per instance, which NullVM would share: the memory measurement reports it apart
//! (file-backed RSS per VM) from the instance's state. Loading the module writes and opens
//! the first instance's copy, so the first `instantiate` (the one cold start times) writes
//! no file and maps no library, as a wasm engine's instantiate maps no code; later instances
//! write their own copy. A native filter runs unsandboxed: a panic in it aborts the process
//! (NullVM has the same property).

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use filterbench_abi::{ImportId, NATIVE_SHIM_VERSION, NativeHostCall};
use libloading::Library;

use super::{Artifacts, CallError, Engine, EngineError, Instance, Limits, LoadedModule};
use crate::host::HostState;
use crate::host::abi::{GuestMemory, HostError};
use crate::host::bounds::HostBounds;
use crate::host::callbacks::{CALLBACKS, Callback, Ret};

/// The host-side bounds apply to native code's host calls too (its guest memory is not
/// bounded: it is the harness's own).
pub struct NativeEngine {
    bounds: HostBounds,
}

impl NativeEngine {
    pub fn make(limits: &Limits) -> Box<dyn Engine> {
        Box::new(NativeEngine {
            bounds: limits.host_bounds(),
        })
    }
}

impl Engine for NativeEngine {
    fn name(&self) -> &str {
        filterbench_results::vocab::arm::NATIVE
    }
    fn version(&self) -> String {
        format!("rustc {}", env!("FILTERBENCH_RUSTC_VERSION"))
    }
    fn flags(&self) -> String {
        // Trusted code in the harness process, as under NullVM: nothing can bound it.
        "unsandboxed".into()
    }
    fn load(&self, artifacts: &Artifacts) -> Result<Box<dyn LoadedModule>, EngineError> {
        let path = artifacts.native.clone().ok_or(EngineError::NoArtifact {
            arm: filterbench_results::vocab::arm::NATIVE.into(),
            what: "native shared library",
        })?;
        let bytes = std::fs::read(&path).map_err(|source| EngineError::Io {
            path: path.clone(),
            source,
        })?;
        // The first instance's copy, opened now: a library without the shim fails here, and
        // the first instantiate does no file work.
        let first = NativeInstance::open(&path, &bytes)?;
        Ok(Box::new(NativeModule {
            path,
            bytes,
            spare: Mutex::new(Some(first)),
            bounds: self.bounds,
        }))
    }
}

struct NativeModule {
    path: PathBuf,
    bytes: Vec<u8>,
    /// A copy already written and opened, for the next instance.
    spare: Mutex<Option<NativeInstance>>,
    bounds: HostBounds,
}

impl LoadedModule for NativeModule {
    fn instantiate(&self, mut host: HostState) -> Result<Box<dyn Instance>, EngineError> {
        host.bounds = self.bounds;
        let spare = self
            .spare
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let mut inst = match spare {
            Some(inst) => inst,
            None => NativeInstance::open(&self.path, &self.bytes)?,
        };
        inst.state.host = Some(host);
        Ok(Box::new(inst))
    }
}

type Fn0 = unsafe extern "C" fn() -> usize;
type Fn1 = unsafe extern "C" fn(usize) -> usize;
type Fn2 = unsafe extern "C" fn(usize, usize) -> usize;
type Fn3 = unsafe extern "C" fn(usize, usize, usize) -> usize;
type Fn5 = unsafe extern "C" fn(usize, usize, usize, usize, usize) -> usize;

struct NativeInstance {
    state: Box<NativeState>,
    callbacks: Vec<Option<usize>>,
    // Last: the library must outlive the function addresses above.
    _lib: Library,
}

/// What host calls reach through the thread-local pointer.
struct NativeState {
    host: Option<HostState>,
    alloc: usize,
}

thread_local! {
    /// The instance whose callback is running on this thread (set only around calls).
    static CURRENT: Cell<*mut NativeState> = const { Cell::new(std::ptr::null_mut()) };
}

unsafe extern "C" fn host_entry(id: u32, args: *const u64, nargs: usize) -> u32 {
    const INTERNAL_FAILURE: u32 = 10;
    let state = CURRENT.with(Cell::get);
    let Some(id) = ImportId::from_index(id) else {
        return INTERNAL_FAILURE;
    };
    if state.is_null() {
        return INTERNAL_FAILURE;
    }
    // SAFETY: CURRENT points at the NativeState of the instance whose callback is on this
    // thread's stack; args/nargs come from the shim's local array.
    let (state, args) = unsafe { (&mut *state, std::slice::from_raw_parts(args, nargs)) };
    let mut mem = NativeMemory { state };
    // Native allocations cannot fail short of an abort, so HostError only reports bad input.
    crate::host::functions::call(crate::host::functions::HostCall::Proxy(id), &mut mem, args)
        .unwrap_or(INTERNAL_FAILURE)
}

struct NativeMemory<'a> {
    state: &'a mut NativeState,
}

impl GuestMemory for NativeMemory<'_> {
    fn ptr_size(&self) -> usize {
        std::mem::size_of::<usize>()
    }
    fn read(&mut self, ptr: u64, len: u64) -> Result<Vec<u8>, HostError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        if ptr == 0 {
            return Err(HostError::OutOfBounds { ptr, len });
        }
        // SAFETY: the filter passed a pointer into its own (our process's) memory; a native
        // filter is trusted code, exactly as under NullVM.
        Ok(unsafe { std::slice::from_raw_parts(ptr as *const u8, len as usize) }.to_vec())
    }
    fn write(&mut self, ptr: u64, data: &[u8]) -> Result<(), HostError> {
        if ptr == 0 {
            return Err(HostError::OutOfBounds {
                ptr,
                len: data.len() as u64,
            });
        }
        // SAFETY: as for read.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr as *mut u8, data.len()) };
        Ok(())
    }
    fn alloc(&mut self, size: u64) -> Result<u64, HostError> {
        // SAFETY: `alloc` is the library's proxy_on_memory_allocate.
        let f: Fn1 = unsafe { std::mem::transmute::<usize, Fn1>(self.state.alloc) };
        Ok(unsafe { f(size as usize) } as u64)
    }
    fn host(&mut self) -> &mut HostState {
        self.state
            .host
            .as_mut()
            .expect("host state present during calls")
    }
}

impl NativeInstance {
    fn open(path: &Path, bytes: &[u8]) -> Result<Self, EngineError> {
        let err = |message: String| EngineError::Native {
            path: path.to_path_buf(),
            message,
        };
        // A private copy gives this instance its own statics; the file can go once mapped.
        let mut copy = tempfile::Builder::new()
            .prefix("filterbench-native-")
            .suffix(".so")
            .tempfile()
            .map_err(|e| err(format!("cannot make a private copy: {e}")))?;
        copy.write_all(bytes)
            .map_err(|e| err(format!("cannot make a private copy: {e}")))?;
        // SAFETY: loading runs the library's initialisers; filters are our own trusted builds.
        let lib =
            unsafe { Library::new(copy.path()) }.map_err(|e| err(dlopen_error(&e, copy.path())))?;
        if std::env::var_os("FILTERBENCH_PERFMAP").is_some() {
            // Profiling: keep the file so perf can symbolise the library's frames.
            let _ = copy.into_temp_path().keep();
        } else {
            drop(copy);
        }
        let sym = |name: &str| -> Option<usize> {
            // SAFETY: we only take the address; calls go through typed transmutes by arity.
            unsafe { lib.get::<unsafe extern "C" fn()>(name.as_bytes()) }
                .ok()
                .map(|s| *s as usize)
        };
        if sym(crate::host::callbacks::ABI_MARKER).is_none() {
            return Err(err(
                "no proxy_abi_version_0_2_1 symbol: not a proxy-wasm 0.2.1 filter".into(),
            ));
        }
        let init = sym("filterbench_native_init").ok_or_else(|| {
            err("no filterbench_native_init symbol: the filter was not linked with filterbench-native-shim".into())
        })?;
        // SAFETY: the shim defines filterbench_native_init with this signature.
        let init: unsafe extern "C" fn(NativeHostCall) -> u32 =
            unsafe { std::mem::transmute(init) };
        let version = unsafe { init(host_entry) };
        if version != NATIVE_SHIM_VERSION {
            return Err(err(format!(
                "native shim protocol {version}, this host speaks {NATIVE_SHIM_VERSION}: rebuild the filter"
            )));
        }
        let callbacks: Vec<Option<usize>> = CALLBACKS
            .iter()
            .map(|c| sym(c.name).or_else(|| c.alias.and_then(sym)))
            .collect();
        let alloc = callbacks[Callback::MemoryAllocate as usize]
            .ok_or_else(|| err("no proxy_on_memory_allocate symbol".into()))?;
        Ok(NativeInstance {
            state: Box::new(NativeState { host: None, alloc }),
            callbacks,
            _lib: lib,
        })
    }
}

/// Why dlopen refused the library: dlerror's text (libloading keeps it as the source of a bare
/// "dlopen failed"), without the private copy's path, which names nothing the user gave.
fn dlopen_error(e: &libloading::Error, copy: &Path) -> String {
    let why = std::error::Error::source(e).map_or_else(|| e.to_string(), |s| s.to_string());
    let why = why
        .strip_prefix(&format!("{}: ", copy.display()))
        .unwrap_or(&why);
    format!("cannot load it as a shared library: {why}")
}

impl Instance for NativeInstance {
    #[inline(always)] // into `call_in`, so that its result stays in registers
    fn call(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, CallError> {
        super::check_arity(cb, args);
        let Some(f) = self.callbacks[cb as usize] else {
            return Ok(None);
        };
        let a = |i: usize| args[i] as usize;
        let prev = CURRENT.with(|c| c.replace(&mut *self.state));
        // SAFETY: `f` is the library's export with `cb.spec().params` integer-class
        // parameters; extra result bits are masked below per the declared return type.
        let raw = unsafe {
            match args.len() {
                0 => std::mem::transmute::<usize, Fn0>(f)(),
                1 => std::mem::transmute::<usize, Fn1>(f)(a(0)),
                2 => std::mem::transmute::<usize, Fn2>(f)(a(0), a(1)),
                3 => std::mem::transmute::<usize, Fn3>(f)(a(0), a(1), a(2)),
                5 => std::mem::transmute::<usize, Fn5>(f)(a(0), a(1), a(2), a(3), a(4)),
                n => unreachable!("no callback has {n} parameters"),
            }
        };
        CURRENT.with(|c| c.set(prev));
        Ok(Some(match cb.spec().ret {
            Ret::None => 0,
            Ret::Bool => (raw & 0xff != 0) as u64,
            Ret::U32 => raw as u32 as u64,
            Ret::Ptr => raw as u64,
        }))
    }

    #[inline]
    fn host(&mut self) -> &mut HostState {
        self.state.host.as_mut().expect("instance has host state")
    }

    fn memory_bytes(&mut self) -> Option<u64> {
        None
    }
}
