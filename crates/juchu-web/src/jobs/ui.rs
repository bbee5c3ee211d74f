//! 一括処理 in the admin UI: the form for an operation on the orders selected
//! in 受注一覧 (with a dry run), ジョブ管理 with progress and downloads, the
//! notifications pushed to open pages (server-sent events), and CSV管理.

use crate::AppState;
use crate::auth::StaffSession;
use crate::views::{Nav, error_page, render, store_error_page};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juchu_domain::access::Permission;
use juchu_domain::job::{JobKind, JobStatus};
use juchu_store::StoreError;
use juchu_store::jobs::{JobPreview, NewJob, Selection};
use serde_json::{Value, json};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(jobs_page))
        .route("/jobs/new", get(new_job_page).post(new_job_submit))
        .route("/jobs/{id}/result", get(job_download))
        .route("/jobs/{id}/cancel", post(job_cancel))
        .route("/events", get(events))
        .route(
            "/settings/csv-formats",
            get(csv_formats_page).post(csv_format_add),
        )
        .route("/settings/csv-formats/{id}/delete", post(csv_format_delete))
}

/// The kinds the 受注一覧 offers.
pub(crate) fn offered_kinds() -> Vec<(&'static str, &'static str)> {
    [
        JobKind::BulkUpdate,
        JobKind::CsvExport,
        JobKind::CarrierExport,
        JobKind::PdfExport,
        JobKind::Dunning,
        JobKind::BulkMail,
        JobKind::PaymentChange,
    ]
    .iter()
    .map(|k| (k.code(), k.label()))
    .collect()
}

type Pairs = Vec<(String, String)>;

fn first<'a>(pairs: &'a Pairs, k: &str) -> &'a str {
    pairs
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

fn all<'a>(pairs: &'a Pairs, k: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(n, v)| n == k && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
        .collect()
}

/// The selection the list's bulk form carries: `scope` all (the search, as
/// `q_<filter>` fields), checked (`n`) or page (`page_n`).
fn selection_of(pairs: &Pairs) -> Result<Selection, String> {
    match first(pairs, "scope") {
        "checked" => {
            let n = all(pairs, "n");
            if n.is_empty() {
                return Err(
                    "受注がチェックされていません。受注一覧でチェックしてください。".into(),
                );
            }
            Ok(Selection::OrderNumbers(
                n.into_iter().map(String::from).collect(),
            ))
        }
        "page" => Ok(Selection::OrderNumbers(
            all(pairs, "page_n").into_iter().map(String::from).collect(),
        )),
        _ => {
            let params: HashMap<String, String> = pairs
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("q_").map(|k| (k.to_string(), v.clone())))
                .filter(|(k, v)| k != "page" && k != "per_page" && !v.is_empty())
                .collect();
            crate::query::order_query(&params, false)
                .map(|q| Selection::Query(Box::new(q)))
                .map_err(|e| e.messages())
        }
    }
}

/// The hidden fields that carry the selection on.
fn selection_fields(pairs: &Pairs) -> Pairs {
    pairs
        .iter()
        .filter(|(k, v)| {
            !v.is_empty() && (k == "scope" || k == "n" || k == "page_n" || k.starts_with("q_"))
        })
        .cloned()
        .collect()
}

fn date_param(params: &mut serde_json::Map<String, Value>, pairs: &Pairs, k: &str) {
    if first(pairs, &format!("clear_{k}")) == "true" {
        params.insert(k.into(), Value::Null);
    } else if !first(pairs, k).is_empty() {
        params.insert(k.into(), first(pairs, k).into());
    }
}

fn text_param(params: &mut serde_json::Map<String, Value>, pairs: &Pairs, k: &str) {
    if !first(pairs, k).is_empty() {
        params.insert(k.into(), first(pairs, k).into());
    }
}

fn bool_param(params: &mut serde_json::Map<String, Value>, pairs: &Pairs, k: &str) {
    match first(pairs, k) {
        "true" => {
            params.insert(k.into(), true.into());
        }
        "false" => {
            params.insert(k.into(), false.into());
        }
        _ => {}
    }
}

fn edit_param(params: &mut serde_json::Map<String, Value>, pairs: &Pairs, k: &str) {
    let mode = first(pairs, &format!("{k}_mode"));
    if !mode.is_empty() {
        params.insert(
            k.into(),
            json!({"mode": mode, "value": pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap_or("")}),
        );
    }
}

