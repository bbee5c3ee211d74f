//! Delivery by the workers: fan-out of new events to the endpoints that want
//! them, claims with a lease, the signed HTTP request (through a
//! [`WebhookSender`]), the attempt log, retries with backoff, and disabling
//! an endpoint that keeps failing.

use super::feed::event_of;
use crate::StoreError;
use crate::db::{Arg, Store, get_i64, get_str, write_rows};
use juchu_domain::webhook::{MAX_ATTEMPTS, excerpt, retry_delay, wants};

/// How the workers deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The first retry waits this long; each next one twice as long (≤ 6 h).
    pub retry_base_secs: u64,
    /// Failed attempts in a row after which an endpoint is disabled.
    pub disable_after: i64,
    /// How long a claimed delivery is another worker's (a worker that died
    /// mid-delivery: after this it is sent again).
    pub lease_secs: i64,
    /// Deliveries sent at once by one worker.
    pub concurrency: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            retry_base_secs: 30,
            disable_after: 50,
            lease_secs: 120,
            concurrency: 16,
        }
    }
}

/// One signed request, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What came back (or why nothing did).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookResponse {
    /// None: no HTTP answer (refused address, connection error, timeout).
    pub status: Option<u16>,
    pub body: String,
    pub duration_ms: i64,
    pub error: String,
}

