//! Shared test setup: the app on 127.0.0.1:0 over a fresh store.

#![allow(dead_code)]

use juchu_domain::access::Role;
use juchu_store::Store;
use juchu_store::masters::ProductInput;
use mailin_embedded::{Handler, Server, response};
use std::sync::{Arc, Mutex};

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApp {
    pub async fn start(store: Store) -> TestApp {
        Self::start_with(juchu_web::AppState::new(store)).await
    }

    pub async fn start_with(state: juchu_web::AppState) -> TestApp {
        let store = state.store.clone();
        let app = juchu_web::Application::bind("127.0.0.1:0", state)
            .await
            .expect("bind");
        let base = format!("http://{}", app.local_addr());
        // Links in customers' mails point here, as `juchu serve` sets it.
        store.set_public_url(&base).await.expect("public url");
        let server = tokio::spawn(app.run());
        juchu_adapters::install_tls_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestApp {
            base,
            store,
            client,
            server,
        }
    }

    pub async fn token(&self, role: Role) -> String {
        self.store
            .create_api_token(&format!("test-{}", role.code()), role)
            .await
            .unwrap()
            .0
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

pub async fn seed_products(store: &Store) {
    for (code, name, price, rate) in [
        ("TEA-01", "有機緑茶", 1080, 8),
        ("CUP-01", "湯呑み", 3300, 10),
    ] {
        store
            .create_product(ProductInput {
                code: code.into(),
                name: name.into(),
                unit_price: price,
                tax_rate: rate,
                shipping_fee: None,
                payment_fee: None,
                is_bundled_item: false,
                is_subscription: false,
            })
            .await
            .unwrap();
    }
}

pub fn order_body() -> serde_json::Value {
    serde_json::json!({
        "billing": {
            "family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
            "postal_code": "150-0001", "prefecture": "東京都", "address1": "渋谷区神宮前1-2-3",
            "phone": "090-1234-5678", "email": "hanako@example.jp"
        },
        "items": [{"product_code": "TEA-01", "quantity": 2}, {"product_code": "CUP-01", "quantity": 1}],
        "payment_method": "代金引換",
        "carrier": "yamato"
    })
}

pub fn csrf_in(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string()
}

/// Logs in and returns the session cookie header value and the page's CSRF token.
pub async fn login(app: &TestApp, email: &str, password: &str) -> (reqwest::StatusCode, String) {
    let r = app.client.get(app.url("/login")).send().await.unwrap();
    let set = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let login_cookie = set.split(';').next().unwrap().to_string();
    let csrf = csrf_in(&r.text().await.unwrap());
    let r = app
        .client
        .post(app.url("/login"))
        .header("cookie", &login_cookie)
        .form(&[("email", email), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    let status = r.status();
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("juchu_session="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .unwrap_or_default();
    (status, session)
}

/// A page's HTML as the logged-in staff member with `cookie` sees it.
pub async fn page(app: &TestApp, cookie: &str, path: &str) -> (reqwest::StatusCode, String) {
    let r = app
        .client
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Posts a form as the logged-in staff member; the CSRF token is added.
pub async fn post_form(
    app: &TestApp,
    cookie: &str,
    csrf: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (reqwest::StatusCode, String, String) {
    let mut all: Vec<(&str, &str)> = vec![("csrf", csrf)];
    all.extend_from_slice(fields);
    let r = app
        .client
        .post(app.url(path))
        .header("cookie", cookie)
        .form(&all)
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (r.status(), location, r.text().await.unwrap())
}

/// A staff member of `role` logged in: (session cookie, CSRF token).
pub async fn staff_session(app: &TestApp, email: &str, role: Role) -> (String, String) {
    app.store
        .create_staff(email, "", "correct horse battery", role)
        .await
        .unwrap();
    let (_, cookie) = login(app, email, "correct horse battery").await;
    let (_, html) = page(app, &cookie, "/orders").await;
    (cookie.clone(), csrf_in(&html))
}

/// Every message a real SMTP server on loopback receives.
#[derive(Clone, Default)]
pub struct Inbox(Arc<Mutex<Vec<String>>>, Arc<Mutex<Vec<u8>>>);

impl Handler for Inbox {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.1.lock().unwrap().extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> mailin_embedded::Response {
        let raw = std::mem::take(&mut *self.1.lock().unwrap());
        self.0
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&raw).into_owned());
        response::OK
    }
}

pub fn smtp_sink() -> (Inbox, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Inbox::default();
    let mut server = Server::new(inbox.clone());
    server.with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (inbox, port)
}

/// Delivers what is queued and returns every mail received so far as
/// (to, subject, body), decoded.
pub async fn deliver(store: &Store, inbox: &Inbox, port: u16) -> Vec<(String, String, String)> {
    let smtp =
        juchu_adapters::SmtpConfig::parse(&format!("smtp://127.0.0.1:{port}"), "shop@example.jp")
            .unwrap();
    let d = store
        .deliver_mail(&smtp.sender().unwrap(), 50)
        .await
        .unwrap();
    assert!(d.failed.is_empty(), "{d:?}");
    inbox
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|raw| {
            let m = mailparse::parse_mail(raw.as_bytes()).unwrap();
            let h = |k: &str| {
                m.headers
                    .iter()
                    .find(|x| x.get_key().eq_ignore_ascii_case(k))
                    .map(|x| x.get_value())
                    .unwrap_or_default()
            };
            (h("To"), h("Subject"), m.get_body().unwrap())
        })
        .collect()
}

/// The first URL in `body` under `base` + `path`.
pub fn link_in(body: &str, path: &str) -> String {
    let at = body
        .find(path)
        .unwrap_or_else(|| panic!("{path} in {body}"));
    let start = body[..at].rfind("http").unwrap();
    body[start..].split_whitespace().next().unwrap().to_string()
}

/// A customer with this family name and mail address (given name 花子).
pub async fn customer(store: &juchu_store::Store, family: &str, email: &str) -> i64 {
    store
        .create_customer(juchu_domain::customer::CustomerInput {
            address: juchu_domain::customer::Address {
                family_name: family.into(),
                given_name: "花子".into(),
                family_kana: "ヤマダ".into(),
                given_kana: "ハナコ".into(),
                postal_code: "150-0001".into(),
                prefecture: "東京都".into(),
                address1: "渋谷区神宮前1-2-3".into(),
                phone: "090-1234-5678".into(),
                email: email.into(),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

/// An API call with a token: (status, JSON or null).
pub async fn api(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let mut r = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}
