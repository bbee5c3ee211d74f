//! Handling requests natively (seed 004) over real HTTP, on SQLite and
//! PostgreSQL: automation rules per product (同梱物 not counted, several
//! products need one rule covering all), refusal conditions, start / stop
//! with arrival order, 条件未設定 and 再実行, exactly once under concurrent
//! workers, 受信BOX handling through the subscription pipeline, the mail a
//! rule sends through a real SMTP server, LINE pushes through the outbox to
//! the loopback sandbox, the usage CSV and the analytics.

mod common;

use common::{TestApp, api, customer, deliver, page, post_form, smtp_sink, staff_session};
use juchu_adapters::{LineMessagingClient, LinePushSandbox, SandboxFailure};
use juchu_domain::access::Role;
use juchu_store::both_stores;
use juchu_store::masters::ProductInput;
use juchu_store::testing::{count, execute};
use reqwest::Method as M;
use serde_json::{Value, json};

async fn product(app: &TestApp, code: &str, name: &str, bundled: bool) {
    app.store
        .create_product(ProductInput {
            code: code.into(),
            name: name.into(),
            unit_price: 3980,
            tax_rate: 8,
            shipping_fee: None,
            payment_fee: None,
            is_bundled_item: bundled,
            is_subscription: true,
        })
        .await
        .unwrap();
}

/// A customer with a subscription of `codes` delivered every 30 days from
/// 2027-01-10: (customer, subscription).
async fn subscriber(
    app: &TestApp,
    token: &str,
    family: &str,
    email: &str,
    codes: &[&str],
) -> (i64, i64) {
    let c = customer(&app.store, family, email).await;
    let items: Vec<Value> = codes
        .iter()
        .map(|c| json!({"product_code": c, "quantity": 1}))
        .collect();
    let (s, o) = api(
        app,
        token,
        M::POST,
        "/api/v1/orders",
        Some(json!({
            "customer_id": c,
            "billing": {
                "family_name": family, "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
                "postal_code": "150-0001", "prefecture": "東京都", "address1": "渋谷区神宮前1-2-3",
                "phone": "090-1234-5678", "email": email
            },
            "items": items,
            "payment_method": "代金引換",
            "scheduled_delivery_date": "2027-01-10",
            "subscription_cycle": {"kind": "days", "every": 30}
        })),
    )
    .await;
    assert_eq!(s, 201, "{o}");
    (c, o["subscription_id"].as_i64().unwrap())
}

async fn request(
    app: &TestApp,
    token: &str,
    c: i64,
    sub: i64,
    form: Option<i64>,
    fields: Value,
) -> i64 {
    let mut body = json!({"customer_id": c, "subscription_id": sub, "fields": fields});
    if let Some(f) = form {
        body["form_id"] = json!(f);
    }
    let (s, r) = api(app, token, M::POST, "/api/v1/requests", Some(body)).await;
    assert_eq!(s, 201, "{r}");
    r["id"].as_i64().unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let (s, v) = api(app, token, M::GET, path, None).await;
    assert_eq!(s, 200, "{path}: {v}");
    v
}

async fn next_delivery(app: &TestApp, token: &str, sub: i64) -> String {
    get(app, token, &format!("/api/v1/subscriptions/{sub}")).await["next_delivery_date"]
        .as_str()
        .unwrap()
        .to_string()
}

