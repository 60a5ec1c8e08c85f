//! The proxy-wasm host, with Envoy as the host: every host call of a filter's native build
//! (through the shim's one entry point) becomes dynamic-module callbacks on the stream being
//! served — headers, bodies, local replies, attributes — the way Envoy's own proxy-wasm host
//! serves a wasm filter. Only state Envoy has no place for (properties set by the filter,
//! metrics, shared data) lives here.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use filterbench_abi::{ImportId, pairs};

use crate::abi::{self, Buf, EnvoyFilter, Header, attr, body};
use crate::vm::{ROOT, Vm};

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;
const BAD_ARGUMENT: u32 = 2;
const CAS_MISMATCH: u32 = 8;
const INTERNAL_FAILURE: u32 = 10;
const UNIMPLEMENTED: u32 = 12;

/// What a callback into the filter is serving.
pub struct Call {
    vm: *const Vm,
    pub filter: EnvoyFilter,
    /// Inside a body hook of this direction (0 request, 1 response): its received chunk is
    /// part of the body the filter sees.
    pub body_hook: Option<u64>,
    /// The filter sent a local reply during the callback.
    pub local_reply: bool,
}

thread_local! {
    static CURRENT: Cell<*mut Call> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs `f` (callbacks into `vm`) with host calls routed to `filter`'s stream; returns its
/// result and whether the filter sent a local reply.
pub fn enter<R>(
    vm: &Vm,
    filter: EnvoyFilter,
    body_hook: Option<u64>,
    f: impl FnOnce(&Vm) -> R,
) -> (R, bool) {
    let mut call = Call {
        vm,
        filter,
        body_hook,
        local_reply: false,
    };
    let prev = CURRENT.with(|c| c.replace(&mut call));
    let r = f(vm);
    CURRENT.with(|c| c.set(prev));
    (r, call.local_reply)
}

/// The shim's host entry point.
pub unsafe extern "C" fn host_entry(id: u32, args: *const u64, nargs: usize) -> u32 {
    let call = CURRENT.with(Cell::get);
    let Some(id) = ImportId::from_index(id) else {
        return INTERNAL_FAILURE;
    };
    if call.is_null() {
        return INTERNAL_FAILURE;
    }
    // SAFETY: CURRENT points at the Call on the stack of `enter`, below this host call; the
    // shim passes its local argument array.
    let (call, a) = unsafe { (&mut *call, std::slice::from_raw_parts(args, nargs)) };
    // SAFETY: the VM outlives `enter`.
    let vm = unsafe { &*call.vm };
    dispatch(id, call, vm, a)
}

/// Bytes the filter passed (its own memory: the filter is trusted native code, as in NullVM).
fn read<'a>(ptr: u64, len: u64) -> &'a [u8] {
    if ptr == 0 || len == 0 {
        return &[];
    }
    // SAFETY: as above.
    unsafe { std::slice::from_raw_parts(ptr as *const u8, len as usize) }
}

fn write<T: Copy>(ptr: u64, v: T) -> bool {
    if ptr == 0 {
        return false;
    }
    // SAFETY: the filter passed a pointer to a T-sized return slot.
    unsafe { (ptr as *mut T).write_unaligned(v) };
    true
}

/// Copies `data` into memory from the filter's allocator (it frees it) and returns it.
fn give(vm: &Vm, data: &[u8], ret_ptr: u64, ret_size: u64) -> u32 {
    let p = vm.alloc(data.len());
    if p.is_null() {
        return INTERNAL_FAILURE;
    }
    // SAFETY: the allocator returned at least data.len() bytes.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
    if write(ret_ptr, p as usize) && write(ret_size, data.len()) {
        OK
    } else {
        BAD_ARGUMENT
    }
}

fn key(ptr: u64, len: u64) -> Vec<u8> {
    read(ptr, len).to_ascii_lowercase()
}

fn headers(f: EnvoyFilter, map: u32) -> Vec<Header> {
    // SAFETY: `f` is the live stream of this callback; the array has the reported size.
    unsafe {
        let n = abi::envoy_dynamic_module_callback_http_get_headers_size(f, map);
        let mut v = vec![
            Header {
                key: Buf::NULL,
                value: Buf::NULL
            };
            n
        ];
        if n > 0 && !abi::envoy_dynamic_module_callback_http_get_headers(f, map, v.as_mut_ptr()) {
            v.clear();
        }
        v
    }
}

/// The chunks of one of the stream's bodies (valid until that body changes).
pub fn body_chunks(f: EnvoyFilter, kind: u32) -> Vec<Buf> {
    // SAFETY: `f` is the live stream of this callback; the array has the reported size.
    unsafe {
        let n = abi::envoy_dynamic_module_callback_http_get_body_chunks_size(f, kind);
        let mut v = vec![Buf::NULL; n];
        if n > 0
            && !abi::envoy_dynamic_module_callback_http_get_body_chunks(f, kind, v.as_mut_ptr())
        {
            v.clear();
        }
        v
    }
}

fn chunks(f: EnvoyFilter, kind: u32, out: &mut Vec<u8>) {
    for c in body_chunks(f, kind) {
        // SAFETY: the chunks are valid until the body changes, which it does not here.
        out.extend_from_slice(unsafe { c.bytes() });
    }
}

/// (received, buffered) body kinds of a proxy-wasm buffer type (0 request, 1 response).
fn body_kinds(t: u64) -> (u32, u32) {
    if t == 0 {
        (body::RECEIVED_REQUEST, body::BUFFERED_REQUEST)
    } else {
        (body::RECEIVED_RESPONSE, body::BUFFERED_RESPONSE)
    }
}

/// The body as the filter sees it: what Envoy buffered so far, then the chunk being received.
fn body_view(call: &Call, t: u64) -> Vec<u8> {
    let (received, buffered) = body_kinds(t);
    let mut out = Vec::new();
    chunks(call.filter, buffered, &mut out);
    if call.body_hook == Some(t) {
        chunks(call.filter, received, &mut out);
    }
    out
}

fn replace_body(call: &Call, t: u64, content: &[u8]) {
    let (received, buffered) = body_kinds(t);
    let f = call.filter;
    // SAFETY: the live stream of this callback.
    unsafe {
        for kind in [buffered, received] {
            if kind == received && call.body_hook != Some(t) {
                continue;
            }
            let mut n = Vec::new();
            chunks(f, kind, &mut n);
            abi::envoy_dynamic_module_callback_http_drain_body(f, kind, n.len());
        }
        let target = if call.body_hook == Some(t) {
            received
        } else {
            buffered
        };
        abi::envoy_dynamic_module_callback_http_append_body(f, target, Buf::of(content));
    }
}

/// Shared data of every VM in the process: key → (value, CAS).
type SharedData = Mutex<HashMap<Vec<u8>, (Vec<u8>, u32)>>;

fn shared() -> &'static SharedData {
    static SHARED: OnceLock<SharedData> = OnceLock::new();
    SHARED.get_or_init(Mutex::default)
}

