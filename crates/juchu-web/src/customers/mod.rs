//! 顧客 (API), and the postal code lookup of every address form.

pub mod api;
pub mod postal;
