//! Who is calling: API tokens (Bearer) for programs, session cookies for staff in
//! the admin UI, CSRF tokens for every form. Login limiting lives in the store
//! (`Store::login_blocked`), so that several `juchu serve` processes share it.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use juchu_domain::access::{Permission, Role};
use juchu_store::Actor;
use juchu_store::staff::Session;

pub const SESSION_COOKIE: &str = "juchu_session";
pub const LOGIN_CSRF_COOKIE: &str = "juchu_login_csrf";
/// A browser a staff member logged in from (see `Store::login_blocked`).
pub const DEVICE_COOKIE: &str = "juchu_device";

/// An authenticated API caller.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub token_id: i64,
    pub role: Role,
    pub actor: Actor,
}

impl ApiCaller {
    /// 403 unless the caller's role allows `p`.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.role.allows(p) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        // The scheme name is case-insensitive (RFC 9110 §11.1).
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .ok_or_else(ApiError::unauthorized)?;
        let t = state
            .store
            .api_token(token)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(ApiCaller {
            token_id: t.id,
            role: t.role,
            actor: Actor::ApiToken {
                id: t.id,
                name: t.name,
            },
        })
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` value: HttpOnly, SameSite=Lax, path /, and `Secure` when juchu
/// is served over HTTPS (so the cookie never travels in clear text).
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

/// A logged-in staff member in the admin UI. Missing or expired sessions are
/// redirected to the login page.
pub struct StaffSession(pub Session);

pub struct LoginRedirect;

impl IntoResponse for LoginRedirect {
    fn into_response(self) -> Response {
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<AppState> for StaffSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(LoginRedirect.into_response());
        };
        match state.store.session(token).await {
            Ok(Some(s)) => Ok(StaffSession(s)),
            Ok(None) => Err(LoginRedirect.into_response()),
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                Err(crate::page::error_page(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "内部エラーが発生しました",
                ))
            }
        }
    }
}

impl StaffSession {
    pub fn actor(&self) -> Actor {
        Actor::Staff {
            id: self.0.staff.id,
            name: self.0.staff.name.clone(),
        }
    }
    pub fn role(&self) -> Role {
        self.0.staff.role
    }
    /// Checks the form's CSRF token against the session's (constant time).
    pub fn check_csrf(&self, submitted: &str) -> bool {
        constant_time_eq(submitted.as_bytes(), self.0.csrf_token.as_bytes())
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The peer's IP address when the server knows it (not in router-only tests).
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; juchu_session=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
