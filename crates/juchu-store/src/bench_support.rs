//! Raw-SQL baselines for `juchu bench`: the same rows written with bare INSERTs,
//! without validation, masters, history, events or automation. Only the bench
//! uses this; it is the yardstick, never a way to write orders.

use crate::StoreError;
use crate::db::{Arg, Store, get_i64, query_with, values_placeholders};
use crate::orders::{ITEM_COLUMNS, WRITE_COLUMNS, item_args, write_args};
use juchu_domain::event::OrderEvent;
use juchu_domain::order::Order;

/// SQL's JSON object and array builders, and the cast that makes their value
/// text (PostgreSQL builds `json`).
fn json_builders(pg: bool) -> (&'static str, &'static str, &'static str) {
    if pg {
        ("json_build_object", "json_build_array", "::text")
    } else {
        ("json_object", "json_array", "")
    }
}

/// The outbox's order summary (`juchu_domain::webhook::order_summary`) built
/// in SQL from the order `o`, with its handling status name and version given.
fn order_summary_sql(pg: bool, handling_status: &str, version: &str) -> String {
    let (object, _, _) = json_builders(pg);
    format!(
        "{object}('id', o.id, 'order_number', o.order_number, 'version', {version}, 'customer_id', o.customer_id, \
         'handling_status', {handling_status}, 'payment_status', o.payment_status, 'shipment_status', o.shipment_status, \
         'total', o.total, 'tracking_number', o.tracking_number, 'shipped_at', o.shipped_at, 'delivered_at', o.delivered_at, \
         'subscription_id', o.subscription_id)"
    )
}

/// The highest ids before a raw run (see
/// [`Store::bench_mark_before_raw_subscription_run`]).
pub struct RawRunMark {
    order: i64,
    subscription_history: i64,
    webhook_event: i64,
}

