//! Subscriptions (定期受注): storage, search, and their change pipeline (lock,
//! version check, pure [`apply_command`], a history row per changed field).
//!
//! Callers enter through the effects module (`Store::change_subscription`), which
//! raises a new status on the latest order; the daily run that creates child
//! orders (自動受注作成) lives there too, since it creates orders.

use crate::StoreError;
use crate::db::{
    Arg, Backend, Store, Tx, get_bool, get_i64, get_opt_i64, get_opt_str, get_str, query_with,
};
use crate::db::{Rows, write_rows};
use crate::history::{Actor, HistoryEntry, HistoryRow, subscription_history_rows as history_rows};
use crate::masters::load_reasons;
use crate::orders::{attach_children, order_from_row, select_order_sql};
pub use crate::settings::SubscriptionSettings;
use crate::settings::{calendar_from, settings_from, settings_map};
use jiff::civil::Date;
use juchu_domain::FieldErrors;
use juchu_domain::calendar::{CreationBasis, Cycle, Schedule, ShippingCalendar};
use juchu_domain::customer::Address;
use juchu_domain::masters::Product;
use juchu_domain::normalize::{email_key, like_prefix, name_key, phone_key};
use juchu_domain::order::Order;
use juchu_domain::status::{SubscriptionStatus, TaxRate};
use juchu_domain::subscription::{
    Subscription, SubscriptionChange, SubscriptionCommand, SubscriptionContext, SubscriptionItem,
    SubscriptionReasons, apply_command, diff, field_label, from_parent_order,
};
use std::collections::HashMap;

pub(crate) const SUB_COLUMNS: &[&str] = &[
    "customer_id",
    "parent_order_id",
    "status",
    "stop_reason",
    "cancel_reason",
    "cycle",
    "next_delivery_date",
    "next_ship_date",
    "previous_delivery_date",
    "count",
    "last_run_on",
    "payment_method_id",
    "carrier_id",
    "billing",
    "shipping",
    "delivery_time_slot",
    "memo",
    "needs_attention",
    "needs_attention_reason",
    "card_token",
    "billing_name_key",
    "billing_kana_key",
    "billing_phone_key",
    "billing_email_key",
    "version",
    "updated_at",
];

pub(crate) fn sub_args(s: &Subscription, last_run_on: Option<Date>, updated_at: &str) -> Vec<Arg> {
    let b = &s.billing;
    let json = |a: &Address| serde_json::to_string(a).unwrap_or_default();
    let mut a: Vec<Arg> = Vec::with_capacity(SUB_COLUMNS.len() + 2);
    a.push(s.customer_id.into());
    a.push(s.parent_order_id.into());
    a.push(s.status.code().into());
    a.push(s.stop_reason.clone().into());
    a.push(s.cancel_reason.clone().into());
    a.push(serde_json::to_string(&s.cycle).unwrap_or_default().into());
    a.push(s.schedule.next_delivery.to_string().into());
    a.push(s.schedule.next_ship.to_string().into());
    a.push(Arg::Text(
        s.schedule.previous_delivery.map(|d| d.to_string()),
    ));
    a.push(s.count.into());
    a.push(Arg::Text(last_run_on.map(|d| d.to_string())));
    a.push(s.payment_method_id.into());
    a.push(s.carrier_id.into());
    a.push(json(&s.billing).into());
    a.push(json(&s.shipping).into());
    a.push(s.delivery_time_slot.clone().into());
    a.push(s.memo.clone().into());
    a.push(s.needs_attention.into());
    a.push(s.needs_attention_reason.clone().into());
    a.push(s.card_token.as_str().into());
    a.push(name_key(&format!("{}{}", b.family_name, b.given_name)).into());
    a.push(name_key(&format!("{}{}", b.family_kana, b.given_kana)).into());
    a.push(phone_key(&b.phone).into());
    a.push(email_key(&b.email).into());
    a.push(s.version.into());
    a.push(updated_at.into());
    debug_assert_eq!(a.len(), SUB_COLUMNS.len());
    a
}

const SUB_ITEM_COLUMNS: &[&str] = &[
    "subscription_id",
    "position",
    "product_id",
    "product_code",
    "product_name",
    "quantity",
    "tax_rate",
    "is_bundled_item",
    "prices",
    "first_count",
    "last_count",
];

pub(crate) fn item_rows(subs: &[Subscription]) -> Rows {
    let mut rows = Rows::new("subscription_items", SUB_ITEM_COLUMNS);
    for s in subs {
        for (p, i) in s.items.iter().enumerate() {
            rows.args.push(s.id.into());
            rows.args.push((p as i64).into());
            rows.args.push(i.product_id.into());
            rows.args.push(i.product_code.clone().into());
            rows.args.push(i.product_name.clone().into());
            rows.args.push(i.quantity.into());
            rows.args.push(i.tax_rate.percent().into());
            rows.args.push(i.is_bundled_item.into());
            rows.args
                .push(serde_json::to_string(&i.prices).unwrap_or_default().into());
            rows.args.push(i.first_count.into());
            rows.args.push(i.last_count.into());
        }
    }
    rows
}

