//! Engine-independent checks of a `.wasm` before any engine sees it, so a bad module is
//! refused with the same clear message on every engine.

use filterbench_abi::Kind;
use filterbench_results::vocab::arm;
use wasmparser::{Parser, Payload, TypeRef, ValType, Validator, WasmFeatures};

use super::callbacks::{ABI_MARKERS_ACCEPTED, Callback};

/// Deepest block nesting (block, loop, if, try) a function may have. Compile time grows
/// with it on some compilers (1M nested blocks took > 90 s on wasmer-cranelift); real code,
/// even a large `match` lowered to nested blocks, stays in the hundreds.
pub const MAX_NESTING_DEPTH: u32 = 10_000;

/// Most tables a module may declare: each may grow to `Limits::max_table_elements`, so
/// their number bounds table memory too. Toolchains emit one.
pub const MAX_TABLES: u32 = 16;

/// A WebAssembly proposal that some engines here do not run, as they are configured in
/// `engines/`. Left to the engines, such a module loads on some arms and fails on others with
/// each engine's own words; refused here, every arm gives the same answer.
#[derive(Debug)]
pub struct Proposal {
    /// What the refusal calls it.
    pub name: &'static str,
    /// The wasmparser features that gate it.
    pub features: WasmFeatures,
    /// The arms (`engines::REGISTRY` names) that refuse or cannot compile it.
    pub missing_on: &'static [&'static str],
}

/// Every proposal wasmparser validates by default that not every engine runs, found by
/// loading a module that uses each on every arm (wasmtime 48 without its `gc` and `threads`
/// cargo features, wasmer 7.4, wasmi 2 without `simd`; winch's SIMD needs x86-64 AVX).
/// The more specific proposal comes first: a module's refusal names the first one it uses.
/// Every engine runs the rest (multi-value, bulk memory, sign extension, saturating
/// float-to-int, funcref reference types, extended const), so they pass; a second memory is
/// refused below by count, as the host has one.
pub const PROPOSALS: &[Proposal] = &[
    Proposal {
        name: "garbage collection (struct and array types)",
        features: WasmFeatures::GC,
        missing_on: &[
            arm::WASMTIME_CRANELIFT,
            arm::WASMTIME_WINCH,
            arm::WASMER_CRANELIFT,
            arm::WASMER_SINGLEPASS,
            arm::WASMI,
        ],
    },
    Proposal {
        name: "GC-managed references (externref, anyref, ...)",
        features: WasmFeatures::GC_TYPES,
        missing_on: &[arm::WASMTIME_CRANELIFT, arm::WASMTIME_WINCH],
    },
    Proposal {
        name: "typed function references (call_ref, (ref $t))",
        features: WasmFeatures::FUNCTION_REFERENCES,
        missing_on: &[
            arm::WASMTIME_WINCH,
            arm::WASMER_CRANELIFT,
            arm::WASMER_SINGLEPASS,
            arm::WASMI,
        ],
    },
    Proposal {
        name: "exception handling (tags, throw, try_table)",
        features: WasmFeatures::EXCEPTIONS,
        missing_on: &[
            arm::WASMTIME_CRANELIFT,
            arm::WASMTIME_WINCH,
            arm::WASMER_SINGLEPASS,
            arm::WASMI,
        ],
    },
    Proposal {
        name: "memory64 (64-bit memories and tables)",
        features: WasmFeatures::MEMORY64,
        missing_on: &[arm::WASMER_CRANELIFT, arm::WASMER_SINGLEPASS],
    },
    Proposal {
        name: "threads (shared memory and atomics)",
        features: WasmFeatures::THREADS,
        missing_on: &[arm::WASMTIME_CRANELIFT, arm::WASMTIME_WINCH, arm::WASMI],
    },
    Proposal {
        name: "relaxed SIMD",
        features: WasmFeatures::RELAXED_SIMD,
        missing_on: &[arm::WASMTIME_WINCH, arm::WASMER_SINGLEPASS, arm::WASMI],
    },
    Proposal {
        name: "SIMD (v128)",
        features: WasmFeatures::SIMD,
        missing_on: &[arm::WASMER_SINGLEPASS, arm::WASMI],
    },
    Proposal {
        name: "tail calls (return_call)",
        features: WasmFeatures::TAIL_CALL,
        missing_on: &[
            arm::WASMTIME_WINCH,
            arm::WASMER_CRANELIFT,
            arm::WASMER_SINGLEPASS,
        ],
    },
];

/// What a module may use: wasmparser's defaults without [`PROPOSALS`].
pub fn allowed_features() -> WasmFeatures {
    PROPOSALS
        .iter()
        .fold(WasmFeatures::default(), |f, p| f.difference(p.features))
}

fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("not a WebAssembly module (no \\0asm header)")]
    NotWasm,
    #[error("invalid WebAssembly module: {0}")]
    Invalid(String),
    #[error(
        "module uses {}, which not every engine here runs: {} {} not",
        .proposal.name,
        and_list(.proposal.missing_on),
        if .proposal.missing_on.len() == 1 { "does" } else { "do" }
    )]
    Unsupported { proposal: &'static Proposal },
    #[error(
        "not a proxy-wasm 0.2.1 module: it exports no proxy_abi_version_0_2_1 marker{}",
        if .found.is_empty() { String::new() } else { format!(" (it has {})", .found.join(", ")) }
    )]
    AbiVersion { found: Vec<String> },
    #[error("module does not export `{0}`, which proxy-wasm requires")]
    MissingExport(&'static str),
    #[error("module imports unknown host function `{module}.{name}`")]
    UnknownImport { module: String, name: String },
    #[error("module imports `{name}` with type {found}, but the ABI says {expected}")]
    ImportSignature {
        name: String,
        expected: String,
        found: String,
    },
    #[error("module declares {found} {what}; at most {max} are allowed")]
    TooMany {
        what: &'static str,
        found: u32,
        max: u32,
    },
    #[error(
        "function {func} nests blocks more than {max} deep (`MAX_NESTING_DEPTH`, a bound on \
         compile time)"
    )]
    NestingTooDeep { func: u32, max: u32 },
    #[error("module exports `{name}` with type {found}, but the ABI says {expected}")]
    ExportSignature {
        name: String,
        expected: String,
        found: String,
    },
}

/// What the checks learned about a module.
#[derive(Clone, Debug, Default)]
pub struct ModuleInfo {
    pub abi_marker: String,
    pub imports: Vec<(String, String)>,
    pub exports: Vec<String>,
    pub size_bytes: usize,
}

fn sig(params: &[ValType], results: &[ValType]) -> String {
    let f = |v: &[ValType]| {
        v.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", f(params), f(results))
}

fn kind_type(k: Kind) -> ValType {
    match k {
        Kind::U64 | Kind::I64 => ValType::I64,
        _ => ValType::I32,
    }
}

/// Validates `wasm` and checks it against the proxy-wasm 0.2.1 contract.
pub fn check(wasm: &[u8]) -> Result<ModuleInfo, ModuleError> {
    if !wasm.starts_with(b"\0asm") {
        return Err(ModuleError::NotWasm);
    }
    validate(wasm)?;

    let mut types: Vec<(Vec<ValType>, Vec<ValType>)> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut info = ModuleInfo {
        size_bytes: wasm.len(),
        ..Default::default()
    };
    let mut exported_funcs: Vec<(String, u32)> = Vec::new();
    let mut has_memory = false;
    // Function indices count imported functions first.
    let mut first_defined = 0u32;
    let mut code_entries = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| ModuleError::Invalid(e.to_string()))? {
            Payload::TableSection(r) => at_most("tables", r.count(), MAX_TABLES)?,
            // Memory imports are refused as unknown host functions, so this is all of them.
            Payload::MemorySection(r) => at_most("memories", r.count(), 1)?,
            Payload::CodeSectionEntry(body) => {
                check_nesting(&body, first_defined + code_entries)?;
                code_entries += 1;
            }
            Payload::TypeSection(r) => {
                for ty in r.into_iter_err_on_gc_types() {
                    let f = ty.map_err(|e| ModuleError::Invalid(e.to_string()))?;
                    types.push((f.params().to_vec(), f.results().to_vec()));
                }
            }
            Payload::ImportSection(r) => {
                for imp in r.into_imports() {
                    let imp = imp.map_err(|e| ModuleError::Invalid(e.to_string()))?;
                    let TypeRef::Func(ti) = imp.ty else {
                        return Err(ModuleError::UnknownImport {
                            module: imp.module.to_string(),
                            name: imp.name.to_string(),
                        });
                    };
                    func_types.push(ti);
                    check_import(imp.module, imp.name, &types[ti as usize])?;
                    info.imports
                        .push((imp.module.to_string(), imp.name.to_string()));
                }
            }
            Payload::FunctionSection(r) => {
                first_defined = func_types.len() as u32;
                for ti in r {
                    func_types.push(ti.map_err(|e| ModuleError::Invalid(e.to_string()))?);
                }
            }
            Payload::ExportSection(r) => {
                for exp in r {
                    let exp = exp.map_err(|e| ModuleError::Invalid(e.to_string()))?;
                    match exp.kind {
                        wasmparser::ExternalKind::Func => {
                            exported_funcs.push((exp.name.to_string(), exp.index))
                        }
                        wasmparser::ExternalKind::Memory if exp.name == "memory" => {
                            has_memory = true
                        }
                        _ => {}
                    }
                    info.exports.push(exp.name.to_string());
                }
            }
            _ => {}
        }
    }

    let markers: Vec<String> = exported_funcs
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n.starts_with("proxy_abi_version_"))
        .collect();
    info.abi_marker = markers
        .iter()
        .find(|m| ABI_MARKERS_ACCEPTED.contains(&m.as_str()))
        .cloned()
        .ok_or(ModuleError::AbiVersion { found: markers })?;
    if !has_memory {
        return Err(ModuleError::MissingExport("memory"));
    }
    let func_sig = |idx: u32| &types[func_types[idx as usize] as usize];
    let mut has_alloc = false;
    for cb in Callback::ALL {
        let spec = cb.spec();
        let Some((name, idx)) = exported_funcs
            .iter()
            .find(|(n, _)| n == spec.name || Some(n.as_str()) == spec.alias)
        else {
            continue;
        };
        has_alloc |= *cb == Callback::MemoryAllocate;
        let (p, r) = func_sig(*idx);
        let want_p = vec![ValType::I32; spec.params];
        let want_r = if spec.ret == super::callbacks::Ret::None {
            vec![]
        } else {
            vec![ValType::I32]
        };
        if *p != want_p || *r != want_r {
            return Err(ModuleError::ExportSignature {
                name: name.clone(),
                expected: sig(&want_p, &want_r),
                found: sig(p, r),
            });
        }
    }
    if !has_alloc {
        return Err(ModuleError::MissingExport("proxy_on_memory_allocate"));
    }
    Ok(info)
}

