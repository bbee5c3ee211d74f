//! 受信BOX: requests with the filters the seed's 受信BOX has (申請種別, status,
//! product, received and completed dates, operator, tag, customer), counts per
//! status, the answers in display order and the subscription's current dates
//! beside them; a request's page handles it (status, operator, tags, memo,
//! manual pause / skip / cancel / cycle change with a preview, 再実行).

use crate::AppState;
use crate::auth::StaffSession;
use crate::requests::display;
use crate::requests::handling_api::{ApplyBody, RequestPatch, apply_commands, patch_commands};
use crate::views::*;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use juchu_domain::access::Permission;
use juchu_domain::request::RequestStatus;
use juchu_store::requests::{Request, RequestHistoryEntry, RequestQuery, SubscriptionDates};
use juchu_store::{RequestCommand, StoreError};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/requests", get(list))
        .route("/requests/{id}", get(detail))
        .route("/requests/{id}/handle", post(handle))
        .route("/requests/{id}/apply", post(apply))
        .route("/requests/{id}/rerun", post(rerun))
}

struct Row {
    id: i64,
    received_at: String,
    completed_at: String,
    customer_id: i64,
    subscription_id: String,
    request_type: String,
    status: String,
    status_class: &'static str,
    status_reason: String,
    channel: String,
    product: String,
    answers: Vec<(String, String)>,
    offer: String,
    tags: String,
    operator: String,
    next_delivery: String,
    next_ship: String,
    sub_status: String,
}

fn status_class(s: RequestStatus) -> &'static str {
    match s {
        RequestStatus::Open => "st-open",
        RequestStatus::InProgress => "st-progress",
        RequestStatus::Completed => "st-done",
        RequestStatus::Refused => "st-refused",
        RequestStatus::Error => "st-error",
        RequestStatus::NoRule => "st-norule",
    }
}

fn sub_status_label(code: &str) -> String {
    juchu_domain::status::SubscriptionStatus::parse(code)
        .map(|s| s.label().to_string())
        .unwrap_or_else(|| code.to_string())
}

