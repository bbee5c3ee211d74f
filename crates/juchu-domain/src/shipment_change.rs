//! Changing an order's packages (出荷情報編集, 分納, merging back) and the
//! order's summary of them; pure, called when an order patch is applied.
//! See [`crate::shipment`] for what a package is.

use crate::error::FieldErrors;
use crate::masters::Masters;
use crate::order::Order;
use crate::shipment::{MAX_SHIPMENTS, MAX_TRACKING_NUMBERS, Shipment, ShipmentItem};
use crate::status::ShipmentStatus;
use crate::text::check_len;
use crate::time::parse_date;
use crate::tracking::{self, KnownCarrier};
use jiff::civil::Date;
use serde::Deserialize;

fn status_rank(s: ShipmentStatus) -> u8 {
    match s {
        ShipmentStatus::NotShipped => 0,
        ShipmentStatus::Instructed => 1,
        ShipmentStatus::Shipped => 2,
    }
}

impl Order {
    /// The order's packages: the stored ones, or the one package its own
    /// fields describe (every item).
    pub fn effective_shipments(&self) -> Vec<Shipment> {
        if !self.shipments.is_empty() {
            return self.shipments.clone();
        }
        vec![Shipment {
            number: 1,
            carrier_id: None,
            status: self.shipment_status,
            tracking_numbers: self.tracking_number.iter().cloned().collect(),
            scheduled_ship_date: self.scheduled_ship_date,
            shipped_at: self.shipped_at,
            scheduled_delivery_date: self.scheduled_delivery_date,
            delivery_time_slot: self.delivery_time_slot.clone(),
            delivered_at: self.delivered_at,
            items: self.all_items(),
        }]
    }

    fn all_items(&self) -> Vec<ShipmentItem> {
        self.items
            .iter()
            .enumerate()
            .map(|(line, i)| ShipmentItem {
                line,
                quantity: i.quantity,
            })
            .collect()
    }

    /// The carrier a package goes with (its own, else the order's).
    pub fn shipment_carrier_id(&self, s: &Shipment) -> Option<i64> {
        s.carrier_id.or(self.carrier_id)
    }

    /// Sets the packages and the order's summary fields from them; a single
    /// plain package is kept as the order's own fields only.
    pub fn set_shipments(&mut self, ships: Vec<Shipment>) {
        let Some(first) = ships.first() else {
            return;
        };
        if ships.len() == 1 {
            let s = first;
            self.shipment_status = s.status;
            self.tracking_number = s.tracking_numbers.first().cloned();
            self.shipped_at = s.shipped_at;
            self.delivered_at = s.delivered_at;
        } else {
            self.shipment_status = ships
                .iter()
                .map(|s| s.status)
                .min_by_key(|s| status_rank(*s))
                .unwrap_or(first.status);
            self.tracking_number = ships
                .iter()
                .find_map(|s| s.tracking_numbers.first().cloned());
            let all_shipped = ships.iter().all(|s| s.status == ShipmentStatus::Shipped);
            self.shipped_at = if all_shipped {
                ships.iter().filter_map(|s| s.shipped_at).max()
            } else {
                None
            };
            let all_delivered = ships.iter().all(|s| s.delivered_at.is_some());
            self.delivered_at = if all_delivered {
                ships.iter().filter_map(|s| s.delivered_at).max()
            } else {
                None
            };
        }
        self.scheduled_ship_date = first.scheduled_ship_date;
        self.scheduled_delivery_date = first.scheduled_delivery_date;
        self.delivery_time_slot = first.delivery_time_slot.clone();
        let plain = ships.len() == 1
            && first.tracking_numbers.len() <= 1
            && first.carrier_id.is_none()
            && first.items == self.all_items();
        self.shipments = if plain { Vec::new() } else { ships };
    }
}

