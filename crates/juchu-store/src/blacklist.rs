//! ブラックリスト: blacklisting customers, the shop's blacklist conditions, and
//! screening new orders inside the change pipeline (see
//! [`juchu_domain::blacklist`] for the rules). Candidates are found by indexed
//! match keys — never a scan of the blacklist.

use crate::StoreError;
use crate::db::{
    Arg, Store, Tx, get_bool, get_i64, get_opt_i64, get_str, in_list, now_text, query_with,
};
use crate::orders::Rows;
use juchu_domain::FieldErrors;
use juchu_domain::blacklist::{
    AttentionMatch, BillingKeys, BlacklistCondition, BlacklistedKeys, Clause, OrderFacts, screen,
};
use juchu_domain::masters::Masters;
use juchu_domain::order::Order;
use std::collections::HashSet;

/// What screening needs that changes rarely, cached with the masters snapshot
/// (every write here replaces `masters_revision`).
#[derive(Debug, Clone, Default)]
pub(crate) struct BlacklistSnapshot {
    /// Whether any customer is blacklisted (no lookups at all otherwise).
    pub any_blacklisted: bool,
    /// The enabled conditions, normalised once.
    pub conditions: juchu_domain::blacklist::PreparedConditions,
}

fn condition_from_row(r: &sqlx::any::AnyRow) -> Result<BlacklistCondition, StoreError> {
    let clauses: Vec<Clause> = serde_json::from_str(&get_str(r, "clauses_json")?).map_err(|e| {
        StoreError::Other(format!(
            "blacklist condition {} has bad clauses: {e}",
            get_i64(r, "id").unwrap_or(0)
        ))
    })?;
    Ok(BlacklistCondition {
        id: get_i64(r, "id")?,
        name: get_str(r, "name")?,
        enabled: get_bool(r, "enabled")?,
        clauses,
    })
}

