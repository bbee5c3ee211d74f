//! ブラックリスト over real HTTP (the interfaces the acceptance checks use), both stores.

mod common;

use common::{TestApp, order_body, seed_products};
use juchu_domain::access::Role;
use juchu_store::both_stores;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn send(
    app: &TestApp,
    m: Method,
    token: &str,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let r = app
        .client
        .request(m, app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

both_stores!(blacklist_over_http, |store| async move {
    seed_products(&store).await;
    let app = TestApp::start(store).await;
    let op = app.token(Role::Operator).await;
    let manager = app.token(Role::Manager).await;
    // A customer created with an order, then blacklisted.
    let mut body = order_body();
    body["customer"] = body["billing"].clone();
    body.as_object_mut().unwrap().remove("billing");
    let (s, first) = send(&app, Method::POST, &op, "/api/v1/orders", &body).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["needs_attention"], false);
    let id = first["customer_id"].as_i64().unwrap();
    let path = format!("/api/v1/customers/{id}");
    let (s, e) = send(
        &app,
        Method::PATCH,
        &op,
        &path,
        &json!({"blacklisted": true}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["field"], "blacklist_reason");
    let (s, c) = send(
        &app,
        Method::PATCH,
        &op,
        &path,
        &json!({"blacklisted": true, "blacklist_reason": "受取拒否"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["blacklisted"], true);
    assert_eq!(c["blacklist_reason"], "受取拒否");
    let (_, listed) = send(
        &app,
        Method::GET,
        &op,
        "/api/v1/customers?blacklisted=true",
        &Value::Null,
    )
    .await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["items"][0]["id"], id);
    let (s, _) = send(
        &app,
        Method::GET,
        &op,
        "/api/v1/customers?blacklisted=yes",
        &Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = send(
        &app,
        Method::PATCH,
        &op,
        "/api/v1/customers/999999",
        &json!({"blacklisted": true, "blacklist_reason": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A new customer typed inline with the same name and phone: similar.
    let mut similar = order_body();
    similar["customer"] = json!({
        "family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
        "postal_code": "999-9999", "prefecture": "大阪府", "address1": "北区1-1",
        "phone": "０９０-１２３４-５６７８", "email": "other@example.jp"
    });
    similar.as_object_mut().unwrap().remove("billing");
    let (s, o) = send(&app, Method::POST, &op, "/api/v1/orders", &similar).await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    assert_eq!(o["needs_attention"], true);
    assert_eq!(
        o["needs_attention_reasons"],
        json!(["ブラックリスト類似顧客からの受注"])
    );
    assert_eq!(o["attention_matches"][0]["customer_id"], id);
    assert_eq!(
        o["attention_matches"][0]["fields"],
        json!(["姓名", "電話番号"])
    );

    // Conditions.
    let (s, e) = send(
        &app,
        Method::POST,
        &op,
        "/api/v1/blacklist-conditions",
        &json!({"name": "x", "clauses": []}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let (s, e) = send(
        &app,
        Method::POST,
        &manager,
        "/api/v1/blacklist-conditions",
        &json!({"name": "x", "clauses": []}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["field"], "clauses");
    let (s, e) = send(&app, Method::POST, &manager, "/api/v1/blacklist-conditions", &json!({"name": "x", "clauses": [{"field": "billing_phone", "op": "regex", "value": "0.*"}]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, c) = send(&app, Method::POST, &manager, "/api/v1/blacklist-conditions", &json!({
        "name": "大阪の転送業者", "clauses": [{"field": "billing_address", "op": "starts_with", "value": "大阪府北区"}]
    })).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (_, list) = send(
        &app,
        Method::GET,
        &op,
        "/api/v1/blacklist-conditions",
        &Value::Null,
    )
    .await;
    assert_eq!(list[0]["name"], "大阪の転送業者");
    let (_, o) = send(&app, Method::POST, &op, "/api/v1/orders", &similar).await;
    let reasons = o["needs_attention_reasons"].as_array().unwrap();
    assert!(
        reasons.contains(&json!("ブラックリスト条件合致者からの受注")),
        "{o}"
    );
    let (_, got) = send(
        &app,
        Method::GET,
        &op,
        &format!("/api/v1/orders/{}", o["order_number"].as_str().unwrap()),
        &Value::Null,
    )
    .await;
    assert_eq!(
        got["attention_matches"].as_array().unwrap().len(),
        2,
        "{got}"
    );
    // Re-scan: an order placed before its customer was blacklisted.
    let mut later = order_body();
    later["billing"]["family_name"] = json!("佐藤");
    later["billing"]["phone"] = json!("03-9999-0000");
    let (_, before) = send(&app, Method::POST, &op, "/api/v1/orders", &later).await;
    assert_eq!(before["needs_attention"], false);
    let n = before["order_number"].as_str().unwrap().to_string();
    let mut c2 = later["billing"].clone();
    c2["email"] = json!("sato@example.jp");
    let (s, cust) = send(&app, Method::POST, &manager, "/api/v1/customers", &c2).await;
    assert!(s.is_success(), "{cust}");
    let cid = cust["id"].as_i64().unwrap();
    send(
        &app,
        Method::PATCH,
        &op,
        &format!("/api/v1/customers/{cid}"),
        &json!({"blacklisted": true, "blacklist_reason": "なりすまし"}),
    )
    .await;
    let (s, e) = send(
        &app,
        Method::POST,
        &op,
        "/api/v1/blacklist/rescan",
        &json!({"days": 0}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, r) = send(
        &app,
        Method::POST,
        &op,
        "/api/v1/blacklist/rescan",
        &json!({"days": 30}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r["flagged"].as_array().unwrap().contains(&json!(n)), "{r}");
    let (_, o) = send(
        &app,
        Method::GET,
        &op,
        &format!("/api/v1/orders/{n}"),
        &Value::Null,
    )
    .await;
    assert_eq!(o["needs_attention"], true);
    assert_eq!(
        o["needs_attention_reasons"],
        json!(["ブラックリスト類似顧客からの受注"])
    );
    // Again: nothing new.
    let (_, r) = send(
        &app,
        Method::POST,
        &op,
        "/api/v1/blacklist/rescan",
        &json!({"days": 30}),
    )
    .await;
    assert!(r["flagged"].as_array().unwrap().is_empty(), "{r}");
});

both_stores!(blacklist_reason_master, |store| async move {
    let app = TestApp::start(store).await;
    let op = app.token(Role::Operator).await;
    let manager = app.token(Role::Manager).await;
    let (s, list) = send(
        &app,
        Method::GET,
        &op,
        "/api/v1/blacklist-reasons",
        &Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"受取拒否"), "{list}");
    let path = "/api/v1/blacklist-reasons";
    let (s, _) = send(&app, Method::POST, &op, path, &json!({"name": "x"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = send(&app, Method::POST, &manager, path, &json!({"name": "  "})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["field"], "name");
    let (s, e) = send(
        &app,
        Method::POST,
        &manager,
        path,
        &json!({"name": "受取拒否"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["message"].as_str().unwrap().contains("すでに"), "{e}");
    let (s, r) = send(
        &app,
        Method::POST,
        &manager,
        path,
        &json!({"name": "なりすまし"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let id = r["id"].as_i64().unwrap();
    let (_, list) = send(&app, Method::GET, &op, path, &Value::Null).await;
    assert_eq!(
        list.as_array().unwrap().last().unwrap()["name"],
        "なりすまし"
    );
    let del = format!("{path}/{id}");
    let (s, _) = send(&app, Method::DELETE, &manager, &del, &Value::Null).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = send(&app, Method::DELETE, &manager, &del, &Value::Null).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
});
