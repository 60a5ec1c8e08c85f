//! Reach: what a probe filter could touch beyond the host API, per arm (phase `reach`).

use crate::doc::Section;
use crate::model::Analysis;

/// The section, when the results hold its figures.
pub fn section(_a: &Analysis) -> Option<Section> {
    None
}
