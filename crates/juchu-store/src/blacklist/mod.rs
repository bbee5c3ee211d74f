//! ブラックリスト: blacklisting customers, the shop's blacklist conditions, and
//! screening new orders inside the change pipeline (see
//! [`juchu_domain::blacklist`] for the rules). Candidates are found by indexed
//! match keys — never a scan of the blacklist.

use crate::StoreError;
use crate::db::Rows;
use crate::db::{Arg, Store, Tx, get_bool, get_i64, get_opt_i64, get_str, in_list, query_with};
use juchu_domain::FieldErrors;
use juchu_domain::blacklist::{
    AttentionMatch, BillingKeys, BlacklistCondition, BlacklistedKeys, Clause, OrderFacts, screen,
};
use juchu_domain::masters::Masters;
use juchu_domain::order::Order;
use std::collections::HashSet;

/// An entry of the ブラックリスト理由 master.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BlacklistReason {
    pub id: i64,
    pub name: String,
}

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

/// The blacklisted customers a batch of new orders could match: those whose
/// name or phone key equals an order's, and which of the orders' own
/// customers are blacklisted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Candidates {
    pub keys: Vec<BlacklistedKeys>,
    pub blacklisted: HashSet<i64>,
}

impl Candidates {
    fn add(&mut self, keys: BlacklistedKeys) {
        if !self.keys.iter().any(|c| c.customer_id == keys.customer_id) {
            self.keys.push(keys);
        }
    }
}

/// The lookup keys of orders about to be screened.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScreenKeys {
    pub names: Vec<String>,
    pub phones: Vec<String>,
    pub customer_ids: Vec<i64>,
}

impl ScreenKeys {
    pub fn of<'a>(
        orders: impl Iterator<Item = (&'a juchu_domain::customer::Address, Option<i64>)>,
    ) -> Self {
        let mut out = ScreenKeys::default();
        for (billing, customer_id) in orders {
            let k = BillingKeys::of(billing);
            if !k.name_key.is_empty() {
                out.names.push(k.name_key);
            }
            if !k.phone_key.is_empty() {
                out.phones.push(k.phone_key);
            }
            out.customer_ids.extend(customer_id);
        }
        out
    }
}

/// A scalar subquery (PostgreSQL) that returns the [`Candidates`] of `keys` as
/// JSON, so that single-order intake can fetch them with the pipeline's context
/// query instead of in a round trip of their own. Placeholders start at `next`.
pub(crate) fn candidates_subquery(keys: &ScreenKeys, next: usize) -> (String, Vec<Arg>) {
    let mut terms = vec!["1 = 0".to_string()];
    let mut args: Vec<Arg> = Vec::new();
    let mut next = next;
    for (column, values) in [("name_key", &keys.names), ("phone_key", &keys.phones)] {
        if !values.is_empty() {
            terms.push(format!("c.{column} IN ({})", in_list(values.len(), next)));
            next += values.len();
            args.extend(values.iter().map(|v| Arg::from(v.as_str())));
        }
    }
    if !keys.customer_ids.is_empty() {
        terms.push(format!(
            "c.id IN ({})",
            in_list(keys.customer_ids.len(), next)
        ));
        args.extend(keys.customer_ids.iter().map(|id| Arg::from(*id)));
    }
    (
        format!(
            "(SELECT CAST(json_agg(json_build_array(c.id, c.name_key, c.postal_key, c.phone_key)) AS TEXT) \
             FROM customers c WHERE c.blacklisted = 1 AND ({}))",
            terms.join(" OR ")
        ),
        args,
    )
}

