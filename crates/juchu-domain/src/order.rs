//! 受注 (orders): the stored shape, and building a new order from its input.

use crate::customer::Address;
use crate::error::FieldErrors;
use crate::masters::{Masters, Product};
use crate::pricing::{self, PricedLine, Totals, TotalsInput};
use crate::status::{PaymentStatus, RoundingMode, ShipmentStatus, ShippingListState, TaxRate};
use crate::text::check_len;
use jiff::{Timestamp, civil::Date};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const MAX_ITEMS: usize = 200;
pub const MAX_QUANTITY: i64 = 9999;
pub const MAX_MEMO: usize = 4000;

/// 受注商品: a line of an order, with the product's name and price copied at order
/// time (later product edits never change a placed order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    pub product_id: Option<i64>,
    pub product_code: String,
    pub product_name: String,
    pub unit_price: i64,
    pub quantity: i64,
    pub tax_rate: TaxRate,
    pub is_bundled_item: bool,
    pub product_shipping_fee: Option<i64>,
    pub product_payment_fee: Option<i64>,
}

impl OrderItem {
    pub fn amount(&self) -> i64 {
        self.unit_price * self.quantity
    }
    fn priced(&self) -> PricedLine {
        PricedLine {
            unit_price: self.unit_price,
            quantity: self.quantity,
            tax_rate: self.tax_rate,
            product_shipping_fee: self.product_shipping_fee,
            product_payment_fee: self.product_payment_fee,
        }
    }
}

/// An order as stored. Master references are ids; [`Masters`] turns them into names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: i64,
    pub order_number: String,
    pub customer_id: Option<i64>,
    pub ordered_at: Timestamp,
    pub billing: Address,
    pub shipping: Address,
    pub items: Vec<OrderItem>,
    pub totals: Totals,
    pub points_granted: i64,
    pub payment_method_id: Option<i64>,
    pub carrier_id: Option<i64>,
    pub handling_status_id: i64,
    pub payment_status: PaymentStatus,
    pub shipping_list_state: ShippingListState,
    pub shipping_list_exported_on: Option<Date>,
    pub shipment_status: ShipmentStatus,
    pub tracking_number: Option<String>,
    pub scheduled_ship_date: Option<Date>,
    pub scheduled_delivery_date: Option<Date>,
    /// 発送完了日
    pub shipped_at: Option<Date>,
    /// 配送完了日
    pub delivered_at: Option<Date>,
    /// 入金日
    pub paid_at: Option<Date>,
    pub delivery_time_slot: Option<String>,
    pub memo: String,
    pub label_ids: Vec<i64>,
    pub needs_attention: bool,
    pub needs_attention_reason: String,
    /// For a child order (受注(子)): the subscription and the delivery date it was
    /// created for. (subscription, date) is unique: the daily run never creates
    /// two orders for one scheduled delivery.
    pub subscription_id: Option<i64>,
    pub subscription_delivery_date: Option<Date>,
    /// Packages stored apart (分納, 個数口, another carrier); empty: the order
    /// is one package described by its own fields ([`crate::shipment`]).
    pub shipments: Vec<crate::shipment::Shipment>,
    pub version: i64,
}

/// Custom attributes: at most 50, names 1–50 characters and unique, values up
/// to 1,000 characters.
pub fn check_attributes(errors: &mut FieldErrors, attributes: &[(String, String)]) {
    if attributes.len() > 50 {
        errors.add("attributes", "too_many", "カスタム属性は50個までです");
    }
    let mut seen = std::collections::HashSet::new();
    for (name, value) in attributes {
        let field = format!("attributes.{name}");
        if name.trim().is_empty() {
            errors.add("attributes", "required", "カスタム属性の名前が空です");
        } else if !seen.insert(name.trim()) {
            errors.add(
                field.clone(),
                "duplicate",
                format!("カスタム属性「{name}」が重複しています"),
            );
        }
        check_len(errors, "attributes", name, 50);
        check_len(errors, &field, value, 1000);
    }
}

/// Context the pure order rules need, gathered by the store.
pub struct OrderContext<'a> {
    pub masters: &'a Masters,
    /// Products referred to by the input, by code.
    pub products: &'a HashMap<String, Product>,
    pub rounding: RoundingMode,
}

/// One requested line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub product_code: String,
    pub quantity: i64,
    /// Overrides the product's price (e.g. a campaign price). Tax included.
    #[serde(default)]
    pub unit_price: Option<i64>,
}

