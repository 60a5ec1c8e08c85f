//! `noop`: passes every request and response untouched, so its cost is the bare per-request
//! lifecycle of the host and VM.

// Native builds get the host-call symbols from the shim (NullVM style).
#[cfg(not(target_family = "wasm"))]
use filterbench_native_shim as _;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Noop) });
}}

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {}