/// Reads what [`candidates_subquery`] returned.
pub(crate) fn candidates_from_json(
    keys: &ScreenKeys,
    json: Option<&str>,
) -> Result<Candidates, StoreError> {
    let rows: Vec<(i64, String, String, String)> = match json {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| StoreError::Other(format!("bad blacklist candidates: {e}")))?,
        None => Vec::new(),
    };
    let mut out = Candidates::default();
    for (id, name_key, postal_key, phone_key) in rows {
        if keys.customer_ids.contains(&id) {
            out.blacklisted.insert(id);
        }
        if keys.names.contains(&name_key) || keys.phones.contains(&phone_key) {
            out.add(BlacklistedKeys {
                customer_id: id,
                name_key,
                postal_key,
                phone_key,
            });
        }
    }
    Ok(out)
}

/// Looks the candidates of `keys` up: per 200 orders one indexed query on
/// PostgreSQL (two on SQLite), plus one for the orders' own customers.
async fn fetch_candidates(
    tx: &mut Tx,
    backend: crate::Backend,
    keys: &ScreenKeys,
) -> Result<Candidates, StoreError> {
    let mut out = Candidates::default();
    let chunks = keys.names.len().max(keys.phones.len()).div_ceil(200);
    for chunk in 0..chunks {
        let range = |v: &Vec<String>| -> Vec<String> {
            v.iter().skip(chunk * 200).take(200).cloned().collect()
        };
        let mut parts = Vec::new();
        let names = range(&keys.names);
        if !names.is_empty() {
            parts.push(("name_key", names));
        }
        let phones = range(&keys.phones);
        if !phones.is_empty() {
            parts.push(("phone_key", phones));
        }
        // PostgreSQL: one round trip over both partial indexes (BitmapOr).
        // SQLite does not use partial indexes under OR, and has no round
        // trips to save: one query per key there.
        let statements: Vec<Vec<(&str, Vec<String>)>> = match backend {
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
                args.extend(values.iter().map(|v| Arg::from(v.as_str())));
            }
            let sql = format!(
                "SELECT id, name_key, postal_key, phone_key FROM customers WHERE blacklisted = 1 AND ({})",
                terms.join(" OR ")
            );
            for r in query_with(sql, args).fetch_all(&mut **tx).await? {
                out.add(BlacklistedKeys {
                    customer_id: get_i64(&r, "id")?,
                    name_key: get_str(&r, "name_key")?,
                    postal_key: get_str(&r, "postal_key")?,
                    phone_key: get_str(&r, "phone_key")?,
                });
            }
        }
    }
    for chunk in keys.customer_ids.chunks(400) {
        let sql = format!(
            "SELECT id FROM customers WHERE blacklisted = 1 AND id IN ({})",
            in_list(chunk.len(), 1)
        );
        let args = chunk.iter().map(|id| Arg::from(*id)).collect();
        for r in query_with(sql, args).fetch_all(&mut **tx).await? {
            out.blacklisted.insert(get_i64(&r, "id")?);
        }
    }
    Ok(out)
}

/// Screens new orders: one list of matches per order, in order. Nothing is
/// looked up when nobody is blacklisted; `prefetched` candidates (fetched with
/// the pipeline's context query) save the lookup's round trip.
pub(crate) async fn screen_orders(
    tx: &mut Tx,
    backend: crate::Backend,
    snapshot: &BlacklistSnapshot,
    masters: &Masters,
    orders: &[Order],
    prefetched: Option<Candidates>,
) -> Result<Vec<Vec<AttentionMatch>>, StoreError> {
    if !snapshot.any_blacklisted && snapshot.conditions.is_empty() {
        return Ok(vec![Vec::new(); orders.len()]);
    }
    let keys: Vec<BillingKeys> = orders.iter().map(|o| BillingKeys::of(&o.billing)).collect();
    let candidates = match prefetched {
        _ if !snapshot.any_blacklisted => Candidates::default(),
        Some(c) => c,
        None => {
            let lookup = ScreenKeys::of(orders.iter().map(|o| (&o.billing, o.customer_id)));
            fetch_candidates(tx, backend, &lookup).await?
        }
    };
    Ok(orders
        .iter()
        .zip(&keys)
        .map(|(o, k)| {
            let mine: Vec<BlacklistedKeys> = candidates
                .keys
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
            let customer = o
                .customer_id
                .map(|id| (id, candidates.blacklisted.contains(&id)));
            screen(customer, k, &mine, &snapshot.conditions, &facts)
        })
        .collect())
}