/// A change to one package (by its number). `None` leaves a field alone;
/// `Some(None)` / an empty list clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentPatch {
    pub number: u32,
    #[serde(default)]
    pub carrier: Option<Option<String>>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tracking_numbers: Option<Vec<String>>,
    #[serde(default)]
    pub scheduled_ship_date: Option<Option<String>>,
    #[serde(default)]
    pub shipped_at: Option<Option<String>>,
    #[serde(default)]
    pub scheduled_delivery_date: Option<Option<String>>,
    #[serde(default)]
    pub delivery_time_slot: Option<Option<String>>,
    #[serde(default)]
    pub delivered_at: Option<Option<String>>,
}

/// 分納: move these quantities from package `from` into a new package.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitShipment {
    #[serde(default = "first_package")]
    pub from: u32,
    pub items: Vec<ShipmentItem>,
}

fn first_package() -> u32 {
    1
}

/// The shipment part of an order patch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipmentsPatch {
    pub shipments: Vec<ShipmentPatch>,
    pub split: Option<SplitShipment>,
    /// Put a package's items back into the first package that is not 発送済.
    pub merge: Option<u32>,
}

impl ShipmentsPatch {
    pub fn is_empty(&self) -> bool {
        self.shipments.is_empty() && self.split.is_none() && self.merge.is_none()
    }
}

/// The order-level shipping fields of `o` differ from `before`'s.
fn summary_changed(before: &Order, o: &Order) -> bool {
    before.shipment_status != o.shipment_status
        || before.tracking_number != o.tracking_number
        || before.shipped_at != o.shipped_at
        || before.delivered_at != o.delivered_at
        || before.scheduled_ship_date != o.scheduled_ship_date
        || before.scheduled_delivery_date != o.scheduled_delivery_date
        || before.delivery_time_slot != o.delivery_time_slot
}

fn known_carrier(m: &Masters, carrier_id: Option<i64>) -> Option<KnownCarrier> {
    carrier_id
        .and_then(|id| m.carrier(id))
        .and_then(|c| KnownCarrier::for_code(&c.code))
}

/// Applies the shipment part of a patch to `o` (whose order-level fields the
/// patch has already changed), after `before`. Rules:
/// - on an order of one package, its order-level fields are that package's;
///   on a split order they are a summary, and changing them is refused;
/// - items can change only while the order is one package;
/// - 発送済 without a date records `today`; a first number on a 未発送 package
///   ships it today unless the same change gives it another status;
/// - numbers are checked and normalised per the package's carrier, time slots
///   against the carrier's list.
pub fn apply(
    before: &Order,
    o: &mut Order,
    patch: &ShipmentsPatch,
    m: &Masters,
    today: Date,
    errors: &mut FieldErrors,
) {
    let mut ships = before.effective_shipments();
    let items_changed = o.items != before.items;
    if ships.len() == 1 {
        let s = &mut ships[0];
        s.status = o.shipment_status;
        if o.tracking_number != before.tracking_number {
            match &o.tracking_number {
                None => s.tracking_numbers.clear(),
                Some(t) if s.tracking_numbers.is_empty() => s.tracking_numbers.push(t.clone()),
                Some(t) => s.tracking_numbers[0] = t.clone(),
            }
        }
        s.shipped_at = o.shipped_at;
        s.delivered_at = o.delivered_at;
        s.scheduled_ship_date = o.scheduled_ship_date;
        s.scheduled_delivery_date = o.scheduled_delivery_date;
        s.delivery_time_slot = o.delivery_time_slot.clone();
        if items_changed {
            s.items = o.all_items();
        }
    } else {
        if summary_changed(before, o) {
            errors.add(
                "shipments",
                "split_order",
                "分納している受注の発送状況・伝票番号・日付は出荷ごとに変更してください",
            );
        }
        if items_changed {
            errors.add(
                "items",
                "split_order",
                "分納している受注の商品は変更できません。先に出荷を1つにまとめてください",
            );
        }
    }
    for (i, p) in patch.shipments.iter().enumerate() {
        let field = |name: &str| format!("shipments[{i}].{name}");
        let Some(s) = ships.iter_mut().find(|s| s.number == p.number) else {
            errors.add(
                field("number"),
                "unknown_shipment",
                format!("出荷{}はこの受注にありません", p.number),
            );
            continue;
        };
        apply_one(o, s, p, m, today, errors, &field);
    }
    if let Some(split) = &patch.split {
        split_package(&mut ships, split, o, errors);
    }
    if let Some(n) = patch.merge {
        merge_package(&mut ships, n, errors);
    }
    if errors.is_empty() {
        o.set_shipments(ships);
    }
}

