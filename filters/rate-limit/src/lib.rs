//! `rate-limit`: a token bucket per client, kept in proxy-wasm shared data so every VM (worker)
//! of the host sees the same buckets. Updates use compare-and-swap; after repeated conflicts
//! the request is let through (fail open) and counted.
//!
//! Configuration: `{"key_header": "x-client-id", "capacity": 3, "refill_per_second": 1,
//! "shared_key_prefix": "rl:"}`. `capacity` and `refill_per_second` (whole tokens) are required.
//!
//! Counters: `rate_limit_limited_total`, `rate_limit_fail_open_total`.

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

use filterbench_filter_common::{http_root, load_config_with, warn};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel, MetricType, Status};
use serde::Deserialize;
use sha2::{Digest, Sha256};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| http_root(Config::load, |config| RateLimit { config }));
}}

/// Tokens are kept in nano-tokens so refilling by elapsed nanoseconds is exact integer math.
const UNIT: u64 = 1_000_000_000;
/// Keeps `capacity * UNIT` and `refill_per_second` per nanosecond well inside u64.
const MAX_TOKENS: u64 = 1_000_000_000;
const MAX_CAS_ATTEMPTS: usize = 8;
/// Longer (or non-UTF-8) client keys are hashed so a hostile header cannot bloat shared data.
const MAX_RAW_KEY_BYTES: usize = 128;
const ANONYMOUS: &[u8] = b"anonymous";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_key_header")]
    key_header: String,
    capacity: u64,
    refill_per_second: u64,
    #[serde(default = "default_prefix")]
    shared_key_prefix: String,
}

fn default_key_header() -> String {
    "x-client-id".into()
}

fn default_prefix() -> String {
    "rl:".into()
}

struct Config {
    key_header: String,
    /// In nano-tokens.
    capacity: u64,
    /// Nano-tokens per nanosecond, which is whole tokens per second.
    refill_per_ns: u64,
    shared_key_prefix: String,
    limited_metric: u32,
    fail_open_metric: u32,
}

impl RawConfig {
    fn check(self) -> Result<Self, String> {
        if self.key_header.is_empty() {
            return Err("`key_header` must not be empty".into());
        }
        if !(1..=MAX_TOKENS).contains(&self.capacity) {
            return Err(format!("`capacity` must be in 1..={MAX_TOKENS}"));
        }
        if self.refill_per_second > MAX_TOKENS {
            return Err(format!("`refill_per_second` must be at most {MAX_TOKENS}"));
        }
        Ok(self)
    }
}

impl Config {
    fn load(bytes: Option<Vec<u8>>) -> Option<Config> {
        let raw = load_config_with("rate-limit", bytes, RawConfig::check)?;
        let define = |name| hostcalls::define_metric(MetricType::Counter, name);
        let (Ok(limited_metric), Ok(fail_open_metric)) = (
            define("rate_limit_limited_total"),
            define("rate_limit_fail_open_total"),
        ) else {
            warn("rate-limit: cannot define metrics");
            return None;
        };
        Some(Config {
            key_header: raw.key_header.to_ascii_lowercase(),
            capacity: raw.capacity * UNIT,
            refill_per_ns: raw.refill_per_second,
            shared_key_prefix: raw.shared_key_prefix,
            limited_metric,
            fail_open_metric,
        })
    }
}

/// The shared value: 16 bytes, nano-tokens then last refill time (ns), little-endian.
#[derive(Clone, Copy)]
struct Bucket {
    tokens: u64,
    last_ns: u64,
}

impl Bucket {
    fn decode(bytes: &[u8]) -> Option<Bucket> {
        let bytes: [u8; 16] = bytes.try_into().ok()?;
        let [tokens, last_ns] = [0, 8].map(|at| {
            let mut word = [0; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(word)
        });
        Some(Bucket { tokens, last_ns })
    }

    fn encode(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.tokens.to_le_bytes());
        out[8..].copy_from_slice(&self.last_ns.to_le_bytes());
        out
    }

    fn refill(&mut self, config: &Config, now_ns: u64) {
        // A clock that steps back refills nothing rather than underflowing.
        let elapsed = now_ns.saturating_sub(self.last_ns);
        let added = elapsed.saturating_mul(config.refill_per_ns);
        self.tokens = self.tokens.saturating_add(added).min(config.capacity);
        self.last_ns = self.last_ns.max(now_ns);
    }
}

enum Decision {
    Allowed { remaining: u64 },
    Limited,
    FailOpen,
}

struct RateLimit {
    config: Option<Rc<Config>>,
}

impl RateLimit {
    fn shared_key(&self, config: &Config) -> String {
        let value = self
            .get_http_request_header_bytes(&config.key_header)
            .filter(|v| !v.is_empty());
        let client = value.as_deref().unwrap_or(ANONYMOUS);
        let mut key = config.shared_key_prefix.clone();
        match std::str::from_utf8(client) {
            Ok(client) if client.len() <= MAX_RAW_KEY_BYTES => key.push_str(client),
            _ => {
                key.push_str("sha256:");
                for byte in Sha256::digest(client) {
                    let _ = write!(key, "{byte:02x}");
                }
            }
        }
        key
    }

    fn now_ns(&self) -> u64 {
        self.get_current_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }

    fn take_token(&self, config: &Config, key: &str) -> Decision {
        let now = self.now_ns();
        for _ in 0..MAX_CAS_ATTEMPTS {
            let (value, cas) = self.get_shared_data(key);
            // A missing (or foreign) value starts a full bucket.
            let mut bucket = value.as_deref().and_then(Bucket::decode).unwrap_or(Bucket {
                tokens: config.capacity,
                last_ns: now,
            });
            bucket.refill(config, now);
            if bucket.tokens < UNIT {
                // Nothing to write: an unchanged bucket refills to the same value next time.
                return Decision::Limited;
            }
            bucket.tokens -= UNIT;
            match self.set_shared_data(key, Some(&bucket.encode()), cas) {
                Ok(()) => {
                    return Decision::Allowed {
                        remaining: bucket.tokens / UNIT,
                    };
                }
                Err(Status::CasMismatch) => continue,
                Err(_) => break,
            }
        }
        Decision::FailOpen
    }
}

impl Context for RateLimit {}

impl HttpContext for RateLimit {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(config) = self.config.as_deref() else {
            return Action::Continue;
        };
        let key = self.shared_key(config);
        match self.take_token(config, &key) {
            Decision::Allowed { remaining } => {
                // Replace, so a client cannot pass its own value upstream.
                self.set_http_request_header("x-ratelimit-remaining", Some(&remaining.to_string()));
                Action::Continue
            }
            Decision::Limited => {
                let _ = hostcalls::increment_metric(config.limited_metric, 1);
                self.send_http_response(
                    429,
                    vec![("x-ratelimit-remaining", "0")],
                    Some(b"rate limited"),
                );
                Action::Pause
            }
            Decision::FailOpen => {
                let _ = hostcalls::increment_metric(config.fail_open_metric, 1);
                warn(&format!(
                    "rate-limit: shared data contention on {key}, failing open"
                ));
                Action::Continue
            }
        }
    }
}
