//! A LINE Messaging API push endpoint on loopback that checks requests as LINE
//! does and records what it accepted: what tests and `juchu serve --demo` push
//! to. It answers LINE's way — 401 for a bad token, 400 with LINE's messages
//! for a bad `to`, no or more than five messages, an empty or too long text, a
//! malformed retry key; 409 with `X-Line-Accepted-Request-Id` for a retry key
//! it accepted before — and can be told to fail the next pushes (500, 429, or
//! a slow answer) to exercise retries.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// One push the sandbox accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPush {
    pub to: String,
    pub texts: Vec<String>,
    pub retry_key: Option<String>,
    pub request_id: String,
}

/// How the next push is answered instead of normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxFailure {
    ServerError,
    TooManyRequests,
    /// Answers after this long (longer than the client's timeout: a timeout).
    Slow(Duration),
}

#[derive(Default)]
struct Inner {
    received: Vec<ReceivedPush>,
    accepted_keys: HashMap<String, String>,
    failures: Vec<SandboxFailure>,
    next_id: u64,
}

/// The running sandbox. Cloning shares it.
#[derive(Clone)]
pub struct LinePushSandbox {
    token: String,
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl LinePushSandbox {
    /// Serves on 127.0.0.1 (a free port) until the runtime ends; pushes must
    /// carry `channel_access_token`.
    pub async fn start(channel_access_token: &str) -> std::io::Result<LinePushSandbox> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let sandbox = LinePushSandbox {
            token: channel_access_token.to_string(),
            addr,
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let app = Router::new()
            .route("/v2/bot/message/push", post(push))
            .with_state(sandbox.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "LINE sandbox stopped");
            }
        });
        Ok(sandbox)
    }

    /// The base address to give the client (`http://127.0.0.1:port`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Every push accepted so far, in order.
    pub fn received(&self) -> Vec<ReceivedPush> {
        self.lock().received.clone()
    }

    /// The next pushes are answered with these failures, one each.
    pub fn fail_next(&self, failures: &[SandboxFailure]) {
        self.lock().failures.extend_from_slice(failures);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the lists half-written.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn error(status: StatusCode, message: &str, details: &[(&str, &str)]) -> Response {
    let details: Vec<serde_json::Value> = details
        .iter()
        .map(|(m, p)| serde_json::json!({"message": m, "property": p}))
        .collect();
    let body = if details.is_empty() {
        serde_json::json!({ "message": message })
    } else {
        serde_json::json!({ "message": message, "details": details })
    };
    (status, axum::Json(body)).into_response()
}

fn is_user_id(to: &str) -> bool {
    to.len() == 33
        && to.starts_with('U')
        && to[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_uuid(key: &str) -> bool {
    let parts: Vec<&str> = key.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn push(State(sb): State<LinePushSandbox>, headers: HeaderMap, body: Bytes) -> Response {
    let failure = {
        let mut inner = sb.lock();
        (!inner.failures.is_empty()).then(|| inner.failures.remove(0))
    };
    match failure {
        Some(SandboxFailure::ServerError) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
                &[],
            );
        }
        Some(SandboxFailure::TooManyRequests) => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "The API rate limit has been exceeded. Try again later.",
                &[],
            );
        }
        Some(SandboxFailure::Slow(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", sb.token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Authentication failed. Confirm that the access token in the authorization header is valid.",
            &[],
        );
    }
    let retry_key = headers
        .get("x-line-retry-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(k) = &retry_key
        && !is_uuid(k)
    {
        return error(StatusCode::BAD_REQUEST, "The retry key is invalid", &[]);
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "The request body has 1 error(s)",
            &[],
        );
    };
    let to = json.get("to").and_then(|v| v.as_str()).unwrap_or("");
    if !is_user_id(to) {
        return error(
            StatusCode::BAD_REQUEST,
            "The property, 'to', in the request body is invalid (line: -, column: -)",
            &[],
        );
    }
    let messages = json
        .get("messages")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    if messages.is_empty() || messages.len() > 5 {
        return error(
            StatusCode::BAD_REQUEST,
            "The request body has 1 error(s)",
            &[("Size must be between 1 and 5", "messages")],
        );
    }
    let mut texts = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let text = m.get("text").and_then(|t| t.as_str()).unwrap_or("");
        if m.get("type").and_then(|t| t.as_str()) != Some("text") {
            return error(
                StatusCode::BAD_REQUEST,
                "The request body has 1 error(s)",
                &[(
                    "Must be one of the following values: [text]",
                    &format!("messages[{i}].type"),
                )],
            );
        }
        let n = text.chars().count();
        if n == 0 || n > 5000 {
            return error(
                StatusCode::BAD_REQUEST,
                "The request body has 1 error(s)",
                &[(
                    "Length must be between 0 and 5000",
                    &format!("messages[{i}].text"),
                )],
            );
        }
        texts.push(text.to_string());
    }
    let mut inner = sb.lock();
    if let Some(k) = &retry_key
        && let Some(accepted) = inner.accepted_keys.get(k).cloned()
    {
        let mut r = error(
            StatusCode::CONFLICT,
            "The retry key is already accepted",
            &[],
        );
        if let Ok(v) = accepted.parse() {
            r.headers_mut().insert("x-line-accepted-request-id", v);
        }
        return r;
    }
    inner.next_id += 1;
    let request_id = format!("sandbox-{:08}", inner.next_id);
    if let Some(k) = &retry_key {
        inner.accepted_keys.insert(k.clone(), request_id.clone());
    }
    inner.received.push(ReceivedPush {
        to: to.to_string(),
        texts: texts.clone(),
        retry_key,
        request_id: request_id.clone(),
    });
    let sent: Vec<serde_json::Value> = texts
        .iter()
        .enumerate()
        .map(|(i, _)| serde_json::json!({"id": format!("{request_id}-{i}"), "quoteToken": "sandbox"}))
        .collect();
    let mut r = (
        StatusCode::OK,
        axum::Json(serde_json::json!({"sentMessages": sent})),
    )
        .into_response();
    if let Ok(v) = request_id.parse() {
        r.headers_mut().insert("x-line-request-id", v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line_push::LineMessagingClient;
    use juchu_store::line::{LinePush, LinePusher, PushFailure};

    fn push(to: &str, texts: &[&str], key: &str) -> LinePush {
        LinePush {
            to: to.into(),
            texts: texts.iter().map(|t| t.to_string()).collect(),
            retry_key: key.into(),
        }
    }

    const USER: &str = "U0123456789abcdef0123456789abcdef";
    const KEY: &str = "123e4567-e89b-42d3-a456-426614174000";

    #[tokio::test]
    async fn the_client_and_the_sandbox_agree_on_the_api() {
        let sb = LinePushSandbox::start("token-1").await.unwrap();
        let client = LineMessagingClient::new(&sb.base_url(), "token-1").unwrap();
        client
            .push(&push(USER, &["こんにちは"], KEY))
            .await
            .unwrap();
        // The same retry key again: 409, which is "sent already".
        client
            .push(&push(USER, &["こんにちは"], KEY))
            .await
            .unwrap();
        assert_eq!(sb.received().len(), 1);
        assert_eq!(sb.received()[0].texts, vec!["こんにちは".to_string()]);

        let bad_token = LineMessagingClient::new(&sb.base_url(), "wrong").unwrap();
        assert!(matches!(
            bad_token.push(&push(USER, &["x"], "223e4567-e89b-42d3-a456-426614174000")).await,
            Err(PushFailure::Permanent(m)) if m.contains("401")
        ));
        let six = ["1", "2", "3", "4", "5", "6"];
        assert!(matches!(
            client.push(&push(USER, &six, "323e4567-e89b-42d3-a456-426614174000")).await,
            Err(PushFailure::Permanent(m)) if m.contains("400")
        ));
        assert!(matches!(
            client.push(&push("someone", &["x"], "423e4567-e89b-42d3-a456-426614174000")).await,
            Err(PushFailure::Permanent(m)) if m.contains("'to'")
        ));
        assert!(matches!(
            client.push(&push(USER, &["x"], "not-a-uuid")).await,
            Err(PushFailure::Permanent(m)) if m.contains("retry key")
        ));
        sb.fail_next(&[SandboxFailure::ServerError, SandboxFailure::TooManyRequests]);
        assert!(matches!(
            client
                .push(&push(USER, &["x"], "523e4567-e89b-42d3-a456-426614174000"))
                .await,
            Err(PushFailure::Retry { .. })
        ));
        assert!(matches!(
            client
                .push(&push(USER, &["x"], "523e4567-e89b-42d3-a456-426614174000"))
                .await,
            Err(PushFailure::Retry {
                retry_after: Some(_),
                ..
            })
        ));
        client
            .push(&push(USER, &["x"], "523e4567-e89b-42d3-a456-426614174000"))
            .await
            .unwrap();
        assert_eq!(sb.received().len(), 2);
    }
}
