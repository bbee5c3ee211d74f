//! `juchu subscriptions run` killed (SIGKILL) half-way, then run again: every due
//! subscription gets exactly one order for its delivery date, none twice, none
//! missed, and every child order exactly one 与信 request (queued with it),
//! which the sandbox then answers once — on SQLite and on PostgreSQL.

use juchu_domain::calendar::Cycle;
use juchu_domain::customer::Address;
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_store::masters::ProductInput;
use juchu_store::testing::TestStore;
use juchu_store::{Actor, OrderQuery, Store};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SUBSCRIPTIONS: usize = 3000;

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
    let mut made = 0;
    while made < SUBSCRIPTIONS {
        let batch = (0..500)
            .map(|i| NewOrder {
                billing: Address {
                    family_name: "山田".into(),
                    given_name: format!("{}", made + i),
                    family_kana: "ヤマダ".into(),
                    given_kana: "タロウ".into(),
                    postal_code: "150-0001".into(),
                    prefecture: "東京都".into(),
                    address1: "渋谷区神宮前1-2-3".into(),
                    address2: String::new(),
                    phone: "090-1234-5678".into(),
                    email: String::new(),
                    ..Default::default()
                },
                items: vec![ItemInput {
                    product_code: "SUP-01".into(),
                    quantity: 1,
                    unit_price: None,
                }],
                // Half by card (their tokens are set below), half 代金引換.
                payment_method: Some(
                    if (made + i) % 2 == 0 {
                        "credit_card"
                    } else {
                        "cod"
                    }
                    .into(),
                ),
                scheduled_delivery_date: Some("2027-01-10".into()),
                subscription_cycle: Some(Cycle::Days { every: 30 }),
                ..Default::default()
            })
            .collect();
        store
            .create_orders(batch, &Actor::system("test"))
            .await
            .unwrap();
        made += 500;
    }
    // The storefront's card tokens (bulk creation takes none).
    juchu_store::testing::execute(
        store,
        "UPDATE subscriptions SET card_token = '4111111111111111' WHERE payment_method_id = (SELECT id FROM payment_methods WHERE code = 'credit_card')",
    )
    .await;
}

/// Child orders (delivery 2027-02-09) whose 与信 requests are not exactly one.
async fn children_without_exactly_one_request(store: &Store) -> i64 {
    juchu_store::testing::count(
        store,
        "SELECT COUNT(*) AS n FROM orders o WHERE o.subscription_delivery_date = '2027-02-09'          AND (SELECT COUNT(*) FROM payment_requests r WHERE r.order_id = o.id) <> 1",
    )
    .await
}

async fn children(store: &Store) -> i64 {
    // Parent orders were created on the test day; the run's orders carry 2027-02-09.
    store
        .search_orders(&OrderQuery {
            per_page: 1,
            exact_total: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .total
        - SUBSCRIPTIONS as i64
}

fn run(url: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_juchu"))
        .args(["subscriptions", "run", "--date", "2027-02-05"])
        .env("JUCHU_DATABASE_URL", url)
        .env("JUCHU_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start juchu")
}

async fn killed_then_resumed(t: TestStore) {
    let store = t.store.clone();
    seed(&store).await;
    let mut child = run(&t.url);
    // Kill it as soon as some, but not all, orders are committed.
    let started = Instant::now();
    loop {
        let n = children(&store).await;
        if n > 0 || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let after_kill = children(&store).await;
    assert!(after_kill > 0, "the run had started");
    // The re-run completes it; a third run changes nothing.
    for _ in 0..2 {
        let status = run(&t.url).wait().unwrap();
        assert!(status.success());
    }
    assert_eq!(children(&store).await, SUBSCRIPTIONS as i64);
    let page = store
        .search_subscriptions(&juchu_store::subscriptions::SubscriptionQuery {
            count_min: Some(2),
            per_page: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.total, SUBSCRIPTIONS as i64,
        "every subscription advanced once"
    );
    let page = store
        .search_subscriptions(&juchu_store::subscriptions::SubscriptionQuery {
            count_min: Some(3),
            per_page: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 0, "none advanced twice");
    assert_eq!(
        children_without_exactly_one_request(&store).await,
        0,
        "every child order has exactly one 与信 request"
    );
    // The worker answers them: each order is asked of the provider once.
    let gw = juchu_adapters::SandboxGateway::new(&store, Duration::ZERO);
    store
        .process_payments(&gw, SUBSCRIPTIONS * 2)
        .await
        .unwrap();
    let open = juchu_store::testing::count(
        &store,
        "SELECT COUNT(*) AS n FROM payment_requests WHERE status IN ('pending', 'running')",
    )
    .await;
    assert_eq!(open, 0);
    let twice = juchu_store::testing::count(
        &store,
        "SELECT COUNT(*) AS n FROM (SELECT order_number FROM sandbox_transactions GROUP BY order_number HAVING COUNT(*) > 1) x",
    )
    .await;
    assert_eq!(twice, 0, "no order was authorised twice");
    let authorized = juchu_store::testing::count(
        &store,
        "SELECT COUNT(*) AS n FROM orders WHERE subscription_delivery_date = '2027-02-09' AND payment_status IN ('authorized', 'awaiting_payment')",
    )
    .await;
    assert_eq!(authorized, SUBSCRIPTIONS as i64);
    eprintln!("killed after {after_kill} of {SUBSCRIPTIONS} orders");
}

#[tokio::test]
async fn sqlite() {
    killed_then_resumed(TestStore::sqlite().await).await;
}

#[tokio::test]
async fn postgres() {
    killed_then_resumed(TestStore::postgres().await).await;
}
