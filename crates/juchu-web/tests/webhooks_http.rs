//! Outbound webhooks over real HTTP, on SQLite and PostgreSQL, against a
//! receiver on loopback that fails on purpose (500s, timeouts) and checks
//! every signature: endpoints and their checks (SSRF, event types), events
//! from the order, subscription and request pipelines, a rolled-back change
//! that publishes nothing, retries in order per order, the delivery log,
//! replay, the test delivery, disabling after failures, and the pull feed.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{TestApp, api, order_body, seed_products};
use hmac::{KeyInit, Mac};
use juchu_adapters::{PublicUrlGuard, WebhookClient};
use juchu_domain::access::Role;
use juchu_store::both_stores;
use juchu_store::testing::count;
use juchu_store::webhooks::WebhookSettings;
use reqwest::Method as M;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "whsec_test_secret_0123456789";

/// What the receiver answers next (then 200 for ever).
#[derive(Clone, Copy, Debug)]
enum Answer {
    Fail,
    Slow,
}

#[derive(Default)]
struct Received {
    /// (status answered, event id, type, body)
    log: Vec<(u16, String, String, Value)>,
    plan: Vec<Answer>,
    always_fail: bool,
    bad_signatures: usize,
}

type Receiver = Arc<Mutex<Received>>;

fn verify(headers: &HeaderMap, body: &str) -> bool {
    let Some(sig) = headers.get("juchu-signature").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut t = None;
    let mut v1 = None;
    for part in sig.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_string()),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    // The receiver is another party: its own wall clock, not juchu's.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let age = now - t.parse::<i64>().unwrap_or(0);
    mac.verify_slice(&expected).is_ok() && (0..300).contains(&age)
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let answer = {
        let mut g = r.lock().unwrap();
        if !verify(&headers, &body) {
            g.bad_signatures += 1;
        }
        if g.always_fail {
            Some(Answer::Fail)
        } else if g.plan.is_empty() {
            None
        } else {
            Some(g.plan.remove(0))
        }
    };
    if let Some(Answer::Slow) = answer {
        // Longer than the client's timeout: the worker gives up and retries.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let status = match answer {
        Some(_) => StatusCode::INTERNAL_SERVER_ERROR,
        None => StatusCode::OK,
    };
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    r.lock().unwrap().log.push((
        status.as_u16(),
        v["id"].as_str().unwrap_or("").to_string(),
        v["type"].as_str().unwrap_or("").to_string(),
        v,
    ));
    status
}

async fn receiver() -> (Receiver, String) {
    let state: Receiver = Arc::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, url)
}

/// An app whose webhook address check is `allow_private` (false: as
/// production runs it; true: JUCHU_WEBHOOK_ALLOW_PRIVATE=true, for the
/// receiver on loopback).
async fn app_with_guard(store: &juchu_store::Store, allow_private: bool) -> TestApp {
    TestApp::start_with(
        juchu_web::AppState::new(store.clone())
            .with_webhook_guard(Arc::new(PublicUrlGuard { allow_private })),
    )
    .await
}

/// Creates an endpoint for `events` at `url` as `token`: (status, body).
async fn create_endpoint(
    app: &TestApp,
    token: &str,
    url: &str,
    events: Value,
) -> (StatusCode, Value) {
    let (s, v) = api(
        app,
        token,
        M::POST,
        "/api/v1/webhook-endpoints",
        Some(json!({"url": url, "events": events, "secret": SECRET})),
    )
    .await;
    (s, v)
}

fn settings() -> WebhookSettings {
    WebhookSettings {
        retry_base_secs: 1,
        disable_after: 4,
        lease_secs: 30,
        concurrency: 8,
    }
}

