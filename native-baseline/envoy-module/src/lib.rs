//! An Envoy dynamic module that runs the native build of a proxy-wasm filter inside Envoy:
//! the same library the in-process `native` arm loads, driven by Envoy's HTTP filter hooks,
//! its host calls served by Envoy's dynamic-module callbacks — NullVM inside a real Envoy.
//!
//! Configuration (the filter's `filter_config`, a `StringValue`): the path of the filter's
//! native library, a newline, then the plugin configuration sent as is. Built against the
//! dynamic-modules ABI of Envoy 1.40 (`v0.2.0`).

mod abi;
mod host;
mod vm;

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use abi::{Buf, EnvoyFilter, status};
use vm::{Cb, Vm};

/// One filter configuration: shared by every worker (Envoy creates it on the main thread).
struct Config {
    id: u64,
    name: String,
    library: PathBuf,
    bytes: Vec<u8>,
    plugin_config: Vec<u8>,
}

/// One stream: its context in the worker's VM.
struct Stream {
    vm: *const Vm,
    context: u32,
}

thread_local! {
    /// This worker's VMs, one per configuration (VMs are per worker, as with wasm in Envoy).
    static VMS: RefCell<HashMap<u64, Box<Vm>>> = RefCell::default();
}

fn start_vm(c: &Config) -> Result<Box<Vm>, String> {
    let vm = Vm::load(
        &c.library,
        &c.bytes,
        &c.name,
        &c.plugin_config,
        host::host_entry,
    )?;
    let (ok, _) = host::enter(&vm, std::ptr::null_mut(), None, |vm| vm.initialize());
    if !ok {
        return Err(format!(
            "{}: the filter refused its configuration (its log says why)",
            c.library.display()
        ));
    }
    Ok(vm)
}

/// The VM of this worker for `c`, started on first use.
fn worker_vm(c: &Config) -> Option<*const Vm> {
    VMS.with(|vms| {
        let mut vms = vms.borrow_mut();
        if let Some(vm) = vms.get(&c.id) {
            return Some(&**vm as *const Vm);
        }
        match start_vm(c) {
            Ok(vm) => {
                let p = &*vm as *const Vm;
                vms.insert(c.id, vm);
                Some(p)
            }
            Err(e) => {
                abi::log(4, &format!("filterbench-envoy-module: {e}"));
                None
            }
        }
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    // A test hook: report another ABI version, to prove the suite notices Envoy's warning.
    if let Ok(v) = std::env::var("FILTERBENCH_ENVOY_MODULE_ABI") {
        return Box::leak(format!("{v}\0").into_boxed_str()).as_ptr().cast();
    }
    abi::ABI_VERSION.as_ptr()
}

static NEXT_CONFIG: AtomicU64 = AtomicU64::new(1);

/// # Safety
/// Called by Envoy with buffers valid for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    _config_envoy: *mut c_void,
    name: Buf,
    config: Buf,
) -> *const c_void {
    let (name, config) = unsafe { (name.bytes(), config.bytes()) };
    let name = String::from_utf8_lossy(name).into_owned();
    let (library, plugin_config) = match config.iter().position(|b| *b == b'\n') {
        Some(i) => (&config[..i], &config[i + 1..]),
        None => (config, &[][..]),
    };
    let library = PathBuf::from(String::from_utf8_lossy(library).into_owned());
    let bytes = match std::fs::read(&library) {
        Ok(b) => b,
        Err(e) => {
            abi::log(
                5,
                &format!(
                    "filterbench-envoy-module: cannot read the filter library {}: {e}",
                    library.display()
                ),
            );
            return std::ptr::null();
        }
    };
    let c = Config {
        id: NEXT_CONFIG.fetch_add(1, Ordering::Relaxed),
        name,
        library,
        bytes,
        plugin_config: plugin_config.to_vec(),
    };
    // Prove the filter loads and accepts its configuration now, so a bad one fails Envoy's
    // start with the reason in its log instead of failing every request.
    if let Err(e) = start_vm(&c) {
        abi::log(5, &format!("filterbench-envoy-module: {e}"));
        return std::ptr::null();
    }
    Box::into_raw(Box::new(c)) as *const c_void
}

/// # Safety
/// `config` came from config_new.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: *const c_void) {
    drop(unsafe { Box::from_raw(config as *mut Config) });
}

/// # Safety
/// `config` came from config_new and outlives its filters.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_new(
    config: *const c_void,
    filter: EnvoyFilter,
) -> *const c_void {
    let c = unsafe { &*(config as *const Config) };
    let Some(vm) = worker_vm(c) else {
        return std::ptr::null();
    };
    // SAFETY: the worker's VMs live as long as the thread.
    let v = unsafe { &*vm };
    let context = v.new_context();
    v.streams.borrow_mut().insert(context, filter);
    host::enter(v, filter, None, |vm| {
        vm.call(Cb::ContextCreate, &[context as usize, vm::ROOT as usize])
    });
    Box::into_raw(Box::new(Stream { vm, context })) as *const c_void
}

