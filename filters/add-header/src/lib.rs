//! `add-header`: adds one configured header to every response — the smallest filter that
//! actually calls back into the host.
//!
//! Configuration: `{"name": "x-filterbench", "value": "added"}` (both required).

// Native builds get the host-call symbols from the shim (NullVM style).
#[cfg(not(target_family = "wasm"))]
use filterbench_native_shim as _;

use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { config: None }) });
}}

/// Logs through the host directly: the SDK's `log` facade is not a dependency here.
fn warn(message: &str) {
    let _ = hostcalls::log(LogLevel::Warn, message);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: String,
    value: String,
}

impl Config {
    fn parse(bytes: &[u8]) -> Result<Self, String> {
        let config: Config = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if config.name.is_empty() {
            return Err("`name` must not be empty".into());
        }
        Ok(config)
    }
}

struct Root {
    config: Option<Rc<Config>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        // Hosts differ in whether "no configuration" is an absent or an empty buffer.
        let bytes = match self.get_plugin_configuration() {
            Some(bytes) if !bytes.is_empty() => bytes,
            _ => {
                warn("add-header: missing configuration");
                return false;
            }
        };
        match Config::parse(&bytes) {
            Ok(config) => {
                self.config = Some(Rc::new(config));
                true
            }
            Err(e) => {
                warn(&format!("add-header: bad configuration: {e}"));
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // A host that creates streams despite a failed configure gets a pass-through rather than
        // a panic (which would abort the process in the native build).
        Some(Box::new(AddHeader {
            config: self.config.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct AddHeader {
    config: Option<Rc<Config>>,
}

impl Context for AddHeader {}

impl HttpContext for AddHeader {
    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let Some(config) = &self.config {
            self.add_http_response_header(&config.name, &config.value);
        }
        Action::Continue
    }
}