/// Validates against [`allowed_features`]; a module refused there but valid with every
/// default feature is named by the first of [`PROPOSALS`] it cannot do without. Only a
/// refused module is validated more than once.
fn validate(wasm: &[u8]) -> Result<(), ModuleError> {
    let Err(refused) = Validator::new_with_features(allowed_features()).validate_all(wasm) else {
        return Ok(());
    };
    if let Err(e) = Validator::new().validate_all(wasm) {
        return Err(ModuleError::Invalid(e.to_string()));
    }
    let needs = |p: &Proposal| {
        let without = WasmFeatures::default().difference(p.features);
        Validator::new_with_features(without)
            .validate_all(wasm)
            .is_err()
    };
    match PROPOSALS.iter().find(|p| needs(p)) {
        Some(proposal) => Err(ModuleError::Unsupported { proposal }),
        // Refused only for a combination, no one proposal alone: not expected; say what failed.
        None => Err(ModuleError::Invalid(refused.to_string())),
    }
}

fn at_most(what: &'static str, found: u32, max: u32) -> Result<(), ModuleError> {
    if found > max {
        return Err(ModuleError::TooMany { what, found, max });
    }
    Ok(())
}

/// Refuses a function whose blocks nest deeper than [`MAX_NESTING_DEPTH`].
fn check_nesting(body: &wasmparser::FunctionBody<'_>, func: u32) -> Result<(), ModuleError> {
    use wasmparser::Operator as Op;
    let invalid = |e: wasmparser::BinaryReaderError| ModuleError::Invalid(e.to_string());
    let mut ops = body.get_operators_reader().map_err(invalid)?;
    let mut depth = 0u32;
    while !ops.eof() {
        match ops.read().map_err(invalid)? {
            Op::Block { .. } | Op::Loop { .. } | Op::If { .. } | Op::TryTable { .. } => {
                depth += 1;
                if depth > MAX_NESTING_DEPTH {
                    return Err(ModuleError::NestingTooDeep {
                        func,
                        max: MAX_NESTING_DEPTH,
                    });
                }
            }
            // The validator has checked the structure; the function's own `end` ends at 0.
            Op::End => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn check_import(
    module: &str,
    name: &str,
    ty: &(Vec<ValType>, Vec<ValType>),
) -> Result<(), ModuleError> {
    let f = super::functions::find(module, name).ok_or_else(|| ModuleError::UnknownImport {
        module: module.to_string(),
        name: name.to_string(),
    })?;
    let want_p: Vec<ValType> = f.params.iter().map(|k| kind_type(*k)).collect();
    let want_r = vec![ValType::I32; f.results];
    if ty.0 != want_p || ty.1 != want_r {
        return Err(ModuleError::ImportSignature {
            name: name.to_string(),
            expected: sig(&want_p, &want_r),
            found: sig(&ty.0, &ty.1),
        });
    }
    Ok(())
}
