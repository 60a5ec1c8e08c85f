//! Blast radius: filters failing on purpose, in process per engine and in live Envoy.
