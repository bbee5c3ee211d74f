//! Rendering an admin page, and the error page. The lowest floor of the UI:
//! `auth` answers a missing login with it, every area renders through it.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use juchu_store::StoreError;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

pub fn error_page(status: StatusCode, message: &str) -> Response {
    match (ErrorPage { message }).render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message.to_string()).into_response(),
    }
}

/// Renders a template, or a 500 page if rendering fails.
pub fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "画面の表示に失敗しました",
            )
        }
    }
}

pub fn store_error_page(e: StoreError) -> Response {
    match e {
        StoreError::NotFound(what) => {
            error_page(StatusCode::NOT_FOUND, &format!("{what}が見つかりません"))
        }
        StoreError::Conflict { message, .. } => error_page(StatusCode::CONFLICT, &message),
        StoreError::Invalid(fe) => error_page(StatusCode::UNPROCESSABLE_ENTITY, &fe.to_string()),
        StoreError::Gone(message) => error_page(StatusCode::GONE, &message),
        other => {
            tracing::error!(error = %other, "store error");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "内部エラーが発生しました",
            )
        }
    }
}
