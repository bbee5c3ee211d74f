//! 申請 (seed 004) over real HTTP, on SQLite and PostgreSQL: the intake API
//! (JSON and form fields) keeping answers as the seed says, every kind of bad
//! input refused with nothing stored, the signed webhook, a LIFF form with
//! LINE ID tokens from the LINE sandbox, the signed-link form with its 解約抑止
//! offers, the customer's case file, and フォーム管理.

mod common;

use common::{TestApp, api, customer, staff_session};
use juchu_adapters::LineSandbox;
use juchu_domain::access::Role;
use juchu_store::both_stores;
use juchu_store::masters::ProductInput;
use juchu_store::testing::count;
use serde_json::{Value, json};
use std::sync::Arc;

/// Two customers, each with a subscription: (token, hanako, her sub, taro, his sub).
async fn setup(app: &TestApp) -> (String, i64, i64, i64, i64) {
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
    let mut out = vec![];
    for (family, email) in [("山田", "hanako@example.jp"), ("佐藤", "taro@example.jp")] {
        let c = customer(&app.store, family, email).await;
        let (s, o) = api(
            app,
            &token,
            reqwest::Method::POST,
            "/api/v1/orders",
            Some(json!({
                "customer_id": c,
                "billing": {
                    "family_name": family, "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
                    "postal_code": "150-0001", "prefecture": "東京都", "address1": "渋谷区神宮前1-2-3",
                    "phone": "090-1234-5678", "email": email
                },
                "items": [{"product_code": "SUP-01", "quantity": 1}],
                "payment_method": "代金引換",
                "scheduled_delivery_date": "2027-01-10",
                "subscription_cycle": {"kind": "days", "every": 30}
            })),
        )
        .await;
        assert_eq!(s, 201, "{o}");
        out.push((c, o["subscription_id"].as_i64().unwrap()));
    }
    (token, out[0].0, out[0].1, out[1].0, out[1].1)
}

