//! Pure domain logic of juchu (受注): no I/O, no async, no clock.
//!
//! Everything here is deterministic and unit-tested; the store and the web
//! layer call into it and stay thin.
//!
//! Floors (a module imports only from its own floor or the ones below; no
//! circles):
//! 1. `error`, `text`, `normalize`, `time`, `status`, `actor`, `access`
//! 2. `masters`, `customer`, `calendar`, `pricing`, `tracking`, `shipment`, `postal`,
//!    `request` (the 申請 field scheme and forms)
//! 3. `order`, `shipment_change`, `patch`, `event`, `payment`, `subscription`,
//!    `mail`, `blacklist`
//! 4. `automation`, `csv_format`, `document`, `job`, `shipment_import`, `mypage`,
//!    `request_rule` (申請の自動処理), `webhook` (outbound events)
//! 5. `carrier_file`, `payment_import`

pub mod access;
pub mod actor;
pub mod automation;
pub mod blacklist;
pub mod calendar;
pub mod carrier_file;
pub mod cp932;
pub mod csv_format;
pub mod customer;
pub mod document;
pub mod error;
pub mod event;
pub mod job;
pub mod mail;
pub mod masters;
pub mod mypage;
pub mod normalize;
pub mod order;
pub mod patch;
pub mod payment;
pub mod payment_import;
pub mod postal;
pub mod pricing;
pub mod request;
pub mod request_rule;
pub mod shipment;
pub mod shipment_change;
pub mod shipment_import;
pub mod status;
pub mod subscription;
pub mod text;
pub mod time;
pub mod tracking;
pub mod webhook;

pub use error::{FieldError, FieldErrors};
