//! Webhook endpoints, their delivery log, replay and test over the API, and
//! the pull feed of events (`GET /api/v1/events`).

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_store::webhooks::{Delivery, EndpointInput, ReplayInput, WebhookEndpoint};
use std::collections::HashMap;

/// A webhook endpoint.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookEndpointJson {
    pub id: i64,
    pub url: String,
    pub description: String,
    /// Event types it receives (`order.created`, …; `*` every type).
    pub events: Vec<String>,
    /// The signing secret: `Juchu-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.
    pub secret: String,
    pub enabled: bool,
    /// Failed attempts in a row; at the limit the endpoint is disabled.
    pub consecutive_failures: i64,
    /// Why the workers disabled it (empty otherwise).
    pub disabled_reason: String,
    pub disabled_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<WebhookEndpoint> for WebhookEndpointJson {
    fn from(e: WebhookEndpoint) -> Self {
        WebhookEndpointJson {
            id: e.id,
            url: e.url,
            description: e.description,
            events: e.events,
            secret: e.secret,
            enabled: e.enabled,
            consecutive_failures: e.consecutive_failures,
            disabled_reason: e.disabled_reason,
            disabled_at: e.disabled_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// Creates or replaces an endpoint.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointBody {
    /// https:// (or http://) on the public internet; private and loopback
    /// addresses are refused unless `JUCHU_WEBHOOK_ALLOW_PRIVATE=true`.
    pub url: String,
    /// Event types (`order.created`, `order.changed`, `order.shipped`, … or `*`).
    pub events: Vec<String>,
    /// 16–200 printable ASCII characters. Omitted: generated (create) or kept (replace).
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// One HTTP attempt of a delivery.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookAttemptJson {
    pub attempted_at: String,
    /// The headers sent, one `Name: value` per line.
    pub request_headers: String,
    pub request_body: String,
    /// None: no HTTP answer (timeout, refused connection or address).
    pub status_code: Option<i64>,
    /// The first 1,000 characters of the answer.
    pub response_excerpt: String,
    pub duration_ms: i64,
    pub error: String,
}

/// One event's delivery to the endpoint.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookDeliveryJson {
    pub id: i64,
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub subject: String,
    /// pending / sending / succeeded / failed
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_status_code: Option<i64>,
    pub last_error: String,
    /// Queued by a replay (再送).
    pub replay: bool,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub log: Vec<WebhookAttemptJson>,
}

impl From<Delivery> for WebhookDeliveryJson {
    fn from(d: Delivery) -> Self {
        WebhookDeliveryJson {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            subject: d.subject,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            replay: d.replay,
            created_at: d.created_at,
            finished_at: d.finished_at,
            log: d
                .log
                .into_iter()
                .map(|a| WebhookAttemptJson {
                    attempted_at: a.attempted_at,
                    request_headers: a.request_headers,
                    request_body: a.request_body,
                    status_code: a.status_code,
                    response_excerpt: a.response_excerpt,
                    duration_ms: a.duration_ms,
                    error: a.error,
                })
                .collect(),
        }
    }
}

/// What to send again: `event_id`, or `since` (RFC 3339) for every event of
/// the endpoint's types created since then. Exactly one of the two.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub since: Option<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReplayJson {
    /// Deliveries queued.
    pub queued: usize,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TestDeliveryJson {
    /// The test event's id (type `webhook.test`).
    pub event_id: String,
}

/// One event of the feed; a webhook's body is the same object.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EventJson {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EventListJson {
    pub events: Vec<EventJson>,
    /// Pass as `after` for the next page; the same `after` again when there
    /// was nothing new (null only when the feed is empty).
    pub next_after: Option<String>,
}

/// Checks the body and the URL's address (SSRF).
async fn read_input(st: &AppState, body: &[u8]) -> Result<EndpointInput, ApiError> {
    let b: WebhookEndpointBody = parse_json(body)?;
    if let Err(msg) = st.webhook_guard.check(&b.url).await {
        return Err(ApiError::invalid(FieldErrors::single(
            "url",
            "refused_url",
            msg,
        )));
    }
    Ok(EndpointInput {
        url: b.url,
        description: b.description,
        events: b.events,
        secret: b.secret,
        enabled: b.enabled,
    })
}

/// Lists the webhook endpoints.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints", tag = "webhooks",
    responses((status = 200, body = Vec<WebhookEndpointJson>)),
    security(("bearer" = [])))]
pub async fn list_endpoints(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<WebhookEndpointJson>>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    Ok(Json(
        st.store
            .webhook_endpoints()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Adds an endpoint. It receives events from now on (replay sends older ones).
#[utoipa::path(post, path = "/api/v1/webhook-endpoints", tag = "webhooks",
    request_body = WebhookEndpointBody,
    responses((status = 201, body = WebhookEndpointJson)),
    security(("bearer" = [])))]
pub async fn create_endpoint(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<WebhookEndpointJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let input = read_input(&st, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(st.store.create_webhook_endpoint(&input).await?.into()),
    ))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = WebhookEndpointJson)),
    security(("bearer" = [])))]
pub async fn get_endpoint(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<WebhookEndpointJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    Ok(Json(st.store.webhook_endpoint(id).await?.into()))
}

