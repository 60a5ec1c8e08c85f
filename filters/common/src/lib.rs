//! What every filter in `filters/` shares, so a filter crate holds only its own logic:
//!
//! - native builds link `filterbench-native-shim` (the `proxy_*` host-call symbols, NullVM
//!   style) through this crate, so a filter that uses it exports them from its shared library;
//! - [`warn`] logs through the host;
//! - [`load_config`] / [`load_config_with`] read a JSON plugin configuration, logging
//!   `<filter>: missing configuration` or `<filter>: bad configuration: <why>`;
//! - [`http_root`] / [`stream_root`] are the root context of a filter whose streams only need its
//!   configuration.
//! - the slowdown knob: an optional `"burn_iterations": N` key in a JSON-object plugin
//!   configuration is taken out before the filter sees it, and every stream context the root
//!   creates first runs N rounds of a loop the compiler cannot remove — real extra work per
//!   request, so a nightly comparison can be shown to catch a known slowdown of one filter.
//!
//! This is a plain library, not a filter: it has no `fixtures.json`, so the build and the
//! catalogue skip it.

// Referencing the shim is what links it (and its exported symbols) into every native filter.
#[cfg(not(target_family = "wasm"))]
use filterbench_native_shim as _;

use std::marker::PhantomData;
use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext, StreamContext};
use proxy_wasm::types::{ContextType, LogLevel};
use serde::de::DeserializeOwned;

/// Logs through the host directly: the SDK's `log` facade is not a dependency here.
pub fn warn(message: &str) {
    let _ = hostcalls::log(LogLevel::Warn, message);
}

/// Parses the plugin configuration `bytes` as JSON. An absent or empty configuration logs
/// `<filter>: missing configuration`, a malformed one `<filter>: bad configuration: <error>`;
/// both give `None`.
pub fn load_config<T: DeserializeOwned>(filter: &str, bytes: Option<Vec<u8>>) -> Option<T> {
    load_config_with(filter, bytes, Ok)
}

/// [`load_config`], then `check` validates or converts what was parsed; its error is logged
/// as a bad configuration too.
pub fn load_config_with<T: DeserializeOwned, C>(
    filter: &str,
    bytes: Option<Vec<u8>>,
    check: impl FnOnce(T) -> Result<C, String>,
) -> Option<C> {
    // Hosts differ in whether "no configuration" is an absent or an empty buffer.
    let bytes = match bytes {
        Some(bytes) if !bytes.is_empty() => bytes,
        _ => {
            warn(&format!("{filter}: missing configuration"));
            return None;
        }
    };
    let config = serde_json::from_slice(&bytes).map_err(|e| e.to_string());
    match config.and_then(check) {
        Ok(config) => Some(config),
        Err(e) => {
            warn(&format!("{filter}: bad configuration: {e}"));
            None
        }
    }
}

/// The plugin-configuration key of the slowdown knob.
pub const BURN_KEY: &str = "burn_iterations";

/// Splits the knob off a configuration: the bytes the filter sees and the rounds to burn. A
/// configuration that is not a JSON object, or has no knob, passes through untouched (so the
/// filter still reports its own configuration errors).
pub fn split_burn(bytes: Option<Vec<u8>>) -> (Option<Vec<u8>>, u64) {
    let Some(raw) = bytes.as_deref() else {
        return (bytes, 0);
    };
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_slice(raw) else {
        return (bytes, 0);
    };
    let Some(n) = map.remove(BURN_KEY).and_then(|v| v.as_u64()) else {
        return (bytes, 0);
    };
    match serde_json::to_vec(&serde_json::Value::Object(map)) {
        Ok(rest) => (Some(rest), n),
        Err(_) => (bytes, 0),
    }
}

/// `rounds` of xorshift whose result is kept opaque, so the loop is neither removed nor folded.
#[inline(never)]
pub fn burn(rounds: u64) -> u64 {
    let mut x = std::hint::black_box(0x9E37_79B9_7F4A_7C15_u64);
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x)
}

