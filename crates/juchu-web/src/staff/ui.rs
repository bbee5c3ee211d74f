//! スタッフ管理 (owners: members, roles, 無効, password resets, API tokens) and
//! パスワード変更 (everyone, their own).

use crate::AppState;
use crate::auth::{SESSION_COOKIE, StaffSession, cookie};
use crate::views::{Nav, error_page, forbidden, refuse_post, render, store_error_page};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juchu_domain::access::{Permission, Role};
use juchu_store::StoreError;
use juchu_store::staff::{ApiTokenInfo, StaffMember, StaffPatch};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/staff", get(staff_page).post(staff_add))
        .route("/settings/staff/{id}", post(staff_change))
        .route("/settings/api-tokens", post(token_add))
        .route("/settings/api-tokens/{id}/revoke", post(token_revoke))
        .route(
            "/account/password",
            get(password_page).post(password_change),
        )
}

pub const ROLES: [(&str, &str); 4] = [
    ("viewer", "閲覧者"),
    ("operator", "受注担当"),
    ("manager", "管理者"),
    ("owner", "オーナー"),
];

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "staff/staff.html")]
struct StaffPage {
    nav: Nav,
    flash: String,
    form_error: String,
    secret: String,
    secret_label: &'static str,
    members: Vec<StaffMember>,
    tokens: Vec<TokenRow>,
    roles: [(&'static str, &'static str); 4],
    email: String,
    name: String,
}

fn shown(ts: &str) -> String {
    juchu_domain::time::parse_ts(ts)
        .map(juchu_domain::time::display_ts)
        .unwrap_or_else(|| ts.to_string())
}

#[derive(Default)]
struct Shown {
    flash: String,
    form_error: String,
    secret: String,
    secret_label: &'static str,
    email: String,
    name: String,
}

async fn page(st: &AppState, session: &StaffSession, status: StatusCode, s: Shown) -> Response {
    let now = st.store.clock.now_text();
    let members = match st.store.list_staff().await {
        Ok(m) => m,
        Err(e) => return store_error_page(e),
    };
    let tokens = match st.store.list_api_tokens().await {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    let tokens = tokens
        .into_iter()
        .map(|t: ApiTokenInfo| TokenRow {
            state: t.state_label(&now),
            id: t.id,
            name: t.name,
            role: t.role,
            created_at: shown(&t.created_at),
            expires_at: t.expires_at.as_deref().map(shown),
            last_used_at: t.last_used_at.as_deref().map(shown),
        })
        .collect();
    let members = members
        .into_iter()
        .map(|m| StaffMember {
            created_at: shown(&m.created_at),
            ..m
        })
        .collect();
    render(
        status,
        &StaffPage {
            nav: Nav::of(session),
            flash: s.flash,
            form_error: s.form_error,
            secret: s.secret,
            secret_label: s.secret_label,
            members,
            tokens,
            roles: ROLES,
            email: s.email,
            name: s.name,
        },
    )
}

async fn staff_page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !session.role().allows(Permission::ManageStaff) {
        return forbidden();
    }
    let flash = match q.get("done").map(String::as_str) {
        Some("saved") => "変更しました。",
        Some("revoked") => "APIトークンを無効にしました。",
        _ => "",
    };
    page(
        &st,
        &session,
        StatusCode::OK,
        Shown {
            flash: flash.into(),
            ..Default::default()
        },
    )
    .await
}

fn error_text(e: &StoreError) -> Option<String> {
    match e {
        StoreError::Invalid(fe) => Some(fe.to_string()),
        StoreError::Conflict { message, .. } => Some(message.clone()),
        StoreError::NotFound(what) => Some(format!("{what}が見つかりません")),
        _ => None,
    }
}

/// The page again with the store's refusal as its error, or the error page
/// for what is not the user's to fix.
async fn refused(
    st: &AppState,
    session: &StaffSession,
    e: StoreError,
    status: StatusCode,
) -> Response {
    match error_text(&e) {
        Some(form_error) => {
            let s = Shown {
                form_error,
                ..Default::default()
            };
            page(st, session, status, s).await
        }
        None => store_error_page(e),
    }
}

fn role_of(f: &HashMap<String, String>) -> Option<Role> {
    Role::parse(f.get("role").map(String::as_str).unwrap_or(""))
}

