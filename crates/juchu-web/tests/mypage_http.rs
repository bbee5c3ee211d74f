//! The customer's side over real HTTP, on SQLite and PostgreSQL: the
//! invitation mail (through a real SMTP server) and its set-password link,
//! 注文履歴 with the shop's words, tax per rate and tracking links, messages
//! both ways with the notice mail and unread marks, 定期便 with the terms
//! kept from checkout, and that no customer reaches another's data — or a
//! staff page, and no staff session or token reaches a customer page.

mod common;

use common::{
    TestApp, api, customer, deliver, link_in, page, post_form, seed_products, smtp_sink,
    staff_session,
};
use juchu_domain::access::Role;
use juchu_domain::customer::CustomerInput;
use juchu_store::both_stores;
use juchu_store::masters::ProductInput;
use serde_json::{Value, json};

/// An order of `customer_id` over the API; a subscription product makes a
/// subscription. Returns the order JSON.
async fn order_for(app: &TestApp, token: &str, customer_id: i64, email: &str, sub: bool) -> Value {
    let items = if sub {
        json!([{"product_code": "SUP-01", "quantity": 1, "unit_price": 980}])
    } else {
        json!([{"product_code": "TEA-01", "quantity": 2}, {"product_code": "CUP-01", "quantity": 1}])
    };
    let mut body = json!({
        "customer_id": customer_id,
        "billing": {
            "family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
            "postal_code": "150-0001", "prefecture": "東京都", "address1": "渋谷区神宮前1-2-3",
            "phone": "090-1234-5678", "email": email
        },
        "items": items,
        "payment_method": "代金引換",
        "carrier": "yamato",
        "scheduled_delivery_date": "2027-01-10"
    });
    if sub {
        body["subscription_cycle"] = json!({"kind": "days", "every": 30});
    }
    let (s, o) = api(
        app,
        token,
        reqwest::Method::POST,
        "/api/v1/orders",
        Some(body),
    )
    .await;
    assert_eq!(s, 201, "{o}");
    o
}

