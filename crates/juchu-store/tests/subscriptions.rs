//! Subscriptions (定期受注) on SQLite and PostgreSQL: creation from a parent order,
//! the daily run (idempotent, resumable), status rules, operations and history.

use jiff::civil::Date;
use juchu_domain::calendar::{Cycle, PauseFrom, ShippingCalendar};
use juchu_domain::customer::Address;
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_domain::status::SubscriptionStatus;
use juchu_domain::subscription::{SubscriptionCommand, SubscriptionPatch};
use juchu_store::masters::ProductInput;
use juchu_store::subscriptions::{RunOptions, SubscriptionQuery, SubscriptionSettings};
use juchu_store::{Actor, Store, StoreError, both_stores};

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn address() -> Address {
    Address {
        family_name: "山田".into(),
        given_name: "花子".into(),
        family_kana: "ヤマダ".into(),
        given_kana: "ハナコ".into(),
        postal_code: "150-0001".into(),
        prefecture: "東京都".into(),
        address1: "渋谷区神宮前1-2-3".into(),
        address2: String::new(),
        phone: "090-1234-5678".into(),
        email: "hanako@example.jp".into(),
        ..Default::default()
    }
}

async fn seed(store: &Store) {
    for (code, price, sub) in [("SUP-01", 3980, true), ("TEA-01", 1080, false)] {
        store
            .create_product(ProductInput {
                code: code.into(),
                name: format!("{code} 商品"),
                unit_price: price,
                tax_rate: 8,
                shipping_fee: None,
                payment_fee: None,
                is_bundled_item: false,
                is_subscription: sub,
            })
            .await
            .unwrap();
    }
}

fn actor() -> Actor {
    Actor::Staff {
        id: 1,
        name: "佐藤".into(),
    }
}

/// A parent order delivered on `first` with a 30-day cycle, the first delivery at
/// a campaign price.
async fn parent(store: &Store, first: &str) -> (String, i64) {
    let o = NewOrder {
        billing: address(),
        items: vec![
            ItemInput {
                product_code: "SUP-01".into(),
                quantity: 1,
                unit_price: Some(980),
            },
            ItemInput {
                product_code: "TEA-01".into(),
                quantity: 1,
                unit_price: None,
            },
        ],
        payment_method: Some("cod".into()),
        carrier: Some("yamato".into()),
        scheduled_delivery_date: Some(first.into()),
        subscription_cycle: Some(Cycle::Days { every: 30 }),
        ..Default::default()
    };
    let order = store
        .create_orders(vec![o], &actor())
        .await
        .unwrap()
        .remove(0);
    (
        order.order_number,
        order.subscription_id.expect("started a subscription"),
    )
}

async fn child_count(store: &Store, id: i64) -> usize {
    store.subscription_orders(id).await.unwrap().len() - 1
}