fn apply_one(
    o: &Order,
    s: &mut Shipment,
    p: &ShipmentPatch,
    m: &Masters,
    today: Date,
    errors: &mut FieldErrors,
    field: &dyn Fn(&str) -> String,
) {
    if let Some(c) = &p.carrier {
        s.carrier_id = match c.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(key) => match m.carrier_by_key(key) {
                Some(c) => Some(c.id),
                None => {
                    errors.add(
                        field("carrier"),
                        "unknown_carrier",
                        format!("配送業者「{key}」は登録されていません"),
                    );
                    s.carrier_id
                }
            },
        };
    }
    let carrier = known_carrier(m, o.shipment_carrier_id(s));
    let had_numbers = !s.tracking_numbers.is_empty();
    if let Some(numbers) = &p.tracking_numbers {
        let mut out: Vec<String> = Vec::new();
        for (j, raw) in numbers.iter().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            match tracking::validate(carrier, raw, &field(&format!("tracking_numbers[{j}]"))) {
                Ok(n) => {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
                Err(e) => errors.0.extend(e.0),
            }
        }
        if out.len() > MAX_TRACKING_NUMBERS {
            errors.add(
                field("tracking_numbers"),
                "too_many",
                format!("配送伝票番号は1つの出荷に{MAX_TRACKING_NUMBERS}件までです"),
            );
        }
        s.tracking_numbers = out;
    }
    let mut date = |name: &str, v: &Option<Option<String>>, target: &mut Option<Date>| {
        if let Some(v) = v {
            match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                None => *target = None,
                Some(t) => match parse_date(t) {
                    Ok(d) => *target = Some(d),
                    Err(msg) => errors.add(field(name), "invalid_date", msg),
                },
            }
        }
    };
    date(
        "scheduled_ship_date",
        &p.scheduled_ship_date,
        &mut s.scheduled_ship_date,
    );
    date("shipped_at", &p.shipped_at, &mut s.shipped_at);
    date(
        "scheduled_delivery_date",
        &p.scheduled_delivery_date,
        &mut s.scheduled_delivery_date,
    );
    date("delivered_at", &p.delivered_at, &mut s.delivered_at);
    let mut status_given = false;
    if let Some(st) = &p.status {
        match crate::status::ShipmentStatus::parse(st) {
            Some(st) if st == s.status => {}
            Some(st) => {
                status_given = true;
                s.status = st;
                if st == ShipmentStatus::Shipped && s.shipped_at.is_none() {
                    s.shipped_at = Some(today);
                }
            }
            None => errors.add(
                field("status"),
                "unknown_shipment_status",
                format!("発送状況「{st}」はありません"),
            ),
        }
    }
    if !had_numbers
        && !s.tracking_numbers.is_empty()
        && !status_given
        && s.status == ShipmentStatus::NotShipped
    {
        s.status = ShipmentStatus::Shipped;
        if s.shipped_at.is_none() {
            s.shipped_at = Some(today);
        }
    }
    if let Some(v) = &p.delivery_time_slot {
        let before = s.delivery_time_slot.clone();
        s.delivery_time_slot = v
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        if let Some(t) = s.delivery_time_slot.clone()
            && s.delivery_time_slot != before
        {
            check_len(errors, &field("delivery_time_slot"), &t, 50);
            if let Some(c) = carrier {
                match c.slot(&t) {
                    Some(known) => s.delivery_time_slot = Some(known.to_string()),
                    None => errors.add(
                        field("delivery_time_slot"),
                        "unknown_time_slot",
                        format!(
                            "お届け時間帯「{t}」は{}の時間帯にありません（{}）",
                            c.label(),
                            c.time_slots().join("・")
                        ),
                    ),
                }
            }
        }
    }
}

