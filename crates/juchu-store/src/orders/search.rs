//! Order search: one [`OrderQuery`] for the list page, the API and bulk selection.

use crate::StoreError;
use crate::db::{Arg, Backend, Store, get_i64, query_with};
use crate::orders::{attach_children, order_from_row, select_order_sql};
use jiff::civil::Date;
use juchu_domain::FieldErrors;
use juchu_domain::masters::Masters;
use juchu_domain::normalize::{
    email_key, like_contains, like_prefix, like_suffix, name_key, phone_key, tracking_key,
};
use juchu_domain::order::Order;
use juchu_domain::status::{PaymentStatus, ShipmentStatus, ShippingListState};

pub const MAX_PER_PAGE: i64 = 200;

/// The total is counted exactly up to this many orders; past it the page says
/// "10,000件以上". An exact count of a broad filter on a million orders reads
/// hundreds of thousands of index entries (0.2–1.7 s measured); a capped count
/// stops early, so every search costs about the same. `exact_total` asks for the
/// full count.
pub const COUNT_CAP: i64 = 10_000;

/// What the list is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    #[default]
    OrderedAt,
    OrderNumber,
    Total,
    ScheduledDeliveryDate,
    BillingKana,
    HandlingStatus,
    Carrier,
    TrackingNumber,
}

impl SortKey {
    pub const ALL: [(SortKey, &'static str, &'static str); 8] = [
        (SortKey::OrderedAt, "ordered_at", "受注日時"),
        (SortKey::OrderNumber, "order_number", "受注番号"),
        (SortKey::Total, "total", "合計"),
        (
            SortKey::ScheduledDeliveryDate,
            "scheduled_delivery_date",
            "お届け日",
        ),
        (SortKey::BillingKana, "billing_kana", "請求者名（カナ順）"),
        (SortKey::HandlingStatus, "handling_status", "対応状況"),
        (SortKey::Carrier, "carrier", "配送業者"),
        (SortKey::TrackingNumber, "tracking_number", "配送伝票番号"),
    ];
    pub fn parse(code: &str) -> Option<SortKey> {
        Self::ALL
            .iter()
            .find(|(_, c, _)| *c == code)
            .map(|(k, _, _)| *k)
    }
    pub fn code(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _, _)| *k == self)
            .map_or("ordered_at", |(_, c, _)| c)
    }
    fn column(self) -> &'static str {
        match self {
            SortKey::OrderedAt => "ordered_at",
            SortKey::OrderNumber => "order_number",
            SortKey::Total => "total",
            SortKey::ScheduledDeliveryDate => "scheduled_delivery_date",
            SortKey::BillingKana => "billing_kana_key",
            SortKey::HandlingStatus => "handling_status_id",
            SortKey::Carrier => "carrier_id",
            SortKey::TrackingNumber => "tracking_key",
        }
    }
}

/// Search filters. Text filters are normalised the way the keys were (全角/半角,
/// spaces, hyphens, +81); name and kana match by prefix, `name_part` anywhere
/// in the name (a given name alone), `phone_tail` the end of the number (the
/// last four digits), the others exactly.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    /// `after` / `updated_since` (integrations): when set, pages by key in
    /// ascending order instead of by number and sort.
    pub keyset: crate::db::keyset::Keyset,
    /// Sort key and direction (the default, all false: newest first).
    pub sort: SortKey,
    pub ascending: bool,
    /// Also sum the 合計 of every match (the list page shows it).
    pub with_sum: bool,
    pub name_part: Option<String>,
    pub phone_tail: Option<String>,
    /// 欠品: orders short of stock (true) or not (false); see `stock`.
    pub stock_shortage: Option<bool>,
    /// Orders with a customer message (マイページ) staff have not opened.
    pub unread_messages: bool,
    pub order_number: Option<String>,
    /// Inclusive, Japan-time calendar days.
    pub ordered_from: Option<Date>,
    pub ordered_to: Option<Date>,
    /// Handling status name.
    pub handling_status: Option<String>,
    pub payment_status: Option<PaymentStatus>,
    pub shipment_status: Option<ShipmentStatus>,
    /// Payment method code or name.
    pub payment_method: Option<String>,
    /// Carrier code or name.
    pub carrier: Option<String>,
    pub customer_id: Option<i64>,
    pub name: Option<String>,
    pub kana: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub product_code: Option<String>,
    /// Label name.
    pub label: Option<String>,
    pub tracking_number: Option<String>,
    pub needs_attention: Option<bool>,
    pub shipping_list_state: Option<ShippingListState>,
    /// Count every match instead of stopping at [`COUNT_CAP`].
    pub exact_total: bool,
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
}

#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Exact when `total_is_exact`; otherwise [`COUNT_CAP`] (there are more).
    pub total: i64,
    pub total_is_exact: bool,
    pub page: i64,
    pub per_page: i64,
    /// The sum of 合計 over every match, when asked for.
    pub sum_total: Option<i64>,
    /// With a keyset: the `after` of the next page (None: this page is empty).
    pub next_after: Option<String>,
}

