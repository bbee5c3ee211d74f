//! ブラックリスト and 要対応受注 on both stores: the seed's rules, screening at
//! intake through the pipeline, and what matched.

use juchu_domain::blacklist::{
    BlacklistCondition, Clause, ConditionField, Op, REASON_BLACKLISTED, REASON_CONDITION,
    REASON_SIMILAR,
};
use juchu_domain::calendar::Cycle;
use juchu_domain::customer::{Address, CustomerInput};
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_store::masters::ProductInput;
use juchu_store::{Actor, Store, StoreError, both_stores};

fn address(name: (&str, &str), postal: &str, phone: &str) -> Address {
    Address {
        family_name: name.0.into(),
        given_name: name.1.into(),
        family_kana: "ヤマダ".into(),
        given_kana: "ハナコ".into(),
        postal_code: postal.into(),
        prefecture: "東京都".into(),
        address1: "渋谷区神宮前1-2-3".into(),
        address2: String::new(),
        phone: phone.into(),
        email: "hanako@example.jp".into(),
        ..Default::default()
    }
}

async fn seed(store: &Store) {
    for (code, sub) in [("TEA-01", false), ("SUP-01", true)] {
        store
            .create_product(ProductInput {
                code: code.into(),
                name: format!("商品 {code}"),
                unit_price: 1080,
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
    Actor::system("test")
}

async fn order(
    store: &Store,
    customer: Option<i64>,
    billing: Address,
    product: &str,
) -> juchu_domain::order::Order {
    store
        .create_orders(
            vec![NewOrder {
                customer_id: customer,
                billing,
                items: vec![ItemInput {
                    product_code: product.into(),
                    quantity: 1,
                    unit_price: None,
                }],
                carrier: Some("yamato".into()),
                payment_method: Some("cod".into()),
                subscription_cycle: (product == "SUP-01").then_some(Cycle::Days { every: 30 }),
                scheduled_delivery_date: Some("2027-01-10".into()),
                ..Default::default()
            }],
            &actor(),
        )
        .await
        .unwrap()
        .remove(0)
}

async fn customer(store: &Store, a: Address) -> i64 {
    store
        .create_customer(CustomerInput {
            address: a,
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

both_stores!(
    blacklisted_and_similar_customers_flag_orders,
    |store| async move {
        seed(&store).await;
        let bad = customer(
            &store,
            address(("山田", "花子"), "150-0001", "090-1234-5678"),
        )
        .await;
        // Nothing blacklisted yet: nothing flagged.
        let o = order(
            &store,
            Some(bad),
            address(("山田", "花子"), "150-0001", "090-1234-5678"),
            "TEA-01",
        )
        .await;
        assert!(!o.needs_attention);
        // A reason is required; an unknown customer is a 404; nothing half-applied.
        assert!(matches!(
            store.set_blacklisted(bad, true, " ", &actor()).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.set_blacklisted(999_999, true, "転売", &actor()).await,
            Err(StoreError::NotFound(_))
        ));
        let c = store
            .set_blacklisted(bad, true, "受取拒否の常習", &actor())
            .await
            .unwrap();
        assert!(c.blacklisted && c.blacklist_reason == "受取拒否の常習");
        assert_eq!(store.blacklisted_customers(10).await.unwrap()[0].id, bad);

        // Their own order.
        let o = order(
            &store,
            Some(bad),
            address(("山田", "花子"), "150-0001", "090-1234-5678"),
            "TEA-01",
        )
        .await;
        assert!(o.needs_attention);
        assert_eq!(o.needs_attention_reason, REASON_BLACKLISTED);
        // Someone else typing the same data differently: similar (all three match).
        let o = order(
            &store,
            None,
            address(
                ("山田\u{3000}", "花子"),
                "〒１５０－０００１",
                "+81 90 1234 5678",
            ),
            "TEA-01",
        )
        .await;
        assert!(o.needs_attention, "similar");
        assert_eq!(o.needs_attention_reason, REASON_SIMILAR);
        let m = store.order_attention_matches(o.id).await.unwrap();
        assert_eq!(m[0].customer_id, Some(bad));
        assert_eq!(m[0].fields, ["姓名", "郵便番号", "電話番号"]);
        // Two of three.
        let o = order(
            &store,
            None,
            address(("鈴木", "一郎"), "150-0001", "090-1234-5678"),
            "TEA-01",
        )
        .await;
        assert_eq!(o.needs_attention_reason, REASON_SIMILAR);
        // Exactly one: not flagged.
        for a in [
            address(("山田", "花子"), "999-9999", "03-0000-0000"),
            address(("鈴木", "一郎"), "150-0001", "03-0000-0000"),
            address(("鈴木", "一郎"), "999-9999", "090-1234-5678"),
        ] {
            let o = order(&store, None, a.clone(), "TEA-01").await;
            assert!(!o.needs_attention, "{a:?}");
        }
        // Off the list: new orders are not flagged any more.
        store
            .set_blacklisted(bad, false, "", &actor())
            .await
            .unwrap();
        let o = order(
            &store,
            Some(bad),
            address(("山田", "花子"), "150-0001", "090-1234-5678"),
            "TEA-01",
        )
        .await;
        assert!(!o.needs_attention);
    }
);

both_stores!(
    conditions_flag_orders_and_bad_ones_are_refused,
    |store| async move {
        seed(&store).await;
        let bad = BlacklistCondition {
            id: 0,
            name: "空".into(),
            enabled: true,
            clauses: vec![],
        };
        assert!(matches!(
            store.add_blacklist_condition(&bad).await,
            Err(StoreError::Invalid(_))
        ));
        let c = store
            .add_blacklist_condition(&BlacklistCondition {
                id: 0,
                name: "転売業者ドメイン".into(),
                enabled: true,
                clauses: vec![Clause {
                    field: ConditionField::BillingEmail,
                    op: Op::EmailDomain,
                    value: "resale.example".into(),
                }],
            })
            .await
            .unwrap();
        let mut a = address(("佐藤", "次郎"), "100-0001", "03-1111-2222");
        a.email = "buyer@mail.resale.example".into();
        let o = order(&store, None, a, "TEA-01").await;
        assert_eq!(o.needs_attention_reason, REASON_CONDITION);
        let m = store.order_attention_matches(o.id).await.unwrap();
        assert_eq!(m[0].condition_id, Some(c.id));
        assert!(m[0].detail.contains("転売業者ドメイン"), "{}", m[0].detail);
        // Disabled: no longer matches.
        store
            .update_blacklist_condition(&BlacklistCondition {
                enabled: false,
                ..c.clone()
            })
            .await
            .unwrap();
        let mut a = address(("佐藤", "次郎"), "100-0001", "03-1111-2222");
        a.email = "buyer@resale.example".into();
        assert!(!order(&store, None, a, "TEA-01").await.needs_attention);
        store.delete_blacklist_condition(c.id).await.unwrap();
        assert!(matches!(
            store.delete_blacklist_condition(c.id).await,
            Err(StoreError::NotFound(_))
        ));
    }
);

both_stores!(subscriptions_follow_the_seed, |store| async move {
    seed(&store).await;
    let bad = customer(
        &store,
        address(("山田", "花子"), "150-0001", "090-1234-5678"),
    )
    .await;
    // A subscription this customer already has…
    let before = order(
        &store,
        Some(bad),
        address(("山田", "花子"), "150-0001", "090-1234-5678"),
        "SUP-01",
    )
    .await;
    let sid = before.subscription_id.unwrap();
    assert!(!store.subscription(sid).await.unwrap().needs_attention);
    // …is flagged when they are blacklisted (setting on by default)…
    store
        .set_blacklisted(bad, true, "不正利用", &actor())
        .await
        .unwrap();
    let s = store.subscription(sid).await.unwrap();
    assert!(s.needs_attention);
    assert_eq!(s.needs_attention_reason, REASON_BLACKLISTED);
    // …and stays flagged when they leave the list.
    store
        .set_blacklisted(bad, false, "", &actor())
        .await
        .unwrap();
    assert!(store.subscription(sid).await.unwrap().needs_attention);

    // A flagged order flags the subscription it starts.
    store
        .set_blacklisted(bad, true, "不正利用", &actor())
        .await
        .unwrap();
    let o = order(
        &store,
        Some(bad),
        address(("山田", "花子"), "150-0001", "090-1234-5678"),
        "SUP-01",
    )
    .await;
    assert!(o.needs_attention);
    let s = store
        .subscription(o.subscription_id.unwrap())
        .await
        .unwrap();
    assert!(s.needs_attention, "要対応定期受注");
    assert_eq!(s.needs_attention_reason, REASON_BLACKLISTED);

    // A manually flagged order does not flag its subscription.
    let other = customer(
        &store,
        address(("鈴木", "一郎"), "100-0001", "03-1111-2222"),
    )
    .await;
    let manual = store
        .create_orders(
            vec![NewOrder {
                customer_id: Some(other),
                billing: address(("鈴木", "一郎"), "100-0001", "03-1111-2222"),
                items: vec![ItemInput {
                    product_code: "SUP-01".into(),
                    quantity: 1,
                    unit_price: None,
                }],
                carrier: Some("yamato".into()),
                subscription_cycle: Some(Cycle::Days { every: 30 }),
                scheduled_delivery_date: Some("2027-01-10".into()),
                needs_attention_reason: Some("電話で確認する".into()),
                ..Default::default()
            }],
            &actor(),
        )
        .await
        .unwrap()
        .remove(0);
    assert!(manual.needs_attention);
    let s = store
        .subscription(manual.subscription_id.unwrap())
        .await
        .unwrap();
    assert!(!s.needs_attention, "a manual flag stays on the order");
    // Flagging that subscription by hand: it has a flagged order, so the reason
    // reads 要対応受注がある定期受注.
    let patch = juchu_domain::subscription::SubscriptionPatch {
        needs_attention: Some(true),
        ..Default::default()
    };
    store
        .change_subscription(
            s.id,
            None,
            &[juchu_domain::subscription::SubscriptionCommand::Patch(
                Box::new(patch),
            )],
            &actor(),
            "",
        )
        .await
        .unwrap();
    let s = store.subscription(s.id).await.unwrap();
    assert!(s.needs_attention);
    assert_eq!(
        s.needs_attention_reason,
        juchu_domain::blacklist::REASON_SUBSCRIPTION_WITH_FLAGGED_ORDER
    );
});

both_stores!(
    the_subscription_flag_setting_can_be_off,
    |store| async move {
        seed(&store).await;
        let settings = juchu_store::SubscriptionSettings {
            blacklist_flags_subscriptions: false,
            ..store.subscription_settings().await.unwrap()
        };
        let cal = store.shipping_calendar().await.unwrap();
        store
            .save_subscription_settings(&settings, &cal)
            .await
            .unwrap();
        let bad = customer(
            &store,
            address(("山田", "花子"), "150-0001", "090-1234-5678"),
        )
        .await;
        let o = order(
            &store,
            Some(bad),
            address(("山田", "花子"), "150-0001", "090-1234-5678"),
            "SUP-01",
        )
        .await;
        store
            .set_blacklisted(bad, true, "不正利用", &actor())
            .await
            .unwrap();
        let s = store
            .subscription(o.subscription_id.unwrap())
            .await
            .unwrap();
        assert!(
            !s.needs_attention,
            "setting off: existing subscriptions untouched"
        );
        // New orders are still screened.
        let o = order(
            &store,
            Some(bad),
            address(("山田", "花子"), "150-0001", "090-1234-5678"),
            "TEA-01",
        )
        .await;
        assert!(o.needs_attention);
    }
);
