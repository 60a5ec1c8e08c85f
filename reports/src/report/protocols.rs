//! HTTP/1.1 against HTTP/2 (h2c) per Envoy variant.

use crate::doc::Section;
use crate::model::Analysis;

/// The section, when the results hold its figures.
pub fn section(_a: &Analysis) -> Option<Section> {
    None
}
