//! `misbehave`: a TEST filter (its fixtures say `"role": "test"`, so a default run skips it). It
//! adds `x-filterbench: added` to every response and forwards bodies unchanged — until the
//! VM's request number `after` has passed, when it stops doing its job in the configured way.
//! A benchmark that checks only the first request (or only "no local reply") reports it as a
//! fast, working filter; one that proves every timed request must fail it.
//!
//! Configuration: `{"mode": "behave"}`, `{"mode": "stop-header", "after": 50}` (stops adding
//! the header after the VM's 50th request) or `{"mode": "change-body", "after": 50}` (appends
//! `-changed` to every non-empty response body chunk after the 50th request). `after` is
//! required for the misbehaving modes and refused for `behave`. In `change-body` mode the
//! response's `content-length` is always removed, so a live proxy can forward the longer body.

use std::cell::Cell;
use std::rc::Rc;

use filterbench_filter_common::{http_root, load_config_with};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| {
        http_root(
            |bytes| load_config_with("misbehave", bytes, Config::check),
            |config| Misbehave { config, misbehaving: false },
        )
    });
}}

const HEADER: &str = "x-filterbench";
const VALUE: &str = "added";
const SUFFIX: &[u8] = b"-changed";

thread_local! {
    /// Requests this VM has seen (a VM is single-threaded; each native instance has its own).
    static REQUESTS: Cell<u64> = const { Cell::new(0) };
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    Behave,
    StopHeader,
    ChangeBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    mode: Mode,
    after: Option<u64>,
}

impl Config {
    fn check(self) -> Result<Self, String> {
        match (self.mode, self.after) {
            (Mode::Behave, Some(_)) => Err("`after` is only for a misbehaving mode".into()),
            (Mode::StopHeader | Mode::ChangeBody, None) => {
                Err("`after` is required for a misbehaving mode".into())
            }
            _ => Ok(self),
        }
    }
}

struct Misbehave {
    config: Option<Rc<Config>>,
    /// Whether this request is past `after` (decided once, at its request headers).
    misbehaving: bool,
}

impl Context for Misbehave {}

impl HttpContext for Misbehave {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let n = REQUESTS.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        if let Some(config) = &self.config {
            self.misbehaving = config.after.is_some_and(|after| n > after);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(config) = &self.config else {
            return Action::Continue;
        };
        if config.mode == Mode::ChangeBody {
            self.set_http_response_header("content-length", None);
        }
        if !(config.mode == Mode::StopHeader && self.misbehaving) {
            self.add_http_response_header(HEADER, VALUE);
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, _end_of_stream: bool) -> Action {
        let change = self
            .config
            .as_ref()
            .is_some_and(|c| c.mode == Mode::ChangeBody && self.misbehaving);
        if change
            && body_size > 0
            && let Some(mut body) = self.get_http_response_body(0, body_size)
        {
            body.extend_from_slice(SUFFIX);
            self.set_http_response_body(0, body_size, &body);
        }
        Action::Continue
    }
}
