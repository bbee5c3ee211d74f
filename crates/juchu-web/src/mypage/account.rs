//! Signing in to マイページ: password, a one-time login link by mail, the
//! invitation's and a reset's set-password page, and signing out. Login
//! limiting is the staff's (per account, per pair, per client), counted
//! apart from staff accounts.

use super::pages::{Notice, customer_error, shop_name};
use super::{CUSTOMER_COOKIE, CUSTOMER_LOGIN_CSRF, CustomerAuth};
use crate::AppState;
use crate::auth::{ClientIp, constant_time_eq, cookie, set_cookie};
use crate::page::render;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use juchu_domain::mypage::AccountLink;
use juchu_store::mypage::CustomerUser;
use juchu_store::staff::LoginAttempt;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mypage/login", get(login_page).post(login_submit))
        .route("/mypage/login-link", post(send_login_link))
        .route("/mypage/password-reset", post(send_reset_link))
        .route(
            "/mypage/password/{token}",
            get(password_page).post(password_submit),
        )
        .route("/mypage/link/{token}", get(link_page).post(link_submit))
        .route("/mypage/logout", post(logout))
}

#[derive(Template)]
#[template(path = "mypage/login.html")]
struct LoginPage {
    shop_name: String,
    csrf: String,
    email: String,
    error: String,
}

fn with_cookie(mut resp: Response, c: String) -> Response {
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let csrf = cookie(&headers, CUSTOMER_LOGIN_CSRF)
        .map(str::to_string)
        .unwrap_or_else(|| juchu_store::staff::random_token(""));
    let page = LoginPage {
        shop_name: shop_name(&st).await,
        csrf: csrf.clone(),
        email: String::new(),
        error: String::new(),
    };
    with_cookie(
        render(StatusCode::OK, &page),
        set_cookie(CUSTOMER_LOGIN_CSRF, &csrf, 3600, st.secure_cookies),
    )
}

fn csrf_ok(headers: &HeaderMap, f: &HashMap<String, String>) -> bool {
    let sent = f.get("csrf").map(String::as_str).unwrap_or("");
    cookie(headers, CUSTOMER_LOGIN_CSRF)
        .is_some_and(|c| !sent.is_empty() && constant_time_eq(c.as_bytes(), sent.as_bytes()))
}

/// Starts a customer session and goes to マイページ.
async fn sign_in(st: &AppState, user: &CustomerUser, to: &str) -> Response {
    match st.store.create_customer_session(user).await {
        Ok((token, _)) => with_cookie(
            Redirect::to(to).into_response(),
            set_cookie(
                CUSTOMER_COOKIE,
                &token,
                juchu_store::mypage::CUSTOMER_SESSION_HOURS * 3600,
                st.secure_cookies,
            ),
        ),
        Err(e) => customer_error(e),
    }
}

async fn login_submit(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let email = f.get("email").cloned().unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let shop = shop_name(&st).await;
    let page = |status, error: &str| {
        render(
            status,
            &LoginPage {
                shop_name: shop.clone(),
                csrf: f.get("csrf").cloned().unwrap_or_default(),
                email: email.clone(),
                error: error.into(),
            },
        )
    };
    if !csrf_ok(&headers, &f) {
        return page(
            StatusCode::FORBIDDEN,
            "画面の有効期限が切れました。もう一度ログインしてください。",
        );
    }
    let attempt = LoginAttempt::customer(&email, ip.map(|i| i.to_string()));
    match st.store.login_blocked(&attempt).await {
        Ok(false) => {}
        Ok(true) => {
            return page(
                StatusCode::TOO_MANY_REQUESTS,
                "ログインの失敗が続いたため、しばらくログインできません。15分ほど待つか、ログインリンクをメールで受け取ってください。",
            );
        }
        Err(e) => return customer_error(e),
    }
    match st.store.authenticate_customer(&email, &password).await {
        Ok(Some(user)) => {
            if let Err(e) = st.store.record_customer_login_success(&attempt).await {
                return customer_error(e);
            }
            sign_in(&st, &user, "/mypage/orders").await
        }
        Ok(None) => {
            if let Err(e) = st.store.record_login_failure(&attempt).await {
                return customer_error(e);
            }
            page(
                StatusCode::UNAUTHORIZED,
                "メールアドレスまたはパスワードが正しくありません。",
            )
        }
        Err(e) => customer_error(e),
    }
}

