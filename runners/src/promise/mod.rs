//! The other promises of wasm filters, measured beside their costs: isolation (a failing
//! filter's blast radius), live reload, and reach (what a filter can touch beyond the host API).

pub mod fault;
pub mod reach;
pub mod reload;