fn split_package(
    ships: &mut Vec<Shipment>,
    split: &SplitShipment,
    o: &Order,
    errors: &mut FieldErrors,
) {
    if ships.len() >= MAX_SHIPMENTS {
        errors.add(
            "split_shipment",
            "too_many",
            format!("出荷は1つの受注に{MAX_SHIPMENTS}件までです"),
        );
        return;
    }
    let Some(from) = ships.iter().position(|s| s.number == split.from) else {
        errors.add(
            "split_shipment.from",
            "unknown_shipment",
            format!("出荷{}はこの受注にありません", split.from),
        );
        return;
    };
    if ships[from].status == ShipmentStatus::Shipped {
        errors.add(
            "split_shipment.from",
            "already_shipped",
            format!("出荷{}は発送済のため分けられません", split.from),
        );
        return;
    }
    let mut moved: Vec<ShipmentItem> = Vec::new();
    for (i, it) in split.items.iter().enumerate() {
        if it.quantity == 0 {
            continue;
        }
        let field = format!("split_shipment.items[{i}].quantity");
        let available = ships[from]
            .items
            .iter()
            .find(|x| x.line == it.line)
            .map(|x| x.quantity);
        let Some(available) = available else {
            errors.add(
                format!("split_shipment.items[{i}].line"),
                "unknown_line",
                format!("受注明細{}は出荷{}にありません", it.line + 1, split.from),
            );
            continue;
        };
        let already = moved
            .iter()
            .find(|x| x.line == it.line)
            .map_or(0, |x| x.quantity);
        if it.quantity < 0 || already + it.quantity > available {
            let name = o
                .items
                .get(it.line)
                .map(|l| l.product_name.as_str())
                .unwrap_or("");
            errors.add(
                field,
                "out_of_range",
                format!("{name}は1〜{available}個で分けてください"),
            );
            continue;
        }
        match moved.iter_mut().find(|x| x.line == it.line) {
            Some(x) => x.quantity += it.quantity,
            None => moved.push(*it),
        }
    }
    if moved.is_empty() {
        errors.add(
            "split_shipment.items",
            "required",
            "新しい出荷に移す商品と数量を指定してください",
        );
        return;
    }
    let source = &mut ships[from];
    for m in &moved {
        if let Some(x) = source.items.iter_mut().find(|x| x.line == m.line) {
            x.quantity -= m.quantity;
        }
    }
    source.items.retain(|x| x.quantity > 0);
    if source.items.is_empty() {
        errors.add(
            "split_shipment.items",
            "nothing_left",
            format!(
                "出荷{}に商品が残りません。一部の商品だけを分けてください",
                split.from
            ),
        );
        return;
    }
    let number = ships.iter().map(|s| s.number).max().unwrap_or(0) + 1;
    let template = &ships[from];
    let new = Shipment {
        number,
        carrier_id: template.carrier_id,
        status: ShipmentStatus::NotShipped,
        tracking_numbers: Vec::new(),
        scheduled_ship_date: None,
        shipped_at: None,
        scheduled_delivery_date: None,
        delivery_time_slot: None,
        delivered_at: None,
        items: moved,
    };
    ships.push(new);
}

