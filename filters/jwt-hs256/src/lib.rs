//! `jwt-hs256`: verifies an HS256 bearer JWT on every request and forwards its subject;
//! anything else gets a local 401.
//!
//! Configuration: `{"secret": "...", "header": "authorization", "forward_sub_header": "x-jwt-sub",
//! "clock_skew_seconds": 0, "max_token_bytes": 8192}`. Only `secret` is required;
//! `forward_sub_header: null` disables forwarding.

use std::rc::Rc;
use std::time::UNIX_EPOCH;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use filterbench_filter_common::{http_root, load_config_with};
use hmac::{Hmac, KeyInit, Mac};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use serde::Deserialize;
use sha2::Sha256;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| {
        http_root(
            |bytes| load_config_with("jwt-hs256", bytes, Config::new),
            |config| JwtAuth { config },
        )
    });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    secret: String,
    #[serde(default = "default_header")]
    header: String,
    #[serde(default = "default_sub_header")]
    forward_sub_header: Option<String>,
    #[serde(default)]
    clock_skew_seconds: u32,
    /// u32, not usize, so a configuration parses the same on wasm32 and natively.
    #[serde(default = "default_max_token_bytes")]
    max_token_bytes: u32,
}

fn default_header() -> String {
    "authorization".into()
}

fn default_sub_header() -> Option<String> {
    Some("x-jwt-sub".into())
}

fn default_max_token_bytes() -> u32 {
    8192
}

struct Config {
    /// Keyed once; each request clones it, which skips re-deriving the padded key blocks.
    mac: Hmac<Sha256>,
    header: String,
    forward_sub_header: Option<String>,
    clock_skew_seconds: f64,
    max_token_bytes: usize,
}

impl Config {
    fn new(raw: RawConfig) -> Result<Self, String> {
        if raw.secret.is_empty() {
            return Err("`secret` must not be empty".into());
        }
        if raw.header.is_empty() || raw.forward_sub_header.as_deref() == Some("") {
            return Err("header names must not be empty".into());
        }
        let mac = Hmac::<Sha256>::new_from_slice(raw.secret.as_bytes())
            .map_err(|_| "unusable `secret`".to_string())?;
        Ok(Config {
            mac,
            header: raw.header,
            forward_sub_header: raw.forward_sub_header,
            clock_skew_seconds: f64::from(raw.clock_skew_seconds),
            max_token_bytes: raw.max_token_bytes as usize,
        })
    }
}

/// Why a request is rejected; the text is the 401 body.
#[derive(Clone, Copy)]
enum Reject {
    Missing,
    NotBearer,
    TooLarge,
    Malformed,
    UnsupportedAlg,
    BadSignature,
    Expired,
    NotYetValid,
    BadSubject,
    Unconfigured,
}

impl Reject {
    fn body(self) -> &'static [u8] {
        match self {
            Reject::Missing => b"jwt: missing token",
            Reject::NotBearer => b"jwt: not a bearer token",
            Reject::TooLarge => b"jwt: token too large",
            Reject::Malformed => b"jwt: malformed token",
            Reject::UnsupportedAlg => b"jwt: unsupported alg",
            Reject::BadSignature => b"jwt: bad signature",
            Reject::Expired => b"jwt: token expired",
            Reject::NotYetValid => b"jwt: token not yet valid",
            Reject::BadSubject => b"jwt: bad sub claim",
            Reject::Unconfigured => b"jwt: not configured",
        }
    }
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<f64>,
    nbf: Option<f64>,
}

/// Decodes one base64url segment holding a JSON object. Serde would also accept a JSON array
/// for a struct, which is not a valid JOSE header or claims set.
fn decode_json<T: for<'de> Deserialize<'de>>(segment: &[u8]) -> Result<T, Reject> {
    let json = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Reject::Malformed)?;
    if json.trim_ascii_start().first() != Some(&b'{') {
        return Err(Reject::Malformed);
    }
    serde_json::from_slice(&json).map_err(|_| Reject::Malformed)
}

/// Returns the subject claim of a valid token, checked against `now` (seconds since the epoch).
fn verify(config: &Config, header_value: &[u8], now: f64) -> Result<Option<String>, Reject> {
    let value = header_value.trim_ascii();
    let token = match value.split_at_checked(6) {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case(b"bearer") && rest.first() == Some(&b' ') =>
        {
            rest.trim_ascii_start()
        }
        _ => return Err(Reject::NotBearer),
    };
    if token.len() > config.max_token_bytes {
        return Err(Reject::TooLarge);
    }

    let mut parts = token.split(|&b| b == b'.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reject::Malformed);
    };

    // Check the algorithm before spending an HMAC on the token.
    let header: JoseHeader = decode_json(header_b64)?;
    if header.alg != "HS256" {
        return Err(Reject::UnsupportedAlg);
    }

    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| Reject::Malformed)?;
    let signed_len = header_b64.len() + 1 + payload_b64.len();
    let mut mac = config.mac.clone();
    mac.update(&token[..signed_len]);
    // Constant-time comparison.
    mac.verify_slice(&signature)
        .map_err(|_| Reject::BadSignature)?;

    let claims: Claims = decode_json(payload_b64)?;
    let skew = config.clock_skew_seconds;
    if claims.exp.is_some_and(|exp| now >= exp + skew) {
        return Err(Reject::Expired);
    }
    if claims.nbf.is_some_and(|nbf| now + skew < nbf) {
        return Err(Reject::NotYetValid);
    }
    // The subject becomes a header value: refuse control characters (CR/LF injection).
    if claims
        .sub
        .as_deref()
        .is_some_and(|sub| sub.bytes().any(|b| b.is_ascii_control()))
    {
        return Err(Reject::BadSubject);
    }
    Ok(claims.sub)
}

struct JwtAuth {
    /// `None` when configure failed: every request is rejected (fail closed).
    config: Option<Rc<Config>>,
}

impl JwtAuth {
    fn now_seconds(&self) -> f64 {
        self.get_current_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs() as f64)
    }
}

impl Context for JwtAuth {}

impl HttpContext for JwtAuth {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let outcome = match self.config.as_deref() {
            None => Err(Reject::Unconfigured),
            Some(config) => match self.get_http_request_header_bytes(&config.header) {
                None => Err(Reject::Missing),
                Some(value) => verify(config, &value, self.now_seconds()).map(|sub| (config, sub)),
            },
        };
        match outcome {
            Ok((config, sub)) => {
                if let Some(name) = &config.forward_sub_header {
                    // Replace rather than add, so a client cannot smuggle in its own subject.
                    match sub {
                        Some(sub) => self.set_http_request_header(name, Some(&sub)),
                        None => self.remove_http_request_header(name),
                    }
                }
                Action::Continue
            }
            Err(reject) => {
                self.send_http_response(
                    401,
                    vec![("www-authenticate", "Bearer error=\"invalid_token\"")],
                    Some(reject.body()),
                );
                Action::Pause
            }
        }
    }
}