/// Replaces an endpoint. `enabled: true` on a disabled one clears its
/// failures; deliveries waiting for it go on in order.
#[utoipa::path(put, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = i64, Path)),
    request_body = WebhookEndpointBody,
    responses((status = 200, body = WebhookEndpointJson)),
    security(("bearer" = [])))]
pub async fn put_endpoint(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<WebhookEndpointJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let input = read_input(&st, &body).await?;
    Ok(Json(
        st.store.update_webhook_endpoint(id, &input).await?.into(),
    ))
}

/// Deletes an endpoint with its delivery log.
#[utoipa::path(delete, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 204)),
    security(("bearer" = [])))]
pub async fn delete_endpoint(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store.delete_webhook_endpoint(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The delivery log, newest first: each delivery with every attempt
/// (request headers and body, response code, body excerpt, duration).
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path), ("before" = Option<i64>, Query, description = "deliveries with a smaller id (next page)"),
        ("limit" = Option<i64>, Query, description = "1–500, default 50")),
    responses((status = 200, body = Vec<WebhookDeliveryJson>)),
    security(("bearer" = [])))]
pub async fn list_deliveries(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<WebhookDeliveryJson>>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let before = int_param(&q, "before")?;
    let limit = int_param(&q, "limit")?.unwrap_or(50);
    Ok(Json(
        st.store
            .webhook_deliveries(id, before, limit)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

fn int_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    match q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::invalid(FieldErrors::single(
                name,
                "invalid_number",
                format!("{name} は整数で指定してください（{v}）"),
            ))
        }),
    }
}

/// Sends events again (再送): one (`event_id`) or all of the endpoint's
/// types since a time (`since`). Receivers see the same event ids again.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/replay", tag = "webhooks", params(("id" = i64, Path)),
    request_body = ReplayBody,
    responses((status = 202, body = ReplayJson)),
    security(("bearer" = [])))]
pub async fn replay(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<(StatusCode, Json<ReplayJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: ReplayBody = parse_json(&body)?;
    let what = replay_input(b.event_id.as_deref(), b.since.as_deref())?;
    let queued = st.store.replay_webhook(id, &what).await?;
    Ok((StatusCode::ACCEPTED, Json(ReplayJson { queued })))
}

/// `event_id` or `since`, exactly one (the UI's form shares it).
pub(crate) fn replay_input(
    event_id: Option<&str>,
    since: Option<&str>,
) -> Result<ReplayInput, ApiError> {
    let event_id = event_id.map(str::trim).filter(|e| !e.is_empty());
    let since = since.map(str::trim).filter(|s| !s.is_empty());
    match (event_id, since) {
        (Some(e), None) => Ok(ReplayInput::Event(e.to_string())),
        (None, Some(s)) => s
            .parse::<jiff::Timestamp>()
            .map(ReplayInput::Since)
            .map_err(|_| {
                ApiError::invalid(FieldErrors::single(
                    "since",
                    "invalid_timestamp",
                    "since は RFC 3339 の日時で指定してください（例: 2026-12-01T00:00:00+09:00）",
                ))
            }),
        _ => Err(ApiError::invalid(FieldErrors::single(
            "event_id",
            "required",
            "event_id か since のどちらか一方を指定してください",
        ))),
    }
}

/// Sends a test event (`webhook.test`) once, enabled or not; see the log.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/test", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 202, body = TestDeliveryJson)),
    security(("bearer" = [])))]
pub async fn test_delivery(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<TestDeliveryJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let event_id = st.store.test_webhook(id).await?;
    Ok((StatusCode::ACCEPTED, Json(TestDeliveryJson { event_id })))
}

/// The event feed, for consumers that cannot receive webhooks: events after
/// `after` (an event id you received) in a stable order; reading on from
/// the last id never misses or repeats one. An event appears once the
/// transaction that wrote it and every older one have finished.
#[utoipa::path(get, path = "/api/v1/events", tag = "webhooks",
    params(("after" = Option<String>, Query, description = "an event id; omitted: from the first event"),
        ("limit" = Option<i64>, Query, description = "1–1000, default 100"),
        ("type" = Option<String>, Query, description = "only these types, comma-separated")),
    responses((status = 200, body = EventListJson)),
    security(("bearer" = [])))]
pub async fn list_events(
    caller: ApiCaller,
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<EventListJson>, ApiError> {
    caller.require(Permission::Read)?;
    let limit = int_param(&q, "limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(FieldErrors::single(
            "limit",
            "out_of_range",
            "limit は1〜1000で指定してください",
        )));
    }
    let types: Vec<String> = q
        .get("type")
        .map(|t| {
            t.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = types
        .iter()
        .find(|t| !juchu_domain::webhook::is_known_type(t) || *t == "*")
    {
        return Err(ApiError::invalid(FieldErrors::single(
            "type",
            "unknown_event",
            format!("「{bad}」というイベントはありません"),
        )));
    }
    let after = q.get("after").map(String::as_str);
    let events = st.store.events_after(after, limit, &types).await?;
    let next_after = events.last().map(|e| e.id.clone()).or_else(|| {
        after
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
    });
    Ok(Json(EventListJson {
        events: events
            .into_iter()
            .map(|e| EventJson {
                id: e.id,
                event_type: e.event_type,
                created_at: e.created_at,
                data: e.data,
            })
            .collect(),
        next_after,
    }))
}
