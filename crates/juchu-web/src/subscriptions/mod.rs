//! 定期受注: the list, one subscription, and 受注/定期受注の設定.

pub mod api;
pub mod ui;
