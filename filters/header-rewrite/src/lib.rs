//! `header-rewrite`: normalises request headers with one map read and one map write: trims
//! values, lowercases selected values, drops deny-listed headers, adds a request id when missing
//! and rewrites a `:path` prefix. Values are handled as bytes, so invalid UTF-8 passes through.
//!
//! Configuration (every field optional):
//! `{"lowercase_values": ["x-mode"], "deny": ["x-internal-secret"],
//!   "request_id_header": "x-request-id", "path_prefix": {"from": "/api/v1/", "to": "/v2/"}}`

use std::cell::Cell;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

use filterbench_filter_common::{http_root, load_config_with};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| {
        // Ids issued by this VM, so generated ids are unique without randomness.
        let request_ids = Rc::new(Cell::new(0));
        http_root(
            |bytes| load_config_with("header-rewrite", bytes, Config::check),
            move |config| HeaderRewrite {
                config,
                request_ids: Rc::clone(&request_ids),
            },
        )
    });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    lowercase_values: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    request_id_header: Option<String>,
    #[serde(default)]
    path_prefix: Option<PathPrefix>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathPrefix {
    from: String,
    to: String,
}

impl Config {
    fn check(mut self) -> Result<Self, String> {
        // Header names compare case-insensitively; lowercase once here so the per-request
        // comparisons only fold the header side.
        for name in self.lowercase_values.iter_mut().chain(self.deny.iter_mut()) {
            name.make_ascii_lowercase();
        }
        if let Some(header) = &mut self.request_id_header {
            if header.is_empty() {
                return Err("`request_id_header` must not be empty".into());
            }
            header.make_ascii_lowercase();
        }
        if self.path_prefix.as_ref().is_some_and(|p| p.from.is_empty()) {
            return Err("`path_prefix.from` must not be empty".into());
        }
        Ok(self)
    }
}

/// `list` holds lowercase names; `name` comes from the host in any case.
fn listed(list: &[String], name: &str) -> bool {
    list.iter().any(|entry| entry.eq_ignore_ascii_case(name))
}

fn trim_ascii_in_place(value: &mut Vec<u8>) {
    let end = value
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    value.truncate(end);
    let start = value
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(value.len());
    value.drain(..start);
}

struct HeaderRewrite {
    config: Option<Rc<Config>>,
    request_ids: Rc<Cell<u64>>,
}

impl HeaderRewrite {
    /// `fb-<clock ns as 16 hex digits>-<per-VM sequence number>`: unique per VM and
    /// reproducible for a given host clock.
    fn next_request_id(&self) -> String {
        let n = self.request_ids.get() + 1;
        self.request_ids.set(n);
        let nanos = self
            .get_current_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        format!("fb-{nanos:016x}-{n}")
    }
}

impl Context for HeaderRewrite {}

impl HttpContext for HeaderRewrite {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(config) = &self.config else {
            return Action::Continue;
        };
        let mut headers = self.get_http_request_headers_bytes();
        headers.retain(|(name, _)| !listed(&config.deny, name));

        let mut has_request_id = false;
        for (name, value) in &mut headers {
            trim_ascii_in_place(value);
            if listed(&config.lowercase_values, name) {
                value.make_ascii_lowercase();
            }
            if name == ":path"
                && let Some(prefix) = &config.path_prefix
                && let Some(rest) = value.strip_prefix(prefix.from.as_bytes())
            {
                *value = [prefix.to.as_bytes(), rest].concat();
            }
            // An empty id is as good as none: it is replaced below.
            if let Some(id_header) = &config.request_id_header
                && !value.is_empty()
                && id_header.eq_ignore_ascii_case(name)
            {
                has_request_id = true;
            }
        }

        let mut request_id = None;
        if let Some(id_header) = &config.request_id_header
            && !has_request_id
        {
            headers.retain(|(name, _)| !id_header.eq_ignore_ascii_case(name));
            request_id = Some((id_header.as_str(), self.next_request_id()));
        }

        let mut out: Vec<(&str, &[u8])> = Vec::with_capacity(headers.len() + 1);
        out.extend(headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
        if let Some((name, id)) = &request_id {
            out.push((name, id.as_bytes()));
        }
        self.set_http_request_headers_bytes(out);
        Action::Continue
    }
}
