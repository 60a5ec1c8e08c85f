//! `tcp-bytes`: a TCP (stream) filter that counts bytes in each direction and closes the
//! connection when the client sends a forbidden token, even one split across reads.
//!
//! Configuration: `{"forbidden": "BLOCKME", "prefix": "tcp_bytes_"}` (`forbidden` required and
//! non-empty). Counters: `<prefix>downstream_bytes_total`, `<prefix>upstream_bytes_total`
//! (added in `on_log`) and `<prefix>closed_total`.

use std::rc::Rc;

use filterbench_filter_common::{load_config_with, stream_root, warn};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, StreamContext};
use proxy_wasm::types::{Action, LogLevel, MetricType, Status};
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| {
        stream_root(
            |bytes| load_config_with("tcp-bytes", bytes, Config::new),
            |config| TcpBytes {
                config,
                downstream_bytes: 0,
                upstream_bytes: 0,
                tail: Vec::new(),
                closed: false,
            },
        )
    });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    forbidden: String,
    #[serde(default = "default_prefix")]
    prefix: String,
}

fn default_prefix() -> String {
    "tcp_bytes_".into()
}

struct Config {
    forbidden: Vec<u8>,
    downstream_bytes: u32,
    upstream_bytes: u32,
    closed: u32,
}

impl Config {
    fn new(raw: RawConfig) -> Result<Config, String> {
        if raw.forbidden.is_empty() {
            return Err("`forbidden` must not be empty".into());
        }
        let define = |name: &str| {
            hostcalls::define_metric(MetricType::Counter, &format!("{}{name}", raw.prefix))
                .map_err(|status: Status| format!("cannot define metric {name}: {status:?}"))
        };
        Ok(Config {
            downstream_bytes: define("downstream_bytes_total")?,
            upstream_bytes: define("upstream_bytes_total")?,
            closed: define("closed_total")?,
            forbidden: raw.forbidden.into_bytes(),
        })
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    // Jump between occurrences of the first byte instead of comparing every window.
    let mut from = 0;
    while let Some(i) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + i + 1;
        if haystack[at..].starts_with(rest) {
            return true;
        }
        from = at;
    }
    false
}

struct TcpBytes {
    config: Option<Rc<Config>>,
    downstream_bytes: u64,
    upstream_bytes: u64,
    /// The last `forbidden.len() - 1` downstream bytes, to catch a token split across reads.
    tail: Vec<u8>,
    closed: bool,
}

/// Looks for `forbidden` in `chunk` and across the seam with the previous reads (`tail`), then
/// keeps the new tail.
fn saw_forbidden(tail: &mut Vec<u8>, forbidden: &[u8], chunk: &[u8]) -> bool {
    let keep = forbidden.len() - 1;
    if contains(chunk, forbidden) {
        return true;
    }
    if !tail.is_empty() {
        let head = &chunk[..chunk.len().min(keep)];
        let mut seam = Vec::with_capacity(tail.len() + head.len());
        seam.extend_from_slice(tail);
        seam.extend_from_slice(head);
        if contains(&seam, forbidden) {
            return true;
        }
    }
    if chunk.len() >= keep {
        tail.clear();
        tail.extend_from_slice(&chunk[chunk.len() - keep..]);
    } else {
        tail.extend_from_slice(chunk);
        let excess = tail.len().saturating_sub(keep);
        tail.drain(..excess);
    }
    false
}

impl Context for TcpBytes {}

impl StreamContext for TcpBytes {
    fn on_downstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        self.downstream_bytes += data_size as u64;
        let Some(config) = &self.config else {
            return Action::Continue;
        };
        if self.closed {
            // Nothing more goes upstream once the connection is condemned.
            self.set_downstream_data(0, data_size, &[]);
            return Action::Continue;
        }
        if data_size == 0 {
            return Action::Continue;
        }
        let chunk = self.get_downstream_data(0, data_size).unwrap_or_default();
        if saw_forbidden(&mut self.tail, &config.forbidden, &chunk) {
            self.closed = true;
            let _ = hostcalls::increment_metric(config.closed, 1);
            warn("tcp-bytes: forbidden token in downstream data, closing connection");
            // Drop the offending read so it is not forwarded, whatever the host does on close.
            self.set_downstream_data(0, data_size, &[]);
            self.close_downstream();
        }
        Action::Continue
    }

    fn on_upstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        self.upstream_bytes += data_size as u64;
        Action::Continue
    }

    fn on_log(&mut self) {
        if let Some(config) = &self.config {
            let _ =
                hostcalls::increment_metric(config.downstream_bytes, self.downstream_bytes as i64);
            let _ = hostcalls::increment_metric(config.upstream_bytes, self.upstream_bytes as i64);
        }
    }
}