impl OrderPage {
    pub fn pages(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The filter as SQL: ` WHERE …` (or empty) and its bind values.
pub struct Filter {
    pub where_sql: String,
    pub args: Vec<Arg>,
}

impl OrderQuery {
    /// Builds the WHERE clause. Unknown master names are field errors.
    pub fn filter(&self, masters: &Masters, backend: Backend) -> Result<Filter, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        let push = |conds: &mut Vec<String>, args: &mut Vec<Arg>, sql: &str, v: Arg| {
            args.push(v);
            conds.push(crate::db::numbered(sql, args.len()));
        };
        if let Some(n) = non_empty(&self.order_number) {
            push(&mut conds, &mut args, "order_number = $?", n.into());
        }
        if let Some(d) = self.ordered_from {
            let ts = juchu_domain::time::format_ts(juchu_domain::time::japan_day_start(d));
            push(&mut conds, &mut args, "ordered_at >= $?", ts.into());
        }
        if let Some(d) = self.ordered_to {
            let next = d.tomorrow().unwrap_or(d);
            let ts = juchu_domain::time::format_ts(juchu_domain::time::japan_day_start(next));
            push(&mut conds, &mut args, "ordered_at < $?", ts.into());
        }
        if let Some(name) = non_empty(&self.handling_status) {
            match masters.handling_status_by_name(name) {
                Some(s) => push(
                    &mut conds,
                    &mut args,
                    "handling_status_id = $?",
                    s.id.into(),
                ),
                None => errors.add(
                    "handling_status",
                    "unknown_handling_status",
                    format!("対応状況「{name}」は登録されていません"),
                ),
            }
        }
        if let Some(p) = self.payment_status {
            push(
                &mut conds,
                &mut args,
                "payment_status = $?",
                p.code().into(),
            );
        }
        if let Some(s) = self.shipment_status {
            push(
                &mut conds,
                &mut args,
                "shipment_status = $?",
                s.code().into(),
            );
        }
        if let Some(s) = self.shipping_list_state {
            push(
                &mut conds,
                &mut args,
                "shipping_list_state = $?",
                s.code().into(),
            );
        }
        if let Some(k) = non_empty(&self.payment_method) {
            match masters.payment_method_by_key(k) {
                Some(m) => push(&mut conds, &mut args, "payment_method_id = $?", m.id.into()),
                None => errors.add(
                    "payment_method",
                    "unknown",
                    format!("支払方法「{k}」は登録されていません"),
                ),
            }
        }
        if let Some(k) = non_empty(&self.carrier) {
            match masters.carrier_by_key(k) {
                Some(c) => push(&mut conds, &mut args, "carrier_id = $?", c.id.into()),
                None => errors.add(
                    "carrier",
                    "unknown",
                    format!("配送業者「{k}」は登録されていません"),
                ),
            }
        }
        if let Some(id) = self.customer_id {
            push(&mut conds, &mut args, "customer_id = $?", id.into());
        }
        for (col, value) in [
            ("billing_name_key", &self.name),
            ("billing_kana_key", &self.kana),
        ] {
            let Some(key) = non_empty(value).map(name_key).filter(|k| !k.is_empty()) else {
                continue;
            };
            match backend {
                // PostgreSQL: LIKE with a text_pattern_ops index, whatever the collation.
                Backend::Postgres => push(
                    &mut conds,
                    &mut args,
                    &format!("{col} LIKE $? ESCAPE '\\'"),
                    like_prefix(&key).into(),
                ),
                // SQLite's LIKE is case-folding and skips the index; a range on the
                // binary-ordered key is the same prefix match and uses it.
                Backend::Sqlite => {
                    push(
                        &mut conds,
                        &mut args,
                        &format!("{col} >= $?"),
                        key.clone().into(),
                    );
                    push(
                        &mut conds,
                        &mut args,
                        &format!("{col} < $?"),
                        format!("{key}\u{10FFFF}").into(),
                    );
                }
            }
        }
        if let Some(p) = non_empty(&self.phone).map(phone_key) {
            push(&mut conds, &mut args, "billing_phone_key = $?", p.into());
        }
        // Partial matches read every row the other filters leave: asked for
        // by name, never implied by the prefix and exact filters above.
        if let Some(k) = non_empty(&self.name_part).map(name_key) {
            if k.is_empty() {
                errors.add("name_part", "empty", "名前の一部を入力してください");
            } else {
                push(
                    &mut conds,
                    &mut args,
                    "(billing_name_key LIKE $? ESCAPE '\\' OR billing_kana_key LIKE $? ESCAPE '\\')",
                    like_contains(&k).into(),
                );
            }
        }
        if let Some(t) = non_empty(&self.phone_tail) {
            let digits = phone_key(t);
            if digits.len() < 3 {
                errors.add(
                    "phone_tail",
                    "too_short",
                    "電話番号の末尾は3桁以上の数字で入力してください",
                );
            } else {
                push(
                    &mut conds,
                    &mut args,
                    "billing_phone_key LIKE $? ESCAPE '\\'",
                    like_suffix(&digits).into(),
                );
            }
        }
        if let Some(e) = non_empty(&self.email).map(email_key) {
            push(&mut conds, &mut args, "billing_email_key = $?", e.into());
        }
        if let Some(t) = non_empty(&self.tracking_number).map(tracking_key) {
            push(&mut conds, &mut args, "tracking_key = $?", t.into());
        }
        if let Some(code) = non_empty(&self.product_code) {
            push(
                &mut conds,
                &mut args,
                "EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = orders.id AND i.product_code = $?)",
                code.into(),
            );
        }
        if let Some(name) = non_empty(&self.label) {
            match masters.label_by_name(name) {
                Some(l) => push(
                    &mut conds,
                    &mut args,
                    "EXISTS (SELECT 1 FROM order_label_links l WHERE l.order_id = orders.id AND l.label_id = $?)",
                    l.id.into(),
                ),
                None => errors.add(
                    "label",
                    "unknown_label",
                    format!("受注ラベル「{name}」は登録されていません"),
                ),
            }
        }
        if let Some(b) = self.needs_attention {
            push(&mut conds, &mut args, "needs_attention = $?", b.into());
        }
        if let Some(short) = self.stock_shortage {
            conds.push(format!(
                "id {} (SELECT s.order_id FROM ({}) s)",
                if short { "IN" } else { "NOT IN" },
                crate::stock::short_lines_sql(masters)
            ));
        }
        if self.unread_messages {
            conds.push(
                "id IN (SELECT m.order_id FROM order_messages m WHERE m.author = 'customer' AND m.read_at IS NULL)"
                    .into(),
            );
        }
        errors.into_result()?;
        let where_sql = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        Ok(Filter { where_sql, args })
    }

    pub fn limit_offset(&self) -> (i64, i64) {
        let per_page = if self.per_page <= 0 {
            50
        } else {
            self.per_page.min(MAX_PER_PAGE)
        };
        let page = self.page.max(1);
        (per_page, (page - 1) * per_page)
    }
}

impl Store {
    /// Newest first, one page, with the total count.
    pub async fn search_orders(&self, q: &OrderQuery) -> Result<OrderPage, StoreError> {
        let masters = self.masters().await?;
        self.search_orders_with(q, &masters).await
    }

