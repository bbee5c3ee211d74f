//! 配送状況の確認 through the sandbox carrier tracker, on SQLite and PostgreSQL:
//! a delivered parcel sets 配送完了日 through the pipeline (its rules fire), a
//! parcel taken back is noted once, an unknown number flags the order once, a
//! tracker that does not answer is asked again later, and a delivered order is
//! never asked about again.

use jiff::Timestamp;
use juchu_adapters::SandboxTracker;
use juchu_adapters::tracking_sandbox::test_numbers;
use juchu_domain::automation::{Action, Rule, Trigger};
use juchu_domain::customer::Address;
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_domain::patch::OrderPatch;
use juchu_store::db::Clock;
use juchu_store::masters::ProductInput;
use juchu_store::{Actor, Store, both_stores};

fn at(day: &str) -> Timestamp {
    format!("{day}T03:00:00Z").parse().unwrap()
}

/// A Yamato number that passes the check digit, its body ending in `tail`.
fn number(tail: &str) -> String {
    let body: u64 = format!("123456789{tail}").parse().unwrap();
    format!("{body:011}{}", body % 7)
}

async fn shipped_order(store: &Store, tracking: &str) -> String {
    let o = store
        .create_orders(
            vec![NewOrder {
                billing: Address {
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
                },
                items: vec![ItemInput {
                    product_code: "TEA-01".into(),
                    quantity: 1,
                    unit_price: None,
                }],
                carrier: Some("yamato".into()),
                ..Default::default()
            }],
            &Actor::system("test"),
        )
        .await
        .unwrap()
        .remove(0);
    // A first number ships the order today.
    store
        .change_order(
            &o.order_number,
            None,
            &OrderPatch {
                tracking_number: Some(Some(tracking.into())),
                ..Default::default()
            },
            &Actor::system("test"),
            "",
        )
        .await
        .unwrap();
    o.order_number
}

both_stores!(parcels_are_tracked_until_delivered, |store| async move {
    let clock = Clock::fixed(at("2027-01-05"));
    let store = store.with_clock(clock.clone());
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
    // 配送完了日 → 対応状況 完了, as a shop would set it up.
    store
        .add_automation_rule(&Rule {
            id: 0,
            name: "配送完了で完了".into(),
            position: 1,
            enabled: true,
            trigger: Trigger::EventKind {
                event: "delivered_at_set".into(),
            },
            conditions: vec![],
            action: Action::SetHandlingStatus {
                name: "完了".into(),
            },
        })
        .await
        .unwrap();
    let normal = shipped_order(&store, &number("01")).await;
    let absent = shipped_order(&store, &number(test_numbers::ABSENT)).await;
    let unknown = shipped_order(&store, &number(test_numbers::UNKNOWN)).await;
    let silent = shipped_order(&store, &number(test_numbers::UNAVAILABLE)).await;
    let tracker = SandboxTracker::new(clock.clone());

    // The day it shipped: in transit; the unknown number is flagged at once.
    let r = store.track_deliveries(&tracker, 100).await.unwrap();
    assert_eq!(
        (
            r.in_transit,
            r.absent,
            r.unknown,
            r.unavailable,
            r.delivered
        ),
        (1, 1, 1, 1, 0),
        "{r:?}"
    );
    let o = store.order_by_number(&unknown).await.unwrap();
    assert!(o.needs_attention);
    assert_eq!(
        o.needs_attention_reason,
        "配送業者に伝票番号が見つかりません"
    );
    // Asked again at once: only the one that did not answer is due.
    let r = store.track_deliveries(&tracker, 100).await.unwrap();
    assert_eq!(r.unavailable, 1, "{r:?}");
    assert_eq!(
        r.in_transit + r.absent + r.unknown + r.delivered,
        0,
        "{r:?}"
    );

    // Two days later it is delivered: 配送完了日 and the rule's 完了.
    clock.set(at("2027-01-07")).unwrap();
    let r = store.track_deliveries(&tracker, 100).await.unwrap();
    assert_eq!(r.delivered, 1, "{r:?}");
    let o = store.order_by_number(&normal).await.unwrap();
    assert_eq!(o.delivered_at, Some("2027-01-07".parse().unwrap()));
    let m = store.masters().await.unwrap();
    assert_eq!(
        m.handling_status(o.handling_status_id).unwrap().name,
        "完了"
    );
    // Never asked again; the absent parcel noted once, the unknown flagged once.
    clock.set(at("2027-01-09")).unwrap();
    let r = store.track_deliveries(&tracker, 100).await.unwrap();
    assert_eq!((r.delivered, r.absent, r.unknown), (0, 1, 1), "{r:?}");
    let notes = |n: String| {
        let store = store.clone();
        async move {
            store
                .order_history(&n)
                .await
                .unwrap()
                .iter()
                .filter(|h| h.after.contains("持戻り") || h.field == "needs_attention")
                .count()
        }
    };
    assert_eq!(notes(absent).await, 1);
    assert_eq!(notes(unknown).await, 1);
    let _ = silent;
});

