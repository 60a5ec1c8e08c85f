//! The proxy-wasm ABI 0.2.1 host functions ("imports" of a filter), described once.
//!
//! The list is a macro so that two very different consumers expand it without repeating it:
//! the host in `runners/` builds its dispatch table and engine import tables from [`IMPORTS`],
//! and the native shim (`native-baseline/shim`) expands it into real `extern "C"` symbols that
//! forward to the host, which is what lets an unchanged SDK filter link natively.
#![no_std]

extern crate alloc;

/// How a parameter is passed. `Ptr`/`Size` are `i32` in wasm32 and 64-bit natively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    U32,
    I32,
    U64,
    I64,
    Bool,
    Ptr,
    Size,
}

/// Every proxy-wasm 0.2.1 host function the Rust SDK (and the spec) may import.
/// Each takes the listed parameters and returns a `Status` (`u32`).
#[macro_export]
macro_rules! for_each_import {
    ($m:ident) => {
        $m! {
            proxy_log(level: U32, message_data: Ptr, message_size: Size);
            proxy_get_log_level(return_level: Ptr);
            proxy_get_current_time_nanoseconds(return_time: Ptr);
            proxy_set_tick_period_milliseconds(period: U32);
            proxy_get_buffer_bytes(buffer_type: U32, start: Size, max_size: Size, return_data: Ptr, return_size: Ptr);
            proxy_set_buffer_bytes(buffer_type: U32, start: Size, size: Size, data: Ptr, data_size: Size);
            proxy_get_header_map_pairs(map_type: U32, return_data: Ptr, return_size: Ptr);
            proxy_set_header_map_pairs(map_type: U32, data: Ptr, size: Size);
            proxy_get_header_map_value(map_type: U32, key_data: Ptr, key_size: Size, return_data: Ptr, return_size: Ptr);
            proxy_remove_header_map_value(map_type: U32, key_data: Ptr, key_size: Size);
            proxy_replace_header_map_value(map_type: U32, key_data: Ptr, key_size: Size, value_data: Ptr, value_size: Size);
            proxy_add_header_map_value(map_type: U32, key_data: Ptr, key_size: Size, value_data: Ptr, value_size: Size);
            proxy_get_property(path_data: Ptr, path_size: Size, return_data: Ptr, return_size: Ptr);
            proxy_set_property(path_data: Ptr, path_size: Size, value_data: Ptr, value_size: Size);
            proxy_get_shared_data(key_data: Ptr, key_size: Size, return_data: Ptr, return_size: Ptr, return_cas: Ptr);
            proxy_set_shared_data(key_data: Ptr, key_size: Size, value_data: Ptr, value_size: Size, cas: U32);
            proxy_register_shared_queue(name_data: Ptr, name_size: Size, return_id: Ptr);
            proxy_resolve_shared_queue(vm_id_data: Ptr, vm_id_size: Size, name_data: Ptr, name_size: Size, return_id: Ptr);
            proxy_dequeue_shared_queue(queue_id: U32, return_data: Ptr, return_size: Ptr);
            proxy_enqueue_shared_queue(queue_id: U32, value_data: Ptr, value_size: Size);
            proxy_continue_stream(stream_type: U32);
            proxy_close_stream(stream_type: U32);
            proxy_send_local_response(status_code: U32, details_data: Ptr, details_size: Size, body_data: Ptr, body_size: Size, headers_data: Ptr, headers_size: Size, grpc_status: I32);
            proxy_http_call(upstream_data: Ptr, upstream_size: Size, headers_data: Ptr, headers_size: Size, body_data: Ptr, body_size: Size, trailers_data: Ptr, trailers_size: Size, timeout: U32, return_token: Ptr);
            proxy_grpc_call(upstream_data: Ptr, upstream_size: Size, service_data: Ptr, service_size: Size, method_data: Ptr, method_size: Size, metadata_data: Ptr, metadata_size: Size, message_data: Ptr, message_size: Size, timeout: U32, return_token: Ptr);
            proxy_grpc_stream(upstream_data: Ptr, upstream_size: Size, service_data: Ptr, service_size: Size, method_data: Ptr, method_size: Size, metadata_data: Ptr, metadata_size: Size, return_token: Ptr);
            proxy_grpc_send(token: U32, message_data: Ptr, message_size: Size, end_stream: Bool);
            proxy_grpc_cancel(token: U32);
            proxy_grpc_close(token: U32);
            proxy_get_status(return_code: Ptr, return_data: Ptr, return_size: Ptr);
            proxy_set_effective_context(context_id: U32);
            proxy_call_foreign_function(name_data: Ptr, name_size: Size, args_data: Ptr, args_size: Size, return_data: Ptr, return_size: Ptr);
            proxy_done();
            proxy_define_metric(metric_type: U32, name_data: Ptr, name_size: Size, return_id: Ptr);
            proxy_get_metric(metric_id: U32, return_value: Ptr);
            proxy_record_metric(metric_id: U32, value: U64);
            proxy_increment_metric(metric_id: U32, offset: I64);
        }
    };
}

