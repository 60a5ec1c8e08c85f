//! `body-redact`: buffers JSON request and response bodies and replaces the values of configured
//! keys (at any depth) before forwarding. Bodies that are not JSON or exceed the size limit pass
//! through unchanged and are counted.
//!
//! Configuration: `{"fields": ["password", "ssn", "token"], "replacement": "[REDACTED]",
//! "max_body_bytes": 1048576}`. `fields` is required; the others default to the values shown.
//!
//! Counters: `body_redact_fields_total`, `body_redact_non_json_total`,
//! `body_redact_too_large_total`.

use std::rc::Rc;

use filterbench_filter_common::{http_root, load_config_with, warn};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, LogLevel, MapType, MetricType};
use serde::Deserialize;
use serde_json::Value;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| {
        http_root(Config::load, |config| BodyRedact {
            config,
            request: Direction::new(MapType::HttpRequestHeaders, BufferType::HttpRequestBody),
            response: Direction::new(MapType::HttpResponseHeaders, BufferType::HttpResponseBody),
        })
    });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    fields: Vec<String>,
    #[serde(default = "default_replacement")]
    replacement: String,
    /// u32, not usize, so a configuration parses the same on wasm32 and natively.
    #[serde(default = "default_max_body_bytes")]
    max_body_bytes: u32,
}

fn default_replacement() -> String {
    "[REDACTED]".into()
}

fn default_max_body_bytes() -> u32 {
    1 << 20
}

struct Metrics {
    fields: u32,
    non_json: u32,
    too_large: u32,
}

struct Config {
    fields: Vec<String>,
    replacement: Value,
    max_body_bytes: usize,
    metrics: Metrics,
}

impl RawConfig {
    fn check(self) -> Result<Self, String> {
        if self.fields.is_empty() {
            return Err("`fields` must not be empty".into());
        }
        Ok(self)
    }
}

impl Config {
    fn load(bytes: Option<Vec<u8>>) -> Option<Config> {
        let raw = load_config_with("body-redact", bytes, RawConfig::check)?;
        let define = |name| hostcalls::define_metric(MetricType::Counter, name);
        let metrics = match (
            define("body_redact_fields_total"),
            define("body_redact_non_json_total"),
            define("body_redact_too_large_total"),
        ) {
            (Ok(fields), Ok(non_json), Ok(too_large)) => Metrics {
                fields,
                non_json,
                too_large,
            },
            _ => {
                warn("body-redact: cannot define metrics");
                return None;
            }
        };
        Some(Config {
            fields: raw.fields,
            replacement: Value::String(raw.replacement),
            max_body_bytes: raw.max_body_bytes as usize,
            metrics,
        })
    }
}

/// Replaces the value of every object key listed in `fields`, at any depth, and returns how many
/// values were replaced. A replaced value is not searched further. Depth is bounded by
/// serde_json's recursion limit on parsing.
fn redact(value: &mut Value, fields: &[String], replacement: &Value) -> u64 {
    match value {
        Value::Object(map) => {
            let mut count = 0;
            for (key, v) in map.iter_mut() {
                if fields.iter().any(|f| f == key) {
                    *v = replacement.clone();
                    count += 1;
                } else {
                    count += redact(v, fields, replacement);
                }
            }
            count
        }
        Value::Array(items) => items
            .iter_mut()
            .map(|v| redact(v, fields, replacement))
            .sum(),
        _ => 0,
    }
}

fn increment(metric: u32, by: u64) {
    let _ = hostcalls::increment_metric(metric, by as i64);
}

/// One side of the exchange: the request or the response.
struct Direction {
    headers: MapType,
    body: BufferType,
    /// Set once the body is known to exceed the limit: the rest streams through.
    gave_up: bool,
}

impl Direction {
    fn new(headers: MapType, body: BufferType) -> Self {
        Direction {
            headers,
            body,
            gave_up: false,
        }
    }

    fn on_headers(&self, end_of_stream: bool) {
        if !end_of_stream {
            // Redaction can change the body's length.
            let _ = hostcalls::remove_map_value(self.headers, "content-length");
        }
    }

    fn on_body(&mut self, config: &Config, body_size: usize, end_of_stream: bool) -> Action {
        if self.gave_up {
            return Action::Continue;
        }
        if body_size > config.max_body_bytes {
            // Stop buffering: what is held so far and the rest are forwarded untouched.
            self.gave_up = true;
            increment(config.metrics.too_large, 1);
            return Action::Continue;
        }
        if !end_of_stream {
            // Let the host buffer until the whole body is here.
            return Action::Pause;
        }
        if body_size == 0 {
            return Action::Continue;
        }
        let Ok(Some(body)) = hostcalls::get_buffer(self.body, 0, body_size) else {
            return Action::Continue;
        };
        let Ok(mut json) = serde_json::from_slice::<Value>(&body) else {
            increment(config.metrics.non_json, 1);
            return Action::Continue;
        };
        let count = redact(&mut json, &config.fields, &config.replacement);
        if count > 0 {
            increment(config.metrics.fields, count);
            // Only a changed body is re-serialised (compactly); others keep their formatting.
            if let Ok(new_body) = serde_json::to_vec(&json) {
                let _ = hostcalls::set_buffer(self.body, 0, body.len(), &new_body);
            }
        }
        Action::Continue
    }
}

struct BodyRedact {
    config: Option<Rc<Config>>,
    request: Direction,
    response: Direction,
}

impl Context for BodyRedact {}

impl HttpContext for BodyRedact {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if self.config.is_some() {
            self.request.on_headers(end_of_stream);
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        match &self.config {
            Some(config) => self.request.on_body(config, body_size, end_of_stream),
            None => Action::Continue,
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if self.config.is_some() {
            self.response.on_headers(end_of_stream);
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        match &self.config {
            Some(config) => self.response.on_body(config, body_size, end_of_stream),
            None => Action::Continue,
        }
    }
}