fn row(r: &Request, dates: &HashMap<i64, SubscriptionDates>, staff: &HashMap<i64, String>) -> Row {
    let d = r.subscription_id.and_then(|s| dates.get(&s));
    Row {
        id: r.id,
        received_at: display(&r.received_at),
        completed_at: r.completed_at.as_deref().map(display).unwrap_or_default(),
        customer_id: r.customer_id,
        subscription_id: r.subscription_id.map(|s| s.to_string()).unwrap_or_default(),
        request_type: r.request_type.clone(),
        status: r.status.label().into(),
        status_class: status_class(r.status),
        status_reason: r.status_reason.clone(),
        channel: r.channel.label().into(),
        product: r.product.clone(),
        answers: r
            .answers
            .iter()
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect(),
        offer: r.offer.map(|o| o.label().to_string()).unwrap_or_default(),
        tags: r.tags.join("、"),
        operator: r
            .operator_id
            .map(|o| staff.get(&o).cloned().unwrap_or_else(|| format!("#{o}")))
            .unwrap_or_default(),
        next_delivery: d.map(|d| d.next_delivery.clone()).unwrap_or_default(),
        next_ship: d.map(|d| d.next_ship.clone()).unwrap_or_default(),
        sub_status: d.map(|d| sub_status_label(&d.status)).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "requests/inbox.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    counts: Vec<(&'static str, &'static str, i64)>,
    total: i64,
    f: HashMap<String, String>,
    staff: Vec<(i64, String)>,
    tags: Vec<String>,
    types: Vec<&'static str>,
    next: Option<String>,
    all_url: String,
    errors: Vec<String>,
}

impl ListPage {
    fn v(&self, k: &str) -> String {
        self.f.get(k).cloned().unwrap_or_default()
    }
    fn is(&self, k: &str, v: &str) -> bool {
        self.f.get(k).is_some_and(|x| x == v)
    }
    fn status_url(&self, code: &str) -> String {
        let mut f = self.f.clone();
        f.insert("status".into(), code.into());
        f.remove("before");
        url_with(&f)
    }
}

fn url_with(f: &HashMap<String, String>) -> String {
    let mut pairs: Vec<(&String, &String)> = f.iter().filter(|(_, v)| !v.is_empty()).collect();
    pairs.sort();
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect();
    format!("/requests?{}", q.join("&"))
}

/// The filters as a query; bad dates are said, not ignored.
fn query_of(f: &HashMap<String, String>, errors: &mut Vec<String>) -> RequestQuery {
    let g = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let mut date = |k: &str, label: &str| {
        let v = g(k);
        if v.is_empty() {
            return None;
        }
        match juchu_domain::time::parse_date(&v) {
            Ok(d) => Some(d),
            Err(m) => {
                errors.push(format!("{label}: {m}"));
                None
            }
        }
    };
    RequestQuery {
        customer_id: g("customer_id").parse().ok(),
        status: RequestStatus::parse(&g("status")),
        request_type: Some(g("type")).filter(|t| !t.is_empty()),
        product: Some(g("product")).filter(|t| !t.is_empty()),
        received_from: date("received_from", "受付日（から）"),
        received_to: date("received_to", "受付日（まで）"),
        completed_from: date("completed_from", "対応完了日（から）"),
        completed_to: date("completed_to", "対応完了日（まで）"),
        operator_id: g("operator_id").parse().ok(),
        tag: Some(g("tag")).filter(|t| !t.is_empty()),
        before_id: g("before").parse().ok(),
        limit: 100,
        subscription_id: g("subscription_id").parse().ok(),
        keyset: Default::default(),
    }
}

async fn staff_names(st: &AppState) -> Result<Vec<(i64, String)>, StoreError> {
    Ok(st
        .store
        .list_staff()
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect())
}

async fn list(
    State(st): State<AppState>,
    session: StaffSession,
    Query(f): Query<HashMap<String, String>>,
) -> Response {
    let mut errors = Vec::new();
    let query = query_of(&f, &mut errors);
    let (list, counts, staff, tags) = match (
        st.store.requests(&query).await,
        st.store.request_counts(&query).await,
        staff_names(&st).await,
        st.store.request_tags().await,
    ) {
        (Ok(l), Ok(c), Ok(s), Ok(t)) => (l, c, s, t),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            return store_error_page(e);
        }
    };
    let subs: Vec<i64> = list.iter().filter_map(|r| r.subscription_id).collect();
    let dates = match st.store.subscription_dates(&subs).await {
        Ok(d) => d,
        Err(e) => return store_error_page(e),
    };
    let staff_map: HashMap<i64, String> = staff.iter().cloned().collect();
    let next = (list.len() as i64 == query.limit)
        .then(|| list.last().map(|r| r.id))
        .flatten()
        .map(|id| {
            let mut f = f.clone();
            f.insert("before".into(), id.to_string());
            url_with(&f)
        });
    let mut all = f.clone();
    all.remove("status");
    all.remove("before");
    render(
        StatusCode::OK,
        &ListPage {
            nav: Nav::of(&session),
            rows: list.iter().map(|r| row(r, &dates, &staff_map)).collect(),
            total: counts.iter().map(|c| c.1).sum(),
            counts: counts
                .iter()
                .map(|(s, n)| (s.code(), s.label(), *n))
                .collect(),
            f,
            staff,
            tags,
            types: vec![
                juchu_domain::request::CANCEL,
                juchu_domain::request::PAUSE,
                juchu_domain::request::SKIP,
                juchu_domain::request::CYCLE_CHANGE,
                juchu_domain::request::RETENTION,
            ],
            next,
            all_url: url_with(&all),
            errors,
        },
    )
}

#[derive(Template)]
#[template(path = "requests/inbox_detail.html")]
struct DetailPage {
    nav: Nav,
    r: Row,
    raw_status: &'static str,
    memo: String,
    answers: Vec<(String, String, String)>,
    history: Vec<RequestHistoryEntry>,
    staff: Vec<(i64, String)>,
    operator_id: Option<i64>,
    tags: Vec<(String, bool)>,
    statuses: Vec<(&'static str, &'static str)>,
    reasons: Vec<String>,
    can_rerun: bool,
    can_apply: bool,
    /// The new dates of a preview: (summary, next delivery, next ship, status).
    preview: Option<(String, String, String, String)>,
    apply: HashMap<String, String>,
    errors: Vec<String>,
    flash: String,
}

