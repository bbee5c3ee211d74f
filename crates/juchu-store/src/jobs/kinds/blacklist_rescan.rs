//! ブラックリスト再チェック: orders placed before a customer was blacklisted,
//! flagged now. Run synchronously by the API and as the `blacklist_rescan` job.

use crate::StoreError;
use crate::blacklist::{match_rows, screen_orders};
use crate::db::{Arg, Clock, Store, Tx};
use crate::history::Actor;
use crate::jobs::kind::*;
use juchu_domain::FieldErrors;
use juchu_domain::blacklist::AttentionMatch;
use juchu_domain::job::{ItemOutcome, JobKind, JobParams};
use juchu_domain::order::Order;
use std::collections::HashMap;

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
    pub async fn rescan_blacklist(&self, days: i64, actor: &Actor) -> Result<Rescan, StoreError> {
        if !(1..=3660).contains(&days) {
            return Err(FieldErrors::single(
                "days",
                "out_of_range",
                "日数は1〜3660で指定してください",
            )
            .into());
        }
        let since = self
            .clock
            .now()
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
                None,
            )
            .await?;
            tx.commit().await?;
            report.checked += orders.len();
            after_id = orders.last().map_or(after_id, |o| o.id);
            for (order, matches) in orders.iter().zip(found) {
                if matches.is_empty() {
                    continue;
                }
                let mut tx = self.begin().await?;
                self.flag_rescanned(&mut tx, order, matches, actor).await?;
                tx.commit().await?;
                report.flagged.push(order.order_number.clone());
            }
        }
        Ok(report)
    }

    /// An existing order the re-check found: 要対応 through the pipeline with
    /// the reasons, and what matched recorded. Returns the reason text.
    pub(crate) async fn flag_rescanned(
        &self,
        tx: &mut Tx,
        order: &Order,
        matches: Vec<AttentionMatch>,
        actor: &Actor,
    ) -> Result<String, StoreError> {
        let reason = juchu_domain::blacklist::reasons(&matches).join("、");
        let patch = juchu_domain::patch::OrderPatch {
            needs_attention: Some(true),
            needs_attention_reason: Some(reason.clone()),
            ..Default::default()
        };
        self.change_in_tx(
            tx,
            crate::orders::ChangeTarget::new(&order.order_number, &patch),
            actor,
            "ブラックリスト再チェック",
        )
        .await?;
        crate::db::write_rows(
            tx,
            self.backend,
            vec![match_rows(&[(order.id, matches)], &self.clock.now_text())],
        )
        .await?;
        Ok(reason)
    }
}

pub(crate) struct BlacklistRescanKind;

impl Kind for BlacklistRescanKind {
    fn kind(&self) -> JobKind {
        JobKind::BlacklistRescan
    }

    fn own_selection(&self, params: &JobParams, clock: &Clock) -> Option<(String, Vec<Arg>)> {
        let JobParams::BlacklistRescan(r) = params else {
            return None;
        };
        Some((
            // An order an operator cleared after a screening is left alone.
            " WHERE needs_attention = 0 AND ordered_at >= $1 AND NOT EXISTS (SELECT 1 FROM order_attention_matches m WHERE m.order_id = orders.id)".into(),
            vec![clock.in_seconds(-24 * 3600 * r.days).into()],
        ))
    }

    fn run_chunk<'a>(&'a self, c: Chunk<'a>) -> KindFuture<'a, Outcomes> {
        Box::pin(async move {
            let snapshot = c.store.masters_in(c.tx).await?;
            let orders = lock_orders(c.store, c.tx, c.items).await?;
            // The chunk is screened at once.
            let list: Vec<Order> = c
                .items
                .iter()
                .filter_map(|(_, id)| orders.get(id).cloned())
                .collect();
            let found = screen_orders(
                c.tx,
                c.store.backend,
                &snapshot.blacklist,
                &snapshot.masters,
                &list,
                None,
            )
            .await?;
            let screened: HashMap<i64, Vec<AttentionMatch>> =
                list.iter().map(|o| o.id).zip(found).collect();
            let work = OneOrder {
                screened,
                actor: c.actor,
            };
            run_each(c.store, c.tx, c.items, &orders, &work).await
        })
    }
}

struct OneOrder<'a> {
    screened: HashMap<i64, Vec<AttentionMatch>>,
    actor: &'a Actor,
}

impl PerOrder for OneOrder<'_> {
    fn run<'a>(
        &'a self,
        store: &'a Store,
        tx: &'a mut Tx,
        order: &'a Order,
    ) -> KindFuture<'a, Outcome> {
        let matches = self.screened.get(&order.id).cloned().unwrap_or_default();
        Box::pin(rescan(store, tx, order, matches, self.actor))
    }
}

async fn rescan(
    store: &Store,
    tx: &mut Tx,
    order: &Order,
    matches: Vec<juchu_domain::blacklist::AttentionMatch>,
    actor: &Actor,
) -> Result<Outcome, StoreError> {
    if order.needs_attention {
        return Ok((ItemOutcome::Skipped, "すでに要対応受注です".into()));
    }
    if matches.is_empty() {
        return Ok((ItemOutcome::Ok, "該当なし".into()));
    }
    let reason = store.flag_rescanned(tx, order, matches, actor).await?;
    Ok((ItemOutcome::Ok, format!("要対応受注にしました（{reason}）")))
}
