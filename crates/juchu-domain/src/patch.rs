//! Changing an order: a patch is applied to a copy, every changed field is listed
//! (for 履歴), totals are recomputed. Pure; the store wraps it in a transaction.

use crate::customer::Address;
use crate::error::FieldErrors;
use crate::masters::Masters;
use crate::order::{
    ItemInput, MAX_MEMO, Order, OrderContext, OrderItem, resolve_items, resolve_labels, resolve_opt,
};
use crate::status::{PaymentOverride, PaymentStatus, ShipmentStatus, ShippingListState};
use crate::text::check_len;
use crate::time::parse_date;
use jiff::civil::Date;
use serde::Serialize;

/// A requested change. `None` leaves a field alone; for clearable fields
/// `Some(None)` clears it. Values are as a person types them (names, codes, dates
/// as text) and are checked by [`apply_patch`].
#[derive(Debug, Clone, Default)]
pub struct OrderPatch {
    pub handling_status: Option<String>,
    pub payment_status: Option<String>,
    pub payment_method: Option<Option<String>>,
    pub carrier: Option<Option<String>>,
    pub tracking_number: Option<Option<String>>,
    pub shipment_status: Option<String>,
    pub shipping_list_state: Option<String>,
    pub shipping_list_exported_on: Option<Option<String>>,
    pub scheduled_ship_date: Option<Option<String>>,
    pub scheduled_delivery_date: Option<Option<String>>,
    pub shipped_at: Option<Option<String>>,
    pub delivered_at: Option<Option<String>>,
    pub paid_at: Option<Option<String>>,
    pub delivery_time_slot: Option<Option<String>>,
    pub memo: Option<String>,
    pub labels: Option<Vec<String>>,
    pub needs_attention: Option<bool>,
    pub needs_attention_reason: Option<String>,
    pub discount: Option<i64>,
    pub points_used: Option<i64>,
    pub points_granted: Option<i64>,
    pub items: Option<Vec<ItemInput>>,
    pub billing: Option<Address>,
    pub shipping: Option<Address>,
    /// 強制売上 / 強制取消 (`payment_status` is then not given).
    pub payment_override: Option<String>,
    /// Changes to the order's packages: per package, 分納, merging back.
    pub shipments: crate::shipment_change::ShipmentsPatch,
}

impl OrderPatch {
    pub fn handling_status(name: impl Into<String>) -> Self {
        Self {
            handling_status: Some(name.into()),
            ..Self::default()
        }
    }
}

/// The 要対応 flag and reason of an order or a subscription: clearing the flag
/// clears the reason unless a new one is given.
pub(crate) fn apply_attention(
    flag: Option<bool>,
    reason: Option<&str>,
    target: (&mut bool, &mut String),
    errors: &mut FieldErrors,
) {
    let (needs_attention, current_reason) = target;
    if let Some(b) = flag {
        *needs_attention = b;
        if !b && reason.is_none() {
            current_reason.clear();
        }
    }
    if let Some(r) = reason {
        check_len(errors, "needs_attention_reason", r, 500);
        *current_reason = r.trim().to_string();
    }
}

/// One changed field, with display forms for 履歴.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

/// Japanese label of a field identifier, for 履歴 and error messages.
pub fn field_label(field: &str) -> &'static str {
    match field {
        "order" => "受注",
        "handling_status" => "対応状況",
        "payment_status" => "決済状況",
        "payment_method" => "支払方法",
        "carrier" => "配送業者",
        "tracking_number" => "配送伝票番号",
        "shipment_status" => "発送状況",
        "shipping_list_state" => "出荷リスト",
        "shipping_list_exported_on" => "出荷リスト出力日",
        "scheduled_ship_date" => "発送予定日",
        "scheduled_delivery_date" => "配送予定日",
        "shipped_at" => "発送完了日",
        "delivered_at" => "配送完了日",
        "paid_at" => "入金日",
        "delivery_time_slot" => "お届け時間帯",
        "memo" => "受注メモ",
        "labels" => "受注ラベル",
        "needs_attention" => "要対応",
        "needs_attention_reason" => "要対応理由",
        "discount" => "値引き",
        "points_used" => "利用ポイント",
        "points_granted" => "付与ポイント",
        "customer_points" => "保有ポイント（返却）",
        "customer_points_used" => "保有ポイント（利用）",
        "customer_points_awarded" => "保有ポイント（付与）",
        "payment_process" => "決済処理",
        "items" => "受注商品",
        "billing" => "請求者",
        "shipping" => "お届け先",
        "total" => "合計金額",
        "shipping_fee" => "送料",
        "payment_fee" => "決済手数料",
        "dunning" => "督促",
        "mail" => "メール",
        "shipments" => "出荷",
        _ => "",
    }
}