/// Mails a link if the address has an account; the page says the same either
/// way, so nobody learns whose address is registered.
async fn mail_link(
    st: &AppState,
    headers: &HeaderMap,
    f: &HashMap<String, String>,
    purpose: AccountLink,
) -> Response {
    let shop = shop_name(st).await;
    if !csrf_ok(headers, f) {
        return Notice::page(
            &shop,
            StatusCode::FORBIDDEN,
            "画面の有効期限が切れました",
            "お手数ですが、ログイン画面からもう一度お試しください。",
        );
    }
    let email = f.get("email").cloned().unwrap_or_default();
    if let Err(e) = st.store.mail_customer_link(&email, purpose).await {
        return customer_error(e);
    }
    let what = match purpose {
        AccountLink::Login => "ログインリンク",
        _ => "パスワード再設定のご案内",
    };
    Notice::page(
        &shop,
        StatusCode::OK,
        "メールをご確認ください",
        &format!(
            "{email} がマイページに登録されていれば、{what}をメールでお送りしました。メールが届かない場合は、迷惑メールフォルダをご確認いただくか、ショップにお問い合わせください。"
        ),
    )
}

async fn send_login_link(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    mail_link(&st, &headers, &f, AccountLink::Login).await
}

async fn send_reset_link(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    mail_link(&st, &headers, &f, AccountLink::PasswordReset).await
}

#[derive(Template)]
#[template(path = "mypage/password.html")]
struct PasswordPage {
    shop_name: String,
    customer_name: String,
    welcome: bool,
    error: String,
}

fn link_gone(shop: &str) -> Response {
    Notice::page(
        shop,
        StatusCode::NOT_FOUND,
        "このリンクは使えません",
        "有効期限が切れたか、すでに使われたリンクです。ログイン画面から、ログインリンクまたはパスワード再設定のメールをもう一度お受け取りください。",
    )
}

async fn password_page(State(st): State<AppState>, Path(token): Path<String>) -> Response {
    let shop = shop_name(&st).await;
    match st.store.customer_link(&token).await {
        Ok(Some(info)) if info.purpose != AccountLink::Login => render(
            StatusCode::OK,
            &PasswordPage {
                shop_name: shop,
                customer_name: info.customer.name,
                welcome: info.purpose == AccountLink::Invitation,
                error: String::new(),
            },
        ),
        Ok(_) => link_gone(&shop),
        Err(e) => customer_error(e),
    }
}

async fn password_submit(
    State(st): State<AppState>,
    Path(token): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let shop = shop_name(&st).await;
    let info = match st.store.customer_link(&token).await {
        Ok(Some(i)) if i.purpose != AccountLink::Login => i,
        Ok(_) => return link_gone(&shop),
        Err(e) => return customer_error(e),
    };
    let password = f.get("password").cloned().unwrap_or_default();
    let again = f.get("password_again").cloned().unwrap_or_default();
    let retry = |error: String| {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordPage {
                shop_name: shop.clone(),
                customer_name: info.customer.name.clone(),
                welcome: info.purpose == AccountLink::Invitation,
                error,
            },
        )
    };
    if password != again {
        return retry("確認用のパスワードが一致しません。".into());
    }
    match st.store.set_customer_password(&token, &password).await {
        Ok(Some(user)) => sign_in(&st, &user, "/mypage/orders").await,
        Ok(None) => link_gone(&shop),
        Err(juchu_store::StoreError::Invalid(e)) => retry(e.messages()),
        Err(e) => customer_error(e),
    }
}

#[derive(Template)]
#[template(path = "mypage/link.html")]
struct LinkPage {
    shop_name: String,
    customer_name: String,
}

/// A login link opens a page with a button: mail scanners that fetch every
/// link must not use it up.
async fn link_page(State(st): State<AppState>, Path(token): Path<String>) -> Response {
    let shop = shop_name(&st).await;
    match st.store.customer_link(&token).await {
        Ok(Some(info)) if info.purpose == AccountLink::Login => render(
            StatusCode::OK,
            &LinkPage {
                shop_name: shop,
                customer_name: info.customer.name,
            },
        ),
        Ok(_) => link_gone(&shop),
        Err(e) => customer_error(e),
    }
}

async fn link_submit(State(st): State<AppState>, Path(token): Path<String>) -> Response {
    match st.store.use_login_link(&token).await {
        Ok(Some(user)) => sign_in(&st, &user, "/mypage/orders").await,
        Ok(None) => link_gone(&shop_name(&st).await),
        Err(e) => customer_error(e),
    }
}

async fn logout(
    State(st): State<AppState>,
    auth: CustomerAuth,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if !auth.check_csrf(f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Notice::page(
            &shop_name(&st).await,
            StatusCode::FORBIDDEN,
            "画面の有効期限が切れました",
            "お手数ですが、もう一度お試しください。",
        );
    }
    if let Some(token) = cookie(&headers, CUSTOMER_COOKIE) {
        let _ = st.store.delete_customer_session(token).await;
    }
    with_cookie(
        Redirect::to("/mypage/login").into_response(),
        set_cookie(CUSTOMER_COOKIE, "", 0, st.secure_cookies),
    )
}
