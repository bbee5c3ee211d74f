//! The admin's side of 申請 and マイページ: フォーム管理 (design, copy), マイページ設定 (the words
//! customers read per 対応状況, message mails, cancellation terms, the
//! webhook secret, inviting every customer), a subscription's signed link
//! and a customer's case file and invitation.

use crate::AppState;
use crate::auth::StaffSession;
use crate::views::*;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::masters::HandlingStatus;
use juchu_domain::mypage::default_customer_label;
use juchu_domain::request::{Offer, Question, QuestionKind, RequestForm};
use juchu_store::StoreError;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/request-forms", get(forms))
        .route(
            "/settings/request-forms/new",
            get(new_form).post(create_form),
        )
        .route(
            "/settings/request-forms/{id}",
            get(edit_form).post(save_form),
        )
        .route("/settings/request-forms/{id}/copy", post(copy_form))
        .route("/settings/mypage", get(settings).post(save_settings))
        .route("/settings/mypage/invite-all", post(invite_all))
        .route("/settings/mypage/webhook-secret", post(rotate_secret))
        .route("/subscriptions/{id}/request-link", post(make_link))
        .route("/customers/{id}/mypage-invitation", post(invite))
        .route("/customers/{id}/request-file", get(case_file))
}

#[derive(Template)]
#[template(path = "requests/forms.html")]
struct FormsPage {
    nav: Nav,
    csrf: String,
    can_edit: bool,
    forms: Vec<RequestForm>,
    flash: String,
}

async fn forms(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match st.store.request_forms().await {
        Ok(forms) => render(
            StatusCode::OK,
            &FormsPage {
                nav: Nav::of(&session),
                csrf: session.0.csrf_token.clone(),
                can_edit: session.role().allows(Permission::WriteMasters),
                forms,
                flash: match q.get("saved").map(String::as_str) {
                    Some("copy") => "複製しました。".into(),
                    Some("1") => "保存しました。".into(),
                    _ => String::new(),
                },
            },
        ),
        Err(e) => store_error_page(e),
    }
}

/// One editable question row (and a few empty ones to add).
struct QuestionRow {
    field: String,
    label: String,
    kind: String,
    choices: String,
    required: bool,
}

#[derive(Template)]
#[template(path = "requests/form_edit.html")]
struct FormEditPage {
    nav: Nav,
    csrf: String,
    id: i64,
    name: String,
    rows: Vec<QuestionRow>,
    offers: Vec<(&'static str, &'static str, bool)>,
    discount_text: String,
    retention_tag: String,
    errors: Vec<String>,
}

const EMPTY_ROWS: usize = 4;

fn edit_page(session: &StaffSession, f: &RequestForm, errors: Vec<String>) -> FormEditPage {
    let mut rows: Vec<QuestionRow> = f
        .questions
        .iter()
        .map(|q| QuestionRow {
            field: q.field.clone(),
            label: q.label.clone(),
            kind: match q.kind {
                QuestionKind::Choice => "choice",
                QuestionKind::Text => "text",
                QuestionKind::Number => "number",
            }
            .into(),
            choices: q.choices.join("\n"),
            required: q.required,
        })
        .collect();
    for _ in 0..EMPTY_ROWS {
        rows.push(QuestionRow {
            field: String::new(),
            label: String::new(),
            kind: "text".into(),
            choices: String::new(),
            required: false,
        });
    }
    FormEditPage {
        nav: Nav::of(session),
        csrf: session.0.csrf_token.clone(),
        id: f.id,
        name: f.name.clone(),
        rows,
        offers: Offer::ALL
            .iter()
            .map(|o| (o.code(), o.label(), f.offers.contains(o)))
            .collect(),
        discount_text: f.discount_text.clone(),
        retention_tag: f.retention_tag.clone(),
        errors,
    }
}

async fn new_form(session: StaffSession) -> Response {
    if !session.role().allows(Permission::WriteMasters) {
        return forbidden();
    }
    let mut f = juchu_domain::request::default_form();
    f.name = String::new();
    render(StatusCode::OK, &edit_page(&session, &f, vec![]))
}

async fn edit_form(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
) -> Response {
    match st.store.request_form(id).await {
        Ok(f) => render(StatusCode::OK, &edit_page(&session, &f, vec![])),
        Err(e) => store_error_page(e),
    }
}

