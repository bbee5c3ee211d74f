//! 受注: search, one order, creating and changing orders.

pub mod api;
pub mod ui;
