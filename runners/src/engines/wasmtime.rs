//! wasmtime adapter: the ABI comes from `host::abi`; this file only maps it onto wasmtime's
//! linker, store and typed functions.

use filterbench_abi::{IMPORTS, ImportId, Kind};
use wasmtime::{
    Caller, Config, FuncType, InstancePre, Linker, Memory, Module, Store, StoreLimits,
    StoreLimitsBuilder, Strategy, TypedFunc, Val, ValType,
};

use super::{Artifacts, CallError, Engine, EngineError, Instance, Limits, LoadedModule};
use crate::host::HostState;
use crate::host::abi::{self, GuestMemory, HostError};
use crate::host::callbacks::Callback;

pub struct WasmtimeEngine {
    name: &'static str,
    engine: wasmtime::Engine,
    limits: Limits,
}

impl WasmtimeEngine {
    fn with_strategy(name: &'static str, strategy: Strategy, limits: &Limits) -> Box<dyn Engine> {
        let mut cfg = Config::new();
        cfg.strategy(strategy);
        let engine = wasmtime::Engine::new(&cfg).expect("valid wasmtime config");
        Box::new(WasmtimeEngine {
            name,
            engine,
            limits: limits.clone(),
        })
    }

    pub fn cranelift(limits: &Limits) -> Box<dyn Engine> {
        Self::with_strategy("wasmtime-cranelift", Strategy::Cranelift, limits)
    }
}

struct StoreData {
    host: HostState,
    memory: Option<Memory>,
    alloc: Option<TypedFunc<i32, i32>>,
    limits: StoreLimits,
}

fn val_type(k: Kind) -> ValType {
    match k {
        Kind::U64 | Kind::I64 => ValType::I64,
        _ => ValType::I32,
    }
}

fn trap_message(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(t) => t.to_string(),
        None => e.to_string(),
    }
}

impl Engine for WasmtimeEngine {
    fn name(&self) -> &str {
        self.name
    }

    fn version(&self) -> String {
        format!("wasmtime {}", env!("FILTERBENCH_WASMTIME_VERSION"))
    }

    fn load(&self, artifacts: &Artifacts) -> Result<Box<dyn LoadedModule>, EngineError> {
        let bytes = super::read_wasm(self.name, artifacts)?;
        let compile_err = |e: wasmtime::Error| EngineError::Compile {
            engine: self.name.to_string(),
            message: format!("{e:#}"),
        };
        let module = Module::new(&self.engine, &bytes).map_err(compile_err)?;
        let mut linker: Linker<StoreData> = Linker::new(&self.engine);
        for (i, spec) in IMPORTS.iter().enumerate() {
            let id = ImportId::from_index(i as u32).expect("index within IMPORTS");
            let ty = FuncType::new(
                &self.engine,
                spec.params.iter().map(|k| val_type(*k)),
                [ValType::I32],
            );
            linker
                .func_new("env", spec.name, ty, move |mut caller, params, results| {
                    let mut args = [0u64; 16];
                    for (slot, p) in args.iter_mut().zip(params) {
                        *slot = match p {
                            Val::I32(v) => *v as u32 as u64,
                            Val::I64(v) => *v as u64,
                            _ => 0,
                        };
                    }
                    let mut mem = WasmtimeMemory {
                        caller: &mut caller,
                    };
                    let status = abi::dispatch(id, &mut mem, &args[..params.len()])
                        .map_err(|e| wasmtime::Error::msg(e.to_string()))?;
                    results[0] = Val::I32(status as i32);
                    Ok(())
                })
                .map_err(compile_err)?;
        }
        let pre = linker.instantiate_pre(&module).map_err(compile_err)?;
        Ok(Box::new(WasmtimeModule {
            name: self.name,
            engine: self.engine.clone(),
            pre,
            limits: self.limits.clone(),
        }))
    }
}

struct WasmtimeModule {
    name: &'static str,
    engine: wasmtime::Engine,
    pre: InstancePre<StoreData>,
    limits: Limits,
}

super::typed_callbacks!(wasmtime);

