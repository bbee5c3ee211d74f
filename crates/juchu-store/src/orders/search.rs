//! Order search: one [`OrderQuery`] for the list page, the API and bulk selection.

use crate::StoreError;
use crate::db::{Arg, Backend, Store, get_i64, query_with};
use crate::orders::{attach_children, order_from_row, select_order_sql};
use jiff::civil::Date;
use juchu_domain::FieldErrors;
use juchu_domain::masters::Masters;
use juchu_domain::normalize::{email_key, like_prefix, name_key, phone_key, tracking_key};
use juchu_domain::order::Order;
use juchu_domain::status::{PaymentStatus, ShipmentStatus, ShippingListState};

pub const MAX_PER_PAGE: i64 = 200;

/// The total is counted exactly up to this many orders; past it the page says
/// "10,000件以上". An exact count of a broad filter on a million orders reads
/// hundreds of thousands of index entries (0.2–1.7 s measured); a capped count
/// stops early, so every search costs about the same. `exact_total` asks for the
/// full count.
pub const COUNT_CAP: i64 = 10_000;

/// Search filters. Text filters are normalised the way the keys were (全角/半角,
/// spaces, hyphens, +81); name and kana match by prefix, the others exactly.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
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
        let n = f.args.len();
        let mut args = f.args;
        args.push(limit.into());
        args.push(offset.into());
        let sql = format!(
            "{}{} ORDER BY ordered_at DESC, id DESC LIMIT ${} OFFSET ${}",
            select_order_sql(),
            f.where_sql,
            n + 1,
            n + 2
        );
        let rows = query_with(sql, args).fetch_all(&self.pool).await?;
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
        })
    }
}
