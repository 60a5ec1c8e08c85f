//! wasmtime adapter (Cranelift and Winch): maps the one host onto wasmtime's linker, store
//! and typed functions. CPU bound: epoch deadline (cheap) or fuel; memory: store limits.

use filterbench_results::vocab::arm;
use std::sync::{Arc, Weak};
use std::time::Duration;

use filterbench_abi::Kind;
use wasmtime::{
    Caller, Config, FuncType, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module,
    PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder, Strategy, Trap, TypedFunc,
    Val, ValType,
};

use super::{Artifacts, CallError, CpuBound, Engine, EngineError, Instance, Limits, LoadedModule};
use crate::host::HostState;
use crate::host::abi::{GuestMemory, HostError};
use crate::host::callbacks::Callback;
use crate::host::functions::{self, HOST_FUNCTIONS};

super::typed_callbacks!(wasmtime);

/// A callback export as a typed function without wasmtime's per-instance type check (a
/// registry lookup per callback, a visible share of an instantiation).
fn typed<P: wasmtime::WasmParams, R: wasmtime::WasmResults, T>(
    f: wasmtime::Func,
    store: &Store<T>,
) -> Result<TypedFunc<P, R>, wasmtime::Error> {
    // SAFETY: `WasmtimeModule::load` checked every callback export's type against its spec,
    // which is what `TypedCb::new` picks `P` and `R` from.
    Ok(unsafe { TypedFunc::new_unchecked(store, f) })
}
macro_rules! link_one {
    (($linker:ident), $f:expr; $($a:ident: $t:ty),*) => {
        super::wrap_host_fn!(wasmtime, WasmtimeMemory, wasmtime::Error::msg; ($linker), $f; $($a: $t),*)
    };
}
super::typed_host_functions!(link_one(linker: &mut wasmtime::Linker<StoreData>));

/// How often the epoch advances; a deadline is a whole number of these.
const EPOCH_PERIOD: Duration = Duration::from_millis(5);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    Epoch(u64),
    Fuel(u64),
    Off,
}

pub struct WasmtimeEngine {
    name: &'static str,
    engine: wasmtime::Engine,
    limits: Limits,
    bound: Bound,
    ticker: Option<Arc<Ticker>>,
}

/// Keeps the epoch thread alive while any engine, module or instance holds it.
struct Ticker;

fn start_ticker(engine: &wasmtime::Engine) -> Arc<Ticker> {
    let token = Arc::new(Ticker);
    let weak: Weak<Ticker> = Arc::downgrade(&token);
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("wasmtime-epoch".into())
        .spawn(move || {
            while weak.strong_count() > 0 {
                engine.increment_epoch();
                std::thread::sleep(EPOCH_PERIOD);
            }
        })
        .expect("spawn the epoch thread");
    token
}

/// Slots the pooling allocator frees before it decommits their memory in one go.
const POOL_DECOMMIT_BATCH: usize = 16;