impl WebhookResponse {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

pub type SendFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = WebhookResponse> + Send + 'a>>;

/// Where the worker hands requests over (the HTTP client in `juchu-adapters`).
pub trait WebhookSender: Send + Sync {
    fn send<'a>(&'a self, request: &'a WebhookRequest) -> SendFuture<'a>;
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookDeliveryReport {
    pub fanned_out: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub disabled: Vec<i64>,
}

/// `Juchu-Signature`'s value: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`
/// (Stripe's scheme: the timestamp is signed, so a receiver can refuse old
/// replays of a captured request).
pub fn sign(secret: &str, t: i64, body: &str) -> Result<String, StoreError> {
    let v1 = crate::db::hmac_sha256_hex(secret.as_bytes(), format!("{t}.{body}").as_bytes())?;
    Ok(format!("t={t},v1={v1}"))
}

/// A claimed delivery, with what its request needs.
struct Claimed {
    id: i64,
    endpoint_id: i64,
    attempts: i64,
    url: String,
    secret: String,
    event: super::FeedEvent,
}

impl Store {
    /// One round: new events fanned out, then up to `limit` due deliveries
    /// sent (`settings.concurrency` at a time) and recorded.
    pub async fn deliver_webhooks(
        &self,
        sender: &dyn WebhookSender,
        settings: &WebhookSettings,
        limit: i64,
    ) -> Result<WebhookDeliveryReport, StoreError> {
        let mut report = WebhookDeliveryReport {
            fanned_out: self.fan_out_webhooks(1000).await?,
            ..Default::default()
        };
        let claimed = self.claim_webhook_deliveries(settings, limit).await?;
        let t = self.clock.now().as_second();
        let prepared = claimed
            .into_iter()
            .map(|c| {
                let body = c.event.body();
                let request = WebhookRequest {
                    url: c.url.clone(),
                    headers: vec![
                        ("Content-Type".into(), "application/json".into()),
                        ("User-Agent".into(), "juchu-webhooks/1".into()),
                        ("Juchu-Signature".into(), sign(&c.secret, t, &body)?),
                        ("Juchu-Event-Id".into(), c.event.id.clone()),
                        ("Juchu-Event-Type".into(), c.event.event_type.clone()),
                        ("Juchu-Delivery-Id".into(), c.id.to_string()),
                        ("Juchu-Attempt".into(), (c.attempts + 1).to_string()),
                    ],
                    body,
                };
                Ok((c, request))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        use futures_util::StreamExt as _;
        let results: Vec<(Claimed, WebhookRequest, WebhookResponse)> =
            futures_util::stream::iter(prepared)
                .map(|(c, request)| async move {
                    let response = sender.send(&request).await;
                    (c, request, response)
                })
                .buffer_unordered(settings.concurrency.max(1))
                .collect()
                .await;
        for (c, request, response) in results {
            if response.succeeded() {
                report.succeeded += 1;
            } else {
                report.failed += 1;
            }
            if self
                .record_attempt(&c, &request, &response, settings)
                .await?
            {
                report.disabled.push(c.endpoint_id);
            }
        }
        Ok(report)
    }

    /// Creates deliveries for the events each enabled endpoint has not seen
    /// yet, at most `limit` events per endpoint. Endpoints are locked
    /// (`SKIP LOCKED`): two workers never fan out one endpoint twice.
    pub(crate) async fn fan_out_webhooks(&self, limit: i64) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
        let endpoints = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, events, cursor_txid, cursor_id FROM webhook_endpoints WHERE enabled = 1 ORDER BY id{}",
            self.lock_suffix()
        )))
        .fetch_all(&mut *tx)
        .await?;
        let now = self.clock.now_text();
        let mut made = 0;
        for ep in &endpoints {
            let endpoint_id = get_i64(ep, "id")?;
            let wanted: Vec<String> = serde_json::from_str(&get_str(ep, "events")?)
                .map_err(|e| StoreError::Other(format!("webhook endpoint events: {e}")))?;
            let (txid, id) = (get_i64(ep, "cursor_txid")?, get_i64(ep, "cursor_id")?);
            let events = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, txid, type, subject FROM webhook_events WHERE {} ORDER BY txid, id LIMIT $3",
                super::after_cursor(self.backend)
            )))
            .bind(txid)
            .bind(id)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = events.last() else { continue };
            let mut rows = super::delivery_rows();
            for e in &events {
                if wants(&wanted, &get_str(e, "type")?) {
                    super::push_delivery(
                        &mut rows,
                        endpoint_id,
                        get_i64(e, "id")?,
                        get_str(e, "subject")?,
                        false,
                        &now,
                    );
                }
            }
            made += rows.len();
            write_rows(&mut tx, self.backend, vec![rows]).await?;
            sqlx::query(
                "UPDATE webhook_endpoints SET cursor_txid = $1, cursor_id = $2 WHERE id = $3",
            )
            .bind(get_i64(last, "txid")?)
            .bind(get_i64(last, "id")?)
            .bind(endpoint_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(made)
    }

    /// Claims due deliveries of enabled endpoints, oldest first, none behind
    /// an unfinished earlier delivery of its subject to its endpoint, and
    /// leases them for `lease_secs`.
    async fn claim_webhook_deliveries(
        &self,
        settings: &WebhookSettings,
        limit: i64,
    ) -> Result<Vec<Claimed>, StoreError> {
        let lock = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE OF d SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT d.id, d.endpoint_id, d.attempts, d.event_id AS event_row, p.url, p.secret \
             FROM webhook_deliveries d JOIN webhook_endpoints p ON p.id = d.endpoint_id \
             WHERE d.status IN ('pending', 'sending') AND d.next_attempt_at <= $1 \
             AND (p.enabled = 1 OR d.subject LIKE 'test:%') \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o WHERE o.endpoint_id = d.endpoint_id \
                 AND o.subject = d.subject AND o.id < d.id AND o.status IN ('pending', 'sending')) \
             ORDER BY d.id LIMIT $2{lock}"
        )))
        .bind(now.clone())
        .bind(limit.clamp(1, 1000))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let lease = juchu_domain::time::format_ts(
            self.clock
                .now()
                .checked_add(jiff::SignedDuration::from_secs(settings.lease_secs.max(1)))
                .unwrap_or(self.clock.now()),
        );
        let ids: Vec<Arg> = rows
            .iter()
            .map(|r| get_i64(r, "id").map(Arg::from))
            .collect::<Result<_, _>>()?;
        let mut args = vec![Arg::from(lease)];
        args.extend(ids.iter().cloned());
        crate::db::query_with(
            format!(
                "UPDATE webhook_deliveries SET status = 'sending', next_attempt_at = $1 WHERE id IN ({})",
                crate::db::in_list(ids.len(), 2)
            ),
            args,
        )
        .execute(&mut *tx)
        .await?;
        let event_ids: Vec<Arg> = rows
            .iter()
            .map(|r| get_i64(r, "event_row").map(Arg::from))
            .collect::<Result<_, _>>()?;
        let events = crate::db::query_with(
            format!(
                "SELECT id, event_id, type, created_at, data FROM webhook_events WHERE id IN ({})",
                crate::db::in_list(event_ids.len(), 1)
            ),
            event_ids,
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut by_id = std::collections::HashMap::new();
        for e in &events {
            by_id.insert(get_i64(e, "id")?, event_of(e)?);
        }
        rows.iter()
            .map(|r| {
                let event = by_id
                    .get(&get_i64(r, "event_row")?)
                    .cloned()
                    .ok_or(StoreError::NotFound("イベント"))?;
                Ok(Claimed {
                    id: get_i64(r, "id")?,
                    endpoint_id: get_i64(r, "endpoint_id")?,
                    attempts: get_i64(r, "attempts")?,
                    url: get_str(r, "url")?,
                    secret: get_str(r, "secret")?,
                    event,
                })
            })
            .collect()
    }

    /// Writes an attempt to the log and moves its delivery on: succeeded,
    /// retried later, or failed after [`MAX_ATTEMPTS`]. The endpoint's
    /// failures in a row are counted; at `disable_after` it is disabled with
    /// the reason shown in the admin. Returns whether it was disabled now.
    async fn record_attempt(
        &self,
        c: &Claimed,
        request: &WebhookRequest,
        response: &WebhookResponse,
        settings: &WebhookSettings,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now_text();
        let attempts = c.attempts + 1;
        let mut tx = self.begin().await?;
        let headers = request
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n");
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempted_at, request_headers, request_body, status_code, response_excerpt, duration_ms, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.id)
        .bind(now.clone())
        .bind(headers)
        .bind(excerpt(&request.body))
        .bind(response.status.map(i64::from))
        .bind(excerpt(&response.body))
        .bind(response.duration_ms)
        .bind(excerpt(&response.error))
        .execute(&mut *tx)
        .await?;
        let code = response.status.map(i64::from);
        let is_test = c.event.event_type == juchu_domain::webhook::TEST_EVENT;
        if response.succeeded() {
            sqlx::query("UPDATE webhook_deliveries SET status = 'succeeded', attempts = $1, last_status_code = $2, last_error = '', finished_at = $3 WHERE id = $4")
                .bind(attempts)
                .bind(code)
                .bind(now.clone())
                .bind(c.id)
                .execute(&mut *tx)
                .await?;
            if !is_test {
                sqlx::query("UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = $1")
                    .bind(c.endpoint_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            return Ok(false);
        }
        let error = if response.error.is_empty() {
            format!("HTTP {}", response.status.unwrap_or(0))
        } else {
            response.error.clone()
        };
        // A test delivery is tried once: it tells the operator what happens now.
        let give_up = attempts >= MAX_ATTEMPTS || is_test;
        let next = juchu_domain::time::format_ts(
            self.clock
                .now()
                .checked_add(jiff::SignedDuration::from_secs(retry_delay(
                    attempts,
                    settings.retry_base_secs,
                ) as i64))
                .unwrap_or(self.clock.now()),
        );
        sqlx::query("UPDATE webhook_deliveries SET status = $1, attempts = $2, last_status_code = $3, last_error = $4, next_attempt_at = $5, finished_at = $6 WHERE id = $7")
            .bind(if give_up { "failed" } else { "pending" })
            .bind(attempts)
            .bind(code)
            .bind(excerpt(&error))
            .bind(next)
            .bind(give_up.then(|| now.clone()))
            .bind(c.id)
            .execute(&mut *tx)
            .await?;
        let mut disabled = false;
        if !is_test {
            let row = sqlx::query(
                "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 WHERE id = $1 RETURNING consecutive_failures, enabled",
            )
            .bind(c.endpoint_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row
                && get_i64(&row, "consecutive_failures")? >= settings.disable_after
                && get_i64(&row, "enabled")? == 1
            {
                sqlx::query("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, disabled_at = $2, updated_at = $2 WHERE id = $3")
                    .bind(format!(
                        "{}回続けて送信に失敗したため停止しました（最後: {}）。受信側を直してから有効にしてください。届かなかったイベントは有効にすると続きから送られます",
                        settings.disable_after,
                        excerpt(&error).chars().take(200).collect::<String>()
                    ))
                    .bind(now)
                    .bind(c.endpoint_id)
                    .execute(&mut *tx)
                    .await?;
                disabled = true;
            }
        }
        tx.commit().await?;
        Ok(disabled)
    }

    /// Deliveries waiting (pending or being sent), for /metrics and the admin.
    pub async fn webhook_queue_depth(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(get_i64(&row, "n")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_stripes_scheme() {
        // HMAC-SHA256("secret", "1700000000.{}") computed independently
        // (Python: hmac.new(b"secret", b"1700000000.{}", "sha256").hexdigest()).
        let s = sign("secret", 1_700_000_000, "{}").unwrap();
        assert_eq!(
            s,
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
        assert_ne!(s, sign("secret2", 1_700_000_000, "{}").unwrap());
        assert_ne!(s, sign("secret", 1_700_000_001, "{}").unwrap());
    }
}
