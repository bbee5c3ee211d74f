//! ブラックリスト: conditions, reasons and the re-check.

pub mod api;
pub mod ui;