fn merge_package(ships: &mut Vec<Shipment>, number: u32, errors: &mut FieldErrors) {
    let Some(pos) = ships.iter().position(|s| s.number == number) else {
        errors.add(
            "merge_shipment",
            "unknown_shipment",
            format!("出荷{number}はこの受注にありません"),
        );
        return;
    };
    if ships[pos].status == ShipmentStatus::Shipped || !ships[pos].tracking_numbers.is_empty() {
        errors.add(
            "merge_shipment",
            "already_shipped",
            format!("出荷{number}は発送済（または伝票番号あり）のためまとめられません"),
        );
        return;
    }
    let Some(into) = ships
        .iter()
        .position(|s| s.number != number && s.status != ShipmentStatus::Shipped)
    else {
        errors.add(
            "merge_shipment",
            "no_target",
            "まとめ先の未発送の出荷がありません",
        );
        return;
    };
    let gone = ships.remove(pos);
    let into = if into > pos { into - 1 } else { into };
    for it in gone.items {
        match ships[into].items.iter_mut().find(|x| x.line == it.line) {
            Some(x) => x.quantity += it.quantity,
            None => ships[into].items.push(it),
        }
    }
    ships[into].items.sort_by_key(|x| x.line);
}

/// 履歴 text of the stored packages ("" for an order of one plain package).
pub fn describe(o: &Order, m: &Masters) -> String {
    o.shipments
        .iter()
        .map(|s| {
            let items = s
                .items
                .iter()
                .map(|it| {
                    let code = o
                        .items
                        .get(it.line)
                        .map(|l| l.product_code.as_str())
                        .unwrap_or("?");
                    format!("{code}×{}", it.quantity)
                })
                .collect::<Vec<_>>()
                .join(" ");
            let carrier = s
                .carrier_id
                .and_then(|id| m.carrier(id))
                .map(|c| format!(" {}", c.name))
                .unwrap_or_default();
            // Every field, so that any change of a package is a recorded one.
            let mut text = format!(
                "出荷{}{carrier}: {} [{}]",
                s.number,
                s.status.label(),
                items
            );
            if !s.tracking_numbers.is_empty() {
                text.push_str(&format!(" 伝票 {}", s.tracking_numbers.join(",")));
            }
            for (label, d) in [
                ("発送予定", s.scheduled_ship_date),
                ("発送", s.shipped_at),
                ("配送予定", s.scheduled_delivery_date),
                ("配送完了", s.delivered_at),
            ] {
                if let Some(d) = d {
                    text.push_str(&format!(" {label} {d}"));
                }
            }
            if let Some(slot) = &s.delivery_time_slot {
                text.push_str(&format!(" {slot}"));
            }
            text
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{masters, order_with, products};
    use crate::shipment::{parse_public_id, public_id};

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn two_line_order() -> (Masters, Order) {
        let (m, p) = (masters(), products());
        let mut o = order_with(&m, &p, &[("TEA-01", 3, None), ("CUP-01", 1, None)]);
        o.order_number = "A-100".into();
        (m, o)
    }

    fn run(before: &Order, patch: &ShipmentsPatch, m: &Masters) -> Result<Order, FieldErrors> {
        let mut o = before.clone();
        let mut errors = FieldErrors::default();
        apply(before, &mut o, patch, m, day("2026-12-06"), &mut errors);
        if errors.is_empty() {
            Ok(o)
        } else {
            Err(errors)
        }
    }

    fn split(items: &[(usize, i64)]) -> ShipmentsPatch {
        ShipmentsPatch {
            split: Some(SplitShipment {
                from: 1,
                items: items
                    .iter()
                    .map(|(line, quantity)| ShipmentItem {
                        line: *line,
                        quantity: *quantity,
                    })
                    .collect(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn public_ids_split_at_the_last_hyphen() {
        assert_eq!(public_id("A-100", 2), "A-100-2");
        assert_eq!(parse_public_id("A-100-2"), Some(("A-100", 2)));
        assert_eq!(parse_public_id("1001-1"), Some(("1001", 1)));
        assert_eq!(parse_public_id("1001"), None);
        assert_eq!(parse_public_id("1001-0"), None);
        assert_eq!(parse_public_id("-3"), None);
    }

    #[test]
    fn a_new_order_is_one_package_with_every_item() {
        let (_, o) = two_line_order();
        let s = o.effective_shipments();
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].items,
            vec![
                ShipmentItem {
                    line: 0,
                    quantity: 3
                },
                ShipmentItem {
                    line: 1,
                    quantity: 1
                }
            ]
        );
        assert!(o.shipments.is_empty(), "not stored apart");
    }

    #[test]
    fn split_moves_quantities_and_keeps_the_rest() {
        let (m, o) = two_line_order();
        let after = run(&o, &split(&[(0, 1), (1, 1)]), &m).unwrap();
        assert_eq!(after.shipments.len(), 2);
        assert_eq!(
            after.shipments[0].items,
            vec![ShipmentItem {
                line: 0,
                quantity: 2
            }]
        );
        assert_eq!(after.shipments[1].number, 2);
        assert_eq!(after.shipments[1].items.len(), 2);
        assert_eq!(after.shipment_status, ShipmentStatus::NotShipped);
    }

    #[test]
    fn split_refuses_too_many_and_moving_everything() {
        let (m, o) = two_line_order();
        let e = run(&o, &split(&[(0, 4)]), &m).unwrap_err();
        assert!(e.0[0].field.contains("split_shipment.items[0]"), "{e:?}");
        let e = run(&o, &split(&[(0, 3), (1, 1)]), &m).unwrap_err();
        assert_eq!(e.0[0].code, "nothing_left");
        let e = run(&o, &split(&[(5, 1)]), &m).unwrap_err();
        assert_eq!(e.0[0].code, "unknown_line");
        let e = run(&o, &split(&[]), &m).unwrap_err();
        assert_eq!(e.0[0].code, "required");
    }

    #[test]
    fn a_line_named_twice_cannot_move_more_than_ordered() {
        let (m, o) = two_line_order();
        let e = run(&o, &split(&[(0, 2), (0, 2)]), &m).unwrap_err();
        assert_eq!(e.0[0].code, "out_of_range", "{e:?}");
    }

    #[test]
    fn all_shipped_only_when_every_package_is() {
        let (m, o) = two_line_order();
        let o = run(&o, &split(&[(1, 1)]), &m).unwrap();
        let ship = |n: u32, number: &str| ShipmentsPatch {
            shipments: vec![ShipmentPatch {
                number: n,
                tracking_numbers: Some(vec![number.into()]),
                ..Default::default()
            }],
            ..Default::default()
        };
        let first = run(&o, &ship(1, "123456789013"), &m).unwrap();
        assert_eq!(first.shipments[0].status, ShipmentStatus::Shipped);
        assert_eq!(first.shipments[0].shipped_at, Some(day("2026-12-06")));
        assert_eq!(
            first.shipment_status,
            ShipmentStatus::NotShipped,
            "one left"
        );
        assert_eq!(first.shipped_at, None);
        assert_eq!(first.tracking_number.as_deref(), Some("123456789013"));
        let both = run(&first, &ship(2, "123456789024"), &m).unwrap();
        assert_eq!(both.shipment_status, ShipmentStatus::Shipped);
        assert_eq!(both.shipped_at, Some(day("2026-12-06")));
    }

    #[test]
    fn order_level_changes_are_refused_on_a_split_order() {
        let (m, o) = two_line_order();
        let split_order = run(&o, &split(&[(1, 1)]), &m).unwrap();
        let mut changed = split_order.clone();
        changed.tracking_number = Some("123456789013".into());
        let mut errors = FieldErrors::default();
        apply(
            &split_order,
            &mut changed,
            &ShipmentsPatch::default(),
            &m,
            day("2026-12-06"),
            &mut errors,
        );
        assert_eq!(errors.0[0].field, "shipments");
    }

    #[test]
    fn multi_parcel_keeps_every_number_and_a_single_number_folds_back() {
        let (m, o) = two_line_order();
        let p = ShipmentsPatch {
            shipments: vec![ShipmentPatch {
                number: 1,
                tracking_numbers: Some(vec![
                    "1234-5678-9013".into(),
                    "123456789024".into(),
                    "123456789013".into(),
                ]),
                status: Some("発送指示".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let after = run(&o, &p, &m).unwrap();
        assert_eq!(after.shipments.len(), 1, "stored: two numbers");
        assert_eq!(
            after.shipments[0].tracking_numbers,
            vec!["123456789013", "123456789024"]
        );
        assert_eq!(
            after.shipment_status,
            ShipmentStatus::Instructed,
            "発送指示 given with the number"
        );
        let back = ShipmentsPatch {
            shipments: vec![ShipmentPatch {
                number: 1,
                tracking_numbers: Some(vec!["123456789013".into()]),
                ..Default::default()
            }],
            ..Default::default()
        };
        let folded = run(&after, &back, &m).unwrap();
        assert!(folded.shipments.is_empty(), "one plain package again");
        assert_eq!(folded.tracking_number.as_deref(), Some("123456789013"));
    }

    #[test]
    fn merge_returns_items_and_refuses_a_shipped_package() {
        let (m, o) = two_line_order();
        let s = run(&o, &split(&[(0, 1)]), &m).unwrap();
        let merged = run(
            &s,
            &ShipmentsPatch {
                merge: Some(2),
                ..Default::default()
            },
            &m,
        )
        .unwrap();
        assert!(merged.shipments.is_empty());
        assert_eq!(merged.effective_shipments()[0].items[0].quantity, 3);
        let e = run(
            &s,
            &ShipmentsPatch {
                merge: Some(9),
                ..Default::default()
            },
            &m,
        )
        .unwrap_err();
        assert_eq!(e.0[0].code, "unknown_shipment");
    }

    #[test]
    fn every_field_of_a_stored_package_is_in_its_history_text() {
        let (m, o) = two_line_order();
        let o = run(&o, &split(&[(1, 1)]), &m).unwrap();
        let before = describe(&o, &m);
        for p in [
            ShipmentPatch {
                number: 2,
                delivered_at: Some(Some("2026-12-08".into())),
                ..Default::default()
            },
            ShipmentPatch {
                number: 2,
                scheduled_ship_date: Some(Some("2026-12-07".into())),
                ..Default::default()
            },
            ShipmentPatch {
                number: 2,
                scheduled_delivery_date: Some(Some("2026-12-09".into())),
                ..Default::default()
            },
            ShipmentPatch {
                number: 2,
                delivery_time_slot: Some(Some("午前中".into())),
                ..Default::default()
            },
            ShipmentPatch {
                number: 2,
                status: Some("発送指示".into()),
                ..Default::default()
            },
        ] {
            let after = run(
                &o,
                &ShipmentsPatch {
                    shipments: vec![p.clone()],
                    ..Default::default()
                },
                &m,
            )
            .unwrap();
            assert_ne!(describe(&after, &m), before, "{p:?}");
        }
    }

    #[test]
    fn numbers_and_slots_are_checked_per_package() {
        let (m, mut o) = two_line_order();
        o.carrier_id = m.carrier_by_key("yamato").map(|c| c.id);
        let p = ShipmentsPatch {
            shipments: vec![ShipmentPatch {
                number: 1,
                tracking_numbers: Some(vec!["123456789012".into()]),
                delivery_time_slot: Some(Some("12-14".into())),
                ..Default::default()
            }],
            ..Default::default()
        };
        let e = run(&o, &p, &m).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert!(
            fields.contains(&"shipments[0].tracking_numbers[0]"),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"shipments[0].delivery_time_slot"),
            "{fields:?}"
        );
        let unknown = ShipmentsPatch {
            shipments: vec![ShipmentPatch {
                number: 3,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            run(&o, &unknown, &m).unwrap_err().0[0].code,
            "unknown_shipment"
        );
    }
}