both_stores!(
    automation_applies_rules_exactly_once_in_arrival_order,
    |store| async move {
        let app = TestApp::start(store).await;
        product(&app, "SUP-01", "コラーゲンサプリ", false).await;
        product(&app, "SUP-02", "ビタミン", false).await;
        product(&app, "GIFT-01", "サンプル", true).await;
        let owner = app.token(Role::Owner).await;
        let forms = get(&app, &owner, "/api/v1/request-forms").await;
        let form = forms[0]["id"].as_i64().unwrap();
        let (hanako, sub) = subscriber(
            &app,
            &owner,
            "山田",
            "hanako@example.jp",
            &["SUP-01", "GIFT-01"],
        )
        .await;
        let (taro, sub2) = subscriber(&app, &owner, "佐藤", "taro@example.jp", &["SUP-01"]).await;
        let (jiro, both) = subscriber(
            &app,
            &owner,
            "鈴木",
            "jiro@example.jp",
            &["SUP-01", "SUP-02"],
        )
        .await;
        let before = next_delivery(&app, &owner, sub).await;
        // The parent order is the first delivery (01-10); the next is 30 days on.
        assert_eq!(before, "2027-02-09");

        // 条件未設定: while no rule exists, a request waits for one.
        let (s, _) = api(
            &app,
            &owner,
            M::POST,
            "/api/v1/request-automation/start",
            None,
        )
        .await;
        assert_eq!(s, 200);
        let orphan = request(
            &app,
            &owner,
            taro,
            sub2,
            Some(form),
            json!({"col_1": "スキップ", "col_4": "コラーゲンサプリ"}),
        )
        .await;
        app.store.process_requests(100).await.unwrap();
        let o = get(&app, &owner, &format!("/api/v1/requests/{orphan}")).await;
        assert_eq!(o["status"], "条件未設定", "{o}");
        let (s, _) = api(
            &app,
            &owner,
            M::POST,
            "/api/v1/request-automation/stop",
            None,
        )
        .await;
        assert_eq!(s, 200);
        // Rules: 休止 by product name for every form (omitted form), スキップ
        // by code and 解約 (refused below 5 deliveries) for the shop's form.
        let (s, pause_rule) = api(
            &app,
            &owner,
            M::POST,
            "/api/v1/request-rules",
            Some(json!({"name": "サプリ（休止）", "type": "休止", "products": ["コラーゲンサプリ"],
                "pause_base": "next",
                "on_success": {"add": ["休止済"]},
                "success_memo": "申請により休止: 次回{{次回配送予定日}}",
                "message_channel": "mail",
                "message": "{{お名前}}様\n休止を承りました。次回のお届けは{{次回配送予定日}}（発送{{次回発送予定日}}）です。"})),
        )
        .await;
        assert_eq!(s, 201, "{pause_rule}");
        assert_eq!(pause_rule["type"], "休止");
        assert_eq!(pause_rule["pause_base"], "next");
        let (s, _) = api(&app, &owner, M::POST, "/api/v1/request-rules",
            Some(json!({"name": "サプリ（スキップ）", "type": "スキップ", "products": ["SUP-01"], "form_id": form}))).await;
        assert_eq!(s, 201);
        let (s, cancel_rule) = api(&app, &owner, M::POST, "/api/v1/request-rules",
            Some(json!({"name": "サプリ（解約）", "type": "解約", "products": ["SUP-01", "ビタミン"], "form_id": form,
                "cancel_reason": "その他", "refusal": {"min_count": 5},
                "on_refusal": {"add": ["解約不可"]}}))).await;
        assert_eq!(s, 201, "{cancel_rule}");
        // A bad rule: nothing stored, every problem said.
        let (s, e) = api(
            &app,
            &owner,
            M::POST,
            "/api/v1/request-rules",
            Some(json!({"name": "", "type": "解約", "products": []})),
        )
        .await;
        assert_eq!(s, 422, "{e}");
        assert!(e["errors"].as_array().unwrap().len() >= 3, "{e}");
        let (s, e) = api(
            &app,
            &owner,
            M::POST,
            "/api/v1/request-rules",
            Some(json!({"name": "x", "type": "お届け日変更", "products": ["SUP-01"]})),
        )
        .await;
        assert_eq!(s, 422, "{e}");
        assert_eq!(
            get(&app, &owner, "/api/v1/request-rules")
                .await
                .as_array()
                .unwrap()
                .len(),
            3
        );

        // 再実行 after adding rules; pressed twice, queued once.
        for _ in 0..2 {
            let (s, r) = api(
                &app,
                &owner,
                M::POST,
                &format!("/api/v1/requests/{orphan}/rerun"),
                None,
            )
            .await;
            assert_eq!(s, 200, "{r}");
            assert_eq!(r["status"], "未対応");
        }
        // Stopped: requests wait 未対応.
        let auto = get(&app, &owner, "/api/v1/request-automation").await;
        assert_eq!(auto["running"], false);
        let pause = request(
            &app,
            &owner,
            hanako,
            sub,
            Some(form),
            json!({"col_1": "休止", "col_2": "2ヶ月", "col_4": "コラーゲンサプリ"}),
        )
        .await;
        let skip = request(
            &app,
            &owner,
            taro,
            sub2,
            Some(form),
            json!({"col_1": "スキップ", "col_4": "コラーゲンサプリ"}),
        )
        .await;
        let change = request(
            &app,
            &owner,
            taro,
            sub2,
            None,
            json!({"col_1": "お届け日変更", "col_4": "コラーゲンサプリ"}),
        )
        .await;
        let vague = request(
            &app,
            &owner,
            taro,
            sub2,
            None,
            json!({"col_1": "休止", "col_2": "しばらく", "col_4": "コラーゲンサプリ"}),
        )
        .await;
        let many = request(
            &app,
            &owner,
            jiro,
            both,
            Some(form),
            json!({"col_1": "スキップ", "col_4": "ビタミン"}),
        )
        .await;
        let cancel = request(
            &app,
            &owner,
            jiro,
            both,
            Some(form),
            json!({"col_1": "解約", "col_4": "コラーゲンサプリ"}),
        )
        .await;
        assert_eq!(app.store.process_requests(100).await.unwrap().total(), 0);
        assert_eq!(
            get(&app, &owner, &format!("/api/v1/requests/{pause}")).await["status"],
            "未対応"
        );
        assert_eq!(
            get(&app, &owner, "/api/v1/request-automation").await["waiting"],
            7
        );

        // Started: everything that waited is processed, in arrival order, by
        // two workers at once — each request applied once.
        let (s, a) = api(
            &app,
            &owner,
            M::POST,
            "/api/v1/request-automation/start",
            None,
        )
        .await;
        assert_eq!((s.as_u16(), a["running"].clone()), (200, json!(true)));
        let (r1, r2) = tokio::join!(
            app.store.process_requests(100),
            app.store.process_requests(100)
        );
        assert_eq!(r1.unwrap().total() + r2.unwrap().total(), 7);
        assert_eq!(app.store.process_requests(100).await.unwrap().total(), 0);

        let p = get(&app, &owner, &format!("/api/v1/requests/{pause}")).await;
        assert_eq!(p["status"], "対応完了", "{p}");
        assert_eq!(p["tags"], json!(["休止済"]));
        assert_eq!(p["handled_by"], "auto");
        assert_eq!(p["rule_id"], pause_rule["id"]);
        // 02-09 + 2 calendar months (同梱物 is not a product).
        assert_eq!(next_delivery(&app, &owner, sub).await, "2027-04-09");
        let s1 = get(&app, &owner, &format!("/api/v1/subscriptions/{sub}")).await;
        assert!(
            s1["memo"]
                .as_str()
                .unwrap()
                .contains("申請により休止: 次回2027-04-09"),
            "{s1}"
        );
        // The request is the actor in the subscription's 履歴, once.
        let n = count(&app.store, &format!(
            "SELECT COUNT(*) AS n FROM subscription_history WHERE subscription_id = {sub} AND field = 'next_delivery_date'")).await;
        assert_eq!(n, 1);
        let actor = count(&app.store, &format!(
            "SELECT COUNT(*) AS n FROM subscription_history WHERE subscription_id = {sub} AND actor_name LIKE '申請 #{pause}%'")).await;
        assert!(actor >= 1);
        assert_eq!(
            get(&app, &owner, &format!("/api/v1/requests/{skip}")).await["status"],
            "対応完了"
        );
        // Two skips in arrival order (the re-run one first), each to the
        // cycle's next delivery: 02-09 → 03-11 → 04-10.
        assert_eq!(next_delivery(&app, &owner, sub2).await, "2027-04-10");
        assert_eq!(
            get(&app, &owner, &format!("/api/v1/requests/{change}")).await["status"],
            "未対応"
        );
        let v = get(&app, &owner, &format!("/api/v1/requests/{vague}")).await;
        assert_eq!(v["status"], "エラー");
        assert!(
            v["status_reason"].as_str().unwrap().contains("しばらく"),
            "{v}"
        );
        let m = get(&app, &owner, &format!("/api/v1/requests/{many}")).await;
        assert_eq!(m["status"], "エラー");
        assert!(
            m["status_reason"].as_str().unwrap().starts_with("複数商品"),
            "{m}"
        );
        assert_eq!(next_delivery(&app, &owner, both).await, "2027-02-09");
        let c = get(&app, &owner, &format!("/api/v1/requests/{cancel}")).await;
        assert_eq!(c["status"], "対応不可");
        assert!(
            c["status_reason"].as_str().unwrap().contains("定期回数"),
            "{c}"
        );
        assert_eq!(c["tags"], json!(["解約不可"]));
        assert_eq!(
            get(&app, &owner, &format!("/api/v1/subscriptions/{both}")).await["status"],
            "有効"
        );

        // The rule's mail, through a real SMTP server, with the new dates.
        let (inbox, port) = smtp_sink();
        let mails = deliver(&app.store, &inbox, port).await;
        let mail = mails
            .iter()
            .find(|m| m.0.contains("hanako@example.jp"))
            .expect("mail to hanako");
        assert!(mail.2.contains("山田 花子様"), "{}", mail.2);
        assert!(mail.2.contains("次回のお届けは2027-04-09"), "{}", mail.2);
        assert_eq!(mails.iter().filter(|m| m.0.contains("hanako")).count(), 1);

        let (s, e) = api(
            &app,
            &owner,
            M::POST,
            &format!("/api/v1/requests/{pause}/rerun"),
            None,
        )
        .await;
        assert_eq!(s, 409, "completed requests are not rerun: {e}");
        let (s, _) = api(
            &app,
            &owner,
            M::POST,
            &format!("/api/v1/request-rules/{}/copy", pause_rule["id"]),
            None,
        )
        .await;
        assert_eq!(s, 201);
        assert_eq!(
            get(&app, &owner, &format!("/api/v1/requests/{orphan}")).await["status"],
            "対応完了"
        );

        // Stopped again: a new request waits, then is processed after start.
        let (s, _) = api(
            &app,
            &owner,
            M::POST,
            "/api/v1/request-automation/stop",
            None,
        )
        .await;
        assert_eq!(s, 200);
        let later = request(
            &app,
            &owner,
            taro,
            sub2,
            Some(form),
            json!({"col_1": "スキップ", "col_4": "コラーゲンサプリ"}),
        )
        .await;
        app.store.process_requests(100).await.unwrap();
        assert_eq!(
            get(&app, &owner, &format!("/api/v1/requests/{later}")).await["status"],
            "未対応"
        );
        api(
            &app,
            &owner,
            M::POST,
            "/api/v1/request-automation/start",
            None,
        )
        .await;
        app.store.process_requests(100).await.unwrap();
        assert_eq!(
            get(&app, &owner, &format!("/api/v1/requests/{later}")).await["status"],
            "対応完了"
        );

        // Dry run: what the 休止 rule would do, nothing changed.
        let (s, dry) = api(
            &app,
            &owner,
            M::POST,
            &format!("/api/v1/request-rules/{}/dry-run?days=7", pause_rule["id"]),
            None,
        )
        .await;
        assert_eq!(s, 200, "{dry}");
        let lines = dry.as_array().unwrap();
        assert!(
            lines.iter().any(|l| l["request_id"] == json!(pause)
                && l["outcome"] == "対応完了"
                && l["detail"].as_str().unwrap().contains("2027-06-09")),
            "{dry}"
        );
        assert_eq!(next_delivery(&app, &owner, sub).await, "2027-04-09");

        // Usage CSV by completed date, and the analytics.
        let today = app.store.clock.today();
        let r = app
            .client
            .get(app.url(&format!(
                "/api/v1/request-usage.csv?from={today}&to={today}"
            )))
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let bytes = r.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\xef\xbb\xbf"));
        let csv = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert!(csv.starts_with("申請ID,"), "{csv}");
        assert!(csv.contains("休止処理が正常に終了しました。"), "{csv}");
        assert!(csv.contains("対応不可: 定期回数"), "{csv}");
        assert_eq!(csv.lines().count(), 1 + 7, "{csv}");
        let (s, e) = api(
            &app,
            &owner,
            M::GET,
            "/api/v1/request-usage.csv?from=2026-13-01&to=2026-12-01",
            None,
        )
        .await;
        assert_eq!(s, 422, "{e}");
        let a = get(&app, &owner, "/api/v1/request-analytics").await;
        let table = |key: &str| {
            a["tables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["key"] == key)
                .unwrap()
                .clone()
        };
        let by_type = table("by_type");
        assert_eq!(by_type["total"], 8);
        assert!(
            by_type["rows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["label"] == "スキップ" && r["count"] == 4),
            "{by_type}"
        );
        let pauses = table("by_pause_period");
        assert!(
            pauses["rows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["label"] == "2ヶ月" && r["count"] == 1),
            "{pauses}"
        );
        let status = table("by_status");
        assert!(
            status["rows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["label"] == "エラー" && r["count"] == 2),
            "{status}"
        );
        assert_eq!(a["outcomes"]["cycles"], 3);
        let (s, _) = api(
            &app,
            &owner,
            M::GET,
            "/api/v1/request-analytics?received_from=yesterday",
            None,
        )
        .await;
        assert_eq!(s, 422);
    }
);

both_stores!(
    inbox_handling_goes_through_the_pipelines,
    |store| async move {
        let app = TestApp::start(store).await;
        product(&app, "SUP-01", "コラーゲンサプリ", false).await;
        let owner = app.token(Role::Owner).await;
        let (c, sub) = subscriber(&app, &owner, "山田", "hanako@example.jp", &["SUP-01"]).await;
        let id = request(
            &app,
            &owner,
            c,
            sub,
            None,
            json!({"col_1": "休止", "col_2": "30日", "col_4": "コラーゲンサプリ"}),
        )
        .await;
        let path = format!("/api/v1/requests/{id}");
        // Bad input: nothing changes.
        for (body, code) in [
            (json!({"status": "対応不可"}), 422),
            (json!({"status": "エラー"}), 422),
            (json!({"status": "どこか"}), 422),
            (json!({"tags": ["未登録"]}), 422),
            (json!({"operator_id": 99999}), 422),
            (json!({"status_reason": "理由だけ"}), 422),
            (json!({"memo": "x", "extra": 1}), 422),
        ] {
            let (s, e) = api(&app, &owner, M::PATCH, &path, Some(body.clone())).await;
            assert_eq!(s.as_u16(), code, "{body}: {e}");
        }
        assert_eq!(get(&app, &owner, &path).await["status"], "未対応");
        let (s, _) = api(
            &app,
            &owner,
            M::POST,
            "/api/v1/request-tags",
            Some(json!({"name": "要確認"})),
        )
        .await;
        assert_eq!(s, 201);
        let (s, r) = api(
            &app,
            &owner,
            M::PATCH,
            &path,
            Some(json!({"status": "対応中", "tags": ["要確認"], "memo": "電話で確認中"})),
        )
        .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(
            (r["status"].clone(), r["tags"].clone(), r["memo"].clone()),
            (json!("対応中"), json!(["要確認"]), json!("電話で確認中"))
        );
        // A tag removed from the master stays on the request and saving keeps it.
        app.store.delete_request_tag("要確認").await.unwrap();
        let (s, r) = api(
            &app,
            &owner,
            M::PATCH,
            &path,
            Some(json!({"tags": ["要確認"], "memo": "折り返し待ち"})),
        )
        .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["tags"], json!(["要確認"]));
        let (s, _) = api(
            &app,
            &owner,
            M::PATCH,
            &path,
            Some(json!({"tags": ["要確認", "別"]})),
        )
        .await;
        assert_eq!(s, 422, "a tag that is in neither stays refused");
        app.store.add_request_tag("要確認").await.unwrap();
        // Preview: the new date, nothing written.
        let (s, p) = api(
            &app,
            &owner,
            M::POST,
            &format!("{path}/apply"),
            Some(json!({"action": "休止", "preview": true})),
        )
        .await;
        assert_eq!(s, 200, "{p}");
        assert_eq!(p["next_delivery_date"], "2027-03-11");
        assert_eq!(next_delivery(&app, &owner, sub).await, "2027-02-09");
        let (s, e) = api(
            &app,
            &owner,
            M::POST,
            &format!("{path}/apply"),
            Some(json!({"action": "休止", "period": "いつか"})),
        )
        .await;
        assert_eq!(s, 422, "{e}");
        assert!(e["message"].as_str().unwrap().contains("いつか"), "{e}");
        let (s, done) = api(
            &app,
            &owner,
            M::POST,
            &format!("{path}/apply"),
            Some(json!({"action": "休止", "period": "1ヶ月"})),
        )
        .await;
        assert_eq!(s, 200, "{done}");
        assert_eq!(done["next_delivery_date"], "2027-03-09");
        assert_eq!(done["request"]["status"], "対応完了");
        assert_eq!(done["request"]["handled_by"], "manual");
        assert_eq!(next_delivery(&app, &owner, sub).await, "2027-03-09");
        let (s, _) = api(
            &app,
            &owner,
            M::POST,
            &format!("{path}/apply"),
            Some(json!({"action": "スキップ"})),
        )
        .await;
        assert_eq!(s, 409, "a completed request is not applied twice");
        assert_eq!(next_delivery(&app, &owner, sub).await, "2027-03-09");
        let history = app.store.request_history(id).await.unwrap();
        assert!(
            history.iter().any(|h| h.what.contains("手動対応: 1ヶ月")),
            "{history:?}"
        );
        let subs_history = count(&app.store, &format!(
            "SELECT COUNT(*) AS n FROM subscription_history WHERE subscription_id = {sub} AND actor_kind = 'request' AND actor_id = {id}")).await;
        assert!(subs_history >= 1);

        // 受信BOX as an operator: filters, counts, the subscription's dates.
        let (cookie, csrf) = staff_session(&app, "op@example.jp", Role::Operator).await;
        let (s, html) = page(
            &app,
            &cookie,
            "/requests?type=休止&product=コラーゲンサプリ&tag=要確認",
        )
        .await;
        assert_eq!(s, 200);
        assert!(html.contains(&format!("data-id=\"{id}\"")), "{html}");
        assert!(html.contains("2027-03-09"));
        assert!(
            html.contains("対応完了<span class=\"n\">1</span>"),
            "{html}"
        );
        let (s, html) = page(&app, &cookie, "/requests?received_from=2026-99-01").await;
        assert_eq!(s, 200);
        assert!(html.contains("受付日（から）"), "a bad date is said");
        let (s, html) = page(&app, &cookie, &format!("/requests/{id}")).await;
        assert_eq!(s, 200);
        assert!(html.contains("手動対応: 1ヶ月"));
        // Another request refused by hand from the page.
        let other = request(
            &app,
            &owner,
            c,
            sub,
            None,
            json!({"col_1": "お届け日変更", "col_4": "コラーゲンサプリ"}),
        )
        .await;
        let (s, _, html) = post_form(
            &app,
            &cookie,
            &csrf,
            &format!("/requests/{other}/handle"),
            &[("status", "refused"), ("status_reason", "")],
        )
        .await;
        assert_eq!(s, 422, "{html}");
        assert!(html.contains("対応不可の理由を入力してください"));
        // 保存 with the status as it is (the form always sends it): a memo
        // saved, the request still waits for the automation.
        let (s, _, _) = post_form(
            &app,
            &cookie,
            &csrf,
            &format!("/requests/{other}/handle"),
            &[
                ("status", "open"),
                ("status_reason", ""),
                ("memo", "確認中"),
            ],
        )
        .await;
        assert_eq!(s, 303);
        assert_eq!(count(&app.store, &format!("SELECT COUNT(*) AS n FROM requests WHERE id = {other} AND auto_state = 'pending' AND memo = '確認中'")).await, 1);
        let (s, _, _) = post_form(
            &app,
            &cookie,
            &csrf,
            &format!("/requests/{other}/handle"),
            &[
                ("status", "refused"),
                ("status_reason", "お届け日は変更できない商品です"),
            ],
        )
        .await;
        assert_eq!(s, 303);
        let r = get(&app, &owner, &format!("/api/v1/requests/{other}")).await;
        assert_eq!(
            (r["status"].clone(), r["status_reason"].clone()),
            (json!("対応不可"), json!("お届け日は変更できない商品です"))
        );
        // Pages of RPA設定 and 分析 answer.
        for p in [
            "/settings/request-automation",
            "/settings/request-automation/rules/new",
            "/requests/analytics",
            "/requests/analytics/by_type.csv",
        ] {
            let (s, body) = page(&app, &cookie, p).await;
            assert_eq!(s, 200, "{p}: {body}");
        }
        let (_, html) = page(&app, &cookie, "/requests/analytics").await;
        assert!(html.contains("<svg"), "charts are drawn on the server");
    }
);

both_stores!(
    line_messages_leave_through_the_outbox_once,
    |store| async move {
        let app = TestApp::start(store).await;
        product(&app, "SUP-01", "コラーゲンサプリ", false).await;
        let owner = app.token(Role::Owner).await;
        let (c, sub) = subscriber(&app, &owner, "山田", "hanako@example.jp", &["SUP-01"]).await;
        let user = "U0123456789abcdef0123456789abcdef";
        app.store.link_line_user(c, user).await.unwrap();
        let (s, _) = api(&app, &owner, M::POST, "/api/v1/request-rules",
            Some(json!({"name": "スキップ", "type": "スキップ", "products": ["SUP-01"],
                "message_channel": "line", "message": "スキップしました。次回は{{次回配送予定日}}です。"}))).await;
        assert_eq!(s, 201);
        api(
            &app,
            &owner,
            M::POST,
            "/api/v1/request-automation/start",
            None,
        )
        .await;
        request(
            &app,
            &owner,
            c,
            sub,
            None,
            json!({"col_1": "スキップ", "col_4": "SUP-01"}),
        )
        .await;
        app.store.process_requests(10).await.unwrap();
        assert_eq!(
            count(&app.store, "SELECT COUNT(*) AS n FROM line_outbox").await,
            1
        );
        assert_eq!(
            count(
                &app.store,
                "SELECT COUNT(*) AS n FROM mail_outbox WHERE template_code = 'request_completed'"
            )
            .await,
            0
        );

        let sandbox = LinePushSandbox::start("channel-token").await.unwrap();
        let client = LineMessagingClient::new(&sandbox.base_url(), "channel-token").unwrap();
        // LINE answers 500 first: kept for later, same retry key.
        sandbox.fail_next(&[SandboxFailure::ServerError]);
        let d = app.store.deliver_line(&client, 10).await.unwrap();
        assert_eq!((d.sent, d.failed.len()), (0, 1));
        assert!(sandbox.received().is_empty());
        execute(
            &app.store,
            "UPDATE line_outbox SET next_attempt_at = '2000-01-01T00:00:00Z'",
        )
        .await;
        let d = app.store.deliver_line(&client, 10).await.unwrap();
        assert_eq!(d.sent, 1, "{d:?}");
        let got = sandbox.received();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].to, user);
        assert_eq!(
            got[0].texts,
            vec!["スキップしました。次回は2027-03-11です。".to_string()]
        );
        // A worker that died after LINE accepted: the push is tried again with
        // the same key, LINE answers 409, and the customer got it once.
        execute(
            &app.store,
            "UPDATE line_outbox SET status = 'sending', next_attempt_at = '2000-01-01T00:00:00Z'",
        )
        .await;
        let d = app.store.deliver_line(&client, 10).await.unwrap();
        assert_eq!(d.sent, 1);
        assert_eq!(sandbox.received().len(), 1);
        // A revoked token is permanent: failed, not retried.
        request(
            &app,
            &owner,
            c,
            sub,
            None,
            json!({"col_1": "スキップ", "col_4": "SUP-01"}),
        )
        .await;
        app.store.process_requests(10).await.unwrap();
        let bad = LineMessagingClient::new(&sandbox.base_url(), "revoked").unwrap();
        let d = app.store.deliver_line(&bad, 10).await.unwrap();
        assert_eq!(d.failed.len(), 1);
        assert!(d.failed[0].1.contains("401"), "{d:?}");
        assert_eq!(
            count(
                &app.store,
                "SELECT COUNT(*) AS n FROM line_outbox WHERE status = 'failed'"
            )
            .await,
            1
        );
        let shown = app.store.customer_line_messages(c).await.unwrap();
        assert_eq!(shown.len(), 2);
    }
);