impl DetailPage {
    fn applied(&self, k: &str, v: &str) -> bool {
        self.apply.get(k).is_some_and(|x| x == v)
    }
    fn apply_value(&self, k: &str) -> String {
        self.apply.get(k).cloned().unwrap_or_default()
    }
    fn is_operator(&self, id: &i64) -> bool {
        self.operator_id == Some(*id)
    }
}

async fn detail_page(
    st: &AppState,
    session: &StaffSession,
    id: i64,
    preview: Option<(String, String, String, String)>,
    apply: HashMap<String, String>,
    errors: Vec<String>,
    flash: String,
) -> Response {
    let (r, mut history) = match (
        st.store.request(id).await,
        st.store.request_history(id).await,
    ) {
        (Ok(r), Ok(h)) => (r, h),
        (Err(e), _) | (_, Err(e)) => return store_error_page(e),
    };
    for h in &mut history {
        h.at = display(&h.at);
    }
    let (staff, known_tags, reasons) = match (
        staff_names(st).await,
        st.store.request_tags().await,
        st.store.subscription_reasons().await,
    ) {
        (Ok(s), Ok(t), Ok(x)) => (s, t, x),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return store_error_page(e),
    };
    let dates = match st
        .store
        .subscription_dates(&r.subscription_id.into_iter().collect::<Vec<_>>())
        .await
    {
        Ok(d) => d,
        Err(e) => return store_error_page(e),
    };
    let labels: HashMap<String, String> = match r.form_id {
        Some(f) => match st.store.request_form(f).await {
            Ok(form) => form
                .questions
                .into_iter()
                .map(|q| (q.field, q.label))
                .collect(),
            Err(_) => HashMap::new(),
        },
        None => HashMap::new(),
    };
    let answers = r
        .answers
        .iter()
        .map(|a| {
            let label = labels.get(&a.name).cloned().unwrap_or_else(|| {
                juchu_domain::request::FieldName::parse(&a.name)
                    .and_then(|f| f.fixed_label())
                    .unwrap_or("")
                    .to_string()
            });
            (a.name.clone(), label, a.value.clone())
        })
        .collect();
    let mut tags: Vec<(String, bool)> = known_tags
        .iter()
        .map(|t| (t.clone(), r.tags.contains(t)))
        .collect();
    // A tag the request has that left the master stays visible (and kept).
    for t in &r.tags {
        if !known_tags.contains(t) {
            tags.push((t.clone(), true));
        }
    }
    let staff_map: HashMap<i64, String> = staff.iter().cloned().collect();
    let mut apply = apply;
    if !apply.contains_key("action") {
        let guess = juchu_domain::request_rule::RuleType::for_request_type(&r.request_type)
            .map(|t| t.label())
            .unwrap_or(juchu_domain::request::PAUSE);
        apply.insert("action".into(), guess.into());
        apply.insert(
            "period".into(),
            match guess {
                juchu_domain::request::PAUSE => r.answer("col_2").unwrap_or_default(),
                juchu_domain::request::CYCLE_CHANGE => r.answer("col_3").unwrap_or_default(),
                _ => String::new(),
            },
        );
    }
    let status = form_status(&errors);
    render(
        status,
        &DetailPage {
            nav: Nav::of(session),
            raw_status: r.status.code(),
            memo: r.memo.clone(),
            operator_id: r.operator_id,
            can_rerun: matches!(r.status, RequestStatus::NoRule | RequestStatus::Error),
            can_apply: r.subscription_id.is_some()
                && !matches!(r.status, RequestStatus::Completed | RequestStatus::Refused),
            r: row(&r, &dates, &staff_map),
            answers,
            history,
            staff,
            tags,
            statuses: [
                RequestStatus::Open,
                RequestStatus::InProgress,
                RequestStatus::Completed,
                RequestStatus::Refused,
            ]
            .iter()
            .map(|s| (s.code(), s.label()))
            .collect(),
            reasons: reasons.cancel,
            preview,
            apply,
            errors,
            flash,
        },
    )
}