async fn setup(app: &TestApp) {
    seed_products(&app.store).await;
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
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

/// Follows an invitation link: sets the password, returns the customer cookie.
async fn accept_invitation(app: &TestApp, link: &str, password: &str) -> String {
    let r = app.client.get(link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("マイページへようこそ"), "{html}");
    let r = app
        .client
        .post(link)
        .form(&[("password", password), ("password_again", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    assert_eq!(r.headers()["location"], "/mypage/orders");
    cookie_of(&r, "juchu_customer").expect("customer cookie")
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> (reqwest::StatusCode, String, String) {
    let r = app
        .client
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let s = r.status();
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (s, loc, r.text().await.unwrap())
}

fn csrf_of(html: &str) -> String {
    common::csrf_in(html)
}

both_stores!(
    a_customer_signs_up_reads_orders_and_talks_to_the_shop,
    |store| async move {
        let app = TestApp::start(store).await;
        setup(&app).await;
        let token = app.token(Role::Operator).await;
        let hanako = customer(&app.store, "山田", "hanako@example.jp").await;
        let taro = customer(&app.store, "佐藤", "taro@example.jp").await;
        let mine = order_for(&app, &token, hanako, "hanako@example.jp", false).await;
        let mine_no = mine["order_number"].as_str().unwrap().to_string();
        let sub_order = order_for(&app, &token, hanako, "hanako@example.jp", true).await;
        let sub_id = sub_order["subscription_id"].as_i64().unwrap();
        let theirs = order_for(&app, &token, taro, "taro@example.jp", true).await;
        let theirs_no = theirs["order_number"].as_str().unwrap().to_string();
        let their_sub = theirs["subscription_id"].as_i64().unwrap();
        // Shipped with a tracking number: the customer gets the carrier's link.
        let (s, patched) = api(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/api/v1/orders/{mine_no}"),
        Some(json!({"version": mine["version"], "handling_status": "発送完了", "tracking_number": "1234-5678-9013"})),
    )
    .await;
        assert_eq!(s, 200, "{patched}");

        // The invitation goes through SMTP with a one-time link.
        let (inbox, port) = smtp_sink();
        let (s, inv) = api(
            &app,
            &token,
            reqwest::Method::POST,
            &format!("/api/v1/customers/{hanako}/mypage-invitation"),
            None,
        )
        .await;
        assert_eq!(s, 202, "{inv}");
        assert_eq!(inv["email"], "hanako@example.jp");
        let mails = deliver(&app.store, &inbox, port).await;
        let invitation = mails
            .iter()
            .find(|(to, subject, _)| {
                to.contains("hanako@example.jp") && subject.contains("マイページのご案内")
            })
            .unwrap_or_else(|| panic!("{mails:?}"));
        let link = link_in(&invitation.2, "/mypage/password/");
        assert!(link.starts_with(&app.base), "{link}");
        let cookie = accept_invitation(&app, &link, "hanako-pass-1").await;
        // The link works once.
        let r = app.client.get(&link).send().await.unwrap();
        assert_eq!(r.status(), 404);

        // 注文履歴: only her orders, newest first, in the customer's words.
        let (s, _, html) = get(&app, &cookie, "/mypage/orders").await;
        assert_eq!(s, 200);
        assert!(html.contains(&format!("data-order=\"{mine_no}\"")));
        assert!(
            !html.contains(&format!("data-order=\"{theirs_no}\"")),
            "another customer's order leaked"
        );
        assert!(html.contains("発送済み"), "{html}");
        let (s, _, html) = get(&app, &cookie, &format!("/mypage/orders/{mine_no}")).await;
        assert_eq!(s, 200);
        assert!(html.contains("発送済み"));
        assert!(
            html.contains("123456789013"),
            "{}",
            html.split("id=\"packages\"").nth(1).unwrap_or("")
        );
        assert!(html.contains("class=\"tracking\""), "tracking link: {html}");
        assert!(html.contains("8%対象"), "tax per rate: {html}");
        assert!(html.contains("10%対象"));
        assert!(html.contains("2027-01-10"));

        // The shop's own words for a status.
        let masters = app.store.masters().await.unwrap();
        let shipped = masters
            .handling_statuses
            .iter()
            .find(|s| s.name == "発送完了")
            .unwrap()
            .id;
        app.store
            .set_customer_status_labels(&[(shipped, "お届けに向かっています".into())])
            .await
            .unwrap();
        let (_, _, html) = get(&app, &cookie, &format!("/mypage/orders/{mine_no}")).await;
        assert!(html.contains("お届けに向かっています"));

        // Another customer's order and subscription: 404, and the page is the
        // one a missing order gets (existence does not leak).
        let (s1, _, theirs_page) = get(&app, &cookie, &format!("/mypage/orders/{theirs_no}")).await;
        let (s2, _, missing_page) = get(&app, &cookie, "/mypage/orders/NO-SUCH").await;
        assert_eq!(
            (s1, s2),
            (
                reqwest::StatusCode::NOT_FOUND,
                reqwest::StatusCode::NOT_FOUND
            )
        );
        assert_eq!(theirs_page, missing_page);
        let (s, _, _) = get(&app, &cookie, &format!("/mypage/subscriptions/{their_sub}")).await;
        assert_eq!(s, 404);
        let (s, _, _) = get(
            &app,
            &cookie,
            &format!("/mypage/subscriptions/{their_sub}/request"),
        )
        .await;
        assert_eq!(s, 404);
        let (_, _, own_form) = get(
            &app,
            &cookie,
            &format!("/mypage/subscriptions/{sub_id}/request"),
        )
        .await;
        let form_csrf = csrf_of(&own_form);
        let r = app
            .client
            .post(app.url(&format!("/mypage/subscriptions/{their_sub}/request")))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", form_csrf.as_str()),
                ("col_1", "スキップ"),
                ("col_4", "A"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(
            juchu_store::testing::count(&app.store, "SELECT COUNT(*) AS n FROM requests").await,
            0
        );
        // Her own request shows on her subscription, not on his.
        let r = app
            .client
            .post(app.url(&format!("/mypage/subscriptions/{sub_id}/request")))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", form_csrf.as_str()),
                ("col_1", "スキップ"),
                ("col_4", "コラーゲンサプリ"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("受け付けました"));
        let (_, _, html) = get(&app, &cookie, &format!("/mypage/subscriptions/{sub_id}")).await;
        assert!(html.contains("id=\"my-requests\""));
        let (_, _, own) = get(&app, &cookie, &format!("/mypage/orders/{mine_no}")).await;
        let csrf = csrf_of(&own);
        let r = app
            .client
            .post(app.url(&format!("/mypage/orders/{theirs_no}/messages")))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("body", "こんにちは")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert!(
            app.store
                .order_messages(&theirs_no)
                .await
                .unwrap()
                .is_empty()
        );

        // Sessions do not cross: the customer cookie opens no staff page or API,
        // a staff session and an API token open no customer page.
        let (s, loc, _) = get(&app, &cookie, "/orders").await;
        assert_eq!((s.as_u16(), loc.as_str()), (303, "/login"));
        let (s, loc, _) = get(&app, &cookie, "/").await;
        assert_eq!((s.as_u16(), loc.as_str()), (303, "/login"));
        let customer_token = cookie.split_once('=').unwrap().1.to_string();
        let (s, _) = api(
            &app,
            &customer_token,
            reqwest::Method::GET,
            "/api/v1/orders",
            None,
        )
        .await;
        assert_eq!(s, 401);
        let (staff_cookie, staff_csrf) = staff_session(&app, "op@example.jp", Role::Operator).await;
        let (s, loc, _) = get(&app, &staff_cookie, "/mypage/orders").await;
        assert_eq!((s.as_u16(), loc.as_str()), (303, "/mypage/login"));
        let r = app
            .client
            .get(app.url("/mypage/orders"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);

        // Messages: staff write (with the notice mail), the customer reads and replies.
        let (s, _, _) = post_form(
            &app,
            &staff_cookie,
            &staff_csrf,
            &format!("/orders/{mine_no}/messages"),
            &[("body", "明日発送いたします。"), ("notify", "1")],
        )
        .await;
        assert_eq!(s, 303);
        let mails = deliver(&app.store, &inbox, port).await;
        let notice = mails
            .iter()
            .find(|(_, subject, _)| subject.contains("ショップからのメッセージがあります"))
            .unwrap_or_else(|| panic!("{mails:?}"));
        assert!(notice.0.contains("hanako@example.jp"));
        assert!(
            notice
                .2
                .contains(&format!("{}/mypage/orders/{mine_no}", app.base)),
            "{}",
            notice.2
        );
        let (_, _, list) = get(&app, &cookie, "/mypage/orders").await;
        assert!(
            list.contains("ショップからのメッセージ"),
            "unread mark on the list"
        );
        let (_, _, html) = get(&app, &cookie, &format!("/mypage/orders/{mine_no}")).await;
        assert!(html.contains("明日発送いたします。"));
        let msgs = app.store.order_messages(&mine_no).await.unwrap();
        assert!(msgs[0].read_at.is_some(), "opened by the customer");
        let csrf = csrf_of(&html);
        // An empty reply is refused and nothing is stored.
        let r = app
            .client
            .post(app.url(&format!("/mypage/orders/{mine_no}/messages")))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("body", "  ")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let r = app
            .client
            .post(app.url(&format!("/mypage/orders/{mine_no}/messages")))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("body", "ありがとうございます。置き配でお願いします。"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let (s, list) = api(
            &app,
            &token,
            reqwest::Method::GET,
            &format!("/api/v1/orders/{mine_no}/messages"),
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert_eq!(list[1]["author"], "customer");
        assert!(list[1]["read_at"].is_null());
        // Unread on ホーム, in 受注一覧 and on the order; opening the tab reads it.
        let (_, home) = page(&app, &staff_cookie, "/").await;
        assert!(home.contains("お客様からの未読メッセージ"));
        let (_, orders) = page(&app, &staff_cookie, "/orders?unread_messages=1").await;
        assert!(
            orders.contains(&format!("/orders/{mine_no}\"")) && orders.contains("unread-reply"),
            "{orders}"
        );
        assert!(!orders.contains(&format!("/orders/{theirs_no}\"")));
        let (_, o) = page(&app, &staff_cookie, &format!("/orders/{mine_no}")).await;
        assert!(o.contains("id=\"unread-replies\""));
        let (_, o) = page(
            &app,
            &staff_cookie,
            &format!("/orders/{mine_no}?tab=messages"),
        )
        .await;
        assert!(o.contains("置き配でお願いします"));
        let (_, o) = page(&app, &staff_cookie, &format!("/orders/{mine_no}")).await;
        assert!(!o.contains("id=\"unread-replies\""));
        // The API message: no mail when asked for none; 404 for no order.
        let (s, posted) = api(
            &app,
            &token,
            reqwest::Method::POST,
            &format!("/api/v1/orders/{mine_no}/messages"),
            Some(json!({"body": "承知しました", "notify": false})),
        )
        .await;
        assert_eq!(s, 201, "{posted}");
        assert_eq!(posted["author"], "shop");
        let (s, _) = api(
            &app,
            &token,
            reqwest::Method::GET,
            "/api/v1/orders/NOPE/messages",
            None,
        )
        .await;
        assert_eq!(s, 404);
        let (s, e) = api(
            &app,
            &token,
            reqwest::Method::POST,
            &format!("/api/v1/orders/{mine_no}/messages"),
            Some(json!({"body": ""})),
        )
        .await;
        assert_eq!((s.as_u16(), e["field"].as_str()), (422, Some("body")));

        // 定期便: items, cycle, dates, the next six, and the terms from checkout.
        let (s, _, html) = get(&app, &cookie, &format!("/mypage/subscriptions/{sub_id}")).await;
        assert_eq!(s, 200);
        assert!(html.contains("コラーゲンサプリ"));
        assert!(html.contains("30日ごと") || html.contains("30日"), "{html}");
        let upcoming = html.split("id=\"upcoming\"").nth(1).unwrap();
        let upcoming = upcoming.split("</table>").next().unwrap();
        assert_eq!(upcoming.matches("<tr><td>").count(), 6, "{upcoming}");
        let terms = html.split("id=\"terms\"").nth(1).unwrap();
        assert!(terms.contains("¥980"), "first price: {terms}");
        assert!(terms.contains("¥3,980"), "later unit price: {terms}");
        assert!(terms.contains("定めなし"));
        assert!(terms.contains("解約"));
        // The terms stay as sold even when the shop changes its wording.
        app.store
            .set_cancellation_terms("電話でのみ受け付けます")
            .await
            .unwrap();
        let (_, _, html) = get(&app, &cookie, &format!("/mypage/subscriptions/{sub_id}")).await;
        assert!(!html.contains("電話でのみ"));
        let (_, _, list) = get(&app, &cookie, "/mypage/subscriptions").await;
        assert!(list.contains(&format!("/mypage/subscriptions/{sub_id}")));
        assert!(!list.contains(&format!("/mypage/subscriptions/{their_sub}")));
    }
);

both_stores!(login_links_resets_and_limits, |store| async move {
    let app = TestApp::start(store).await;
    let hanako = customer(&app.store, "山田", "hanako@example.jp").await;
    let (inbox, port) = smtp_sink();
    app.store.invite_customer(hanako).await.unwrap();
    let mails = deliver(&app.store, &inbox, port).await;
    let cookie = accept_invitation(
        &app,
        &link_in(&mails[0].2, "/mypage/password/"),
        "first-pass-1",
    )
    .await;
    assert!(!cookie.is_empty());

    // The login page, with its own CSRF cookie.
    let r = app
        .client
        .get(app.url("/mypage/login"))
        .send()
        .await
        .unwrap();
    let login_cookie = cookie_of(&r, "juchu_mypage_csrf").unwrap();
    let csrf = csrf_of(&r.text().await.unwrap());
    let login = |email: &'static str, password: &'static str| {
        let app = &app;
        let login_cookie = login_cookie.clone();
        let csrf = csrf.clone();
        async move {
            app.client
                .post(app.url("/mypage/login"))
                .header("cookie", &login_cookie)
                .form(&[
                    ("email", email),
                    ("password", password),
                    ("csrf", csrf.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let ok = login("hanako@example.jp", "first-pass-1").await;
    assert_eq!(ok.status(), 303);
    assert!(cookie_of(&ok, "juchu_customer").is_some());
    // A staff account with the same address is another account.
    app.store
        .create_staff("hanako@example.jp", "", "staff-pass-1", Role::Viewer)
        .await
        .unwrap();
    let (s, _) = common::login(&app, "hanako@example.jp", "first-pass-1").await;
    assert_eq!(s, 401, "a customer password is no staff password");

    // A login link: one use, through a button (mail scanners cannot use it).
    let r = app
        .client
        .post(app.url("/mypage/login-link"))
        .header("cookie", &login_cookie)
        .form(&[("email", "hanako@example.jp"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let unknown = app
        .client
        .post(app.url("/mypage/login-link"))
        .header("cookie", &login_cookie)
        .form(&[("email", "nobody@example.jp"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.status(),
        200,
        "the same answer for an unknown address"
    );
    let mails = deliver(&app.store, &inbox, port).await;
    assert_eq!(mails.len(), 2, "no mail to an unknown address: {mails:?}");
    let link = link_in(&mails[1].2, "/mypage/link/");
    let r = app.client.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        cookie_of(&r, "juchu_customer").is_none(),
        "GET signs nobody in"
    );
    let r = app.client.post(&link).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(cookie_of(&r, "juchu_customer").is_some());
    let r = app.client.post(&link).send().await.unwrap();
    assert_eq!(r.status(), 404, "used once");

    // Password reset by mail.
    app.client
        .post(app.url("/mypage/password-reset"))
        .header("cookie", &login_cookie)
        .form(&[("email", "HANAKO@example.jp"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let mails = deliver(&app.store, &inbox, port).await;
    let reset = link_in(&mails[2].2, "/mypage/password/");
    let r = app
        .client
        .post(&reset)
        .form(&[("password", "short"), ("password_again", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = app
        .client
        .post(&reset)
        .form(&[
            ("password", "second-pass-2"),
            ("password_again", "second-pass-2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // The old session ended with the old password.
    let (s, loc, _) = get(&app, &cookie, "/mypage/orders").await;
    assert_eq!((s.as_u16(), loc.as_str()), (303, "/mypage/login"));
    assert_eq!(
        login("hanako@example.jp", "first-pass-1").await.status(),
        401
    );

    // Limiting: five failures from this client, then even the right password waits.
    for _ in 0..4 {
        assert_eq!(
            login("hanako@example.jp", "wrong-wrong").await.status(),
            401
        );
    }
    assert_eq!(
        login("hanako@example.jp", "second-pass-2").await.status(),
        429
    );
    // Staff sign-in is not held by a customer's failures.
    let (s, _) = common::login(&app, "hanako@example.jp", "staff-pass-1").await;
    assert_eq!(s, 303);

    // Inviting everyone: only those who allow mails and have not signed up.
    let jiro = customer(&app.store, "鈴木", "jiro@example.jp").await;
    let quiet = customer(&app.store, "静か", "quiet@example.jp").await;
    let input = app.store.customer(quiet).await.unwrap();
    app.store
        .update_customer(
            quiet,
            CustomerInput {
                address: input.address,
                mail_opt_out: true,
                points: 0,
                memo: String::new(),
            },
        )
        .await
        .unwrap();
    let owner = app.token(Role::Owner).await;
    let (s, r) = api(
        &app,
        &owner,
        reqwest::Method::POST,
        "/api/v1/customers/mypage-invitations",
        None,
    )
    .await;
    assert_eq!(s, 202, "{r}");
    assert_eq!(
        (r["invited"].as_u64(), r["skipped"].as_u64()),
        (Some(1), Some(2)),
        "{r}"
    );
    let mails = deliver(&app.store, &inbox, port).await;
    let last = mails.last().unwrap();
    assert!(last.0.contains("jiro@example.jp"), "{last:?}");
    let jiro_cookie =
        accept_invitation(&app, &link_in(&last.2, "/mypage/password/"), "jiro-pass-12").await;
    assert!(!jiro_cookie.is_empty());
    assert!(app.store.customer_signed_up(jiro).await.unwrap());
    // An operator may not invite everyone.
    let (s, _) = api(
        &app,
        &app.token(Role::Operator).await,
        reqwest::Method::POST,
        "/api/v1/customers/mypage-invitations",
        None,
    )
    .await;
    assert_eq!(s, 403);
});
