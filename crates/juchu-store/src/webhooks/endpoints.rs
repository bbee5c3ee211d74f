//! Webhook endpoints (URL, the event types it wants, its secret), their
//! delivery log, replay and the test delivery.

use crate::StoreError;
use crate::db::{Arg, Store, get_bool, get_i64, get_opt_i64, get_opt_str, get_str, query_with};
use juchu_domain::FieldErrors;
use juchu_domain::webhook::{TEST_EVENT, is_known_type};

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub secret: String,
    pub enabled: bool,
    pub consecutive_failures: i64,
    /// Why the workers disabled it (empty when an operator did or it is enabled).
    pub disabled_reason: String,
    pub disabled_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What an operator or the API sends to create or replace an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointInput {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    /// None: keep the current one (a new endpoint gets a generated one).
    pub secret: Option<String>,
    pub enabled: bool,
}

/// Which events to send again: one event, or every event the endpoint wants
/// since a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayInput {
    Event(String),
    Since(jiff::Timestamp),
}

/// One delivery of one event to one endpoint, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub subject: String,
    /// pending / sending / succeeded / failed
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_status_code: Option<i64>,
    pub last_error: String,
    pub replay: bool,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub log: Vec<Attempt>,
}

/// One HTTP attempt, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub attempted_at: String,
    pub request_headers: String,
    pub request_body: String,
    pub status_code: Option<i64>,
    pub response_excerpt: String,
    pub duration_ms: i64,
    pub error: String,
}

pub type CheckFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;

/// Checks an endpoint URL's address before it is saved (the adapters
/// resolve the name and refuse private networks); the error is shown on the
/// `url` field.
pub trait UrlGuard: Send + Sync {
    fn check<'a>(&'a self, url: &'a str) -> CheckFuture<'a>;
}

/// A new secret: `whsec_` and 32 random bytes in hex.
pub fn generate_secret() -> String {
    crate::db::random_token("whsec_")
}

/// Checks what the store can check: the URL's form (its address is checked
/// against private networks by the caller, which can resolve names), the
/// event types, the secret's length.
fn check(input: &EndpointInput) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::default();
    let url = input.url.trim();
    if url.is_empty() {
        e.add("url", "required", "URL を入力してください");
    } else if !(url.starts_with("https://") || url.starts_with("http://")) {
        e.add(
            "url",
            "invalid_url",
            "URL は https:// か http:// で始めてください",
        );
    } else if url.chars().count() > 2000 || url.chars().any(char::is_whitespace) {
        e.add(
            "url",
            "invalid_url",
            "URL は空白を含まない2000文字以内にしてください",
        );
    }
    juchu_domain::text::check_len(&mut e, "description", &input.description, 200);
    if input.events.is_empty() {
        e.add(
            "events",
            "required",
            "受け取るイベントを1つ以上選んでください",
        );
    }
    for (i, t) in input.events.iter().enumerate() {
        if !is_known_type(t) {
            e.add(
                format!("events[{i}]"),
                "unknown_event",
                format!("「{t}」というイベントはありません"),
            );
        }
    }
    if let Some(s) = &input.secret
        && (s.len() < 16 || s.len() > 200 || s.chars().any(|c| !c.is_ascii_graphic()))
    {
        e.add(
            "secret",
            "invalid_secret",
            "シークレットは空白を含まない半角16〜200文字にしてください",
        );
    }
    e.into_result()
}

fn endpoint_of(r: &sqlx::any::AnyRow) -> Result<WebhookEndpoint, StoreError> {
    Ok(WebhookEndpoint {
        id: get_i64(r, "id")?,
        url: get_str(r, "url")?,
        description: get_str(r, "description")?,
        events: serde_json::from_str(&get_str(r, "events")?)
            .map_err(|e| StoreError::Other(format!("webhook endpoint events: {e}")))?,
        secret: get_str(r, "secret")?,
        enabled: get_bool(r, "enabled")?,
        consecutive_failures: get_i64(r, "consecutive_failures")?,
        disabled_reason: get_str(r, "disabled_reason")?,
        disabled_at: get_opt_str(r, "disabled_at")?,
        created_at: get_str(r, "created_at")?,
        updated_at: get_str(r, "updated_at")?,
    })
}

const ENDPOINT_COLUMNS: &str = "id, url, description, events, secret, enabled, consecutive_failures, disabled_reason, disabled_at, created_at, updated_at";

