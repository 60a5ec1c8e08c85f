//! A strict JSON Schema (2020-12) validator for the keywords schemars writes. Strict: a keyword
//! it does not know fails the test, so a schema feature it does not check cannot pass quietly.
//! (The maintained Rust validators would change features of crates the whole workspace shares
//! — serde_json's `float_roundtrip`, syn's `fold` — and rebuild wasmtime or wasmer; see the
//! schema test for the cross-check with Python's `jsonschema` where it is installed.)

use serde_json::{Map, Value};

/// Keywords that only annotate.
const ANNOTATIONS: [&str; 9] = [
    "$schema",
    "$defs",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    // Formats are annotations in 2020-12 unless a vocabulary asserts them.
    "format",
    "readOnly",
];

/// Every way `instance` breaks `root`, each with its JSON pointer; empty when it is valid.
pub fn errors(root: &Value, instance: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(root, root, instance, "", &mut out);
    out
}

fn resolve<'a>(root: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local references are supported: {reference}"));
    root.pointer(pointer)
        .unwrap_or_else(|| panic!("dangling reference {reference}"))
}

fn is_type(instance: &Value, t: &str) -> bool {
    match t {
        "null" => instance.is_null(),
        "boolean" => instance.is_boolean(),
        "string" => instance.is_string(),
        "array" => instance.is_array(),
        "object" => instance.is_object(),
        "number" => instance.is_number(),
        "integer" => {
            instance.is_i64()
                || instance.is_u64()
                || instance.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        other => panic!("unknown type {other}"),
    }
}

fn check(root: &Value, schema: &Value, instance: &Value, at: &str, out: &mut Vec<String>) {
    let s: &Map<String, Value> = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => return out.push(format!("{at}: nothing is allowed here")),
        Value::Object(s) => s,
        other => panic!("not a schema at {at}: {other}"),
    };
    for (key, arg) in s {
        match key.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "$ref" => check(
                root,
                resolve(root, arg.as_str().unwrap()),
                instance,
                at,
                out,
            ),
            "type" => {
                let types: Vec<&str> = match arg {
                    Value::String(t) => vec![t],
                    Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
                    other => panic!("bad type {other}"),
                };
                if !types.iter().any(|t| is_type(instance, t)) {
                    out.push(format!("{at}: {instance} is not of type {arg}"));
                }
            }
            "enum" => {
                if !arg.as_array().unwrap().contains(instance) {
                    out.push(format!("{at}: {instance} is not one of the listed values"));
                }
            }
            "const" => {
                if arg != instance {
                    out.push(format!("{at}: {instance} is not {arg}"));
                }
            }
            "properties" | "required" | "additionalProperties" => {
                if let Value::Object(o) = instance {
                    check_object(root, s, key, arg, o, at, out);
                }
            }
            "prefixItems" | "items" | "minItems" | "maxItems" => {
                if let Value::Array(a) = instance {
                    check_array(root, s, key, arg, a, at, out);
                }
            }
            "minimum" | "maximum" => {
                if let (Some(x), Some(bound)) = (instance.as_f64(), arg.as_f64()) {
                    let ok = if key == "minimum" {
                        x >= bound
                    } else {
                        x <= bound
                    };
                    if !ok {
                        out.push(format!("{at}: {x} breaks {key} {bound}"));
                    }
                }
            }
            "pattern" => {
                let p = arg.as_str().unwrap();
                // Only the anchored literal prefixes the schema uses; anything else is refused.
                let literal = p
                    .strip_prefix('^')
                    .filter(|l| l.chars().all(|c| c.is_alphanumeric() || "_:-".contains(c)))
                    .unwrap_or_else(|| panic!("unsupported pattern {p}"));
                if let Value::String(x) = instance
                    && !x.starts_with(literal)
                {
                    out.push(format!("{at}: {x:?} does not match {p}"));
                }
            }
            "anyOf" | "oneOf" | "allOf" => {
                let passing = arg
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|sub| {
                        let mut e = Vec::new();
                        check(root, sub, instance, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                let n = arg.as_array().unwrap().len();
                let ok = match key.as_str() {
                    "anyOf" => passing >= 1,
                    "oneOf" => passing == 1,
                    _ => passing == n,
                };
                if !ok {
                    out.push(format!("{at}: {passing} of {n} branches of {key} hold"));
                }
            }
            other => panic!("keyword {other} at {at} is not supported by this validator"),
        }
    }
}

fn check_object(
    root: &Value,
    s: &Map<String, Value>,
    key: &str,
    arg: &Value,
    o: &Map<String, Value>,
    at: &str,
    out: &mut Vec<String>,
) {
    let props = s.get("properties").and_then(Value::as_object);
    match key {
        "properties" => {
            for (name, sub) in arg.as_object().unwrap() {
                if let Some(v) = o.get(name) {
                    check(root, sub, v, &format!("{at}/{name}"), out);
                }
            }
        }
        "required" => {
            for name in arg.as_array().unwrap() {
                if !o.contains_key(name.as_str().unwrap()) {
                    out.push(format!("{at}: lacks required {name}"));
                }
            }
        }
        _ => {
            for (name, v) in o {
                if !props.is_some_and(|p| p.contains_key(name)) {
                    check(root, arg, v, &format!("{at}/{name}"), out);
                }
            }
        }
    }
}

fn check_array(
    root: &Value,
    s: &Map<String, Value>,
    key: &str,
    arg: &Value,
    a: &[Value],
    at: &str,
    out: &mut Vec<String>,
) {
    let prefix = s
        .get("prefixItems")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    match key {
        "prefixItems" => {
            for (i, (sub, v)) in arg.as_array().unwrap().iter().zip(a).enumerate() {
                check(root, sub, v, &format!("{at}/{i}"), out);
            }
        }
        "items" => {
            for (i, v) in a.iter().enumerate().skip(prefix) {
                check(root, arg, v, &format!("{at}/{i}"), out);
            }
        }
        _ => {
            let bound = arg.as_u64().unwrap() as usize;
            let ok = if key == "minItems" {
                a.len() >= bound
            } else {
                a.len() <= bound
            };
            if !ok {
                out.push(format!("{at}: {} items breaks {key} {bound}", a.len()));
            }
        }
    }
}
