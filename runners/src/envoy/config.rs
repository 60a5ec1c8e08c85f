//! Envoy configurations, one per variant of a filter: no filter, Envoy's own native filter
//! doing the same work, a Lua script doing it, and our `.wasm` under V8. The table of
//! native/Lua equivalents is the only per-filter knowledge here.

use std::path::Path;

use base64::Engine as _;
use filterbench_results::vocab::arm;
use serde_json::{Value, json};

/// How a variant's output is checked against the in-process native arm before timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// No filter: nothing to check beyond a successful response.
    None,
    /// Our filter: every header it adds, changes or removes, the bodies it forwards and any
    /// local reply must match the native arm exactly.
    Exact,
    /// A different implementation of the same job: the status and the filter's key header.
    Key,
}

#[derive(Clone)]
pub struct Variant {
    pub name: &'static str,
    pub filters: Vec<Value>,
    pub check: Check,
    /// What Envoy's log must pass once it started, before the variant is trusted (Envoy only
    /// warns about some problems, e.g. a dynamic module of another ABI version).
    pub log_check: Option<LogCheck>,
}

/// A check of Envoy's log text: Err says why the variant must not be trusted.
pub type LogCheck = fn(&str) -> Result<(), String>;

pub const ENVOY_ARMS: &[&str] = &arm::ENVOY;

/// The arm running our filter's native build in Envoy as a dynamic module.
pub const NATIVE_MODULE: &str = arm::ENVOY_NATIVE_MODULE;

/// Envoy releases and the dynamic-modules ABI version each speaks; our module
/// (`native-baseline/envoy-module`) is written against `v0.2.0`.
const MODULE_ABI: &[(&str, &str)] = &[("1.40.", "v0.2.0")];
const OUR_MODULE_ABI: &str = "v0.2.0";

/// The dynamic module for an Envoy of `version`, or why it cannot run there.
pub fn dynamic_module(version: &str) -> Result<std::path::PathBuf, String> {
    let abi = MODULE_ABI
        .iter()
        .find(|(v, _)| version.starts_with(v))
        .map(|(_, abi)| *abi);
    match abi {
        Some(abi) if abi == OUR_MODULE_ABI => {
            let p = std::path::PathBuf::from(env!("FILTERBENCH_ENVOY_MODULE"));
            if p.is_file() {
                Ok(p)
            } else {
                Err(format!("the dynamic module {} was not built", p.display()))
            }
        }
        found => Err(format!(
            "filterbench's Envoy dynamic module speaks the dynamic-modules ABI {OUR_MODULE_ABI} \
             (Envoy 1.40); Envoy {version} speaks {}: update native-baseline/envoy-module to \
             its ABI before using the {NATIVE_MODULE} arm",
            found.unwrap_or("an ABI this build does not know")
        )),
    }
}

/// Envoy loads a module of another ABI version with only a warning; we refuse it, since
/// mismatched callbacks would be undefined behaviour.
pub fn check_module_abi(log: &str) -> Result<(), String> {
    match log
        .lines()
        .find(|l| l.contains("Dynamic module ABI version") && !l.contains("matched"))
    {
        Some(line) => Err(format!(
            "Envoy reports a dynamic-modules ABI mismatch for filterbench's module (built for \
             {OUR_MODULE_ABI}): {}",
            line.trim()
        )),
        None => Ok(()),
    }
}

fn native_module(filter: &str, module: &Path, library: &Path, config: &str) -> Value {
    json!({"name": "envoy.filters.http.dynamic_modules", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter",
        "dynamic_module_config": {"module": {"local": {"filename": module.display().to_string()}},
                                  "do_not_close": true},
        "filter_name": filter,
        "filter_config": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                          "value": format!("{}\n{config}", library.display())}}})
}

fn lua(code: &str) -> Value {
    json!({"name": "envoy.filters.http.lua", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
        "default_source_code": {"inline_string": code}}})
}

