//! 在庫 (UI and API).

pub mod api;
pub mod ui;