pub(crate) fn label_rows(subs: &[Subscription]) -> Rows {
    let mut rows = Rows::new("subscription_label_links", &["subscription_id", "label_id"]);
    for s in subs {
        for l in &s.label_ids {
            rows.args.push(s.id.into());
            rows.args.push((*l).into());
        }
    }
    rows
}

pub(crate) fn change_rows(
    id: i64,
    changes: &[SubscriptionChange],
    actor: &Actor,
    reason: &str,
    out: &mut Vec<HistoryRow>,
) {
    for c in changes {
        out.push(HistoryRow::by(
            actor,
            id,
            c.field.to_string(),
            c.before.clone(),
            c.after.clone(),
            reason.to_string(),
        ));
    }
}

pub(crate) fn select_sql() -> String {
    format!("SELECT id, {} FROM subscriptions", SUB_COLUMNS.join(", "))
}

pub(crate) fn corrupt(col: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: col.into(),
        source: "unreadable value".into(),
    }
}

pub(crate) fn date_col(r: &sqlx::any::AnyRow, col: &str) -> Result<Date, sqlx::Error> {
    get_str(r, col)?.parse().map_err(|_| corrupt(col))
}

pub(crate) fn sub_from_row(r: &sqlx::any::AnyRow) -> Result<Subscription, sqlx::Error> {
    let addr = |col: &str| -> Result<Address, sqlx::Error> {
        serde_json::from_str(&get_str(r, col)?).map_err(|_| corrupt(col))
    };
    Ok(Subscription {
        id: get_i64(r, "id")?,
        customer_id: get_opt_i64(r, "customer_id")?,
        parent_order_id: get_opt_i64(r, "parent_order_id")?,
        status: SubscriptionStatus::from_code(&get_str(r, "status")?)
            .ok_or_else(|| corrupt("status"))?,
        stop_reason: get_str(r, "stop_reason")?,
        cancel_reason: get_str(r, "cancel_reason")?,
        cycle: serde_json::from_str(&get_str(r, "cycle")?).map_err(|_| corrupt("cycle"))?,
        schedule: Schedule {
            previous_delivery: get_opt_str(r, "previous_delivery_date")?
                .map(|s| s.parse().map_err(|_| corrupt("previous_delivery_date")))
                .transpose()?,
            next_delivery: date_col(r, "next_delivery_date")?,
            next_ship: date_col(r, "next_ship_date")?,
        },
        count: get_i64(r, "count")?,
        payment_method_id: get_opt_i64(r, "payment_method_id")?,
        carrier_id: get_opt_i64(r, "carrier_id")?,
        billing: addr("billing")?,
        shipping: addr("shipping")?,
        delivery_time_slot: get_opt_str(r, "delivery_time_slot")?,
        items: Vec::new(),
        memo: get_str(r, "memo")?,
        label_ids: Vec::new(),
        needs_attention: get_bool(r, "needs_attention")?,
        needs_attention_reason: get_str(r, "needs_attention_reason")?,
        card_token: juchu_domain::subscription::CardToken(get_str(r, "card_token")?),
        version: get_i64(r, "version")?,
    })
}

