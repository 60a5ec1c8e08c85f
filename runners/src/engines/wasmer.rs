//! wasmer adapter (Cranelift and Singlepass): the same host on wasmer's store-bound host
//! functions. CPU bound: the metering middleware (wasmer has no wall-clock interruption);
//! memory: tunables that cap every linear memory's maximum.

use filterbench_results::vocab::arm;
use std::ptr::NonNull;
use std::sync::Arc;

use filterbench_abi::Kind;
use wasmer::sys::vm::{
    MemoryError, MemoryStyle, TableStyle, VMMemory, VMMemoryDefinition, VMTable, VMTableDefinition,
};
use wasmer::sys::{
    BaseTunables, CompilerConfig, Cranelift, EngineBuilder, NativeEngineExt, Singlepass, Tunables,
};
use wasmer::wasmparser::Operator;
use wasmer::{
    Function, FunctionEnv, FunctionEnvMut, FunctionType, Imports, Memory, MemoryType, Module,
    Pages, RuntimeError, Store, TableType, Type, TypedFunction, Value, WASM_PAGE_SIZE,
};
use wasmer_middlewares::Metering;
use wasmer_middlewares::metering::{MeteringPoints, get_remaining_points, set_remaining_points};

use super::{Artifacts, CallError, CpuBound, Engine, EngineError, Instance, Limits, LoadedModule};
use crate::host::HostState;
use crate::host::abi::{GuestMemory, HostError};
use crate::host::callbacks::{Callback, Ret};
use crate::host::functions::{self, HOST_FUNCTIONS};

/// Links one host function of a given shape as a wasmer typed function (see
/// [`super::typed_host_functions`]): no `Value` slices on the call path.
macro_rules! link_one {
    (($store:ident, $env:ident, $imports:ident), $f:expr; $($a:ident: $t:ty),*) => {{
        let call = $f.call;
        let func = Function::new_typed_with_env(
            &mut *$store,
            $env,
            move |mut env: FunctionEnvMut<StoreData>, $($a: $t),*| -> Result<i32, RuntimeError> {
                let args: &[u64] = &[$(crate::engines::Arg::arg($a)),*];
                let mut mem = WasmerMemory { env: &mut env };
                functions::call(call, &mut mem, args)
                    .map(|status| status as i32)
                    .map_err(|e| RuntimeError::new(e.to_string()))
            },
        );
        $imports.define($f.module, $f.name, func);
        Ok(true)
    }};
}
super::typed_host_functions!(link_one(
    store: &mut Store,
    env: &FunctionEnv<StoreData>,
    imports: &mut Imports
));

/// Caps every linear memory's and table's maximum, so `memory.grow` / `table.grow` past the
/// limit fails (and a table declared larger fails instantiation).
struct LimitingTunables {
    base: BaseTunables,
    max: Pages,
    max_table_elements: u32,
}

impl LimitingTunables {
    fn cap(&self, ty: &MemoryType) -> MemoryType {
        let mut t = *ty;
        t.maximum = Some(t.maximum.map_or(self.max, |m| m.min(self.max)));
        t
    }

    fn cap_table(&self, ty: &TableType) -> TableType {
        let mut t = *ty;
        let max = self.max_table_elements;
        t.maximum = Some(t.maximum.map_or(max, |m| m.min(max)));
        t
    }
}

impl Tunables for LimitingTunables {
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        self.base.memory_style(&self.cap(memory))
    }
    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(&self.cap_table(table))
    }
    fn create_host_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
    ) -> Result<VMMemory, MemoryError> {
        self.base.create_host_memory(&self.cap(ty), style)
    }
    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        loc: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        // SAFETY: forwarded unchanged from the caller's contract.
        unsafe { self.base.create_vm_memory(&self.cap(ty), style, loc) }
    }
    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(&self.cap_table(ty), style)
    }
    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        loc: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        // SAFETY: forwarded unchanged from the caller's contract.
        unsafe { self.base.create_vm_table(&self.cap_table(ty), style, loc) }
    }
}

pub struct WasmerEngine {
    name: &'static str,
    engine: wasmer::Engine,
    limits: Limits,
    points: Option<u64>,
}

impl WasmerEngine {
    fn build(
        name: &'static str,
        mut compiler: Box<dyn CompilerConfig>,
        limits: &Limits,
    ) -> Box<dyn Engine> {
        let points = (limits.cpu != CpuBound::Off).then_some(limits.fuel_per_call);
        if let Some(p) = points {
            compiler.push_middleware(Arc::new(Metering::new(p, |_: &Operator| 1)));
        }
        let mut engine: wasmer::Engine = EngineBuilder::new(compiler).into();
        let pages = (limits.max_memory_bytes / WASM_PAGE_SIZE as u64).min(65536) as u32;
        engine.set_tunables(LimitingTunables {
            base: BaseTunables::new(),
            max: Pages(pages),
            max_table_elements: limits.max_table_elements,
        });
        Box::new(WasmerEngine {
            name,
            engine,
            limits: limits.clone(),
            points,
        })
    }

