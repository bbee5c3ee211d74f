//! LINE Messaging API push (`POST /v2/bot/message/push`), over HTTP: the
//! client the worker uses for the real endpoint and for the sandbox alike
//! (`line_push_sandbox` serves the same API on loopback).
//!
//! Facts kept (REQUESTS-FACTS.md §7.1): a channel access token as Bearer; at
//! most five messages per call; `X-Line-Retry-Key` (a UUID) so a retry after a
//! timeout or a 5xx runs once — a duplicate is answered 409, which means it was
//! accepted before, so it counts as sent; 429 over the rate limit is retried
//! later. 4xx other than 409 and 429 are permanent (bad token, bad user id).

use std::time::Duration;

use juchu_store::line::{LinePush, LinePusher, PushFailure, PushFuture};

/// The official endpoint's base address.
pub const LINE_API: &str = "https://api.line.me";

/// Pushes through LINE's HTTP API at `base` (`https://api.line.me` or the
/// sandbox's loopback address).
#[derive(Clone)]
pub struct LineMessagingClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for LineMessagingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("LineMessagingClient")
            .field("base", &self.base)
            .finish()
    }
}

/// Makes aws-lc-rs (which lettre's SMTP TLS already uses) the process's TLS
/// provider, once: the HTTP client is built without a provider of its own, so
/// one crypto library serves every TLS connection. Call it before building
/// any HTTP client.
pub fn install_tls_provider() {
    // Err: a provider is installed already (this one, by an earlier call).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl LineMessagingClient {
    pub fn new(base: &str, channel_access_token: &str) -> Result<Self, String> {
        install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("LINE client: {e}"))?;
        Ok(LineMessagingClient {
            base: base.trim_end_matches('/').to_string(),
            token: channel_access_token.to_string(),
            http,
        })
    }

    /// `JUCHU_LINE_API_URL` (default the official endpoint) and
    /// `JUCHU_LINE_CHANNEL_TOKEN`; `None` without a token.
    pub fn from_env() -> Option<Result<Self, String>> {
        let token = std::env::var("JUCHU_LINE_CHANNEL_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())?;
        let base = std::env::var("JUCHU_LINE_API_URL")
            .ok()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| LINE_API.to_string());
        Some(Self::new(&base, token.trim()))
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(&self, push: &LinePush) -> Result<(), PushFailure> {
        let messages: Vec<serde_json::Value> = push
            .texts
            .iter()
            .map(|t| serde_json::json!({"type": "text", "text": t}))
            .collect();
        let body = serde_json::json!({"to": push.to, "messages": messages});
        let answer = self
            .http
            .post(format!("{}/v2/bot/message/push", self.base))
            .bearer_auth(&self.token)
            .header("X-Line-Retry-Key", &push.retry_key)
            .json(&body)
            .send()
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                return Err(PushFailure::Retry {
                    error: if e.is_timeout() {
                        "LINE: timeout".into()
                    } else {
                        format!("LINE: {e}")
                    },
                    retry_after: None,
                });
            }
        };
        let status = answer.status().as_u16();
        let retry_after = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = answer.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| text.chars().take(200).collect());
        match status {
            200..=299 => Ok(()),
            // Accepted before under this retry key: sent once already.
            409 => Ok(()),
            429 => Err(PushFailure::Retry {
                error: format!("LINE 429: {message}"),
                retry_after: retry_after.or(Some(60)),
            }),
            500..=599 => Err(PushFailure::Retry {
                error: format!("LINE {status}: {message}"),
                retry_after,
            }),
            _ => Err(PushFailure::Permanent(format!("LINE {status}: {message}"))),
        }
    }
}

impl LinePusher for LineMessagingClient {
    fn push<'a>(&'a self, push: &'a LinePush) -> PushFuture<'a> {
        Box::pin(self.send(push))
    }
}