/// Resolves requested lines against the product master.
pub fn resolve_items(
    inputs: &[ItemInput],
    products: &HashMap<String, Product>,
    errors: &mut FieldErrors,
) -> Vec<OrderItem> {
    if inputs.is_empty() {
        errors.add("items", "required", "受注商品を1つ以上指定してください");
    }
    if inputs.len() > MAX_ITEMS {
        errors.add(
            "items",
            "too_many",
            format!("受注商品は{MAX_ITEMS}件までです"),
        );
    }
    let mut items = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let f = |name: &str| format!("items[{i}].{name}");
        if !(1..=MAX_QUANTITY).contains(&input.quantity) {
            errors.add(
                f("quantity"),
                "out_of_range",
                format!("数量は1〜{MAX_QUANTITY}で入力してください"),
            );
        }
        if let Some(p) = input.unit_price
            && !(0..=100_000_000).contains(&p)
        {
            errors.add(
                f("unit_price"),
                "out_of_range",
                "単価は0〜100,000,000円で入力してください",
            );
        }
        let Some(product) = products.get(input.product_code.trim()) else {
            errors.add(
                f("product_code"),
                "unknown_product",
                format!("商品コード「{}」は登録されていません", input.product_code),
            );
            continue;
        };
        items.push(OrderItem {
            product_id: Some(product.id),
            product_code: product.code.clone(),
            product_name: product.name.clone(),
            unit_price: input.unit_price.unwrap_or(product.unit_price),
            quantity: input.quantity,
            tax_rate: product.tax_rate,
            is_bundled_item: product.is_bundled_item,
            product_shipping_fee: product.shipping_fee,
            product_payment_fee: product.payment_fee,
        });
    }
    items
}

impl Order {
    /// Recomputes the totals from items, carrier, payment method, discount and points.
    pub fn recompute_totals(&mut self, ctx: &OrderContext<'_>) -> Result<(), &'static str> {
        let lines: Vec<PricedLine> = self.items.iter().map(OrderItem::priced).collect();
        let carrier_fee = self
            .carrier_id
            .and_then(|id| ctx.masters.carrier(id))
            .map(|c| c.shipping_fee);
        let method_fee = self
            .payment_method_id
            .and_then(|id| ctx.masters.payment_method(id))
            .map(|m| m.fee);
        self.totals = pricing::totals(&TotalsInput {
            shipping_fee: pricing::shipping_fee(&lines, carrier_fee),
            payment_fee: pricing::payment_fee(&lines, method_fee),
            lines: &lines,
            discount: self.totals.discount,
            points_used: self.totals.points_used,
            rounding: ctx.rounding,
        })?;
        Ok(())
    }
}

/// What creating an order takes (after the store resolved the customer).
#[derive(Debug, Clone, Default)]
pub struct NewOrder {
    pub order_number: Option<String>,
    pub customer_id: Option<i64>,
    pub ordered_at: Option<Timestamp>,
    pub billing: Address,
    pub shipping: Option<Address>,
    pub items: Vec<ItemInput>,
    pub payment_method: Option<String>,
    pub carrier: Option<String>,
    pub handling_status: Option<String>,
    pub payment_status: Option<String>,
    pub discount: i64,
    pub points_used: i64,
    pub points_granted: i64,
    pub scheduled_delivery_date: Option<String>,
    pub scheduled_ship_date: Option<String>,
    pub delivery_time_slot: Option<String>,
    pub memo: String,
    pub labels: Vec<String>,
    /// Set by the store (blacklist, flagged subscription): the order starts as
    /// 要対応受注 with this reason.
    pub needs_attention_reason: Option<String>,
    /// For an order with subscription products: the cycle of the subscription it
    /// starts (none: the shop's default cycle).
    pub subscription_cycle: Option<crate::calendar::Cycle>,
    /// Set by the subscription run only.
    pub subscription_id: Option<i64>,
    pub subscription_delivery_date: Option<Date>,
    /// Fields an import from another system may carry (orders already shipped).
    pub tracking_number: Option<String>,
    pub shipment_status: Option<String>,
    /// Custom attributes (アンケート結果 and the like): name → value, kept
    /// with the order and exportable as CSV columns.
    pub attributes: Vec<(String, String)>,
    pub shipped_at: Option<String>,
    pub delivered_at: Option<String>,
    pub paid_at: Option<String>,
}

/// Checks an order number: 1–32 ASCII letters, digits, `-` or `_`.
pub fn check_order_number(s: &str) -> Result<(), &'static str> {
    if s.is_empty()
        || s.len() > 32
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("受注番号は32文字以内の英数字・ハイフン・アンダースコアで入力してください");
    }
    Ok(())
}

