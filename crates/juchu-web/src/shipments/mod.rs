//! 出荷: 出荷実績インポート and 入金消込 (API and admin UI), saved import
//! formats and 出荷設定.

pub mod api;
mod ui;
pub use ui::routes;