async fn staff_add(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = refuse_post(&session, Permission::ManageStaff, &f) {
        return r;
    }
    let email = f.get("email").cloned().unwrap_or_default();
    let name = f.get("name").cloned().unwrap_or_default();
    let Some(role) = role_of(&f) else {
        return error_page(StatusCode::UNPROCESSABLE_ENTITY, "権限を選んでください");
    };
    let typed = f.get("password").cloned().unwrap_or_default();
    let password = if typed.is_empty() {
        juchu_store::staff::random_token("")
            .chars()
            .take(16)
            .collect()
    } else {
        typed.clone()
    };
    match st.store.create_staff(&email, &name, &password, role).await {
        Ok(m) => {
            let s = Shown {
                flash: format!("{}（{}）を追加しました。", m.name, m.email),
                secret: if typed.is_empty() {
                    password
                } else {
                    String::new()
                },
                secret_label: "初期パスワード",
                ..Default::default()
            };
            page(&st, &session, StatusCode::OK, s).await
        }
        Err(e) => match error_text(&e) {
            Some(msg) => {
                let s = Shown {
                    form_error: msg,
                    email,
                    name,
                    ..Default::default()
                };
                page(&st, &session, StatusCode::UNPROCESSABLE_ENTITY, s).await
            }
            None => store_error_page(e),
        },
    }
}

async fn staff_change(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = refuse_post(&session, Permission::ManageStaff, &f) {
        return r;
    }
    let result = if f.get("action").map(String::as_str) == Some("reset_password") {
        let password: String = juchu_store::staff::random_token("")
            .chars()
            .take(16)
            .collect();
        match st.store.set_password(id, &password, None).await {
            Ok(()) => {
                let who = st
                    .store
                    .staff_member(id)
                    .await
                    .map(|m| m.email)
                    .unwrap_or_default();
                let s = Shown {
                    flash: format!(
                        "{who} のパスワードを再発行しました。ログイン中の画面はすべてログアウトされます。"
                    ),
                    secret: password,
                    secret_label: "新しいパスワード",
                    ..Default::default()
                };
                return page(&st, &session, StatusCode::OK, s).await;
            }
            Err(e) => Err(e),
        }
    } else {
        let patch = StaffPatch {
            name: None,
            role: role_of(&f),
            disabled: f.get("disabled").map(|v| v == "true"),
        };
        st.store.update_staff(id, &patch).await.map(|_| ())
    };
    match result {
        Ok(()) => Redirect::to("/settings/staff?done=saved").into_response(),
        Err(e) => refused(&st, &session, e, StatusCode::CONFLICT).await,
    }
}

async fn token_add(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = refuse_post(&session, Permission::ManageStaff, &f) {
        return r;
    }
    let Some(role) = role_of(&f) else {
        return error_page(StatusCode::UNPROCESSABLE_ENTITY, "権限を選んでください");
    };
    let expires = match f.get("expires_on").map(|s| s.trim()).unwrap_or("") {
        "" => None,
        d => match d.parse() {
            Ok(d) => Some(d),
            Err(_) => {
                let s = Shown {
                    form_error: format!("有効期限「{d}」は日付（YYYY-MM-DD）ではありません"),
                    ..Default::default()
                };
                return page(&st, &session, StatusCode::UNPROCESSABLE_ENTITY, s).await;
            }
        },
    };
    let name = f.get("name").cloned().unwrap_or_default();
    match st.store.create_api_token_until(&name, role, expires).await {
        Ok((secret, t)) => {
            let s = Shown {
                flash: format!("APIトークン「{}」を発行しました。", t.name),
                secret,
                secret_label: "トークン",
                ..Default::default()
            };
            page(&st, &session, StatusCode::OK, s).await
        }
        Err(e) => refused(&st, &session, e, StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}

async fn token_revoke(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = refuse_post(&session, Permission::ManageStaff, &f) {
        return r;
    }
    match st.store.revoke_api_token(id).await {
        Ok(()) => Redirect::to("/settings/staff?done=revoked#tokens").into_response(),
        Err(e) => store_error_page(e),
    }
}

#[derive(Template)]
#[template(path = "staff/password.html")]
struct PasswordPage {
    nav: Nav,
    flash: String,
    form_error: String,
}

async fn password_page(session: StaffSession) -> Response {
    render(
        StatusCode::OK,
        &PasswordPage {
            nav: Nav::of(&session),
            flash: String::new(),
            form_error: String::new(),
        },
    )
}

async fn password_change(
    State(st): State<AppState>,
    session: StaffSession,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    // Everyone may change their own password, a viewer too.
    if let Some(r) = refuse_post(&session, Permission::Read, &f) {
        return r;
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (flash, form_error, status) = if get("new_password") != get("confirm_password") {
        (
            String::new(),
            "新しいパスワードと確認が一致しません".to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    } else {
        let token = cookie(&headers, SESSION_COOKIE).unwrap_or_default();
        match st
            .store
            .change_own_password(
                &session.0.staff,
                &get("current_password"),
                &get("new_password"),
                token,
            )
            .await
        {
            Ok(()) => (
                "パスワードを変更しました。".to_string(),
                String::new(),
                StatusCode::OK,
            ),
            Err(e) => match error_text(&e) {
                Some(m) => (String::new(), m, StatusCode::UNPROCESSABLE_ENTITY),
                None => return store_error_page(e),
            },
        }
    };
    render(
        status,
        &PasswordPage {
            nav: Nav::of(&session),
            flash,
            form_error,
        },
    )
}