/// One host function: its position in [`IMPORTS`] is its id.
#[derive(Debug)]
pub struct ImportSpec {
    pub name: &'static str,
    pub params: &'static [Kind],
}

macro_rules! define_table {
    ($($name:ident($($arg:ident : $kind:ident),*);)*) => {
        /// Ids of the host functions, in [`IMPORTS`] order.
        #[allow(non_camel_case_types)]
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ImportId { $($name),* }

        /// The host functions in id order.
        pub static IMPORTS: &[ImportSpec] = &[
            $(ImportSpec { name: stringify!($name), params: &[$(Kind::$kind),*] }),*
        ];
    };
}
for_each_import!(define_table);

impl ImportId {
    pub fn spec(self) -> &'static ImportSpec {
        &IMPORTS[self as usize]
    }
    pub fn from_index(i: u32) -> Option<ImportId> {
        // Safe because ImportId is a fieldless repr(u32) enum with contiguous discriminants.
        if (i as usize) < IMPORTS.len() {
            Some(unsafe { core::mem::transmute::<u32, ImportId>(i) })
        } else {
            None
        }
    }
}

/// Look up a host function by its import name.
pub fn import_by_name(name: &str) -> Option<ImportId> {
    IMPORTS
        .iter()
        .position(|s| s.name == name)
        .and_then(|i| ImportId::from_index(i as u32))
}

/// Version of the native shim protocol (`filterbench_native_init`); bumped on any change.
pub const NATIVE_SHIM_VERSION: u32 = 1;

/// Signature of the host entry point the native shim forwards every call to:
/// `(import id, args as u64, number of args) -> Status`.
pub type NativeHostCall = unsafe extern "C" fn(id: u32, args: *const u64, nargs: usize) -> u32;

/// The ABI's serialised header map: a `u32` count, then a (`u32` key length, `u32` value
/// length) pair per header, then each key and value followed by a NUL — all little-endian,
/// the same in wasm and natively.
pub mod pairs {
    use alloc::vec::Vec;

    pub fn serialize<K: AsRef<[u8]>, V: AsRef<[u8]>>(map: &[(K, V)]) -> Vec<u8> {
        let size: usize = 4 + map
            .iter()
            .map(|(k, v)| 8 + k.as_ref().len() + v.as_ref().len() + 2)
            .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&(map.len() as u32).to_le_bytes());
        for (k, v) in map {
            out.extend_from_slice(&(k.as_ref().len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.as_ref().len() as u32).to_le_bytes());
        }
        for (k, v) in map {
            out.extend_from_slice(k.as_ref());
            out.push(0);
            out.extend_from_slice(v.as_ref());
            out.push(0);
        }
        out
    }

    /// Parses a serialised map; `None` if it is malformed.
    #[allow(clippy::type_complexity)]
    pub fn deserialize(bytes: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        let rd = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
        };
        if bytes.is_empty() {
            return Some(Vec::new());
        }
        let n = rd(0)? as usize;
        let mut data = 4usize.checked_add(n.checked_mul(8)?)?;
        if data > bytes.len() {
            return None;
        }
        let mut map = Vec::with_capacity(n);
        for i in 0..n {
            let kl = rd(4 + i * 8)? as usize;
            let vl = rd(8 + i * 8)? as usize;
            let k = bytes.get(data..data.checked_add(kl)?)?.to_vec();
            data += kl + 1;
            let v = bytes.get(data..data.checked_add(vl)?)?.to_vec();
            data += vl + 1;
            map.push((k, v));
        }
        Some(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_positions() {
        assert_eq!(IMPORTS.len(), ImportId::proxy_increment_metric as usize + 1);
        assert_eq!(import_by_name("proxy_log"), Some(ImportId::proxy_log));
        assert_eq!(ImportId::proxy_done.spec().name, "proxy_done");
        assert!(import_by_name("proxy_nope").is_none());
    }
}