    pub fn cranelift(limits: &Limits) -> Box<dyn Engine> {
        Self::build(
            arm::WASMER_CRANELIFT,
            Box::new(Cranelift::default()),
            limits,
        )
    }

    pub fn singlepass(limits: &Limits) -> Box<dyn Engine> {
        Self::build(
            arm::WASMER_SINGLEPASS,
            Box::new(Singlepass::default()),
            limits,
        )
    }
}

impl Engine for WasmerEngine {
    fn name(&self) -> &str {
        self.name
    }

    fn version(&self) -> String {
        format!("wasmer {}", env!("FILTERBENCH_WASMER_VERSION"))
    }

    fn flags(&self) -> String {
        let cpu = match self.points {
            Some(p) => format!("cpu=metering({p})"),
            None => "cpu=off".into(),
        };
        format!(
            "{cpu} mem={}MiB {}",
            self.limits.max_memory_bytes >> 20,
            self.limits.bounds_flags()
        )
    }

    fn load(&self, artifacts: &Artifacts) -> Result<Box<dyn LoadedModule>, EngineError> {
        let bytes = super::read_wasm(self.name, artifacts)?;
        let module = Module::new(&self.engine, &bytes).map_err(|e| EngineError::Compile {
            engine: self.name.to_string(),
            message: e.to_string(),
        })?;
        Ok(Box::new(WasmerModule {
            name: self.name,
            engine: self.engine.clone(),
            module,
            points: self.points,
            limits: self.limits.clone(),
        }))
    }
}

struct WasmerModule {
    name: &'static str,
    engine: wasmer::Engine,
    module: Module,
    points: Option<u64>,
    limits: Limits,
}

struct StoreData {
    host: HostState,
    memory: Option<Memory>,
    alloc: Option<TypedFunction<i32, i32>>,
}

fn wasm_type(k: Kind) -> Type {
    match k {
        Kind::U64 | Kind::I64 => Type::I64,
        _ => Type::I32,
    }
}

/// Callbacks resolved once per instance into typed functions.
enum TypedCb {
    P0(TypedFunction<(), ()>),
    P1(TypedFunction<i32, ()>),
    P1R(TypedFunction<i32, i32>),
    P2(TypedFunction<(i32, i32), ()>),
    P2R(TypedFunction<(i32, i32), i32>),
    P3(TypedFunction<(i32, i32, i32), ()>),
    P3R(TypedFunction<(i32, i32, i32), i32>),
    P5(TypedFunction<(i32, i32, i32, i32, i32), ()>),
}

impl LoadedModule for WasmerModule {
    fn instantiate(&self, mut host: HostState) -> Result<Box<dyn Instance>, EngineError> {
        let err = |message: String| EngineError::Instantiate {
            engine: self.name.to_string(),
            message,
        };
        host.bounds = self.limits.host_bounds();
        let mut store = Store::new(self.engine.clone());
        let env = FunctionEnv::new(
            &mut store,
            StoreData {
                host,
                memory: None,
                alloc: None,
            },
        );
        // wasmer's host functions belong to a store, so each instance defines its own.
        let mut imports = Imports::new();
        for f in HOST_FUNCTIONS.iter() {
            if link_typed(&mut store, &env, &mut imports, f).map_err(err)? {
                continue;
            }
            let ty = FunctionType::new(
                f.params.iter().map(|k| wasm_type(*k)).collect::<Vec<_>>(),
                vec![Type::I32; f.results],
            );
            let call = f.call;
            let func = Function::new_with_env(
                &mut store,
                &env,
                ty,
                move |mut env: FunctionEnvMut<StoreData>, params: &[Value]| {
                    let (args, n) = super::args_u64(params.iter().map(|p| match p {
                        Value::I32(v) => *v as u32 as u64,
                        Value::I64(v) => *v as u64,
                        _ => 0,
                    }));
                    let mut mem = WasmerMemory { env: &mut env };
                    let status = functions::call(call, &mut mem, &args[..n])
                        .map_err(|e| RuntimeError::new(e.to_string()))?;
                    Ok(if f.results == 0 {
                        vec![]
                    } else {
                        vec![Value::I32(status as i32)]
                    })
                },
            );
            imports.define(f.module, f.name, func);
        }
        let instance = wasmer::Instance::new(&mut store, &self.module, &imports)
            .map_err(|e| err(e.to_string()))?;
        let memory = instance.exports.get_memory("memory").ok().cloned();
        let mut callbacks = Vec::with_capacity(Callback::ALL.len());
        for cb in Callback::ALL {
            let spec = cb.spec();
            let name = [Some(spec.name), spec.alias]
                .into_iter()
                .flatten()
                .find(|n| instance.exports.get_function(n).is_ok());
            let Some(name) = name else {
                callbacks.push(None);
                continue;
            };
            let e = &instance.exports;
            let s = &store;
            let typed = match (spec.params, spec.ret != Ret::None) {
                (0, false) => e.get_typed_function(s, name).map(TypedCb::P0),
                (1, false) => e.get_typed_function(s, name).map(TypedCb::P1),
                (1, true) => e.get_typed_function(s, name).map(TypedCb::P1R),
                (2, false) => e.get_typed_function(s, name).map(TypedCb::P2),
                (2, true) => e.get_typed_function(s, name).map(TypedCb::P2R),
                (3, false) => e.get_typed_function(s, name).map(TypedCb::P3),
                (3, true) => e.get_typed_function(s, name).map(TypedCb::P3R),
                (5, false) => e.get_typed_function(s, name).map(TypedCb::P5),
                (p, r) => unreachable!("no callback has shape ({p}, {r})"),
            }
            .map_err(|e| err(e.to_string()))?;
            callbacks.push(Some(typed));
        }
        let alloc = match &callbacks[Callback::MemoryAllocate as usize] {
            Some(TypedCb::P1R(f)) => Some(f.clone()),
            _ => None,
        };
        let data = env.as_mut(&mut store);
        data.memory = memory;
        data.alloc = alloc;
        Ok(Box::new(WasmerInstance {
            store,
            env,
            instance,
            callbacks,
            points: self.points,
        }))
    }
}

