//! The subscription API and 定期受注管理 pages over real HTTP, on both stores.

mod common;

use common::TestApp;
use juchu_domain::access::Role;
use juchu_store::both_stores;
use juchu_store::masters::ProductInput;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn call(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn setup(app: &TestApp) -> (String, i64) {
    app.store
        .create_product(ProductInput {
            code: "SUP-01".into(),
            name: "コラーゲンサプリ".into(),
            unit_price: 3980,
            tax_rate: 8,
            shipping_fee: None,
            payment_fee: None,
            is_bundled_item: false,
            is_subscription: true,
        })
        .await
        .unwrap();
    let token = app.token(Role::Operator).await;
    let (s, order) = call(
        app,
        &token,
        reqwest::Method::POST,
        "/api/v1/orders",
        Some(json!({
            "billing": {
                "family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
                "postal_code": "150-0001", "prefecture": "東京都", "address1": "渋谷区神宮前1-2-3",
                "phone": "090-1234-5678", "email": "hanako@example.jp"
            },
            "items": [{"product_code": "SUP-01", "quantity": 1, "unit_price": 980}],
            "payment_method": "代金引換",
            "scheduled_delivery_date": "2027-01-10",
            "subscription_cycle": {"kind": "days", "every": 30}
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let id = order["subscription_id"].as_i64().expect("subscription_id");
    (token, id)
}

both_stores!(subscription_api, |store| async move {
    let app = TestApp::start(store).await;
    let (token, id) = setup(&app).await;
    use reqwest::Method as M;
    let (s, list) = call(
        &app,
        &token,
        M::GET,
        "/api/v1/subscriptions?status=有効",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["total"], 1);
    let path = format!("/api/v1/subscriptions/{id}");
    let (_, sub) = call(&app, &token, M::GET, &path, None).await;
    assert_eq!(sub["status"], "有効");
    assert_eq!(sub["count"], 1);
    assert_eq!(sub["next_delivery_date"], "2027-02-09");
    assert_eq!(sub["next_ship_date"], "2027-02-07");
    assert_eq!(sub["previous_delivery_date"], "2027-01-10");
    assert_eq!(sub["calendar"].as_array().unwrap().len(), 6);
    assert_eq!(sub["items"][0]["next_unit_price"], 3980);

    let (s, skipped) = call(&app, &token, M::POST, &format!("{path}/skip"), None).await;
    assert_eq!(s, StatusCode::OK, "{skipped}");
    assert_eq!(skipped["next_delivery_date"], "2027-03-11");
    let (s, paused) = call(
        &app,
        &token,
        M::POST,
        &format!("{path}/pause"),
        Some(json!({"days": 10, "from": "previous"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{paused}");
    assert_eq!(paused["next_delivery_date"], "2027-01-20");
    // Bad input: named field, nothing changed.
    for (body, field) in [
        (json!({"days": 0, "from": "next"}), "days"),
        (json!({"days": 5, "from": "someday"}), "from"),
    ] {
        let (s, err) = call(&app, &token, M::POST, &format!("{path}/pause"), Some(body)).await;
        assert!(s.is_client_error(), "{err}");
        assert_eq!(err["field"], field, "{err}");
    }
    let v = paused["version"].as_i64().unwrap();
    let (s, err) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "cycle": {"kind": "days", "every": 0}})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["field"], "cycle.every");
    let (s, err) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "status": "キャンセル"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a reason is required");
    assert_eq!(err["field"], "reason");
    let (s, cancelled) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "status": "キャンセル", "cancel_reason": "価格が高い"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "キャンセル");
    let v = cancelled["version"].as_i64().unwrap();
    let (s, err) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "status": "有効"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["field"], "confirm");
    let (s, active) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "status": "有効", "confirm": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(active["status"], "有効");
    let (s, _) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "memo": "古い版"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // The daily run from the CLI's entry point, then the orders endpoint.
    let report = app
        .store
        .run_subscriptions("2027-01-16".parse().unwrap(), &Default::default())
        .await
        .unwrap();
    assert_eq!(report.created, 1);
    let (_, orders) = call(&app, &token, M::GET, &format!("{path}/orders"), None).await;
    let orders = orders.as_array().unwrap();
    assert_eq!(orders.len(), 2, "parent and one child");
    assert_eq!(orders[1]["subscription_delivery_date"], "2027-01-20");
    let (_, history) = call(&app, &token, M::GET, &format!("{path}/history"), None).await;
    assert!(history.as_array().unwrap().len() >= 5);

    // A viewer reads but cannot operate; no token: 401.
    let viewer = app.token(Role::Viewer).await;
    let (s, _) = call(&app, &viewer, M::POST, &format!("{path}/skip"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let r = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (s, _) = call(&app, &token, M::GET, "/api/v1/subscriptions/999999", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
});

both_stores!(cycle_changes_and_cards_over_http, |store| async move {
    let app = TestApp::start(store).await;
    let (token, id) = setup(&app).await;
    use reqwest::Method as M;
    let path = format!("/api/v1/subscriptions/{id}");
    let (_, sub) = call(&app, &token, M::GET, &path, None).await;
    assert_eq!(sub["payment_token_set"], false, "代金引換 keeps no token");
    assert_eq!(sub["needs_attention_reasons"], json!([]));
    // Skipped: 02-09 → 03-11 (last delivery 01-10).
    let (_, skipped) = call(&app, &token, M::POST, &format!("{path}/skip"), None).await;
    assert_eq!(skipped["next_delivery_date"], "2027-03-11");
    let v = skipped["version"].as_i64().unwrap();
    // Every 14 days from the last delivery is 01-24: earlier, so refused
    // without the confirmation, on `cycle`, the message naming both dates.
    let fortnightly = json!({"kind": "days", "every": 14});
    let (s, err) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "cycle": fortnightly})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["field"], "cycle", "{err}");
    let msg = err["message"].as_str().unwrap_or_default().to_string();
    assert!(
        msg.contains("2027-01-24") && msg.contains("2027-03-11"),
        "{err}"
    );
    // A dry run shows the resulting dates and saves nothing.
    let (s, preview) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "cycle": fortnightly, "confirm": true, "dry_run": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    assert_eq!(preview["next_delivery_date"], "2027-01-24");
    assert_eq!(preview["calendar"][1]["delivery_date"], "2027-02-07");
    let (_, now) = call(&app, &token, M::GET, &path, None).await;
    assert_eq!(now["next_delivery_date"], "2027-03-11");
    assert_eq!(now["version"], v);
    // A longer cycle keeps the skipped date.
    let (s, longer) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "cycle": {"kind": "days", "every": 60}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{longer}");
    assert_eq!(longer["next_delivery_date"], "2027-03-11");
    // 第2火曜日, confirmed: from the last delivery that is 2027-02-09.
    let v = longer["version"].as_i64().unwrap();
    let second_tuesday = json!({"kind": "month_weekday", "every": 1, "week": 2, "weekday": 2});
    let (s, err) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "cycle": second_tuesday})),
    )
    .await;
    assert_eq!(
        (s, err["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("cycle"))
    );
    let (s, moved) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "cycle": second_tuesday, "confirm": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    assert_eq!(moved["next_delivery_date"], "2027-02-09");
    assert_eq!(moved["cycle_label"], "1ヶ月ごと 第2火曜日");
    assert_eq!(moved["calendar"][1]["delivery_date"], "2027-03-09");

    // カード変更: refused while the subscription is paid 代金引換 …
    let token_path = format!("{path}/payment-token");
    let (s, err) = call(
        &app,
        &token,
        M::PUT,
        &token_path,
        Some(json!({"card_token": "tok_live_5f2c9"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["code"], "not_card", "{err}");
    let v = moved["version"].as_i64().unwrap();
    let (s, by_card) = call(
        &app,
        &token,
        M::PATCH,
        &path,
        Some(json!({"version": v, "payment_method": "クレジットカード"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{by_card}");
    assert_eq!(by_card["payment_token_set"], false);
    // … and a token that is not one is refused on the field.
    let (s, err) = call(
        &app,
        &token,
        M::PUT,
        &token_path,
        Some(json!({"card_token": " "})),
    )
    .await;
    assert_eq!(
        (s, err["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("card_token"))
    );
    let (s, replaced) = call(
        &app,
        &token,
        M::PUT,
        &token_path,
        Some(json!({"card_token": "tok_live_5f2c9"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["payment_token_set"], true);
    let (_, history) = call(&app, &token, M::GET, &format!("{path}/history"), None).await;
    let text = history.to_string();
    assert!(text.contains("カード情報"), "{text}");
    assert!(
        !text.contains("tok_live_5f2c9"),
        "履歴 never shows the token: {text}"
    );
});