fn date_text(d: Option<Date>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn opt_text(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn clean(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn patch_date(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &Option<Option<String>>,
    target: &mut Option<Date>,
) {
    if let Some(v) = value {
        match clean(v.clone()) {
            None => *target = None,
            Some(s) => match parse_date(&s) {
                Ok(d) => *target = Some(d),
                Err(m) => errors.add(field, "invalid_date", m),
            },
        }
    }
}

fn items_text(o: &Order) -> String {
    o.items
        .iter()
        .map(|i| format!("{}×{}@{}", i.product_code, i.quantity, i.unit_price))
        .collect::<Vec<_>>()
        .join(", ")
}

fn labels_text(o: &Order, m: &Masters) -> String {
    o.label_ids
        .iter()
        .filter_map(|id| m.label(*id).map(|l| l.name.clone()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Display form of every field that history tracks, so before/after can be compared
/// generically and every difference recorded, including derived ones (totals).
pub fn snapshot(o: &Order, m: &Masters) -> Vec<(&'static str, String)> {
    vec![
        (
            "handling_status",
            m.handling_status(o.handling_status_id)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
        ),
        ("payment_status", o.payment_status.label().to_string()),
        (
            "payment_method",
            o.payment_method_id
                .and_then(|id| m.payment_method(id))
                .map(|x| x.name.clone())
                .unwrap_or_default(),
        ),
        (
            "carrier",
            o.carrier_id
                .and_then(|id| m.carrier(id))
                .map(|x| x.name.clone())
                .unwrap_or_default(),
        ),
        ("tracking_number", opt_text(&o.tracking_number)),
        ("shipment_status", o.shipment_status.label().to_string()),
        (
            "shipping_list_state",
            o.shipping_list_state.label().to_string(),
        ),
        (
            "shipping_list_exported_on",
            date_text(o.shipping_list_exported_on),
        ),
        ("scheduled_ship_date", date_text(o.scheduled_ship_date)),
        (
            "scheduled_delivery_date",
            date_text(o.scheduled_delivery_date),
        ),
        ("shipped_at", date_text(o.shipped_at)),
        ("delivered_at", date_text(o.delivered_at)),
        ("paid_at", date_text(o.paid_at)),
        ("delivery_time_slot", opt_text(&o.delivery_time_slot)),
        ("memo", o.memo.clone()),
        ("labels", labels_text(o, m)),
        (
            "needs_attention",
            if o.needs_attention { "要対応" } else { "" }.to_string(),
        ),
        ("needs_attention_reason", o.needs_attention_reason.clone()),
        ("discount", o.totals.discount.to_string()),
        ("points_used", o.totals.points_used.to_string()),
        ("points_granted", o.points_granted.to_string()),
        ("items", items_text(o)),
        ("shipments", crate::shipment_change::describe(o, m)),
        ("billing", address_text(&o.billing)),
        ("shipping", address_text(&o.shipping)),
        ("shipping_fee", o.totals.shipping_fee.to_string()),
        ("payment_fee", o.totals.payment_fee.to_string()),
        ("total", o.totals.total.to_string()),
    ]
}

fn address_text(a: &Address) -> String {
    // Every field of the address, so that a change to any one of them (kana
    // included) is a recorded change rather than silently equal text.
    format!(
        "{} {} ({} {}) 〒{} {}{}{} {} {}",
        a.family_name,
        a.given_name,
        a.family_kana,
        a.given_kana,
        a.postal_code,
        a.prefecture,
        a.address1,
        a.address2,
        a.phone,
        a.email
    )
}

/// Lists the differences between two versions of an order.
pub fn diff(before: &Order, after: &Order, m: &Masters) -> Vec<FieldChange> {
    snapshot(before, m)
        .into_iter()
        .zip(snapshot(after, m))
        .filter(|((_, b), (_, a))| a != b)
        .map(|((field, before), (_, after))| FieldChange {
            field,
            before,
            after,
        })
        .collect()
}

/// Applies a patch to a copy of the order. Returns the new order (version not yet
/// bumped) or every field error. Rules that live here:
/// - totals are recomputed whenever anything that prices the order changes;
/// - setting 発送状況 to 発送済 records today as 発送完了日 when none is set;
/// - setting 出荷リスト to 出力済 records today as its date when none is given.
pub fn apply_patch(
    order: &Order,
    patch: &OrderPatch,
    ctx: &OrderContext<'_>,
    today: Date,
) -> Result<Order, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut o = order.clone();
    let m = ctx.masters;
    if let Some(name) = &patch.handling_status {
        match m.handling_status_by_name(name) {
            Some(s) => o.handling_status_id = s.id,
            None => errors.add(
                "handling_status",
                "unknown_handling_status",
                format!("対応状況「{name}」は登録されていません"),
            ),
        }
    }
    match (&patch.payment_status, &patch.payment_override) {
        (Some(_), Some(_)) => errors.add(
            "payment_override",
            "conflicting",
            "決済状況と強制売上・強制取消は同時に指定できません",
        ),
        (None, Some(f)) => match PaymentOverride::parse(f) {
            Some(f) => o.payment_status = f.target(),
            None => errors.add(
                "payment_override",
                "unknown_payment_override",
                format!("「{f}」はありません（強制売上・強制取消）"),
            ),
        },
        (Some(s), None) => match PaymentStatus::parse(s) {
            Some(p) if order.payment_status.can_become(p) => o.payment_status = p,
            Some(p) => errors.add(
                "payment_status",
                "illegal_transition",
                format!(
                    "決済状況を「{}」から「{}」には変更できません（決済サービスを通さずに変えるときは強制売上・強制取消を使ってください）",
                    order.payment_status.label(),
                    p.label()
                ),
            ),
            None => errors.add(
                "payment_status",
                "unknown_payment_status",
                format!("決済状況「{s}」はありません"),
            ),
        },
        (None, None) => {}
    }
    if let Some(v) = &patch.payment_method {
        o.payment_method_id = resolve_opt(&mut errors, "payment_method", v.as_deref(), |k| {
            m.payment_method_by_key(k).map(|x| x.id)
        });
    }
    if let Some(v) = &patch.carrier {
        o.carrier_id = resolve_opt(&mut errors, "carrier", v.as_deref(), |k| {
            m.carrier_by_key(k).map(|x| x.id)
        });
    }
    if let Some(v) = &patch.tracking_number {
        // Checked against the order's carrier as it is after this change, and
        // stored normalised (digits only for the carriers that use digits).
        let carrier = o
            .carrier_id
            .and_then(|id| m.carrier(id))
            .and_then(|c| crate::tracking::KnownCarrier::for_code(&c.code));
        o.tracking_number = match clean(v.clone()) {
            None => None,
            Some(t) => match crate::tracking::validate(carrier, &t, "tracking_number") {
                Ok(n) => Some(n),
                Err(e) => {
                    errors.0.extend(e.0);
                    Some(t)
                }
            },
        };
    }
    patch_date(
        &mut errors,
        "shipping_list_exported_on",
        &patch.shipping_list_exported_on,
        &mut o.shipping_list_exported_on,
    );
    patch_date(
        &mut errors,
        "scheduled_ship_date",
        &patch.scheduled_ship_date,
        &mut o.scheduled_ship_date,
    );
    patch_date(
        &mut errors,
        "scheduled_delivery_date",
        &patch.scheduled_delivery_date,
        &mut o.scheduled_delivery_date,
    );
    patch_date(
        &mut errors,
        "shipped_at",
        &patch.shipped_at,
        &mut o.shipped_at,
    );
    patch_date(
        &mut errors,
        "delivered_at",
        &patch.delivered_at,
        &mut o.delivered_at,
    );
    patch_date(&mut errors, "paid_at", &patch.paid_at, &mut o.paid_at);
    if let Some(s) = &patch.shipment_status {
        match ShipmentStatus::parse(s) {
            // A form sends every field: the status as it was is no instruction
            // (a first tracking number may have shipped the order above).
            Some(st) if st == order.shipment_status => {}
            Some(st) => {
                o.shipment_status = st;
                if st == ShipmentStatus::Shipped && o.shipped_at.is_none() {
                    o.shipped_at = Some(today);
                }
            }
            None => errors.add(
                "shipment_status",
                "unknown_shipment_status",
                format!("発送状況「{s}」はありません"),
            ),
        }
    }
    // A first number on a 未発送 order ships it today, unless the change sets
    // another status (発送指示: handed over later, e.g. a dated delivery). The
    // status as it was (a form sends every field) is no instruction. After the
    // dates and the status, so a form's empty 発送完了日 does not undo it.
    let first_number = order.tracking_number.is_none() && o.tracking_number.is_some();
    let status_changed = patch
        .shipment_status
        .as_deref()
        .and_then(ShipmentStatus::parse)
        .is_some_and(|s| s != order.shipment_status);
    if first_number && !status_changed && o.shipment_status == ShipmentStatus::NotShipped {
        o.shipment_status = ShipmentStatus::Shipped;
        if o.shipped_at.is_none() {
            o.shipped_at = Some(today);
        }
    }
    if let Some(s) = &patch.shipping_list_state {
        match ShippingListState::parse(s) {
            Some(st) => {
                o.shipping_list_state = st;
                match st {
                    ShippingListState::Exported if o.shipping_list_exported_on.is_none() => {
                        o.shipping_list_exported_on = Some(today)
                    }
                    ShippingListState::NotExported if patch.shipping_list_exported_on.is_none() => {
                        o.shipping_list_exported_on = None
                    }
                    _ => {}
                }
            }
            None => errors.add(
                "shipping_list_state",
                "unknown_shipping_list_state",
                format!("出荷リスト「{s}」はありません"),
            ),
        }
    }
    if let Some(v) = &patch.delivery_time_slot {
        o.delivery_time_slot = clean(v.clone());
        // Checked when it changes: an imported order keeps (flagged) a slot
        // the carrier does not have until someone picks another.
        if let Some(t) = o.delivery_time_slot.clone()
            && o.delivery_time_slot != order.delivery_time_slot
        {
            check_len(&mut errors, "delivery_time_slot", &t, 50);
            // An operator picks from the carrier's slots.
            if let Some(carrier) = o
                .carrier_id
                .and_then(|id| m.carrier(id))
                .and_then(|c| crate::tracking::KnownCarrier::for_code(&c.code))
            {
                match carrier.slot(&t) {
                    Some(known) => o.delivery_time_slot = Some(known.to_string()),
                    None => errors.add(
                        "delivery_time_slot",
                        "unknown_time_slot",
                        format!(
                            "お届け時間帯「{t}」は{}の時間帯にありません（{}）",
                            carrier.label(),
                            carrier.time_slots().join("・")
                        ),
                    ),
                }
            }
        }
    }
    if let Some(memo) = &patch.memo {
        check_len(&mut errors, "memo", memo, MAX_MEMO);
        o.memo = memo.clone();
    }
    if let Some(labels) = &patch.labels {
        o.label_ids = resolve_labels(&mut errors, labels, m);
    }
    apply_attention(
        patch.needs_attention,
        patch.needs_attention_reason.as_deref(),
        (&mut o.needs_attention, &mut o.needs_attention_reason),
        &mut errors,
    );
    for (field, value, target) in [
        ("discount", patch.discount, &mut o.totals.discount),
        ("points_used", patch.points_used, &mut o.totals.points_used),
        (
            "points_granted",
            patch.points_granted,
            &mut o.points_granted,
        ),
    ] {
        if let Some(v) = value {
            if (0..=100_000_000).contains(&v) {
                *target = v;
            } else {
                errors.add(field, "out_of_range", "0〜100,000,000で入力してください");
            }
        }
    }
    if let Some(items) = &patch.items {
        o.items = keep_priced_lines(
            &order.items,
            items,
            resolve_items(items, ctx.products, &mut errors),
        );
    }
    if let Some(b) = &patch.billing {
        let mut b = b.clone();
        b.validate("billing", false, &mut errors);
        o.billing = b;
    }
    if let Some(s) = &patch.shipping {
        let mut s = s.clone();
        s.validate("shipping", false, &mut errors);
        o.shipping = s;
    }
    if errors.is_empty() {
        crate::shipment_change::apply(order, &mut o, &patch.shipments, m, today, &mut errors);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Totals follow the masters only when something they depend on changed: a
    // memo edit must not quietly re-price an order after a fee change.
    let repriced = patch.items.is_some()
        || patch.payment_method.is_some()
        || patch.carrier.is_some()
        || patch.discount.is_some()
        || patch.points_used.is_some();
    if !repriced {
        return Ok(o);
    }
    if let Err(msg) = o.recompute_totals(ctx) {
        let field = if patch.points_used.is_some() {
            "points_used"
        } else {
            "discount"
        };
        return Err(FieldErrors::single(field, "exceeds_total", msg));
    }
    Ok(o)
}

/// A line the patch keeps (same product, no new price given) keeps what the
/// customer bought it at: name, price, tax rate and fees as on the order, not as
/// the product master says today. Only the quantity follows the patch.
fn keep_priced_lines(
    before: &[OrderItem],
    inputs: &[ItemInput],
    resolved: Vec<OrderItem>,
) -> Vec<OrderItem> {
    // `resolved` skips inputs with unknown products, but then the patch fails
    // anyway; pair only when nothing was skipped.
    if resolved.len() != inputs.len() {
        return resolved;
    }
    let mut unused: Vec<&OrderItem> = before.iter().collect();
    resolved
        .into_iter()
        .zip(inputs)
        .map(|(new, input)| {
            let same = unused.iter().position(|old| {
                old.product_code == new.product_code
                    && input.unit_price.is_none_or(|p| p == old.unit_price)
            });
            match same {
                Some(k) => {
                    let old = unused.remove(k);
                    OrderItem {
                        quantity: new.quantity,
                        ..old.clone()
                    }
                }
                None => new,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{masters, new_order, products};
    use crate::order::{OrderContext, build_order};
    use crate::status::RoundingMode;

    fn today() -> Date {
        "2026-11-24".parse().unwrap()
    }

    fn order(ctx: &OrderContext<'_>) -> Order {
        build_order(new_order(), ctx, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap()
    }

    #[test]
    fn changes_are_listed_with_display_forms() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let before = order(&ctx);
        let patch = OrderPatch {
            handling_status: Some("発送完了".into()),
            tracking_number: Some(Some(" 1234-5678-9013 ".into())),
            shipment_status: Some("発送済".into()),
            ..Default::default()
        };
        let after = apply_patch(&before, &patch, &ctx, today()).unwrap();
        let changes = diff(&before, &after, &m);
        let got: Vec<_> = changes
            .iter()
            .map(|c| (c.field, c.before.as_str(), c.after.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("handling_status", "注文確定", "発送完了"),
                ("tracking_number", "", "123456789013"),
                ("shipment_status", "未発送", "発送済"),
                ("shipped_at", "", "2026-11-24"),
            ]
        );
    }

    #[test]
    fn time_slots_are_the_carriers() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let before = order(&ctx);
        let slot = |s: &str| OrderPatch {
            carrier: Some(Some("yamato".into())),
            delivery_time_slot: Some(Some(s.into())),
            ..Default::default()
        };
        let after = apply_patch(&before, &slot("14時〜16時"), &ctx, today()).unwrap();
        assert_eq!(after.delivery_time_slot.as_deref(), Some("14-16"));
        let e = apply_patch(&before, &slot("12-14"), &ctx, today()).unwrap_err();
        assert_eq!(e.0[0].field, "delivery_time_slot");
        assert!(e.0[0].message.contains("19-21"), "{e}");
        // A new order (an import) with a slot the carrier lacks: kept, flagged.
        let mut input = crate::order::tests::new_order();
        input.carrier = Some("yamato".into());
        input.delivery_time_slot = Some("20-21".into());
        let o = crate::order::build_order(input, &ctx, "2026-11-24T00:00:00Z".parse().unwrap())
            .unwrap();
        assert_eq!(o.delivery_time_slot.as_deref(), Some("20-21"));
        assert!(o.needs_attention);
        assert!(o.needs_attention_reason.contains("お届け時間帯「20-21」"));
    }

    #[test]
    fn changing_payment_method_and_items_reprices() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let before = order(&ctx);
        let patch = OrderPatch {
            payment_method: Some(Some("credit_card".into())),
            items: Some(vec![ItemInput {
                product_code: "CUP-01".into(),
                quantity: 3,
                unit_price: None,
            }]),
            ..Default::default()
        };
        let after = apply_patch(&before, &patch, &ctx, today()).unwrap();
        assert_eq!(after.totals.payment_fee, 0);
        assert_eq!(after.totals.total, 9900 + 770);
        let fields: Vec<_> = diff(&before, &after, &m).iter().map(|c| c.field).collect();
        assert_eq!(fields, ["payment_method", "items", "payment_fee", "total"]);
    }

    #[test]
    fn kept_lines_keep_their_price_and_memo_edits_do_not_reprice() {
        let (m, mut p) = (masters(), products());
        let before = {
            let ctx = OrderContext {
                masters: &m,
                products: &p,
                rounding: RoundingMode::Floor,
            };
            order(&ctx)
        };
        // The shop raises the tea price and renames it after the order was taken.
        let tea = p.get_mut("TEA-01").unwrap();
        tea.unit_price = 1500;
        tea.name = "有機緑茶 100g（新）".into();
        let mut m2 = m.clone();
        for c in &mut m2.carriers {
            c.shipping_fee += 1000;
        }
        let ctx = OrderContext {
            masters: &m2,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let memo = apply_patch(
            &before,
            &OrderPatch {
                memo: Some("配達前に電話".into()),
                ..Default::default()
            },
            &ctx,
            today(),
        )
        .unwrap();
        assert_eq!(memo.totals, before.totals, "a memo edit must not re-price");
        let more_tea = apply_patch(
            &before,
            &OrderPatch {
                items: Some(vec![
                    ItemInput {
                        product_code: "TEA-01".into(),
                        quantity: 3,
                        unit_price: None,
                    },
                    ItemInput {
                        product_code: "CUP-01".into(),
                        quantity: 1,
                        unit_price: None,
                    },
                ]),
                ..Default::default()
            },
            &ctx,
            today(),
        )
        .unwrap();
        assert_eq!(more_tea.items[0].unit_price, 1080);
        assert_eq!(more_tea.items[0].product_name, "有機緑茶 100g");
        assert_eq!(more_tea.items[0].quantity, 3);
        // A line with a new price given is the new price.
        let repriced = apply_patch(
            &before,
            &OrderPatch {
                items: Some(vec![ItemInput {
                    product_code: "TEA-01".into(),
                    quantity: 1,
                    unit_price: Some(900),
                }]),
                ..Default::default()
            },
            &ctx,
            today(),
        )
        .unwrap();
        assert_eq!(repriced.items[0].unit_price, 900);
        assert_eq!(repriced.items[0].product_name, "有機緑茶 100g（新）");
    }

    #[test]
    fn a_kana_only_address_change_is_recorded() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let before = order(&ctx);
        let mut billing = before.billing.clone();
        billing.family_kana = "ヤマモト".into();
        let after = apply_patch(
            &before,
            &OrderPatch {
                billing: Some(billing),
                ..Default::default()
            },
            &ctx,
            today(),
        )
        .unwrap();
        let fields: Vec<_> = diff(&before, &after, &m).iter().map(|c| c.field).collect();
        assert_eq!(fields, ["billing"]);
    }

    #[test]
    fn clearing_and_invalid_values() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let mut before = order(&ctx);
        before.carrier_id = Some(1);
        let cleared = apply_patch(
            &before,
            &OrderPatch {
                carrier: Some(None),
                ..Default::default()
            },
            &ctx,
            today(),
        )
        .unwrap();
        assert_eq!(cleared.carrier_id, None);
        assert_eq!(cleared.totals.shipping_fee, 0);
        let bad = OrderPatch {
            handling_status: Some("謎".into()),
            shipped_at: Some(Some("2026-13-01".into())),
            points_used: Some(-5),
            ..Default::default()
        };
        let e = apply_patch(&before, &bad, &ctx, today()).unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["handling_status", "shipped_at", "points_used"]);
    }

    #[test]
    fn shipping_list_exported_sets_date() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let before = order(&ctx);
        let after = apply_patch(
            &before,
            &OrderPatch {
                shipping_list_state: Some("出力済".into()),
                ..Default::default()
            },
            &ctx,
            today(),
        )
        .unwrap();
        assert_eq!(after.shipping_list_exported_on, Some(today()));
        let back = apply_patch(
            &after,
            &OrderPatch {
                shipping_list_state: Some("未出力".into()),
                ..Default::default()
            },
            &ctx,
            today(),
        )
        .unwrap();
        assert_eq!(back.shipping_list_exported_on, None);
    }

    #[test]
    fn an_empty_patch_changes_nothing() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let before = order(&ctx);
        let after = apply_patch(&before, &OrderPatch::default(), &ctx, today()).unwrap();
        assert!(diff(&before, &after, &m).is_empty());
    }
}
