//! 出荷: 出荷実績インポート (API).

pub mod api;
