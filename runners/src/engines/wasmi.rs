//! wasmi adapter (an interpreter): the same host, wasmi's linker and store. CPU bound: fuel
//! (wasmi has no wall-clock interruption); memory: store limits.

use filterbench_abi::Kind;
use filterbench_results::vocab::arm;
use wasmi::{
    AsContext, Caller, Config, FuncType, Linker, Memory, Module, Store, StoreLimits,
    StoreLimitsBuilder, TrapCode, TypedFunc, Val, ValType,
};

use super::{Artifacts, CallError, CpuBound, Engine, EngineError, Instance, Limits, LoadedModule};
use crate::host::HostState;
use crate::host::abi::{GuestMemory, HostError};
use crate::host::callbacks::Callback;
use crate::host::functions::{self, HOST_FUNCTIONS};

super::typed_callbacks!(wasmi);

fn typed<P: wasmi::WasmParams, R: wasmi::WasmResults, T>(
    f: wasmi::Func,
    store: &Store<T>,
) -> Result<TypedFunc<P, R>, wasmi::Error> {
    f.typed(store)
}
macro_rules! link_one {
    (($linker:ident), $f:expr; $($a:ident: $t:ty),*) => {
        super::wrap_host_fn!(wasmi, WasmiMemory, wasmi::Error::new; ($linker), $f; $($a: $t),*)
    };
}
super::typed_host_functions!(link_one(linker: &mut wasmi::Linker<StoreData>));

pub struct WasmiEngine {
    engine: wasmi::Engine,
    limits: Limits,
    fuel: Option<u64>,
}

