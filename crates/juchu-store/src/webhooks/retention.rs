//! 保存期間 of the outbox: without it `webhook_events` (and the delivery log)
//! grows by every change for ever — the daily run alone adds three events per
//! subscription. Events older than the retention period are deleted with
//! their deliveries and attempts; the pull feed and replay then start at the
//! oldest event kept (docs/operations.md, Webhooks).

use crate::StoreError;
use crate::db::{Store, get_i64};

/// The events a purge may delete: created before `$1`, and not waiting to be
/// sent to an enabled endpoint (a delivery still pending or being sent keeps
/// its event until it has succeeded or failed for good; a disabled endpoint
/// keeps nothing). Bound to the batch `$2..=$3`.
const PURGEABLE: &str = "e.id BETWEEN $2 AND $3 AND e.created_at < $1 AND NOT EXISTS ( \
     SELECT 1 FROM webhook_deliveries b JOIN webhook_endpoints p ON p.id = b.endpoint_id \
     WHERE b.event_id = e.id AND b.status IN ('pending', 'sending') AND p.enabled = 1)";

impl Store {
    /// Deletes up to `limit` events created before `cutoff` (RFC 3339), with
    /// their deliveries and the attempts of those, in one transaction. An
    /// event still pending or being sent to an enabled endpoint is kept.
    /// Returns the events deleted; call again until it returns less than
    /// `limit`.
    pub async fn purge_webhook_events(
        &self,
        cutoff: &str,
        limit: i64,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
        let batch = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(MIN(id), 0) AS lo, COALESCE(MAX(id), -1) AS hi FROM ( \
             SELECT e.id FROM webhook_events e WHERE {} ORDER BY e.id LIMIT $4) x",
            PURGEABLE
        )))
        .bind(cutoff.to_string())
        .bind(0i64)
        .bind(i64::MAX)
        .bind(limit.max(1))
        .fetch_one(&mut *tx)
        .await?;
        let (lo, hi) = (get_i64(&batch, "lo")?, get_i64(&batch, "hi")?);
        if hi < lo {
            return Ok(0);
        }
        let of_events = format!("SELECT e.id FROM webhook_events e WHERE {PURGEABLE}");
        let of_deliveries =
            format!("SELECT d.id FROM webhook_deliveries d WHERE d.event_id IN ({of_events})");
        let run = |sql: String| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(cutoff.to_string())
                .bind(lo)
                .bind(hi)
        };
        run(format!(
            "DELETE FROM webhook_attempts WHERE delivery_id IN ({of_deliveries})"
        ))
        .execute(&mut *tx)
        .await?;
        run(format!(
            "DELETE FROM webhook_deliveries WHERE id IN ({of_deliveries})"
        ))
        .execute(&mut *tx)
        .await?;
        // Only events left without any delivery: on PostgreSQL each statement
        // sees what committed since the one before, so a delivery that
        // finished (or was made by a replay) in between keeps its event for
        // the next purge instead of failing the batch on the foreign key.
        let deleted = run(format!(
            "DELETE FROM webhook_events WHERE id IN ({of_events} \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.event_id = e.id))"
        ))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}