/// The job's parameters from the form.
fn params_of(kind: JobKind, pairs: &Pairs) -> Value {
    let mut p = serde_json::Map::new();
    match kind {
        JobKind::BulkUpdate => {
            for k in [
                "payment_method",
                "carrier",
                "handling_status",
                "shipping_list_state",
            ] {
                text_param(&mut p, pairs, k);
            }
            for k in [
                "scheduled_ship_date",
                "shipped_at",
                "scheduled_delivery_date",
                "delivered_at",
                "paid_at",
                "shipping_list_exported_on",
            ] {
                date_param(&mut p, pairs, k);
            }
            for k in ["memo", "customer_memo", "subscription_memo"] {
                edit_param(&mut p, pairs, k);
            }
            let labels_mode = first(pairs, "labels_mode");
            if !labels_mode.is_empty() {
                p.insert(
                    "labels".into(),
                    json!({"mode": labels_mode, "values": all(pairs, "label")}),
                );
            }
            for k in [
                "needs_attention",
                "subscription_needs_attention",
                "customer_blacklisted",
            ] {
                bool_param(&mut p, pairs, k);
            }
            for k in [
                "needs_attention_reason",
                "subscription_needs_attention_reason",
                "customer_blacklist_reason",
                "subscription_next_ship_date",
                "subscription_next_delivery_date",
                "subscription_status",
                "subscription_status_reason",
            ] {
                text_param(&mut p, pairs, k);
            }
            if first(pairs, "subscription_sync_dates") == "true" {
                p.insert("subscription_sync_dates".into(), true.into());
            }
        }
        JobKind::CsvExport => {
            if let Ok(id) = first(pairs, "format_id").parse::<i64>() {
                p.insert("format_id".into(), id.into());
            }
            text_param(&mut p, pairs, "encoding");
            if first(pairs, "shipping_list") == "true" {
                p.insert("shipping_list".into(), true.into());
            }
        }
        JobKind::Dunning => {
            text_param(&mut p, pairs, "memo");
            text_param(&mut p, pairs, "due_date");
        }
        JobKind::BulkMail => {
            if first(pairs, "mail_source") == "template" {
                text_param(&mut p, pairs, "template_code");
            } else {
                for k in ["subject", "body"] {
                    p.insert(k.into(), first(pairs, k).into());
                }
            }
            for k in ["cc", "bcc"] {
                let list: Vec<&str> = first(pairs, k)
                    .split([',', ' ', '、', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                if !list.is_empty() {
                    p.insert(k.into(), json!(list));
                }
            }
        }
        JobKind::PaymentChange => {
            text_param(&mut p, pairs, "process");
            text_param(&mut p, pairs, "subscription");
            text_param(&mut p, pairs, "subscription_reason");
            for k in ["decrement_count", "recalculate"] {
                if first(pairs, k) == "true" {
                    p.insert(k.into(), true.into());
                }
            }
        }
        JobKind::BlacklistRescan => {
            if let Ok(d) = first(pairs, "days").parse::<i64>() {
                p.insert("days".into(), d.into());
            }
        }
        JobKind::CarrierExport => {
            text_param(&mut p, pairs, "carrier_format");
            if first(pairs, "shipping_list") == "true" {
                p.insert("shipping_list".into(), true.into());
            }
        }
        // Registered from their upload pages, never from a selection.
        JobKind::ShipmentImport | JobKind::PaymentImport => {}
        JobKind::PdfExport => {
            text_param(&mut p, pairs, "document");
            text_param(&mut p, pairs, "issue_date");
            // 「標準のレイアウト」 sends an empty format.
            if let Ok(id) = first(pairs, "format_id").parse::<i64>() {
                p.insert("format_id".into(), id.into());
            }
        }
    }
    Value::Object(p)
}

#[derive(Template)]
#[template(path = "jobs/new.html")]
struct NewJobPage {
    nav: Nav,
    kind: &'static str,
    kind_label: &'static str,
    scope_label: String,
    count: String,
    hidden: Pairs,
    values: Pairs,
    errors: Vec<String>,
    preview: Option<JobPreview>,
    statuses: Vec<String>,
    payment_methods: Vec<(String, String)>,
    carriers: Vec<(String, String)>,
    labels: Vec<String>,
    blacklist_reasons: Vec<String>,
    subscription_reasons: Vec<String>,
    formats: Vec<(i64, String)>,
    /// 帳票管理's formats: (id, 「名前（納品書）」).
    document_formats: Vec<(i64, String)>,
    templates: Vec<(String, String, String, String)>,
    reminders: Vec<&'static str>,
}

impl NewJobPage {
    fn val(&self, k: &str) -> &str {
        first(&self.values, k)
    }
    fn is(&self, k: &str, v: &str) -> bool {
        first(&self.values, k) == v
    }
    fn has(&self, k: &str, v: &str) -> bool {
        all(&self.values, k).contains(&v)
    }
}

async fn new_job_view(
    st: &AppState,
    session: &StaffSession,
    pairs: Pairs,
    errors: Vec<String>,
    preview: Option<JobPreview>,
    status: StatusCode,
) -> Response {
    let Some(kind) = JobKind::parse(first(&pairs, "kind")).filter(|k| {
        !matches!(
            k,
            JobKind::BlacklistRescan | JobKind::ShipmentImport | JobKind::PaymentImport
        )
    }) else {
        return error_page(StatusCode::BAD_REQUEST, "一括処理の種類を選んでください");
    };
    let masters = match st.store.masters().await {
        Ok(m) => m,
        Err(e) => return store_error_page(e),
    };
    let (scope_label, count) = match selection_of(&pairs) {
        Err(e) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &e),
        Ok(Selection::OrderNumbers(n)) => (
            if first(&pairs, "scope") == "page" {
                "このページの受注"
            } else {
                "チェックした受注"
            }
            .to_string(),
            format!("{}件", n.len()),
        ),
        Ok(Selection::Query(q)) => {
            let q = juchu_store::OrderQuery {
                exact_total: true,
                per_page: 1,
                ..*q
            };
            match st.store.search_orders_with(&q, &masters).await {
                Ok(p) => ("検索結果すべて".to_string(), format!("{}件", p.total)),
                Err(e) => return store_error_page(e),
            }
        }
    };
    let blacklist_reasons = match st.store.blacklist_reasons().await {
        Ok(l) => l.into_iter().map(|r| r.name).collect(),
        Err(e) => return store_error_page(e),
    };
    let subscription_reasons = match st.store.subscription_reasons().await {
        Ok(r) => {
            let mut all = r.stop;
            all.extend(r.cancel);
            all.dedup();
            all
        }
        Err(e) => return store_error_page(e),
    };
    let formats = match st.store.csv_formats().await {
        Ok(l) => l.into_iter().map(|f| (f.id, f.name)).collect(),
        Err(e) => return store_error_page(e),
    };
    let document_formats = match st.store.document_formats().await {
        Ok(l) => l
            .into_iter()
            .map(|f| (f.id, format!("{}（{}）", f.name, f.kind.label())))
            .collect(),
        Err(e) => return store_error_page(e),
    };
    let templates = match st.store.mail_templates().await {
        Ok(l) => l
            .into_iter()
            .map(|t| (t.code, t.name, t.subject, t.body))
            .collect(),
        Err(e) => return store_error_page(e),
    };
    let reminders = match juchu_domain::job::JobParams::parse(kind, &params_of(kind, &pairs)) {
        Ok(juchu_domain::job::JobParams::BulkUpdate(u)) => u.reminders(),
        _ => Vec::new(),
    };
    let t = NewJobPage {
        nav: Nav::of(session),
        kind: kind.code(),
        kind_label: kind.label(),
        scope_label,
        count,
        hidden: selection_fields(&pairs),
        values: pairs,
        errors,
        preview,
        statuses: masters
            .handling_statuses
            .iter()
            .map(|s| s.name.clone())
            .collect(),
        payment_methods: masters
            .payment_methods
            .iter()
            .map(|p| (p.code.clone(), p.name.clone()))
            .collect(),
        carriers: masters
            .carriers
            .iter()
            .map(|c| (c.code.clone(), c.name.clone()))
            .collect(),
        labels: masters.labels.iter().map(|l| l.name.clone()).collect(),
        blacklist_reasons,
        subscription_reasons,
        formats,
        document_formats,
        templates,
        reminders,
    };
    render(status, &t)
}

async fn new_job_page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(pairs): Query<Pairs>,
) -> Response {
    new_job_view(&st, &session, pairs, Vec::new(), None, StatusCode::OK).await
}