impl WasmtimeEngine {
    fn build(name: &'static str, strategy: Strategy, limits: &Limits) -> Box<dyn Engine> {
        let mut cfg = Config::new();
        cfg.strategy(strategy);
        // `filterbench profile --flamegraph` asks for a perf map so JIT frames get names.
        if std::env::var_os("FILTERBENCH_PERFMAP").is_some() {
            cfg.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let bound = match limits.cpu {
            CpuBound::Off => Bound::Off,
            CpuBound::Fuel => Bound::Fuel(limits.fuel_per_call),
            CpuBound::Auto | CpuBound::Deadline => {
                Bound::Epoch((limits.deadline.as_nanos() / EPOCH_PERIOD.as_nanos()).max(1) as u64)
            }
        };
        cfg.epoch_interruption(matches!(bound, Bound::Epoch(_)));
        cfg.consume_fuel(matches!(bound, Bound::Fuel(_)));
        if limits.pooling {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_memories(64)
                .total_core_instances(64)
                .total_tables(64)
                .max_memory_size(limits.max_memory_bytes as usize);
            // Freed slots are decommitted in batches, not one madvise per instance: measured
            // 5.5 → 5.1 µs p50 per add-header instantiation (keeping memory or tables
            // resident instead did not help).
            pool.decommit_batch_size(POOL_DECOMMIT_BATCH);
            cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = wasmtime::Engine::new(&cfg).expect("valid wasmtime config");
        let ticker = matches!(bound, Bound::Epoch(_)).then(|| start_ticker(&engine));
        Box::new(WasmtimeEngine {
            name,
            engine,
            limits: limits.clone(),
            bound,
            ticker,
        })
    }

    pub fn cranelift(limits: &Limits) -> Box<dyn Engine> {
        Self::build(arm::WASMTIME_CRANELIFT, Strategy::Cranelift, limits)
    }

    pub fn winch(limits: &Limits) -> Box<dyn Engine> {
        Self::build(arm::WASMTIME_WINCH, Strategy::Winch, limits)
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
    match e.downcast_ref::<Trap>() {
        Some(t) => t.to_string(),
        None => format!("{e:#}"),
    }
}

impl Engine for WasmtimeEngine {
    fn name(&self) -> &str {
        self.name
    }

    fn version(&self) -> String {
        format!("wasmtime {}", env!("FILTERBENCH_WASMTIME_VERSION"))
    }

    fn has_pooling(&self) -> bool {
        true
    }

    fn flags(&self) -> String {
        let cpu = match self.bound {
            Bound::Epoch(t) => format!("cpu=epoch({}ms)", t * EPOCH_PERIOD.as_millis() as u64),
            Bound::Fuel(f) => format!("cpu=fuel({f})"),
            Bound::Off => "cpu=off".into(),
        };
        let alloc = if self.limits.pooling {
            format!("pooling(decommit batch {POOL_DECOMMIT_BATCH})")
        } else {
            "on-demand".into()
        };
        format!(
            "{cpu} mem={}MiB {} alloc={alloc}",
            self.limits.max_memory_bytes >> 20,
            self.limits.bounds_flags()
        )
    }

    fn load(&self, artifacts: &Artifacts) -> Result<Box<dyn LoadedModule>, EngineError> {
        let bytes = super::read_wasm(self.name, artifacts)?;
        let compile_err = |e: wasmtime::Error| EngineError::Compile {
            engine: self.name.to_string(),
            message: format!("{e:#}"),
        };
        let module = Module::new(&self.engine, &bytes).map_err(compile_err)?;
        let mut linker: Linker<StoreData> = Linker::new(&self.engine);
        for f in HOST_FUNCTIONS.iter() {
            if link_typed(&mut linker, f).map_err(|m| EngineError::Compile {
                engine: self.name.to_string(),
                message: m,
            })? {
                continue;
            }
            let ty = FuncType::new(
                &self.engine,
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
                    let mut mem = WasmtimeMemory {
                        caller: &mut caller,
                    };
                    let status = functions::call(call, &mut mem, &args[..n])
                        .map_err(|e| wasmtime::Error::msg(e.to_string()))?;
                    if let Some(r) = results.first_mut() {
                        *r = Val::I32(status as i32);
                    }
                    Ok(())
                })
                .map_err(compile_err)?;
        }
        let pre = linker.instantiate_pre(&module).map_err(compile_err)?;
        // Each callback's export resolved once here, not by name on every instantiation.
        let mut exports = Vec::with_capacity(Callback::ALL.len());
        for cb in Callback::ALL {
            let spec = cb.spec();
            let Some(name) = [Some(spec.name), spec.alias]
                .into_iter()
                .flatten()
                .find(|n| module.get_export_index(n).is_some())
            else {
                exports.push(None);
                continue;
            };
            // Checked here once, so instances skip the check (see `typed`).
            let want_results = usize::from(spec.ret != crate::host::callbacks::Ret::None);
            let ok = matches!(module.get_export(name), Some(wasmtime::ExternType::Func(t))
                if t.params().len() == spec.params
                    && t.params().all(|p| matches!(p, ValType::I32))
                    && t.results().len() == want_results
                    && t.results().all(|r| matches!(r, ValType::I32)));
            if !ok {
                return Err(EngineError::Compile {
                    engine: self.name.to_string(),
                    message: format!("export `{name}` is not the callback's function type"),
                });
            }
            exports.push(module.get_export_index(name));
        }
        let memory_export = module.get_export_index("memory");
        Ok(Box::new(WasmtimeModule {
            name: self.name,
            engine: self.engine.clone(),
            pre,
            exports,
            memory_export,
            limits: self.limits.clone(),
            bound: self.bound,
            ticker: self.ticker.clone(),
        }))
    }
}

struct WasmtimeModule {
    name: &'static str,
    engine: wasmtime::Engine,
    pre: InstancePre<StoreData>,
    /// Per [`Callback::ALL`], its export (or its alias's), if the module has it.
    exports: Vec<Option<wasmtime::ModuleExport>>,
    memory_export: Option<wasmtime::ModuleExport>,
    limits: Limits,
    bound: Bound,
    ticker: Option<Arc<Ticker>>,
}

impl LoadedModule for WasmtimeModule {
    fn instantiate(&self, mut host: HostState) -> Result<Box<dyn Instance>, EngineError> {
        let err = |e: wasmtime::Error| EngineError::Instantiate {
            engine: self.name.to_string(),
            message: format!("{e:#}"),
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
        // Start-up (data segments, start function) runs under the same bound as callbacks.
        arm_bound(&mut store, self.bound);
        let instance = self.pre.instantiate(&mut store).map_err(err)?;
        let memory = self
            .memory_export
            .as_ref()
            .and_then(|e| instance.get_module_export(&mut store, e))
            .and_then(|e| e.into_memory());
        let mut callbacks = Vec::with_capacity(Callback::ALL.len());
        for (cb, export) in Callback::ALL.iter().zip(&self.exports) {
            let spec = cb.spec();
            let func = export
                .as_ref()
                .and_then(|e| instance.get_module_export(&mut store, e))
                .and_then(|e| e.into_func());
            callbacks.push(match func {
                None => None,
                Some(f) => Some(TypedCb::new(f, &store, spec).map_err(err)?),
            });
        }
        let alloc = match &callbacks[Callback::MemoryAllocate as usize] {
            Some(TypedCb::P1R(f)) => Some(f.clone()),
            _ => None,
        };
        store.data_mut().memory = memory;
        store.data_mut().alloc = alloc;
        Ok(Box::new(WasmtimeInstance {
            store,
            callbacks,
            bound: self.bound,
            _ticker: self.ticker.clone(),
        }))
    }
}

fn arm_bound(store: &mut Store<StoreData>, bound: Bound) {
    match bound {
        Bound::Epoch(ticks) => store.set_epoch_deadline(ticks),
        Bound::Fuel(f) => store.set_fuel(f).expect("fuel is enabled"),
        Bound::Off => {}
    }
}

struct WasmtimeInstance {
    store: Store<StoreData>,
    callbacks: Vec<Option<TypedCb>>,
    bound: Bound,
    _ticker: Option<Arc<Ticker>>,
}

impl Instance for WasmtimeInstance {
    fn call(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, CallError> {
        super::check_arity(cb, args);
        let Some(f) = &self.callbacks[cb as usize] else {
            return Ok(None);
        };
        arm_bound(&mut self.store, self.bound);
        match f.call(&mut self.store, args) {
            Ok(v) => Ok(Some(super::callback_result(cb, v))),
            Err(e) => Err(match e.downcast_ref::<Trap>() {
                Some(Trap::Interrupt | Trap::OutOfFuel) => CallError::CpuLimit {
                    callback: cb.spec().name,
                    bound: match self.bound {
                        Bound::Epoch(t) => {
                            format!("{} ms deadline", t * EPOCH_PERIOD.as_millis() as u64)
                        }
                        Bound::Fuel(f) => format!("{f} fuel"),
                        Bound::Off => "none".into(),
                    },
                },
                _ => CallError::Trap {
                    callback: cb.spec().name,
                    message: trap_message(&e),
                },
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
        super::slice_at(mem.data(&*self.caller), ptr, len).map(<[u8]>::to_vec)
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
            .clone()
            .ok_or_else(|| HostError::Alloc("module exports no allocator".into()))?;
        let size = super::alloc_size(size)?;
        let p = f
            .call(&mut *self.caller, size)
            .map_err(|e| HostError::Alloc(trap_message(&e)))?;
        super::alloc_result(p, size)
    }

    fn host(&mut self) -> &mut HostState {
        &mut self.caller.data_mut().host
    }
}