impl Store {
    pub async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(endpoint_of).collect()
    }

    pub async fn webhook_endpoint(&self, id: i64) -> Result<WebhookEndpoint, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("Webhook"))?;
        endpoint_of(&row)
    }

    /// Creates an endpoint. It receives events from now on (not the past:
    /// replay sends older ones); its cursor starts at the feed's end.
    pub async fn create_webhook_endpoint(
        &self,
        input: &EndpointInput,
    ) -> Result<WebhookEndpoint, StoreError> {
        check(input)?;
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        let end = sqlx::query(
            "SELECT COALESCE(MAX(txid), 0) AS t, COALESCE(MAX(id), 0) AS i FROM webhook_events",
        )
        .fetch_one(&mut *tx)
        .await?;
        let row = sqlx::query(
            "INSERT INTO webhook_endpoints (url, description, events, secret, enabled, cursor_txid, cursor_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(input.url.trim().to_string())
        .bind(input.description.trim().to_string())
        .bind(serde_json::to_string(&input.events).map_err(|e| StoreError::Other(e.to_string()))?)
        .bind(input.secret.clone().unwrap_or_else(generate_secret))
        .bind(input.enabled as i64)
        .bind(get_i64(&end, "t")?)
        .bind(get_i64(&end, "i")?)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.webhook_endpoint(get_i64(&row, "id")?).await
    }

    /// Replaces an endpoint's settings. Enabling it again clears the failure
    /// count and the reason it was disabled; its waiting deliveries go on.
    pub async fn update_webhook_endpoint(
        &self,
        id: i64,
        input: &EndpointInput,
    ) -> Result<WebhookEndpoint, StoreError> {
        check(input)?;
        let before = self.webhook_endpoint(id).await?;
        let now = self.clock.now_text();
        let reenabled = input.enabled && !before.enabled;
        sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, description = $2, events = $3, secret = $4, enabled = $5, \
             consecutive_failures = CASE WHEN $6 = 1 THEN 0 ELSE consecutive_failures END, \
             disabled_reason = CASE WHEN $6 = 1 THEN '' ELSE disabled_reason END, \
             disabled_at = CASE WHEN $6 = 1 THEN NULL ELSE disabled_at END, updated_at = $7 WHERE id = $8",
        )
        .bind(input.url.trim().to_string())
        .bind(input.description.trim().to_string())
        .bind(serde_json::to_string(&input.events).map_err(|e| StoreError::Other(e.to_string()))?)
        .bind(input.secret.clone().unwrap_or(before.secret))
        .bind(input.enabled as i64)
        .bind(reenabled as i64)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.webhook_endpoint(id).await
    }

    /// Deletes an endpoint with its deliveries and their log.
    pub async fn delete_webhook_endpoint(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("Webhook"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// An endpoint's deliveries, newest first, each with its attempts.
    /// `before`: only deliveries with a smaller id (paging).
    pub async fn webhook_deliveries(
        &self,
        endpoint_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.webhook_endpoint(endpoint_id).await?;
        let rows = sqlx::query(
            "SELECT d.id, e.event_id, e.type, d.subject, d.status, d.attempts, d.next_attempt_at, d.last_status_code, \
             d.last_error, d.replay, d.created_at, d.finished_at \
             FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
             WHERE d.endpoint_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3",
        )
        .bind(endpoint_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit.clamp(1, 500))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Delivery> = rows
            .iter()
            .map(|r| {
                Ok(Delivery {
                    id: get_i64(r, "id")?,
                    event_id: get_str(r, "event_id")?,
                    event_type: get_str(r, "type")?,
                    subject: get_str(r, "subject")?,
                    status: get_str(r, "status")?,
                    attempts: get_i64(r, "attempts")?,
                    next_attempt_at: get_str(r, "next_attempt_at")?,
                    last_status_code: get_opt_i64(r, "last_status_code")?,
                    last_error: get_str(r, "last_error")?,
                    replay: get_bool(r, "replay")?,
                    created_at: get_str(r, "created_at")?,
                    finished_at: get_opt_str(r, "finished_at")?,
                    log: Vec::new(),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        if out.is_empty() {
            return Ok(out);
        }
        let ids: Vec<Arg> = out.iter().map(|d| Arg::from(d.id)).collect();
        let sql = format!(
            "SELECT delivery_id, attempted_at, request_headers, request_body, status_code, response_excerpt, duration_ms, error \
             FROM webhook_attempts WHERE delivery_id IN ({}) ORDER BY id",
            crate::db::in_list(ids.len(), 1)
        );
        let attempts = query_with(sql, ids).fetch_all(&self.pool).await?;
        for r in &attempts {
            let delivery = get_i64(r, "delivery_id")?;
            if let Some(d) = out.iter_mut().find(|d| d.id == delivery) {
                d.log.push(Attempt {
                    attempted_at: get_str(r, "attempted_at")?,
                    request_headers: get_str(r, "request_headers")?,
                    request_body: get_str(r, "request_body")?,
                    status_code: get_opt_i64(r, "status_code")?,
                    response_excerpt: get_str(r, "response_excerpt")?,
                    duration_ms: get_i64(r, "duration_ms")?,
                    error: get_str(r, "error")?,
                });
            }
        }
        Ok(out)
    }

    /// Sends events again (再送): one event, or every event of the types the
    /// endpoint wants created since a time (at most 10,000). Each becomes a
    /// new delivery, in order behind the subject's earlier ones. Returns how
    /// many were queued.
    pub async fn replay_webhook(
        &self,
        endpoint_id: i64,
        what: &ReplayInput,
    ) -> Result<usize, StoreError> {
        let endpoint = self.webhook_endpoint(endpoint_id).await?;
        let now = self.clock.now_text();
        let rows = match what {
            ReplayInput::Event(event_id) => {
                let rows = sqlx::query(
                    "SELECT id, type, subject FROM webhook_events WHERE event_id = $1 AND is_test = 0",
                )
                .bind(event_id.trim().to_string())
                .fetch_all(&self.pool)
                .await?;
                if rows.is_empty() {
                    return Err(FieldErrors::single(
                        "event_id",
                        "not_found",
                        format!("イベント {event_id} はありません"),
                    )
                    .into());
                }
                rows
            }
            ReplayInput::Since(t) => {
                sqlx::query(
                    "SELECT id, type, subject FROM webhook_events WHERE created_at >= $1 AND is_test = 0 ORDER BY txid, id LIMIT 10000",
                )
                .bind(juchu_domain::time::format_ts(*t))
                .fetch_all(&self.pool)
                .await?
            }
        };
        let mut set = super::delivery_rows();
        let one = matches!(what, ReplayInput::Event(_));
        for r in &rows {
            let t = get_str(r, "type")?;
            if one || juchu_domain::webhook::wants(&endpoint.events, &t) {
                super::push_delivery(
                    &mut set,
                    endpoint_id,
                    get_i64(r, "id")?,
                    get_str(r, "subject")?,
                    true,
                    &now,
                );
            }
        }
        let n = set.len();
        let mut tx = self.begin().await?;
        crate::db::write_rows(&mut tx, self.backend, vec![set]).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Queues a test delivery (テスト送信, type `webhook.test`) to an endpoint,
    /// enabled or not; it never appears in the event feed.
    pub async fn test_webhook(&self, endpoint_id: i64) -> Result<String, StoreError> {
        self.webhook_endpoint(endpoint_id).await?;
        let now = self.clock.now_text();
        let event_id = crate::db::uuid_v4();
        let subject = format!("test:{endpoint_id}");
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO webhook_events (event_id, type, subject, data, created_at, is_test) VALUES ($1, $2, $3, $4, $5, 1) RETURNING id",
        )
        .bind(event_id.clone())
        .bind(TEST_EVENT)
        .bind(subject.clone())
        .bind(serde_json::json!({ "endpoint_id": endpoint_id, "message": "テスト送信" }).to_string())
        .bind(now.clone())
        .fetch_one(&mut *tx)
        .await?;
        let mut delivery = super::delivery_rows();
        super::push_delivery(
            &mut delivery,
            endpoint_id,
            get_i64(&row, "id")?,
            subject,
            false,
            &now,
        );
        crate::db::write_rows(&mut tx, self.backend, vec![delivery]).await?;
        tx.commit().await?;
        Ok(event_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> EndpointInput {
        EndpointInput {
            url: "https://example.com/hook".into(),
            description: String::new(),
            events: vec!["order.created".into()],
            secret: None,
            enabled: true,
        }
    }

    #[test]
    fn checks_name_the_field() {
        assert!(check(&input()).is_ok());
        let bad = |f: fn(&mut EndpointInput)| {
            let mut i = input();
            f(&mut i);
            check(&i).unwrap_err().0[0].field.clone()
        };
        assert_eq!(bad(|i| i.url = "ftp://x".into()), "url");
        assert_eq!(bad(|i| i.url = "https://a b".into()), "url");
        assert_eq!(bad(|i| i.events = vec![]), "events");
        assert_eq!(
            bad(|i| i.events = vec!["order.created".into(), "order.nope".into()]),
            "events[1]"
        );
        assert_eq!(bad(|i| i.secret = Some("short".into())), "secret");
    }
}
