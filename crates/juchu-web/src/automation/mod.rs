//! 自動化設定: rules, presets and their dry run.

pub mod api;
pub mod ui;
