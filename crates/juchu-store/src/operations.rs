//! What an engineer running juchu looks at: workers' heartbeats, queue
//! depths (for `/readyz` and `/metrics`), and the SQLite backup.

use crate::StoreError;
use crate::db::{Store, get_i64, get_str};

/// One worker process as it last reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub worker: String,
    pub loops: Vec<String>,
    pub started_at: String,
    pub seen_at: String,
}

/// The outboxes and queues counted here by name (as in `/metrics`); the
/// webhook queue is [`Store::webhook_queue_depth`] and the request
/// automation's is `Store::requests_awaiting_automation`, each counted once
/// where its area keeps it.
const QUEUES: &[(&str, &str)] = &[
    (
        "jobs",
        "SELECT COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running')",
    ),
    (
        "mail",
        "SELECT COUNT(*) AS n FROM mail_outbox WHERE status = 'pending'",
    ),
    (
        "line",
        "SELECT COUNT(*) AS n FROM line_outbox WHERE status IN ('pending', 'sending')",
    ),
    (
        "payments",
        "SELECT COUNT(*) AS n FROM payment_requests WHERE status IN ('pending', 'running')",
    ),
    (
        "webhooks_failed",
        "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'failed'",
    ),
];

impl Store {
    /// Says that worker `worker` (host and process id) is alive and runs `loops`.
    pub async fn heartbeat(
        &self,
        worker: &str,
        loops: &[&str],
        started_at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO worker_heartbeats (worker, loops, started_at, seen_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (worker) DO UPDATE SET loops = excluded.loops, seen_at = excluded.seen_at",
        )
        .bind(worker.to_string())
        .bind(loops.join(","))
        .bind(started_at.to_string())
        .bind(self.clock.now_text())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Workers seen since `since` (RFC 3339), most recent first.
    pub async fn live_workers(&self, since: &str) -> Result<Vec<Heartbeat>, StoreError> {
        let rows = sqlx::query(
            "SELECT worker, loops, started_at, seen_at FROM worker_heartbeats WHERE seen_at >= $1 ORDER BY seen_at DESC",
        )
        .bind(since.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Heartbeat {
                    worker: get_str(r, "worker")?,
                    loops: get_str(r, "loops")?
                        .split(',')
                        .filter(|l| !l.is_empty())
                        .map(str::to_string)
                        .collect(),
                    started_at: get_str(r, "started_at")?,
                    seen_at: get_str(r, "seen_at")?,
                })
            })
            .collect()
    }

    /// Forgets workers not seen since `before`.
    pub async fn forget_workers(&self, before: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM worker_heartbeats WHERE seen_at < $1")
            .bind(before.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Jobs, mail, LINE, payments and webhooks (waiting and given up), with
    /// how many wait in each.
    pub async fn queue_depths(&self) -> Result<Vec<(&'static str, i64)>, StoreError> {
        let mut out = Vec::with_capacity(QUEUES.len() + 1);
        for (name, sql) in QUEUES {
            let row = sqlx::query(*sql).fetch_one(&self.pool).await?;
            out.push((*name, get_i64(&row, "n")?));
        }
        out.push(("webhooks", self.webhook_queue_depth().await?));
        Ok(out)
    }

    /// SQLite: a consistent copy of the whole database into `path` while
    /// juchu keeps serving (`VACUUM INTO`: readers and the writer go on; the
    /// copy is a plain database file, opened as it is to restore).
    pub async fn backup_sqlite(&self, path: &std::path::Path) -> Result<(), StoreError> {
        if self.backend != crate::Backend::Sqlite {
            return Err(StoreError::Other(
                "juchu backup copies the SQLite store; for PostgreSQL use pg_dump (see docs/operations.md)".into(),
            ));
        }
        if path.exists() {
            return Err(StoreError::Other(format!(
                "{} already exists: a backup never overwrites a file",
                path.display()
            )));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
