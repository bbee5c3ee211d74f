//! 出荷 over real HTTP, on both stores: `POST /api/v1/shipment-imports` (a
//! CP932 multipart upload previewed — nothing changes — then registered as a
//! job whose result is the per-row CSV; bad form fields named; a viewer
//! refused), `POST /api/v1/payment-imports`, the order's `shipments` with 分納
//! by PATCH, and a `carrier_export` job.

mod common;

use common::TestApp;
use juchu_domain::access::Role;
use juchu_store::both_stores;
use juchu_store::masters::ProductInput;
use reqwest::StatusCode;
use serde_json::Value;

/// A multipart/form-data body with `file` and the given text fields.
fn form(file: &[u8], fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "juchu-test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"shukka.csv\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// PATCHes the order at its current version.
async fn patch(app: &TestApp, token: &str, n: &str, mut body: Value) -> (StatusCode, Value) {
    let current = get(app, token, &format!("/api/v1/orders/{n}")).await;
    body["version"] = current["version"].clone();
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/orders/{n}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json::<Value>().await.unwrap())
}

async fn post(
    app: &TestApp,
    token: &str,
    file: &[u8],
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    post_to(app, "/api/v1/shipment-imports", token, file, fields).await
}

async fn post_to(
    app: &TestApp,
    path: &str,
    token: &str,
    file: &[u8],
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let (content_type, body) = form(file, fields);
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

both_stores!(shipment_imports_over_http, |store| async move {
    store
        .create_product(ProductInput {
            code: "TEA-01".into(),
            name: "有機緑茶".into(),
            unit_price: 1080,
            tax_rate: 8,
            shipping_fee: None,
            payment_fee: None,
            is_bundled_item: false,
            is_subscription: false,
        })
        .await
        .unwrap();
    let app = TestApp::start(store.clone()).await;
    let op = app.token(Role::Operator).await;
    let viewer = app.token(Role::Viewer).await;
    let (s, order) = {
        let r = app
            .client
            .post(app.url("/api/v1/orders"))
            .bearer_auth(&op)
            .json(&serde_json::json!({
                "billing": {
                    "family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
                    "postal_code": "150-0001", "prefecture": "東京都", "address1": "渋谷区神宮前1-2-3",
                    "phone": "090-1234-5678", "email": "hanako@example.jp"
                },
                "items": [{"product_code": "TEA-01", "quantity": 3}],
                "carrier": "ヤマト運輸"
            }))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let n = order["order_number"].as_str().unwrap().to_string();
    let text = format!("受注番号,配送伝票番号\r\n{n},1234-5678-9013\r\n{n}9,1234-5678-9013\r\n");
    let (file, _, _) = encoding_rs::SHIFT_JIS.encode(&text);

    let (s, preview) = post(
        &app,
        &op,
        &file,
        &[("format", "standard"), ("dry_run", "true")],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    assert_eq!(preview["dry_run"], true);
    assert_eq!(
        (preview["changed"].as_i64(), preview["refused"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(preview["rows"][0]["row"], 2);
    assert_eq!(preview["rows"][0]["outcome"], "変更");
    assert_eq!(preview["rows"][1]["outcome"], "エラー");
    assert_eq!(
        store.order_by_number(&n).await.unwrap().tracking_number,
        None
    );

    // Without dry_run: a job, whose result is the per-row CSV.
    let (s, job) = post(&app, &op, &file, &[("encoding", "shift_jis")]).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "shipment_import");
    assert_eq!(job["total"], 2);
    store.run_jobs(100).await.unwrap();
    let id = job["id"].as_i64().unwrap();
    let job: Value = get(&app, &op, &format!("/api/v1/jobs/{id}")).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        (job["failed"].as_i64(), job["done"].as_i64()),
        (Some(1), Some(2))
    );
    let csv = app
        .client
        .get(app.url(&format!("/api/v1/jobs/{id}/result")))
        .bearer_auth(&op)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with("\u{feff}行,受注番号,結果,内容\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("\r\n2,{n},変更,配送伝票番号 123456789013")),
        "{csv}"
    );
    let o = store.order_by_number(&n).await.unwrap();
    assert_eq!(o.tracking_number.as_deref(), Some("123456789013"));
    let (_, again) = post(&app, &op, &file, &[("dry_run", "true")]).await;
    assert_eq!(again["rows"][0]["outcome"], "変更なし");

    // The order's packages in its JSON; 分納 by PATCH; a package's numbers.
    let order: Value = get(&app, &op, &format!("/api/v1/orders/{n}")).await;
    assert_eq!(order["shipments"][0]["id"], format!("{n}-1"));
    assert_eq!(order["shipments"][0]["status"], "発送済");
    assert_eq!(order["shipments"][0]["tracking_numbers"][0], "123456789013");
    assert_eq!(order["shipments"][0]["items"][0]["quantity"], 3);
    // A shipped package cannot be split; the error names the field.
    let (s, err) = patch(
        &app,
        &op,
        &n,
        serde_json::json!({"split_shipment": {"items": [{"line": 0, "quantity": 1}]}}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["field"], "split_shipment.from", "{err}");
    let (s, err) = patch(
        &app,
        &op,
        &n,
        serde_json::json!({"shipments": [{"number": 1, "tracking_numbers": ["1234-5678-9012"]}]}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["field"], "shipments[0].tracking_numbers[0]", "{err}");
    let (s, changed) = patch(&app, &op, &n, serde_json::json!({"shipments": [{"number": 1, "tracking_numbers": ["1234-5678-9013", "1234-5678-9024"]}]})).await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(
        changed["shipments"][0]["tracking_numbers"][1],
        "123456789024"
    );
    assert_eq!(
        changed["shipments"][0]["tracking_urls"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Bad form fields are named; a viewer may not import.
    for (fields, field) in [
        (vec![("format", "nope")], "format"),
        (vec![("encoding", "latin1")], "encoding"),
        (vec![("colour", "red")], "colour"),
    ] {
        let (s, err) = post(&app, &op, &file, &fields).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["field"], field, "{err}");
    }
    let (s, err) = post(&app, &op, "受注番号,伝票\n1,2\n".as_bytes(), &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap_or_default()
            .contains("配送伝票番号"),
        "{err}"
    );
    let (s, _) = post(&app, &viewer, &file, &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // 入金消込: a preview, then a job.
    let total = order["total"].as_i64().unwrap();
    let pay = format!("受注番号,入金額,入金日\n{n},{total},2026-12-05\n");
    let (s, preview) = post_to(
        &app,
        "/api/v1/payment-imports",
        &op,
        pay.as_bytes(),
        &[("dry_run", "true")],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    assert_eq!(preview["rows"][0]["outcome"], "変更", "{preview}");
    assert!(
        preview["rows"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("入金済み")
    );
    let (s, job) = post_to(&app, "/api/v1/payment-imports", &op, pay.as_bytes(), &[]).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "payment_import");
    let (s, err) = post_to(
        &app,
        "/api/v1/payment-imports",
        &op,
        pay.as_bytes(),
        &[("format", "mt940")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["field"], "format", "{err}");
});