/// The rows that record what matched, for [`crate::db::write_rows`].
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
        actor: &crate::history::Actor,
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
        self.set_blacklisted_in_tx(&mut tx, customer_id, blacklisted, reason, actor)
            .await?;
        tx.commit().await?;
        self.customer(customer_id).await
    }

    /// [`Store::set_blacklisted`] inside a transaction, the reason checked.
    pub(crate) async fn set_blacklisted_in_tx(
        &self,
        tx: &mut Tx,
        customer_id: i64,
        blacklisted: bool,
        reason: &str,
        actor: &crate::history::Actor,
    ) -> Result<(), StoreError> {
        let reason = reason.trim();
        let mut e = FieldErrors::default();
        juchu_domain::text::check_len(&mut e, "blacklist_reason", reason, 200);
        e.into_result()?;
        let done = sqlx::query(
            "UPDATE customers SET blacklisted = $1, blacklist_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(blacklisted as i64)
        .bind(if blacklisted { reason.to_string() } else { String::new() })
        .bind(self.clock.now_text())
        .bind(customer_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if done != 1 {
            return Err(StoreError::NotFound("顧客"));
        }
        if blacklisted && flags_subscriptions(tx).await? {
            let ids = sqlx::query(
                "SELECT id FROM subscriptions WHERE customer_id = $1 AND needs_attention = 0",
            )
            .bind(customer_id)
            .fetch_all(&mut **tx)
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
                    tx,
                    get_i64(r, "id")?,
                    None,
                    &[cmd],
                    actor,
                    "顧客をブラックリストに登録",
                )
                .await?;
            }
        }
        crate::db::bump_masters_revision(tx).await?;
        Ok(())
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
            .bind(self.clock.now_text())
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

    /// The ブラックリスト理由 master, in the order they were added.
    pub async fn blacklist_reasons(&self) -> Result<Vec<BlacklistReason>, StoreError> {
        let rows = sqlx::query("SELECT id, name FROM blacklist_reasons ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(BlacklistReason {
                    id: get_i64(r, "id")?,
                    name: get_str(r, "name")?,
                })
            })
            .collect()
    }

    /// Adds a reason to the master; an empty, too long or existing name is a
    /// field error on `name`.
    pub async fn add_blacklist_reason(&self, name: &str) -> Result<BlacklistReason, StoreError> {
        let name = name.trim();
        let mut errors = FieldErrors::default();
        if name.is_empty() {
            errors.add("name", "required", "理由を入力してください");
        } else if name.chars().count() > 100 {
            errors.add("name", "too_long", "理由は100文字以内で入力してください");
        }
        errors.into_result()?;
        let mut tx = self.begin().await?;
        if sqlx::query("SELECT id FROM blacklist_reasons WHERE name = $1")
            .bind(name.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .is_some()
        {
            return Err(FieldErrors::single(
                "name",
                "duplicate",
                format!("「{name}」はすでに登録されています"),
            )
            .into());
        }
        let row = sqlx::query(
            "INSERT INTO blacklist_reasons (name, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(name.to_string())
        .bind(self.clock.now_text())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BlacklistReason {
            id: get_i64(&row, "id")?,
            name: name.to_string(),
        })
    }

    /// Removes a reason from the master (customers keep the text they were
    /// listed with).
    pub async fn delete_blacklist_reason(&self, id: i64) -> Result<(), StoreError> {
        let n = sqlx::query("DELETE FROM blacklist_reasons WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound("ブラックリスト理由"));
        }
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
    let map = crate::settings::settings_map(tx).await?;
    Ok(crate::settings::settings_from(&map).blacklist_flags_subscriptions)
}