pub(crate) async fn load_snapshot(tx: &mut Tx) -> Result<BlacklistSnapshot, StoreError> {
    let any = sqlx::query("SELECT id FROM customers WHERE blacklisted = 1 LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
    let rows = sqlx::query(
        "SELECT id, name, enabled, clauses_json FROM blacklist_conditions WHERE enabled = 1 ORDER BY id",
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(BlacklistSnapshot {
        any_blacklisted: any,
        conditions: juchu_domain::blacklist::PreparedConditions::new(
            rows.iter()
                .map(condition_from_row)
                .collect::<Result<Vec<_>, _>>()?,
        ),
    })
}

/// Screens new orders: one list of matches per order, in order. Per 200 orders
/// one indexed lookup on PostgreSQL (two on SQLite) when anyone is blacklisted,
/// none otherwise.
pub(crate) async fn screen_orders(
    tx: &mut Tx,
    backend: crate::Backend,
    snapshot: &BlacklistSnapshot,
    masters: &Masters,
    orders: &[Order],
) -> Result<Vec<Vec<AttentionMatch>>, StoreError> {
    if !snapshot.any_blacklisted && snapshot.conditions.is_empty() {
        return Ok(vec![Vec::new(); orders.len()]);
    }
    let keys: Vec<BillingKeys> = orders.iter().map(|o| BillingKeys::of(&o.billing)).collect();
    let mut candidates: Vec<BlacklistedKeys> = Vec::new();
    let mut blacklisted: HashSet<i64> = HashSet::new();
    if snapshot.any_blacklisted {
        for chunk in keys.chunks(200) {
            let names: Vec<&str> = chunk
                .iter()
                .map(|k| k.name_key.as_str())
                .filter(|k| !k.is_empty())
                .collect();
            let phones: Vec<&str> = chunk
                .iter()
                .map(|k| k.phone_key.as_str())
                .filter(|k| !k.is_empty())
                .collect();
            if names.is_empty() && phones.is_empty() {
                continue;
            }
            // PostgreSQL: one round trip over both partial indexes (BitmapOr).
            // SQLite does not use partial indexes under OR, and has no round
            // trips to save: one query per key there.
            let mut parts = Vec::new();
            if !names.is_empty() {
                parts.push(("name_key", names.clone()));
            }
            if !phones.is_empty() {
                parts.push(("phone_key", phones.clone()));
            }
            let statements: Vec<Vec<(&str, Vec<&str>)>> = match backend {
                crate::Backend::Postgres => vec![parts],
                crate::Backend::Sqlite => parts.into_iter().map(|p| vec![p]).collect(),
            };
            for parts in statements {
                let mut next = 1;
                let mut terms = Vec::new();
                let mut args: Vec<Arg> = Vec::new();
                for (column, values) in &parts {
                    terms.push(format!("{column} IN ({})", in_list(values.len(), next)));
                    next += values.len();
                    args.extend(values.iter().map(|v| Arg::from(*v)));
                }
                let sql = format!(
                    "SELECT id, name_key, postal_key, phone_key FROM customers WHERE blacklisted = 1 AND ({})",
                    terms.join(" OR ")
                );
                for r in query_with(sql, args).fetch_all(&mut **tx).await? {
                    let id = get_i64(&r, "id")?;
                    if candidates.iter().any(|c| c.customer_id == id) {
                        continue;
                    }
                    candidates.push(BlacklistedKeys {
                        customer_id: id,
                        name_key: get_str(&r, "name_key")?,
                        postal_key: get_str(&r, "postal_key")?,
                        phone_key: get_str(&r, "phone_key")?,
                    });
                }
            }
        }
        let ids: Vec<i64> = orders.iter().filter_map(|o| o.customer_id).collect();
        for chunk in ids.chunks(400) {
            let sql = format!(
                "SELECT id FROM customers WHERE blacklisted = 1 AND id IN ({})",
                in_list(chunk.len(), 1)
            );
            let args = chunk.iter().map(|id| Arg::from(*id)).collect();
            for r in query_with(sql, args).fetch_all(&mut **tx).await? {
                blacklisted.insert(get_i64(&r, "id")?);
            }
        }
    }
    Ok(orders
        .iter()
        .zip(&keys)
        .map(|(o, k)| {
            let mine: Vec<BlacklistedKeys> = candidates
                .iter()
                .filter(|c| {
                    (!k.name_key.is_empty() && c.name_key == k.name_key)
                        || (!k.phone_key.is_empty() && c.phone_key == k.phone_key)
                })
                .cloned()
                .collect();
            let method = o
                .payment_method_id
                .and_then(|id| masters.payment_method(id));
            let facts = OrderFacts {
                billing: &o.billing,
                shipping: &o.shipping,
                payment_method: method.map_or(("", ""), |p| (p.name.as_str(), p.code.as_str())),
            };
            let customer = o.customer_id.map(|id| (id, blacklisted.contains(&id)));
            screen(customer, k, &mine, &snapshot.conditions, &facts)
        })
        .collect())
}

/// The rows that record what matched, for [`crate::orders::write_rows`].
pub(crate) fn match_rows(matches: &[(i64, Vec<AttentionMatch>)], at: &str) -> Rows {
    let mut out = Rows::new(
        "order_attention_matches",
        &[
            "order_id",
            "reason",
            "detail",
            "customer_id",
            "condition_id",
            "fields_json",
            "created_at",
        ],
    );
    for (order_id, ms) in matches {
        for m in ms {
            out.args.push(Arg::from(*order_id));
            out.args.push(m.reason.clone().into());
            out.args.push(m.detail.clone().into());
            out.args.push(m.customer_id.into());
            out.args.push(m.condition_id.into());
            out.args
                .push(serde_json::to_string(&m.fields).unwrap_or_default().into());
            out.args.push(at.into());
        }
    }
    out
}

impl Store {
    /// What matched when an order was flagged (empty for orders not screened in).
    pub async fn order_attention_matches(
        &self,
        order_id: i64,
    ) -> Result<Vec<AttentionMatch>, StoreError> {
        let rows = sqlx::query("SELECT reason, detail, customer_id, condition_id, fields_json FROM order_attention_matches WHERE order_id = $1 ORDER BY id")
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AttentionMatch {
                    reason: get_str(r, "reason")?,
                    detail: get_str(r, "detail")?,
                    customer_id: get_opt_i64(r, "customer_id")?,
                    condition_id: get_opt_i64(r, "condition_id")?,
                    fields: serde_json::from_str(&get_str(r, "fields_json")?).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Blacklists a customer (with a reason) or takes them off the list. With the
    /// setting 「ブラックリスト化した顧客が持つ定期受注の要対応化」 on (the default),
    /// blacklisting flags all their subscriptions; taking them off leaves those
    /// flags (the seed's rule). 404 for an unknown customer; nothing half-applied.
    pub async fn set_blacklisted(
        &self,
        customer_id: i64,
        blacklisted: bool,
        reason: &str,
        actor: &crate::Actor,
    ) -> Result<juchu_domain::customer::Customer, StoreError> {
        let reason = reason.trim();
        let mut e = FieldErrors::default();
        if blacklisted && reason.is_empty() {
            e.add(
                "blacklist_reason",
                "required",
                "ブラックリストに登録する理由を入力してください",
            );
        }
        juchu_domain::text::check_len(&mut e, "blacklist_reason", reason, 200);
        e.into_result()?;
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE customers SET blacklisted = $1, blacklist_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(blacklisted as i64)
        .bind(if blacklisted { reason.to_string() } else { String::new() })
        .bind(now_text())
        .bind(customer_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done != 1 {
            return Err(StoreError::NotFound("顧客"));
        }
        if blacklisted && flags_subscriptions(&mut tx).await? {
            let ids = sqlx::query(
                "SELECT id FROM subscriptions WHERE customer_id = $1 AND needs_attention = 0",
            )
            .bind(customer_id)
            .fetch_all(&mut *tx)
            .await?;
            for r in &ids {
                let cmd = juchu_domain::subscription::SubscriptionCommand::Patch(Box::new(
                    juchu_domain::subscription::SubscriptionPatch {
                        needs_attention: Some(true),
                        needs_attention_reason: Some(
                            juchu_domain::blacklist::REASON_BLACKLISTED.into(),
                        ),
                        ..Default::default()
                    },
                ));
                self.change_subscription_in_tx(
                    &mut tx,
                    get_i64(r, "id")?,
                    None,
                    &[cmd],
                    actor,
                    "顧客をブラックリストに登録",
                )
                .await?;
            }
        }
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        self.customer(customer_id).await
    }

    /// The blacklist conditions, enabled or not.
    pub async fn blacklist_conditions(&self) -> Result<Vec<BlacklistCondition>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, enabled, clauses_json FROM blacklist_conditions ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(condition_from_row).collect()
    }

    /// Adds a condition after [`BlacklistCondition::validate`].
    pub async fn add_blacklist_condition(
        &self,
        c: &BlacklistCondition,
    ) -> Result<BlacklistCondition, StoreError> {
        c.validate()?;
        let mut tx = self.begin().await?;
        let row = sqlx::query("INSERT INTO blacklist_conditions (name, enabled, clauses_json, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(c.name.trim().to_string())
            .bind(c.enabled as i64)
            .bind(serde_json::to_string(&c.clauses).unwrap_or_default())
            .bind(now_text())
            .fetch_one(&mut *tx)
            .await?;
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(BlacklistCondition {
            id: get_i64(&row, "id")?,
            name: c.name.trim().to_string(),
            ..c.clone()
        })
    }

    /// Replaces a condition (404 when it does not exist).
    pub async fn update_blacklist_condition(
        &self,
        c: &BlacklistCondition,
    ) -> Result<(), StoreError> {
        c.validate()?;
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE blacklist_conditions SET name = $1, enabled = $2, clauses_json = $3 WHERE id = $4")
            .bind(c.name.trim().to_string())
            .bind(c.enabled as i64)
            .bind(serde_json::to_string(&c.clauses).unwrap_or_default())
            .bind(c.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound("ブラックリスト条件"));
        }
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_blacklist_condition(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM blacklist_conditions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound("ブラックリスト条件"));
        }
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Blacklisted customers, newest first.
    pub async fn blacklisted_customers(
        &self,
        limit: i64,
    ) -> Result<Vec<juchu_domain::customer::Customer>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM customers WHERE blacklisted = 1 ORDER BY id DESC LIMIT $1",
            crate::customers::COLUMNS
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| crate::customers::from_row(r).map_err(StoreError::from))
            .collect()
    }
}

/// 「ブラックリスト化した顧客が持つ定期受注の要対応化」 (定期受注の設定; default: on).
async fn flags_subscriptions(tx: &mut Tx) -> Result<bool, StoreError> {
    let map = crate::subscriptions::settings_map(tx).await?;
    Ok(crate::subscriptions::settings_from(&map).blacklist_flags_subscriptions)
}

/// What a re-check of existing orders found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rescan {
    /// Orders looked at (those of the period not flagged yet).
    pub checked: usize,
    /// Order numbers flagged now.
    pub flagged: Vec<String>,
}

impl Store {
    /// Checks the orders of the last `days` days that are not 要対応 yet against
    /// the blacklist as it is now (orders placed before a customer was
    /// blacklisted), in chunks; each order found is flagged through the change
    /// pipeline (履歴, rules) with what matched. Safe to run again: flagged orders
    /// are not looked at twice.
    pub async fn rescan_blacklist(
        &self,
        days: i64,
        actor: &crate::Actor,
    ) -> Result<Rescan, StoreError> {
        if !(1..=3660).contains(&days) {
            return Err(FieldErrors::single(
                "days",
                "out_of_range",
                "日数は1〜3660で指定してください",
            )
            .into());
        }
        let since = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(24 * days))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let since = juchu_domain::time::format_ts(since);
        let mut report = Rescan::default();
        let mut after_id = 0i64;
        loop {
            let mut tx = self.begin_read().await?;
            let sql = format!(
                // An order an operator cleared after a screening is left alone.
                "{} WHERE needs_attention = 0 AND ordered_at >= $1 AND id > $2 \
                 AND NOT EXISTS (SELECT 1 FROM order_attention_matches m WHERE m.order_id = orders.id) \
                 ORDER BY id LIMIT 200",
                crate::orders::select_order_sql()
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(since.clone())
                .bind(after_id)
                .fetch_all(&mut *tx)
                .await?;
            if rows.is_empty() {
                tx.commit().await?;
                break;
            }
            let mut orders = rows
                .iter()
                .map(crate::orders::order_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            crate::orders::attach_children(&mut tx, &mut orders).await?;
            let snapshot = self.masters_in(&mut tx).await?;
            let found = screen_orders(
                &mut tx,
                self.backend,
                &snapshot.blacklist,
                &snapshot.masters,
                &orders,
            )
            .await?;
            tx.commit().await?;
            report.checked += orders.len();
            after_id = orders.last().map_or(after_id, |o| o.id);
            for (order, matches) in orders.iter().zip(found) {
                if matches.is_empty() {
                    continue;
                }
                let reason = juchu_domain::blacklist::reasons(&matches).join("、");
                let patch = juchu_domain::patch::OrderPatch {
                    needs_attention: Some(true),
                    needs_attention_reason: Some(reason),
                    ..Default::default()
                };
                let mut tx = self.begin().await?;
                self.change_in_tx(
                    &mut tx,
                    &order.order_number,
                    None,
                    &patch,
                    actor,
                    "ブラックリスト再チェック",
                )
                .await?;
                crate::orders::write_rows(
                    &mut tx,
                    self.backend,
                    vec![match_rows(&[(order.id, matches)], &now_text())],
                )
                .await?;
                tx.commit().await?;
                report.flagged.push(order.order_number.clone());
            }
        }
        Ok(report)
    }
}
