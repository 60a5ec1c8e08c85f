//! Reach: a probe filter tries what a filter should not do, per arm.