async fn detail(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = match q.get("done").map(String::as_str) {
        Some("saved") => "保存しました。",
        Some("applied") => "定期受注に反映し、対応完了にしました。",
        Some("rerun") => "再実行します。自動処理が次に処理します。",
        _ => "",
    };
    detail_page(
        &st,
        &session,
        id,
        None,
        HashMap::new(),
        vec![],
        flash.into(),
    )
    .await
}

fn messages(e: StoreError) -> Result<Vec<String>, Box<Response>> {
    match e {
        StoreError::Invalid(e) => Ok(e.0.into_iter().map(|x| x.message).collect()),
        StoreError::Conflict { message, .. } => Ok(vec![message]),
        other => Err(Box::new(store_error_page(other))),
    }
}

/// Status, operator, tags and memo from the handling panel.
async fn handle(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let f: HashMap<String, String> = pairs.iter().cloned().collect();
    if let Some(refused) = refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let patch = RequestPatch {
        status: f.get("status").cloned().filter(|s| !s.is_empty()),
        status_reason: f.get("status_reason").cloned(),
        operator_id: Some(f.get("operator_id").and_then(|v| v.parse().ok())),
        tags: Some(
            pairs
                .iter()
                .filter(|(k, _)| k == "tag")
                .map(|(_, v)| v.clone())
                .collect(),
        ),
        memo: f.get("memo").cloned(),
    };
    let cmds = match patch_commands(&patch) {
        Ok(c) => c,
        Err(e) => {
            return detail_page(
                &st,
                &session,
                id,
                None,
                HashMap::new(),
                vec![e.body.message],
                String::new(),
            )
            .await;
        }
    };
    match st.store.change_request(id, &cmds, &session.actor()).await {
        Ok(_) => Redirect::to(&format!("/requests/{id}?done=saved")).into_response(),
        Err(e) => match messages(e) {
            Ok(m) => detail_page(&st, &session, id, None, HashMap::new(), m, String::new()).await,
            Err(page) => *page,
        },
    }
}

/// Manual handling: プレビュー shows the new dates, 実行 applies them.
async fn apply(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let body = ApplyBody {
        action: f.get("action").cloned().unwrap_or_default(),
        period: f.get("period").cloned(),
        pause_base: f.get("pause_base").cloned(),
        reason: f.get("reason").cloned(),
        preview: f.get("go").map(String::as_str) != Some("apply"),
    };
    let (commands, summary) = match apply_commands(&st, id, &body).await {
        Ok(c) => c,
        Err(e) => {
            let msgs = if e.body.errors.is_empty() {
                vec![e.body.message]
            } else {
                e.body.errors.into_iter().map(|x| x.message).collect()
            };
            return detail_page(&st, &session, id, None, f, msgs, String::new()).await;
        }
    };
    if body.preview {
        return match st.store.preview_request_apply(id, &commands).await {
            Ok(sub) => {
                let p = (
                    summary,
                    sub.schedule.next_delivery.to_string(),
                    sub.schedule.next_ship.to_string(),
                    sub.status.label().to_string(),
                );
                detail_page(&st, &session, id, Some(p), f, vec![], String::new()).await
            }
            Err(e) => match messages(e) {
                Ok(m) => detail_page(&st, &session, id, None, f, m, String::new()).await,
                Err(page) => *page,
            },
        };
    }
    match st
        .store
        .change_request(
            id,
            &[RequestCommand::Apply { commands, summary }],
            &session.actor(),
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("/requests/{id}?done=applied")).into_response(),
        Err(e) => match messages(e) {
            Ok(m) => detail_page(&st, &session, id, None, f, m, String::new()).await,
            Err(page) => *page,
        },
    }
}

async fn rerun(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    match st
        .store
        .change_request(id, &[RequestCommand::Rerun], &session.actor())
        .await
    {
        Ok(_) => Redirect::to(&format!("/requests/{id}?done=rerun")).into_response(),
        Err(e) => match messages(e) {
            Ok(m) => detail_page(&st, &session, id, None, HashMap::new(), m, String::new()).await,
            Err(page) => *page,
        },
    }
}