pub(crate) async fn attach_sub_children(
    conn: &mut sqlx::AnyConnection,
    subs: &mut [Subscription],
) -> Result<(), StoreError> {
    if subs.is_empty() {
        return Ok(());
    }
    let ids: Vec<Arg> = subs.iter().map(|s| Arg::from(s.id)).collect();
    let index: HashMap<i64, usize> = subs.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    let rows = query_with(
        format!(
            "SELECT subscription_id, {} FROM subscription_items WHERE subscription_id IN ({}) ORDER BY subscription_id, position",
            SUB_ITEM_COLUMNS[2..].join(", "),
            crate::db::in_list(ids.len(), 1)
        ),
        ids.clone(),
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        let Some(&i) = index.get(&get_i64(r, "subscription_id")?) else {
            continue;
        };
        subs[i].items.push(SubscriptionItem {
            product_id: get_opt_i64(r, "product_id")?,
            product_code: get_str(r, "product_code")?,
            product_name: get_str(r, "product_name")?,
            quantity: get_i64(r, "quantity")?,
            tax_rate: TaxRate::from_percent(get_i64(r, "tax_rate")?).unwrap_or(TaxRate::Standard),
            is_bundled_item: get_bool(r, "is_bundled_item")?,
            prices: serde_json::from_str(&get_str(r, "prices")?).map_err(|_| corrupt("prices"))?,
            first_count: get_i64(r, "first_count")?,
            last_count: get_opt_i64(r, "last_count")?,
        });
    }
    let rows = query_with(
        format!(
            "SELECT subscription_id, label_id FROM subscription_label_links WHERE subscription_id IN ({}) ORDER BY label_id",
            crate::db::in_list(ids.len(), 1)
        ),
        ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in &rows {
        if let Some(&i) = index.get(&get_i64(r, "subscription_id")?) {
            subs[i].label_ids.push(get_i64(r, "label_id")?);
        }
    }
    Ok(())
}

/// The shop's wording of how to cancel, copied into each new subscription's
/// terms.
pub const CANCELLATION_TERMS_SETTING: &str = "subscription.cancellation_terms";

/// Creates the subscriptions that new parent orders start (orders with
/// subscription products and no subscription yet), links the orders to them and
/// returns their rows; nothing when no product involved is a subscription product.
pub(crate) async fn start_subscriptions(
    store: &Store,
    tx: &mut Tx,
    orders: &mut [Order],
    cycles: &[Option<Cycle>],
    products: &HashMap<String, Product>,
    actor: &Actor,
    at: &str,
) -> Result<Vec<Rows>, StoreError> {
    if !products.values().any(|p| p.is_subscription) {
        return Ok(Vec::new());
    }
    let map = settings_map(tx).await?;
    let settings = settings_from(&map);
    let calendar = calendar_from(tx, &map).await?;
    let today = store.clock.today();
    let mut subs = Vec::new();
    let mut owners = Vec::new();
    let mut errors = FieldErrors::default();
    for (i, order) in orders.iter().enumerate() {
        if order.subscription_id.is_some() {
            continue;
        }
        let first = order
            .scheduled_delivery_date
            .unwrap_or_else(|| calendar.delivery_date_for(today));
        let cycle = cycles.get(i).copied().flatten().unwrap_or(Cycle::Months {
            every: settings.default_cycle_months.max(1),
            day: first.day() as u8,
        });
        match from_parent_order(order, products, cycle, first, &calendar) {
            Ok(Some(s)) => {
                subs.push(s);
                owners.push(i);
            }
            Ok(None) => {}
            Err(e) => {
                let prefix = if orders.len() == 1 {
                    "subscription".to_string()
                } else {
                    format!("orders[{i}].subscription")
                };
                for mut f in e.0 {
                    f.field = format!("{prefix}.{}", f.field);
                    errors.push(f);
                }
            }
        }
    }
    errors.into_result()?;
    if subs.is_empty() {
        return Ok(Vec::new());
    }
    let ids = store.allocate_ids(tx, "subscriptions", subs.len()).await?;
    let mut history = Vec::with_capacity(subs.len());
    for ((s, id), &i) in subs.iter_mut().zip(ids).zip(&owners) {
        s.id = id;
        let order = &mut orders[i];
        order.subscription_id = Some(id);
        order.subscription_delivery_date = s.schedule.previous_delivery;
        history.push(HistoryRow::by(
            actor,
            id,
            "subscription",
            "",
            format!("作成（親受注 {}）", order.order_number),
            "",
        ));
    }
    // The terms the customer agreed to (特商法 §12の6), kept as they were.
    let masters = store.masters().await?;
    let cancellation = crate::settings::setting(tx, CANCELLATION_TERMS_SETTING)
        .await?
        .unwrap_or_default();
    let mut cols: Vec<&str> = vec!["id"];
    cols.extend_from_slice(SUB_COLUMNS);
    cols.push("created_at");
    cols.push("terms");
    let mut rows = Rows::new("subscriptions", &cols);
    for (s, &i) in subs.iter().zip(&owners) {
        let order = &orders[i];
        let method = order
            .payment_method_id
            .and_then(|id| masters.payment_method(id))
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let agreed = juchu_domain::time::japan()
            .to_datetime(order.ordered_at)
            .strftime("%Y-%m-%d %H:%M")
            .to_string();
        let terms = juchu_domain::mypage::terms_of(s, order, &method, &cancellation, &agreed);
        rows.args.push(s.id.into());
        rows.args.extend(sub_args(s, None, at));
        rows.args.push(at.into());
        rows.args.push(
            serde_json::to_string(&terms)
                .map_err(|e| StoreError::Other(e.to_string()))?
                .into(),
        );
    }
    let created: Vec<_> = subs
        .iter()
        .map(|s| juchu_domain::webhook::subscription_event(s, None))
        .collect();
    Ok(vec![
        rows,
        item_rows(&subs),
        label_rows(&subs),
        history_rows(&history, at),
        crate::webhooks::event_rows(&created, at),
    ])
}

/// What the subscription pipeline reads besides the subscription
/// ([`Store::subscription_env`]).
pub(crate) struct SubscriptionEnv {
    pub snapshot: std::sync::Arc<crate::snapshot::Snapshot>,
    pub products: HashMap<String, Product>,
    pub calendar: ShippingCalendar,
    pub reasons: juchu_domain::subscription::SubscriptionReasons,
}

/// What a subscription change did.
#[derive(Debug, Clone)]
pub struct SubscriptionChanged {
    pub subscription: Subscription,
    pub changes: Vec<SubscriptionChange>,
}

/// One run of the daily order creation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub date: Option<Date>,
    pub created: usize,
    /// 要対応定期受注 left alone because of 「作成しない」.
    pub skipped_flagged: usize,
    /// Subscriptions whose order could not be built, with the reason.
    pub failed: Vec<(i64, String)>,
    pub chunks: usize,
    /// False when the run stopped early ([`RunOptions::stop_after_chunks`]).
    pub complete: bool,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Subscriptions per transaction; None: the store's own
    /// ([`default_run_chunk`]).
    pub chunk_size: Option<usize>,
    /// Stop after this many committed chunks, as a crash between two chunks would
    /// (for tests of resuming; the run is then done in one part).
    pub stop_after_chunks: Option<usize>,
    /// Connections the run uses at once on PostgreSQL (SQLite: always one).
    pub workers: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            chunk_size: None,
            stop_after_chunks: None,
            workers: 2,
        }
    }
}

