//! `reach`: a TEST filter (its fixtures say `"role": "test"`, so a default run skips it). A
//! probe that tries, on request, one thing a filter should not be able to do, and answers with
//! a local reply (200, `x-reach-access: <access>`) whose body says what happened. It judges
//! nothing itself: the harness decides allowed/refused from evidence it planted (a canary
//! value that comes back, a byte it finds written, a connection it accepts).
//!
//! The request header `x-reach` selects the access (one request each, so a trap in one cannot
//! hide another); without it the request passes through. Accesses: `env`, `file`,
//! `other-stream` (after a `park` request on the same VM), `property` (control),
//! `property-outside`, `oob-write`, `socket`. The stream's `x-reach-secret` header is what
//! `other-stream` tries to read from the parked stream.
//!
//! Configuration (a JSON object, every key optional): `canary_env` (the variable to look
//! for, default `FILTERBENCH_CANARY`), `canary_file` (a path to read), `write_addr` +
//! `write_value` (native build: an address in the host process and the bytes to write
//! there; without an address, over the canary variable's value in the process environment),
//! `socket_port` (a port on 127.0.0.1 to connect to).

use std::cell::Cell;
use std::rc::Rc;

use filterbench_filter_common::load_config;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use serde::Deserialize;

mod probe;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| Box::new(Root { config: None }));
}}

/// The request header that selects the access.
const SELECT: &str = "x-reach";
/// The header a parked stream carries its secret in.
const SECRET: &str = "x-reach-secret";

thread_local! {
    /// The context id of the stream parked by a `park` request (a VM is single-threaded).
    static PARKED: Cell<Option<u32>> = const { Cell::new(None) };
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    canary_env: Option<String>,
    canary_file: Option<String>,
    write_addr: Option<u64>,
    write_value: Option<String>,
    socket_port: Option<u16>,
}

impl Config {
    fn canary_env(&self) -> &str {
        self.canary_env.as_deref().unwrap_or("FILTERBENCH_CANARY")
    }
}

struct Root {
    config: Option<Rc<Config>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        self.config = load_config::<Config>("reach", self.get_plugin_configuration()).map(Rc::new);
        self.config.is_some()
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Probe {
            id: context_id,
            config: self.config.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Probe {
    id: u32,
    config: Option<Rc<Config>>,
}

impl Context for Probe {
    fn on_done(&mut self) -> bool {
        // A parked stream that ends can no longer be switched to.
        PARKED.with(|p| {
            if p.get() == Some(self.id) {
                p.set(None);
            }
        });
        true
    }
}

impl HttpContext for Probe {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(access) = self.get_http_request_header(SELECT) else {
            return Action::Continue;
        };
        let default = Config::default();
        let config = self.config.as_deref().unwrap_or(&default);
        let detail = match access.as_str() {
            "park" => {
                PARKED.with(|p| p.set(Some(self.id)));
                return Action::Pause;
            }
            "env" => probe::env(config.canary_env()),
            "file" => probe::file(config.canary_file.as_deref()),
            "other-stream" => self.other_stream(),
            "property" => probe::property(&["request", "path"]),
            "property-outside" => probe::property(&["environment", config.canary_env()]),
            "oob-write" => probe::oob_write(
                config.write_addr,
                config.write_value.as_deref(),
                config.canary_env(),
            ),
            "socket" => probe::socket(config.socket_port, config.write_value.as_deref()),
            other => {
                self.reply(400, other, &format!("unknown access `{other}`"));
                return Action::Pause;
            }
        };
        self.reply(200, &access, &detail);
        Action::Pause
    }
}

impl Probe {
    fn reply(&self, status: u32, access: &str, detail: &str) {
        self.send_http_response(
            status,
            vec![("x-reach-access", access)],
            Some(detail.as_bytes()),
        );
    }

    /// Switches the host's effective context to the parked stream, reads its secret header
    /// and resumes it (so a live proxy finishes it), then switches back.
    fn other_stream(&self) -> String {
        let Some(target) = PARKED.with(|p| p.take()) else {
            return "no parked stream on this VM: not attempted".into();
        };
        let switched = hostcalls::set_effective_context(target);
        let read = hostcalls::get_map_value(proxy_wasm::types::MapType::HttpRequestHeaders, SECRET);
        let resumed = switched.and_then(|()| hostcalls::resume_http_request());
        let back = hostcalls::set_effective_context(self.id);
        let read = match read {
            Ok(Some(v)) => format!("{SECRET}={v}"),
            Ok(None) => format!("{SECRET} not found"),
            Err(e) => format!("{SECRET}: {e:?}"),
        };
        format!(
            "proxy_set_effective_context({target}) from {}: {switched:?}; read {read}; \
             resume: {resumed:?}; back: {back:?}",
            self.id
        )
    }
}