/// Runs a stream callback; returns the hook status for the filter's action.
fn stream_call(
    filter: EnvoyFilter,
    module: *const c_void,
    body_hook: Option<u64>,
    cb: Cb,
    args: impl FnOnce(&Vm) -> Vec<usize>,
) -> u32 {
    // SAFETY: `module` came from filter_new and lives until filter_destroy.
    let s = unsafe { &*(module as *const Stream) };
    let vm = unsafe { &*s.vm };
    let (action, local_reply) = host::enter(vm, filter, body_hook, |vm| {
        let mut a = vec![s.context as usize];
        a.extend(args(vm));
        vm.call(cb, &a)
    });
    // proxy-wasm: 0 Continue, 1 Pause. A filter that replied itself stops the chain.
    if local_reply || action.is_some_and(|a| a as u32 != 0) {
        status::STOP
    } else {
        status::CONTINUE
    }
}

fn header_count(filter: EnvoyFilter, t: u32) -> usize {
    // SAFETY: the live stream.
    unsafe { abi::envoy_dynamic_module_callback_http_get_headers_size(filter, t) }
}

fn body_size(filter: EnvoyFilter, received: u32, buffered: u32) -> usize {
    [buffered, received]
        .into_iter()
        .flat_map(|kind| host::body_chunks(filter, kind))
        .map(|c| c.len)
        .sum()
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    f: EnvoyFilter,
    m: *const c_void,
    end_of_stream: bool,
) -> u32 {
    stream_call(f, m, None, Cb::RequestHeaders, |_| {
        vec![header_count(f, 0), usize::from(end_of_stream)]
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
    f: EnvoyFilter,
    m: *const c_void,
    end_of_stream: bool,
) -> u32 {
    let size = body_size(f, abi::body::RECEIVED_REQUEST, abi::body::BUFFERED_REQUEST);
    stream_call(f, m, Some(0), Cb::RequestBody, |_| {
        vec![size, usize::from(end_of_stream)]
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
    f: EnvoyFilter,
    m: *const c_void,
) -> u32 {
    stream_call(f, m, None, Cb::RequestTrailers, |_| {
        vec![header_count(f, 1)]
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    f: EnvoyFilter,
    m: *const c_void,
    end_of_stream: bool,
) -> u32 {
    stream_call(f, m, None, Cb::ResponseHeaders, |_| {
        vec![header_count(f, 2), usize::from(end_of_stream)]
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(
    f: EnvoyFilter,
    m: *const c_void,
    end_of_stream: bool,
) -> u32 {
    let size = body_size(
        f,
        abi::body::RECEIVED_RESPONSE,
        abi::body::BUFFERED_RESPONSE,
    );
    stream_call(f, m, Some(1), Cb::ResponseBody, |_| {
        vec![size, usize::from(end_of_stream)]
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
    f: EnvoyFilter,
    m: *const c_void,
) -> u32 {
    stream_call(f, m, None, Cb::ResponseTrailers, |_| {
        vec![header_count(f, 3)]
    })
}

/// The stream is over: the filter's log and done callbacks (Envoy's wasm order).
#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(
    f: EnvoyFilter,
    m: *const c_void,
) {
    stream_call(f, m, None, Cb::Log, |_| Vec::new());
    stream_call(f, m, None, Cb::Done, |_| Vec::new());
}

/// # Safety
/// `m` came from filter_new; Envoy calls this once per stream.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_destroy(m: *const c_void) {
    let s = unsafe { Box::from_raw(m as *mut Stream) };
    let vm = unsafe { &*s.vm };
    vm.streams.borrow_mut().remove(&s.context);
    // Envoy's stream object is going away: host calls from on_delete find no stream.
    host::enter(vm, std::ptr::null_mut(), None, |vm| {
        vm.call(Cb::Delete, &[s.context as usize])
    });
}

// Hooks Envoy requires of every HTTP filter module; this host starts no callouts, streams
// or scheduled events, and ignores watermarks.
#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    _f: EnvoyFilter,
    _m: *const c_void,
    _id: u64,
    _result: u32,
    _headers: *mut abi::Header,
    _headers_len: usize,
    _body: *mut Buf,
    _body_len: usize,
) {
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    _f: EnvoyFilter,
    _m: *const c_void,
    _id: u64,
    _headers: *mut abi::Header,
    _len: usize,
    _end_stream: bool,
) {
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    _f: EnvoyFilter,
    _m: *const c_void,
    _id: u64,
    _data: *const Buf,
    _len: usize,
    _end_stream: bool,
) {
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    _f: EnvoyFilter,
    _m: *const c_void,
    _id: u64,
    _trailers: *mut abi::Header,
    _len: usize,
) {
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(
    _f: EnvoyFilter,
    _m: *const c_void,
    _id: u64,
) {
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
    _f: EnvoyFilter,
    _m: *const c_void,
    _id: u64,
    _reason: u32,
) {
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(
    _f: EnvoyFilter,
    _m: *const c_void,
    _event: u64,
) {
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    _f: EnvoyFilter,
    _m: *const c_void,
) {
}

#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    _f: EnvoyFilter,
    _m: *const c_void,
) {
}
