//! Masters (対応状況, 支払方法, 配送業者, 受注ラベル, 商品) and, in the UI, the customer pages.

pub mod api;
pub mod ui;
