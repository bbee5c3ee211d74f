//! 受注: search, one order, creating and changing orders; 受注登録 (orders
//! taken by phone, FAX or mail) and the order page's print and mail actions.

pub mod api;
pub mod desk;
pub mod entry;
pub mod ui;
