//! 決済処理: payment requests and payment notifications (API).

pub mod api;