    /// [`Store::search_orders`] for a caller that already holds the masters (to
    /// show the page) and so saves loading them twice.
    pub async fn search_orders_with(
        &self,
        q: &OrderQuery,
        masters: &Masters,
    ) -> Result<OrderPage, StoreError> {
        let f = q.filter(masters, self.backend)?;
        let (limit, offset) = q.limit_offset();
        let count_sql = if q.exact_total {
            format!("SELECT COUNT(*) AS n FROM orders{}", f.where_sql)
        } else {
            format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM orders{} LIMIT {}) capped",
                f.where_sql,
                COUNT_CAP + 1
            )
        };
        let counted = get_i64(
            &query_with(count_sql, f.args.clone())
                .fetch_one(&self.pool)
                .await?,
            "n",
        )?;
        let total_is_exact = q.exact_total || counted <= COUNT_CAP;
        let total = if total_is_exact { counted } else { COUNT_CAP };
        let sum_total = if q.with_sum {
            let row = query_with(
                format!(
                    "SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) AS s FROM orders{}",
                    f.where_sql
                ),
                f.args.clone(),
            )
            .fetch_one(&self.pool)
            .await?;
            Some(get_i64(&row, "s")?)
        } else {
            None
        };
        let mut args = f.args;
        let keyed = q.keyset.is_active();
        let (where_sql, key_order) = if keyed {
            q.keyset.apply(&f.where_sql, &mut args)
        } else {
            (f.where_sql.clone(), "")
        };
        let n = args.len();
        args.push(limit.into());
        args.push(if keyed { 0 } else { offset }.into());
        let (dir, nulls) = match (!q.ascending, self.backend) {
            (true, Backend::Postgres) => ("DESC", " NULLS LAST"),
            (false, Backend::Postgres) => ("ASC", " NULLS LAST"),
            (true, Backend::Sqlite) => ("DESC", ""),
            (false, Backend::Sqlite) => ("ASC", ""),
        };
        // The default (newest first) is the indexed order; the others sort
        // the matches of the filter.
        let order_by = match q.sort {
            _ if keyed => key_order.to_string(),
            SortKey::OrderedAt => format!("ordered_at {dir}, id {dir}"),
            key => format!("{} {dir}{nulls}, id {dir}", key.column()),
        };
        let sql = format!(
            "{}{} ORDER BY {order_by} LIMIT ${} OFFSET ${}",
            select_order_sql(),
            where_sql,
            n + 1,
            n + 2
        );
        let rows = query_with(sql, args).fetch_all(&self.pool).await?;
        let next_after = if keyed {
            crate::db::keyset::next_after_rows(&q.keyset, &rows)?
        } else {
            None
        };
        let mut orders = rows
            .iter()
            .map(order_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        attach_children(&mut *self.pool.acquire().await?, &mut orders).await?;
        Ok(OrderPage {
            orders,
            total,
            total_is_exact,
            page: q.page.max(1),
            per_page: limit,
            sum_total,
            next_after,
        })
    }
}
