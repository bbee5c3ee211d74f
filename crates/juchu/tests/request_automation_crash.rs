//! `juchu worker` killed (SIGKILL) while the request automation is half-way
//! through, then started again: every request is applied exactly once — each
//! subscription moved once, each request 対応完了 once — on SQLite and on
//! PostgreSQL.

use juchu_domain::calendar::Cycle;
use juchu_domain::customer::Address;
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_store::masters::ProductInput;
use juchu_store::testing::{TestStore, count};
use juchu_store::{Actor, Store};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const REQUESTS: usize = 3000;

async fn seed(store: &Store) {
    store
        .create_product(ProductInput {
            code: "SUP-01".into(),
            name: "サプリ".into(),
            unit_price: 3980,
            tax_rate: 8,
            shipping_fee: None,
            payment_fee: None,
            is_bundled_item: false,
            is_subscription: true,
        })
        .await
        .unwrap();
    let customer = store
        .create_customer(juchu_domain::customer::CustomerInput {
            address: Address {
                family_name: "山田".into(),
                given_name: "花子".into(),
                family_kana: "ヤマダ".into(),
                given_kana: "ハナコ".into(),
                postal_code: "150-0001".into(),
                prefecture: "東京都".into(),
                address1: "渋谷区神宮前1-2-3".into(),
                phone: "090-1234-5678".into(),
                email: "hanako@example.jp".into(),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    let mut subs = Vec::new();
    while subs.len() < REQUESTS {
        let batch = (0..500)
            .map(|i| NewOrder {
                billing: Address {
                    family_name: "山田".into(),
                    given_name: format!("{}", subs.len() + i),
                    family_kana: "ヤマダ".into(),
                    given_kana: "タロウ".into(),
                    postal_code: "150-0001".into(),
                    prefecture: "東京都".into(),
                    address1: "渋谷区神宮前1-2-3".into(),
                    phone: "090-1234-5678".into(),
                    ..Default::default()
                },
                items: vec![ItemInput {
                    product_code: "SUP-01".into(),
                    quantity: 1,
                    unit_price: None,
                }],
                payment_method: Some("cod".into()),
                scheduled_delivery_date: Some("2027-01-10".into()),
                subscription_cycle: Some(Cycle::Days { every: 30 }),
                ..Default::default()
            })
            .collect();
        for o in store
            .create_orders(batch, &Actor::system("test"))
            .await
            .unwrap()
        {
            subs.push((customer, o.subscription_id.unwrap()));
        }
    }
    // Half 休止「1ヶ月」, half スキップ (by subscription id), one rule each.
    for (name, kind) in [("休止", "休止"), ("スキップ", "スキップ")] {
        let rule = serde_json::from_value(serde_json::json!({
            "name": name, "type": kind, "products": ["SUP-01"], "pause_base": "next"
        }))
        .unwrap();
        store.save_request_rule(&rule).await.unwrap();
    }
    store.bench_insert_requests(&subs, "サプリ").await.unwrap();
    store
        .set_request_automation(true, &Actor::system("test"))
        .await
        .unwrap();
}

async fn completed(store: &Store) -> i64 {
    count(
        store,
        "SELECT COUNT(*) AS n FROM requests WHERE status = 'completed'",
    )
    .await
}

fn worker(url: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_juchu"))
        .arg("worker")
        .env("JUCHU_DATABASE_URL", url)
        .env("JUCHU_LOG", "error")
        .env("JUCHU_PAYMENT_GATEWAY", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start juchu worker")
}

/// Polls until `done` holds or `secs` pass.
async fn wait_until(store: &Store, secs: u64, done: impl Fn(i64) -> bool) -> i64 {
    let started = Instant::now();
    loop {
        let n = completed(store).await;
        if done(n) || started.elapsed() > Duration::from_secs(secs) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn killed_then_resumed(t: TestStore) {
    let store = t.store.clone();
    seed(&store).await;
    let mut child = worker(&t.url);
    // Kill it as soon as some, but not all, requests are done.
    let after_kill = wait_until(&store, 120, |n| n > 0).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(after_kill > 0, "the automation had started");
    let mut child = worker(&t.url);
    let n = wait_until(&store, 300, |n| n == REQUESTS as i64).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(n, REQUESTS as i64, "every request done after the restart");
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) AS n FROM requests WHERE status <> 'completed'"
        )
        .await,
        0
    );
    // Each subscription moved exactly once, by its request.
    let moved_twice = count(
        &store,
        "SELECT COUNT(*) AS n FROM (SELECT subscription_id FROM subscription_history WHERE field = 'next_delivery_date' GROUP BY subscription_id HAVING COUNT(*) <> 1) x",
    )
    .await;
    assert_eq!(moved_twice, 0, "no subscription moved twice or not at all");
    let moved = count(
        &store,
        "SELECT COUNT(DISTINCT subscription_id) AS n FROM subscription_history WHERE field = 'next_delivery_date' AND actor_kind = 'request'",
    )
    .await;
    assert_eq!(moved, REQUESTS as i64);
    // And to the right date: 休止 one month from 02-09, スキップ one cycle.
    let wrong = count(
        &store,
        "SELECT COUNT(*) AS n FROM subscriptions s JOIN requests r ON r.subscription_id = s.id \
         WHERE NOT ((r.request_type = '休止' AND s.next_delivery_date = '2027-03-09') OR (r.request_type = 'スキップ' AND s.next_delivery_date = '2027-03-11'))",
    )
    .await;
    assert_eq!(wrong, 0);
    let history_twice = count(
        &store,
        "SELECT COUNT(*) AS n FROM (SELECT request_id FROM request_history WHERE what LIKE '対応完了%' GROUP BY request_id HAVING COUNT(*) > 1) x",
    )
    .await;
    assert_eq!(history_twice, 0, "no request completed twice");
    eprintln!("killed after {after_kill} of {REQUESTS} requests");
}

#[tokio::test]
async fn sqlite() {
    killed_then_resumed(TestStore::sqlite().await).await;
}

#[tokio::test]
async fn postgres() {
    killed_then_resumed(TestStore::postgres().await).await;
}
