//! The customer's pages (マイページ): sign-in by password or a one-time link,
//! 注文履歴 with the shop's messages, 定期便 with the terms kept from checkout,
//! and the request form (from マイページ or a signed link).
//!
//! A customer session is its own cookie and its own table: no staff or API
//! route reads it, and these routes read nothing else. Every page answers
//! 404 for another customer's order or subscription, as for one that does
//! not exist.

mod account;
mod form;
mod pages;

use crate::AppState;
use crate::auth::{constant_time_eq, cookie};
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use juchu_store::mypage::CustomerSession;

/// The customer session cookie (never `juchu_session`, the staff one).
pub const CUSTOMER_COOKIE: &str = "juchu_customer";
/// Double-submit token of the sign-in forms (before there is a session).
pub const CUSTOMER_LOGIN_CSRF: &str = "juchu_mypage_csrf";

pub fn routes() -> Router<AppState> {
    account::routes()
        .merge(pages::routes())
        .merge(form::routes())
}

/// A signed-in customer. Missing or expired: to マイページ's login.
pub struct CustomerAuth(pub CustomerSession);

impl CustomerAuth {
    pub fn customer_id(&self) -> i64 {
        self.0.customer.customer_id
    }
    pub fn check_csrf(&self, submitted: &str) -> bool {
        constant_time_eq(submitted.as_bytes(), self.0.csrf_token.as_bytes())
    }
}

impl FromRequestParts<AppState> for CustomerAuth {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = cookie(&parts.headers, CUSTOMER_COOKIE) else {
            return Err(Redirect::to("/mypage/login").into_response());
        };
        match state.store.customer_session(token).await {
            Ok(Some(s)) => Ok(CustomerAuth(s)),
            Ok(None) => Err(Redirect::to("/mypage/login").into_response()),
            Err(e) => Err(pages::customer_error(e)),
        }
    }
}