/// A property the filter asks for (path segments NUL-separated), from Envoy's attributes.
fn property(call: &Call, vm: &Vm, path: &[u8]) -> Option<Vec<u8>> {
    if let Some(v) = vm.properties.borrow().get(path) {
        return Some(v.clone());
    }
    let parts: Vec<&[u8]> = path.split(|b| *b == 0).filter(|p| !p.is_empty()).collect();
    let string = |id| {
        let mut b = Buf::NULL;
        // SAFETY: the live stream; the result is copied at once.
        (!call.filter.is_null()
            && unsafe {
                abi::envoy_dynamic_module_callback_http_filter_get_attribute_string(
                    call.filter,
                    id,
                    &mut b,
                )
            })
        .then(|| unsafe { b.bytes() }.to_vec())
    };
    // Envoy hands integers to proxy-wasm filters as 8 little-endian bytes.
    let int = |id| {
        let mut v = 0u64;
        // SAFETY: as above.
        (!call.filter.is_null()
            && unsafe {
                abi::envoy_dynamic_module_callback_http_filter_get_attribute_int(
                    call.filter,
                    id,
                    &mut v,
                )
            })
        .then(|| v.to_le_bytes().to_vec())
    };
    match parts.as_slice() {
        [b"plugin_name"] | [b"plugin_root_id"] | [b"plugin_vm_id"] => {
            Some(vm.plugin_name.clone().into_bytes())
        }
        [b"request", b"path"] => string(attr::REQUEST_PATH),
        [b"request", b"url_path"] => string(attr::REQUEST_URL_PATH),
        [b"request", b"host"] => string(attr::REQUEST_HOST),
        [b"request", b"scheme"] => string(attr::REQUEST_SCHEME),
        [b"request", b"method"] => string(attr::REQUEST_METHOD),
        [b"request", b"id"] => string(attr::REQUEST_ID),
        [b"request", b"protocol"] => string(attr::REQUEST_PROTOCOL),
        [b"response", b"code"] => int(attr::RESPONSE_CODE),
        [b"source", b"address"] => string(attr::SOURCE_ADDRESS),
        [b"source", b"port"] => int(attr::SOURCE_PORT),
        [b"destination", b"address"] => string(attr::DESTINATION_ADDRESS),
        [b"destination", b"port"] => int(attr::DESTINATION_PORT),
        _ => None,
    }
}

