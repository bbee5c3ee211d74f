//! 郵便番号 → 住所 for the address forms (the button next to 郵便番号).

use crate::AppState;
use crate::auth::StaffSession;
use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new().route("/postal-codes/{code}", get(lookup))
}

async fn lookup(_session: StaffSession, Path(code): Path<String>) -> Response {
    match juchu_domain::postal::lookup(&code) {
        Some(a) => Json(json!({
            "prefecture": a.prefecture,
            "city": a.city,
            "towns": a.towns,
            "address1": a.address1(),
            "data_version": juchu_domain::postal::data_version(),
        }))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({
                "code": "unknown_postal_code",
                "message": format!("郵便番号「{}」は郵便番号データにありません（{}）", code.trim(), juchu_domain::postal::data_version()),
            })),
        )
            .into_response(),
    }
}
