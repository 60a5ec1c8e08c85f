//! The callbacks a proxy-wasm module exports, described once for every engine.

/// What a callback returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    None,
    /// `bool` (on_done, on_vm_start, on_configure)
    Bool,
    /// `u32` (an Action)
    U32,
    /// a guest pointer (the allocator)
    Ptr,
}

pub struct CallbackSpec {
    pub name: &'static str,
    /// Another export name accepted for the same callback (the SDK exports its allocator as
    /// `malloc` on wasm32-unknown-unknown).
    pub alias: Option<&'static str>,
    /// Every parameter is an `i32` in wasm32 (context ids, sizes, bools, enums).
    pub params: usize,
    pub ret: Ret,
}

macro_rules! callbacks {
    ($($variant:ident = $name:literal $(| $alias:literal)?, $params:literal, $ret:ident;)*) => {
        /// Callbacks by id; [`CALLBACKS`] holds their export names and signatures.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum Callback { $($variant),* }

        pub static CALLBACKS: &[CallbackSpec] = &[
            $(CallbackSpec { name: $name, alias: callbacks!(@alias $($alias)?), params: $params, ret: Ret::$ret }),*
        ];

        impl Callback {
            pub const ALL: &'static [Callback] = &[$(Callback::$variant),*];
        }
    };
    (@alias) => { None };
    (@alias $a:literal) => { Some($a) };
}

callbacks! {
    Initialize = "_initialize", 0, None;
    Start = "_start", 0, None;
    MemoryAllocate = "proxy_on_memory_allocate" | "malloc", 1, Ptr;
    OnContextCreate = "proxy_on_context_create", 2, None;
    OnVmStart = "proxy_on_vm_start", 2, Bool;
    OnConfigure = "proxy_on_configure", 2, Bool;
    OnTick = "proxy_on_tick", 1, None;
    OnQueueReady = "proxy_on_queue_ready", 2, None;
    OnDone = "proxy_on_done", 1, Bool;
    OnLog = "proxy_on_log", 1, None;
    OnDelete = "proxy_on_delete", 1, None;
    OnNewConnection = "proxy_on_new_connection", 1, U32;
    OnDownstreamData = "proxy_on_downstream_data", 3, U32;
    OnDownstreamConnectionClose = "proxy_on_downstream_connection_close", 2, None;
    OnUpstreamData = "proxy_on_upstream_data", 3, U32;
    OnUpstreamConnectionClose = "proxy_on_upstream_connection_close", 2, None;
    OnRequestHeaders = "proxy_on_request_headers", 3, U32;
    OnRequestBody = "proxy_on_request_body", 3, U32;
    OnRequestTrailers = "proxy_on_request_trailers", 2, U32;
    OnResponseHeaders = "proxy_on_response_headers", 3, U32;
    OnResponseBody = "proxy_on_response_body", 3, U32;
    OnResponseTrailers = "proxy_on_response_trailers", 2, U32;
    OnHttpCallResponse = "proxy_on_http_call_response", 5, None;
    OnForeignFunction = "proxy_on_foreign_function", 3, None;
}

impl Callback {
    pub fn spec(self) -> &'static CallbackSpec {
        &CALLBACKS[self as usize]
    }
}

/// The ABI version markers a module may export; only 0.2.1 (and the compatible 0.2.0) run here.
pub const ABI_MARKER: &str = "proxy_abi_version_0_2_1";
pub const ABI_MARKERS_ACCEPTED: &[&str] = &["proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"];
