//! 帳票管理: layouts of 納品書, 請求書 and 領収書.

pub mod api;
pub mod ui;
