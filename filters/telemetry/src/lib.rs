//! `telemetry`: per-request metrics. Header sizes and the response status are noted as the
//! exchange passes and everything is recorded once, in `on_log`.
//!
//! Configuration: `{"prefix": "fb_"}`. Metrics: counters `<prefix>requests_total`,
//! `<prefix>responses_{2xx,4xx,5xx}_total`; histograms `<prefix>request_header_bytes`,
//! `<prefix>response_header_bytes` (sum of name and value lengths).

use std::rc::Rc;

use filterbench_filter_common::{http_root, load_config, warn};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel, MetricType, Status};
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| {
        http_root(Metrics::load, |metrics| Telemetry {
            metrics,
            request_header_bytes: None,
            response_header_bytes: None,
            status: None,
        })
    });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    prefix: String,
}

struct Metrics {
    requests: u32,
    responses_2xx: u32,
    responses_4xx: u32,
    responses_5xx: u32,
    request_header_bytes: u32,
    response_header_bytes: u32,
}

impl Metrics {
    fn load(bytes: Option<Vec<u8>>) -> Option<Metrics> {
        let config: Config = load_config("telemetry", bytes)?;
        Metrics::define(&config.prefix)
            .inspect_err(|_| warn("telemetry: cannot define metrics"))
            .ok()
    }

    fn define(prefix: &str) -> Result<Metrics, Status> {
        let define = |kind, name: &str| hostcalls::define_metric(kind, &format!("{prefix}{name}"));
        Ok(Metrics {
            requests: define(MetricType::Counter, "requests_total")?,
            responses_2xx: define(MetricType::Counter, "responses_2xx_total")?,
            responses_4xx: define(MetricType::Counter, "responses_4xx_total")?,
            responses_5xx: define(MetricType::Counter, "responses_5xx_total")?,
            request_header_bytes: define(MetricType::Histogram, "request_header_bytes")?,
            response_header_bytes: define(MetricType::Histogram, "response_header_bytes")?,
        })
    }
}

fn header_bytes(headers: &[(String, Vec<u8>)]) -> u64 {
    headers
        .iter()
        .map(|(name, value)| (name.len() + value.len()) as u64)
        .sum()
}

/// The status code from a `:status` value of exactly three ASCII digits.
fn parse_status(value: &[u8]) -> Option<u16> {
    match *value {
        [a, b, c] if value.iter().all(u8::is_ascii_digit) => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

struct Telemetry {
    metrics: Option<Rc<Metrics>>,
    /// `None` until the headers were seen (a local reply may end the exchange first).
    request_header_bytes: Option<u64>,
    response_header_bytes: Option<u64>,
    status: Option<u16>,
}

impl Context for Telemetry {}

impl HttpContext for Telemetry {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.metrics.is_some() {
            let headers = self.get_http_request_headers_bytes();
            self.request_header_bytes = Some(header_bytes(&headers));
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.metrics.is_some() {
            let headers = self.get_http_response_headers_bytes();
            self.response_header_bytes = Some(header_bytes(&headers));
            self.status = headers
                .iter()
                .find(|(name, _)| name == ":status")
                .and_then(|(_, value)| parse_status(value));
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        let _ = hostcalls::increment_metric(metrics.requests, 1);
        if let Some(bytes) = self.request_header_bytes {
            let _ = hostcalls::record_metric(metrics.request_header_bytes, bytes);
        }
        if let Some(bytes) = self.response_header_bytes {
            let _ = hostcalls::record_metric(metrics.response_header_bytes, bytes);
        }
        let class = match self.status {
            Some(200..=299) => Some(metrics.responses_2xx),
            Some(400..=499) => Some(metrics.responses_4xx),
            Some(500..=599) => Some(metrics.responses_5xx),
            _ => None,
        };
        if let Some(class) = class {
            let _ = hostcalls::increment_metric(class, 1);
        }
    }
}
