//! Webhook設定 in the admin: endpoints (add, edit, enable, delete), the
//! delivery log with every attempt, 再送 (one event or all since a time) and
//! テスト送信.

use crate::AppState;
use crate::auth::StaffSession;
use crate::views::*;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use juchu_domain::access::Permission;
use juchu_domain::time::{display_ts, parse_ts};
use juchu_domain::webhook::EVENT_TYPES;
use juchu_store::StoreError;
use juchu_store::webhooks::{Delivery, EndpointInput, WebhookEndpoint};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/webhooks", get(list_page).post(create))
        .route("/settings/webhooks/{id}", get(detail_page).post(save))
        .route("/settings/webhooks/{id}/test", post(test))
        .route("/settings/webhooks/{id}/replay", post(replay))
        .route("/settings/webhooks/{id}/delete", post(delete))
}

fn when(s: &str) -> String {
    parse_ts(s).map(display_ts).unwrap_or_else(|| s.to_string())
}

/// A checkbox per event type, ticked as the endpoint wants.
struct EventChoice {
    name: &'static str,
    label: &'static str,
    checked: bool,
}

fn choices(wanted: &[String]) -> Vec<EventChoice> {
    let all = wanted.iter().any(|w| w == "*");
    std::iter::once(("*", "すべてのイベント"))
        .chain(EVENT_TYPES.iter().copied())
        .map(|(name, label)| EventChoice {
            name,
            label,
            checked: if name == "*" {
                all
            } else {
                !all && wanted.iter().any(|w| w == name)
            },
        })
        .collect()
}

/// The form as sent (kept on a refused save).
#[derive(Default)]
struct EndpointForm {
    url: String,
    description: String,
    secret: String,
    enabled: bool,
    events: Vec<EventChoice>,
}

impl EndpointForm {
    fn of(e: &WebhookEndpoint) -> Self {
        EndpointForm {
            url: e.url.clone(),
            description: e.description.clone(),
            secret: String::new(),
            enabled: e.enabled,
            events: choices(&e.events),
        }
    }
}

fn read_form(f: &HashMap<String, String>) -> (EndpointInput, EndpointForm) {
    let wanted: Vec<String> = std::iter::once("*")
        .chain(EVENT_TYPES.iter().map(|(n, _)| *n))
        .filter(|n| f.contains_key(&format!("event:{n}")))
        .map(String::from)
        .collect();
    let wanted = if wanted.iter().any(|w| w == "*") {
        vec!["*".to_string()]
    } else {
        wanted
    };
    let text = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let secret = text("secret");
    let input = EndpointInput {
        url: text("url"),
        description: text("description"),
        events: wanted.clone(),
        secret: (!secret.is_empty()).then(|| secret.clone()),
        enabled: f.contains_key("enabled"),
    };
    let form = EndpointForm {
        url: input.url.clone(),
        description: input.description.clone(),
        secret,
        enabled: input.enabled,
        events: choices(&wanted),
    };
    (input, form)
}

struct EndpointRow {
    id: i64,
    url: String,
    description: String,
    events: String,
    enabled: bool,
    disabled_reason: String,
    failures: i64,
}

#[derive(Template)]
#[template(path = "webhooks/list.html")]
struct ListPage {
    nav: Nav,
    endpoints: Vec<EndpointRow>,
    form: EndpointForm,
    waiting: i64,
    flash: String,
    errors: Vec<String>,
}

fn messages(e: StoreError) -> Result<Vec<String>, StoreError> {
    match e {
        StoreError::Invalid(e) => Ok(e.0.into_iter().map(|f| f.message).collect()),
        other => Err(other),
    }
}

async fn list_view(
    st: &AppState,
    session: &StaffSession,
    form: EndpointForm,
    flash: &str,
    errors: Vec<String>,
) -> Response {
    let (endpoints, waiting) = match (
        st.store.webhook_endpoints().await,
        st.store.webhook_queue_depth().await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return store_error_page(e),
    };
    render(
        form_status(&errors),
        &ListPage {
            nav: Nav::of(session),
            endpoints: endpoints
                .into_iter()
                .map(|e| EndpointRow {
                    id: e.id,
                    url: e.url,
                    description: e.description,
                    events: e.events.join(", "),
                    enabled: e.enabled,
                    disabled_reason: e.disabled_reason,
                    failures: e.consecutive_failures,
                })
                .collect(),
            form,
            waiting,
            flash: flash.into(),
            errors,
        },
    )
}

async fn list_page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !session.role().allows(Permission::WriteMasters) {
        return forbidden();
    }
    let flash = match q.get("done").map(String::as_str) {
        Some("deleted") => "削除しました。",
        _ => "",
    };
    let form = EndpointForm {
        enabled: true,
        events: choices(&[]),
        ..Default::default()
    };
    list_view(&st, &session, form, flash, vec![]).await
}

/// Checks the URL's address (SSRF) the way the API does.
async fn guard(st: &AppState, input: &EndpointInput) -> Vec<String> {
    match st.webhook_guard.check(&input.url).await {
        Ok(()) => vec![],
        Err(m) => vec![format!("URL: {m}")],
    }
}

async fn create(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let (input, form) = read_form(&f);
    let refused = guard(&st, &input).await;
    if !refused.is_empty() {
        return list_view(&st, &session, form, "", refused).await;
    }
    match st.store.create_webhook_endpoint(&input).await {
        Ok(e) => Redirect::to(&format!("/settings/webhooks/{}?done=created", e.id)).into_response(),
        Err(e) => match messages(e) {
            Ok(errors) => list_view(&st, &session, form, "", errors).await,
            Err(e) => store_error_page(e),
        },
    }
}

struct AttemptRow {
    at: String,
    code: String,
    duration_ms: i64,
    excerpt: String,
    error: String,
    request_headers: String,
    request_body: String,
}