struct WasmerInstance {
    store: Store,
    env: FunctionEnv<StoreData>,
    instance: wasmer::Instance,
    callbacks: Vec<Option<TypedCb>>,
    points: Option<u64>,
}

impl Instance for WasmerInstance {
    fn call(&mut self, cb: Callback, args: &[u64]) -> Result<Option<u64>, CallError> {
        super::check_arity(cb, args);
        let Some(f) = &self.callbacks[cb as usize] else {
            return Ok(None);
        };
        if let Some(p) = self.points {
            set_remaining_points(&mut self.store, &self.instance, p);
        }
        let a = |i: usize| args[i] as u32 as i32;
        let s = &mut self.store;
        let r = match f {
            TypedCb::P0(f) => f.call(s).map(|_| 0),
            TypedCb::P1(f) => f.call(s, a(0)).map(|_| 0),
            TypedCb::P1R(f) => f.call(s, a(0)),
            TypedCb::P2(f) => f.call(s, a(0), a(1)).map(|_| 0),
            TypedCb::P2R(f) => f.call(s, a(0), a(1)),
            TypedCb::P3(f) => f.call(s, a(0), a(1), a(2)).map(|_| 0),
            TypedCb::P3R(f) => f.call(s, a(0), a(1), a(2)),
            TypedCb::P5(f) => f.call(s, a(0), a(1), a(2), a(3), a(4)).map(|_| 0),
        };
        match r {
            Ok(v) => Ok(Some(super::callback_result(cb, v))),
            Err(e) => {
                let exhausted = self.points.is_some()
                    && get_remaining_points(&mut self.store, &self.instance)
                        == MeteringPoints::Exhausted;
                Err(if exhausted {
                    CallError::CpuLimit {
                        callback: cb.spec().name,
                        bound: format!("{} metering points", self.points.unwrap_or(0)),
                    }
                } else {
                    CallError::Trap {
                        callback: cb.spec().name,
                        message: e.message(),
                    }
                })
            }
        }
    }

    fn host(&mut self) -> &mut HostState {
        &mut self.env.as_mut(&mut self.store).host
    }

    fn memory_bytes(&mut self) -> Option<u64> {
        self.env
            .as_ref(&self.store)
            .memory
            .as_ref()
            .map(|m| m.view(&self.store).data_size())
    }
}

struct WasmerMemory<'a, 'b> {
    env: &'a mut FunctionEnvMut<'b, StoreData>,
}

impl GuestMemory for WasmerMemory<'_, '_> {
    fn ptr_size(&self) -> usize {
        4
    }

    fn read(&mut self, ptr: u64, len: u64) -> Result<Vec<u8>, HostError> {
        let (data, store) = self.env.data_and_store_mut();
        let mem = data
            .memory
            .as_ref()
            .ok_or(HostError::OutOfBounds { ptr, len })?;
        let view = mem.view(&store);
        if ptr
            .checked_add(len)
            .is_none_or(|end| end > view.data_size())
        {
            return Err(HostError::OutOfBounds { ptr, len });
        }
        let mut buf = vec![0u8; len as usize];
        view.read(ptr, &mut buf)
            .map_err(|_| HostError::OutOfBounds { ptr, len })?;
        Ok(buf)
    }

    fn write(&mut self, ptr: u64, bytes: &[u8]) -> Result<(), HostError> {
        let len = bytes.len() as u64;
        let (data, store) = self.env.data_and_store_mut();
        let mem = data
            .memory
            .as_ref()
            .ok_or(HostError::OutOfBounds { ptr, len })?;
        mem.view(&store)
            .write(ptr, bytes)
            .map_err(|_| HostError::OutOfBounds { ptr, len })
    }

    fn alloc(&mut self, size: u64) -> Result<u64, HostError> {
        let f = self
            .env
            .data()
            .alloc
            .clone()
            .ok_or_else(|| HostError::Alloc("module exports no allocator".into()))?;
        let size = super::alloc_size(size)?;
        let p = f
            .call(&mut *self.env, size)
            .map_err(|e| HostError::Alloc(e.message()))?;
        super::alloc_result(p, size)
    }

    fn host(&mut self) -> &mut HostState {
        &mut self.env.data_mut().host
    }
}
