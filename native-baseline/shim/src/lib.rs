//! Native builds of the filters link this crate: it defines every `proxy_*` host function the
//! SDK declares as `extern "C"`, each forwarding to one host entry point installed at load
//! time by `filterbench_native_init`. The filter calls the host directly, as under Envoy's
//! NullVM; the cost is one indirect call per host call.
//!
//! Filters get it through `filters/common`, which references it on non-wasm targets.
#![cfg(not(target_family = "wasm"))]

use core::sync::atomic::{AtomicUsize, Ordering};
use filterbench_abi::{ImportId, NATIVE_SHIM_VERSION, NativeHostCall, for_each_import};

/// The host's entry point, stored as an address (0 = not installed yet).
static HOST: AtomicUsize = AtomicUsize::new(0);

const STATUS_INTERNAL_FAILURE: u32 = 10;

/// Called by the host right after loading the library. Returns the shim protocol version so the
/// host can refuse a library built against another one.
///
/// # Safety
/// `host` must stay valid for as long as the library is loaded.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn filterbench_native_init(host: NativeHostCall) -> u32 {
    HOST.store(host as usize, Ordering::Release);
    NATIVE_SHIM_VERSION
}

#[inline(always)]
fn forward(id: ImportId, args: &[u64]) -> u32 {
    let host = HOST.load(Ordering::Acquire);
    if host == 0 {
        return STATUS_INTERNAL_FAILURE;
    }
    // SAFETY: only filterbench_native_init stores non-zero values, and those are NativeHostCall.
    let host: NativeHostCall = unsafe { core::mem::transmute::<usize, NativeHostCall>(host) };
    unsafe { host(id as u32, args.as_ptr(), args.len()) }
}

macro_rules! native_ty {
    (U32) => {
        u32
    };
    (I32) => {
        i32
    };
    (U64) => {
        u64
    };
    (I64) => {
        i64
    };
    (Bool) => {
        bool
    };
    (Ptr) => {
        usize
    };
    (Size) => {
        usize
    };
}

macro_rules! define_shims {
    ($($name:ident($($arg:ident : $kind:ident),*);)*) => {
        $(
            /// Forwards to the host (see the crate docs).
            #[unsafe(no_mangle)]
            pub extern "C" fn $name($($arg: native_ty!($kind)),*) -> u32 {
                // Signed values are sign-extended; the host reads them back per their Kind.
                forward(ImportId::$name, &[$($arg as u64),*])
            }
        )*
    };
}
for_each_import!(define_shims);
