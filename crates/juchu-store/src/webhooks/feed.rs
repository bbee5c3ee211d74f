//! The pull feed (`GET /api/v1/events?after=`): every published event in a
//! stable order, for consumers that cannot receive webhooks.

use crate::StoreError;
use crate::db::{Store, get_str};
use juchu_domain::FieldErrors;

/// One event as the feed and a webhook body carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub id: String,
    pub event_type: String,
    pub created_at: String,
    pub data: serde_json::Value,
}

impl FeedEvent {
    /// The body a webhook delivery sends: `{"id", "type", "created_at", "data"}`.
    pub fn body(&self) -> String {
        serde_json::json!({
            "id": self.id,
            "type": self.event_type,
            "created_at": self.created_at,
            "data": self.data,
        })
        .to_string()
    }
}

pub(super) fn event_of(r: &sqlx::any::AnyRow) -> Result<FeedEvent, StoreError> {
    Ok(FeedEvent {
        id: get_str(r, "event_id")?,
        event_type: get_str(r, "type")?,
        created_at: get_str(r, "created_at")?,
        data: serde_json::from_str(&get_str(r, "data")?)
            .map_err(|e| StoreError::Other(format!("webhook event data: {e}")))?,
    })
}

impl Store {
    /// Events after the one with id `after` (None: from the first), at most
    /// `limit`, in the feed's order; `types` filters by type. Reading again
    /// from the last id returned never misses or repeats an event.
    pub async fn events_after(
        &self,
        after: Option<&str>,
        limit: i64,
        types: &[String],
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let (txid, id) = match after.map(str::trim).filter(|a| !a.is_empty()) {
            None => (-1i64, 0i64),
            Some(a) => {
                let row = sqlx::query(
                    "SELECT txid, id FROM webhook_events WHERE event_id = $1 AND is_test = 0",
                )
                .bind(a.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| {
                    FieldErrors::single(
                        "after",
                        "unknown_event",
                        format!("イベント {a} はありません。after には受け取ったイベントの id を指定してください（保存期間 JUCHU_EVENT_RETENTION_DAYS を過ぎたイベントは削除されています。その場合は updated_since で取り直し、最新のイベントから読み直してください）"),
                    )
                })?;
                (
                    crate::db::get_i64(&row, "txid")?,
                    crate::db::get_i64(&row, "id")?,
                )
            }
        };
        let mut sql = format!(
            "SELECT event_id, type, created_at, data FROM webhook_events WHERE {}",
            super::after_cursor(self.backend)
        );
        let mut q_types = Vec::new();
        if !types.is_empty() {
            sql.push_str(&format!(
                " AND type IN ({})",
                crate::db::in_list(types.len(), 4)
            ));
            q_types = types.to_vec();
        }
        sql.push_str(" ORDER BY txid, id LIMIT $3");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(txid)
            .bind(id)
            .bind(limit.clamp(1, 1000));
        for t in q_types {
            q = q.bind(t);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(event_of).collect()
    }
}
