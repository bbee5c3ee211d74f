//! `juchu backup` on SQLite while the store is being written to, then juchu
//! started on the copy: the copy is a whole, consistent database (every order
//! with its items and 履歴), and it serves.

use juchu_domain::customer::Address;
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_store::masters::ProductInput;
use juchu_store::testing::{TestStore, count};
use juchu_store::{Actor, Store, StoreConfig};
use std::process::Command;

fn order(i: usize) -> NewOrder {
    NewOrder {
        billing: Address {
            family_name: "山田".into(),
            given_name: format!("{i}"),
            family_kana: "ヤマダ".into(),
            given_kana: "タロウ".into(),
            postal_code: "150-0001".into(),
            prefecture: "東京都".into(),
            address1: "渋谷区神宮前1-2-3".into(),
            phone: "090-1234-5678".into(),
            ..Default::default()
        },
        items: vec![ItemInput {
            product_code: "TEA-01".into(),
            quantity: 1,
            unit_price: None,
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn a_backup_taken_while_writing_restores_and_serves() {
    let t = TestStore::sqlite().await;
    let store = t.store.clone();
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
    store
        .create_orders((0..500).map(order).collect(), &Actor::system("test"))
        .await
        .unwrap();
    // Orders keep arriving while the backup runs.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for batch in 0..20 {
                store
                    .create_orders(
                        (0..50).map(|i| order(1000 + batch * 50 + i)).collect(),
                        &Actor::system("test"),
                    )
                    .await
                    .unwrap();
            }
        })
    };
    let dir = std::env::temp_dir().join(format!("juchu-backup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = tokio::task::spawn_blocking({
        let (url, dir) = (t.url.clone(), dir.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_juchu"))
                .args(["backup", "--to", dir.to_str().unwrap()])
                .env("JUCHU_DATABASE_URL", url)
                .env("JUCHU_LOG", "error")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    writer.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "db"))
        .unwrap_or_else(|| panic!("no backup in {}: {printed}", dir.display()));
    assert!(printed.contains(file.to_str().unwrap()), "{printed}");

    // A second backup into the same file name is never an overwrite.
    assert!(store.backup_sqlite(&file).await.is_err());

    // Restore: open the copy as a store of its own.
    let restored = Store::connect(&StoreConfig {
        database_url: Some(format!("sqlite://{}", file.display())),
        data_dir: dir.clone(),
        create_data_dir: false,
        max_connections: 2,
    })
    .await
    .unwrap();
    restored.migrate().await.unwrap();
    let orders = count(&restored, "SELECT COUNT(*) AS n FROM orders").await;
    assert!(
        (500..=1500).contains(&orders),
        "the copy holds what was committed when it was taken: {orders}"
    );
    assert_eq!(
        count(&restored, "SELECT COUNT(*) AS n FROM order_items").await,
        orders,
        "every order with its item: no half-written batch"
    );
    assert_eq!(
        count(
            &restored,
            "SELECT COUNT(*) AS n FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_history h WHERE h.order_id = o.id)"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &restored,
            "SELECT COUNT(*) AS n FROM webhook_events WHERE type = 'order.created'"
        )
        .await,
        orders
    );
    // And it serves: the copy answers a search like the original.
    let page = restored
        .search_orders(&juchu_store::OrderQuery {
            per_page: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, orders);
    restored.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
