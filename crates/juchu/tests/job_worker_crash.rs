//! A `juchu worker` killed (SIGKILL) half-way through a 10,000-order 一括更新,
//! then started again: the job completes and every order has exactly one 履歴
//! row for the change — on SQLite and on PostgreSQL.

use juchu_domain::customer::Address;
use juchu_domain::job::{JobKind, JobStatus};
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_store::jobs::{NewJob, Selection};
use juchu_store::masters::ProductInput;
use juchu_store::testing::{TestStore, count};
use juchu_store::{Actor, Store};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ORDERS: i64 = 10_000;

async fn seed(store: &Store) {
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
    for batch in 0..(ORDERS / 500) {
        let orders = (0..500)
            .map(|i| NewOrder {
                billing: Address {
                    family_name: "山田".into(),
                    given_name: format!("{}", batch * 500 + i),
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
                    product_code: "TEA-01".into(),
                    quantity: 1,
                    unit_price: None,
                }],
                ..Default::default()
            })
            .collect();
        store
            .create_orders(orders, &Actor::system("test"))
            .await
            .unwrap();
    }
}

fn worker(url: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_juchu"))
        .arg("worker")
        .env("JUCHU_DATABASE_URL", url)
        .env("JUCHU_PAYMENT_GATEWAY", "off")
        .env("JUCHU_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start juchu worker")
}

async fn killed_then_resumed(t: TestStore) {
    let store = t.store.clone();
    seed(&store).await;
    let job = store
        .register_job(
            NewJob {
                kind: JobKind::BulkUpdate,
                selection: Some(Selection::Query(Box::default())),
                params: serde_json::json!({"handling_status": "保留"}),
            },
            &Actor::system("test"),
        )
        .await
        .unwrap();
    assert_eq!(job.total, ORDERS);
    let mut child = worker(&t.url);
    let started = Instant::now();
    loop {
        let j = store.job(job.id).await.unwrap();
        if j.done >= 1000 || started.elapsed() > Duration::from_secs(300) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the worker exited early"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = store.job(job.id).await.unwrap();
    assert!(
        at_kill.done > 0 && at_kill.done < ORDERS,
        "killed half-way: {} of {ORDERS}",
        at_kill.done
    );
    let mut child = worker(&t.url);
    let started = Instant::now();
    let done = loop {
        let j = store.job(job.id).await.unwrap();
        if j.status.is_finished() || started.elapsed() > Duration::from_secs(600) {
            break j;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    assert_eq!((done.done, done.failed), (ORDERS, 0));
    let changed = count(
        &store,
        "SELECT COUNT(*) AS n FROM order_history WHERE field = 'handling_status' AND actor_kind = 'job'",
    )
    .await;
    let orders_changed = count(
        &store,
        "SELECT COUNT(DISTINCT order_id) AS n FROM order_history WHERE field = 'handling_status' AND actor_kind = 'job'",
    )
    .await;
    assert_eq!(
        (changed, orders_changed),
        (ORDERS, ORDERS),
        "every order changed exactly once"
    );
    eprintln!("killed after {} of {ORDERS} orders", at_kill.done);
}

#[tokio::test]
async fn sqlite() {
    killed_then_resumed(TestStore::sqlite().await).await;
}

#[tokio::test]
async fn postgres() {
    killed_then_resumed(TestStore::postgres().await).await;
}