/// Runs delivery rounds until `done` holds (or fails after 20 s).
async fn deliver_until(
    app: &TestApp,
    client: &WebhookClient,
    r: &Receiver,
    done: impl Fn(&Received) -> bool,
) {
    for _ in 0..100 {
        app.store
            .deliver_webhooks(client, &settings(), 100)
            .await
            .unwrap();
        if done(&r.lock().unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("not delivered: {:?}", r.lock().unwrap().log);
}

fn ok_types(r: &Received) -> Vec<String> {
    r.log
        .iter()
        .filter(|l| l.0 == 200)
        .map(|l| l.2.clone())
        .collect()
}

both_stores!(
    webhooks_are_signed_retried_in_order_logged_and_replayed,
    |store| async move {
        seed_products(&store).await;
        let (r, url) = receiver().await;
        // The address check as production runs it: loopback is refused.
        let strict = app_with_guard(&store, false).await;
        let owner = strict.token(Role::Owner).await;
        let (s, e) = create_endpoint(&strict, &owner, &url, json!(["order.created"])).await;
        assert_eq!(s, 422, "{e}");
        assert_eq!(e["field"], "url", "{e}");
        // JUCHU_WEBHOOK_ALLOW_PRIVATE=true (tests, on-premise).
        let app = app_with_guard(&store, true).await;
        let operator = app.token(Role::Operator).await;
        let (s, _) = api(&app, &operator, M::GET, "/api/v1/webhook-endpoints", None).await;
        assert_eq!(s, 403, "an operator does not see secrets");
        for (body, field) in [
            (json!({"url": url, "events": ["order.create"]}), "events[0]"),
            (json!({"url": url, "events": []}), "events"),
            (json!({"url": "ftp://example.com/", "events": ["*"]}), "url"),
            (
                json!({"url": url, "events": ["*"], "secret": "short"}),
                "secret",
            ),
        ] {
            let (s, e) = api(
                &app,
                &owner,
                M::POST,
                "/api/v1/webhook-endpoints",
                Some(body),
            )
            .await;
            assert_eq!(s, 422, "{e}");
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
        let (s, ep) = api(&app, &owner, M::POST, "/api/v1/webhook-endpoints", Some(json!({
            "url": url,
            "events": ["order.created", "order.changed", "order.shipped", "subscription.created", "request.received"],
            "secret": SECRET,
        }))).await;
        assert_eq!(s, 201, "{ep}");
        let ep_id = ep["id"].as_i64().unwrap();
        assert_eq!(ep["enabled"], true);

        // A change that is refused publishes nothing.
        let before = count(&store, "SELECT COUNT(*) AS n FROM webhook_events").await;
        let mut bad = order_body();
        bad["items"] = json!([{"product_code": "NOPE", "quantity": 1}]);
        let (s, _) = api(&app, &owner, M::POST, "/api/v1/orders", Some(bad)).await;
        assert_eq!(s, 422);
        assert_eq!(
            count(&store, "SELECT COUNT(*) AS n FROM webhook_events").await,
            before
        );

        // An order, then its shipment: the first delivery fails (500), the
        // second times out; the order's later events wait behind it.
        r.lock().unwrap().plan = vec![Answer::Fail, Answer::Slow];
        let (s, o) = api(&app, &owner, M::POST, "/api/v1/orders", Some(order_body())).await;
        assert_eq!(s, 201, "{o}");
        let number = o["order_number"].as_str().unwrap().to_string();
        let (s, o2) = api(&app, &owner, M::PATCH, &format!("/api/v1/orders/{number}"), Some(json!({
            "version": o["version"], "shipment_status": "発送済", "tracking_number": "1234-5678-9013"
        }))).await;
        assert_eq!(s, 200, "{o2}");
        let client = WebhookClient::new(Duration::from_secs(1), true).unwrap();
        deliver_until(&app, &client, &r, |g| ok_types(g).len() >= 3).await;
        {
            let g = r.lock().unwrap();
            assert_eq!(
                g.bad_signatures, 0,
                "every request is signed with the secret"
            );
            assert_eq!(
                ok_types(&g),
                ["order.created", "order.changed", "order.shipped"]
            );
            // The failed attempts were the created event's: nothing of the
            // order went ahead of it.
            let firsts: Vec<&str> = g.log.iter().map(|l| l.2.as_str()).collect();
            assert_eq!(firsts[0], "order.created");
            assert_eq!(g.log[0].0, 500);
            let created = &g.log.iter().find(|l| l.0 == 200).unwrap().3;
            assert_eq!(created["data"]["order"]["order_number"], number.as_str());
            for k in ["id", "type", "created_at", "data"] {
                assert!(created.get(k).is_some(), "{k} in {created}");
            }
            let changed = &g.log.iter().find(|l| l.2 == "order.changed").unwrap().3;
            let changes = changed["data"]["changes"].as_array().unwrap();
            let ship = changes
                .iter()
                .find(|c| c["field"] == "shipment_status")
                .unwrap();
            assert_eq!(ship["before"], "未発送");
            assert_eq!(ship["after"], "発送済");
            // The same event id on every attempt of the created event.
            let ids: Vec<&str> = g
                .log
                .iter()
                .filter(|l| l.2 == "order.created")
                .map(|l| l.1.as_str())
                .collect();
            assert!(
                ids.len() >= 2 && ids.iter().all(|i| *i == ids[0]),
                "{ids:?}"
            );
        }

        // The delivery log: each attempt with its code, duration and excerpt.
        let (s, log) = api(
            &app,
            &owner,
            M::GET,
            &format!("/api/v1/webhook-endpoints/{ep_id}/deliveries"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{log}");
        let created = log
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["type"] == "order.created")
            .unwrap();
        assert_eq!(created["status"], "succeeded");
        let attempts = created["log"].as_array().unwrap();
        assert_eq!(attempts.len(), 3, "{created}");
        assert_eq!(attempts[0]["status_code"], 500);
        assert!(
            attempts[1]["status_code"].is_null(),
            "timed out: {}",
            attempts[1]
        );
        assert!(
            attempts[1]["error"]
                .as_str()
                .unwrap()
                .contains("タイムアウト"),
            "{}",
            attempts[1]
        );
        assert_eq!(attempts[2]["status_code"], 200);
        assert!(
            attempts[2]["request_headers"]
                .as_str()
                .unwrap()
                .contains("Juchu-Signature: t=")
        );
        let event_id = created["event_id"].as_str().unwrap().to_string();

        // Replay one event: the receiver sees the same id again.
        let (s, rep) = api(
            &app,
            &owner,
            M::POST,
            &format!("/api/v1/webhook-endpoints/{ep_id}/replay"),
            Some(json!({"event_id": event_id})),
        )
        .await;
        assert_eq!(s, 202, "{rep}");
        assert_eq!(rep["queued"], 1);
        deliver_until(&app, &client, &r, |g| ok_types(g).len() >= 4).await;
        assert_eq!(r.lock().unwrap().log.last().unwrap().1, event_id);
        let (s, e) = api(
            &app,
            &owner,
            M::POST,
            &format!("/api/v1/webhook-endpoints/{ep_id}/replay"),
            Some(json!({"event_id": event_id, "since": "2026-01-01T00:00:00Z"})),
        )
        .await;
        assert_eq!(s, 422, "{e}");
        let (s, e) = api(
            &app,
            &owner,
            M::POST,
            &format!("/api/v1/webhook-endpoints/{ep_id}/replay"),
            Some(json!({"since": "yesterday"})),
        )
        .await;
        assert_eq!(
            (s.as_u16(), e["field"].as_str()),
            (422, Some("since")),
            "{e}"
        );
        // Replay everything since an hour ago: the three events of the order.
        let since = store
            .clock
            .now()
            .checked_sub(jiff::SignedDuration::from_hours(1))
            .unwrap();
        let (s, rep) = api(
            &app,
            &owner,
            M::POST,
            &format!("/api/v1/webhook-endpoints/{ep_id}/replay"),
            Some(json!({"since": since.to_string()})),
        )
        .await;
        assert_eq!(s, 202, "{rep}");
        assert_eq!(rep["queued"], 3);
        deliver_until(&app, &client, &r, |g| ok_types(g).len() >= 7).await;

        // Test delivery.
        let (s, t) = api(
            &app,
            &owner,
            M::POST,
            &format!("/api/v1/webhook-endpoints/{ep_id}/test"),
            None,
        )
        .await;
        assert_eq!(s, 202, "{t}");
        deliver_until(&app, &client, &r, |g| {
            g.log.iter().any(|l| l.2 == "webhook.test")
        })
        .await;

        // Subscription and request events come through the same outbox.
        store
            .create_product(juchu_store::masters::ProductInput {
                code: "SUP-01".into(),
                name: "定期サプリ".into(),
                unit_price: 3980,
                tax_rate: 8,
                shipping_fee: None,
                payment_fee: None,
                is_bundled_item: false,
                is_subscription: true,
            })
            .await
            .unwrap();
        let mut sub_order = order_body();
        sub_order["subscription_cycle"] = json!({"kind": "days", "every": 30});
        sub_order["items"] = json!([{"product_code": "SUP-01", "quantity": 1}]);
        let (s, so) = api(&app, &owner, M::POST, "/api/v1/orders", Some(sub_order)).await;
        assert_eq!(s, 201, "{so}");

        // The pull feed: keyset by event id, nothing missed or repeated.
        let mut seen: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/api/v1/events?limit=2&after={a}"),
                None => "/api/v1/events?limit=2".to_string(),
            };
            let (s, page) = api(&app, &operator, M::GET, &path, None).await;
            assert_eq!(s, 200, "{page}");
            let events = page["events"].as_array().unwrap();
            if events.is_empty() {
                assert_eq!(page["next_after"].as_str(), after.as_deref());
                break;
            }
            for e in events {
                seen.push(e["id"].as_str().unwrap().to_string());
            }
            after = page["next_after"].as_str().map(String::from);
        }
        let total = count(
            &store,
            "SELECT COUNT(*) AS n FROM webhook_events WHERE is_test = 0",
        )
        .await;
        assert_eq!(seen.len() as i64, total);
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "no event twice");
        let (_, typed) = api(
            &app,
            &operator,
            M::GET,
            "/api/v1/events?type=subscription.created",
            None,
        )
        .await;
        assert_eq!(typed["events"].as_array().unwrap().len(), 1, "{typed}");
        assert_eq!(
            typed["events"][0]["data"]["subscription"]["status"],
            "active"
        );
        let (s, e) = api(&app, &operator, M::GET, "/api/v1/events?after=nope", None).await;
        assert_eq!(
            (s.as_u16(), e["field"].as_str()),
            (422, Some("after")),
            "{e}"
        );
        let (s, e) = api(
            &app,
            &operator,
            M::GET,
            "/api/v1/events?type=order.nope",
            None,
        )
        .await;
        assert_eq!(s, 422, "{e}");
        assert!(
            !seen.contains(&t["event_id"].as_str().unwrap().to_string()),
            "test events are not in the feed"
        );

        // An endpoint that keeps failing is disabled, with the reason; the
        // events it missed wait, and go out in order once it is enabled.
        r.lock().unwrap().always_fail = true;
        for i in 0..3 {
            let (s, _) = api(&app, &owner, M::POST, "/api/v1/orders", Some(order_body())).await;
            assert_eq!(s, 201, "order {i}");
        }
        for _ in 0..60 {
            app.store
                .deliver_webhooks(&client, &settings(), 100)
                .await
                .unwrap();
            let (_, ep) = api(
                &app,
                &owner,
                M::GET,
                &format!("/api/v1/webhook-endpoints/{ep_id}"),
                None,
            )
            .await;
            if ep["enabled"] == false {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let (_, disabled) = api(
            &app,
            &owner,
            M::GET,
            &format!("/api/v1/webhook-endpoints/{ep_id}"),
            None,
        )
        .await;
        assert_eq!(disabled["enabled"], false, "{disabled}");
        assert!(
            disabled["disabled_reason"]
                .as_str()
                .unwrap()
                .contains("4回続けて"),
            "{disabled}"
        );
        r.lock().unwrap().always_fail = false;
        let delivered = ok_types(&r.lock().unwrap()).len();
        app.store
            .deliver_webhooks(&client, &settings(), 100)
            .await
            .unwrap();
        assert_eq!(
            ok_types(&r.lock().unwrap()).len(),
            delivered,
            "a disabled endpoint gets nothing"
        );
        let (s, enabled) = api(
            &app,
            &owner,
            M::PUT,
            &format!("/api/v1/webhook-endpoints/{ep_id}"),
            Some(json!({
                "url": url, "events": ["order.created"], "enabled": true
            })),
        )
        .await;
        assert_eq!(s, 200, "{enabled}");
        assert_eq!(enabled["consecutive_failures"], 0);
        assert_eq!(enabled["secret"], SECRET, "an omitted secret is kept");
        deliver_until(&app, &client, &r, |g| ok_types(g).len() >= delivered + 3).await;
        assert_eq!(r.lock().unwrap().bad_signatures, 0);

        // Delete: the endpoint and its log go.
        let (s, _) = api(
            &app,
            &owner,
            M::DELETE,
            &format!("/api/v1/webhook-endpoints/{ep_id}"),
            None,
        )
        .await;
        assert_eq!(s, 204);
        let (s, _) = api(
            &app,
            &owner,
            M::GET,
            &format!("/api/v1/webhook-endpoints/{ep_id}"),
            None,
        )
        .await;
        assert_eq!(s, 404);
        assert_eq!(
            count(&store, "SELECT COUNT(*) AS n FROM webhook_deliveries").await,
            0
        );
    }
);

both_stores!(readyz_metrics_and_api_docs_answer, |store| async move {
    let app =
        TestApp::start_with(juchu_web::AppState::new(store.clone()).with_required_workers(true))
            .await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503, "no worker has reported yet");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    store
        .heartbeat(
            "test:1:worker",
            &["jobs", "webhooks"],
            &store.clock.now_text(),
        )
        .await
        .unwrap();
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["workers"][0]["loops"], json!(["jobs", "webhooks"]));
    let owner = app.token(Role::Owner).await;
    let _ = api(&app, &owner, M::GET, "/api/v1/orders?per_page=5", None).await;
    let m = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(m.status(), 200);
    let text = m.text().await.unwrap();
    for needle in [
        "juchu_http_requests_total{method=\"GET\",route=\"/api/v1/orders\",status=\"200\"} 1",
        "juchu_http_request_duration_seconds_bucket{",
        "juchu_queue_depth{queue=\"webhooks\"} 0",
        "juchu_queue_depth{queue=\"jobs\"} 0",
        "juchu_workers_alive 1",
        "juchu_database_up 1",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
    let docs = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("/static/swagger-ui/swagger-ui-bundle.js"));
    let js = app
        .client
        .get(app.url("/static/swagger-ui/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.text().await.unwrap().len() > 1_000_000,
        "the vendored viewer, not a stub"
    );
});

both_stores!(lists_page_by_key_and_by_updated_since, |store| async move {
    seed_products(&store).await;
    let app = TestApp::start(store.clone()).await;
    let owner = app.token(Role::Owner).await;
    let mut numbers = Vec::new();
    for _ in 0..5 {
        let (s, o) = api(&app, &owner, M::POST, "/api/v1/orders", Some(order_body())).await;
        assert_eq!(s, 201, "{o}");
        numbers.push((
            o["order_number"].as_str().unwrap().to_string(),
            o["version"].clone(),
        ));
    }
    // Every order once, oldest first, two at a time (after=0: from the start).
    let mut seen = Vec::new();
    let mut after = "0".to_string();
    loop {
        let (s, page) = api(
            &app,
            &owner,
            M::GET,
            &format!("/api/v1/orders?per_page=2&after={after}"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{page}");
        let orders = page["orders"].as_array().unwrap();
        if orders.is_empty() {
            assert!(page["next_after"].is_null());
            break;
        }
        seen.extend(
            orders
                .iter()
                .map(|o| o["order_number"].as_str().unwrap().to_string()),
        );
        after = page["next_after"].as_str().unwrap().to_string();
        if seen.len() > 10 {
            panic!("pages repeat: {seen:?}");
        }
    }
    assert_eq!(
        seen,
        numbers.iter().map(|n| n.0.clone()).collect::<Vec<_>>()
    );
    // updated_since: only what changed since, then nothing more.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let since = store.clock.now_text();
    let (n, v) = &numbers[2];
    let (s, _) = api(
        &app,
        &owner,
        M::PATCH,
        &format!("/api/v1/orders/{n}"),
        Some(json!({"version": v, "memo": "changed"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, page) = api(
        &app,
        &owner,
        M::GET,
        &format!("/api/v1/orders?updated_since={since}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{page}");
    let changed: Vec<&str> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_number"].as_str().unwrap())
        .collect();
    assert_eq!(changed, [n.as_str()]);
    let next = page["next_after"].as_str().unwrap();
    assert!(next.contains('~'), "{next}");
    let (_, rest) = api(
        &app,
        &owner,
        M::GET,
        &format!("/api/v1/orders?updated_since={since}&after={next}"),
        None,
    )
    .await;
    assert_eq!(rest["orders"].as_array().unwrap().len(), 0, "{rest}");
    // Customers, subscriptions and requests take the same parameters.
    common::customer(&store, "佐藤", "sato@example.jp").await;
    for path in [
        "/api/v1/customers?after=0",
        "/api/v1/subscriptions?after=0",
        "/api/v1/requests?after=0",
    ] {
        let (s, v) = api(&app, &owner, M::GET, path, None).await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    let (_, c) = api(
        &app,
        &owner,
        M::GET,
        &format!("/api/v1/customers?updated_since={}", "2000-01-01T00:00:00Z"),
        None,
    )
    .await;
    assert!(
        c["next_after"].as_str().is_some_and(|a| a.contains('~')),
        "{c}"
    );
    for path in [
        "/api/v1/orders?after=abc",
        "/api/v1/customers?updated_since=yesterday",
        "/api/v1/subscriptions?after=x~1",
        "/api/v1/requests?after=abc",
    ] {
        let (s, v) = api(&app, &owner, M::GET, path, None).await;
        assert_eq!(s, 422, "{path}: {v}");
    }
});

both_stores!(
    old_events_are_purged_with_their_delivery_log,
    |store| async move {
        seed_products(&store).await;
        let (r, url) = receiver().await;
        let app = app_with_guard(&store, true).await;
        let owner = app.token(Role::Owner).await;
        let (s, ep) = create_endpoint(&app, &owner, &url, json!(["order.created"])).await;
        assert_eq!(s, 201, "{ep}");
        let ep_id = ep["id"].as_i64().unwrap();
        let client = WebhookClient::new(Duration::from_secs(1), true).unwrap();
        // Two orders delivered, then a third whose delivery keeps failing.
        for _ in 0..2 {
            let (s, o) = api(&app, &owner, M::POST, "/api/v1/orders", Some(order_body())).await;
            assert_eq!(s, 201, "{o}");
        }
        deliver_until(&app, &client, &r, |g| ok_types(g).len() == 2).await;
        let (_, first) = api(&app, &owner, M::GET, "/api/v1/events?limit=1", None).await;
        let first_id = first["events"][0]["id"].as_str().unwrap().to_string();
        r.lock().unwrap().always_fail = true;
        let (s, pending) = api(&app, &owner, M::POST, "/api/v1/orders", Some(order_body())).await;
        assert_eq!(s, 201, "{pending}");
        deliver_until(&app, &client, &r, |g| g.log.iter().any(|l| l.0 != 200)).await;
        let all = count(&store, "SELECT COUNT(*) AS n FROM webhook_events").await;
        assert_eq!(all, 3);

        // Nothing is old yet.
        assert_eq!(
            store
                .purge_webhook_events("2000-01-01T00:00:00Z", 100)
                .await
                .unwrap(),
            0
        );
        // All are old: the delivered ones go with their deliveries and attempts,
        // the one still being retried stays; batches of `limit`.
        let later = "2999-01-01T00:00:00Z";
        assert_eq!(store.purge_webhook_events(later, 1).await.unwrap(), 1);
        assert_eq!(store.purge_webhook_events(later, 100).await.unwrap(), 1);
        assert_eq!(store.purge_webhook_events(later, 100).await.unwrap(), 0);
        assert_eq!(
            count(&store, "SELECT COUNT(*) AS n FROM webhook_events").await,
            1
        );
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'succeeded'"
            )
            .await,
            0
        );
        assert_eq!(
        count(&store, "SELECT COUNT(*) AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.status = 'succeeded'")
        .await,
        0
    );
        let (_, log) = api(
            &app,
            &owner,
            M::GET,
            &format!("/api/v1/webhook-endpoints/{ep_id}/deliveries"),
            None,
        )
        .await;
        assert_eq!(log.as_array().map(Vec::len), Some(1), "{log}");
        // A feed cursor that was purged is refused with a way out.
        let (s, e) = api(
            &app,
            &owner,
            M::GET,
            &format!("/api/v1/events?after={first_id}"),
            None,
        )
        .await;
        assert_eq!(
            (s.as_u16(), e["field"].as_str()),
            (422, Some("after")),
            "{e}"
        );
        assert!(e.to_string().contains("保存期間"), "{e}");

        // A disabled endpoint holds nothing back.
        let (s, v) = api(
            &app,
            &owner,
            M::PUT,
            &format!("/api/v1/webhook-endpoints/{ep_id}"),
            Some(json!({"url": url, "events": ["order.created"], "enabled": false})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(store.purge_webhook_events(later, 100).await.unwrap(), 1);
        for table in ["webhook_events", "webhook_deliveries", "webhook_attempts"] {
            let n = count(&store, &format!("SELECT COUNT(*) AS n FROM {table}")).await;
            assert_eq!(n, 0, "{table}");
        }
    }
);
