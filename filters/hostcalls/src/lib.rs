//! `hostcalls`: a benchmark filter, not a real one. In `on_http_request_headers` it calls one
//! configured host function `times` times (the way Envoy's own wasm speed test prices host
//! calls), then reports what it did in a request header so every arm proves it ran. The
//! `none` operation runs the same loop without a host call: the baseline to subtract.
//!
//! Configuration: `{"op": "get_header", "times": 100}`.

use std::rc::Rc;

use filterbench_filter_common::http_root;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, LogLevel, MapType, MetricType};
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| {
        http_root(Config::load, |config| Calls {
            metric: config.as_ref().map_or(0, |c| c.metric),
            config,
        })
    });
}}

#[derive(Clone, Copy, Deserialize, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
enum Op {
    None,
    GetHeader,
    GetHeaders,
    ReplaceHeader,
    GetBody,
    GetProperty,
    GetSharedData,
    SetSharedData,
    IncrementMetric,
    GetCurrentTime,
    Log,
    /// `proxy_done`, which a host answers without doing anything: the price of crossing into
    /// the host and back (the engine's entry plus the host's dispatch), the floor under every
    /// other call.
    EmptyImport,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    op: Op,
    times: u32,
    /// Defined on configure, not configurable.
    #[serde(skip)]
    metric: u32,
}

impl Config {
    /// A benchmark filter: a missing or malformed configuration fails configure without a log.
    fn load(bytes: Option<Vec<u8>>) -> Option<Config> {
        let mut config: Config = serde_json::from_slice(&bytes?).ok()?;
        if config.op == Op::SetSharedData || config.op == Op::GetSharedData {
            let _ = hostcalls::set_shared_data("hostcalls:key", Some(b"value"), None);
        }
        config.metric =
            hostcalls::define_metric(MetricType::Counter, "hostcalls_total").unwrap_or(0);
        Some(config)
    }
}

struct Calls {
    config: Option<Rc<Config>>,
    metric: u32,
}

impl Context for Calls {}

impl Calls {
    /// One host call; returns a byte count so the optimiser cannot drop the loop.
    fn once(&self, op: Op, i: u32) -> usize {
        match op {
            Op::None => std::hint::black_box(i) as usize & 1,
            Op::GetHeader => hostcalls::get_map_value(MapType::HttpRequestHeaders, "user-agent")
                .ok()
                .flatten()
                .map_or(0, |v| v.len()),
            Op::GetHeaders => {
                hostcalls::get_map(MapType::HttpRequestHeaders).map_or(0, |m| m.len())
            }
            Op::ReplaceHeader => {
                let _ =
                    hostcalls::set_map_value(MapType::HttpRequestHeaders, "x-counter", Some("1"));
                1
            }
            Op::GetBody => hostcalls::get_buffer(BufferType::PluginConfiguration, 0, 64)
                .ok()
                .flatten()
                .map_or(0, |b| b.len()),
            Op::GetProperty => hostcalls::get_property(vec!["request", "path"])
                .ok()
                .flatten()
                .map_or(0, |v| v.len()),
            Op::GetSharedData => hostcalls::get_shared_data("hostcalls:key")
                .ok()
                .and_then(|(v, _)| v)
                .map_or(0, |v| v.len()),
            Op::SetSharedData => {
                let _ = hostcalls::set_shared_data("hostcalls:key", Some(b"value"), None);
                1
            }
            Op::IncrementMetric => {
                let _ = hostcalls::increment_metric(self.metric, 1);
                1
            }
            Op::GetCurrentTime => hostcalls::get_current_time().map_or(0, |_| 1),
            Op::Log => {
                let _ = hostcalls::log(LogLevel::Debug, "hostcalls");
                1
            }
            Op::EmptyImport => hostcalls::done().map_or(0, |_| 1),
        }
    }
}

impl HttpContext for Calls {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let Some(config) = self.config.clone() else {
            return Action::Continue;
        };
        let mut total = 0usize;
        for i in 0..config.times {
            total = total.wrapping_add(self.once(config.op, i));
        }
        let report = format!("{:?}:{}:{}", config.op, config.times, total);
        self.set_http_request_header("x-hostcalls", Some(&report));
        Action::Continue
    }
}
