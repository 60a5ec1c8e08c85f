//! filterbench runners: the one proxy-wasm host, its engines (arms) and the fixtures that
//! prove every arm produces the same results.

pub mod catalog;
pub mod engines;
pub mod envoy;
pub mod fixtures;
pub mod host;
pub mod languages;
pub mod measure;
pub mod promise;
pub mod source;
pub mod verify;
