//! Blast radius: what a filter failing on purpose costs the host, per arm (phase `fault`).

use crate::doc::Section;
use crate::model::Analysis;

/// The section, when the results hold its figures.
pub fn section(_a: &Analysis) -> Option<Section> {
    None
}