async fn new_job_submit(
    State(st): State<AppState>,
    session: StaffSession,
    Form(pairs): Form<Pairs>,
) -> Response {
    let f: HashMap<String, String> = pairs.iter().cloned().collect();
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let Some(kind) = JobKind::parse(first(&pairs, "kind")) else {
        return error_page(StatusCode::BAD_REQUEST, "一括処理の種類を選んでください");
    };
    let selection = match selection_of(&pairs) {
        Ok(s) => s,
        Err(e) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &e),
    };
    let new = NewJob {
        kind,
        selection: Some(selection),
        params: params_of(kind, &pairs),
    };
    let shown = |e: StoreError| match e {
        StoreError::Invalid(fe) => Ok(fe.0.iter().map(|e| e.message.clone()).collect::<Vec<_>>()),
        other => Err(other),
    };
    if first(&pairs, "action") == "preview" {
        return match st.store.preview_job(new).await {
            Ok(p) => new_job_view(&st, &session, pairs, Vec::new(), Some(p), StatusCode::OK).await,
            Err(e) => match shown(e) {
                Ok(errors) => {
                    new_job_view(
                        &st,
                        &session,
                        pairs,
                        errors,
                        None,
                        StatusCode::UNPROCESSABLE_ENTITY,
                    )
                    .await
                }
                Err(e) => store_error_page(e),
            },
        };
    }
    match st.store.register_job(new, &session.actor()).await {
        Ok(job) => Redirect::to(&format!("/jobs?registered={}", job.id)).into_response(),
        Err(e) => match shown(e) {
            Ok(errors) => {
                new_job_view(
                    &st,
                    &session,
                    pairs,
                    errors,
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            Err(e) => store_error_page(e),
        },
    }
}

struct JobRow {
    id: i64,
    kind: &'static str,
    status: &'static str,
    status_code: &'static str,
    done: i64,
    total: i64,
    failed: i64,
    skipped: i64,
    progress: i64,
    created_by: String,
    created_at: String,
    finished_at: String,
    finished: bool,
    /// The result was deleted after the retention period.
    purged: bool,
    error: String,
}

#[derive(Template)]
#[template(path = "jobs/jobs.html")]
struct JobsPage {
    nav: Nav,
    flash: String,
    rows: Vec<JobRow>,
    any_running: bool,
    can_cancel: bool,
}

fn shown_ts(s: &str) -> String {
    juchu_domain::time::parse_ts(s)
        .map(juchu_domain::time::display_ts)
        .unwrap_or_else(|| s.to_string())
}

async fn jobs_page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let jobs = match st.store.jobs(100).await {
        Ok(j) => j,
        Err(e) => return store_error_page(e),
    };
    let flash = match q.get("registered").and_then(|id| id.parse::<i64>().ok()) {
        Some(id) => jobs
            .iter()
            .find(|j| j.id == id)
            .map(|j| juchu_domain::job::registered_notice(j.kind))
            .unwrap_or_default(),
        None if q.contains_key("cancelled") => "キャンセルしました。".into(),
        None => String::new(),
    };
    let rows: Vec<JobRow> = jobs
        .iter()
        .map(|j| JobRow {
            id: j.id,
            kind: j.kind.label(),
            status: j.status.label(),
            status_code: j.status.code(),
            done: j.done,
            total: j.total,
            failed: j.failed,
            skipped: j.skipped,
            progress: (j.done * 100).checked_div(j.total).unwrap_or(0),
            created_by: j.created_by.clone(),
            created_at: shown_ts(&j.created_at),
            finished_at: j.finished_at.as_deref().map(shown_ts).unwrap_or_default(),
            finished: j.status.is_finished(),
            purged: j.purged_at.is_some(),
            error: j.error.clone(),
        })
        .collect();
    let t = JobsPage {
        nav: Nav::of(&session),
        flash,
        any_running: rows.iter().any(|r| !r.finished),
        rows,
        can_cancel: session.role().allows(Permission::WriteOrders),
    };
    render(StatusCode::OK, &t)
}