fn names(r: &Value) -> Vec<String> {
    r["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

both_stores!(
    intake_api_keeps_answers_as_the_seed_says,
    |store| async move {
        let app = TestApp::start(store).await;
        let (token, hanako, sub, taro, their_sub) = setup(&app).await;
        use reqwest::Method as M;
        let (s, r) = api(
            &app,
            &token,
            M::POST,
            "/api/v1/requests",
            Some(json!({
                "customer_id": hanako, "subscription_id": sub,
                "fields": {
                    "col_7": "b", "pause_col_7": "p7", "col_1": "休止", "col_4": "コラーゲンサプリ",
                    "pause_col_6": "p6", "col_6": "a", "col_2": "30日", "col_5": "満足",
                    "cancell_col_6": "", "cycle_col_6": ""
                }
            })),
        )
        .await;
        assert_eq!(s, 201, "{r}");
        assert_eq!(r["type"], "休止");
        assert_eq!(r["status"], "未対応");
        assert_eq!(r["status_code"], "open");
        assert_eq!(r["channel"], "api");
        assert!(r["received_at"].as_str().unwrap().starts_with("20"));
        assert_eq!(
            names(&r),
            [
                "col_1",
                "col_2",
                "col_4",
                "col_5",
                "col_6",
                "pause_col_6",
                "col_7",
                "pause_col_7"
            ]
        );
        let id = r["id"].as_i64().unwrap();
        let (s, one) = api(
            &app,
            &token,
            M::GET,
            &format!("/api/v1/requests/{id}"),
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(one["answers"], r["answers"]);
        let (s, _) = api(&app, &token, M::GET, "/api/v1/requests/999999", None).await;
        assert_eq!(s, 404);

        // Form fields with the same names; a repeated name keeps the later value.
        let r = app
        .client
        .post(app.url("/api/v1/requests"))
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "customer_id={hanako}&subscription_id={sub}&col_1=%E8%A7%A3%E7%B4%84&col_4=A&cancell_col_6=x&col_1=%E3%82%B9%E3%82%AD%E3%83%83%E3%83%97&cancell_col_6="
        ))
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 201);
        let skip: Value = r.json().await.unwrap();
        assert_eq!(skip["type"], "スキップ");
        assert_eq!(names(&skip), ["col_1", "col_4"]);

        // 解約 keeps the common answers and cancell_col_*.
        let (s, cancel) = api(
        &app,
        &token,
        M::POST,
        "/api/v1/requests",
        Some(json!({"customer_id": hanako, "subscription_id": sub, "channel": "mypage",
            "fields": {"col_1": "解約", "col_4": "A", "cancell_col_7": "x", "col_7": "y", "col_6": "z", "cancell_col_6": "w", "col_5": "不満"}})),
    )
    .await;
        assert_eq!(s, 201);
        assert_eq!(cancel["channel"], "mypage");
        assert_eq!(
            names(&cancel),
            [
                "col_1",
                "col_4",
                "col_5",
                "col_6",
                "cancell_col_6",
                "col_7",
                "cancell_col_7"
            ]
        );

        // Bad input: each refused with the field, nothing stored.
        let before = count(&app.store, "SELECT COUNT(*) AS n FROM requests").await;
        let long = "あ".repeat(2001);
        for (body, field, code) in [
            (
                json!({"customer_id": hanako, "subscription_id": sub, "fields": {"col_1": "休止"}}),
                "col_4",
                "required",
            ),
            (
                json!({"customer_id": hanako, "subscription_id": sub, "fields": {"col_4": "A", "cancell_col_3": "x"}}),
                "cancell_col_3",
                "unknown_field",
            ),
            (
                json!({"customer_id": hanako, "subscription_id": sub, "fields": {"col_4": "A", "col_51": "x"}}),
                "col_51",
                "unknown_field",
            ),
            (
                json!({"customer_id": hanako, "subscription_id": sub, "fields": {"col_1": "スキップ", "col_4": "A", "pause_col_6": "疲れた"}}),
                "pause_col_6",
                "other_type_field",
            ),
            (
                json!({"customer_id": hanako, "subscription_id": sub, "fields": {"col_4": "A", "col_6": long}}),
                "col_6",
                "too_long",
            ),
            (
                json!({"customer_id": hanako, "subscription_id": sub, "fields": {"col_4": ["A"]}}),
                "fields.col_4",
                "invalid_type",
            ),
            (
                json!({"customer_id": hanako, "subscription_id": their_sub, "fields": {"col_4": "A"}}),
                "subscription_id",
                "not_this_customers",
            ),
            (
                json!({"customer_id": 999999, "subscription_id": sub, "fields": {"col_4": "A"}}),
                "customer_id",
                "unknown_customer",
            ),
            (
                json!({"customer_id": hanako, "subscription_id": sub, "channel": "fax", "fields": {"col_4": "A"}}),
                "channel",
                "invalid_channel",
            ),
            (
                json!({"customer_id": hanako, "subscription_id": sub, "form_id": 999, "fields": {"col_4": "A"}}),
                "form_id",
                "unknown_form",
            ),
        ] {
            let (s, e) = api(
                &app,
                &token,
                M::POST,
                "/api/v1/requests",
                Some(body.clone()),
            )
            .await;
            assert_eq!(s, 422, "{body} → {e}");
            assert_eq!(e["field"], field, "{e}");
            assert_eq!(e["code"], code, "{e}");
            assert!(!e["message"].as_str().unwrap().is_empty());
        }
        let (s, e) = api(
            &app,
            &token,
            M::POST,
            "/api/v1/requests",
            Some(json!({"customer_id": hanako, "fields": {}, "extra": 1})),
        )
        .await;
        assert_eq!(
            (s.as_u16(), e["field"].as_str()),
            (422, Some("extra")),
            "{e}"
        );
        let r = app
            .client
            .post(app.url("/api/v1/requests"))
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body("col_4=A")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415);
        assert_eq!(
            count(&app.store, "SELECT COUNT(*) AS n FROM requests").await,
            before
        );

        // A form posted twice is one request.
        let body = json!({"customer_id": hanako, "subscription_id": sub, "form_token": "tok-1", "fields": {"col_1": "スキップ", "col_4": "A"}});
        let (s1, a) = api(
            &app,
            &token,
            M::POST,
            "/api/v1/requests",
            Some(body.clone()),
        )
        .await;
        let (s2, b) = api(&app, &token, M::POST, "/api/v1/requests", Some(body)).await;
        assert_eq!((s1.as_u16(), s2.as_u16()), (201, 200));
        assert_eq!(a["id"], b["id"]);
        // The same token for another customer shows nothing of hers.
        let (s, e) = api(
            &app,
            &token,
            M::POST,
            "/api/v1/requests",
            Some(json!({"customer_id": taro, "subscription_id": their_sub, "form_token": "tok-1", "fields": {"col_1": "スキップ", "col_4": "A"}})),
        )
        .await;
        assert_eq!(
            (s.as_u16(), e["field"].as_str()),
            (409, Some("form_token")),
            "{e}"
        );
        assert!(e["id"].is_null() && e["answers"].is_null(), "{e}");

        // Lists, filtered, newest first; a viewer may read, not file.
        let viewer = app.token(Role::Viewer).await;
        let (s, list) = api(
            &app,
            &viewer,
            M::GET,
            &format!("/api/v1/requests?customer_id={hanako}&type=スキップ"),
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert!(list[0]["id"].as_i64() > list[1]["id"].as_i64());
        let (s, _) = api(&app, &viewer, M::GET, "/api/v1/requests?status=bogus", None).await;
        assert_eq!(s, 422);
        let (s, _) = api(
            &app,
            &viewer,
            M::POST,
            "/api/v1/requests",
            Some(json!({"customer_id": hanako, "fields": {"col_4": "A"}})),
        )
        .await;
        assert_eq!(s, 403);
    }
);

