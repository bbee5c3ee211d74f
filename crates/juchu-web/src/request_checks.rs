//! What every request is checked for before a handler sees it:
//! - a NUL character (U+0000) anywhere text comes in — a query parameter, a
//!   form field, a JSON string — is refused with 422 naming the field, on both
//!   stores alike (PostgreSQL cannot store it; SQLite would keep it silently);
//! - an API body in a content type its operation does not take gets 415
//!   (the types are those of the OpenAPI document, so the two cannot differ).
//!
//! Uploaded files are checked where they are decoded (`shipment_import::decode`).

use crate::error::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The largest body looked into here; bigger ones are the uploads, refused or
/// read by their own handlers.
const MAX_CHECKED_BODY: usize = crate::job_files::MAX_UPLOAD_BYTES;

fn nul_message(field: &str) -> String {
    format!("{field}: NUL 文字（U+0000）は使えません。入力を確認してください")
}

fn refuse(api: bool, field: &str) -> Response {
    let message = nul_message(field);
    if api {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nul_character",
            message,
            Some(field.to_string()),
        )
        .into_response()
    } else {
        crate::page::error_page(StatusCode::UNPROCESSABLE_ENTITY, &message)
    }
}

/// The name of the first `key=value` pair of an urlencoded string whose key
/// or value holds a NUL.
fn nul_in_urlencoded(s: &[u8]) -> Option<String> {
    if !s.contains(&0) && !contains_ignore_case(s, b"%00") {
        return None;
    }
    form_pairs(s)
        .into_iter()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| k.replace('\0', "\\0"))
}

fn form_pairs(s: &[u8]) -> Vec<(String, String)> {
    s.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut it = p.splitn(2, |b| *b == b'=');
            let k = it.next().unwrap_or_default();
            let v = it.next().unwrap_or_default();
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                match std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Whether a JSON text holds the escape `\u0000` (an escaped backslash before
/// it, `\\u0000`, is text and does not count). Raw NUL bytes are not JSON at
/// all and fail to parse.
fn json_has_nul_escape(body: &[u8]) -> bool {
    let mut i = 0;
    while let Some(pos) = find(&body[i..], b"u0000") {
        let at = i + pos;
        let slashes = body[..at].iter().rev().take_while(|b| **b == b'\\').count();
        if slashes % 2 == 1 {
            return true;
        }
        i = at + 1;
    }
    false
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The path (`billing.family_name`, `items[0].product_code`) of the first
/// string in `v` that holds a NUL, or of the key that does.
fn nul_path(v: &serde_json::Value, path: &str) -> Option<String> {
    match v {
        serde_json::Value::String(s) if s.contains('\0') => Some(path.to_string()),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_path(x, &format!("{path}[{i}]"))),
        serde_json::Value::Object(o) => o.iter().find_map(|(k, x)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(p.replace('\0', "\\0"))
            } else {
                nul_path(x, &p)
            }
        }),
        _ => None,
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

fn has_body(req: &Request) -> bool {
    let len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match len {
        Some(n) => n > 0,
        None => req.headers().contains_key(header::TRANSFER_ENCODING),
    }
}

/// Every request: NUL in the query string, in a form, or in a JSON body.
pub async fn refuse_nul(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    if let Some(q) = req.uri().query()
        && let Some(field) = nul_in_urlencoded(q.as_bytes())
    {
        return refuse(api, &field);
    }
    let kind = media_type(req.headers());
    let checked = matches!(
        kind.as_deref(),
        Some("application/x-www-form-urlencoded") | Some("application/json")
    ) || (api && kind.is_none());
    if !checked || !has_body(&req) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_CHECKED_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return if api {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "リクエスト本文が大きすぎます",
                    None,
                )
                .into_response()
            } else {
                crate::page::error_page(StatusCode::PAYLOAD_TOO_LARGE, "送信内容が大きすぎます")
            };
        }
    };
    let field = if kind.as_deref() == Some("application/x-www-form-urlencoded") {
        nul_in_urlencoded(&bytes)
    } else if json_has_nul_escape(&bytes) {
        Some(
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| nul_path(&v, ""))
                .unwrap_or_else(|| "body".into()),
        )
    } else {
        None
    };
    if let Some(field) = field {
        return refuse(api, &field);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// (path, method) → the content types its OpenAPI operation takes.
static BODY_TYPES: LazyLock<HashMap<(String, String), Vec<String>>> = LazyLock::new(|| {
    let doc = crate::openapi::openapi();
    let mut map = HashMap::new();
    for (path, item) in doc.paths.paths {
        let ops = [
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (method, op) in ops {
            if let Some(utoipa::openapi::RefOr::T(body)) =
                op.as_ref().and_then(|o| o.request_body.as_ref())
            {
                let types = body
                    .content
                    .keys()
                    .map(|k| k.to_ascii_lowercase())
                    .collect();
                map.insert((path.clone(), method.to_string()), types);
            }
        }
    }
    map
});

fn accepts(types: &[String], given: &str) -> bool {
    types.iter().any(|t| {
        t == given
            || t == "*/*"
            || (t.ends_with("/*") && given.starts_with(t.trim_end_matches('*')))
            || (t == "application/json" && given.ends_with("+json"))
    })
}

/// API routes (after routing, so the operation is known): a body in a type
/// the operation does not take is 415. A body without a `Content-Type` is
/// read as the operation's first type, as before.
pub async fn check_content_type(
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    if !matches!(
        method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) || !has_body(&req)
    {
        return next.run(req).await;
    }
    let (Some(path), Some(given)) = (matched, media_type(req.headers())) else {
        return next.run(req).await;
    };
    let Some(types) = BODY_TYPES.get(&(path.as_str().to_string(), method.to_string())) else {
        return next.run(req).await;
    };
    if accepts(types, &given) {
        return next.run(req).await;
    }
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!(
            "Content-Type「{given}」は受け付けません（{} で送ってください）",
            types.join(" / ")
        ),
        Some("Content-Type".into()),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_in_forms_and_queries_names_the_field() {
        assert_eq!(nul_in_urlencoded(b"a=1&b=x%00y"), Some("b".into()));
        assert_eq!(nul_in_urlencoded(b"name=%E5%B1%B1%00"), Some("name".into()));
        assert_eq!(nul_in_urlencoded(b"a=100&b=%2500"), None);
        assert_eq!(nul_in_urlencoded(b"a=1"), None);
    }

    #[test]
    fn nul_escapes_in_json() {
        assert!(json_has_nul_escape(br#"{"a":"x\u0000"}"#));
        assert!(!json_has_nul_escape(br#"{"a":"x\\u0000"}"#));
        assert!(json_has_nul_escape(br#"{"a":"x\\\u0000"}"#));
        let v: serde_json::Value =
            serde_json::from_str(r#"{"items":[{"code":"A"},{"code":"B\u0000"}]}"#).unwrap();
        assert_eq!(nul_path(&v, ""), Some("items[1].code".into()));
    }

    #[test]
    fn content_types_match_with_wildcards_and_json_suffixes() {
        let json = vec!["application/json".to_string()];
        assert!(accepts(&json, "application/json"));
        assert!(accepts(&json, "application/merge-patch+json"));
        assert!(!accepts(&json, "text/plain"));
        let image = vec!["image/*".to_string()];
        assert!(accepts(&image, "image/png"));
    }
}
