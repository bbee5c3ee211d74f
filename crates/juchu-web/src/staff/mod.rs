//! API tokens (API).

pub mod api;
