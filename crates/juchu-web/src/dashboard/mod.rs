//! ホーム (the dashboard).

pub mod ui;
