//! Staff, sign-in and what the security probe and the tryout found, over real
//! HTTP on SQLite and PostgreSQL: staff management and its limits, API token
//! expiry and revocation, login limiting per account and client, security
//! headers and cookies, NUL characters, content types, JSON errors, logos,
//! mail templates, CSV formats and the customer phone filter.

mod common;

use common::{TestApp, csrf_in, login, page, post_form, seed_products, staff_session};
use juchu_domain::access::Role;
use juchu_store::both_stores;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn api(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

both_stores!(
    owners_manage_staff_who_log_in_with_their_role,
    |store| async move {
        let app = TestApp::start(store).await;
        let (owner, csrf) = staff_session(&app, "owner@example.jp", Role::Owner).await;
        let (s, html) = page(&app, &owner, "/settings/staff").await;
        assert_eq!(s, 200);
        assert!(html.contains("スタッフ管理") && html.contains("owner@example.jp"));

        // An owner adds a part-timer; the password made for them is shown once.
        let (s, _, html) = post_form(
            &app,
            &owner,
            &csrf,
            "/settings/staff",
            &[
                ("email", "part@example.jp"),
                ("name", "パート 佐藤"),
                ("role", "operator"),
            ],
        )
        .await;
        assert_eq!(s, 200);
        let password = html
            .split("id=\"secret-value\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap()
            .to_string();
        assert_eq!(password.len(), 16);
        let (s, part) = login(&app, "part@example.jp", &password).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        // With an operator's limits: orders yes, スタッフ管理 no.
        assert_eq!(page(&app, &part, "/orders/new").await.0, 200);
        assert_eq!(
            page(&app, &part, "/settings/staff").await.0,
            StatusCode::FORBIDDEN
        );

        // Everyone changes their own password (the current one is asked).
        let (_, html) = page(&app, &part, "/account/password").await;
        let part_csrf = csrf_in(&html);
        let (s, _, html) = post_form(
            &app,
            &part,
            &part_csrf,
            "/account/password",
            &[
                ("current_password", "wrong one"),
                ("new_password", "a new long password"),
                ("confirm_password", "a new long password"),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("現在のパスワードが正しくありません"));
        let (s, _, _) = post_form(
            &app,
            &part,
            &part_csrf,
            "/account/password",
            &[
                ("current_password", password.as_str()),
                ("new_password", "a new long password"),
                ("confirm_password", "a new long password"),
            ],
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(
            page(&app, &part, "/orders").await.0,
            200,
            "this session stays"
        );
        assert_eq!(
            login(&app, "part@example.jp", "a new long password")
                .await
                .0,
            StatusCode::SEE_OTHER
        );

        // The owner makes them a viewer, then disables them: their session ends.
        let id = app
            .store
            .list_staff()
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.email == "part@example.jp")
            .unwrap()
            .id;
        let (s, _, _) = post_form(
            &app,
            &owner,
            &csrf,
            &format!("/settings/staff/{id}"),
            &[
                ("role", "viewer"),
                ("disabled", "false"),
                ("action", "save"),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(
            page(&app, &part, "/orders/new").await.0,
            StatusCode::FORBIDDEN
        );
        let (s, _, _) = post_form(
            &app,
            &owner,
            &csrf,
            &format!("/settings/staff/{id}"),
            &[("role", "viewer"), ("disabled", "true"), ("action", "save")],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(
            page(&app, &part, "/orders").await.0,
            StatusCode::SEE_OTHER,
            "to /login"
        );
        assert_eq!(
            login(&app, "part@example.jp", "a new long password")
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );

        // The last owner cannot be demoted or disabled.
        let owner_id = app.store.list_staff().await.unwrap()[0].id;
        let (s, _, html) = post_form(
            &app,
            &owner,
            &csrf,
            &format!("/settings/staff/{owner_id}"),
            &[
                ("role", "manager"),
                ("disabled", "false"),
                ("action", "save"),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(html.contains("有効なオーナーが他にいない"));

        // The same over the API, owners only.
        let token = app.token(Role::Owner).await;
        let (s, list) = api(&app, reqwest::Method::GET, &token, "/api/v1/staff", None).await;
        assert_eq!(s, 200);
        assert_eq!(list.as_array().unwrap().len(), 2);
        let (s, made) = api(
            &app,
            reqwest::Method::POST,
            &token,
            "/api/v1/staff",
            Some(json!({"email": "api@example.jp", "role": "manager"})),
        )
        .await;
        assert_eq!(s, 201, "{made}");
        assert_eq!(made["role"], "manager");
        let new_id = made["id"].as_i64().unwrap();
        let first = made["password"].as_str().unwrap().to_string();
        let (s, reset) = api(
            &app,
            reqwest::Method::POST,
            &token,
            &format!("/api/v1/staff/{new_id}/password-reset"),
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(
            login(&app, "api@example.jp", &first).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login(&app, "api@example.jp", reset["password"].as_str().unwrap())
                .await
                .0,
            StatusCode::SEE_OTHER
        );
        let (s, e) = api(
            &app,
            reqwest::Method::PATCH,
            &token,
            &format!("/api/v1/staff/{owner_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
        assert_eq!(
            (s, e["field"].as_str()),
            (StatusCode::CONFLICT, Some("disabled"))
        );
        let operator = app.token(Role::Operator).await;
        let (s, _) = api(&app, reqwest::Method::GET, &operator, "/api/v1/staff", None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // A lost owner password: the CLI's reset.
        let fresh = app
            .store
            .reset_password_by_email("OWNER@example.jp")
            .await
            .unwrap();
        assert_eq!(
            page(&app, &owner, "/orders").await.0,
            StatusCode::SEE_OTHER,
            "old sessions end"
        );
        assert_eq!(
            login(&app, "owner@example.jp", &fresh).await.0,
            StatusCode::SEE_OTHER
        );
    }
);

both_stores!(
    api_tokens_expire_are_revoked_and_show_last_use,
    |store| async move {
        let clock = juchu_store::db::Clock::fixed("2026-12-06T01:00:00Z".parse().unwrap());
        let app = TestApp::start(store.with_clock(clock.clone())).await;
        let owner = app.token(Role::Owner).await;
        let (s, made) = api(
            &app,
            reqwest::Method::POST,
            &owner,
            "/api/v1/api-tokens",
            Some(json!({"name": "倉庫連携", "role": "viewer", "expires_on": "2026-12-07"})),
        )
        .await;
        assert_eq!(s, 201);
        let secret = made["token"].as_str().unwrap().to_string();
        let (s, _) = api(&app, reqwest::Method::GET, &secret, "/api/v1/orders", None).await;
        assert_eq!(s, 200);
        let (_, list) = api(
            &app,
            reqwest::Method::GET,
            &owner,
            "/api/v1/api-tokens",
            None,
        )
        .await;
        let t = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "倉庫連携")
            .unwrap()
            .clone();
        assert_eq!(t["last_used_at"], "2026-12-06T01:00:00Z");
        assert!(t.get("token").is_none(), "never the secret again");
        // After the last day (Japan time) it stops working.
        clock.set("2026-12-07T14:59:00Z".parse().unwrap()).unwrap();
        assert_eq!(
            api(&app, reqwest::Method::GET, &secret, "/api/v1/orders", None)
                .await
                .0,
            200
        );
        clock.set("2026-12-07T15:00:01Z".parse().unwrap()).unwrap();
        assert_eq!(
            api(&app, reqwest::Method::GET, &secret, "/api/v1/orders", None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        // Revoked: 401 at once.
        let (_, made) = api(
            &app,
            reqwest::Method::POST,
            &owner,
            "/api/v1/api-tokens",
            Some(json!({"name": "一時", "role": "viewer"})),
        )
        .await;
        let id = made["id"].as_i64().unwrap();
        let secret = made["token"].as_str().unwrap().to_string();
        let (s, _) = api(
            &app,
            reqwest::Method::DELETE,
            &owner,
            &format!("/api/v1/api-tokens/{id}"),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(
            api(&app, reqwest::Method::GET, &secret, "/api/v1/orders", None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        // A past expiry is refused.
        let (s, e) = api(
            &app,
            reqwest::Method::POST,
            &owner,
            "/api/v1/api-tokens",
            Some(json!({"name": "昔", "role": "viewer", "expires_on": "2020-01-01"})),
        )
        .await;
        assert_eq!(
            (s, e["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("expires_on"))
        );
    }
);

both_stores!(
    a_client_guessing_never_locks_out_other_accounts,
    |store| async move {
        let app = TestApp::start(store).await;
        for who in ["a", "b", "c"] {
            app.store
                .create_staff(
                    &format!("{who}@example.jp"),
                    "",
                    "correct horse battery",
                    Role::Operator,
                )
                .await
                .unwrap();
        }
        // b logs in once from this browser: it keeps its device cookie.
        let r = app.client.get(app.url("/login")).send().await.unwrap();
        let login_cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let csrf = csrf_in(&r.text().await.unwrap());
        let r = app
            .client
            .post(app.url("/login"))
            .header("cookie", &login_cookie)
            .form(&[
                ("email", "b@example.jp"),
                ("password", "correct horse battery"),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .unwrap();
        let device = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("juchu_device="))
            .map(|v| v.split(';').next().unwrap().to_string())
            .expect("a device cookie");

        // Someone behind the same address sprays wrong passwords at many accounts.
        for i in 0..30 {
            let (s, _) = login(&app, &format!("nobody{i}@example.jp"), "guess guess").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
        }
        // The client is now held for accounts it has no device cookie for…
        assert_eq!(
            login(&app, "a@example.jp", "correct horse battery").await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        // …but b, from the browser it logged in from before, is not locked out.
        let r = app
            .client
            .post(app.url("/login"))
            .header("cookie", format!("{login_cookie}; {device}"))
            .form(&[
                ("email", "b@example.jp"),
                ("password", "correct horse battery"),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        // The count lives in the database: another server on the same store sees it.
        let second = TestApp::start(app.store.clone()).await;
        assert_eq!(
            login(&second, "c@example.jp", "correct horse battery")
                .await
                .0,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
);

both_stores!(security_headers_cookies_and_favicon, |store| async move {
    let state = juchu_web::AppState::new(store).with_public_url(Some("https://shop.example.jp"));
    let app = TestApp::start_with(state).await;
    app.store
        .create_staff("op@example.jp", "", "correct horse battery", Role::Operator)
        .await
        .unwrap();
    let r = app.client.get(app.url("/login")).send().await.unwrap();
    let h = r.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h["set-cookie"].to_str().unwrap().contains("; Secure"));
    let html = r.text().await.unwrap();
    assert!(
        !html.contains("<script>"),
        "no inline script: the policy forbids it"
    );
    let (s, cookie) = login(&app, "op@example.jp", "correct horse battery").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &cookie, "/orders").await;
    assert!(html.contains("src=\"/static/juchu.js\""));
    let r = app
        .client
        .get(app.url("/favicon.ico"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/x-icon");
    let r = app
        .client
        .get(app.url("/static/juchu.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("EventSource"));
});

both_stores!(nul_characters_are_refused_everywhere, |store| async move {
    let app = TestApp::start(store).await;
    seed_products(&app.store).await;
    let token = app.token(Role::Operator).await;
    let mut body = common::order_body();
    body["billing"]["family_name"] = "山\u{0}田".into();
    let (s, e) = api(
        &app,
        reqwest::Method::POST,
        &token,
        "/api/v1/orders",
        Some(body),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["code"], "nul_character");
    assert_eq!(e["field"], "billing.family_name");
    let (s, e) = api(
        &app,
        reqwest::Method::GET,
        &token,
        "/api/v1/customers?name=a%00b",
        None,
    )
    .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    // Forms.
    let (cookie, csrf) = staff_session(&app, "op@example.jp", Role::Operator).await;
    let (_, order) = api(
        &app,
        reqwest::Method::POST,
        &token,
        "/api/v1/orders",
        Some(common::order_body()),
    )
    .await;
    let number = order["order_number"].as_str().unwrap().to_string();
    let (s, _, html) = post_form(
        &app,
        &cookie,
        &csrf,
        &format!("/orders/{number}/memo"),
        &[("memo", "メモ\u{0}"), ("version", "1")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("memo") && html.contains("NUL"));
    assert_eq!(app.store.order_by_number(&number).await.unwrap().memo, "");
    // Files: with the line and column.
    let csv = "受注番号,配送伝票番号\n1001,12\u{0}34\n";
    let boundary = "b-7d3f";
    let mut multipart =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\ntrue\r\n")
            .into_bytes();
    multipart.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n").as_bytes());
    let r = app
        .client
        .post(app.url("/api/v1/shipment-imports"))
        .bearer_auth(&token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(multipart)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["message"].as_str().unwrap().contains("2行目 8文字目"),
        "{e}"
    );
});

both_stores!(
    api_content_types_json_errors_and_the_phone_filter,
    |store| async move {
        let app = TestApp::start(store).await;
        seed_products(&app.store).await;
        let token = app.token(Role::Owner).await;
        // A body in a type the operation does not take: 415, in JSON.
        let r = app
            .client
            .post(app.url("/api/v1/orders"))
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body(common::order_body().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["code"], "unsupported_media_type");
        // axum's own rejections are JSON too.
        let r = app
            .client
            .patch(app.url("/api/v1/staff/abc"))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains("json")
        );
        let r = app
            .client
            .put(app.url("/api/v1/orders"))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["code"], "method_not_allowed");
        // phone=abc names the field instead of listing everyone.
        let (s, e) = api(
            &app,
            reqwest::Method::GET,
            &token,
            "/api/v1/customers?phone=abc",
            None,
        )
        .await;
        assert_eq!(
            (s, e["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("phone"))
        );
        // The OpenAPI document names what every operation can answer.
        let doc = juchu_web::openapi::openapi();
        let doc = serde_json::to_value(&doc).unwrap();
        let post_orders = &doc["paths"]["/api/v1/orders"]["post"]["responses"];
        for code in ["400", "401", "403", "415", "422", "500"] {
            assert!(
                post_orders[code].is_object(),
                "POST /api/v1/orders lacks {code}"
            );
        }
    }
);

both_stores!(
    logos_templates_and_csv_formats_are_checked,
    |store| async move {
        let app = TestApp::start(store).await;
        let token = app.token(Role::Manager).await;
        // A PNG signature followed by garbage is refused on upload.
        let mut corrupt = b"\x89PNG\r\n\x1a\n".to_vec();
        corrupt.extend_from_slice(&[0u8; 64]);
        let r = app
            .client
            .put(app.url("/api/v1/shop-settings/logo"))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(corrupt)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let e: Value = r.json().await.unwrap();
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("ロゴの画像を読めません"),
            "{e}"
        );
        assert!(app.store.shop_logo().await.unwrap().is_none());

        // Mail templates: an empty subject, and an unknown variable named in Japanese.
        let (s, e) = api(
            &app,
            reqwest::Method::PUT,
            &token,
            "/api/v1/mail-templates/shipped",
            Some(json!({"subject": "", "body": "本文"})),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            e["message"].as_str().unwrap().contains("件名が空です"),
            "{e}"
        );
        let (s, e) = api(
        &app,
        reqwest::Method::PUT,
        &token,
        "/api/v1/mail-templates/shipped",
        Some(json!({"subject": "発送", "body": "{{ customer_name }} 様\n\n{{ trackng_number }}"})),
    )
    .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let m = e["message"].as_str().unwrap();
        assert!(
            m.contains("本文 3行目") && m.contains("trackng_number という変数はありません"),
            "{m}"
        );

        // A new shop has ready-made CSV formats, and a job without one says so in Japanese.
        let names: Vec<String> = app
            .store
            .csv_formats()
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, vec!["受注一覧", "出荷リスト", "受注明細"]);
        let (s, e) = api(
            &app,
            reqwest::Method::POST,
            &token,
            "/api/v1/jobs",
            Some(json!({"kind": "csv_export", "selection": {"query": {}}, "params": {}})),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("CSVフォーマットを選んでください"),
            "{e}"
        );
        // A definition in broken Shift_JIS is refused with its line, not stored with U+FFFD.
        let mut broken = "order_number,受注番号\n".as_bytes().to_vec();
        broken.extend_from_slice(b"total,\x82\n");
        let r = app
            .client
            .post(app.url("/api/v1/csv-formats/import?name=broken"))
            .bearer_auth(&token)
            .header("content-type", "text/csv")
            .body(broken)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let e: Value = r.json().await.unwrap();
        assert!(e["message"].as_str().unwrap().contains("2行目"), "{e}");
    }
);