both_stores!(parent_orders_start_subscriptions, |store| async move {
    seed(&store).await;
    let (number, id) = parent(&store, "2027-01-10").await;
    let s = store.subscription(id).await.unwrap();
    assert_eq!(s.status, SubscriptionStatus::Active);
    assert_eq!(s.count, 1);
    assert_eq!(s.items.len(), 1, "only the subscription product");
    assert_eq!(s.items[0].price_for(1), 980);
    assert_eq!(s.items[0].price_for(2), 3980);
    assert_eq!(s.schedule.previous_delivery, Some(d("2027-01-10")));
    assert_eq!(s.schedule.next_delivery, d("2027-02-09"));
    assert_eq!(s.schedule.next_ship, d("2027-02-07"), "lead days 2");
    let parent = store.order_by_number(&number).await.unwrap();
    assert_eq!(parent.subscription_id, Some(id));
    assert_eq!(store.subscription_orders(id).await.unwrap().len(), 1);
    let h = store.subscription_history(id).await.unwrap();
    assert_eq!(h[0].field, "subscription");
    // An order without subscription products starts nothing.
    let plain = store
        .create_orders(
            vec![NewOrder {
                billing: address(),
                items: vec![ItemInput {
                    product_code: "TEA-01".into(),
                    quantity: 1,
                    unit_price: None,
                }],
                ..Default::default()
            }],
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(plain[0].subscription_id, None);
    let page = store
        .search_subscriptions(&SubscriptionQuery {
            product_code: Some("SUP-01".into()),
            kana: Some("ﾔﾏﾀﾞ".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 1);
});

/// Every event in the outbox, in the order written: (type, data). Read from
/// the table, not the feed: on PostgreSQL the feed holds an event back while
/// any older transaction of the cluster runs (other tests, in parallel).
async fn outbox(store: &Store) -> Vec<(String, serde_json::Value)> {
    use sqlx::Row;
    sqlx::query("SELECT type, data FROM webhook_events ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let data: String = r.get("data");
            (r.get("type"), serde_json::from_str(&data).unwrap())
        })
        .collect()
}

both_stores!(daily_run_is_idempotent_and_catches_up, |store| async move {
    seed(&store).await;
    let (_, id) = parent(&store, "2027-01-10").await;
    // Created 5 days before the next delivery (2027-02-09): not yet on 02-03.
    let r = store
        .run_subscriptions(d("2027-02-03"), &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(r.created, 0);
    let r = store
        .run_subscriptions(d("2027-02-04"), &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(r.created, 1);
    let again = store
        .run_subscriptions(d("2027-02-04"), &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(again.created, 0, "the same run twice creates nothing new");
    let s = store.subscription(id).await.unwrap();
    assert_eq!(s.count, 2);
    assert_eq!(s.schedule.next_delivery, d("2027-03-11"));
    let orders = store.subscription_orders(id).await.unwrap();
    let child = &orders[1];
    assert_eq!(child.subscription_delivery_date, Some(d("2027-02-09")));
    assert_eq!(child.scheduled_delivery_date, Some(d("2027-02-09")));
    assert_eq!(child.items.len(), 1);
    assert_eq!(child.items[0].unit_price, 3980, "2nd delivery price");
    let history = store.order_history(&child.order_number).await.unwrap();
    assert!(history[0].after.contains("定期受注"), "{history:?}");
    // The parent order's, then the run's: the new order and the advance,
    // in that order, once.
    let published: Vec<_> = outbox(&store)
        .await
        .into_iter()
        .filter(|e| e.0.starts_with("subscription.") && e.0 != "subscription.created")
        .collect();
    let types: Vec<_> = published.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        types,
        [
            "subscription.order_created",
            "subscription.order_created",
            "subscription.changed"
        ]
    );
    assert_eq!(published[1].1["delivery_date"], "2027-02-09");
    let changed = &published[2].1;
    assert_eq!(changed["subscription"]["id"], id);
    assert_eq!(changed["subscription"]["count"], 2);
    assert_eq!(changed["subscription"]["next_delivery_date"], "2027-03-11");
    assert_eq!(
        changed["changes"][0],
        serde_json::json!({"field": "next_delivery_date", "before": "2027-02-09", "after": "2027-03-11"})
    );
    assert!(
        changed["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "count" && c["before"] == "1" && c["after"] == "2"),
        "{changed}"
    );
    // A next delivery date in the past: one order, promising the earliest
    // feasible delivery (never a date already gone), and the cycle goes on from
    // there — not one order per run until the dates pass today.
    store
        .change_subscription(
            id,
            None,
            &[SubscriptionCommand::Patch(Box::new(SubscriptionPatch {
                next_delivery_date: Some("2027-02-20".into()),
                sync_dates: true,
                ..Default::default()
            }))],
            &actor(),
            "",
        )
        .await
        .unwrap();
    let mut runs = 0;
    let mut day = d("2027-04-01");
    loop {
        let r = store
            .run_subscriptions(day, &RunOptions::default())
            .await
            .unwrap();
        assert!(r.created <= 1);
        if r.created == 0 {
            break;
        }
        runs += 1;
        day = day.tomorrow().unwrap();
    }
    assert_eq!(runs, 1);
    let cal = store.shipping_calendar().await.unwrap();
    let s = store.subscription(id).await.unwrap();
    assert_eq!(
        s.schedule.previous_delivery,
        Some(cal.earliest_delivery(d("2027-04-01")))
    );
    let dates: Vec<_> = store
        .subscription_orders(id)
        .await
        .unwrap()
        .iter()
        .filter_map(|o| o.subscription_delivery_date)
        .collect();
    let mut unique = dates.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), dates.len(), "never two orders for one date");
    // Its event starts from the dates as they were stored, not the rolled
    // ones (the flag 配送予定日超過 follows as a change of its own).
    let last = outbox(&store)
        .await
        .into_iter()
        .rfind(|e| {
            e.0 == "subscription.changed" && e.1["changes"].to_string().contains("\"count\"")
        })
        .unwrap();
    let from: Vec<_> = last.1["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["field"].as_str().unwrap(), c["before"].as_str().unwrap()))
        .collect();
    assert_eq!(from[0], ("next_delivery_date", "2027-02-20"), "{from:?}");
    assert_eq!(from[1].0, "next_ship_date");
    assert!(from[1].1 < "2027-02-20", "the stored ship date: {from:?}");
});

both_stores!(
    a_stopped_run_resumes_without_duplicates,
    |store| async move {
        seed(&store).await;
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(parent(&store, "2027-01-10").await.1);
        }
        let opts = RunOptions {
            chunk_size: Some(2),
            stop_after_chunks: Some(1),
            ..Default::default()
        };
        let r = store
            .run_subscriptions(d("2027-02-05"), &opts)
            .await
            .unwrap();
        assert_eq!((r.created, r.complete), (2, false));
        // Resumed (a restart after a crash between two chunks): the rest, once.
        let r = store
            .run_subscriptions(d("2027-02-05"), &RunOptions::default())
            .await
            .unwrap();
        assert_eq!((r.created, r.complete), (3, true));
        let r = store
            .run_subscriptions(d("2027-02-05"), &RunOptions::default())
            .await
            .unwrap();
        assert_eq!(r.created, 0);
        for id in ids {
            assert_eq!(child_count(&store, id).await, 1, "subscription {id}");
            assert_eq!(store.subscription(id).await.unwrap().count, 2);
        }
    }
);

both_stores!(status_rules_and_operations, |store| async move {
    seed(&store).await;
    let (_, id) = parent(&store, "2027-01-10").await;
    let stop = |reason: &str| SubscriptionCommand::Stop {
        reason: reason.into(),
    };
    let err = store
        .change_subscription(id, None, &[stop("")], &actor(), "")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let stopped = store
        .change_subscription(id, Some(1), &[stop("支払い不備")], &actor(), "電話で依頼")
        .await
        .unwrap();
    assert_eq!(stopped.subscription.status, SubscriptionStatus::Stopped);
    // Stale version.
    let err = store
        .change_subscription(id, Some(1), &[SubscriptionCommand::Skip], &actor(), "")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    // 停止: neither the run nor a manual creation makes an order.
    let r = store
        .run_subscriptions(d("2027-02-08"), &RunOptions::default())
        .await
        .unwrap();
    assert_eq!(r.created, 0);
    assert!(matches!(
        store
            .create_subscription_order_now(id, None, &actor())
            .await,
        Err(StoreError::Invalid(_))
    ));
    let cancelled = store
        .change_subscription(
            id,
            None,
            &[
                SubscriptionCommand::Resume { confirm: false },
                SubscriptionCommand::Cancel {
                    reason: "価格が高い".into(),
                },
            ],
            &actor(),
            "",
        )
        .await
        .unwrap();
    assert_eq!(cancelled.subscription.status, SubscriptionStatus::Cancelled);
    let err = store
        .change_subscription(
            id,
            None,
            &[SubscriptionCommand::Resume { confirm: false }],
            &actor(),
            "",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(e) if e.0[0].field == "confirm"),
        "{err:?}"
    );
    let resumed = store
        .change_subscription(
            id,
            None,
            &[SubscriptionCommand::Resume { confirm: true }],
            &actor(),
            "",
        )
        .await
        .unwrap();
    assert_eq!(resumed.subscription.status, SubscriptionStatus::Active);
    // Skip, pause, cycle change: each recorded in 履歴.
    let skipped = store
        .change_subscription(id, None, &[SubscriptionCommand::Skip], &actor(), "")
        .await
        .unwrap();
    assert_eq!(skipped.subscription.schedule.next_delivery, d("2027-03-11"));
    let paused = store
        .change_subscription(
            id,
            None,
            &[SubscriptionCommand::Pause {
                days: 14,
                from: PauseFrom::Next,
            }],
            &actor(),
            "",
        )
        .await
        .unwrap();
    assert_eq!(paused.subscription.schedule.next_delivery, d("2027-03-25"));
    let before = store.subscription(id).await.unwrap();
    for bad in [
        SubscriptionPatch {
            cycle: Some(Cycle::Days { every: 0 }),
            ..Default::default()
        },
        SubscriptionPatch {
            next_delivery_date: Some("2027-04-01".into()),
            next_ship_date: Some("2027-04-05".into()),
            ..Default::default()
        },
        SubscriptionPatch {
            next_delivery_date: Some("2027-02-29".into()),
            ..Default::default()
        },
    ] {
        let err = store
            .change_subscription(
                id,
                None,
                &[SubscriptionCommand::Patch(Box::new(bad))],
                &actor(),
                "",
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(
        store.subscription(id).await.unwrap(),
        before,
        "nothing changed"
    );
    let now = store
        .create_subscription_order_now(id, None, &actor())
        .await
        .unwrap();
    assert_eq!(now.subscription_delivery_date, Some(d("2027-03-25")));
    let after = store.subscription(id).await.unwrap();
    assert_eq!(after.count, 2);
    let fields: Vec<_> = store
        .subscription_history(id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.field)
        .collect();
    for f in ["status", "stop_reason", "next_delivery_date", "count"] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
});

both_stores!(
    flagged_subscriptions_follow_the_setting,
    |store| async move {
        seed(&store).await;
        let (_, id) = parent(&store, "2027-01-10").await;
        store
            .change_subscription(
                id,
                None,
                &[SubscriptionCommand::Patch(Box::new(SubscriptionPatch {
                    needs_attention: Some(true),
                    needs_attention_reason: Some("住所不備".into()),
                    ..Default::default()
                }))],
                &actor(),
                "",
            )
            .await
            .unwrap();
        let settings = SubscriptionSettings {
            flagged_creates: false,
            ..store.subscription_settings().await.unwrap()
        };
        let cal = store.shipping_calendar().await.unwrap();
        store
            .save_subscription_settings(&settings, &cal)
            .await
            .unwrap();
        let r = store
            .run_subscriptions(d("2027-02-05"), &RunOptions::default())
            .await
            .unwrap();
        assert_eq!((r.created, r.skipped_flagged), (0, 1));
        let settings = SubscriptionSettings {
            flagged_creates: true,
            ..settings
        };
        store
            .save_subscription_settings(&settings, &cal)
            .await
            .unwrap();
        let r = store
            .run_subscriptions(d("2027-02-05"), &RunOptions::default())
            .await
            .unwrap();
        assert_eq!(r.created, 1);
        let child = store.subscription_orders(id).await.unwrap().remove(1);
        assert!(
            child.needs_attention,
            "orders of a flagged subscription are flagged"
        );
    }
);

both_stores!(holidays_move_ship_dates_earlier, |store| async move {
    seed(&store).await;
    let settings = store.subscription_settings().await.unwrap();
    // 2027-02-07 is a Sunday: the shop does not ship on Sundays.
    let cal = ShippingCalendar {
        lead_days: 2,
        no_ship_weekdays: vec![7],
        no_ship_dates: [d("2027-02-06")].into_iter().collect(),
    };
    store
        .save_subscription_settings(&settings, &cal)
        .await
        .unwrap();
    let (_, id) = parent(&store, "2027-01-10").await;
    let s = store.subscription(id).await.unwrap();
    assert_eq!(s.schedule.next_delivery, d("2027-02-09"));
    assert_eq!(
        s.schedule.next_ship,
        d("2027-02-05"),
        "Sun and the 6th are skipped"
    );
    let bad = juchu_store::SubscriptionSettings {
        days_before: -1,
        ..settings
    };
    assert!(store.save_subscription_settings(&bad, &cal).await.is_err());
});

both_stores!(
    one_bad_subscription_does_not_block_the_run,
    |store| async move {
        seed(&store).await;
        let (_, a) = parent(&store, "2027-01-10").await;
        let (_, b) = parent(&store, "2027-01-10").await;
        // A next date on or before the previous delivery is refused …
        let err = store
            .change_subscription(
                a,
                None,
                &[SubscriptionCommand::Patch(Box::new(SubscriptionPatch {
                    next_delivery_date: Some("2027-01-10".into()),
                    sync_dates: true,
                    ..Default::default()
                }))],
                &actor(),
                "",
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(e) if e.0[0].code == "not_after_previous"),
            "{err:?}"
        );
        // … and should old data still point at a delivery that has its order, that
        // subscription fails alone, the others get their orders.
        store
            .create_subscription_order_now(a, None, &actor())
            .await
            .unwrap();
        sqlx::any::install_default_drivers();
        let url = store_url(&store).await;
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query("UPDATE subscriptions SET next_delivery_date = '2027-02-09' WHERE id = $1")
            .bind(a)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let r = store
            .run_subscriptions(d("2027-02-05"), &RunOptions::default())
            .await
            .unwrap();
        assert_eq!(r.created, 1);
        assert_eq!(r.failed.len(), 1);
        assert_eq!(r.failed[0].0, a);
        assert_eq!(child_count(&store, b).await, 1);
        // Not retried by every tick of the worker the same day.
        let r = store
            .run_subscriptions(d("2027-02-05"), &RunOptions::default())
            .await
            .unwrap();
        assert_eq!((r.created, r.failed.len()), (0, 0));
        // A manual creation with a stale version is refused instead of creating the
        // delivery after next.
        let v = store.subscription(b).await.unwrap().version;
        let err = store
            .create_subscription_order_now(b, Some(v - 1), &actor())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
        store
            .create_subscription_order_now(b, Some(v), &actor())
            .await
            .unwrap();
    }
);

async fn store_url(store: &Store) -> String {
    match store.backend {
        juchu_store::Backend::Postgres => {
            let name = store.current_database_name().await.unwrap();
            format!("{}/{name}", juchu_store::testing::pg_admin_url())
        }
        juchu_store::Backend::Sqlite => {
            format!("sqlite://{}", store.current_database_name().await.unwrap())
        }
    }
}

both_stores!(
    a_rule_stops_the_subscription_of_a_failed_payment,
    |store| async move {
        seed(&store).await;
        store.load_automation_presets().await.unwrap();
        let (number, id) = parent(&store, "2027-01-10").await;
        let set = |s: &str| juchu_domain::patch::OrderPatch {
            payment_status: Some(s.into()),
            ..Default::default()
        };
        store
            .change_order(&number, None, &set("与信審査中"), &actor(), "")
            .await
            .unwrap();
        store
            .change_order(&number, None, &set("与信審査エラー"), &actor(), "")
            .await
            .unwrap();
        let s = store.subscription(id).await.unwrap();
        assert_eq!(s.status, SubscriptionStatus::Stopped);
        assert_eq!(s.stop_reason, "支払い不備");
        let h = store.order_history(&number).await.unwrap();
        assert!(
            h.iter()
                .any(|h| h.field == "subscription" && h.after.contains("停止")),
            "{h:?}"
        );
        let sh = store.subscription_history(id).await.unwrap();
        assert!(
            sh.iter().any(|h| h.actor_name.contains("自動化設定")),
            "{sh:?}"
        );
        // An order without a subscription: the rule records why it did nothing.
        let plain = store
            .create_orders(
                vec![NewOrder {
                    billing: address(),
                    items: vec![ItemInput {
                        product_code: "TEA-01".into(),
                        quantity: 1,
                        unit_price: None,
                    }],
                    ..Default::default()
                }],
                &actor(),
            )
            .await
            .unwrap()
            .remove(0);
        store
            .change_order(&plain.order_number, None, &set("与信審査中"), &actor(), "")
            .await
            .unwrap();
        store
            .change_order(
                &plain.order_number,
                None,
                &set("与信審査エラー"),
                &actor(),
                "",
            )
            .await
            .unwrap();
        let h = store.order_history(&plain.order_number).await.unwrap();
        assert!(
            h.iter().any(|h| h.after.contains("定期受注がありません")),
            "{h:?}"
        );
    }
);
