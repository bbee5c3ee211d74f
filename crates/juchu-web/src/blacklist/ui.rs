//! ブラックリスト条件管理: the shop's conditions (add, enable / disable, delete)
//! and the re-check of existing orders.

use crate::AppState;
use crate::auth::StaffSession;
use crate::views::{Nav, render, store_error_page};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juchu_domain::access::Permission;
use juchu_domain::blacklist::{BlacklistCondition, Clause, ConditionField, Op};
use juchu_store::StoreError;
use std::collections::HashMap;

/// Clause rows the add form offers (conditions may have more over the API).
const FORM_CLAUSES: usize = 3;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/blacklist-conditions", get(page).post(add))
        .route("/settings/blacklist-conditions/rescan", post(rescan))
        .route("/settings/blacklist-conditions/{id}", post(change))
        .route("/settings/blacklist-reasons", post(add_reason))
        .route("/settings/blacklist-reasons/{id}", post(delete_reason))
}

struct Row {
    id: i64,
    name: String,
    clauses: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "blacklist/conditions.html")]
struct Page {
    nav: Nav,
    rows: Vec<Row>,
    fields: Vec<(String, &'static str)>,
    ops: Vec<(String, &'static str)>,
    clause_rows: Vec<usize>,
    can_edit: bool,
    flash: String,
    form_error: String,
    name: String,
    /// The ブラックリスト理由 master.
    reasons: Vec<(i64, String)>,
}

/// The API name of a unit variant (`billing_phone`), the form's value.
fn code<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

async fn view(
    st: &AppState,
    session: &StaffSession,
    flash: String,
    form_error: String,
    name: String,
    status: StatusCode,
) -> Response {
    let list = match st.store.blacklist_conditions().await {
        Ok(l) => l,
        Err(e) => return store_error_page(e),
    };
    let reasons = match st.store.blacklist_reasons().await {
        Ok(l) => l.into_iter().map(|r| (r.id, r.name)).collect(),
        Err(e) => return store_error_page(e),
    };
    let t = Page {
        reasons,
        nav: Nav::of(session),
        rows: list
            .iter()
            .map(|c| Row {
                id: c.id,
                name: c.name.clone(),
                clauses: c
                    .clauses
                    .iter()
                    .map(|k| format!("{}{}「{}」", k.field.label(), k.op.label(), k.value))
                    .collect::<Vec<_>>()
                    .join(" かつ "),
                enabled: c.enabled,
            })
            .collect(),
        fields: ConditionField::ALL
            .iter()
            .map(|f| (code(f), f.label()))
            .collect(),
        ops: [Op::Equals, Op::EmailDomain, Op::Contains, Op::StartsWith]
            .iter()
            .map(|o| (code(o), o.label()))
            .collect(),
        clause_rows: (0..FORM_CLAUSES).collect(),
        can_edit: session.role().allows(Permission::WriteMasters),
        flash,
        form_error,
        name,
    };
    render(status, &t)
}

async fn page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = match q.get("done").map(String::as_str) {
        Some("added") => "条件を追加しました。",
        Some("changed") => "保存しました。",
        Some("deleted") => "削除しました。",
        Some("reason_added") => "理由を追加しました。",
        Some("reason_deleted") => "理由を削除しました。",
        _ => "",
    };
    view(
        &st,
        &session,
        flash.into(),
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

async fn add(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let name = f.get("name").cloned().unwrap_or_default();
    let mut clauses = Vec::new();
    let mut bad = Vec::new();
    for i in 0..FORM_CLAUSES {
        let get = |k: &str| f.get(&format!("{k}{i}")).map(|s| s.trim()).unwrap_or("");
        if get("value").is_empty() {
            continue;
        }
        let parsed = serde_json::from_value::<Clause>(serde_json::json!({
            "field": get("field"), "op": get("op"), "value": get("value"),
        }));
        match parsed {
            Ok(c) => clauses.push(c),
            Err(_) => bad.push(format!("{}行目の項目か比較方法が正しくありません", i + 1)),
        }
    }
    if !bad.is_empty() {
        return view(
            &st,
            &session,
            String::new(),
            bad.join(" / "),
            name,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let c = BlacklistCondition {
        id: 0,
        name: name.clone(),
        enabled: true,
        clauses,
    };
    match st.store.add_blacklist_condition(&c).await {
        Ok(_) => Redirect::to("/settings/blacklist-conditions?done=added").into_response(),
        Err(StoreError::Invalid(e)) => {
            // With the clause's path (clauses[1].op): the form has several rows.
            let msg = format!("条件を保存できません: {e}");
            view(
                &st,
                &session,
                String::new(),
                msg,
                name,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn change(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let result = match f.get("op").map(String::as_str) {
        Some("delete") => st
            .store
            .delete_blacklist_condition(id)
            .await
            .map(|_| "deleted"),
        Some("toggle") => {
            let found = match st.store.blacklist_conditions().await {
                Ok(l) => l.into_iter().find(|c| c.id == id),
                Err(e) => return store_error_page(e),
            };
            let Some(mut c) = found else {
                return crate::views::error_page(
                    StatusCode::NOT_FOUND,
                    "ブラックリスト条件が見つかりません",
                );
            };
            c.enabled = !c.enabled;
            st.store
                .update_blacklist_condition(&c)
                .await
                .map(|_| "changed")
        }
        _ => return crate::views::error_page(StatusCode::BAD_REQUEST, "不明な操作です"),
    };
    match result {
        Ok(done) => {
            Redirect::to(&format!("/settings/blacklist-conditions?done={done}")).into_response()
        }
        Err(e) => store_error_page(e),
    }
}

async fn rescan(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    // A job: progress and the per-order result on ジョブ管理.
    let job = juchu_store::jobs::NewJob {
        kind: juchu_domain::job::JobKind::BlacklistRescan,
        selection: None,
        params: serde_json::json!({"days": 30}),
    };
    match st.store.register_job(job, &session.actor()).await {
        Ok(job) => Redirect::to(&format!("/jobs?registered={}", job.id)).into_response(),
        Err(StoreError::Invalid(_)) => {
            view(
                &st,
                &session,
                "直近30日に再チェックする受注はありません。".into(),
                String::new(),
                String::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn add_reason(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let name = f.get("reason").cloned().unwrap_or_default();
    match st.store.add_blacklist_reason(&name).await {
        Ok(_) => {
            Redirect::to("/settings/blacklist-conditions?done=reason_added#reasons").into_response()
        }
        Err(StoreError::Invalid(e)) => {
            view(
                &st,
                &session,
                String::new(),
                format!("理由を追加できません: {}", e.messages()),
                String::new(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn delete_reason(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    match st.store.delete_blacklist_reason(id).await {
        Ok(()) => Redirect::to("/settings/blacklist-conditions?done=reason_deleted#reasons")
            .into_response(),
        Err(e) => store_error_page(e),
    }
}