fn wasm(filter: &str, wasm: &Path, config: &str) -> Value {
    json!({"name": "envoy.filters.http.wasm", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {
            "name": filter, "root_id": filter, "fail_open": false,
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": config},
            "vm_config": {"vm_id": filter, "runtime": "envoy.wasm.runtime.v8",
                          "code": {"local": {"filename": wasm.display().to_string()}}}}}})
}

fn lua_string(s: &str) -> String {
    format!("{s:?}")
}

/// What a filter brings to Envoy: its `.wasm`, and for the native-module arm the dynamic
/// module with the filter's native library (None when either is missing).
pub struct Builds {
    pub wasm: std::path::PathBuf,
    pub module: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

/// The variants of `filter` this suite knows (always none and wasm-v8).
pub fn variants(filter: &str, builds: &Builds, config: &str) -> Vec<Variant> {
    let wasm_path = builds.wasm.as_path();
    let cfg: Value = serde_json::from_str(config).unwrap_or(Value::Null);
    let s = |k: &str| cfg[k].as_str().unwrap_or_default().to_string();
    let mut out = vec![
        Variant {
            name: arm::ENVOY_NONE,
            filters: vec![],
            check: Check::None,
            log_check: None,
        },
        Variant {
            name: arm::ENVOY_WASM_V8,
            filters: vec![wasm(filter, wasm_path, config)],
            check: Check::Exact,
            log_check: None,
        },
    ];
    if let Some((module, library)) = &builds.module {
        out.push(Variant {
            name: NATIVE_MODULE,
            filters: vec![native_module(filter, module, library, config)],
            check: Check::Exact,
            log_check: Some(check_module_abi),
        });
    }
    let mut native = |filters: Value| {
        out.push(Variant {
            name: arm::ENVOY_BUILTIN,
            filters: vec![filters],
            check: Check::Key,
            log_check: None,
        })
    };
    match crate::languages::job(filter) {
        "add-header" => native(
            json!({"name": "envoy.filters.http.header_mutation", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
            "mutations": {"response_mutations": [{"append": {
                "header": {"key": s("name"), "value": s("value")},
                "append_action": "APPEND_IF_EXISTS_OR_ADD"}}]}}}),
        ),
        "jwt-hs256" => {
            let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s("secret"));
            let jwks = json!({"keys": [{"kty": "oct", "alg": "HS256", "k": k}]}).to_string();
            native(
                json!({"name": "envoy.filters.http.jwt_authn", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
                "providers": {"local": {
                    "local_jwks": {"inline_string": jwks},
                    "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
                    "forward": true,
                    "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]}},
                "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "local"}}]}}),
            )
        }
        "rate-limit" => native(
            json!({"name": "envoy.filters.http.local_ratelimit", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
            "stat_prefix": "rl",
            "token_bucket": {"max_tokens": cfg["capacity"].as_u64().unwrap_or(1000), "tokens_per_fill": cfg["refill_per_second"].as_u64().unwrap_or(1000), "fill_interval": "1s"},
            "filter_enabled": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}},
            "filter_enforced": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}}}}),
        ),
        _ => {}
    }
    let lua_code = match crate::languages::job(filter) {
        "add-header" => Some(format!(
            "function envoy_on_response(h) h:headers():add({}, {}) end",
            lua_string(&s("name")),
            lua_string(&s("value"))
        )),
        "header-rewrite" => {
            // A Lua set of the lowercased header names listed under `key`.
            let set = |key: &str| -> Vec<String> {
                cfg[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .map(|d| format!("[{}]=true", lua_string(&d.to_lowercase())))
                    .collect()
            };
            let (deny, lower) = (set("deny"), set("lowercase_values"));
            let from = cfg["path_prefix"]["from"].as_str().unwrap_or("");
            let to = cfg["path_prefix"]["to"].as_str().unwrap_or("");
            Some(format!(
                r#"local deny = {{{deny}}}
local lower = {{{lower}}}
local n = 0
function envoy_on_request(h)
  local hs = h:headers()
  local edits = {{}}
  for k, v in pairs(hs) do
    local t = v:match("^%s*(.-)%s*$")
    if deny[k] then edits[#edits+1] = {{k, nil}}
    elseif lower[k] then edits[#edits+1] = {{k, t:lower()}}
    elseif t ~= v then edits[#edits+1] = {{k, t}} end
  end
  for _, e in ipairs(edits) do if e[2] then hs:replace(e[1], e[2]) else hs:remove(e[1]) end end
  local rid = {rid}
  if rid ~= "" and hs:get(rid) == nil then n = n + 1; hs:add(rid, string.format("fb-%016x-%d", os.time() * 1000000000, n)) end
  local p = hs:get(":path")
  if {from} ~= "" and p and p:sub(1, #{from}) == {from} then hs:replace(":path", {to} .. p:sub(#{from} + 1)) end
end"#,
                deny = deny.join(", "),
                lower = lower.join(", "),
                rid = lua_string(cfg["request_id_header"].as_str().unwrap_or("")),
                from = lua_string(from),
                to = lua_string(to),
            ))
        }
        _ => None,
    };
    if let Some(code) = lua_code {
        out.push(Variant {
            name: arm::ENVOY_LUA,
            filters: vec![lua(&code)],
            check: Check::Key,
            log_check: None,
        });
    }
    // Report order: none, native, lua, wasm.
    out.sort_by_key(|v| ENVOY_ARMS.iter().position(|a| *a == v.name));
    out
}

/// A bootstrap: one listener on a free loopback port, the variant's filters, the router, and
/// a cluster pointing at the in-suite upstream.
pub fn bootstrap(variant: &Variant, upstream_port: u16) -> Value {
    let mut http_filters = variant.filters.clone();
    http_filters.push(
        json!({"name": "envoy.filters.http.router", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
        "suppress_envoy_headers": true}}),
    );
    json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            // Buffering filters see whole bodies up to the largest fixture (1 MiB) plus headers;
            // Envoy's 1 MiB default would answer 413 before the filter runs.
            "listeners": [{"name": "main",
                "per_connection_buffer_limit_bytes": 16777216,
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "ingress",
                        // Our filters make request ids themselves; Envoy's would change their input.
                        "generate_request_id": false,
                        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"],
                            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": UPSTREAM_CLUSTER, "timeout": "10s"}}]}]},
                        "http_filters": http_filters}}]}]}],
            "clusters": [cluster(UPSTREAM_CLUSTER, upstream_port)]
        }
    })
}