/// Subscriptions per transaction of a run. SQLite has one writer and pays
/// for each commit with a WAL write of every page the chunk touched (the
/// same index pages again and again) and an fsync: 2,000 per commit ran the
/// daily run over 20,000 subscriptions in 4.8 s instead of 5.5–6.1 s, and
/// other writers wait about half a second at most. PostgreSQL runs parts in
/// parallel and keeps the rows of a chunk locked while it is written: 500.
pub fn default_run_chunk(backend: crate::Backend) -> usize {
    match backend {
        crate::Backend::Sqlite => 2000,
        crate::Backend::Postgres => 500,
    }
}

/// One part of a run: the due subscriptions whose `id % part.1 == part.0`.
pub(crate) struct PartRun {
    pub(crate) today: Date,
    pub(crate) cutoff: Date,
    pub(crate) column: &'static str,
    pub(crate) flagged_creates: bool,
    pub(crate) chunk_size: usize,
    pub(crate) stop_after_chunks: Option<usize>,
    pub(crate) part: (i64, i64),
}

/// Search of 定期受注管理.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionQuery {
    pub status: Option<String>,
    pub next_delivery_from: Option<String>,
    pub next_delivery_to: Option<String>,
    pub next_ship_from: Option<String>,
    pub next_ship_to: Option<String>,
    pub product_code: Option<String>,
    pub customer_id: Option<i64>,
    pub name: Option<String>,
    pub kana: Option<String>,
    pub phone: Option<String>,
    pub needs_attention: Option<bool>,
    pub count_min: Option<i64>,
    pub count_max: Option<i64>,
    pub page: i64,
    pub per_page: i64,
    /// `after` / `updated_since` (integrations): pages by key, oldest first.
    pub keyset: crate::db::keyset::Keyset,
}

#[derive(Debug, Clone)]
pub struct SubscriptionPage {
    pub subscriptions: Vec<Subscription>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// With a keyset: the `after` of the next page.
    pub next_after: Option<String>,
}

impl SubscriptionQuery {
    fn filter(&self, backend: Backend) -> Result<(String, Vec<Arg>), FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        let mut push = |clause: &str, v: Arg, args: &mut Vec<Arg>| {
            args.push(v);
            clauses.push(crate::db::numbered(clause, args.len()));
        };
        let trimmed = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        if let Some(s) = trimmed(&self.status) {
            match SubscriptionStatus::parse(&s) {
                Some(st) => push("status = $?", st.code().into(), &mut args),
                None => errors.add(
                    "status",
                    "unknown_status",
                    format!("ステータス「{s}」はありません（有効・停止・キャンセル）"),
                ),
            }
        }
        for (field, col, op, v) in [
            (
                "next_delivery_from",
                "next_delivery_date",
                ">=",
                &self.next_delivery_from,
            ),
            (
                "next_delivery_to",
                "next_delivery_date",
                "<=",
                &self.next_delivery_to,
            ),
            (
                "next_ship_from",
                "next_ship_date",
                ">=",
                &self.next_ship_from,
            ),
            ("next_ship_to", "next_ship_date", "<=", &self.next_ship_to),
        ] {
            if let Some(s) = trimmed(v) {
                match juchu_domain::time::parse_date(&s) {
                    Ok(d) => push(&format!("{col} {op} $?"), d.to_string().into(), &mut args),
                    Err(m) => errors.add(field, "invalid_date", m),
                }
            }
        }
        if let Some(code) = trimmed(&self.product_code) {
            push(
                "id IN (SELECT subscription_id FROM subscription_items WHERE product_code = $?)",
                code.into(),
                &mut args,
            );
        }
        if let Some(id) = self.customer_id {
            push("customer_id = $?", id.into(), &mut args);
        }
        for (col, value) in [
            ("billing_name_key", &self.name),
            ("billing_kana_key", &self.kana),
        ] {
            let Some(key) = trimmed(value)
                .map(|v| name_key(&v))
                .filter(|k| !k.is_empty())
            else {
                continue;
            };
            match backend {
                // As in the order search: LIKE with an explicit escape on PostgreSQL
                // (text_pattern_ops index), a binary range on SQLite.
                Backend::Postgres => push(
                    &format!("{col} LIKE $? ESCAPE '\\'"),
                    like_prefix(&key).into(),
                    &mut args,
                ),
                Backend::Sqlite => {
                    push(&format!("{col} >= $?"), key.clone().into(), &mut args);
                    push(
                        &format!("{col} < $?"),
                        format!("{key}\u{10FFFF}").into(),
                        &mut args,
                    );
                }
            }
        }
        if let Some(p) = trimmed(&self.phone) {
            push("billing_phone_key = $?", phone_key(&p).into(), &mut args);
        }
        if let Some(b) = self.needs_attention {
            push("needs_attention = $?", b.into(), &mut args);
        }
        if let Some(n) = self.count_min {
            push("count >= $?", n.into(), &mut args);
        }
        if let Some(n) = self.count_max {
            push("count <= $?", n.into(), &mut args);
        }
        errors.into_result()?;
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        Ok((where_sql, args))
    }
}

