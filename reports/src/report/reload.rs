//! Live reload: swapping a filter version in a running host under load (phase `reload`).

use crate::doc::Section;
use crate::model::Analysis;

/// The section, when the results hold its figures.
pub fn section(_a: &Analysis) -> Option<Section> {
    None
}