/// The cluster Envoy routes every request to: the in-suite upstream.
pub const UPSTREAM_CLUSTER: &str = "upstream";

/// Adds to `bootstrap` a cluster per (name, port): those a filter calls out to.
pub fn add_clusters(bootstrap: &mut Value, clusters: &[(String, u16)]) {
    if let Some(all) = bootstrap["static_resources"]["clusters"].as_array_mut() {
        all.extend(clusters.iter().map(|(name, port)| cluster(name, *port)));
    }
}

/// A cluster of one local endpoint on `port`.
fn cluster(name: &str, port: u16) -> Value {
    json!({"name": name, "type": "STATIC", "connect_timeout": "1s",
        "per_connection_buffer_limit_bytes": 16777216,
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_warning_of_another_abi_is_refused() {
        let ok = "[info][dynamic_modules] [x.cc:122] Dynamic module ABI version v0.2.0 matched.";
        assert!(check_module_abi(ok).is_ok());
        let bad = "[warning][dynamic_modules] [x.cc:119] Dynamic module ABI version v0.1.0 is \
                   deprecated. Please recompile the module";
        let e = check_module_abi(&format!("{ok}\n{bad}")).unwrap_err();
        assert!(e.contains("v0.1.0 is deprecated"), "{e}");
    }
}