both_stores!(webhook_and_liff_intake, |store| async move {
    let line = Arc::new(LineSandbox::new(
        "1650000000",
        "line-secret",
        store.clock.clone(),
    ));
    let app = TestApp::start_with(juchu_web::AppState::new(store).with_line(line.clone())).await;
    let (token, hanako, sub, taro, their_sub) = setup(&app).await;

    // The webhook: HMAC-SHA256 of the raw body with the shop's secret.
    let secret = app.store.request_webhook_secret().await.unwrap();
    let body = json!({"customer_id": hanako, "subscription_id": sub, "fields": {"col_1": "サイクル変更", "col_3": "45日", "col_4": "A", "cycle_col_6": "多すぎる"}}).to_string();
    let sig =
        juchu_store::requests::links::hmac_sha256_hex(secret.as_bytes(), body.as_bytes()).unwrap();
    let send = |sig: String, body: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/request-webhook"))
                .header("content-type", "application/json")
                .header("x-juchu-signature", sig)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let before = count(&app.store, "SELECT COUNT(*) AS n FROM requests").await;
    let r = send("sha256=00".into(), body.clone()).await;
    assert_eq!(r.status(), 401);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], "invalid_signature");
    // The body changed after signing.
    let r = send(format!("sha256={sig}"), body.replace("45日", "15日")).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        count(&app.store, "SELECT COUNT(*) AS n FROM requests").await,
        before
    );
    let r = send(format!("sha256={sig}"), body.clone()).await;
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["channel"], "webhook");
    assert_eq!(made["type"], "サイクル変更");

    // LIFF: a LINE ID token, verified with LINE before anything is read.
    let form_id = app.store.request_forms().await.unwrap()[0].id;
    let liff = |auth: Option<String>, body: Value| {
        let app = &app;
        async move {
            let mut r = app
                .client
                .post(app.url(&format!("/liff/forms/{form_id}")))
                .json(&body);
            if let Some(a) = auth {
                r = r.header("authorization", format!("Bearer {a}"));
            }
            let r = r.send().await.unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let fields = json!({"col_1": "スキップ", "col_4": "コラーゲンサプリ"});
    let good = line.issue_id_token("U-hanako", "はなこ", "1650000000", 600);
    let (s, e) = liff(None, json!({"subscription_id": sub, "fields": fields})).await;
    assert_eq!(
        (s.as_u16(), e["code"].as_str()),
        (401, Some("id_token_required"))
    );
    let expired = line.issue_id_token("U-hanako", "はなこ", "1650000000", -10);
    let (s, e) = liff(
        Some(expired),
        json!({"subscription_id": sub, "fields": fields}),
    )
    .await;
    assert_eq!(s, 401);
    assert!(
        e["message"].as_str().unwrap().contains("IdToken expired."),
        "{e}"
    );
    let foreign = line.issue_id_token("U-hanako", "はなこ", "999999", 600);
    let (s, e) = liff(
        Some(foreign),
        json!({"subscription_id": sub, "fields": fields}),
    )
    .await;
    assert_eq!(s, 401);
    assert!(e["message"].as_str().unwrap().contains("Audience"), "{e}");
    // Not linked yet, and no signed link: refused.
    let (s, e) = liff(
        Some(good.clone()),
        json!({"subscription_id": sub, "fields": fields}),
    )
    .await;
    assert_eq!(
        (s.as_u16(), e["code"].as_str()),
        (403, Some("line_not_linked"))
    );
    // A forged link links nobody.
    let (s, e) = liff(Some(good.clone()), json!({"subscription_id": sub, "fields": fields, "link": format!("{hanako}.{sub}.{form_id}.9999999999.00")})).await;
    assert_eq!(
        (s.as_u16(), e["code"].as_str()),
        (403, Some("invalid_link"))
    );
    assert_eq!(
        app.store.customer_by_line_user("U-hanako").await.unwrap(),
        None
    );
    // The customer's signed link links the LINE account once …
    let (s, made) = api(
        &app,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/subscriptions/{sub}/request-link"),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 201, "{made}");
    let link = made["link"].as_str().unwrap().to_string();
    assert!(
        made["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/r/", app.base))
    );
    let (s, r) = liff(
        Some(good.clone()),
        json!({"subscription_id": sub, "fields": fields, "link": link}),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["channel"], "line");
    assert_eq!(r["customer_id"], hanako);
    // … and later the ID token alone is enough.
    let (s, _) = liff(
        Some(good.clone()),
        json!({"subscription_id": sub, "fields": fields}),
    )
    .await;
    assert_eq!(s, 201);
    // Another customer's subscription through her LINE: not found.
    let (s, _) = liff(
        Some(good.clone()),
        json!({"subscription_id": their_sub, "fields": fields}),
    )
    .await;
    assert_eq!(s, 404);
    // Taro's link cannot take over her LINE account.
    let (_, taro_link) = api(
        &app,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/subscriptions/{their_sub}/request-link"),
        None,
    )
    .await;
    let other = line.issue_id_token("U-taro", "たろう", "1650000000", 600);
    let (s, _) = liff(
        Some(other),
        json!({"subscription_id": their_sub, "fields": fields, "link": taro_link["link"]}),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(
        app.store.customer_by_line_user("U-taro").await.unwrap(),
        Some(taro)
    );
    // LINE unreachable: 503, nothing stored.
    line.set_unreachable(true);
    let n = count(&app.store, "SELECT COUNT(*) AS n FROM requests").await;
    let (s, e) = liff(
        Some(good),
        json!({"subscription_id": sub, "fields": fields}),
    )
    .await;
    assert_eq!(
        (s.as_u16(), e["code"].as_str()),
        (503, Some("line_unavailable"))
    );
    assert_eq!(
        count(&app.store, "SELECT COUNT(*) AS n FROM requests").await,
        n
    );
});

both_stores!(signed_link_form_with_retention_offers, |store| async move {
    let clock = juchu_store::db::Clock::fixed("2026-12-06T01:00:00Z".parse().unwrap());
    let app = TestApp::start(store.with_clock(clock.clone())).await;
    let (token, hanako, sub, _taro, _their_sub) = setup(&app).await;
    let (_, made) = api(
        &app,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/subscriptions/{sub}/request-link"),
        None,
    )
    .await;
    let url = made["url"].as_str().unwrap().to_string();
    let path = url.strip_prefix(&app.base).unwrap().to_string();

    // The form opens without signing in, for this customer and subscription.
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("山田 花子 様"), "{html}");
    assert!(html.contains("コラーゲンサプリ"));
    assert!(
        html.contains("data-only-for=\"解約\""),
        "type-specific questions are marked"
    );
    let token_in = |html: &str| {
        html.split("name=\"form_token\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string()
    };
    let form_token = token_in(&html);
    let post = |fields: Vec<(&'static str, String)>| {
        let app = &app;
        let path = path.clone();
        async move {
            let r = app
                .client
                .post(app.url(&path))
                .form(&fields)
                .send()
                .await
                .unwrap();
            let s = r.status();
            (s, r.text().await.unwrap())
        }
    };
    // A required question left empty: the page says so next to it.
    let (s, html) = post(vec![
        ("form_token", form_token.clone()),
        ("col_4", "A".into()),
    ])
    .await;
    assert_eq!(s, 422);
    assert!(html.contains("error-col_1"), "{html}");

    // 解約 on a form with offers shows the offers first (and keeps that).
    let cancel = vec![
        ("form_token", form_token.clone()),
        ("col_1", "解約".to_string()),
        ("col_4", "コラーゲンサプリ".to_string()),
        ("cancell_col_6", "商品が余っている".to_string()),
        ("pause_col_6", "休止の理由（解約なので捨てる）".to_string()),
    ];
    let (s, html) = post(cancel.clone()).await;
    assert_eq!(s, 200);
    assert!(html.contains("id=\"offer-skip\""), "{html}");
    assert!(
        html.contains("id=\"confirm-cancel\""),
        "解約 stays one click away"
    );
    assert_eq!(
        count(&app.store, "SELECT COUNT(*) AS n FROM requests").await,
        0
    );
    // She takes the skip instead: a スキップ request tagged 解約抑止.
    let mut take = cancel.clone();
    take.push(("decision", "offer:skip".into()));
    let (s, html) = post(take.clone()).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("受け付けました"));
    let list = app
        .store
        .requests(&juchu_store::requests::RequestQuery {
            customer_id: Some(hanako),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].request_type, "スキップ");
    assert_eq!(list[0].channel.code(), "link");
    assert_eq!(list[0].offer.map(|o| o.code()), Some("skip"));
    assert_eq!(list[0].tags, ["解約抑止"]);
    assert!(
        list[0]
            .answers
            .iter()
            .all(|a| !a.name.starts_with("cancell_") && !a.name.starts_with("pause_"))
    );
    // Posted twice (a double click): still one request.
    let (s, _) = post(take).await;
    assert_eq!(s, 200);
    assert_eq!(
        count(&app.store, "SELECT COUNT(*) AS n FROM requests").await,
        1
    );

    // Another time she withdraws: no request, the intent is kept.
    let mut again = cancel.clone();
    again[0].1 = "another-token".into();
    again.push(("decision", "withdraw".into()));
    let (s, html) = post(again).await;
    assert_eq!(s, 200);
    assert!(html.contains("取りやめました"));
    assert_eq!(
        count(&app.store, "SELECT COUNT(*) AS n FROM requests").await,
        1
    );
    // And then she does cancel.
    let mut confirm = cancel.clone();
    confirm[0].1 = "third-token".into();
    confirm.push(("decision", "cancel".into()));
    let (s, _) = post(confirm).await;
    assert_eq!(s, 200);
    let last = app
        .store
        .requests(&juchu_store::requests::RequestQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(last[0].request_type, "解約");
    assert!(last[0].answers.iter().any(|a| a.name == "cancell_col_6"));

    // The case file has every intent with its time.
    let (staff, _) = staff_session(&app, "op@example.jp", Role::Operator).await;
    let r = app
        .client
        .get(app.url(&format!("/customers/{hanako}/request-file")))
        .header("cookie", &staff)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = r.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"\xef\xbb\xbf"),
        "UTF-8 with BOM for Excel"
    );
    let csv = String::from_utf8(bytes[3..].to_vec()).unwrap();
    for what in [
        "解約抑止のご提案を表示",
        "解約を申請",
        "ご提案を選択",
        "解約を取り下げ",
        "申請を送信",
        "2026/12/06 10:00",
    ] {
        assert!(csv.contains(what), "{what} in {csv}");
    }
    let (s, _) = api(
        &app,
        &token,
        reqwest::Method::GET,
        &format!("/api/v1/customers/{hanako}/request-file"),
        None,
    )
    .await;
    assert_eq!(s, 200);

    // A forged or altered link, and an expired one, say so; nothing stored.
    let n = count(&app.store, "SELECT COUNT(*) AS n FROM requests").await;
    let forged = path.replace(&format!("/r/{hanako}."), "/r/99.");
    let r = app.client.get(app.url(&forged)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("無効"));
    let r = app
        .client
        .post(app.url(&forged))
        .form(&[("col_1", "解約"), ("col_4", "A")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    clock.set("2027-02-01T00:00:00Z".parse().unwrap()).unwrap();
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("有効期限"));
    assert_eq!(
        count(&app.store, "SELECT COUNT(*) AS n FROM requests").await,
        n
    );
});

