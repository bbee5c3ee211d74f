//! 一括処理 over real HTTP (the interfaces the acceptance checks use), both stores.

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
    let mut r = app.client.request(m, app.url(path)).bearer_auth(token);
    if !body.is_null() {
        r = r.json(body);
    }
    let r = r.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn download(app: &TestApp, token: &str, path: &str) -> (StatusCode, String, Vec<u8>) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let s = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    (s, ct, r.bytes().await.unwrap().to_vec())
}

both_stores!(jobs_over_http, |store| async move {
    seed_products(&store).await;
    let app = TestApp::start(store).await;
    let op = app.token(Role::Operator).await;
    let manager = app.token(Role::Manager).await;
    let viewer = app.token(Role::Viewer).await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        let (s, o) = send(&app, Method::POST, &op, "/api/v1/orders", &order_body()).await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        numbers.push(o["order_number"].as_str().unwrap().to_string());
    }

    // Bad input: named, nothing registered.
    let (s, e) = send(
        &app,
        Method::POST,
        &op,
        "/api/v1/jobs",
        &json!({"kind": "teleport", "selection": {"order_numbers": numbers}}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["field"], "kind");
    let (s, e) = send(&app, Method::POST, &op, "/api/v1/jobs", &json!({"kind": "bulk_update", "selection": {"query": {"colour": "red"}}, "params": {"handling_status": "保留"}})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["field"], "selection.query.colour");
    let (s, e) = send(&app, Method::POST, &op, "/api/v1/jobs", &json!({"kind": "bulk_update", "selection": {"order_numbers": numbers}, "params": {"paid_at": "yesterday"}})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["field"], "params.paid_at");
    let (s, _) = send(&app, Method::POST, &viewer, "/api/v1/jobs", &json!({"kind": "dunning", "selection": {"order_numbers": numbers}, "params": {"memo": "x"}})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, list) = send(&app, Method::GET, &op, "/api/v1/jobs", &Value::Null).await;
    assert_eq!(list, json!([]));

    // A dry run counts and checks.
    let body = json!({"kind": "bulk_update", "selection": {"query": {"payment_method": "代金引換"}}, "params": {"handling_status": "発送準備中", "carrier": "sagawa"}, "dry_run": true});
    let (s, p) = send(&app, Method::POST, &op, "/api/v1/jobs", &body).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["total"], 3);
    assert_eq!(p["would_fail"], 0);
    assert!(p["reminders"][0].as_str().unwrap().contains("再計算"));

    let mut body = body;
    body.as_object_mut().unwrap().remove("dry_run");
    let (s, job) = send(&app, Method::POST, &op, "/api/v1/jobs", &body).await;
    assert_eq!(s, StatusCode::CREATED, "{job}");
    assert_eq!(job["kind"], "bulk_update");
    assert_eq!(job["status"], "queued");
    assert_eq!(job["total"], 3);
    assert_eq!(job["notice"], "受注 一括更新 を登録しました。");
    let id = job["id"].as_i64().unwrap();
    let (s, _, _) = download(&app, &op, &format!("/api/v1/jobs/{id}/result")).await;
    assert_eq!(s, StatusCode::CONFLICT, "no result before the job ends");
    app.store.run_jobs(100).await.unwrap();
    let (_, job) = send(
        &app,
        Method::GET,
        &viewer,
        &format!("/api/v1/jobs/{id}"),
        &Value::Null,
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["progress"], 100);
    assert_eq!(job["notice"], "受注 一括更新 を完了しました。");
    let (s, ct, bytes) = download(&app, &viewer, job["result_url"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert!(bytes.starts_with(b"\xef\xbb\xbf"));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "受注番号,結果,内容");
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[1].contains(",成功,"), "{text}");
    let (_, order) = send(
        &app,
        Method::GET,
        &op,
        &format!("/api/v1/orders/{}", numbers[0]),
        &Value::Null,
    )
    .await;
    assert_eq!(order["handling_status"], "発送準備中", "{order}");
    let (_, items) = send(
        &app,
        Method::GET,
        &op,
        &format!("/api/v1/jobs/{id}/items?limit=2"),
        &Value::Null,
    )
    .await;
    assert_eq!(items.as_array().unwrap().len(), 2);
    let (s, _) = send(
        &app,
        Method::POST,
        &op,
        &format!("/api/v1/jobs/{id}/cancel"),
        &Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // CSV管理: a definition with an unknown column is refused with its line.
    let import = |q: &str, body: Vec<u8>| {
        app.client
            .post(app.url(&format!("/api/v1/csv-formats/import?{q}")))
            .bearer_auth(&manager)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let r = import(
        "name=x",
        "項目,見出し\norder_number,\nfavourite_colour,好きな色\n"
            .as_bytes()
            .to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert!(e["message"].as_str().unwrap().contains("3行目"), "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("favourite_colour"),
        "{e}"
    );
    // Saved by Excel in Shift_JIS, Japanese headers as items.
    let (def, _, _) = encoding_rs::SHIFT_JIS
        .encode("項目,見出し\n受注番号,注文番号\n請求先氏名,\n商品コード,\n数量,\n");
    let r = import(
        "name=%E5%87%BA%E8%8D%B7%E7%94%A8&row_per=item&encoding=cp932",
        def.into_owned(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let format: Value = r.json().await.unwrap();
    assert_eq!(format["name"], "出荷用");
    assert_eq!(
        format["columns"][0],
        json!({"key": "order_number", "header": "注文番号"})
    );
    let (_, formats) = send(&app, Method::GET, &op, "/api/v1/csv-formats", &Value::Null).await;
    // The three ready-made formats, then the shop's own.
    assert_eq!(formats.as_array().unwrap().len(), 4);
    assert_eq!(formats[3]["name"], "出荷用");

    let (s, job) = send(&app, Method::POST, &op, "/api/v1/jobs", &json!({
        "kind": "csv_export", "selection": {"order_numbers": numbers}, "params": {"format_id": format["id"]}
    })).await;
    assert_eq!(s, StatusCode::CREATED, "{job}");
    app.store.run_jobs(100).await.unwrap();
    let (s, ct, bytes) = download(&app, &op, &format!("/api/v1/jobs/{}/result", job["id"])).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "text/csv; charset=Shift_JIS");
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad);
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "注文番号,請求先氏名,商品コード,数量");
    // Two items per order: one row each.
    assert_eq!(lines.len(), 1 + 6, "{text}");
    assert!(lines[1].contains("山田 花子"));

    // The kinds are named in the OpenAPI document.
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds = doc["components"]["schemas"]["JobKindName"].to_string();
    for k in [
        "bulk_update",
        "csv_export",
        "pdf_export",
        "dunning",
        "bulk_mail",
        "payment_change",
    ] {
        assert!(kinds.contains(k), "{k} in {kinds}");
    }
    assert!(doc["paths"]["/api/v1/jobs/{id}/result"].is_object());
});

both_stores!(survey_answers_as_csv_columns, |store| async move {
    seed_products(&store).await;
    let app = TestApp::start(store).await;
    let op = app.token(Role::Operator).await;
    let manager = app.token(Role::Manager).await;
    let mut body = order_body();
    body["attributes"] = json!({"好きな色": "青", "購入のきっかけ": "=SNS"});
    let (s, o) = send(&app, Method::POST, &op, "/api/v1/orders", &body).await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    assert_eq!(o["attributes"]["好きな色"], "青");
    let number = o["order_number"].as_str().unwrap().to_string();
    let mut bad = order_body();
    bad["attributes"] = json!({"メモ": "あ".repeat(1001)});
    let (s, e) = send(&app, Method::POST, &op, "/api/v1/orders", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["field"], "attributes.メモ");
    let (s, f) = send(&app, Method::POST, &manager, "/api/v1/csv-formats", &json!({
        "name": "アンケート結果", "encoding": "utf8",
        "columns": [{"key": "order_number"}, {"key": "attribute:好きな色"}, {"key": "attribute:購入のきっかけ", "header": "きっかけ"}]
    })).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    let (_, job) = send(&app, Method::POST, &op, "/api/v1/jobs", &json!({
        "kind": "csv_export", "selection": {"order_numbers": [number]}, "params": {"format_id": f["id"]}
    })).await;
    app.store.run_jobs(10).await.unwrap();
    let (_, _, bytes) = download(&app, &op, &format!("/api/v1/jobs/{}/result", job["id"])).await;
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(
        text,
        format!("受注番号,好きな色,きっかけ\r\n{number},青,'=SNS\r\n")
    );
});

both_stores!(document_formats_api, |store| async move {
    let app = TestApp::start(store).await;
    let manager = app.token(Role::Manager).await;
    let (s, f) = send(&app, Method::POST, &manager, "/api/v1/document-formats", &json!({
        "name": "ギフト用", "kind": "delivery_note", "addressee": "shipping", "show_prices": false
    })).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    assert_eq!(f["show_order_number"], true, "switches default to on");
    assert_eq!(f["show_delivery"], false);
    let (s, e) = send(
        &app,
        Method::POST,
        &manager,
        "/api/v1/document-formats",
        &json!({
            "name": "金額なし請求書", "kind": "invoice", "show_prices": false
        }),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["field"], "show_prices");
    let (s, e) = send(
        &app,
        Method::POST,
        &manager,
        "/api/v1/document-formats",
        &json!({
            "name": "x", "kind": "invoice", "colour": "red"
        }),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let path = format!("/api/v1/document-formats/{}", f["id"]);
    let (s, put) = send(
        &app,
        Method::PUT,
        &manager,
        &path,
        &json!({
            "name": "ギフト用", "kind": "delivery_note", "message": "ありがとうございました。"
        }),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{put}");
    assert_eq!(put["show_prices"], true);
    let (_, list) = send(
        &app,
        Method::GET,
        &manager,
        "/api/v1/document-formats",
        &Value::Null,
    )
    .await;
    assert_eq!(list[0]["message"], "ありがとうございました。");
    let (s, _) = send(&app, Method::DELETE, &manager, &path, &Value::Null).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = send(&app, Method::DELETE, &manager, &path, &Value::Null).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
});

both_stores!(
    results_past_the_retention_period_are_gone,
    |store| async move {
        let app = TestApp::start(store).await;
        seed_products(&app.store).await;
        let op = app.token(Role::Operator).await;
        let (_, o) = send(&app, Method::POST, &op, "/api/v1/orders", &order_body()).await;
        let (s, job) = send(&app, Method::POST, &op, "/api/v1/jobs", &json!({
        "kind": "dunning", "selection": {"order_numbers": [o["order_number"]]}, "params": {"memo": "督促"}
    })).await;
        assert_eq!(s, StatusCode::CREATED, "{job}");
        app.store.run_jobs(10).await.unwrap();
        let id = job["id"].as_i64().unwrap();
        juchu_store::testing::execute(
            &app.store,
            &format!("UPDATE jobs SET finished_at = '2020-01-01T00:00:00Z' WHERE id = {id}"),
        )
        .await;
        assert_eq!(
            app.store
                .purge_finished_jobs("2026-01-01T00:00:00Z")
                .await
                .unwrap(),
            1
        );
        let (s, e) = send(
            &app,
            Method::GET,
            &op,
            &format!("/api/v1/jobs/{id}/result"),
            &Value::Null,
        )
        .await;
        assert_eq!(s, StatusCode::GONE, "{e}");
        assert!(e["message"].as_str().unwrap().contains("保存期間"), "{e}");
        let (_, j) = send(
            &app,
            Method::GET,
            &op,
            &format!("/api/v1/jobs/{id}"),
            &Value::Null,
        )
        .await;
        assert!(
            j["result_url"].is_null() && !j["purged_at"].is_null(),
            "{j}"
        );
        assert_eq!(j["done"], 1);
    }
);