/// Validates a new order and computes its totals. Every order starts at the shop's
/// default handling status unless one is given, whatever the payment result.
pub fn build_order(
    input: NewOrder,
    ctx: &OrderContext<'_>,
    now: Timestamp,
) -> Result<Order, FieldErrors> {
    let mut errors = FieldErrors::default();
    if let Some(n) = &input.order_number
        && let Err(m) = check_order_number(n)
    {
        errors.add("order_number", "invalid_order_number", m);
    }
    let mut billing = input.billing;
    billing.validate("billing", false, &mut errors);
    let shipping = match input.shipping {
        Some(mut s) => {
            s.validate("shipping", false, &mut errors);
            s
        }
        None => billing.clone(),
    };
    let items = resolve_items(&input.items, ctx.products, &mut errors);
    let payment_method_id = resolve_opt(
        &mut errors,
        "payment_method",
        input.payment_method.as_deref(),
        |k| ctx.masters.payment_method_by_key(k).map(|m| m.id),
    );
    let carrier_id = resolve_opt(&mut errors, "carrier", input.carrier.as_deref(), |k| {
        ctx.masters.carrier_by_key(k).map(|c| c.id)
    });
    let handling_status_id = match input.handling_status.as_deref() {
        Some(name) => ctx
            .masters
            .handling_status_by_name(name)
            .map(|s| s.id)
            .unwrap_or_else(|| {
                errors.add(
                    "handling_status",
                    "unknown_handling_status",
                    format!("対応状況「{name}」は登録されていません"),
                );
                0
            }),
        None => ctx
            .masters
            .default_handling_status()
            .map(|s| s.id)
            .unwrap_or_else(|| {
                errors.add(
                    "handling_status",
                    "no_default",
                    "対応状況が1件も登録されていません",
                );
                0
            }),
    };
    let payment_status = match input.payment_status.as_deref() {
        None => PaymentStatus::Unpaid,
        Some(s) => PaymentStatus::parse(s).unwrap_or_else(|| {
            errors.add(
                "payment_status",
                "unknown_payment_status",
                format!("決済状況「{s}」はありません"),
            );
            PaymentStatus::Unpaid
        }),
    };
    let mut date = |field: &'static str, v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| {
                crate::time::parse_date(s)
                    .map_err(|m| errors.add(field, "invalid_date", m))
                    .ok()
            })
    };
    let scheduled_delivery_date = date("scheduled_delivery_date", &input.scheduled_delivery_date);
    let scheduled_ship_date = date("scheduled_ship_date", &input.scheduled_ship_date);
    let shipped_at = date("shipped_at", &input.shipped_at);
    let delivered_at = date("delivered_at", &input.delivered_at);
    let paid_at = date("paid_at", &input.paid_at);
    let shipment_status = match input.shipment_status.as_deref() {
        None => ShipmentStatus::NotShipped,
        Some(s) => ShipmentStatus::parse(s).unwrap_or_else(|| {
            errors.add(
                "shipment_status",
                "unknown_shipment_status",
                format!("発送状況「{s}」はありません"),
            );
            ShipmentStatus::NotShipped
        }),
    };
    let tracking_number = input
        .tracking_number
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if let Some(t) = &tracking_number {
        check_len(&mut errors, "tracking_number", t, 64);
    }
    for (field, v) in [
        ("discount", input.discount),
        ("points_used", input.points_used),
        ("points_granted", input.points_granted),
    ] {
        if !(0..=100_000_000).contains(&v) {
            errors.add(field, "out_of_range", "0〜100,000,000で入力してください");
        }
    }
    if let Some(slot) = &input.delivery_time_slot {
        check_len(&mut errors, "delivery_time_slot", slot, 50);
    }
    check_len(&mut errors, "memo", &input.memo, MAX_MEMO);
    check_attributes(&mut errors, &input.attributes);
    let label_ids = resolve_labels(&mut errors, &input.labels, ctx.masters);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut order = Order {
        id: 0,
        order_number: input.order_number.unwrap_or_default(),
        customer_id: input.customer_id,
        ordered_at: input
            .ordered_at
            .map(|t| Timestamp::from_second(t.as_second()).unwrap_or(t))
            .unwrap_or(now),
        billing,
        shipping,
        items,
        totals: Totals {
            discount: input.discount,
            points_used: input.points_used,
            ..Totals::default()
        },
        points_granted: input.points_granted,
        payment_method_id,
        carrier_id,
        handling_status_id,
        payment_status,
        shipping_list_state: ShippingListState::NotExported,
        shipping_list_exported_on: None,
        shipment_status,
        tracking_number,
        scheduled_ship_date,
        scheduled_delivery_date,
        shipped_at,
        delivered_at,
        paid_at,
        delivery_time_slot: input.delivery_time_slot.filter(|s| !s.trim().is_empty()),
        memo: input.memo,
        label_ids,
        needs_attention: input.needs_attention_reason.is_some(),
        needs_attention_reason: input.needs_attention_reason.unwrap_or_default(),
        shipments: Vec::new(),
        subscription_id: input.subscription_id,
        subscription_delivery_date: input.subscription_delivery_date,
        version: 1,
    };
    // お届け時間帯 is the carrier's list: a known slot takes the carrier's
    // spelling; an unknown one (an import, a storefront) is kept and flagged,
    // never dropped.
    if let Some(slot) = order.delivery_time_slot.clone()
        && let Some(carrier) = order
            .carrier_id
            .and_then(|id| ctx.masters.carrier(id))
            .and_then(|c| crate::tracking::KnownCarrier::for_code(&c.code))
    {
        match carrier.slot(&slot) {
            Some(known) => order.delivery_time_slot = Some(known.to_string()),
            None => {
                let why = format!(
                    "お届け時間帯「{slot}」は{}の時間帯にありません",
                    carrier.label()
                );
                order.needs_attention = true;
                if order.needs_attention_reason.is_empty() {
                    order.needs_attention_reason = why;
                } else {
                    order.needs_attention_reason.push_str(&format!("／{why}"));
                }
            }
        }
    }
    order
        .recompute_totals(ctx)
        .map_err(|m| FieldErrors::single("discount", "exceeds_total", m))?;
    Ok(order)
}

