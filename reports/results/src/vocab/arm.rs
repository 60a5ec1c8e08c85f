//! Arm names the suite itself gives (engines name theirs in the runners' registry).

/// The filter's native build in process: the reference of every in-process wasm arm.
pub const NATIVE: &str = "native";
/// The harness pseudo-arm.
pub const HARNESS: &str = "harness";
/// The engines' arms (the runners' registry names them with these); claims are judged on
/// the fastest JIT here, wasmtime-cranelift.
pub const WASMTIME_CRANELIFT: &str = "wasmtime-cranelift";
pub const WASMTIME_WINCH: &str = "wasmtime-winch";
pub const WASMER_CRANELIFT: &str = "wasmer-cranelift";
pub const WASMER_SINGLEPASS: &str = "wasmer-singlepass";
pub const WASMI: &str = "wasmi";
/// Envoy variants: no filter, Envoy's built-in filter, the native build as a dynamic
/// module, Lua, and the `.wasm` on V8.
pub const ENVOY_NONE: &str = "envoy-none";
pub const ENVOY_BUILTIN: &str = "envoy-native";
pub const ENVOY_NATIVE_MODULE: &str = "envoy-native-module";
pub const ENVOY_LUA: &str = "envoy-lua";
pub const ENVOY_WASM_V8: &str = "envoy-wasm-v8";
/// The targets of `filterbench load` (an Envoy or sidecar we did not start), A and B, unless
/// named as the Envoy variant each runs.
pub const REMOTE_A: &str = "remote-a";
pub const REMOTE_B: &str = "remote-b";
pub const REMOTE: [&str; 2] = [REMOTE_A, REMOTE_B];
/// Every Envoy variant, in display order.
pub const ENVOY: [&str; 5] = [
    ENVOY_NONE,
    ENVOY_BUILTIN,
    ENVOY_NATIVE_MODULE,
    ENVOY_LUA,
    ENVOY_WASM_V8,
];

/// The failure policies Envoy 1.40's wasm filter offers (`PluginConfig.failure_policy`), as its
/// API spells them; `filterbench fault` runs the V8 arm once under each.
pub const V8_FAILURE_POLICIES: [&str; 3] = ["FAIL_CLOSED", "FAIL_OPEN", "FAIL_RELOAD"];

/// The V8 arm under one failure policy, e.g. `envoy-wasm-v8+fail-reload` (the `fault` rows).
pub fn envoy_wasm_v8_policy(policy: &str) -> String {
    format!(
        "{ENVOY_WASM_V8}+{}",
        policy.to_ascii_lowercase().replace('_', "-")
    )
}

/// The failure policy a `fault` row's V8 arm ran under (None for any other arm).
pub fn v8_policy_of(arm: &str) -> Option<&'static str> {
    V8_FAILURE_POLICIES
        .iter()
        .copied()
        .find(|p| envoy_wasm_v8_policy(p) == arm)
}
