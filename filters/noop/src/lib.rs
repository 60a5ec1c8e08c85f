//! `noop`: passes every request and response untouched, so its cost is the bare per-request
//! lifecycle of the host and VM.

// Needs nothing from the common crate but, in native builds, the host-call symbols it links.
use filterbench_filter_common as _;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Noop) });
}}

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {}
