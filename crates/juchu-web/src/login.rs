//! ログイン and ログアウト of the admin UI.

use crate::views::*;

use crate::AppState;
use crate::auth::{
    ClientIp, DEVICE_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, StaffSession, constant_time_eq,
    cookie, set_cookie,
};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use juchu_store::staff::LoginAttempt;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: String,
    no_staff: bool,
}

pub async fn login_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let csrf = cookie(&headers, LOGIN_CSRF_COOKIE)
        .map(str::to_string)
        .unwrap_or_else(|| juchu_store::staff::random_token(""));
    let no_staff = st
        .store
        .staff_count()
        .await
        .map(|n| n == 0)
        .unwrap_or(false);
    let mut resp = render(
        StatusCode::OK,
        &LoginPage {
            csrf: csrf.clone(),
            email: String::new(),
            error: String::new(),
            no_staff,
        },
    );
    if let Ok(v) = HeaderValue::from_str(&set_cookie(
        LOGIN_CSRF_COOKIE,
        &csrf,
        3600,
        st.secure_cookies,
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login_submit(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let csrf_ok = cookie(&headers, LOGIN_CSRF_COOKIE)
        .is_some_and(|c| constant_time_eq(c.as_bytes(), f.csrf.as_bytes()));
    let page = |status, error: &str| {
        render(
            status,
            &LoginPage {
                csrf: f.csrf.clone(),
                email: f.email.clone(),
                error: error.into(),
                no_staff: false,
            },
        )
    };
    if !csrf_ok {
        return page(
            StatusCode::FORBIDDEN,
            "フォームの有効期限が切れました。もう一度ログインしてください。",
        );
    }
    let attempt = LoginAttempt {
        email: f.email.clone(),
        client: ip.map(|ip| ip.to_string()),
        device: cookie(&headers, DEVICE_COOKIE).map(str::to_string),
    };
    match st.store.login_blocked(&attempt).await {
        Ok(false) => {}
        Ok(true) => {
            return page(
                StatusCode::TOO_MANY_REQUESTS,
                "ログインの失敗が続いたため、しばらくログインできません。15分ほど待ってからお試しください。",
            );
        }
        Err(e) => return store_error_page(e),
    }
    match st.store.authenticate(&f.email, &f.password).await {
        Ok(Some(user)) => {
            let device = match st.store.record_login_success(&attempt, &user).await {
                Ok(d) => d,
                Err(e) => return store_error_page(e),
            };
            match st.store.create_session(&user).await {
                Ok((token, _)) => {
                    let mut resp = Redirect::to("/").into_response();
                    let max_age = juchu_store::staff::SESSION_HOURS * 3600;
                    for c in [
                        set_cookie(SESSION_COOKIE, &token, max_age, st.secure_cookies),
                        set_cookie(DEVICE_COOKIE, &device, 400 * 24 * 3600, st.secure_cookies),
                    ] {
                        if let Ok(v) = HeaderValue::from_str(&c) {
                            resp.headers_mut().append(header::SET_COOKIE, v);
                        }
                    }
                    resp
                }
                Err(e) => store_error_page(e),
            }
        }
        Ok(None) => {
            if let Err(e) = st.store.record_login_failure(&attempt).await {
                return store_error_page(e);
            }
            page(
                StatusCode::UNAUTHORIZED,
                "メールアドレスまたはパスワードが正しくありません。",
            )
        }
        Err(e) => store_error_page(e),
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(st): State<AppState>,
    session: StaffSession,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !session.check_csrf(&f.csrf) {
        return error_page(StatusCode::FORBIDDEN, "不正なリクエストです（CSRF）");
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        let _ = st.store.delete_session(token).await;
    }
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", 0, st.secure_cookies)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