fn dispatch(id: ImportId, call: &mut Call, vm: &Vm, a: &[u64]) -> u32 {
    use ImportId::*;
    let f = call.filter;
    let stream = !f.is_null();
    let map = |t: u64| (stream && t < abi::HEADER_TYPES).then_some(t as u32);
    match id {
        proxy_log => {
            let level = a[0] as u32;
            let msg = read(a[1], a[2]);
            // SAFETY: the message outlives the call.
            unsafe { abi::envoy_dynamic_module_callback_log(level, Buf::of(msg)) };
            OK
        }
        proxy_get_log_level => {
            // SAFETY: a plain query.
            let level = (0..=5u32)
                .find(|l| unsafe { abi::envoy_dynamic_module_callback_log_enabled(*l) })
                .unwrap_or(5);
            if write(a[0], level) { OK } else { BAD_ARGUMENT }
        }
        proxy_get_current_time_nanoseconds => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            if write(a[0], now) { OK } else { BAD_ARGUMENT }
        }
        // No timers are driven by this host; the filters measured here set none.
        proxy_set_tick_period_milliseconds => OK,
        proxy_get_buffer_bytes => {
            let data = match a[0] {
                0 | 1 if stream => body_view(call, a[0]),
                7 => vm.plugin_config.clone(),
                _ => return NOT_FOUND,
            };
            let (start, max) = (a[1] as usize, a[2] as usize);
            if start > data.len() {
                return BAD_ARGUMENT;
            }
            let part = &data[start..start.saturating_add(max).min(data.len())];
            if part.is_empty() {
                write(a[3], 0usize);
                write(a[4], 0usize);
                return OK;
            }
            give(vm, part, a[3], a[4])
        }
        proxy_set_buffer_bytes => {
            if !(stream && a[0] <= 1) {
                return NOT_FOUND;
            }
            let old = body_view(call, a[0]);
            let (start, size) = (a[1] as usize, a[2] as usize);
            if start > old.len() {
                return BAD_ARGUMENT;
            }
            let end = start.saturating_add(size).min(old.len());
            let mut new = old[..start].to_vec();
            new.extend_from_slice(read(a[3], a[4]));
            new.extend_from_slice(&old[end..]);
            replace_body(call, a[0], &new);
            OK
        }
        proxy_get_header_map_pairs => {
            let Some(t) = map(a[0]) else { return NOT_FOUND };
            let hs = headers(f, t);
            // SAFETY: the header buffers are valid during this callback.
            let list: Vec<(&[u8], &[u8])> = hs
                .iter()
                .map(|h| unsafe { (h.key.bytes(), h.value.bytes()) })
                .collect();
            give(vm, &pairs::serialize(&list), a[1], a[2])
        }
        proxy_set_header_map_pairs => {
            let Some(t) = map(a[0]) else { return NOT_FOUND };
            let Some(new) = pairs::deserialize(read(a[1], a[2])) else {
                return BAD_ARGUMENT;
            };
            // SAFETY: the live stream; keys are copied before the map changes.
            let old: Vec<Vec<u8>> = headers(f, t)
                .iter()
                .map(|h| unsafe { h.key.bytes() }.to_vec())
                .collect();
            unsafe {
                for k in old.iter().filter(|k| !new.iter().any(|(n, _)| n == *k)) {
                    abi::envoy_dynamic_module_callback_http_set_header(f, t, Buf::of(k), Buf::NULL);
                }
                for (i, (k, v)) in new.iter().enumerate() {
                    let k = k.to_ascii_lowercase();
                    if new[..i].iter().any(|(p, _)| p.eq_ignore_ascii_case(&k)) {
                        abi::envoy_dynamic_module_callback_http_add_header(
                            f,
                            t,
                            Buf::of(&k),
                            Buf::of(v),
                        );
                    } else {
                        abi::envoy_dynamic_module_callback_http_set_header(
                            f,
                            t,
                            Buf::of(&k),
                            Buf::of(v),
                        );
                    }
                }
            }
            OK
        }
        proxy_get_header_map_value => {
            let Some(t) = map(a[0]) else { return NOT_FOUND };
            let k = key(a[1], a[2]);
            let mut v = Buf::NULL;
            // SAFETY: the live stream; the value is copied at once.
            let found = unsafe {
                abi::envoy_dynamic_module_callback_http_get_header(
                    f,
                    t,
                    Buf::of(&k),
                    &mut v,
                    0,
                    std::ptr::null_mut(),
                )
            };
            if !found {
                return NOT_FOUND;
            }
            give(vm, unsafe { v.bytes() }, a[3], a[4])
        }
        proxy_remove_header_map_value
        | proxy_replace_header_map_value
        | proxy_add_header_map_value => {
            let Some(t) = map(a[0]) else { return NOT_FOUND };
            let k = key(a[1], a[2]);
            // SAFETY: the live stream; Envoy copies key and value.
            unsafe {
                match id {
                    proxy_remove_header_map_value => {
                        abi::envoy_dynamic_module_callback_http_set_header(
                            f,
                            t,
                            Buf::of(&k),
                            Buf::NULL,
                        )
                    }
                    proxy_replace_header_map_value => {
                        abi::envoy_dynamic_module_callback_http_set_header(
                            f,
                            t,
                            Buf::of(&k),
                            Buf::of(read(a[3], a[4])),
                        )
                    }
                    _ => abi::envoy_dynamic_module_callback_http_add_header(
                        f,
                        t,
                        Buf::of(&k),
                        Buf::of(read(a[3], a[4])),
                    ),
                };
            }
            OK
        }
        proxy_get_property => match property(call, vm, read(a[0], a[1])) {
            Some(v) => give(vm, &v, a[2], a[3]),
            None => NOT_FOUND,
        },
        proxy_set_property => {
            vm.properties
                .borrow_mut()
                .insert(read(a[0], a[1]).to_vec(), read(a[2], a[3]).to_vec());
            OK
        }
        proxy_get_shared_data => {
            let data = shared().lock().unwrap_or_else(|e| e.into_inner());
            match data.get(read(a[0], a[1])) {
                None => NOT_FOUND,
                Some((v, cas)) => {
                    let st = give(vm, v, a[2], a[3]);
                    if st == OK && !write(a[4], *cas) {
                        return BAD_ARGUMENT;
                    }
                    st
                }
            }
        }
        proxy_set_shared_data => {
            let mut data = shared().lock().unwrap_or_else(|e| e.into_inner());
            let k = read(a[0], a[1]).to_vec();
            let cas = a[4] as u32;
            let cur = data.get(&k).map_or(0, |(_, c)| *c);
            if cas != 0 && cas != cur {
                return CAS_MISMATCH;
            }
            data.insert(k, (read(a[2], a[3]).to_vec(), cur.wrapping_add(1).max(1)));
            OK
        }
        proxy_continue_stream => {
            if !stream {
                return NOT_FOUND;
            }
            // SAFETY: the live stream.
            unsafe {
                match a[0] {
                    0 => abi::envoy_dynamic_module_callback_http_filter_continue_decoding(f),
                    1 => abi::envoy_dynamic_module_callback_http_filter_continue_encoding(f),
                    _ => return BAD_ARGUMENT,
                }
            }
            OK
        }
        proxy_send_local_response => {
            if !stream {
                return NOT_FOUND;
            }
            let Some(hs) = pairs::deserialize(read(a[5], a[6])) else {
                return BAD_ARGUMENT;
            };
            let mut list: Vec<Header> = hs
                .iter()
                .map(|(k, v)| Header {
                    key: Buf::of(k),
                    value: Buf::of(v),
                })
                .collect();
            // SAFETY: the live stream; Envoy copies everything.
            unsafe {
                abi::envoy_dynamic_module_callback_http_send_response(
                    f,
                    a[0] as u32,
                    list.as_mut_ptr(),
                    list.len(),
                    Buf::of(read(a[3], a[4])),
                    Buf::of(read(a[1], a[2])),
                )
            };
            call.local_reply = true;
            OK
        }
        proxy_set_effective_context => {
            let ctx = a[0] as u32;
            if ctx == ROOT {
                call.filter = std::ptr::null_mut();
                return OK;
            }
            match vm.streams.borrow().get(&ctx) {
                Some(fe) => {
                    call.filter = *fe;
                    OK
                }
                None => BAD_ARGUMENT,
            }
        }
        proxy_done => OK,
        // Like a stock Envoy: no foreign functions registered.
        proxy_call_foreign_function => NOT_FOUND,
        proxy_define_metric => {
            let name = read(a[1], a[2]).to_vec();
            let mut m = vm.metrics.borrow_mut();
            let id = match m.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    m.push((name, 0));
                    m.len() - 1
                }
            };
            if write(a[3], id as u32 + 1) {
                OK
            } else {
                BAD_ARGUMENT
            }
        }
        proxy_get_metric | proxy_record_metric | proxy_increment_metric => {
            let mut m = vm.metrics.borrow_mut();
            let Some(slot) = (a[0] as usize).checked_sub(1).and_then(|i| m.get_mut(i)) else {
                return NOT_FOUND;
            };
            match id {
                proxy_get_metric => {
                    if !write(a[1], slot.1 as u64) {
                        return BAD_ARGUMENT;
                    }
                }
                proxy_record_metric => slot.1 = a[1] as i64,
                _ => slot.1 = slot.1.wrapping_add(a[1] as i64),
            }
            OK
        }
        // No upstream calls, queues or stream closing from this host (counted as unimplemented,
        // as in the in-process host).
        proxy_register_shared_queue
        | proxy_resolve_shared_queue
        | proxy_dequeue_shared_queue
        | proxy_enqueue_shared_queue
        | proxy_close_stream
        | proxy_http_call
        | proxy_grpc_call
        | proxy_grpc_stream
        | proxy_grpc_send
        | proxy_grpc_cancel
        | proxy_grpc_close
        | proxy_get_status => UNIMPLEMENTED,
    }
}
