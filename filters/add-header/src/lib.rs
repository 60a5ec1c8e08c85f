//! `add-header`: adds one configured header to every response — the smallest filter that
//! actually calls back into the host.
//!
//! Configuration: `{"name": "x-filterbench", "value": "added"}` (both required).

use std::rc::Rc;

use filterbench_filter_common::{http_root, load_config_with};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| {
        http_root(
            |bytes| load_config_with("add-header", bytes, Config::check),
            |config| AddHeader { config },
        )
    });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: String,
    value: String,
}

impl Config {
    fn check(self) -> Result<Self, String> {
        if self.name.is_empty() {
            return Err("`name` must not be empty".into());
        }
        Ok(self)
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
