//! Webhook delivery over HTTP: POSTs a signed event (the store signs it) to
//! a shop's endpoint, and refuses addresses inside the network juchu runs
//! in (SSRF) unless `JUCHU_WEBHOOK_ALLOW_PRIVATE=true`.
//!
//! The address check happens where the connection is made: names are
//! resolved by our own resolver, which drops private addresses, so a name
//! that resolved to a public address when the endpoint was saved and to
//! 127.0.0.1 later (DNS rebinding) still cannot reach loopback. Redirects are
//! not followed (a 3xx counts as a failure, like Stripe) and no proxy is used.

use juchu_domain::webhook::is_public;
use juchu_store::webhooks::{SendFuture, WebhookRequest, WebhookResponse, WebhookSender};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The environment variable that allows private and loopback addresses.
pub const ALLOW_PRIVATE_ENV: &str = "JUCHU_WEBHOOK_ALLOW_PRIVATE";

/// Whether `JUCHU_WEBHOOK_ALLOW_PRIVATE` is `true` (or `1`).
pub fn allow_private_from_env() -> bool {
    std::env::var(ALLOW_PRIVATE_ENV)
        .map(|v| matches!(v.trim(), "true" | "1" | "yes"))
        .unwrap_or(false)
}

/// Resolves names and keeps only public addresses (all of them when private
/// ones are allowed).
struct PublicOnly {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!(
                    "{host} は社内・ローカルのアドレスを指しているため送信しません（{ALLOW_PRIVATE_ENV}=true で許可）"
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Checks an endpoint URL before it is saved: http(s), a host, and (unless
/// private addresses are allowed) a name or address on the public internet.
/// The error is a Japanese sentence for the `url` field.
pub async fn check_endpoint_url(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed =
        reqwest::Url::parse(url.trim()).map_err(|e| format!("URL として読めません（{e}）"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("URL は https:// か http:// で始めてください".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("URL に利用者名やパスワードを含めないでください（署名で認証します）".into());
    }
    let Some(host) = parsed.host() else {
        return Err("URL にホスト名がありません".into());
    };
    if allow_private {
        return Ok(());
    }
    let ip_refused = |ip: IpAddr| {
        format!("{ip} は社内・ローカルのアドレスです。公開された URL を指定してください")
    };
    match host {
        url::Host::Ipv4(ip) if !is_public(IpAddr::V4(ip)) => Err(ip_refused(IpAddr::V4(ip))),
        url::Host::Ipv6(ip) if !is_public(IpAddr::V6(ip)) => Err(ip_refused(IpAddr::V6(ip))),
        url::Host::Domain(name) => {
            let lower = name.to_ascii_lowercase();
            if lower == "localhost" || lower.ends_with(".localhost") {
                return Err(format!(
                    "{name} はローカルのホストです。公開された URL を指定してください"
                ));
            }
            let port = parsed.port_or_known_default().unwrap_or(443);
            // A name that does not resolve here is refused too: nothing
            // would be delivered to it.
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                .await
                .map_err(|e| format!("{name} の名前解決に失敗しました（{e}）"))?
                .collect();
            match addrs.iter().find(|a| !is_public(a.ip())) {
                Some(a) => Err(format!(
                    "{name} は社内・ローカルのアドレス（{}）を指しています。公開された URL を指定してください",
                    a.ip()
                )),
                None if addrs.is_empty() => Err(format!("{name} の名前解決に失敗しました")),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// [`check_endpoint_url`] as the web layer's guard for saved endpoints.
#[derive(Debug, Clone, Copy)]
pub struct PublicUrlGuard {
    pub allow_private: bool,
}

impl juchu_store::webhooks::UrlGuard for PublicUrlGuard {
    fn check<'a>(&'a self, url: &'a str) -> juchu_store::webhooks::CheckFuture<'a> {
        Box::pin(check_endpoint_url(url, self.allow_private))
    }
}

/// The HTTP client the workers deliver with.
#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    allow_private: bool,
}

impl WebhookClient {
    /// `timeout`: for the whole request; an endpoint slower than this counts
    /// as failed and is retried.
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Self, String> {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .build()
            .map_err(|e| format!("webhook client: {e}"))?;
        Ok(WebhookClient {
            http,
            allow_private,
        })
    }

    async fn post(&self, request: &WebhookRequest) -> WebhookResponse {
        let started = Instant::now();
        let elapsed = |s: Instant| s.elapsed().as_millis().min(i64::MAX as u128) as i64;
        // An address literal never goes through the resolver: checked here.
        if !self.allow_private
            && let Ok(url) = reqwest::Url::parse(&request.url)
            && let Some(ip) = match url.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            }
            && !is_public(ip)
        {
            return WebhookResponse {
                status: None,
                body: String::new(),
                duration_ms: 0,
                error: format!("{ip} は社内・ローカルのアドレスのため送信しません"),
            };
        }
        let mut builder = self.http.post(&request.url);
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        match builder.body(request.body.clone()).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = match resp.text().await {
                    Ok(b) => b,
                    Err(e) => format!("（応答本文を読めませんでした: {e}）"),
                };
                WebhookResponse {
                    status: Some(status),
                    body,
                    duration_ms: elapsed(started),
                    error: String::new(),
                }
            }
            Err(e) => WebhookResponse {
                status: None,
                body: String::new(),
                duration_ms: elapsed(started),
                error: describe(&e),
            },
        }
    }
}

/// A send error in a sentence, with its cause chain (reqwest's own message
/// says only "error sending request").
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "タイムアウト"
    } else if e.is_connect() {
        "接続できません"
    } else {
        "送信エラー"
    };
    let mut text = format!("{what}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

impl WebhookSender for WebhookClient {
    fn send<'a>(&'a self, request: &'a WebhookRequest) -> SendFuture<'a> {
        Box::pin(self.post(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_inside_the_network_are_refused() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://10.0.0.5/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost:3000/x",
            "http://a.localhost/x",
        ] {
            let e = check_endpoint_url(url, false).await.unwrap_err();
            assert!(e.contains("ローカル"), "{url}: {e}");
        }
        assert!(
            check_endpoint_url("ftp://example.com/", false)
                .await
                .is_err()
        );
        assert!(
            check_endpoint_url("https://u:p@example.com/", false)
                .await
                .is_err()
        );
        assert!(check_endpoint_url("not a url", false).await.is_err());
        assert!(
            check_endpoint_url("http://127.0.0.1:8080/hook", true)
                .await
                .is_ok()
        );
        // An address literal on the public internet needs no name lookup.
        assert!(
            check_endpoint_url("https://8.8.8.8/hook", false)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn the_client_refuses_loopback_unless_allowed() {
        let client = WebhookClient::new(Duration::from_secs(2), false).unwrap();
        let r = client
            .post(&WebhookRequest {
                url: "http://127.0.0.1:9/hook".into(),
                headers: vec![],
                body: "{}".into(),
            })
            .await;
        assert_eq!(r.status, None);
        assert!(r.error.contains("ローカル"), "{}", r.error);
        let r = client
            .post(&WebhookRequest {
                url: "http://localhost:9/hook".into(),
                headers: vec![],
                body: "{}".into(),
            })
            .await;
        assert_eq!(r.status, None);
        assert!(r.error.contains("ローカル"), "{}", r.error);
    }
}