/// The root context of an HTTP filter. `configure` turns the plugin configuration into the
/// filter's configuration (`None`, having logged why, fails `on_configure`); `new_http` makes
/// the context of one request from it.
pub fn http_root<C, P, F, S>(configure: P, new_http: F) -> Box<dyn RootContext>
where
    C: 'static,
    P: FnMut(Option<Vec<u8>>) -> Option<C> + 'static,
    F: Fn(Option<Rc<C>>) -> S + 'static,
    S: HttpContext + 'static,
{
    Box::new(Root::<Http, _, _, _>::new(configure, new_http))
}

/// [`http_root`] for a TCP filter: `new_stream` makes the context of one connection.
pub fn stream_root<C, P, F, S>(configure: P, new_stream: F) -> Box<dyn RootContext>
where
    C: 'static,
    P: FnMut(Option<Vec<u8>>) -> Option<C> + 'static,
    F: Fn(Option<Rc<C>>) -> S + 'static,
    S: StreamContext + 'static,
{
    Box::new(Root::<Stream, _, _, _>::new(configure, new_stream))
}

/// Marks a [`Root`] that creates HTTP contexts.
struct Http;
/// Marks a [`Root`] that creates stream (TCP) contexts.
struct Stream;

struct Root<K, C, P, F> {
    config: Option<Rc<C>>,
    /// Rounds of [`burn`] per stream context (the knob; 0 without it).
    burn: u64,
    configure: P,
    new_context: F,
    kind: PhantomData<K>,
}

impl<K, C, P, F> Root<K, C, P, F>
where
    P: FnMut(Option<Vec<u8>>) -> Option<C>,
{
    fn new(configure: P, new_context: F) -> Self {
        Root {
            config: None,
            burn: 0,
            configure,
            new_context,
            kind: PhantomData,
        }
    }

    /// A failed configure keeps the previous configuration, if any.
    fn configure(&mut self, bytes: Option<Vec<u8>>) -> bool {
        let (bytes, burn) = split_burn(bytes);
        match (self.configure)(bytes) {
            Some(config) => {
                self.config = Some(Rc::new(config));
                self.burn = burn;
                true
            }
            None => false,
        }
    }

    /// A host that creates contexts despite a failed configure gets one without configuration
    /// (`None`): the filter passes through or fails closed rather than panicking (which would
    /// abort the process in the native build).
    fn config(&self) -> Option<Rc<C>> {
        self.config.clone()
    }
}

impl<K, C, P, F> Context for Root<K, C, P, F> {}

impl<C, P, F, S> RootContext for Root<Http, C, P, F>
where
    P: FnMut(Option<Vec<u8>>) -> Option<C>,
    F: Fn(Option<Rc<C>>) -> S,
    S: HttpContext + 'static,
{
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration();
        self.configure(bytes)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        burn(self.burn);
        Some(Box::new((self.new_context)(self.config())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

impl<C, P, F, S> RootContext for Root<Stream, C, P, F>
where
    P: FnMut(Option<Vec<u8>>) -> Option<C>,
    F: Fn(Option<Rc<C>>) -> S,
    S: StreamContext + 'static,
{
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration();
        self.configure(bytes)
    }

    fn create_stream_context(&self, _context_id: u32) -> Option<Box<dyn StreamContext>> {
        burn(self.burn);
        Some(Box::new((self.new_context)(self.config())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_knob_is_taken_out_of_an_object_configuration_only() {
        let (rest, n) = split_burn(Some(br#"{"name":"x","burn_iterations":500}"#.to_vec()));
        assert_eq!(n, 500);
        assert_eq!(rest.as_deref(), Some(&br#"{"name":"x"}"#[..]));
        let raw = Some(b"not json".to_vec());
        assert_eq!(split_burn(raw.clone()), (raw, 0));
        let plain = Some(br#"{"name":"x"}"#.to_vec());
        assert_eq!(split_burn(plain.clone()), (plain, 0));
        assert_eq!(split_burn(None), (None, 0));
    }
}
