//! `callout`: a TEST filter (its fixtures say `"role": "test"`) for the host's outbound HTTP
//! calls and timers, the two things real filters use that a request alone does not exercise.
//!
//! Each request is paused while the filter asks the `auth` cluster (`GET /check`); the answer
//! decides: status 200 with a body whose first byte is even lets the request through with
//! `x-auth: granted`, anything else gets a local 403. A call the host refuses (no such
//! cluster) gets a local 503. The root context sets a 1 s timer; every tick calls the `stats`
//! cluster and counts the answers in the counter `callout_tick_answers`.
//!
//! Configuration `{"mode": "check"}` (the above), `{"mode": "panic"}` (panics in the request
//! headers, so the host must show the panic's message with the trap), `{"mode": "forget"}`
//! (never resumes the paused request: the host must say so, not wait) or `{"mode": "storm"}`
//! (calls out again from every answer: the host must bound it); `"configure_call": true` also
//! calls `stats` from `on_configure`.

use std::time::Duration;

use filterbench_filter_common::load_config;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| Box::new(Root { mode: Mode::Check, answers: None }));
}}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    Check,
    Panic,
    Forget,
    Storm,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    mode: Mode,
    /// Also call `stats` while configuring (its answer is counted like a tick's).
    #[serde(default)]
    configure_call: bool,
}

struct Root {
    mode: Mode,
    answers: Option<u32>,
}

fn call(ctx: &dyn Context, cluster: &str, path: &str) -> Result<u32, proxy_wasm::types::Status> {
    ctx.dispatch_http_call(
        cluster,
        vec![(":method", "GET"), (":path", path), (":authority", cluster)],
        None,
        vec![],
        Duration::from_secs(1),
    )
}

impl Context for Root {
    fn on_http_call_response(&mut self, _: u32, _: usize, _: usize, _: usize) {
        if let Some(id) = self.answers {
            let _ = proxy_wasm::hostcalls::increment_metric(id, 1);
        }
    }
}

impl RootContext for Root {
    fn on_vm_start(&mut self, _: usize) -> bool {
        self.set_tick_period(Duration::from_secs(1));
        true
    }

    fn on_configure(&mut self, _: usize) -> bool {
        let Some(c) = load_config::<Config>("callout", self.get_plugin_configuration()) else {
            return false;
        };
        self.mode = c.mode;
        self.answers =
            proxy_wasm::hostcalls::define_metric(MetricType::Counter, "callout_tick_answers").ok();
        if c.configure_call {
            let _ = call(self, "stats", "/configured");
        }
        true
    }

    fn on_tick(&mut self) {
        let _ = call(self, "stats", "/tick");
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Check { mode: self.mode }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Check {
    mode: Mode,
}

impl HttpContext for Check {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        if self.mode == Mode::Panic {
            panic!("callout: asked to panic");
        }
        match call(self, "auth", "/check") {
            Ok(_) => Action::Pause,
            Err(_) => {
                self.send_http_response(503, vec![], Some(b"no auth service"));
                Action::Pause
            }
        }
    }
}

impl Context for Check {
    fn on_http_call_response(&mut self, _: u32, _: usize, body_size: usize, _: usize) {
        match self.mode {
            Mode::Forget => return,
            Mode::Storm => {
                let _ = call(self, "auth", "/again");
                return;
            }
            _ => {}
        }
        let ok = self.get_http_call_response_header(":status").as_deref() == Some("200");
        let body = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        if ok && body.first().is_some_and(|b| b % 2 == 0) {
            self.set_http_request_header("x-auth", Some("granted"));
            self.resume_http_request();
        } else {
            self.send_http_response(403, vec![], Some(b"denied"));
        }
    }
}
