//! The JSON API's one error type.
//!
//! Policy: every error is `{"code", "message", "field"}`. Validation names the field
//! path (`items[0].quantity`). Database and internal errors are logged with detail
//! and answered as a bare 500; unknown errors are never turned into 4xx, and a
//! database error never into "not found".

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use juchu_domain::FieldErrors;
use juchu_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `validation_failed`, `unknown_product`, `version_conflict`.
    pub code: String,
    /// Human-readable message (Japanese).
    pub message: String,
    /// Path of the offending field, when there is one.
    pub field: Option<String>,
    /// Every field error when validation found several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldErrorBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorBody {
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        field: Option<String>,
    ) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                code: code.into(),
                message: message.into(),
                field,
                errors: vec![],
            },
        }
    }
    /// 401: no or bad credentials.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "認証が必要です（Authorization: Bearer <token>）",
            None,
        )
    }
    /// 403: authenticated, but the role may not do this.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "この操作を行う権限がありません",
            None,
        )
    }
    pub fn bad_request(code: &str, message: impl Into<String>, field: Option<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message, field)
    }
    /// 422 with every field error.
    pub fn invalid(e: FieldErrors) -> Self {
        let first = e.first().cloned();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: ErrorBody {
                code: first
                    .as_ref()
                    .map(|f| f.code.to_string())
                    .unwrap_or_else(|| "validation_failed".into()),
                message: first
                    .as_ref()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .unwrap_or_default(),
                field: first.map(|f| f.field),
                errors: e
                    .0
                    .into_iter()
                    .map(|f| FieldErrorBody {
                        field: f.field,
                        code: f.code.into(),
                        message: f.message,
                    })
                    .collect(),
            },
        }
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "内部エラーが発生しました",
            None,
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what}が見つかりません"),
                None,
            ),
            StoreError::Conflict { field, message } => {
                let code = if field.as_deref() == Some("version") {
                    "version_conflict"
                } else {
                    "conflict"
                };
                ApiError::new(StatusCode::CONFLICT, code, message, field)
            }
            StoreError::Invalid(fe) => ApiError::invalid(fe),
            StoreError::Gone(message) => ApiError::new(StatusCode::GONE, "gone", message, None),
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Parses a JSON body, naming the field path on type errors and unknown fields.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_json",
            "リクエスト本文が空です（JSON を送ってください）",
            None,
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = if path == "." || path.is_empty() {
            None
        } else {
            Some(path.clone())
        };
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(
                "invalid_json",
                format!(
                    "JSON の形式が正しくありません（{} 行 {} 列）",
                    inner.line(),
                    inner.column()
                ),
                None,
            )
        } else {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("{}: {inner}", field.clone().unwrap_or_default()),
                field,
            )
        }
    })?;
    // `{"a":1} junk` is not one JSON document: refuse it rather than act on half.
    de.end().map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!(
                "JSON の後に余分な文字があります（{} 行 {} 列）",
                e.line(),
                e.column()
            ),
            None,
        )
    })?;
    Ok(value)
}

pub fn missing_field(e: ApiError) -> ApiError {
    // serde reports a missing field at the parent path; name the field itself.
    if e.body.field.is_none()
        && let Some(name) = e
            .body
            .message
            .split("missing field `")
            .nth(1)
            .and_then(|s| s.split('`').next())
    {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            format!("{name} は必須です"),
            Some(name.to_string()),
        );
    }
    e
}

/// API responses that are errors but not JSON — axum's own rejections (a path
/// parameter that is not a number, a bad query string: plain text) and 405 —
/// become the API's JSON error, so a client parses one shape everywhere.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let allow = resp.headers().get(axum::http::header::ALLOW).cloned();
    let text = match axum::body::to_bytes(resp.into_body(), 64 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "このAPIはそのメソッドを受け付けません".to_string(),
        ),
        StatusCode::NOT_FOUND => ("not_found", "見つかりません".to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "リクエスト本文が大きすぎます".to_string(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            format!("Content-Type が正しくありません（{text}）"),
        ),
        s if s.is_server_error() => ("internal_error", "内部エラーが発生しました".to_string()),
        _ => (
            "bad_request",
            if text.is_empty() {
                "リクエストが正しくありません".to_string()
            } else {
                format!("リクエストが正しくありません: {text}")
            },
        ),
    };
    let mut out = ApiError::new(status, code, message, None).into_response();
    if let Some(a) = allow {
        out.headers_mut().insert(axum::http::header::ALLOW, a);
    }
    out
}