impl Store {
    /// Inserts `order` (with a fresh id) and its items in one transaction; with
    /// `bookkeeping`, also the one 履歴 row and the one event row the pipeline
    /// writes for a new order, as plain INSERTs.
    pub async fn bench_raw_insert(
        &self,
        order: &Order,
        bookkeeping: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let now = self.clock.now_text();
        let mut args = write_args(order, &now);
        args.push(now.clone().into());
        let sql = format!(
            "INSERT INTO orders ({}, created_at) VALUES {} RETURNING id",
            WRITE_COLUMNS.join(", "),
            values_placeholders(1, WRITE_COLUMNS.len() + 1, 1)
        );
        let id = get_i64(&query_with(sql, args).fetch_one(&mut *tx).await?, "id")?;
        let mut args: Vec<Arg> = Vec::new();
        for (p, i) in order.items.iter().enumerate() {
            item_args(id, p, i, &mut args);
        }
        let sql = format!(
            "INSERT INTO order_items ({}) VALUES {}",
            ITEM_COLUMNS.join(", "),
            values_placeholders(order.items.len(), ITEM_COLUMNS.len(), 1)
        );
        query_with(sql, args).execute(&mut *tx).await?;
        if bookkeeping {
            sqlx::query(
                "INSERT INTO order_history (order_id, at, actor_kind, actor_id, actor_name, field, before_value, after_value, reason) VALUES ($1, $2, 'system', NULL, 'bench', 'order', '', '作成', '')",
            )
            .bind(id)
            .bind(now.clone())
            .execute(&mut *tx)
            .await?;
            let created = juchu_domain::event::OrderEvent::Created;
            sqlx::query(
                "INSERT INTO order_events (order_id, at, kind, payload, chain_depth) VALUES ($1, $2, $3, $4, 0)",
            )
            .bind(id)
            .bind(now)
            .bind(created.kind())
            .bind(serde_json::to_string(&created).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Runs a raw search (the same capped count + one page + the page's items and labels), as the bench's
    /// baseline for the same filter. `where_sql` uses `$1…` for `args`.
    pub async fn bench_raw_search(
        &self,
        where_sql: &str,
        args: Vec<Arg>,
    ) -> Result<usize, StoreError> {
        let count = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM orders WHERE {where_sql} LIMIT {}) capped",
            crate::orders::search::COUNT_CAP + 1
        );
        query_with(count, args.clone())
            .fetch_one(&self.pool)
            .await?;
        let page = format!(
            "SELECT * FROM orders WHERE {where_sql} ORDER BY ordered_at DESC, id DESC LIMIT 50"
        );
        let rows = query_with(page, args).fetch_all(&self.pool).await?;
        let ids: Vec<Arg> = rows
            .iter()
            .map(|r| get_i64(r, "id").map(Arg::from))
            .collect::<Result<_, _>>()?;
        if !ids.is_empty() {
            let ph: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            let ids_in = ph.join(", ");
            query_with(
                format!("SELECT * FROM order_items WHERE order_id IN ({ids_in})"),
                ids.clone(),
            )
            .fetch_all(&self.pool)
            .await?;
            query_with(
                format!(
                    "SELECT order_id, label_id FROM order_label_links WHERE order_id IN ({ids_in})"
                ),
                ids,
            )
            .fetch_all(&self.pool)
            .await?;
        }
        Ok(rows.len())
    }

    /// Runs raw SQL as a baseline and returns how many rows it gave.
    pub async fn bench_raw_sql(&self, sql: &str) -> Result<usize, StoreError> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&self.pool)
            .await?
            .len())
    }

    /// The first column (`v`, text) of every row of `sql` (bench only).
    pub async fn bench_raw_sql_values(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(crate::db::get_str(r, "v")?))
            .collect()
    }

    /// Picks sample values for the search benchmarks: (phone, tracking, product code).
    pub async fn bench_samples(&self, n: i64) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT billing_phone, tracking_number FROM orders WHERE id % 97 = 0 LIMIT $1",
        )
        .bind(n)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    crate::db::get_str(r, "billing_phone")?,
                    crate::db::get_opt_str(r, "tracking_number")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The daily subscription run's baseline: the same rows written with
    /// `INSERT … SELECT` — child orders (addresses and totals copied from the parent
    /// order, no pricing, no automation), their items, one 履歴 row and one event
    /// per order, the two outbox events per order (`order.created`,
    /// `subscription.order_created`, with the order's summary), 与信 queued, one
    /// 履歴 row per subscription — and the same subscription advance as one
    /// `UPDATE`, in one transaction that is committed (durably, as the run's
    /// chunks are). [`Store::bench_undo_raw_subscription_run`] then puts the
    /// state back for the measured run. Returns the rows inserted into `orders`.
    pub async fn bench_raw_subscription_run(
        &self,
        today: jiff::civil::Date,
        cutoff: jiff::civil::Date,
    ) -> Result<u64, StoreError> {
        let pg = self.backend == crate::Backend::Postgres;
        let now = self.clock.now_text();
        let select: Vec<String> = WRITE_COLUMNS
            .iter()
            .map(|c| match *c {
                "order_number" => {
                    "'S' || CAST(s.id AS TEXT) || '-' || CAST(s.count + 1 AS TEXT)".to_string()
                }
                "ordered_at" | "updated_at" => "$3".to_string(),
                "subscription_id" => "s.id".to_string(),
                "subscription_delivery_date" | "scheduled_delivery_date" => {
                    "s.next_delivery_date".to_string()
                }
                "scheduled_ship_date" => "s.next_ship_date".to_string(),
                "version" => "1".to_string(),
                "tracking_number" | "tracking_key" | "shipped_at" | "delivered_at" | "paid_at" => {
                    "NULL".to_string()
                }
                other => format!("p.{other}"),
            })
            .collect();
        let due = "s.status = 'active' AND s.next_delivery_date <= $1 AND (s.last_run_on IS NULL OR s.last_run_on < $2)";
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO orders ({}, created_at) SELECT {}, $3 FROM subscriptions s JOIN orders p ON p.id = s.parent_order_id WHERE {due}",
            WRITE_COLUMNS.join(", "),
            select.join(", ")
        )))
        .bind(cutoff.to_string())
        .bind(today.to_string())
        .bind(now.clone())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO order_items (order_id, position, product_id, product_code, product_name, unit_price, quantity, tax_rate, is_bundled_item, product_shipping_fee, product_payment_fee)              SELECT o.id, si.position, si.product_id, si.product_code, si.product_name, 0, si.quantity, si.tax_rate, si.is_bundled_item, NULL, NULL              FROM subscriptions s JOIN subscription_items si ON si.subscription_id = s.id              JOIN orders o ON o.subscription_id = s.id AND o.subscription_delivery_date = s.next_delivery_date WHERE {due}"
        )))
        .bind(cutoff.to_string())
        .bind(today.to_string())
        .execute(&mut *tx)
        .await?;
        // The same bookkeeping rows the run writes: one 履歴 row and one event per
        // order, one 履歴 row per subscription.
        let new_orders = format!(
            "FROM subscriptions s JOIN orders o ON o.subscription_id = s.id AND o.subscription_delivery_date = s.next_delivery_date WHERE {due}"
        );
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO order_history (order_id, at, actor_kind, actor_id, actor_name, field, before_value, after_value, reason) \
             SELECT o.id, $3, 'system', NULL, '自動受注作成', 'order', '', '作成（定期受注から）', '' {new_orders}"
        )))
        .bind(cutoff.to_string())
        .bind(today.to_string())
        .bind(now.clone())
        .execute(&mut *tx)
        .await?;
        let created = juchu_domain::event::OrderEvent::Created;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO order_events (order_id, at, kind, payload, chain_depth) SELECT o.id, $3, $4, $5, 0 {new_orders}"
        )))
        .bind(cutoff.to_string())
        .bind(today.to_string())
        .bind(now.clone())
        .bind(created.kind())
        .bind(serde_json::to_string(&created).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
        // 与信 queued for each new order, as the run does: the request, the link
        // with the subscription's card token, and its 履歴 row.
        for sql in [
            format!(
                "INSERT INTO payment_requests (order_id, process, status, requested_by, next_attempt_at, created_at) \
                 SELECT o.id, 'authorize', 'pending', '自動受注作成', $3, $3 {new_orders}"
            ),
            format!(
                "INSERT INTO payment_links (order_id, gateway, card_token, updated_at) \
                 SELECT o.id, 'card', s.card_token, $3 {new_orders}"
            ),
            format!(
                "INSERT INTO order_history (order_id, at, actor_kind, actor_id, actor_name, field, before_value, after_value, reason) \
                 SELECT o.id, $3, 'system', NULL, '自動受注作成', 'payment_process', '', '決済処理「与信処理」を依頼しました（自動受注作成）', '' {new_orders}"
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(cutoff.to_string())
                .bind(today.to_string())
                .bind(now.clone())
                .execute(&mut *tx)
                .await?;
        }
        let (object, _, as_text) = json_builders(pg);
        let summary = order_summary_sql(pg, "h.name", "1");
        let with_status = new_orders.replacen(
            "WHERE",
            "JOIN handling_statuses h ON h.id = o.handling_status_id WHERE",
            1,
        );
        for (kind, subject, data) in [
            (
                "order.created",
                "'order:' || CAST(o.id AS TEXT)",
                format!("{object}('order', {summary}){as_text}"),
            ),
            (
                "subscription.order_created",
                "'subscription:' || CAST(s.id AS TEXT)",
                format!(
                    "{object}('subscription_id', s.id, 'delivery_date', o.subscription_delivery_date, 'order', {summary}){as_text}"
                ),
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO webhook_events (event_id, type, subject, data, created_at) \
                 SELECT 'bench-' || CAST(o.id AS TEXT) || '-{kind}', '{kind}', {subject}, {data}, $3 {with_status}"
            )))
            .bind(cutoff.to_string())
            .bind(today.to_string())
            .bind(now.clone())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO subscription_history (subscription_id, at, actor_kind, actor_id, actor_name, field, before_value, after_value, reason) \
             SELECT s.id, $3, 'system', NULL, '自動受注作成', 'count', CAST(s.count AS TEXT), CAST(s.count + 1 AS TEXT), s.next_delivery_date || '配送分の受注を作成' FROM subscriptions s WHERE {due}"
        )))
        .bind(cutoff.to_string())
        .bind(today.to_string())
        .bind(now.clone())
        .execute(&mut *tx)
        .await?;
        let next = if pg {
            "CAST(CAST(s2.next_delivery_date AS DATE) + 30 AS TEXT)"
        } else {
            "date(s2.next_delivery_date, '+30 days')"
        };
        let next_ship = next.replace("next_delivery_date", "next_ship_date");
        // `subscription.changed` per advance, with the new schedule and the
        // changes, as the run writes it.
        let (object, array, as_text) = json_builders(pg);
        let (next_s, ship_s) = (next.replace("s2.", "s."), next_ship.replace("s2.", "s."));
        let change = |field: &str, before: &str, after: &str| {
            format!("{object}('field', '{field}', 'before', {before}, 'after', {after})")
        };
        let data = format!(
            "{object}('subscription', {object}('id', s.id, 'customer_id', s.customer_id, 'parent_order_id', s.parent_order_id, \
             'status', s.status, 'count', s.count + 1, 'previous_delivery_date', s.next_delivery_date, \
             'next_delivery_date', {next_s}, 'next_ship_date', {ship_s}, 'version', s.version + 1), \
             'changes', {array}({}, {}, {}, {})){as_text}",
            change("next_delivery_date", "s.next_delivery_date", &next_s),
            change("next_ship_date", "s.next_ship_date", &ship_s),
            change(
                "previous_delivery_date",
                "COALESCE(s.previous_delivery_date, '')",
                "s.next_delivery_date"
            ),
            change(
                "count",
                "CAST(s.count AS TEXT)",
                "CAST(s.count + 1 AS TEXT)"
            ),
        );
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO webhook_events (event_id, type, subject, data, created_at) \
             SELECT 'bench-s' || CAST(s.id AS TEXT) || '-subscription.changed', 'subscription.changed', \
             'subscription:' || CAST(s.id AS TEXT), {data}, $3 FROM subscriptions s WHERE {due}"
        )))
        .bind(cutoff.to_string())
        .bind(today.to_string())
        .bind(now.clone())
        .execute(&mut *tx)
        .await?;
        let next = next.replace("s2.", "");
        let next_ship = next_ship.replace("s2.", "");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE subscriptions SET previous_delivery_date = next_delivery_date, next_delivery_date = {next}, next_ship_date = {next_ship}, count = count + 1, version = version + 1, last_run_on = $2, updated_at = $3              WHERE status = 'active' AND next_delivery_date <= $1 AND (last_run_on IS NULL OR last_run_on < $2)"
        )))
        .bind(cutoff.to_string())
        .bind(today.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// What [`Store::bench_raw_subscription_run`] is undone to: the highest
    /// ids before it, and a copy of the subscriptions' schedule columns.
    pub async fn bench_mark_before_raw_subscription_run(&self) -> Result<RawRunMark, StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("DROP TABLE IF EXISTS bench_subscriptions_before")
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "CREATE TABLE bench_subscriptions_before AS SELECT id, previous_delivery_date, next_delivery_date, next_ship_date, count, version, last_run_on, updated_at FROM subscriptions",
        )
        .execute(&mut *conn)
        .await?;
        let max = |table: &str| format!("SELECT COALESCE(MAX(id), 0) AS id FROM {table}");
        let mut ids = [0i64; 3];
        for (slot, table) in
            ids.iter_mut()
                .zip(["orders", "subscription_history", "webhook_events"])
        {
            let row = sqlx::query(sqlx::AssertSqlSafe(max(table)))
                .fetch_one(&mut *conn)
                .await?;
            *slot = get_i64(&row, "id")?;
        }
        Ok(RawRunMark {
            order: ids[0],
            subscription_history: ids[1],
            webhook_event: ids[2],
        })
    }

    /// Deletes what the raw run wrote and puts the subscriptions' schedules
    /// back, so the measured run finds the state the raw one found.
    pub async fn bench_undo_raw_subscription_run(
        &self,
        mark: &RawRunMark,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for table in [
            "payment_links",
            "payment_requests",
            "order_events",
            "order_history",
            "order_items",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE order_id > $1"
            )))
            .bind(mark.order)
            .execute(&mut *tx)
            .await?;
        }
        for (table, id) in [
            ("orders", mark.order),
            ("subscription_history", mark.subscription_history),
            ("webhook_events", mark.webhook_event),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE id > $1"
            )))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE subscriptions SET previous_delivery_date = b.previous_delivery_date, next_delivery_date = b.next_delivery_date, \
             next_ship_date = b.next_ship_date, count = b.count, version = b.version, last_run_on = b.last_run_on, updated_at = b.updated_at \
             FROM bench_subscriptions_before b WHERE b.id = subscriptions.id",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("DROP TABLE bench_subscriptions_before")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The raw baseline of a shipment import: per row, the tracking number,
    /// 発送済 and today's date, and one 履歴 row, in one transaction (rolled
    /// back: the measured import has already applied them).
    pub async fn bench_raw_shipment_updates(
        &self,
        order_ids: &[i64],
        trackings: &[String],
    ) -> Result<(), StoreError> {
        let now = self.clock.now_text();
        let today = self.clock.today().to_string();
        let mut tx = self.begin().await?;
        for (id, t) in order_ids.iter().zip(trackings) {
            sqlx::query("UPDATE orders SET tracking_number = $1, shipment_status = 'shipped', shipped_at = $2, version = version + 1 WHERE id = $3")
                .bind(t.clone())
                .bind(today.clone())
                .bind(*id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO order_history (order_id, at, actor_kind, actor_id, actor_name, field, before_value, after_value, reason) VALUES ($1, $2, 'system', NULL, 'bench', 'tracking_number', '', $3, '出荷実績インポート')",
            )
            .bind(*id)
            .bind(now.clone())
            .bind(t.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.rollback().await?;
        Ok(())
    }

    /// Gives every subscription the storefront's card token (bulk creation
    /// takes none), so the run can authorise their child orders.
    pub async fn bench_set_card_tokens(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE subscriptions SET card_token = $1 WHERE card_token = ''")
            .bind(token.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The ids of the orders of subscriptions' deliveries (child orders).
    pub async fn bench_child_order_ids(&self) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id FROM orders o JOIN subscriptions s ON s.id = o.subscription_id WHERE o.id <> s.parent_order_id ORDER BY o.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(crate::db::get_i64(r, "id")?))
            .collect()
    }

    /// Refreshes planner statistics after a bulk load.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        // VACUUM sets the visibility map, as autovacuum would on a live store, so
        // counts can use index-only scans.
        let sql = match self.backend {
            crate::Backend::Postgres => "VACUUM ANALYZE",
            crate::Backend::Sqlite => "ANALYZE",
        };
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// Queues `n` rendered mails for `order_id` to `to` as bare INSERTs (the
    /// delivery benchmark measures sending, not rendering).
    pub async fn bench_queue_mails(
        &self,
        order_id: i64,
        to: &str,
        n: usize,
    ) -> Result<(), StoreError> {
        let now = self.clock.now_text();
        let cols = 8;
        let per = crate::db::rows_per_statement(self.backend, cols);
        let mut tx = self.begin().await?;
        let mut done = 0;
        while done < n {
            let k = per.min(n - done);
            let mut args: Vec<Arg> = Vec::with_capacity(k * cols);
            for i in done..done + k {
                args.push(order_id.into());
                args.push("bench".into());
                args.push(to.into());
                args.push(format!("【ベンチ】ご注文番号 {i} の発送のお知らせ").into());
                args.push(
                    format!(
                        "山田 花子 様\n\nご注文の商品を発送しました。\n配送伝票番号: {i:012}\n"
                    )
                    .into(),
                );
                args.push("pending".into());
                args.push(now.clone().into());
                args.push(now.clone().into());
            }
            let sql = format!(
                "INSERT INTO mail_outbox (order_id, template_code, to_address, subject, body, status, next_attempt_at, created_at) VALUES {}",
                values_placeholders(k, cols, 1)
            );
            query_with(sql, args).execute(&mut *tx).await?;
            done += k;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The raw baseline of applying a payment answer: per order, one transaction
    /// with the status UPDATE and its one 履歴 row.
    pub async fn bench_raw_payment_status(&self, order_ids: &[i64]) -> Result<(), StoreError> {
        for id in order_ids {
            let mut tx = self.begin().await?;
            sqlx::query("UPDATE orders SET payment_status = 'authorized', version = version + 1 WHERE id = $1")
                .bind(*id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO order_history (order_id, at, actor_kind, actor_id, actor_name, field, before_value, after_value, reason) VALUES ($1, $2, 'system', NULL, 'bench', 'payment_status', '未決済', '仮売上完了', '')",
            )
            .bind(*id)
            .bind(self.clock.now_text())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Inserts blacklisted customers with bare multi-row INSERTs (keys as the
    /// store computes them), then replaces `masters_revision` as blacklisting does.
    pub async fn bench_insert_blacklisted(
        &self,
        addresses: &[juchu_domain::customer::Address],
    ) -> Result<(), StoreError> {
        // 20 contact and key columns, two timestamps, the flag and its reason.
        let cols = 24;
        let per = crate::db::rows_per_statement(self.backend, cols);
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        for chunk in addresses.chunks(per) {
            let mut args: Vec<Arg> = Vec::with_capacity(chunk.len() * cols);
            for a in chunk {
                args.extend(crate::customers::customer_args(
                    &juchu_domain::customer::CustomerInput {
                        address: a.clone(),
                        ..Default::default()
                    },
                ));
                args.push(now.clone().into());
                args.push(now.clone().into());
                args.push(1i64.into());
                args.push("bench".into());
            }
            let sql = format!(
                "INSERT INTO customers (family_name, given_name, family_kana, given_kana, postal_code, prefecture, address1, address2, phone, email, mail_opt_out, points, memo, name_key, kana_key, phone_key, email_key, postal_key, company_name, department, created_at, updated_at, blacklisted, blacklist_reason) VALUES {}",
                values_placeholders(chunk.len(), cols, 1)
            );
            query_with(sql, args).execute(&mut *tx).await?;
        }
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The columns of the bench's export: one row per item, the order's data, its
/// 対応状況 and billing, the item.
/// What a carrier line reads, for the raw baseline of the carrier export.
pub const BENCH_CARRIER_SQL: &str = "SELECT o.order_number || '-1' AS package, o.shipping_phone, \
     o.shipping_postal_code, o.shipping_prefecture || o.shipping_address1 AS address, o.shipping_address2, \
     o.shipping_family_name || ' ' || o.shipping_given_name AS name, o.scheduled_ship_date, \
     o.scheduled_delivery_date, o.delivery_time_slot, o.total, o.tax_standard + o.tax_reduced AS tax, \
     pm.code AS payment, (SELECT i.product_name FROM order_items i WHERE i.order_id = o.id ORDER BY i.position LIMIT 1) AS item \
     FROM orders o LEFT JOIN payment_methods pm ON pm.id = o.payment_method_id \
     WHERE o.shipment_status <> 'shipped' ORDER BY o.ordered_at DESC, o.id DESC";

pub const BENCH_EXPORT_SQL: &str = "SELECT o.order_number, o.ordered_at, h.name AS status, \
     o.billing_family_name || ' ' || o.billing_given_name AS billing_name, o.billing_postal_code, \
     o.billing_prefecture, o.billing_address1, o.billing_phone, i.product_code, i.product_name, \
     i.quantity, i.unit_price, o.total \
     FROM orders o JOIN order_items i ON i.order_id = o.id JOIN handling_statuses h ON h.id = o.handling_status_id \
     ORDER BY o.ordered_at DESC, o.id DESC, i.position";

/// The CP932 encoder of a raw baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawEncoder {
    /// `encoding_rs`, as a script would encode.
    EncodingRs,
    /// juchu's table ([`juchu_domain::cp932`]), the one the export uses.
    Table,
}

/// CP932 for the baseline: complete lines only, so no character is split.
fn cp932_lines(pending: &mut Vec<u8>, out: &mut u64, encoder: RawEncoder) {
    let Some(end) = pending.iter().rposition(|b| *b == b'\n') else {
        return;
    };
    let text = String::from_utf8_lossy(&pending[..=end]).into_owned();
    match encoder {
        RawEncoder::EncodingRs => {
            let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
            *out += bytes.len() as u64;
        }
        RawEncoder::Table => {
            let mut bytes = Vec::new();
            let _ = juchu_domain::cp932::encode_into(&text, &mut bytes, |_, out| {
                out.push(b'?');
                Ok::<_, ()>(())
            });
            *out += bytes.len() as u64;
        }
    }
    pending.drain(..=end);
}

impl Store {
    /// The raw baseline of a CSV export: PostgreSQL `COPY (the same join) TO
    /// STDOUT` on its own connection, piped through a CP932 encoder; on
    /// SQLite the same SELECT streamed and written as CSV. Returns the bytes.
    pub async fn bench_raw_export_cp932(
        &self,
        pg_url: Option<&str>,
        encoder: RawEncoder,
    ) -> Result<u64, StoreError> {
        self.bench_raw_select_cp932(pg_url, BENCH_EXPORT_SQL, encoder)
            .await
    }

    /// The raw baseline of a carrier file: what a B2 line is made from (the
    /// package id, お届け先, 支払方法, totals, the first item), every order,
    /// `COPY` → CP932 like [`Store::bench_raw_export_cp932`].
    pub async fn bench_raw_carrier_cp932(&self, pg_url: Option<&str>) -> Result<u64, StoreError> {
        self.bench_raw_select_cp932(pg_url, BENCH_CARRIER_SQL, RawEncoder::EncodingRs)
            .await
    }

    async fn bench_raw_select_cp932(
        &self,
        pg_url: Option<&str>,
        sql: &'static str,
        encoder: RawEncoder,
    ) -> Result<u64, StoreError> {
        use futures_util::TryStreamExt;
        let mut out = 0u64;
        let mut pending = Vec::new();
        match pg_url {
            Some(url) => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(url).await?;
                let statement = format!("COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)");
                let mut copy = conn.copy_out_raw(&statement).await?;
                while let Some(chunk) = copy.try_next().await? {
                    pending.extend_from_slice(&chunk);
                    cp932_lines(&mut pending, &mut out, encoder);
                }
            }
            None => {
                let mut conn = self.pool.acquire().await?;
                let mut rows = sqlx::query(sql).fetch(&mut *conn);
                while let Some(r) = rows.try_next().await? {
                    use sqlx::Row;
                    let cells: Vec<String> = (0..r.len())
                        .map(|i| {
                            r.try_get::<String, _>(i)
                                .or_else(|_| r.try_get::<i64, _>(i).map(|v| v.to_string()))
                                .unwrap_or_default()
                        })
                        .collect();
                    pending.extend(juchu_domain::csv_format::record_line(&cells).into_bytes());
                    if pending.len() > 1 << 16 {
                        cp932_lines(&mut pending, &mut out, encoder);
                    }
                }
            }
        }
        pending.push(b'\n');
        cp932_lines(&mut pending, &mut out, encoder);
        Ok(out)
    }

    /// How many orders the store holds (a reused bench database).
    pub async fn bench_order_count(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM orders")
            .fetch_one(&self.pool)
            .await?;
        Ok(get_i64(&row, "n")?)
    }

    /// The newest `n` order ids and numbers.
    pub async fn bench_newest_orders(
        &self,
        n: i64,
        offset: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, order_number FROM orders ORDER BY ordered_at DESC, id DESC LIMIT $1 OFFSET $2",
        )
        .bind(n)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get_i64(r, "id")?, crate::db::get_str(r, "order_number")?)))
            .collect()
    }

    /// The raw baseline of a bulk status change: per 1,000 orders one
    /// transaction with one `UPDATE`, and `INSERT … SELECT` of the rows the
    /// pipeline writes with it: the 履歴 row, the order event and the
    /// `order.changed` outbox event (the order's summary and the change).
    pub async fn bench_raw_bulk_status(
        &self,
        ids: &[i64],
        status_id: i64,
    ) -> Result<(), StoreError> {
        let pg = self.backend == crate::Backend::Postgres;
        let now = self.clock.now_text();
        let new_name = "(SELECT name FROM handling_statuses WHERE id = $1)";
        let (object, array, as_text) = json_builders(pg);
        let summary = order_summary_sql(pg, new_name, "o.version + 1");
        for chunk in ids.chunks(1000) {
            let mut tx = self.begin().await?;
            // SQLite gets the ids as one JSON array: sqlx-sqlite binds 1,000
            // `$n` in quadratic time, which would slow the baseline down.
            let (list, mut args): (String, Vec<Arg>) = if pg {
                (
                    crate::db::in_list(chunk.len(), 3),
                    chunk.iter().map(|id| Arg::from(*id)).collect(),
                )
            } else {
                let json =
                    serde_json::to_string(chunk).map_err(|e| StoreError::Other(e.to_string()))?;
                ("SELECT value FROM json_each($3)".into(), vec![json.into()])
            };
            args.splice(0..0, [Arg::from(status_id), now.clone().into()]);
            let event = OrderEvent::HandlingStatusBecame {
                name: String::new(),
            };
            for sql in [
                format!(
                    "INSERT INTO order_history (order_id, at, actor_kind, actor_id, actor_name, field, before_value, after_value, reason) \
                     SELECT o.id, $2, 'system', NULL, 'bench', 'handling_status', h.name, {new_name}, '' \
                     FROM orders o JOIN handling_statuses h ON h.id = o.handling_status_id WHERE o.id IN ({list})"
                ),
                format!(
                    "INSERT INTO order_events (order_id, at, kind, payload, chain_depth) \
                     SELECT o.id, $2, '{kind}', {object}('kind', '{kind}', 'name', {new_name}){as_text}, 0 \
                     FROM orders o WHERE o.id IN ({list})",
                    kind = event.kind()
                ),
                format!(
                    "INSERT INTO webhook_events (event_id, type, subject, data, created_at) \
                     SELECT 'bench-' || CAST(o.id AS TEXT) || '-' || CAST(o.version + 1 AS TEXT), 'order.changed', 'order:' || CAST(o.id AS TEXT), \
                     {object}('order', {summary}, 'changes', {array}({object}('field', '対応状況', 'before', h.name, 'after', {new_name}))){as_text}, $2 \
                     FROM orders o JOIN handling_statuses h ON h.id = o.handling_status_id WHERE o.id IN ({list})"
                ),
                format!(
                    "UPDATE orders SET handling_status_id = $1, version = version + 1, updated_at = $2 WHERE id IN ({list})"
                ),
            ] {
                query_with(sql, args.clone()).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Requests of `kinds` (休止「1ヶ月」 or スキップ, by turns) for these
    /// (customer, subscription) pairs, pending for the automation, many rows
    /// per statement (the bench's data load, not what is measured).
    pub async fn bench_insert_requests(
        &self,
        subs: &[(i64, i64)],
        product: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let now = self.clock.now_text();
        let mut ids = Vec::with_capacity(subs.len());
        for chunk in subs.chunks(400) {
            let mut args: Vec<crate::Arg> = Vec::new();
            let mut values = Vec::new();
            for (customer, sub) in chunk {
                let pause = (sub % 2) == 0;
                let (kind, answers, period) = if pause {
                    (
                        juchu_domain::request::PAUSE,
                        format!(
                            r#"[{{"name":"col_1","value":"休止"}},{{"name":"col_2","value":"1ヶ月"}},{{"name":"col_4","value":"{product}"}}]"#
                        ),
                        "1ヶ月",
                    )
                } else {
                    (
                        juchu_domain::request::SKIP,
                        format!(
                            r#"[{{"name":"col_1","value":"スキップ"}},{{"name":"col_4","value":"{product}"}}]"#
                        ),
                        "",
                    )
                };
                let b = args.len();
                values.push(format!(
                    "(${}, ${}, ${}, 'open', 'api', ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 7
                ));
                args.push((*customer).into());
                args.push((*sub).into());
                args.push(kind.into());
                args.push(answers.into());
                args.push(product.into());
                args.push(period.into());
                args.push(now.as_str().into());
            }
            let rows = crate::db::query_with(
                format!(
                    "INSERT INTO requests (customer_id, subscription_id, request_type, status, channel, answers, product, period, received_at, updated_at) VALUES {} RETURNING id",
                    values.join(", ")
                ),
                args,
            )
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                ids.push(crate::db::get_i64(r, "id")?);
            }
        }
        Ok(ids)
    }

    /// The raw baseline of the request automation: for each request, read its
    /// subscription's dates, UPDATE the subscription to the new date (休止 one
    /// month later, スキップ one 30-day cycle), INSERT its 履歴 row, UPDATE the
    /// request to 対応完了 and INSERT the request's 履歴 row — in one
    /// transaction that is rolled back (the automation then does the same
    /// work for real). Returns the requests done.
    pub async fn bench_raw_request_apply(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        for id in ids {
            let r = sqlx::query(
                "SELECT r.request_type, s.id AS sub, s.next_delivery_date FROM requests r JOIN subscriptions s ON s.id = r.subscription_id WHERE r.id = $1",
            )
            .bind(*id)
            .fetch_one(&mut *tx)
            .await?;
            let sub = crate::db::get_i64(&r, "sub")?;
            let next: jiff::civil::Date = crate::db::get_str(&r, "next_delivery_date")?
                .parse()
                .map_err(|e: jiff::Error| StoreError::Other(e.to_string()))?;
            let pause = crate::db::get_str(&r, "request_type")? == juchu_domain::request::PAUSE;
            let new = if pause {
                next.checked_add(jiff::Span::new().months(1))
            } else {
                next.checked_add(jiff::Span::new().days(30))
            }
            .map_err(|e| StoreError::Other(e.to_string()))?;
            let ship = new
                .checked_sub(jiff::Span::new().days(2))
                .map_err(|e| StoreError::Other(e.to_string()))?;
            sqlx::query("UPDATE subscriptions SET next_delivery_date = $1, next_ship_date = $2, version = version + 1, updated_at = $3 WHERE id = $4")
                .bind(new.to_string())
                .bind(ship.to_string())
                .bind(now.clone())
                .bind(sub)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO subscription_history (subscription_id, at, actor_kind, actor_id, actor_name, field, before_value, after_value, reason) VALUES ($1, $2, 'request', $3, 'bench', 'next_delivery_date', $4, $5, '')")
                .bind(sub)
                .bind(now.clone())
                .bind(*id)
                .bind(next.to_string())
                .bind(new.to_string())
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE requests SET status = 'completed', completed_at = $1, handled_by = 'auto', auto_state = 'done', updated_at = $1 WHERE id = $2")
                .bind(now.clone())
                .bind(*id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO request_history (request_id, actor, what, at) VALUES ($1, 'bench', '対応完了', $2)")
                .bind(*id)
                .bind(now.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.rollback().await?;
        Ok(ids.len())
    }

    /// `n` requests for the analytics measurement, made in SQL (types,
    /// statuses, 10 products, periods, operators, 解約抑止 offers and a col_5
    /// answer spread over two years and the first 1,000 customers).
    pub async fn bench_insert_analytics_requests(&self, n: i64) -> Result<(), StoreError> {
        let (series, ts) = match self.backend {
            crate::Backend::Postgres => (
                "generate_series(1, $1) AS s(g)".to_string(),
                "to_char(timestamp '2025-01-01' + g * interval '63 seconds', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')".to_string(),
            ),
            crate::Backend::Sqlite => (
                "(WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c WHERE g < $1) SELECT g FROM c) AS s".to_string(),
                "strftime('%Y-%m-%dT%H:%M:%SZ', 1735689600 + g * 63, 'unixepoch')".to_string(),
            ),
        };
        let staff = sqlx::query("SELECT MIN(id) AS v FROM staff_users")
            .fetch_one(&self.pool)
            .await?;
        let staff = crate::db::get_opt_i64(&staff, "v")?;
        let operator = match staff {
            Some(s) => format!("CASE WHEN g % 3 = 0 THEN NULL ELSE {s} END"),
            None => "NULL".into(),
        };
        let before = sqlx::query("SELECT COALESCE(MAX(id), 0) AS v FROM requests")
            .fetch_one(&self.pool)
            .await?;
        let before = crate::db::get_i64(&before, "v")?;
        let sql = format!(
            "INSERT INTO requests (customer_id, request_type, status, channel, answers, offer, tags, received_at, updated_at, completed_at, product, period, operator_id, auto_state, handled_by) \
             SELECT c.id, \
               CASE g % 5 WHEN 0 THEN '休止' WHEN 1 THEN 'スキップ' WHEN 2 THEN '解約' WHEN 3 THEN 'サイクル変更' ELSE 'お届け日変更' END, \
               CASE g % 7 WHEN 0 THEN 'open' WHEN 1 THEN 'refused' WHEN 2 THEN 'error' ELSE 'completed' END, \
               'mypage', '[]', CASE WHEN g % 5 = 1 AND g % 4 = 0 THEN 'discount' ELSE '' END, '', {ts}, {ts}, \
               CASE WHEN g % 7 = 0 THEN NULL ELSE {ts} END, \
               'PRODUCT-' || (g % 10), \
               CASE g % 5 WHEN 0 THEN (CASE g % 3 WHEN 0 THEN '1ヶ月' WHEN 1 THEN '2ヶ月' ELSE '30日' END) WHEN 3 THEN (CASE g % 2 WHEN 0 THEN '2ヶ月' ELSE '45日' END) ELSE '' END, \
               {operator}, 'done', 'auto' \
             FROM {series} JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS rn FROM customers ORDER BY id LIMIT 1000) c ON c.rn = g % 1000"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(n)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO request_answers (request_id, name, value) SELECT id, 'col_5', CASE id % 5 WHEN 0 THEN '満足' WHEN 1 THEN 'やや満足' WHEN 2 THEN '普通' WHEN 3 THEN 'やや不満' ELSE '不満' END FROM requests WHERE id > $1",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