impl WasmiEngine {
    pub fn make(limits: &Limits) -> Box<dyn Engine> {
        let fuel = (limits.cpu != CpuBound::Off).then_some(limits.fuel_per_call);
        let mut cfg = Config::default();
        cfg.consume_fuel(fuel.is_some());
        Box::new(WasmiEngine {
            engine: wasmi::Engine::new(&cfg),
            limits: limits.clone(),
            fuel,
        })
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

impl Engine for WasmiEngine {
    fn name(&self) -> &str {
        arm::WASMI
    }

    fn version(&self) -> String {
        format!("wasmi {}", env!("FILTERBENCH_WASMI_VERSION"))
    }

    fn flags(&self) -> String {
        let cpu = match self.fuel {
            Some(f) => format!("cpu=fuel({f})"),
            None => "cpu=off".into(),
        };
        format!(
            "{cpu} mem={}MiB {}",
            self.limits.max_memory_bytes >> 20,
            self.limits.bounds_flags()
        )
    }

    fn load(&self, artifacts: &Artifacts) -> Result<Box<dyn LoadedModule>, EngineError> {
        let bytes = super::read_wasm(arm::WASMI, artifacts)?;
        let compile_err = |e: wasmi::Error| EngineError::Compile {
            engine: arm::WASMI.into(),
            message: e.to_string(),
        };
        let module = Module::new(&self.engine, &bytes).map_err(compile_err)?;
        let mut linker: Linker<StoreData> = Linker::new(&self.engine);
        for f in HOST_FUNCTIONS.iter() {
            if link_typed(&mut linker, f).map_err(|m| EngineError::Compile {
                engine: arm::WASMI.into(),
                message: m,
            })? {
                continue;
            }
            let ty = FuncType::new(
                f.params.iter().map(|k| val_type(*k)),
                std::iter::repeat_n(ValType::I32, f.results),
            );
            let call = f.call;
            linker
                .func_new(f.module, f.name, ty, move |mut caller, params, results| {
                    let (args, n) = super::args_u64(params.iter().map(|p| match p {
                        Val::I32(v) => *v as u32 as u64,
                        Val::I64(v) => *v as u64,
                        _ => 0,
                    }));
                    let mut mem = WasmiMemory {
                        caller: &mut caller,
                    };
                    let status = functions::call(call, &mut mem, &args[..n])
                        .map_err(|e| wasmi::Error::new(e.to_string()))?;
                    if let Some(r) = results.first_mut() {
                        *r = Val::I32(status as i32);
                    }
                    Ok(())
                })
                .map_err(|e| compile_err(e.into()))?;
        }
        Ok(Box::new(WasmiModule {
            engine: self.engine.clone(),
            module,
            linker,
            limits: self.limits.clone(),
            fuel: self.fuel,
        }))
    }
}

struct WasmiModule {
    engine: wasmi::Engine,
    module: Module,
    linker: Linker<StoreData>,
    limits: Limits,
    fuel: Option<u64>,
}

impl LoadedModule for WasmiModule {
    fn instantiate(&self, mut host: HostState) -> Result<Box<dyn Instance>, EngineError> {
        let err = |e: wasmi::Error| EngineError::Instantiate {
            engine: arm::WASMI.into(),
            message: e.to_string(),
        };
        host.bounds = self.limits.host_bounds();
        // One instance with one memory per store; module_check bounds the number of tables.
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.max_memory_bytes as usize)
            .table_elements(self.limits.max_table_elements as usize)
            .instances(1)
            .memories(1)
            .tables(crate::host::module_check::MAX_TABLES as usize)
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
        if let Some(f) = self.fuel {
            store.set_fuel(f).map_err(err)?;
        }
        let instance = self
            .linker
            .instantiate_and_start(&mut store, &self.module)
            .map_err(err)?;
        let memory = instance.get_memory(&store, "memory");
        let mut callbacks = Vec::with_capacity(Callback::ALL.len());
        for cb in Callback::ALL {
            let spec = cb.spec();
            let func = instance
                .get_func(&store, spec.name)
                .or_else(|| spec.alias.and_then(|a| instance.get_func(&store, a)));
            callbacks.push(match func {
                None => None,
                Some(f) => Some(TypedCb::new(f, &store, spec).map_err(err)?),
            });
        }
        let alloc = match &callbacks[Callback::MemoryAllocate as usize] {
            Some(TypedCb::P1R(f)) => Some(*f),
            _ => None,
        };
        store.data_mut().memory = memory;
        store.data_mut().alloc = alloc;
        Ok(Box::new(WasmiInstance {
            store,
            callbacks,
            fuel: self.fuel,
        }))
    }
}

struct WasmiInstance {
    store: Store<StoreData>,
    callbacks: Vec<Option<TypedCb>>,
    fuel: Option<u64>,
}

impl Instance for WasmiInstance {
    fn call(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, CallError> {
        super::check_arity(cb, args);
        let Some(f) = &self.callbacks[cb as usize] else {
            return Ok(None);
        };
        if let Some(fuel) = self.fuel {
            self.store.set_fuel(fuel).expect("fuel is enabled");
        }
        match f.call(&mut self.store, args) {
            Ok(v) => Ok(Some(super::callback_result(cb, v))),
            Err(e) if e.as_trap_code() == Some(TrapCode::OutOfFuel) => Err(CallError::CpuLimit {
                callback: cb.spec().name,
                bound: format!("{} fuel", self.fuel.unwrap_or(0)),
            }),
            Err(e) => Err(CallError::Trap {
                callback: cb.spec().name,
                message: e.to_string(),
            }),
        }
    }

    fn host(&mut self) -> &mut HostState {
        &mut self.store.data_mut().host
    }

    fn memory_bytes(&mut self) -> Option<u64> {
        self.store
            .data()
            .memory
            .map(|m| m.data_size(&self.store) as u64)
    }
}

struct WasmiMemory<'a, 'b> {
    caller: &'a mut Caller<'b, StoreData>,
}

impl WasmiMemory<'_, '_> {
    fn memory(&self) -> Result<Memory, HostError> {
        self.caller
            .data()
            .memory
            .ok_or(HostError::OutOfBounds { ptr: 0, len: 0 })
    }
}

impl GuestMemory for WasmiMemory<'_, '_> {
    fn ptr_size(&self) -> usize {
        4
    }

    fn read(&mut self, ptr: u64, len: u64) -> Result<Vec<u8>, HostError> {
        let mem = self.memory()?;
        super::slice_at(mem.data(self.caller.as_context()), ptr, len).map(<[u8]>::to_vec)
    }

    fn write(&mut self, ptr: u64, bytes: &[u8]) -> Result<(), HostError> {
        let mem = self.memory()?;
        super::slice_at_mut(mem.data_mut(&mut *self.caller), ptr, bytes.len() as u64)?
            .copy_from_slice(bytes);
        Ok(())
    }

    fn alloc(&mut self, size: u64) -> Result<u64, HostError> {
        let f = self
            .caller
            .data()
            .alloc
            .ok_or_else(|| HostError::Alloc("module exports no allocator".into()))?;
        let size = super::alloc_size(size)?;
        let p = f
            .call(&mut *self.caller, size)
            .map_err(|e| HostError::Alloc(e.to_string()))?;
        super::alloc_result(p, size)
    }

    fn host(&mut self) -> &mut HostState {
        &mut self.caller.data_mut().host
    }
}