/// Reads the edit page: rows `q{i}_field`, `q{i}_label`, `q{i}_kind`,
/// `q{i}_choices` (one per line), `q{i}_required`, `q{i}_position`; a row
/// without a field name is dropped. Rows are ordered by 表示順.
fn form_from_page(id: i64, pairs: &[(String, String)]) -> Result<RequestForm, FieldErrors> {
    let get = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut e = FieldErrors::default();
    let mut rows: Vec<(f64, usize, Question)> = Vec::new();
    for i in 0..200 {
        let field = get(&format!("q{i}_field"));
        let label = get(&format!("q{i}_label"));
        if field.trim().is_empty() {
            if !label.trim().is_empty() {
                e.add(
                    format!("questions[{}].field", i + 1),
                    "required",
                    format!("{}行目: 項目名（col_6 など）を入力してください", i + 1),
                );
            }
            continue;
        }
        let position: f64 = get(&format!("q{i}_position"))
            .trim()
            .parse()
            .unwrap_or((i + 1) as f64);
        let kind = QuestionKind::parse(&get(&format!("q{i}_kind"))).unwrap_or(QuestionKind::Text);
        rows.push((
            position,
            i,
            Question {
                field: field.trim().to_string(),
                label: label.trim().to_string(),
                kind,
                choices: get(&format!("q{i}_choices"))
                    .lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect(),
                required: get(&format!("q{i}_required")) == "1",
            },
        ));
    }
    e.into_result()?;
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    Ok(RequestForm {
        id,
        name: get("name").trim().to_string(),
        questions: rows.into_iter().map(|(_, _, q)| q).collect(),
        offers: Offer::ALL
            .iter()
            .copied()
            .filter(|o| get(&format!("offer_{}", o.code())) == "1")
            .collect(),
        discount_text: get("discount_text").trim().to_string(),
        retention_tag: get("retention_tag").trim().to_string(),
    })
}

async fn save(
    st: &AppState,
    session: &StaffSession,
    id: i64,
    pairs: Vec<(String, String)>,
) -> Response {
    let f: HashMap<String, String> = pairs.iter().cloned().collect();
    if let Some(refused) = refuse_post(session, Permission::WriteMasters, &f) {
        return refused;
    }
    let form = match form_from_page(id, &pairs) {
        Ok(f) => f,
        Err(e) => {
            let shown = RequestForm {
                id,
                name: f.get("name").cloned().unwrap_or_default(),
                questions: vec![],
                offers: vec![],
                discount_text: String::new(),
                retention_tag: String::new(),
            };
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &edit_page(
                    session,
                    &shown,
                    e.0.into_iter().map(|x| x.message).collect(),
                ),
            );
        }
    };
    match st.store.save_request_form(&form).await {
        Ok(_) => Redirect::to("/settings/request-forms?saved=1").into_response(),
        Err(StoreError::Invalid(e)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &edit_page(session, &form, e.0.into_iter().map(|x| x.message).collect()),
        ),
        Err(e) => store_error_page(e),
    }
}

async fn create_form(
    State(st): State<AppState>,
    session: StaffSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    save(&st, &session, 0, pairs).await
}

async fn save_form(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    save(&st, &session, id, pairs).await
}

async fn copy_form(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    match st.store.copy_request_form(id).await {
        Ok(_) => Redirect::to("/settings/request-forms?saved=copy").into_response(),
        Err(e) => store_error_page(e),
    }
}

