//! Our bindings to the part of Envoy's dynamic-modules C ABI (v0.2.0, Envoy 1.40) this module
//! uses, written from the ABI's documentation. Every callback declared here is exported by
//! Envoy 1.40: a module that references a callback the running Envoy lacks fails to load.

use std::ffi::{CStr, c_void};

/// The ABI version this module is built against (`envoy_dynamic_module_on_program_init`).
pub const ABI_VERSION: &CStr = c"v0.2.0";

/// Envoy's per-stream filter object.
pub type EnvoyFilter = *mut c_void;

/// A borrowed byte string (Envoy's `envoy_buffer` and `module_buffer` share this layout).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Buf {
    pub ptr: *const u8,
    pub len: usize,
}

impl Buf {
    pub const NULL: Buf = Buf {
        ptr: std::ptr::null(),
        len: 0,
    };
    pub fn of(s: &[u8]) -> Buf {
        Buf {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }
    /// # Safety
    /// The buffer must point at `len` readable bytes (or be empty).
    pub unsafe fn bytes<'a>(self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub key: Buf,
    pub value: Buf,
}

/// `envoy_dynamic_module_type_http_header_type`: the same numbering as proxy-wasm's map
/// types 0..=3 (request headers, request trailers, response headers, response trailers).
pub const HEADER_TYPES: u64 = 4;

/// `envoy_dynamic_module_type_http_body_type`.
pub mod body {
    pub const RECEIVED_REQUEST: u32 = 0;
    pub const BUFFERED_REQUEST: u32 = 1;
    pub const RECEIVED_RESPONSE: u32 = 2;
    pub const BUFFERED_RESPONSE: u32 = 3;
}

/// Hook return values.
pub mod status {
    pub const CONTINUE: u32 = 0;
    /// Headers: StopIteration. Body: StopIterationAndBuffer. Trailers: StopIteration.
    pub const STOP: u32 = 1;
}

/// Attribute ids (`envoy_dynamic_module_type_attribute_id`) of the properties we map.
pub mod attr {
    pub const REQUEST_PATH: u32 = 0;
    pub const REQUEST_URL_PATH: u32 = 1;
    pub const REQUEST_HOST: u32 = 2;
    pub const REQUEST_SCHEME: u32 = 3;
    pub const REQUEST_METHOD: u32 = 4;
    pub const REQUEST_ID: u32 = 9;
    pub const REQUEST_PROTOCOL: u32 = 10;
    pub const RESPONSE_CODE: u32 = 15;
    pub const SOURCE_ADDRESS: u32 = 24;
    pub const SOURCE_PORT: u32 = 25;
    pub const DESTINATION_ADDRESS: u32 = 26;
    pub const DESTINATION_PORT: u32 = 27;
}

unsafe extern "C" {
    pub fn envoy_dynamic_module_callback_log(level: u32, message: Buf);
    pub fn envoy_dynamic_module_callback_log_enabled(level: u32) -> bool;
    pub fn envoy_dynamic_module_callback_http_get_header(
        f: EnvoyFilter,
        header_type: u32,
        key: Buf,
        result: *mut Buf,
        index: usize,
        count: *mut usize,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_get_headers_size(
        f: EnvoyFilter,
        header_type: u32,
    ) -> usize;
    pub fn envoy_dynamic_module_callback_http_get_headers(
        f: EnvoyFilter,
        header_type: u32,
        result: *mut Header,
    ) -> bool;
    /// Replaces every value; a null value removes the header.
    pub fn envoy_dynamic_module_callback_http_set_header(
        f: EnvoyFilter,
        header_type: u32,
        key: Buf,
        value: Buf,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_add_header(
        f: EnvoyFilter,
        header_type: u32,
        key: Buf,
        value: Buf,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_send_response(
        f: EnvoyFilter,
        status: u32,
        headers: *mut Header,
        headers_len: usize,
        body: Buf,
        details: Buf,
    );
    pub fn envoy_dynamic_module_callback_http_get_body_chunks_size(
        f: EnvoyFilter,
        body_type: u32,
    ) -> usize;
    pub fn envoy_dynamic_module_callback_http_get_body_chunks(
        f: EnvoyFilter,
        body_type: u32,
        result: *mut Buf,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_append_body(
        f: EnvoyFilter,
        body_type: u32,
        data: Buf,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_drain_body(
        f: EnvoyFilter,
        body_type: u32,
        bytes: usize,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_filter_continue_decoding(f: EnvoyFilter);
    pub fn envoy_dynamic_module_callback_http_filter_continue_encoding(f: EnvoyFilter);
    pub fn envoy_dynamic_module_callback_http_filter_get_attribute_string(
        f: EnvoyFilter,
        id: u32,
        result: *mut Buf,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_filter_get_attribute_int(
        f: EnvoyFilter,
        id: u32,
        result: *mut u64,
    ) -> bool;
}

/// Logs through Envoy (proxy-wasm and Envoy number log levels alike: 0 trace .. 5 critical).
pub fn log(level: u32, message: &str) {
    // SAFETY: the buffer outlives the call; Envoy copies it.
    unsafe { envoy_dynamic_module_callback_log(level, Buf::of(message.as_bytes())) }
}
