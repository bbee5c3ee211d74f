//! LINE push messages (Messaging API), sent from an outbox like mail: queued
//! in the transaction of the change that wants them, pushed by a worker
//! through a [`LinePusher`] (the HTTP client or the sandbox, in
//! `juchu-adapters`).
//!
//! Each queued push keeps one `X-Line-Retry-Key` for all its attempts: after a
//! timeout or a 5xx, LINE executes a retried push at most once (and answers a
//! duplicate with 409, which counts as sent).

use crate::StoreError;
use crate::db::{Store, Tx, get_i64, get_str};

/// At most five messages per push (the API refuses more).
pub const MAX_MESSAGES: usize = 5;
/// A text message's limit in characters.
pub const MAX_TEXT_CHARS: usize = 5000;
/// Attempts before a push is marked failed.
pub const MAX_ATTEMPTS: i64 = 6;

/// One push as the worker hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinePush {
    pub to: String,
    pub texts: Vec<String>,
    pub retry_key: String,
}

/// How a push ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushFailure {
    /// Try again later (5xx, timeout, 429: `retry_after` seconds when LINE said).
    Retry {
        error: String,
        retry_after: Option<u64>,
    },
    /// Will never work (400 bad request, 401 bad token, 403): marked failed.
    Permanent(String),
}

pub type PushFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), PushFailure>> + Send + 'a>>;

/// Where the worker hands pushes over.
pub trait LinePusher: Send + Sync {
    fn push<'a>(&'a self, push: &'a LinePush) -> PushFuture<'a>;
}

/// A queued push as shown on the customer page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedLine {
    pub id: i64,
    pub texts: Vec<String>,
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// What one delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineDelivery {
    pub sent: usize,
    pub failed: Vec<(i64, String)>,
}

/// Queues a push to `to` in the caller's transaction. Texts are cut to the
/// API's limits (five messages, 5,000 characters each) here, not refused at
/// send time.
pub(crate) async fn queue_line(
    tx: &mut Tx,
    customer_id: i64,
    request_id: Option<i64>,
    to: &str,
    texts: &[String],
    now: &str,
) -> Result<(), StoreError> {
    let texts: Vec<String> = texts
        .iter()
        .filter(|t| !t.trim().is_empty())
        .take(MAX_MESSAGES)
        .map(|t| t.chars().take(MAX_TEXT_CHARS).collect())
        .collect();
    if texts.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO line_outbox (customer_id, request_id, line_user_id, messages, retry_key, status, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)",
    )
    .bind(customer_id)
    .bind(request_id)
    .bind(to.to_string())
    .bind(serde_json::to_string(&texts).map_err(|e| StoreError::Other(e.to_string()))?)
    .bind(crate::db::uuid_v4())
    .bind(now.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Pushes up to `limit` due messages. Claimed with a 10-minute lease in a
    /// short transaction (PostgreSQL `SKIP LOCKED`), pushed with no
    /// transaction open, recorded afterwards; a worker that dies mid-way
    /// leaves leases that expire and the push is retried with the same retry
    /// key (LINE answers 409: sent once).
    pub async fn deliver_line(
        &self,
        pusher: &dyn LinePusher,
        limit: i64,
    ) -> Result<LineDelivery, StoreError> {
        let lock = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let mut tx = self.begin().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, line_user_id, messages, retry_key, attempts FROM line_outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1 ORDER BY id LIMIT $2{lock}"
        )))
        .bind(self.clock.now_text())
        .bind(limit.clamp(1, 500))
        .fetch_all(&mut *tx)
        .await?;
        let lease = juchu_domain::time::format_ts(
            self.clock
                .now()
                .checked_add(jiff::SignedDuration::from_secs(600))
                .unwrap_or(self.clock.now()),
        );
        for r in &rows {
            sqlx::query(
                "UPDATE line_outbox SET status = 'sending', next_attempt_at = $1 WHERE id = $2",
            )
            .bind(lease.clone())
            .bind(get_i64(r, "id")?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let mut report = LineDelivery::default();
        for r in &rows {
            let id = get_i64(r, "id")?;
            let attempts = get_i64(r, "attempts")? + 1;
            let texts: Vec<String> = serde_json::from_str(&get_str(r, "messages")?)
                .map_err(|e| StoreError::Other(format!("line outbox: {e}")))?;
            let push = LinePush {
                to: get_str(r, "line_user_id")?,
                texts,
                retry_key: get_str(r, "retry_key")?,
            };
            let result = pusher.push(&push).await;
            let now = self.clock.now_text();
            match result {
                Ok(()) => {
                    report.sent += 1;
                    sqlx::query("UPDATE line_outbox SET status = 'sent', attempts = $1, sent_at = $2, last_error = '' WHERE id = $3")
                        .bind(attempts)
                        .bind(now)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                }
                Err(PushFailure::Permanent(e)) => {
                    report.failed.push((id, e.clone()));
                    sqlx::query("UPDATE line_outbox SET status = 'failed', attempts = $1, last_error = $2 WHERE id = $3")
                        .bind(attempts)
                        .bind(e)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                }
                Err(PushFailure::Retry { error, retry_after }) => {
                    report.failed.push((id, error.clone()));
                    let wait = retry_after.unwrap_or(30u64 << (attempts - 1).clamp(0, 8) as u32);
                    let next = juchu_domain::time::format_ts(
                        self.clock
                            .now()
                            .checked_add(jiff::SignedDuration::from_secs(wait.min(86_400) as i64))
                            .unwrap_or(self.clock.now()),
                    );
                    let status = if attempts >= MAX_ATTEMPTS {
                        "failed"
                    } else {
                        "pending"
                    };
                    sqlx::query("UPDATE line_outbox SET status = $1, attempts = $2, last_error = $3, next_attempt_at = $4 WHERE id = $5")
                        .bind(status)
                        .bind(attempts)
                        .bind(error)
                        .bind(next)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                }
            }
        }
        Ok(report)
    }

    /// LINE messages queued for a customer, newest first.
    pub async fn customer_line_messages(
        &self,
        customer_id: i64,
    ) -> Result<Vec<QueuedLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, messages, status, attempts, last_error, created_at, sent_at FROM line_outbox WHERE customer_id = $1 ORDER BY id DESC LIMIT 100",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QueuedLine {
                    id: get_i64(r, "id")?,
                    texts: serde_json::from_str(&get_str(r, "messages")?)
                        .map_err(|e| StoreError::Other(format!("line outbox: {e}")))?,
                    status: get_str(r, "status")?,
                    attempts: get_i64(r, "attempts")?,
                    last_error: get_str(r, "last_error")?,
                    created_at: get_str(r, "created_at")?,
                    sent_at: crate::db::get_opt_str(r, "sent_at")?,
                })
            })
            .collect()
    }

    /// The LINE user id a customer linked (LIFF), if any.
    pub async fn customer_line_user(&self, customer_id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT line_user_id FROM customer_accounts WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| crate::db::get_opt_str(&r, "line_user_id"))
            .transpose()?
            .flatten())
    }
}