#[derive(Template)]
#[template(path = "requests/mypage_settings.html")]
struct SettingsPage {
    nav: Nav,
    csrf: String,
    can_edit: bool,
    statuses: Vec<(HandlingStatus, String, &'static str)>,
    message_mail: bool,
    cancellation: String,
    webhook_secret: String,
    public_url: String,
    flash: String,
    error: String,
}

async fn settings_page(
    st: &AppState,
    session: &StaffSession,
    flash: String,
    error: String,
    status: StatusCode,
) -> Response {
    let loaded = async {
        let masters = st.store.masters().await?;
        let labels = st.store.customer_status_labels().await?;
        let mail = st.store.message_mail_default().await?;
        let cancellation = st.store.cancellation_terms().await?;
        let secret = if session.role().allows(Permission::ManageStaff) {
            st.store.request_webhook_secret().await?
        } else {
            "（オーナーのみ表示）".into()
        };
        let url = st.store.public_url().await?;
        Ok::<_, StoreError>((masters, labels, mail, cancellation, secret, url))
    }
    .await;
    let (masters, labels, message_mail, cancellation, webhook_secret, public_url) = match loaded {
        Ok(v) => v,
        Err(e) => return store_error_page(e),
    };
    let statuses = masters
        .handling_statuses
        .iter()
        .map(|s| {
            (
                s.clone(),
                labels.get(&s.id).cloned().unwrap_or_default(),
                default_customer_label(&s.name),
            )
        })
        .collect();
    render(
        status,
        &SettingsPage {
            nav: Nav::of(session),
            csrf: session.0.csrf_token.clone(),
            can_edit: session.role().allows(Permission::WriteMasters),
            statuses,
            message_mail,
            cancellation,
            webhook_secret,
            public_url,
            flash,
            error,
        },
    )
}

async fn settings(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = match q.get("saved").map(String::as_str) {
        Some("1") => "保存しました。".to_string(),
        Some("secret") => {
            "Webhook シークレットを作り直しました。外部フォームの設定も変更してください。".into()
        }
        Some(s) if s.starts_with("invited:") => {
            let (i, k) = s["invited:".len()..].split_once(':').unwrap_or(("0", "0"));
            format!(
                "{i}名に招待メールを送信待ちにしました（{k}名は対象外: メールアドレスなし・送信しない設定・登録済み）。"
            )
        }
        _ => String::new(),
    };
    settings_page(&st, &session, flash, String::new(), StatusCode::OK).await
}

async fn save_settings(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let masters = match st.store.masters().await {
        Ok(m) => m,
        Err(e) => return store_error_page(e),
    };
    let labels: Vec<(i64, String)> = masters
        .handling_statuses
        .iter()
        .map(|s| {
            (
                s.id,
                f.get(&format!("label_{}", s.id))
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .collect();
    let result = async {
        st.store.set_customer_status_labels(&labels).await?;
        st.store
            .set_message_mail_default(f.get("message_mail").is_some_and(|v| v == "1"))
            .await?;
        st.store
            .set_cancellation_terms(f.get("cancellation").map(String::as_str).unwrap_or(""))
            .await
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/settings/mypage?saved=1").into_response(),
        Err(StoreError::Invalid(e)) => {
            settings_page(
                &st,
                &session,
                String::new(),
                e.messages(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn invite_all(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::ManageStaff, &f) {
        return refused;
    }
    match st.store.invite_all_customers().await {
        Ok(r) => Redirect::to(&format!(
            "/settings/mypage?saved=invited:{}:{}",
            r.invited, r.skipped
        ))
        .into_response(),
        Err(e) => store_error_page(e),
    }
}

async fn rotate_secret(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::ManageStaff, &f) {
        return refused;
    }
    match st.store.rotate_request_webhook_secret().await {
        Ok(_) => Redirect::to("/settings/mypage?saved=secret").into_response(),
        Err(e) => store_error_page(e),
    }
}

#[derive(Template)]
#[template(path = "requests/link.html")]
struct LinkPage {
    nav: Nav,
    subscription_id: i64,
    url: String,
}

async fn make_link(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let form_id = f.get("form_id").and_then(|v| v.parse().ok());
    match super::make_link(&st, id, form_id, None).await {
        Ok((url, _, _)) => render(
            StatusCode::OK,
            &LinkPage {
                nav: Nav::of(&session),
                subscription_id: id,
                url,
            },
        ),
        Err(e) => error_page(e.status, &e.body.message),
    }
}

async fn invite(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    match st.store.invite_customer(id).await {
        Ok(_) => Redirect::to(&format!("/customers/{id}?invited=1")).into_response(),
        Err(StoreError::Invalid(e)) => error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.messages()),
        Err(e) => store_error_page(e),
    }
}

async fn case_file(
    State(st): State<AppState>,
    _session: StaffSession,
    Path(id): Path<i64>,
) -> Response {
    match super::case_file_csv(&st, id).await {
        Ok(csv) => super::csv_download(csv, &format!("case-file-customer-{id}.csv")),
        Err(e) => error_page(e.status, &e.body.message),
    }
}