both_stores!(
    each_package_of_a_split_order_is_tracked,
    |store| async move {
        let clock = Clock::fixed(at("2027-01-05"));
        let store = store.with_clock(clock.clone());
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
        // One order sent as two packages; the second is taken back (持戻り).
        let n = shipped_order(&store, &number("01")).await;
        let actor = Actor::system("test");
        let o = store
            .create_orders(
                vec![NewOrder {
                    billing: store.order_by_number(&n).await.unwrap().billing,
                    items: vec![ItemInput {
                        product_code: "TEA-01".into(),
                        quantity: 2,
                        unit_price: None,
                    }],
                    carrier: Some("yamato".into()),
                    ..Default::default()
                }],
                &actor,
            )
            .await
            .unwrap()
            .remove(0);
        use juchu_domain::shipment::ShipmentItem;
        use juchu_domain::shipment_change::{ShipmentPatch, ShipmentsPatch, SplitShipment};
        let patch = |p: ShipmentsPatch| OrderPatch {
            shipments: p,
            ..Default::default()
        };
        store
            .change_order(
                &o.order_number,
                None,
                &patch(ShipmentsPatch {
                    split: Some(SplitShipment {
                        from: 1,
                        items: vec![ShipmentItem {
                            line: 0,
                            quantity: 1,
                        }],
                    }),
                    ..Default::default()
                }),
                &actor,
                "",
            )
            .await
            .unwrap();
        let ship = |k: u32, t: String| {
            patch(ShipmentsPatch {
                shipments: vec![ShipmentPatch {
                    number: k,
                    tracking_numbers: Some(vec![t]),
                    ..Default::default()
                }],
                ..Default::default()
            })
        };
        for (k, t) in [(1, number("02")), (2, number(test_numbers::ABSENT))] {
            store
                .change_order(&o.order_number, None, &ship(k, t), &actor, "")
                .await
                .unwrap();
        }
        assert_eq!(
            store
                .order_by_number(&o.order_number)
                .await
                .unwrap()
                .shipment_status
                .label(),
            "発送済"
        );
        let tracker = SandboxTracker::new(clock.clone());
        clock.set(at("2027-01-07")).unwrap();
        store.track_deliveries(&tracker, 100).await.unwrap();
        // Package 1 delivered, package 2 taken back: the order is not yet 配送完了.
        let o = store.order_by_number(&o.order_number).await.unwrap();
        assert_eq!(
            o.shipments[0].delivered_at,
            Some("2027-01-07".parse().unwrap())
        );
        assert_eq!(o.shipments[1].delivered_at, None);
        assert_eq!(o.delivered_at, None);
        let h = store.order_history(&o.order_number).await.unwrap();
        assert!(
            h.iter().any(|e| e.reason.contains("一部の出荷が配達完了")),
            "{h:?}"
        );
    }
);
