//! 出荷 (shipments): the packages an order is sent in.
//!
//! Most orders go out as one package carrying every item. That shipment is
//! not stored apart: the order's own fields (発送状況, 配送伝票番号, 発送完了日,
//! 配送完了日, the scheduled dates and お届け時間帯) are it, and
//! `Order::effective_shipments` derives it. An order gets stored shipments
//! (`Order::shipments`) once it needs them: split into a second package (分納),
//! a multi-parcel package with several numbers (個数口), or a package sent
//! with another carrier. The order's fields then become the summary:
//! - 発送状況 is the least advanced status of all packages, so the order is
//!   発送済 when every package is (the "all shipments shipped" event);
//! - 発送完了日 / 配送完了日 are the last package's, once all are shipped /
//!   delivered;
//! - 配送伝票番号, the scheduled dates and お届け時間帯 are the first package's.
//!
//! A shipment is named by the order number and its number in the order
//! (`1001-2`): that id goes into the carrier's お客様管理番号 and joins the
//! carrier's result file back. It is split at the last hyphen, so order numbers
//! with hyphens stay unambiguous.

//! The rules that change packages live in `shipment_change`.

use crate::status::ShipmentStatus;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Packages an order may be split into.
pub const MAX_SHIPMENTS: usize = 20;
/// Tracking numbers of one package (個数口).
pub const MAX_TRACKING_NUMBERS: usize = 50;

/// How many of one order line a package carries (`line` indexes the order's items).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentItem {
    pub line: usize,
    pub quantity: i64,
}

/// One package of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// 1, 2, …: the package's number within its order.
    pub number: u32,
    /// Another carrier than the order's; `None`: the order's.
    #[serde(default)]
    pub carrier_id: Option<i64>,
    pub status: ShipmentStatus,
    /// Several for a multi-parcel (個数口) package; all are kept.
    #[serde(default)]
    pub tracking_numbers: Vec<String>,
    #[serde(default)]
    pub scheduled_ship_date: Option<Date>,
    #[serde(default)]
    pub shipped_at: Option<Date>,
    #[serde(default)]
    pub scheduled_delivery_date: Option<Date>,
    #[serde(default)]
    pub delivery_time_slot: Option<String>,
    #[serde(default)]
    pub delivered_at: Option<Date>,
    pub items: Vec<ShipmentItem>,
}

/// The id a shipment is known by outside: `{order_number}-{number}`.
pub fn public_id(order_number: &str, number: u32) -> String {
    format!("{order_number}-{number}")
}

/// Splits a shipment id into order number and package number (at the last
/// hyphen); `None` when it is not of that form.
pub fn parse_public_id(id: &str) -> Option<(&str, u32)> {
    let (order, n) = id.trim().rsplit_once('-')?;
    let n: u32 = n.parse().ok().filter(|n| *n > 0)?;
    (!order.is_empty()).then_some((order, n))
}
