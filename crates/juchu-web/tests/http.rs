//! The HTTP API driven over real HTTP, on SQLite and on PostgreSQL.

mod common;

use common::{TestApp, order_body, seed_products};
use juchu_domain::access::Role;
use juchu_store::both_stores;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn post(app: &TestApp, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

both_stores!(health_and_openapi, |store| async move {
    let app = TestApp::start(store).await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/orders",
        "/api/v1/orders/{order_number}",
        "/api/v1/orders/{order_number}/history",
        "/api/v1/customers",
        "/api/v1/products",
        "/api/v1/handling-statuses",
    ] {
        assert!(doc["paths"][path].is_object(), "OpenAPI lacks {path}");
    }
    assert!(doc["components"]["schemas"]["OrderJson"]["properties"]["version"].is_object());
    let login = app.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(login.text().await.unwrap().contains("ログイン"));
});

both_stores!(authentication_comes_before_validation, |store| async move {
    let app = TestApp::start(store).await;
    let r = app
        .client
        .post(app.url("/api/v1/orders"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(app.url("/api/v1/orders"))
        .bearer_auth("jc_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
    let viewer = app.token(Role::Viewer).await;
    let r = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&viewer)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "a viewer is refused before the body is read"
    );
    assert_eq!(
        app.client
            .get(app.url("/api/v1/orders"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let operator = app.token(Role::Operator).await;
    let (s, _) = post(
        &app,
        &operator,
        "/api/v1/handling-statuses",
        &json!({"name": "検品中"}),
    )
    .await;
    assert_eq!(s, 403, "an operator cannot edit masters");
    let manager = app.token(Role::Manager).await;
    let (s, b) = post(
        &app,
        &manager,
        "/api/v1/handling-statuses",
        &json!({"name": "検品中", "color": "#123456"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = post(
        &app,
        &manager,
        "/api/v1/handling-statuses",
        &json!({"name": "検品中"}),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
});

both_stores!(order_lifecycle_over_http, |store| async move {
    seed_products(&store).await;
    let app = TestApp::start(store).await;
    let token = app.token(Role::Operator).await;
    let (s, o) = post(&app, &token, "/api/v1/orders", &order_body()).await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["handling_status"], "注文確定");
    assert_eq!(o["payment_status"], "未決済");
    assert_eq!(o["total"], 2160 + 3300 + 770 + 330);
    assert_eq!(o["tax_reduced"], 160);
    assert_eq!(o["items"].as_array().unwrap().len(), 2);
    let number = o["order_number"].as_str().unwrap().to_string();

    let got: Value = app
        .client
        .get(app.url(&format!("/api/v1/orders/{number}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, o);

    let patch = json!({"version": 1, "handling_status": "発送完了", "tracking_number": "1234-5678-9013", "reason": "出荷"});
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/orders/{number}")))
        .bearer_auth(&token)
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let changed: Value = r.json().await.unwrap();
    assert_eq!(
        (
            changed["version"].as_i64(),
            changed["handling_status"].as_str()
        ),
        (Some(2), Some("発送完了"))
    );
    assert!(
        changed["tracking_url"]
            .as_str()
            .unwrap()
            .contains("123456789013")
    );

    let stale = app
        .client
        .patch(app.url(&format!("/api/v1/orders/{number}")))
        .bearer_auth(&token)
        .json(&json!({"version": 1, "memo": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 409);
    let body: Value = stale.json().await.unwrap();
    assert_eq!(
        (body["code"].as_str(), body["field"].as_str()),
        (Some("version_conflict"), Some("version"))
    );

    let clear = app
        .client
        .patch(app.url(&format!("/api/v1/orders/{number}")))
        .bearer_auth(&token)
        .json(&json!({"version": 2, "tracking_number": null}))
        .send()
        .await
        .unwrap();
    let cleared: Value = clear.json().await.unwrap();
    assert_eq!(cleared["tracking_number"], Value::Null, "null clears");
    assert_eq!(
        cleared["handling_status"], "発送完了",
        "absent fields are left alone"
    );

    let history: Value = app
        .client
        .get(app.url(&format!("/api/v1/orders/{number}/history")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows: Vec<(&str, &str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["field"].as_str().unwrap(),
                h["after"].as_str().unwrap(),
                h["actor_kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows[0], ("order", "作成", "api_token"));
    assert!(rows.contains(&("handling_status", "発送完了", "api_token")));
    let shipped = history
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["field"] == "handling_status")
        .unwrap();
    assert_eq!(shipped["reason"], "出荷");

    let list: Value = app
        .client
        .get(app.url("/api/v1/orders?phone=09012345678&handling_status=発送完了"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["orders"][0]["order_number"], number.as_str());
    let bad = app
        .client
        .get(app.url("/api/v1/orders?colour=red&page=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let missing = app
        .client
        .get(app.url("/api/v1/orders/nope"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
});

both_stores!(
    bad_input_names_the_field_and_writes_nothing,
    |store| async move {
        seed_products(&store).await;
        let app = TestApp::start(store.clone()).await;
        let token = app.token(Role::Owner).await;
        let r = app
            .client
            .post(app.url("/api/v1/orders"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{\"items\": [")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_json");
        // A valid document followed by junk is not accepted either; the scheme
        // name of the Authorization header is case-insensitive.
        let r = app
            .client
            .post(app.url("/api/v1/orders"))
            .header("authorization", format!("bearer {token}"))
            .header("content-type", "application/json")
            .body(format!("{} trailing", order_body()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_json");

        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|b| b["colour"] = json!("red")), "colour"),
            (
                Box::new(|b| b["items"][0]["quantity"] = json!(-1)),
                "items[0].quantity",
            ),
            (
                Box::new(|b| b["items"][0]["quantity"] = json!("two")),
                "items[0].quantity",
            ),
            (
                Box::new(|b| b["items"][1]["product_code"] = json!("NOPE")),
                "items[1].product_code",
            ),
            (
                Box::new(|b| b["handling_status"] = json!("存在しない")),
                "handling_status",
            ),
            (Box::new(|b| b["memo"] = json!("あ".repeat(5000))), "memo"),
            (
                Box::new(|b| b["billing"]["postal_code"] = json!("12-34")),
                "billing.postal_code",
            ),
            (
                Box::new(|b| b["billing"]["email"] = json!("not-an-email")),
                "billing.email",
            ),
            (
                Box::new(|b| b["billing"]["prefecture"] = json!("東京")),
                "billing.prefecture",
            ),
            (
                Box::new(|b| b["payment_method"] = json!("bitcoin")),
                "payment_method",
            ),
            (
                Box::new(|b| b["scheduled_delivery_date"] = json!("2026-02-30")),
                "scheduled_delivery_date",
            ),
            (
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("items");
                }),
                "items",
            ),
        ];
        for (mutate, field) in cases {
            let mut body = order_body();
            mutate(&mut body);
            let (s, e) = post(&app, &token, "/api/v1/orders", &body).await;
            assert!(s == 422 || s == 400, "{field}: {s} {e}");
            assert_eq!(e["field"].as_str(), Some(field), "{e}");
            assert!(!e["message"].as_str().unwrap_or("").is_empty());
        }
        let (s, e) = post(
            &app,
            &token,
            "/api/v1/products",
            &json!({"code": "X-1", "name": "x", "unit_price": 100, "tax_rate": 5}),
        )
        .await;
        assert_eq!(
            (s, e["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("tax_rate"))
        );
        let (s, e) = post(
            &app,
            &token,
            "/api/v1/products",
            &json!({"code": "X-1", "name": "x", "unit_price": 100}),
        )
        .await;
        assert_eq!(
            (s, e["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("tax_rate")),
            "{e}"
        );
        assert_eq!(
            store
                .search_orders(&Default::default())
                .await
                .unwrap()
                .total,
            0,
            "nothing written"
        );
    }
);

both_stores!(idempotency_key_and_inline_customer, |store| async move {
    seed_products(&store).await;
    let app = TestApp::start(store.clone()).await;
    let token = app.token(Role::Operator).await;
    let mut body = order_body();
    body.as_object_mut().unwrap().remove("billing");
    body["customer"] = json!({
        "family_name": "鈴木", "given_name": "次郎", "family_kana": "スズキ", "given_kana": "ジロウ",
        "postal_code": "〒530-0001", "prefecture": "大阪府", "address1": "大阪市北区梅田1-1",
        "phone": "+81 80-1111-2222", "email": "jiro@example.jp"
    });
    let send = || {
        app.client
            .post(app.url("/api/v1/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "order-42")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["order_number"], again["order_number"]);
    assert_eq!(first["billing"]["family_name"], "鈴木");
    assert_eq!(first["billing"]["postal_code"], "530-0001");
    assert_eq!(
        store
            .search_orders(&Default::default())
            .await
            .unwrap()
            .total,
        1,
        "a retry never creates a second order"
    );
    let customer_id = first["customer_id"].as_i64().unwrap();
    let c: Value = app
        .client
        .get(app.url(&format!("/api/v1/customers/{customer_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["email"], "jiro@example.jp");
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/customers/{customer_id}")))
        .bearer_auth(&token)
        .json(&json!({"memo": "常連", "mail_opt_out": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c: Value = r.json().await.unwrap();
    assert_eq!(
        (
            c["memo"].as_str(),
            c["mail_opt_out"].as_bool(),
            c["family_name"].as_str()
        ),
        (Some("常連"), Some(true), Some("鈴木"))
    );
    assert_eq!(
        app.client
            .patch(app.url("/api/v1/customers/99999"))
            .bearer_auth(&token)
            .json(&json!({"memo": "x"}))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let list: Value = app
        .client
        .get(app.url("/api/v1/customers?phone=08011112222"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    let statuses: Value = app
        .client
        .get(app.url("/api/v1/handling-statuses"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        statuses
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "注文確定" && s["is_default"] == true)
    );
});

both_stores!(automation_rules_api, |store| async move {
    seed_products(&store).await;
    let app = TestApp::start(store).await;
    let manager = app.token(Role::Manager).await;
    let operator = app.token(Role::Operator).await;
    let rule = |name: &str, status: &str, to: &str| {
        json!({
            "name": name,
            "trigger": {"kind": "exact", "event": {"kind": "payment_status_became", "status": status}},
            "action": {"kind": "set_handling_status", "name": to}
        })
    };
    let (s, _) = post(
        &app,
        &operator,
        "/api/v1/automation-rules",
        &rule("x", "credit_check_error", "決済NG"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "operators do not edit rules");
    let (s, created) = post(
        &app,
        &manager,
        "/api/v1/automation-rules",
        &rule("与信NG", "credit_check_error", "決済NG"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["trigger_label"],
        "決済状況が「与信審査エラー」になった"
    );
    // The same event with another value is refused, naming the rules.
    let (s, err) = post(
        &app,
        &manager,
        "/api/v1/automation-rules",
        &rule("与信NG2", "credit_check_error", "保留"),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["code"], "conflict");
    assert!(err["message"].as_str().unwrap().contains("与信NG"), "{err}");
    let (s, err) = post(
        &app,
        &manager,
        "/api/v1/automation-rules",
        &rule("y", "credit_check_error", "存在しない"),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["field"], "action.name");
    // The rule fires inside the pipeline on a PATCH, and 履歴 names it.
    let (_, order) = post(&app, &operator, "/api/v1/orders", &order_body()).await;
    let number = order["order_number"].as_str().unwrap().to_string();
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/orders/{number}")))
        .bearer_auth(&operator)
        .json(&json!({"version": 1, "payment_status": "与信審査中"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/orders/{number}")))
        .bearer_auth(&operator)
        .json(&json!({"version": 2, "payment_status": "与信審査エラー"}))
        .send()
        .await
        .unwrap();
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["handling_status"], "決済NG");
    // An illegal payment transition is refused with its code.
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/orders/{number}")))
        .bearer_auth(&operator)
        .json(&json!({"version": o["version"], "payment_status": "売上完了"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        (e["code"].as_str(), e["field"].as_str()),
        (Some("illegal_transition"), Some("payment_status"))
    );
    // Disable and delete.
    let id = created["id"].as_i64().unwrap();
    let mut body = rule("与信NG", "credit_check_error", "決済NG");
    body["enabled"] = json!(false);
    let r = app
        .client
        .put(app.url(&format!("/api/v1/automation-rules/{id}")))
        .bearer_auth(&manager)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/automation-rules/{id}")))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .client
        .get(app.url("/api/v1/automation-rules"))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap().as_array().unwrap().len(),
        0
    );
});

both_stores!(rule_conditions_over_the_api, |store| async move {
    seed_products(&store).await;
    let app = TestApp::start(store).await;
    let manager = app.token(Role::Manager).await;
    let (s, r) = post(
        &app,
        &manager,
        "/api/v1/automation-rules",
        &json!({
            "name": "代引は処理中",
            "trigger": {"kind": "event_kind", "event": "created"},
            "conditions": [{"kind": "payment_method", "name": "代金引換"}],
            "action": {"kind": "set_handling_status", "name": "処理中"}
        }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["condition_labels"][0], "支払方法が「代金引換」");
    let (s, err) = post(
        &app,
        &manager,
        "/api/v1/automation-rules",
        &json!({
            "name": "謎の支払",
            "trigger": {"kind": "event_kind", "event": "created"},
            "conditions": [{"kind": "payment_method", "name": "物々交換"}],
            "action": {"kind": "set_handling_status", "name": "保留"}
        }),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["field"], "conditions[0]");
    let (_, cod) = post(&app, &manager, "/api/v1/orders", &order_body()).await;
    assert_eq!(cod["handling_status"], "処理中");
    let mut card = order_body();
    card["payment_method"] = json!("クレジットカード");
    let (_, card) = post(&app, &manager, "/api/v1/orders", &card).await;
    assert_eq!(card["handling_status"], "注文確定");
});

both_stores!(mail_templates_api, |store| async move {
    seed_products(&store).await;
    let app = TestApp::start(store).await;
    let manager = app.token(Role::Manager).await;
    let r = app
        .client
        .get(app.url("/api/v1/mail-templates"))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|t| t["code"] == "shipped")
    );
    let put = |body: Value| {
        let app = &app;
        let manager = manager.clone();
        async move {
            let r = app
                .client
                .put(app.url("/api/v1/mail-templates/shipped"))
                .bearer_auth(&manager)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, e) = put(json!({"subject": "{{ order_numbr }}", "body": "x"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["field"], "template");
    let (s, t) = put(
        json!({"subject": "発送しました {{ order_number }}", "body": "{{ customer_name }} 様"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    // A rule mail for an order is listed with it.
    post(
        &app,
        &manager,
        "/api/v1/automation-rules",
        &json!({"name": "受付", "trigger": {"kind": "event_kind", "event": "created"},
                "action": {"kind": "send_mail", "template": "order_received"}}),
    )
    .await;
    let (_, o) = post(&app, &manager, "/api/v1/orders", &order_body()).await;
    let r = app
        .client
        .get(app.url(&format!(
            "/api/v1/orders/{}/mails",
            o["order_number"].as_str().unwrap()
        )))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    let mails: Value = r.json().await.unwrap();
    assert_eq!(mails[0]["status"], "pending");
    assert_eq!(mails[0]["to"], "hanako@example.jp");
});
