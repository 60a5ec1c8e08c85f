//! Flame graphs: the perf mechanism lives in the runners (`measure::perf`).

pub use filterbench_runners::measure::perf::{Target, record};