impl LoadedModule for WasmtimeModule {
    fn instantiate(&self, host: HostState) -> Result<Box<dyn Instance>, EngineError> {
        let err = |e: wasmtime::Error| EngineError::Instantiate {
            engine: self.name.to_string(),
            message: format!("{e:#}"),
        };
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.max_memory_bytes as usize)
            .instances(1)
            .build();
        let mut store = Store::new(
            &self.engine,
            StoreData {
                host,
                memory: None,
                alloc: None,
                limits,
            },
        );
        store.limiter(|d| &mut d.limits);
        let instance = self.pre.instantiate(&mut store).map_err(err)?;
        let memory = instance.get_memory(&mut store, "memory");
        let mut callbacks = Vec::with_capacity(Callback::ALL.len());
        for cb in Callback::ALL {
            let spec = cb.spec();
            let func = instance
                .get_func(&mut store, spec.name)
                .or_else(|| spec.alias.and_then(|a| instance.get_func(&mut store, a)));
            let typed = match func {
                None => None,
                Some(f) => Some(TypedCb::new(f, &store, spec).map_err(err)?),
            };
            callbacks.push(typed);
        }
        let alloc = match &callbacks[Callback::MemoryAllocate as usize] {
            Some(TypedCb::P1R(f)) => Some(f.clone()),
            _ => None,
        };
        store.data_mut().memory = memory;
        store.data_mut().alloc = alloc;
        Ok(Box::new(WasmtimeInstance { store, callbacks }))
    }
}

struct WasmtimeInstance {
    store: Store<StoreData>,
    callbacks: Vec<Option<TypedCb>>,
}

impl Instance for WasmtimeInstance {
    fn call(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, CallError> {
        super::check_arity(cb, args);
        let Some(f) = &self.callbacks[cb as usize] else {
            return Ok(None);
        };
        let r = f.call(&mut self.store, args);
        match r {
            Ok(v) => Ok(Some(super::callback_result(cb, v))),
            Err(e) => Err(CallError::Trap {
                callback: cb.spec().name,
                message: trap_message(&e),
            }),
        }
    }

    fn host(&mut self) -> &mut HostState {
        &mut self.store.data_mut().host
    }

    fn memory_bytes(&mut self) -> u64 {
        match self.store.data().memory {
            Some(m) => m.data_size(&self.store) as u64,
            None => 0,
        }
    }
}

struct WasmtimeMemory<'a, 'b> {
    caller: &'a mut Caller<'b, StoreData>,
}

impl WasmtimeMemory<'_, '_> {
    fn memory(&self) -> Result<Memory, HostError> {
        self.caller
            .data()
            .memory
            .ok_or(HostError::OutOfBounds { ptr: 0, len: 0 })
    }
}

impl GuestMemory for WasmtimeMemory<'_, '_> {
    fn ptr_size(&self) -> usize {
        4
    }

    fn read(&mut self, ptr: u64, len: u64) -> Result<Vec<u8>, HostError> {
        let mem = self.memory()?;
        let data = mem.data(&*self.caller);
        usize::try_from(ptr)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(p, l)| data.get(p..p.checked_add(l)?))
            .map(<[u8]>::to_vec)
            .ok_or(HostError::OutOfBounds { ptr, len })
    }

    fn write(&mut self, ptr: u64, bytes: &[u8]) -> Result<(), HostError> {
        let mem = self.memory()?;
        let data = mem.data_mut(&mut *self.caller);
        let len = bytes.len() as u64;
        usize::try_from(ptr)
            .ok()
            .and_then(|p| data.get_mut(p..p.checked_add(bytes.len())?))
            .ok_or(HostError::OutOfBounds { ptr, len })?
            .copy_from_slice(bytes);
        Ok(())
    }

    fn alloc(&mut self, size: u64) -> Result<u64, HostError> {
        let f = self
            .caller
            .data()
            .alloc
            .clone()
            .ok_or_else(|| HostError::Alloc("module exports no allocator".into()))?;
        let size = i32::try_from(size).map_err(|_| HostError::Alloc(format!("{size} bytes")))?;
        let p = f
            .call(&mut *self.caller, size)
            .map_err(|e| HostError::Alloc(trap_message(&e)))?;
        if p == 0 {
            return Err(HostError::Alloc(format!(
                "allocating {size} bytes returned null"
            )));
        }
        Ok(p as u32 as u64)
    }

    fn host(&mut self) -> &mut HostState {
        &mut self.caller.data_mut().host
    }
}
