//! `POST /api/v1/shipment-imports` over real HTTP, on both stores: a CP932
//! multipart upload previewed (nothing changes), then applied; bad form fields
//! named; a viewer refused.

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

async fn post(
    app: &TestApp,
    token: &str,
    file: &[u8],
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let (content_type, body) = form(file, fields);
    let r = app
        .client
        .post(app.url("/api/v1/shipment-imports"))
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
                "items": [{"product_code": "TEA-01", "quantity": 1}],
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

    let (s, done) = post(&app, &op, &file, &[("encoding", "shift_jis")]).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["dry_run"], false);
    let o = store.order_by_number(&n).await.unwrap();
    assert_eq!(o.tracking_number.as_deref(), Some("123456789013"));
    let (_, again) = post(&app, &op, &file, &[]).await;
    assert_eq!(again["rows"][0]["outcome"], "変更なし");

    // Bad form fields are named; a viewer may not import.
    for (fields, field) in [
        (vec![("format", "yamato_b2")], "format"),
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
});