both_stores!(forms_are_designed_and_copied, |store| async move {
    let app = TestApp::start(store).await;
    let owner = app.token(Role::Owner).await;
    use reqwest::Method as M;
    let (s, forms) = api(&app, &owner, M::GET, "/api/v1/request-forms", None).await;
    assert_eq!(s, 200);
    assert_eq!(forms.as_array().unwrap().len(), 1, "the seed's sample form");
    let mut f = forms[0].clone();
    f["questions"]
        .as_array_mut()
        .unwrap()
        .retain(|q| q["field"] != "col_4");
    let (s, e) = api(
        &app,
        &owner,
        M::POST,
        "/api/v1/request-forms",
        Some(f.clone()),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(e["code"], "product_missing", "{e}");
    f["questions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"field": "cancell_col_2", "label": "x", "kind": "text"}));
    let (s, e) = api(
        &app,
        &owner,
        M::POST,
        "/api/v1/request-forms",
        Some(f.clone()),
    )
    .await;
    assert_eq!(s, 422);
    assert!(
        e["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["code"] == "unknown_field"),
        "{e}"
    );
    let id = forms[0]["id"].as_i64().unwrap();
    let (s, copy) = api(
        &app,
        &owner,
        M::POST,
        &format!("/api/v1/request-forms/{id}/copy"),
        None,
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(
        copy["name"],
        format!("{} のコピー", forms[0]["name"].as_str().unwrap())
    );
    assert_eq!(copy["questions"], forms[0]["questions"]);
    let mut edited = copy.clone();
    edited["name"] = json!("休止専用フォーム");
    edited["offers"] = json!(["discount"]);
    let (s, e) = api(
        &app,
        &owner,
        M::PUT,
        &format!("/api/v1/request-forms/{}", copy["id"]),
        Some(edited.clone()),
    )
    .await;
    assert_eq!(
        (s.as_u16(), e["field"].as_str()),
        (422, Some("discount_text"))
    );
    edited["discount_text"] = json!("次回20%OFF");
    let (s, saved) = api(
        &app,
        &owner,
        M::PUT,
        &format!("/api/v1/request-forms/{}", copy["id"]),
        Some(edited),
    )
    .await;
    assert_eq!(s, 200, "{saved}");
    assert_eq!(saved["offers"], json!(["discount"]));
    let operator = app.token(Role::Operator).await;
    let (s, _) = api(
        &app,
        &operator,
        M::POST,
        &format!("/api/v1/request-forms/{id}/copy"),
        None,
    )
    .await;
    assert_eq!(s, 403);

    // The admin page edits questions in rows and keeps their order.
    let (cookie, csrf) = staff_session(&app, "owner@example.jp", Role::Owner).await;
    let (s, html) = common::page(&app, &cookie, &format!("/settings/request-forms/{id}")).await;
    assert_eq!(s, 200);
    assert!(html.contains("value=\"col_4\""));
    let (s, _, html) = common::post_form(
        &app,
        &cookie,
        &csrf,
        "/settings/request-forms/new",
        &[
            ("name", "シンプル"),
            ("q0_field", "col_4"),
            ("q0_label", "商品"),
            ("q0_kind", "text"),
            ("q0_position", "2"),
            ("q0_required", "1"),
            ("q1_field", "col_1"),
            ("q1_label", "ご希望"),
            ("q1_kind", "choice"),
            ("q1_choices", "休止\nスキップ"),
            ("q1_position", "1"),
            ("q2_field", ""),
            ("q2_label", ""),
        ],
    )
    .await;
    assert_eq!(s, 303, "{html}");
    let all = app.store.request_forms().await.unwrap();
    let simple = all.iter().find(|f| f.name == "シンプル").unwrap();
    assert_eq!(simple.questions[0].field, "col_1");
    assert_eq!(simple.questions[0].choices, ["休止", "スキップ"]);
    assert_eq!(simple.questions[1].field, "col_4");
    let (s, _, html) = common::post_form(
        &app,
        &cookie,
        &csrf,
        "/settings/request-forms/new",
        &[
            ("name", "壊れた"),
            ("q0_field", "col_99"),
            ("q0_label", "x"),
        ],
    )
    .await;
    assert_eq!(s, 422);
    assert!(html.contains("col_99"), "{html}");
});