async fn job_download(
    State(st): State<AppState>,
    _session: StaffSession,
    Path(id): Path<i64>,
) -> Response {
    match crate::job_files::result_response(&st.store, id).await {
        Ok(r) => r,
        Err(e) => store_error_page(e),
    }
}

async fn job_cancel(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    match st.store.cancel_job(id).await {
        Ok(_) => Redirect::to("/jobs?cancelled=1").into_response(),
        Err(e) => store_error_page(e),
    }
}

/// Server-sent events for the open admin pages: 「受注 … を登録しました。」
/// when a job is registered and 「… を完了しました。」 when it ends, whichever
/// process ran it (the jobs table is polled once a second).
async fn events(
    State(st): State<AppState>,
    _session: StaffSession,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    let start = st.store.clock.now_text();
    let token = crate::auth::cookie(&headers, crate::auth::SESSION_COOKIE)
        .unwrap_or_default()
        .to_string();
    let state = (
        st.store.clone(),
        start.clone(),
        HashMap::<i64, JobStatus>::new(),
        std::collections::VecDeque::<Event>::new(),
        0u32,
    );
    let stream = futures_util::stream::unfold(
        state,
        move |(store, mut since, mut seen, mut queue, mut ticks)| {
            let start = start.clone();
            let token = token.clone();
            async move {
                loop {
                    if let Some(ev) = queue.pop_front() {
                        return Some((
                            Ok::<_, std::convert::Infallible>(ev),
                            (store, since, seen, queue, ticks),
                        ));
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    // The stream ends with its session (ログアウト, expiry, a
                    // disabled member, a password reset): checked every 5 s.
                    ticks += 1;
                    if ticks % 5 == 0 && !matches!(store.session(&token).await, Ok(Some(_))) {
                        return None;
                    }
                    let Ok(changed) = store.jobs_changed_since(&since).await else {
                        continue;
                    };
                    for j in changed {
                        if j.updated_at > since {
                            since = j.updated_at.clone();
                        }
                        let prev = seen.insert(j.id, j.status);
                        let registered = prev.is_none() && j.created_at >= start;
                        let finished = j.status.is_finished()
                            && prev.is_none_or(|p| !p.is_finished())
                            && j.finished_at
                                .as_deref()
                                .is_some_and(|f| f >= start.as_str());
                        let mut notices = Vec::new();
                        if registered {
                            notices.push(juchu_domain::job::registered_notice(j.kind));
                        }
                        if finished {
                            notices.push(juchu_domain::job::finished_notice(j.kind, j.status));
                        }
                        for notice in notices {
                            let data = json!({
                                "id": j.id,
                                "status": j.status.code(),
                                "notice": notice,
                                "done": j.done,
                                "total": j.total,
                            });
                            queue.push_back(Event::default().event("job").data(data.to_string()));
                        }
                    }
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

// ---- CSV管理 ----

#[derive(Template)]
#[template(path = "jobs/csv_formats.html")]
struct CsvFormatsPage {
    nav: Nav,
    flash: String,
    form_error: String,
    rows: Vec<(i64, String, String)>,
    catalogue: Vec<(&'static str, &'static str, &'static str)>,
    can_edit: bool,
    name: String,
    definition: String,
}

const EXAMPLE_DEFINITION: &str = "項目,見出し\norder_number,受注番号\nordered_at,\nbilling_name,お名前\nbilling_postal_code,\nbilling_prefecture,\nbilling_address1,\nbilling_phone,\nitem_product_code,\nitem_quantity,\ntracking_number,\n";

async fn csv_formats_view(
    st: &AppState,
    session: &StaffSession,
    flash: String,
    form_error: String,
    (name, definition): (String, String),
    status: StatusCode,
) -> Response {
    let formats = match st.store.csv_formats().await {
        Ok(f) => f,
        Err(e) => return store_error_page(e),
    };
    let t = CsvFormatsPage {
        nav: Nav::of(session),
        flash,
        form_error,
        rows: formats
            .into_iter()
            .map(|f| {
                let what = format!(
                    "{}・{}・{}",
                    match f.row_per {
                        juchu_domain::csv_format::RowPer::Order => "受注ごと",
                        juchu_domain::csv_format::RowPer::Item => "受注商品ごと",
                    },
                    f.encoding.label(),
                    f.headers().join(" / ")
                );
                (f.id, f.name, what)
            })
            .collect(),
        catalogue: juchu_domain::csv_format::CATALOGUE
            .iter()
            .map(|(k, h, g)| (*k, *h, g.label()))
            .collect(),
        can_edit: session.role().allows(Permission::WriteMasters),
        name,
        definition: if definition.is_empty() {
            EXAMPLE_DEFINITION.into()
        } else {
            definition
        },
    };
    render(status, &t)
}

async fn csv_formats_page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = match q.get("done").map(String::as_str) {
        Some("added") => "フォーマットを追加しました。",
        Some("deleted") => "削除しました。",
        _ => "",
    };
    csv_formats_view(
        &st,
        &session,
        flash.into(),
        String::new(),
        (String::new(), String::new()),
        StatusCode::OK,
    )
    .await
}

async fn csv_format_add(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let name = f.get("name").cloned().unwrap_or_default();
    let definition = f.get("definition").cloned().unwrap_or_default();
    let result = match crate::job_files::format_from_definition(&f, definition.as_bytes()) {
        Ok(format) => st.store.add_csv_format(&format).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Redirect::to("/settings/csv-formats?done=added").into_response(),
        Err(StoreError::Invalid(e)) => {
            csv_formats_view(
                &st,
                &session,
                String::new(),
                format!("保存できません: {}", e.messages()),
                (name, definition),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn csv_format_delete(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    match st.store.delete_csv_format(id).await {
        Ok(()) => Redirect::to("/settings/csv-formats?done=deleted").into_response(),
        Err(e) => store_error_page(e),
    }
}