pub(crate) fn resolve_opt(
    errors: &mut FieldErrors,
    field: &'static str,
    key: Option<&str>,
    find: impl Fn(&str) -> Option<i64>,
) -> Option<i64> {
    let key = key.map(str::trim).filter(|k| !k.is_empty())?;
    let found = find(key);
    if found.is_none() {
        errors.add(field, "unknown", format!("「{key}」は登録されていません"));
    }
    found
}

pub(crate) fn resolve_labels(
    errors: &mut FieldErrors,
    names: &[String],
    masters: &Masters,
) -> Vec<i64> {
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match masters.label_by_name(name) {
            Some(l) if !ids.contains(&l.id) => ids.push(l.id),
            Some(_) => {}
            None => errors.add(
                format!("labels[{i}]"),
                "unknown_label",
                format!("受注ラベル「{name}」は登録されていません"),
            ),
        }
    }
    ids
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::masters::{Carrier, HandlingStatus, OrderLabel, PaymentMethod};

    pub fn masters() -> Masters {
        Masters {
            handling_statuses: crate::masters::DEFAULT_HANDLING_STATUSES
                .iter()
                .enumerate()
                .map(|(i, (n, c))| HandlingStatus {
                    id: i as i64 + 1,
                    name: (*n).into(),
                    position: i as i64,
                    color: (*c).into(),
                    is_default: *n == "注文確定",
                })
                .collect(),
            payment_methods: vec![
                PaymentMethod {
                    id: 1,
                    code: "credit_card".into(),
                    name: "クレジットカード".into(),
                    fee: 0,
                },
                PaymentMethod {
                    id: 2,
                    code: "cod".into(),
                    name: "代金引換".into(),
                    fee: 330,
                },
            ],
            carriers: vec![Carrier {
                id: 1,
                code: "yamato".into(),
                name: "ヤマト運輸".into(),
                tracking_url_template: "https://t.example/{tracking_number}".into(),
                shipping_fee: 770,
            }],
            labels: vec![OrderLabel {
                id: 1,
                name: "ギフト".into(),
                color: "#ff0000".into(),
            }],
        }
    }

    pub fn products() -> HashMap<String, Product> {
        let mut m = HashMap::new();
        m.insert(
            "TEA-01".into(),
            Product {
                id: 1,
                code: "TEA-01".into(),
                name: "有機緑茶 100g".into(),
                unit_price: 1080,
                tax_rate: TaxRate::Reduced,
                shipping_fee: None,
                payment_fee: None,
                is_bundled_item: false,
                is_subscription: false,
            },
        );
        m.insert(
            "CUP-01".into(),
            Product {
                id: 2,
                code: "CUP-01".into(),
                name: "湯呑み".into(),
                unit_price: 3300,
                tax_rate: TaxRate::Standard,
                shipping_fee: None,
                payment_fee: None,
                is_bundled_item: false,
                is_subscription: false,
            },
        );
        m
    }

    /// An order of the given (code, quantity, price) lines over `products`.
    pub fn order_with(
        m: &Masters,
        products: &HashMap<String, Product>,
        lines: &[(&str, i64, Option<i64>)],
    ) -> Order {
        let ctx = OrderContext {
            masters: m,
            products,
            rounding: RoundingMode::Floor,
        };
        let input = NewOrder {
            billing: address(),
            items: lines
                .iter()
                .map(|(code, quantity, unit_price)| ItemInput {
                    product_code: code.to_string(),
                    quantity: *quantity,
                    unit_price: *unit_price,
                })
                .collect(),
            ..Default::default()
        };
        build_order(input, &ctx, "2026-11-24T01:00:00Z".parse().unwrap()).unwrap()
    }

    pub fn address() -> Address {
        Address {
            family_name: "山田".into(),
            given_name: "花子".into(),
            family_kana: "ヤマダ".into(),
            given_kana: "ハナコ".into(),
            postal_code: "150-0001".into(),
            prefecture: "東京都".into(),
            address1: "渋谷区神宮前1-2-3".into(),
            address2: String::new(),
            phone: "03-1234-5678".into(),
            email: "hanako@example.jp".into(),
            ..Default::default()
        }
    }

    pub fn new_order() -> NewOrder {
        NewOrder {
            billing: address(),
            items: vec![
                ItemInput {
                    product_code: "TEA-01".into(),
                    quantity: 2,
                    unit_price: None,
                },
                ItemInput {
                    product_code: "CUP-01".into(),
                    quantity: 1,
                    unit_price: None,
                },
            ],
            payment_method: Some("代金引換".into()),
            carrier: Some("yamato".into()),
            ..Default::default()
        }
    }

    fn now() -> Timestamp {
        "2026-11-24T01:00:00Z".parse().unwrap()
    }

    #[test]
    fn builds_with_default_status_and_computed_totals() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let o = build_order(new_order(), &ctx, now()).unwrap();
        assert_eq!(
            m.handling_status(o.handling_status_id).unwrap().name,
            "注文確定"
        );
        assert_eq!(o.payment_status, PaymentStatus::Unpaid);
        assert_eq!(o.totals.items_reduced, 2160);
        assert_eq!(o.totals.items_standard, 3300);
        assert_eq!(o.totals.shipping_fee, 770);
        assert_eq!(o.totals.payment_fee, 330);
        assert_eq!(o.totals.total, 2160 + 3300 + 770 + 330);
        assert_eq!(o.totals.tax_reduced, 160);
        assert_eq!(o.totals.tax_standard, 400); // 4400 * 10 / 110
        assert_eq!(o.shipping, o.billing);
        assert_eq!(o.ordered_at, now());
    }

    #[test]
    fn bad_input_names_each_field() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let mut input = new_order();
        input.items[0].quantity = -1;
        input.items[1].product_code = "NOPE".into();
        input.handling_status = Some("存在しない".into());
        input.payment_status = Some("whatever".into());
        input.labels = vec!["ギフト".into(), "謎".into()];
        input.scheduled_delivery_date = Some("2026-02-30".into());
        input.order_number = Some("番号".into());
        let e = build_order(input, &ctx, now()).unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "order_number",
                "items[0].quantity",
                "items[1].product_code",
                "handling_status",
                "payment_status",
                "scheduled_delivery_date",
                "labels[1]"
            ]
        );
    }

    #[test]
    fn empty_items_and_overlong_memo_are_refused() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let mut input = new_order();
        input.items.clear();
        input.memo = "あ".repeat(MAX_MEMO + 1);
        let e = build_order(input, &ctx, now()).unwrap_err();
        assert!(e.for_field("items").is_some());
        assert_eq!(e.for_field("memo").unwrap().code, "too_long");
    }

    #[test]
    fn discount_beyond_items_is_refused() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let mut input = new_order();
        input.discount = 1_000_000;
        let e = build_order(input, &ctx, now()).unwrap_err();
        assert_eq!(e.first().unwrap().field, "discount");
    }
}
