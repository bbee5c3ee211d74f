//! Points: taken from the customer's balance when an order uses them, granted
//! at the shop's rate when it reaches the chosen status, given back when it is
//! cancelled (and taken again if it resumes).

use crate::StoreError;
use crate::db::{Store, Tx, get_i64, get_str};
use crate::history::HistoryRow;
use juchu_domain::FieldErrors;
use juchu_domain::order::Order;

impl Store {
    /// 取消完了: the customer gets the order's used points back and loses the
    /// points it granted; a later 再オーソリ out of 取消完了 undoes that. Each
    /// move is a 履歴 row (`customer_points`), so an order's points go back at
    /// most once however often it is cancelled and re-authorised; the balance
    /// never goes below 0.
    pub(super) async fn return_points_on_cancel(
        &self,
        tx: &mut Tx,
        before: &Order,
        after: &Order,
        history: &mut Vec<HistoryRow>,
    ) -> Result<(), StoreError> {
        use juchu_domain::status::PaymentStatus::Cancelled;
        let entering = before.payment_status != Cancelled && after.payment_status == Cancelled;
        let leaving = before.payment_status == Cancelled && after.payment_status != Cancelled;
        let Some(customer) = after.customer_id else {
            return Ok(());
        };
        let delta = juchu_domain::payment::points_returned_on_cancel(after);
        if !(entering || leaving) || delta == 0 {
            return Ok(());
        }
        let moves = sqlx::query(
            "SELECT COUNT(*) AS n FROM order_history WHERE order_id = $1 AND field = 'customer_points'",
        )
        .bind(after.id)
        .fetch_one(&mut **tx)
        .await?;
        let returned = get_i64(&moves, "n")? % 2 == 1;
        let change = match (entering, returned) {
            (true, false) => delta,
            (false, true) => -delta,
            _ => return Ok(()),
        };
        let Some(was) = self.locked_points(tx, customer).await? else {
            return Ok(());
        };
        let now = (was + change).max(0);
        sqlx::query("UPDATE customers SET points = $1 WHERE id = $2")
            .bind(now)
            .bind(customer)
            .execute(&mut **tx)
            .await?;
        history.push(points_row(
            after.id,
            "customer_points",
            was,
            now,
            if entering {
                format!(
                    "取消完了: 利用ポイント {} を返却、付与ポイント {} を回収",
                    after.totals.points_used, after.points_granted
                )
            } else {
                format!(
                    "取消完了から再開: 利用ポイント {} を再び利用、付与ポイント {} を再付与",
                    after.totals.points_used, after.points_granted
                )
            },
        ));
        Ok(())
    }
}

/// ポイント設定 (ショップ情報): points granted at a shop rate when an order
/// reaches the status the shop chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointsSettings {
    /// Percent of the item total (0: the shop grants none by rate).
    pub rate_percent: u32,
    /// The 対応状況 at which they are granted.
    pub grant_status: String,
}

impl Default for PointsSettings {
    fn default() -> Self {
        PointsSettings {
            rate_percent: 0,
            grant_status: "発送完了".into(),
        }
    }
}

