//! The results file as a JSON Schema (draft 2020-12), generated from the types of this crate, so
//! tools in any language can check a file before reading it. The checked-in copy is
//! `reports/results/results.schema.json`; the crate's `schema` test fails when it differs from
//! what the types generate (`UPDATE_SCHEMA=1 cargo test --release -p filterbench-results
//! --test schema` rewrites it).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::Results;
use crate::vocab::{CALLS_PREFIX, Metric};

/// The checked-in schema's file name, beside this crate's `Cargo.toml`.
pub const SCHEMA_FILE: &str = "results.schema.json";

/// The schema of a results file, as the checked-in file holds it (pretty JSON, one final
/// newline).
pub fn json_schema_text() -> String {
    let schema = schemars::schema_for!(Results);
    let mut text = serde_json::to_string_pretty(&schema).expect("a JSON value serialises");
    text.push('\n');
    text
}

/// A metric is written as its name: one of the vocabulary's, or a per-host-function call count
/// (`calls:<function>`). Hand-written because `Metric` serialises by hand too; the word list
/// comes from the vocabulary, so it cannot drift from what the reader accepts.
impl JsonSchema for Metric {
    fn schema_name() -> Cow<'static, str> {
        "Metric".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        json_schema!({
            "description": "A measured quantity, by its name in the vocabulary, or a host \
                function's call count `calls:<function>`.",
            "type": "string",
            "anyOf": [
                { "enum": names },
                { "pattern": format!("^{CALLS_PREFIX}") }
            ]
        })
    }
}
