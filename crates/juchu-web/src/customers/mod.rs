//! 顧客 (API).

pub mod api;