struct DeliveryRow {
    id: i64,
    event_id: String,
    event_type: String,
    subject: String,
    status: &'static str,
    status_class: &'static str,
    attempts: i64,
    next: String,
    last: String,
    created_at: String,
    replay: bool,
    log: Vec<AttemptRow>,
}

fn delivery_row(d: Delivery) -> DeliveryRow {
    let (status, status_class) = match d.status.as_str() {
        "succeeded" => ("成功", "st-done"),
        "failed" => ("失敗（再送待ちなし）", "st-error"),
        "sending" => ("送信中", "st-progress"),
        _ if d.attempts > 0 => ("再試行待ち", "st-progress"),
        _ => ("送信待ち", "st-open"),
    };
    DeliveryRow {
        id: d.id,
        event_id: d.event_id,
        event_type: d.event_type,
        subject: d.subject,
        status,
        status_class,
        attempts: d.attempts,
        next: if d.status == "pending" && d.attempts > 0 {
            when(&d.next_attempt_at)
        } else {
            String::new()
        },
        last: match (d.last_status_code, d.last_error.is_empty()) {
            (Some(c), _) => format!("HTTP {c}"),
            (None, false) => d.last_error,
            (None, true) => String::new(),
        },
        created_at: when(&d.created_at),
        replay: d.replay,
        log: d
            .log
            .into_iter()
            .rev()
            .map(|a| AttemptRow {
                at: when(&a.attempted_at),
                code: a
                    .status_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "応答なし".into()),
                duration_ms: a.duration_ms,
                excerpt: a.response_excerpt,
                error: a.error,
                request_headers: a.request_headers,
                request_body: a.request_body,
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "webhooks/detail.html")]
struct DetailPage {
    nav: Nav,
    id: i64,
    endpoint_url: String,
    secret: String,
    enabled: bool,
    disabled_reason: String,
    disabled_at: String,
    failures: i64,
    form: EndpointForm,
    deliveries: Vec<DeliveryRow>,
    flash: String,
    errors: Vec<String>,
}

async fn detail_view(
    st: &AppState,
    session: &StaffSession,
    id: i64,
    form: Option<EndpointForm>,
    flash: &str,
    errors: Vec<String>,
) -> Response {
    let (endpoint, deliveries) = match (
        st.store.webhook_endpoint(id).await,
        st.store.webhook_deliveries(id, None, 100).await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return store_error_page(e),
    };
    render(
        form_status(&errors),
        &DetailPage {
            nav: Nav::of(session),
            id,
            form: form.unwrap_or_else(|| EndpointForm::of(&endpoint)),
            endpoint_url: endpoint.url,
            secret: endpoint.secret,
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason,
            disabled_at: endpoint
                .disabled_at
                .as_deref()
                .map(when)
                .unwrap_or_default(),
            failures: endpoint.consecutive_failures,
            deliveries: deliveries.into_iter().map(delivery_row).collect(),
            flash: flash.into(),
            errors,
        },
    )
}

async fn detail_page(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !session.role().allows(Permission::WriteMasters) {
        return forbidden();
    }
    let flash = match q.get("done").map(String::as_str) {
        Some("created") => {
            "追加しました。これから起きるイベントを送ります（過去のものは「再送」で送れます）。"
        }
        Some("saved") => "保存しました。",
        Some("test") => "テスト送信を登録しました。数秒後に下の送信履歴に結果が出ます。",
        Some("replayed") => "再送を登録しました。",
        Some("nothing") => "再送するイベントはありませんでした。",
        _ => "",
    };
    detail_view(&st, &session, id, None, flash, vec![]).await
}

async fn save(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let (input, form) = read_form(&f);
    let refused = guard(&st, &input).await;
    if !refused.is_empty() {
        return detail_view(&st, &session, id, Some(form), "", refused).await;
    }
    match st.store.update_webhook_endpoint(id, &input).await {
        Ok(_) => Redirect::to(&format!("/settings/webhooks/{id}?done=saved")).into_response(),
        Err(e) => match messages(e) {
            Ok(errors) => detail_view(&st, &session, id, Some(form), "", errors).await,
            Err(e) => store_error_page(e),
        },
    }
}

async fn test(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    match st.store.test_webhook(id).await {
        Ok(_) => Redirect::to(&format!("/settings/webhooks/{id}?done=test")).into_response(),
        Err(e) => store_error_page(e),
    }
}

async fn replay(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    // The form's date and time are Japan time.
    let since = f
        .get("since")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(
            |s| match jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M", s) {
                Ok(dt) => dt
                    .to_zoned_datetime(juchu_domain::time::japan())
                    .map(|z| z.timestamp().to_string())
                    .unwrap_or_else(|_| s.to_string()),
                Err(_) => s.to_string(),
            },
        );
    let what = match crate::webhooks::api::replay_input(
        f.get("event_id").map(String::as_str),
        since.as_deref(),
    ) {
        Ok(w) => w,
        Err(e) => {
            return detail_view(&st, &session, id, None, "", vec![e.body.message.clone()]).await;
        }
    };
    match st.store.replay_webhook(id, &what).await {
        Ok(0) => Redirect::to(&format!("/settings/webhooks/{id}?done=nothing")).into_response(),
        Ok(_) => Redirect::to(&format!("/settings/webhooks/{id}?done=replayed")).into_response(),
        Err(e) => match messages(e) {
            Ok(errors) => detail_view(&st, &session, id, None, "", errors).await,
            Err(e) => store_error_page(e),
        },
    }
}

async fn delete(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    match st.store.delete_webhook_endpoint(id).await {
        Ok(()) => Redirect::to("/settings/webhooks?done=deleted").into_response(),
        Err(e) => store_error_page(e),
    }
}
