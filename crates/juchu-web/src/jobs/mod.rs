//! 一括処理: jobs, ジョブ管理, CSV管理 and the notices pushed to open pages.

pub mod api;
pub mod ui;