pub(crate) async fn points_settings_in(
    conn: &mut sqlx::AnyConnection,
) -> Result<PointsSettings, StoreError> {
    let rows = sqlx::query(
        "SELECT key, value FROM settings WHERE key IN ('points.rate_percent', 'points.grant_status')",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut p = PointsSettings::default();
    for r in &rows {
        let v = get_str(r, "value")?;
        match get_str(r, "key")?.as_str() {
            "points.rate_percent" => p.rate_percent = v.parse().unwrap_or(0),
            "points.grant_status" if !v.is_empty() => p.grant_status = v,
            _ => {}
        }
    }
    Ok(p)
}

/// A 履歴 row of a move of the customer's points, by ポイント.
fn points_row(order_id: i64, field: &str, before: i64, after: i64, reason: String) -> HistoryRow {
    HistoryRow {
        owner_id: order_id,
        actor_kind: "system",
        actor_id: None,
        actor_name: "ポイント".into(),
        field: field.into(),
        before: before.to_string(),
        after: after.to_string(),
        reason,
    }
}

/// Field of an order's error in a batch (`points_used`, `orders[3].points_used`).
fn points_field(batch: bool, i: usize) -> String {
    if batch {
        format!("orders[{i}].points_used")
    } else {
        "points_used".into()
    }
}

impl Store {
    /// The customer's balance, locked for the transaction (two moves of one
    /// customer's points never lose one another).
    async fn locked_points(&self, tx: &mut Tx, customer: i64) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT points FROM customers WHERE id = $1{}",
            self.lock_suffix()
        )))
        .bind(customer)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.map(|r| get_i64(&r, "points")).transpose()?)
    }

    pub async fn points_settings(&self) -> Result<PointsSettings, StoreError> {
        let mut conn = self.pool.acquire().await?;
        points_settings_in(&mut conn).await
    }

    pub async fn save_points_settings(&self, p: &PointsSettings) -> Result<(), StoreError> {
        let mut e = FieldErrors::default();
        if p.rate_percent > 100 {
            e.add(
                "rate_percent",
                "out_of_range",
                "ポイント付与率は0〜100%で指定してください",
            );
        }
        let masters = self.masters().await?;
        if masters
            .handling_status_by_name(p.grant_status.trim())
            .is_none()
        {
            e.add(
                "grant_status",
                "unknown_status",
                format!("対応状況「{}」はありません", p.grant_status),
            );
        }
        e.into_result()?;
        let mut tx = self.begin().await?;
        for (k, v) in [
            ("points.rate_percent", p.rate_percent.to_string()),
            ("points.grant_status", p.grant_status.trim().to_string()),
        ] {
            sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// New orders that use points take them from their customers' balances in
    /// the creating transaction. A balance never goes below 0: the order is
    /// refused on `points_used` (all orders of a batch, nothing written).
    pub(crate) async fn take_points(
        &self,
        tx: &mut Tx,
        orders: &[Order],
        history: &mut Vec<HistoryRow>,
    ) -> Result<(), StoreError> {
        let batch = orders.len() > 1;
        let mut errors = FieldErrors::default();
        let mut by_customer: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
        for (i, o) in orders.iter().enumerate() {
            if o.totals.points_used <= 0 {
                continue;
            }
            match o.customer_id {
                Some(c) => by_customer.entry(c).or_default().push(i),
                None => errors.add(
                    points_field(batch, i),
                    "no_customer",
                    "ポイントを利用するには顧客を指定してください",
                ),
            }
        }
        errors.clone().into_result()?;
        for (customer, idx) in by_customer {
            // Locked: two orders of one customer at once cannot both spend the
            // same points.
            let Some(mut balance) = self.locked_points(tx, customer).await? else {
                continue;
            };
            for i in idx {
                let o = &orders[i];
                let used = o.totals.points_used;
                if used > balance {
                    errors.add(
                        points_field(batch, i),
                        "insufficient_points",
                        format!("ポイント残高が足りません（残高 {balance}、利用 {used}）"),
                    );
                    continue;
                }
                // Not `customer_points`: those rows count the returns.
                history.push(points_row(
                    o.id,
                    "customer_points_used",
                    balance,
                    balance - used,
                    format!("ポイント利用: {used}"),
                ));
                balance -= used;
            }
            sqlx::query("UPDATE customers SET points = $1 WHERE id = $2")
                .bind(balance)
                .bind(customer)
                .execute(&mut **tx)
                .await?;
        }
        errors.into_result()?;
        Ok(())
    }

    /// 利用ポイント changed on an order (not cancelled): the difference moves
    /// between the order and the customer's balance, which never goes below 0
    /// (refused on `points_used`), so a later cancellation returns exactly what
    /// was taken.
    pub(super) async fn respend_points(
        &self,
        tx: &mut Tx,
        before: &Order,
        after: &Order,
        history: &mut Vec<HistoryRow>,
    ) -> Result<(), StoreError> {
        use juchu_domain::status::PaymentStatus::Cancelled;
        let delta = after.totals.points_used - before.totals.points_used;
        if delta == 0 || after.payment_status == Cancelled {
            return Ok(());
        }
        let Some(customer) = after.customer_id else {
            return Err(FieldErrors::single(
                "points_used",
                "no_customer",
                "ポイントを利用するには顧客を指定してください",
            )
            .into());
        };
        let Some(balance) = self.locked_points(tx, customer).await? else {
            return Ok(());
        };
        if delta > balance {
            return Err(FieldErrors::single(
                "points_used",
                "insufficient_points",
                format!("ポイント残高が足りません（残高 {balance}、追加で利用 {delta}）"),
            )
            .into());
        }
        sqlx::query("UPDATE customers SET points = $1 WHERE id = $2")
            .bind(balance - delta)
            .bind(customer)
            .execute(&mut **tx)
            .await?;
        history.push(points_row(
            after.id,
            "customer_points_used",
            balance,
            balance - delta,
            format!(
                "利用ポイント {} → {}",
                before.totals.points_used, after.totals.points_used
            ),
        ));
        Ok(())
    }

    /// ポイント設定: when the order reaches the shop's status the customer gets
    /// `rate` % of the item total, once per order (its 付与ポイント, taken back
    /// by a cancellation like any granted points).
    /// `loaded` keeps the settings for the rest of a batch (read once).
    pub(super) async fn award_points(
        &self,
        tx: &mut Tx,
        before: &Order,
        after: &mut Order,
        masters: &juchu_domain::masters::Masters,
        loaded: &mut Option<PointsSettings>,
        history: &mut Vec<HistoryRow>,
    ) -> Result<(), StoreError> {
        if before.handling_status_id == after.handling_status_id {
            return Ok(());
        }
        let Some(customer) = after.customer_id else {
            return Ok(());
        };
        if loaded.is_none() {
            *loaded = Some(points_settings_in(tx).await?);
        }
        let Some(settings) = loaded.as_ref() else {
            return Ok(());
        };
        let reached = masters
            .handling_status(after.handling_status_id)
            .is_some_and(|h| h.name == settings.grant_status);
        if !reached || settings.rate_percent == 0 || after.points_granted > 0 {
            return Ok(());
        }
        let points = juchu_domain::pricing::points_for(&after.totals, settings.rate_percent);
        let (rate, status) = (settings.rate_percent, settings.grant_status.clone());
        if points <= 0 {
            return Ok(());
        }
        let Some(was) = self.locked_points(tx, customer).await? else {
            return Ok(());
        };
        sqlx::query("UPDATE customers SET points = $1 WHERE id = $2")
            .bind(was + points)
            .bind(customer)
            .execute(&mut **tx)
            .await?;
        after.points_granted = points;
        let why = format!("ポイント付与: 対応状況「{status}」で商品合計の{rate}%");
        history.push(points_row(
            after.id,
            "points_granted",
            0,
            points,
            why.clone(),
        ));
        history.push(points_row(
            after.id,
            "customer_points_awarded",
            was,
            was + points,
            why,
        ));
        Ok(())
    }
}
