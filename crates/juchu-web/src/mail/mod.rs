//! メールテンプレート, the mails of an order, and ショップ情報.

pub mod api;
pub mod ui;