impl Store {
    /// 配送設定 used by subscriptions: lead days and days without shipping.
    pub async fn shipping_calendar(&self) -> Result<ShippingCalendar, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let map = settings_map(&mut conn).await?;
        calendar_from(&mut conn, &map).await
    }

    pub async fn subscription_settings(&self) -> Result<SubscriptionSettings, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(settings_from(&settings_map(&mut conn).await?))
    }

    /// Saves the subscription settings and the shipping calendar.
    pub async fn save_subscription_settings(
        &self,
        s: &SubscriptionSettings,
        calendar: &ShippingCalendar,
    ) -> Result<(), StoreError> {
        let mut e = FieldErrors::default();
        if !(0..=60).contains(&s.days_before) {
            e.add("days_before", "out_of_range", "0〜60日で指定してください");
        }
        if !(0..=30).contains(&calendar.lead_days) {
            e.add("lead_days", "out_of_range", "0〜30日で指定してください");
        }
        if !(1..=12).contains(&s.default_cycle_months) {
            e.add(
                "default_cycle_months",
                "out_of_range",
                "1〜12ヶ月で指定してください",
            );
        }
        if s.reauth_retries > 10 {
            e.add(
                "reauth_retries",
                "out_of_range",
                "0〜10回で指定してください",
            );
        }
        if !(1..=60).contains(&s.reauth_interval_days) {
            e.add(
                "reauth_interval_days",
                "out_of_range",
                "1〜60日で指定してください",
            );
        }
        if s.notice_days_before > 30 {
            e.add(
                "notice_days_before",
                "out_of_range",
                "0〜30日で指定してください（0は送信しない）",
            );
        }
        // The notice tells of a delivery whose order is not made yet: it must
        // come before the run makes it (which moves the next ship date on).
        let made_before_ship = match s.basis {
            CreationBasis::Delivery => s.days_before - calendar.lead_days,
            CreationBasis::Ship => s.days_before,
        };
        if s.notice_days_before > 0 && i64::from(s.notice_days_before) <= made_before_ship {
            e.add(
                "notice_days_before",
                "before_order",
                format!(
                    "事前お知らせは受注作成（発送予定日の{made_before_ship}日前）より前に送るため、{}日前以上にしてください",
                    made_before_ship + 1
                ),
            );
        }
        if (1..=7u8).all(|d| calendar.no_ship_weekdays.contains(&d)) {
            e.add(
                "no_ship_weekdays",
                "no_ship_day",
                "発送する曜日が1日もありません",
            );
        }
        if calendar
            .no_ship_weekdays
            .iter()
            .any(|d| !(1..=7).contains(d))
        {
            e.add(
                "no_ship_weekdays",
                "out_of_range",
                "曜日は1（月）〜7（日）です",
            );
        }
        e.into_result()?;
        let values = [
            ("shipping.lead_days", calendar.lead_days.to_string()),
            (
                "shipping.no_ship_weekdays",
                calendar
                    .no_ship_weekdays
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("subscription.days_before", s.days_before.to_string()),
            (
                "subscription.basis",
                match s.basis {
                    CreationBasis::Delivery => "delivery",
                    CreationBasis::Ship => "ship",
                }
                .to_string(),
            ),
            (
                "subscription.default_cycle_months",
                s.default_cycle_months.to_string(),
            ),
            (
                "subscription.flagged_creates",
                s.flagged_creates.to_string(),
            ),
            (
                "subscription.blacklist_flags",
                s.blacklist_flags_subscriptions.to_string(),
            ),
            ("subscription.reauth_retries", s.reauth_retries.to_string()),
            (
                "subscription.reauth_interval_days",
                s.reauth_interval_days.to_string(),
            ),
            ("subscription.overdue_flags", s.overdue_flags.to_string()),
            (
                "subscription.notice_days_before",
                s.notice_days_before.to_string(),
            ),
        ];
        let mut tx = self.begin().await?;
        for (k, v) in values {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM shop_holidays")
            .execute(&mut *tx)
            .await?;
        for d in &calendar.no_ship_dates {
            sqlx::query("INSERT INTO shop_holidays (day) VALUES ($1)")
                .bind(d.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn subscription_reasons(&self) -> Result<SubscriptionReasons, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_reasons(&mut conn).await
    }

    /// A subscription with its items and labels.
    pub async fn subscription(&self, id: i64) -> Result<Subscription, StoreError> {
        let mut tx = self.begin_read().await?;
        let s = load_subscription(&mut tx, id, "").await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Newest first.
    pub async fn search_subscriptions(
        &self,
        q: &SubscriptionQuery,
    ) -> Result<SubscriptionPage, StoreError> {
        let (where_sql, args) = q.filter(self.backend)?;
        let per_page = q.per_page.clamp(1, 500);
        let page = q.page.clamp(1, 100_000);
        let total = get_i64(
            &query_with(
                format!("SELECT COUNT(*) AS n FROM subscriptions{where_sql}"),
                args.clone(),
            )
            .fetch_one(&self.pool)
            .await?,
            "n",
        )?;
        let mut args = args;
        let keyed = q.keyset.is_active();
        let (where_sql, order) = if keyed {
            q.keyset.apply(&where_sql, &mut args)
        } else {
            (where_sql, "id DESC")
        };
        let n = args.len();
        args.push(per_page.into());
        args.push(if keyed { 0 } else { (page - 1) * per_page }.into());
        let sql = format!(
            "{}{where_sql} ORDER BY {order} LIMIT ${} OFFSET ${}",
            select_sql(),
            n + 1,
            n + 2
        );
        let mut tx = self.begin_read().await?;
        let rows = query_with(sql, args).fetch_all(&mut *tx).await?;
        let next_after = if keyed {
            crate::db::keyset::next_after_rows(&q.keyset, &rows)?
        } else {
            None
        };
        let mut subs = rows
            .iter()
            .map(sub_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        attach_sub_children(&mut tx, &mut subs).await?;
        tx.commit().await?;
        Ok(SubscriptionPage {
            subscriptions: subs,
            total,
            page,
            per_page,
            next_after,
        })
    }

    /// The parent order and the child orders, oldest first.
    pub async fn subscription_orders(&self, id: i64) -> Result<Vec<Order>, StoreError> {
        let mut tx = self.begin_read().await?;
        let exists = sqlx::query("SELECT id FROM subscriptions WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound("定期受注"));
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} WHERE subscription_id = $1 ORDER BY ordered_at, id",
            select_order_sql()
        )))
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let mut orders = rows
            .iter()
            .map(order_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        attach_children(&mut tx, &mut orders).await?;
        tx.commit().await?;
        Ok(orders)
    }

    pub async fn subscription_history(&self, id: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor_kind, actor_name, field, before_value, after_value, reason FROM subscription_history WHERE subscription_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let field = get_str(r, "field")?;
                Ok(HistoryEntry {
                    id: get_i64(r, "id")?,
                    at: get_str(r, "at")?,
                    actor_kind: get_str(r, "actor_kind")?,
                    actor_name: get_str(r, "actor_name")?,
                    field_label: field_label(&field).to_string(),
                    field,
                    before: get_str(r, "before_value")?,
                    after: get_str(r, "after_value")?,
                    reason: get_str(r, "reason")?,
                })
            })
            .collect()
    }

    /// [`Store::change_subscription`] inside the caller's transaction (an
    /// automation rule acting on an order's subscription).
    pub(crate) async fn change_subscription_in_tx(
        &self,
        tx: &mut Tx,
        id: i64,
        expected_version: Option<i64>,
        cmds: &[SubscriptionCommand],
        actor: &Actor,
        reason: &str,
    ) -> Result<SubscriptionChanged, StoreError> {
        let mut e = FieldErrors::default();
        juchu_domain::text::check_len(&mut e, "reason", reason, 500);
        e.into_result()?;
        let before = load_subscription(tx, id, self.lock_suffix()).await?;
        if let Some(v) = expected_version
            && v != before.version
        {
            return Err(StoreError::Conflict {
                field: Some("version".into()),
                message: format!(
                    "定期受注 #{id} は他の操作で更新されています（送信されたバージョン {v}、現在 {}）。再読み込みしてから変更してください",
                    before.version
                ),
            });
        }
        // A manual flag without a reason on a subscription that has a flagged
        // order reads 「要対応受注がある定期受注」 (the seed's rule).
        let manual_flag = !before.needs_attention
            && cmds.iter().any(|c| {
                matches!(c, SubscriptionCommand::Patch(p)
                    if p.needs_attention == Some(true)
                        && p.needs_attention_reason.as_deref().is_none_or(|r| r.trim().is_empty()))
            });
        let with_reason;
        let cmds = if manual_flag
            && sqlx::query(
                "SELECT id FROM orders WHERE subscription_id = $1 AND needs_attention = 1 LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .is_some()
        {
            with_reason = cmds
                .iter()
                .map(|c| match c {
                    SubscriptionCommand::Patch(p) if p.needs_attention == Some(true) => {
                        let mut p = p.clone();
                        p.needs_attention_reason = Some(
                            juchu_domain::blacklist::REASON_SUBSCRIPTION_WITH_FLAGGED_ORDER.into(),
                        );
                        SubscriptionCommand::Patch(p)
                    }
                    c => c.clone(),
                })
                .collect::<Vec<_>>();
            &with_reason[..]
        } else {
            cmds
        };
        let mut codes: Vec<String> = before
            .items
            .iter()
            .map(|i| i.product_code.clone())
            .collect();
        for cmd in cmds {
            if let SubscriptionCommand::Patch(p) = cmd {
                codes.extend(
                    p.items
                        .iter()
                        .flatten()
                        .map(|i| i.product_code.trim().to_string()),
                );
            }
        }
        let env = self.subscription_env(tx, &codes).await?;
        self.change_loaded_subscription_in_tx(tx, before, cmds, &env, actor, reason)
            .await
    }

    /// What applying commands needs besides the subscription: the masters,
    /// the products of `codes`, the shipping calendar and the reason masters.
    /// Loaded once, it serves many subscriptions (the request automation's
    /// chunk).
    pub(crate) async fn subscription_env(
        &self,
        tx: &mut Tx,
        codes: &[String],
    ) -> Result<SubscriptionEnv, StoreError> {
        let (snapshot, products) = self.context(tx, codes).await?;
        let map = settings_map(tx).await?;
        let calendar = calendar_from(tx, &map).await?;
        let reasons = load_reasons(tx).await?;
        Ok(SubscriptionEnv {
            snapshot,
            products,
            calendar,
            reasons,
        })
    }

    /// The pipeline on a subscription already loaded (and locked) in `tx`:
    /// commands applied in order, all or none; the row written with its
    /// 履歴 when anything changed.
    pub(crate) async fn change_loaded_subscription_in_tx(
        &self,
        tx: &mut Tx,
        before: Subscription,
        cmds: &[SubscriptionCommand],
        env: &SubscriptionEnv,
        actor: &Actor,
        reason: &str,
    ) -> Result<SubscriptionChanged, StoreError> {
        let mut e = FieldErrors::default();
        juchu_domain::text::check_len(&mut e, "reason", reason, 500);
        e.into_result()?;
        let id = before.id;
        let snapshot = &env.snapshot;
        let ctx = SubscriptionContext {
            masters: &snapshot.masters,
            calendar: &env.calendar,
            reasons: &env.reasons,
            products: &env.products,
        };
        // Several commands (a PATCH that stops and edits the memo) apply in order,
        // all or none.
        let mut after = before.clone();
        for cmd in cmds {
            after = apply_command(&after, cmd, &ctx)?;
        }
        let changes = diff(&before, &after, &snapshot.masters);
        // Compare the whole subscription, not only what 履歴 shows: a 再計算 that
        // refreshes a product id must still be saved.
        if after == before {
            return Ok(SubscriptionChanged {
                subscription: before,
                changes,
            });
        }
        after.version = before.version + 1;
        let now = juchu_domain::time::format_ts(self.clock.now_second());
        let last_run = last_run_on(tx, id).await?;
        write_subscription(tx, self.backend, &before, &after, last_run, &now).await?;
        let mut history = Vec::new();
        let what = cmds
            .iter()
            .map(SubscriptionCommand::label)
            .collect::<Vec<_>>()
            .join("・");
        let why = if reason.trim().is_empty() {
            what
        } else {
            format!("{what}: {}", reason.trim())
        };
        change_rows(id, &changes, actor, &why, &mut history);
        let changed = juchu_domain::webhook::subscription_event(&after, Some(&changes));
        write_rows(
            tx,
            self.backend,
            vec![
                history_rows(&history, &now),
                crate::webhooks::event_rows(&[changed], &now),
            ],
        )
        .await?;
        Ok(SubscriptionChanged {
            subscription: after,
            changes,
        })
    }
}

/// The (subscription, delivery date) pairs of `subs`' next deliveries that
/// already have an order.
pub(crate) async fn existing_deliveries(
    tx: &mut Tx,
    backend: Backend,
    subs: &[Subscription],
) -> Result<std::collections::HashSet<(i64, Date)>, StoreError> {
    let mut found = std::collections::HashSet::new();
    let per = crate::db::rows_per_statement(backend, 2);
    for chunk in subs.chunks(per) {
        let mut args: Vec<Arg> = Vec::with_capacity(chunk.len() * 2);
        let mut pairs = Vec::with_capacity(chunk.len());
        for (k, s) in chunk.iter().enumerate() {
            pairs.push(format!(
                "(subscription_id = ${} AND subscription_delivery_date = ${})",
                2 * k + 1,
                2 * k + 2
            ));
            args.push(s.id.into());
            args.push(s.schedule.next_delivery.to_string().into());
        }
        let sql = format!(
            "SELECT subscription_id, subscription_delivery_date FROM orders WHERE {}",
            pairs.join(" OR ")
        );
        for r in query_with(sql, args).fetch_all(&mut **tx).await? {
            if let (Some(id), Some(d)) = (
                get_opt_i64(&r, "subscription_id")?,
                get_opt_str(&r, "subscription_delivery_date")?.and_then(|d| d.parse().ok()),
            ) {
                found.insert((id, d));
            }
        }
    }
    Ok(found)
}

pub(crate) async fn mark_run(
    tx: &mut Tx,
    backend: Backend,
    ids: &[i64],
    day: Date,
) -> Result<(), StoreError> {
    for chunk in ids.chunks(crate::db::max_binds(backend) - 1) {
        let mut args: Vec<Arg> = vec![day.to_string().into()];
        args.extend(chunk.iter().map(|id| Arg::from(*id)));
        let sql = format!(
            "UPDATE subscriptions SET last_run_on = $1 WHERE id IN ({})",
            crate::db::in_list(chunk.len(), 2)
        );
        query_with(sql, args).execute(&mut **tx).await?;
    }
    Ok(())
}

pub(crate) async fn last_run_on(tx: &mut Tx, id: i64) -> Result<Option<Date>, StoreError> {
    let row = sqlx::query("SELECT last_run_on FROM subscriptions WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(get_opt_str(&row, "last_run_on")?.and_then(|s| s.parse().ok()))
}

pub(crate) async fn load_subscription(
    tx: &mut Tx,
    id: i64,
    lock: &str,
) -> Result<Subscription, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{} WHERE id = $1{lock}",
        select_sql()
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound("定期受注"))?;
    let mut subs = vec![sub_from_row(&row)?];
    attach_sub_children(tx, &mut subs).await?;
    Ok(subs.remove(0))
}

/// Writes a changed subscription: the row, and items / labels when they changed.
pub(crate) async fn write_subscription(
    tx: &mut Tx,
    backend: Backend,
    before: &Subscription,
    after: &Subscription,
    last_run: Option<Date>,
    now: &str,
) -> Result<(), StoreError> {
    let sets = SUB_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let mut args = sub_args(after, last_run, now);
    args.push(after.id.into());
    query_with(
        format!(
            "UPDATE subscriptions SET {sets} WHERE id = ${}",
            SUB_COLUMNS.len() + 1
        ),
        args,
    )
    .execute(&mut **tx)
    .await?;
    let mut rows = Vec::new();
    if before.items != after.items {
        sqlx::query("DELETE FROM subscription_items WHERE subscription_id = $1")
            .bind(after.id)
            .execute(&mut **tx)
            .await?;
        rows.push(item_rows(std::slice::from_ref(after)));
    }
    if before.label_ids != after.label_ids {
        sqlx::query("DELETE FROM subscription_label_links WHERE subscription_id = $1")
            .bind(after.id)
            .execute(&mut **tx)
            .await?;
        rows.push(label_rows(std::slice::from_ref(after)));
    }
    write_rows(tx, backend, rows).await
}

/// The daily run's updates, many subscriptions per statement: only the fields an
/// advance changes (dates, count, run date). The version is counted up in SQL, so
/// a rule that changed the subscription in the same transaction (its child
/// order's automation) keeps its own version step.
pub(crate) async fn advance_rows(
    tx: &mut Tx,
    backend: Backend,
    subs: &[Subscription],
    run_date: Option<Date>,
    now: &str,
) -> Result<(), StoreError> {
    const WIDTH: usize = 7;
    let per = crate::db::rows_per_statement(backend, WIDTH);
    for chunk in subs.chunks(per) {
        let mut args: Vec<Arg> = Vec::with_capacity(chunk.len() * WIDTH);
        for s in chunk {
            args.push(s.id.into());
            args.push(s.schedule.next_delivery.to_string().into());
            args.push(s.schedule.next_ship.to_string().into());
            args.push(Arg::Text(
                s.schedule.previous_delivery.map(|d| d.to_string()),
            ));
            args.push(s.count.into());
            args.push(Arg::Text(run_date.map(|d| d.to_string())));
            args.push(now.into());
        }
        // VALUES columns are column1..column7 on both stores.
        let sql = format!(
            "UPDATE subscriptions SET next_delivery_date = v.column2, next_ship_date = v.column3, \
             previous_delivery_date = v.column4, count = v.column5, version = subscriptions.version + 1, \
             last_run_on = COALESCE(v.column6, subscriptions.last_run_on), updated_at = v.column7 \
             FROM (VALUES {}) AS v WHERE subscriptions.id = v.column1",
            crate::db::values_placeholders(chunk.len(), WIDTH, 1)
        );
        query_with(sql, args).execute(&mut **tx).await?;
    }
    Ok(())
}
