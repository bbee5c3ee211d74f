//! 決済処理, 入金通知, mail preview and ショップ情報 over real HTTP, both stores.

mod common;

use common::{TestApp, order_body, seed_products};
use juchu_adapters::SandboxGateway;
use juchu_domain::access::Role;
use juchu_store::both_stores;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut r = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(b);
    }
    let r = r.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

both_stores!(payments_over_http, |store| async move {
    seed_products(&store).await;
    let app = TestApp::start(store.clone()).await;
    let op = app.token(Role::Operator).await;
    let viewer = app.token(Role::Viewer).await;
    let gw = SandboxGateway::new(&store, std::time::Duration::ZERO);
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;

    // A card order with a card token is sent for 与信処理 on creation.
    let mut body = order_body();
    body["payment_method"] = json!("クレジットカード");
    body["card_token"] = json!("4111 1111 1111 1111");
    let (s, o) = send(&app, post.clone(), &op, "/api/v1/orders", Some(&body)).await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let n = o["order_number"].as_str().unwrap().to_string();
    let path = format!("/api/v1/orders/{n}/payment-requests");
    let (_, list) = send(&app, get.clone(), &viewer, &path, None).await;
    assert_eq!(list["requests"][0]["process"], "与信処理");
    assert_eq!(list["requests"][0]["status"], "pending");
    store.process_payments(&gw, 10).await.unwrap();
    let (_, o) = send(
        &app,
        get.clone(),
        &viewer,
        &format!("/api/v1/orders/{n}"),
        None,
    )
    .await;
    assert_eq!(o["payment_status"], "仮売上完了");

    // Viewers may not ask; unknown processes and impossible ones are refused.
    let (s, _) = send(
        &app,
        post.clone(),
        &viewer,
        &path,
        Some(&json!({"process": "capture"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = send(
        &app,
        post.clone(),
        &op,
        &path,
        Some(&json!({"process": "refund"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["field"], "process");
    let (s, e) = send(
        &app,
        post.clone(),
        &op,
        &path,
        Some(&json!({"process": "authorize"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, r) = send(
        &app,
        post.clone(),
        &op,
        &path,
        Some(&json!({"process": "売上処理", "reason": "出荷済み"})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert!(r["message"].as_str().unwrap().contains("売上処理"));
    store.process_payments(&gw, 10).await.unwrap();
    let (_, o) = send(
        &app,
        get.clone(),
        &viewer,
        &format!("/api/v1/orders/{n}"),
        None,
    )
    .await;
    assert_eq!(o["payment_status"], "売上完了");
    let (_, h) = send(
        &app,
        get.clone(),
        &viewer,
        &format!("/api/v1/orders/{n}/history"),
        None,
    )
    .await;
    assert!(
        h.to_string().contains("決済サービス（サンドボックス）"),
        "{h}"
    );
    let (s, _) = send(
        &app,
        post.clone(),
        &op,
        "/api/v1/orders/nope/payment-requests",
        Some(&json!({"process": "cancel"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Bank transfer: 入金待ち, then the provider's notification.
    let mut body = order_body();
    body["payment_method"] = json!("bank_transfer");
    let (_, o) = send(&app, post.clone(), &op, "/api/v1/orders", Some(&body)).await;
    let m = o["order_number"].as_str().unwrap().to_string();
    let total = o["total"].as_i64().unwrap();
    store.process_payments(&gw, 10).await.unwrap();
    let note = |amount: i64| json!({"order_number": m, "amount": amount, "paid_on": "2026-12-01"});
    let (s, e) = send(
        &app,
        post.clone(),
        &op,
        "/api/v1/payment-notifications",
        Some(&note(total + 1)),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["field"], "amount");
    let (s, o) = send(
        &app,
        post.clone(),
        &op,
        "/api/v1/payment-notifications",
        Some(&note(total)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["payment_status"], "入金済み");
    assert_eq!(o["paid_at"], "2026-12-01");

    // The rule action and the preset over the API.
    let (s, r) = send(
        &app,
        post.clone(),
        &app.token(Role::Manager).await,
        "/api/v1/automation-rules",
        Some(&json!({
            "name": "配送業者変更で再オーソリ",
            "trigger": {"kind": "event_kind", "event": "carrier_became"},
            "action": {"kind": "run_payment_process", "process": "reauthorize"}
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");

    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/api/v1/orders/{order_number}/payment-requests",
        "/api/v1/payment-notifications",
        "/api/v1/shop-settings",
        "/api/v1/mail-templates/{code}/preview",
    ] {
        assert!(doc["paths"][p].is_object(), "OpenAPI lacks {p}");
    }
});

both_stores!(shop_settings_and_preview_over_http, |store| async move {
    seed_products(&store).await;
    let app = TestApp::start(store.clone()).await;
    let manager = app.token(Role::Manager).await;
    let op = app.token(Role::Operator).await;
    let put = reqwest::Method::PUT;
    let (s, _) = send(
        &app,
        put.clone(),
        &op,
        "/api/v1/shop-settings",
        Some(&json!({"name": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = send(
        &app,
        put.clone(),
        &manager,
        "/api/v1/shop-settings",
        Some(&json!({"name": "茶舗", "email": "@@"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["field"], "email");
    let (s, shop) = send(
        &app,
        put,
        &manager,
        "/api/v1/shop-settings",
        Some(&json!({"name": "茶舗やまだ", "email": "shop@example.jp"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{shop}");
    let (_, o) = send(
        &app,
        reqwest::Method::POST,
        &op,
        "/api/v1/orders",
        Some(&order_body()),
    )
    .await;
    let n = o["order_number"].as_str().unwrap();
    let (s, p) = send(
        &app,
        reqwest::Method::POST,
        &op,
        "/api/v1/mail-templates/order_received/preview",
        Some(&json!({"order_number": n})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert!(p["subject"].as_str().unwrap().starts_with("【茶舗やまだ】"));
    assert!(p["body"].as_str().unwrap().contains("有機緑茶※ × 2"), "{p}");
    let (s, e) = send(
        &app,
        reqwest::Method::POST,
        &op,
        "/api/v1/mail-templates/order_received/preview",
        Some(&json!({"order_number": n, "subject": "x", "body": "{{ nope }}"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, _) = send(
        &app,
        reqwest::Method::POST,
        &op,
        "/api/v1/mail-templates/order_received/preview",
        Some(&json!({"order_number": "none"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
});
