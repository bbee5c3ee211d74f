//! スタッフ管理, パスワード変更 and API tokens (UI and API).

pub mod api;
pub mod ui;
