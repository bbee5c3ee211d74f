//! Subscriptions that bill themselves, on SQLite and PostgreSQL: the card token
//! kept from the parent order, 与信 queued for every child order the daily run
//! makes, the 再オーソリ policy (N retries every M days, exactly one request per
//! attempt, then 要対応), card replacement, and a card subscription without a
//! token flagged before its order is made.

use jiff::Timestamp;
use jiff::civil::Date;
use juchu_adapters::SandboxGateway;
use juchu_adapters::payment_sandbox::test_cards;
use juchu_domain::calendar::Cycle;
use juchu_domain::customer::{Address, CustomerInput};
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_domain::status::{PaymentStatus, SubscriptionStatus};
use juchu_domain::subscription::{SubscriptionCommand, attention};
use juchu_store::db::Clock;
use juchu_store::masters::ProductInput;
use juchu_store::orders::NewOrderRequest;
use juchu_store::subscriptions::RunOptions;
use juchu_store::testing::count;
use juchu_store::{Actor, Store, both_stores};
use std::time::Duration;

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

/// Noon in Japan on `day`.
fn at(day: &str) -> Timestamp {
    format!("{day}T03:00:00Z").parse().unwrap()
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

fn staff() -> Actor {
    Actor::Staff {
        id: 1,
        name: "佐藤".into(),
    }
}

/// The store on a clock fixed at 2027-01-01, with a subscription product.
async fn setup(store: Store) -> (Store, Clock) {
    let clock = Clock::fixed(at("2027-01-01"));
    let store = store.with_clock(clock.clone());
    store
        .create_product(ProductInput {
            code: "SUP-01".into(),
            name: "青汁 定期".into(),
            unit_price: 3980,
            tax_rate: 8,
            shipping_fee: None,
            payment_fee: None,
            is_bundled_item: false,
            is_subscription: true,
        })
        .await
        .unwrap();
    (store, clock)
}

/// A parent order paid by `method` (with `card` as the storefront's token),
/// first delivery 2027-01-10, every 30 days: the child is due on 2027-02-04.
async fn parent(store: &Store, method: &str, card: Option<&str>) -> (String, i64) {
    let req = NewOrderRequest {
        order: NewOrder {
            items: vec![ItemInput {
                product_code: "SUP-01".into(),
                quantity: 1,
                unit_price: None,
            }],
            payment_method: Some(method.into()),
            carrier: Some("yamato".into()),
            scheduled_delivery_date: Some("2027-01-10".into()),
            subscription_cycle: Some(Cycle::Days { every: 30 }),
            ..Default::default()
        },
        billing_given: false,
        new_customer: Some(CustomerInput {
            address: address(),
            mail_opt_out: false,
            points: 0,
            memo: String::new(),
        }),
        card_token: card.map(Into::into),
    };
    let o = store.create_order(req, &staff(), None).await.unwrap().order;
    (o.order_number, o.subscription_id.expect("a subscription"))
}

fn sandbox(store: &Store) -> SandboxGateway {
    SandboxGateway::new(store, Duration::ZERO)
}

async fn run(store: &Store, clock: &Clock, day: &str) -> juchu_store::subscriptions::RunReport {
    clock.set(at(day)).unwrap();
    store
        .run_subscriptions(d(day), &RunOptions::default())
        .await
        .unwrap()
}

/// The child orders of a subscription, oldest first.
async fn children(store: &Store, id: i64) -> Vec<juchu_domain::order::Order> {
    let mut all = store.subscription_orders(id).await.unwrap();
    all.sort_by_key(|o| o.id);
    all.remove(0);
    all
}

async fn sub_history(store: &Store, id: i64) -> String {
    store
        .subscription_history(id)
        .await
        .unwrap()
        .iter()
        .map(|h| format!("{}|{}|{}|{}", h.field, h.before, h.after, h.reason))
        .collect::<Vec<_>>()
        .join("\n")
}

both_stores!(
    card_child_orders_are_authorised_with_the_kept_token,
    |store| async move {
        let (store, clock) = setup(store).await;
        let (number, id) = parent(&store, "credit_card", Some(test_cards::OK)).await;
        let s = store.subscription(id).await.unwrap();
        assert!(s.card_token.is_set(), "the parent order's token is kept");
        assert!(!s.needs_attention);
        let h = sub_history(&store, id).await;
        assert!(h.contains("payment_token|未登録|登録済み"), "{h}");
        assert!(
            !h.contains(test_cards::OK),
            "履歴 never shows the token: {h}"
        );
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        let p = store.order_by_number(&number).await.unwrap();
        assert_eq!(p.payment_status, PaymentStatus::Authorized);

        let report = run(&store, &clock, "2027-02-04").await;
        assert_eq!(report.created, 1, "{report:?}");
        let child = children(&store, id).await.remove(0);
        let reqs = store.payment_requests(child.id).await.unwrap();
        assert_eq!(reqs.len(), 1, "{reqs:?}");
        assert_eq!(
            (reqs[0].status.as_str(), reqs[0].requested_by.as_str()),
            ("pending", "自動受注作成")
        );
        let done = store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(done.done, 1, "{done:?}");
        let child = store.order_by_number(&child.order_number).await.unwrap();
        assert_eq!(child.payment_status, PaymentStatus::Authorized);
        // The provider was asked with the subscription's token.
        let used = count(
        &store,
        &format!(
            "SELECT COUNT(*) AS n FROM sandbox_transactions WHERE order_number = '{}' AND card_token = '{}'",
            child.order_number,
            test_cards::OK
        ),
    )
    .await;
        assert_eq!(used, 1);
        // The same run again creates and queues nothing.
        let again = run(&store, &clock, "2027-02-04").await;
        assert_eq!(again.created, 0);
        assert_eq!(store.payment_requests(child.id).await.unwrap().len(), 1);
    }
);

both_stores!(
    methods_without_a_card_are_requested_too,
    |store| async move {
        let (store, clock) = setup(store).await;
        // 代金引換 → 入金待ち; 後払い → 取引登録 (与信審査中, then its result).
        let (_, cod) = parent(&store, "cod", None).await;
        let (_, deferred) = parent(&store, "np_atobarai", None).await;
        assert!(!store.subscription(cod).await.unwrap().needs_attention);
        run(&store, &clock, "2027-02-04").await;
        for _ in 0..3 {
            store.process_payments(&sandbox(&store), 50).await.unwrap();
        }
        let c = children(&store, cod).await.remove(0);
        assert_eq!(c.payment_status, PaymentStatus::AwaitingPayment);
        let n = children(&store, deferred).await.remove(0);
        assert_eq!(n.payment_status, PaymentStatus::CreditCheckApproved);
        // Orders created in bulk are sent through the outbox the same way.
        let bulk = store
            .create_orders(
                vec![NewOrder {
                    billing: address(),
                    items: vec![ItemInput {
                        product_code: "SUP-01".into(),
                        quantity: 1,
                        unit_price: None,
                    }],
                    payment_method: Some("cod".into()),
                    carrier: Some("yamato".into()),
                    ..Default::default()
                }],
                &staff(),
            )
            .await
            .unwrap()
            .remove(0);
        assert_eq!(store.payment_requests(bulk.id).await.unwrap().len(), 1);
    }
);

both_stores!(
    declines_are_retried_by_the_policy_then_flagged,
    |store| async move {
        let (store, clock) = setup(store).await;
        store.load_automation_presets().await.unwrap();
        let mut settings = store.subscription_settings().await.unwrap();
        settings.reauth_retries = 2;
        settings.reauth_interval_days = 3;
        let cal = store.shipping_calendar().await.unwrap();
        store
            .save_subscription_settings(&settings, &cal)
            .await
            .unwrap();
        let (_, id) = parent(&store, "credit_card", Some(test_cards::OK)).await;
        // The customer's card changes to one the card company refuses.
        let changed = store
            .change_subscription(
                id,
                None,
                &[SubscriptionCommand::ReplacePaymentToken {
                    token: test_cards::CREDIT_CHECK_ERROR.into(),
                }],
                &staff(),
                "お客様から電話",
            )
            .await
            .unwrap();
        assert_eq!(changed.changes.len(), 1);
        let h = sub_history(&store, id).await;
        assert!(
            h.contains("payment_token|登録済み|新しいカードに変更|カード変更: お客様から電話"),
            "{h}"
        );
        assert!(!h.contains(test_cards::CREDIT_CHECK_ERROR), "{h}");
        store.process_payments(&sandbox(&store), 10).await.unwrap();

        let report = run(&store, &clock, "2027-02-04").await;
        assert_eq!(
            report.created,
            1,
            "{report:?} {:?}",
            store.subscription(id).await.unwrap()
        );
        let child = children(&store, id).await.remove(0);
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        let o = store.order_by_number(&child.order_number).await.unwrap();
        assert_eq!(o.payment_status, PaymentStatus::CreditCheckError);
        // The preset rules acted on the failure: 決済NG and 定期停止.
        let m = store.masters().await.unwrap();
        assert_eq!(
            m.handling_status(o.handling_status_id).unwrap().name,
            "決済NG"
        );
        let s = store.subscription(id).await.unwrap();
        assert_eq!(s.status, SubscriptionStatus::Stopped);
        // One retry planned, 3 days later; nothing is due before then.
        let reqs = store.payment_requests(child.id).await.unwrap();
        assert_eq!(reqs.len(), 2, "{reqs:?}");
        assert_eq!(reqs[0].requested_by, "再オーソリ設定（1/2回目）");
        assert_eq!(reqs[0].status, "pending");
        let idle = store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!((idle.done, idle.declined), (0, 0));

        clock.set(at("2027-02-07")).unwrap();
        let r = store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(r.declined, 1, "{r:?}");
        // Asked again at once, nothing more happens: one request per attempt.
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        let reqs = store.payment_requests(child.id).await.unwrap();
        assert_eq!(reqs.len(), 3, "{reqs:?}");
        assert_eq!(reqs[0].requested_by, "再オーソリ設定（2/2回目）");

        clock.set(at("2027-02-10")).unwrap();
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        clock.set(at("2027-03-10")).unwrap();
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        let reqs = store.payment_requests(child.id).await.unwrap();
        assert_eq!(
            reqs.len(),
            3,
            "the policy gave up after 2 retries: {reqs:?}"
        );
        assert!(reqs.iter().all(|r| r.status == "declined"), "{reqs:?}");
        let s = store.subscription(id).await.unwrap();
        assert!(s.needs_attention);
        let reasons = s.needs_attention_reasons();
        assert!(
            reasons.iter().any(
                |r| r.starts_with(attention::REAUTH_GAVE_UP) && r.contains(&child.order_number)
            ),
            "{reasons:?}"
        );
        let sandbox_calls = count(
        &store,
        &format!(
            "SELECT COUNT(*) AS n FROM sandbox_replies WHERE idempotency_key IN (SELECT 'juchu-payment-request-' || CAST(id AS TEXT) FROM payment_requests WHERE order_id = {})",
            child.id
        ),
    )
    .await;
        assert_eq!(sandbox_calls, 3, "each attempt asked the provider once");
    }
);

both_stores!(a_replaced_card_is_used_for_the_retry, |store| async move {
    let (store, clock) = setup(store).await;
    let mut settings = store.subscription_settings().await.unwrap();
    settings.reauth_retries = 1;
    settings.reauth_interval_days = 2;
    let cal = store.shipping_calendar().await.unwrap();
    store
        .save_subscription_settings(&settings, &cal)
        .await
        .unwrap();
    let (_, id) = parent(
        &store,
        "credit_card",
        Some(test_cards::AUTHORIZATION_FAILED),
    )
    .await;
    store.process_payments(&sandbox(&store), 10).await.unwrap();
    run(&store, &clock, "2027-02-04").await;
    store.process_payments(&sandbox(&store), 10).await.unwrap();
    let child = children(&store, id).await.remove(0);
    let o = store.order_by_number(&child.order_number).await.unwrap();
    assert_eq!(o.payment_status, PaymentStatus::AuthorizationFailed);
    // A token that is not one is refused on the field, nothing changes.
    let bad = store
        .change_subscription(
            id,
            None,
            &[SubscriptionCommand::ReplacePaymentToken { token: "  ".into() }],
            &staff(),
            "",
        )
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("card_token"), "{bad}");
    store
        .change_subscription(
            id,
            None,
            &[SubscriptionCommand::ReplacePaymentToken {
                token: test_cards::OK.into(),
            }],
            &staff(),
            "",
        )
        .await
        .unwrap();
    clock.set(at("2027-02-06")).unwrap();
    let r = store.process_payments(&sandbox(&store), 10).await.unwrap();
    assert_eq!(r.done, 1, "{r:?}");
    let o = store.order_by_number(&child.order_number).await.unwrap();
    assert_eq!(o.payment_status, PaymentStatus::Authorized);
});

both_stores!(
    a_card_subscription_without_a_token_is_flagged_not_ordered,
    |store| async move {
        let (store, clock) = setup(store).await;
        let (_, id) = parent(&store, "credit_card", None).await;
        let s = store.subscription(id).await.unwrap();
        assert!(s.needs_attention, "flagged when it starts");
        assert_eq!(
            s.needs_attention_reasons(),
            vec![attention::NO_CARD_TOKEN.to_string()]
        );
        let report = run(&store, &clock, "2027-02-04").await;
        assert_eq!(report.created, 0, "{report:?}");
        assert!(report.failed[0].1.contains("card_token"), "{report:?}");
        assert!(children(&store, id).await.is_empty());
        // The customer gives a card: the flag goes, the next run makes the order.
        store
            .change_subscription(
                id,
                None,
                &[SubscriptionCommand::ReplacePaymentToken {
                    token: test_cards::OK.into(),
                }],
                &staff(),
                "",
            )
            .await
            .unwrap();
        let s = store.subscription(id).await.unwrap();
        assert!(!s.needs_attention);
        assert!(s.needs_attention_reasons().is_empty());
        let report = run(&store, &clock, "2027-02-05").await;
        assert_eq!(report.created, 1, "{report:?}");
        let child = children(&store, id).await.remove(0);
        assert_eq!(store.payment_requests(child.id).await.unwrap().len(), 1);
    }
);

both_stores!(
    an_overdue_subscription_rolls_forward_and_is_flagged,
    |store| async move {
        let (store, clock) = setup(store).await;
        let (_, id) = parent(&store, "cod", None).await;
        let (_, quiet) = parent(&store, "cod", None).await;
        // The server was down from 02-04 (when the order was due) to 02-20.
        let report = run(&store, &clock, "2027-02-20").await;
        assert_eq!(
            report.created, 2,
            "one order each, never a burst: {report:?}"
        );
        let cal = store.shipping_calendar().await.unwrap();
        let earliest = cal.earliest_delivery(d("2027-02-20"));
        assert!(earliest > d("2027-02-09"));
        let child = children(&store, id).await.remove(0);
        assert_eq!(
            child.scheduled_delivery_date,
            Some(earliest),
            "never promised in the past"
        );
        let s = store.subscription(id).await.unwrap();
        assert_eq!(
            s.schedule.previous_delivery,
            Some(earliest),
            "the cycle continues from there"
        );
        assert_eq!(
            s.schedule.next_delivery,
            Cycle::Days { every: 30 }.next_after(earliest).unwrap()
        );
        assert!(s.needs_attention);
        assert_eq!(
            s.needs_attention_reasons(),
            vec![attention::OVERDUE.to_string()]
        );
        let h = sub_history(&store, id).await;
        assert!(
            h.contains(&format!(
                "next_delivery_date|2027-02-09|{earliest}|お届け予定日超過"
            )),
            "{h}"
        );
        // The same day again: nothing more.
        assert_eq!(run(&store, &clock, "2027-02-20").await.created, 0);
        assert_eq!(children(&store, quiet).await.len(), 1);

        // The shop turned the flag off: rolled forward all the same, not flagged.
        let mut settings = store.subscription_settings().await.unwrap();
        settings.overdue_flags = false;
        store
            .save_subscription_settings(&settings, &cal)
            .await
            .unwrap();
        let (_, later) = parent(&store, "cod", None).await;
        run(&store, &clock, "2027-03-01").await;
        let s = store.subscription(later).await.unwrap();
        assert_eq!(
            s.schedule.previous_delivery,
            Some(cal.earliest_delivery(d("2027-03-01")))
        );
        assert!(!s.needs_attention);
    }
);

both_stores!(
    points_are_taken_on_order_and_granted_at_the_status,
    |store| async move {
        let (store, _) = setup(store).await;
        let customer = store
            .create_customer(CustomerInput {
                address: address(),
                mail_opt_out: false,
                points: 500,
                memo: String::new(),
            })
            .await
            .unwrap();
        let order = |used: i64| NewOrder {
            customer_id: Some(customer.id),
            billing: address(),
            items: vec![ItemInput {
                product_code: "SUP-01".into(),
                quantity: 1,
                unit_price: None,
            }],
            payment_method: Some("bank_transfer".into()),
            carrier: Some("yamato".into()),
            points_used: used,
            ..Default::default()
        };
        let balance = |s: Store| async move { s.customer(customer.id).await.unwrap().points };
        let first = store
            .create_orders(vec![order(300)], &staff())
            .await
            .unwrap()
            .remove(0);
        assert_eq!(first.totals.points_used, 300);
        assert_eq!(balance(store.clone()).await, 200);
        // More than the balance: refused on the field, nothing written.
        let orders_before =
            juchu_store::testing::count(&store, "SELECT COUNT(*) AS n FROM orders").await;
        let err = store
            .create_orders(vec![order(300)], &staff())
            .await
            .unwrap_err();
        let juchu_store::StoreError::Invalid(e) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(e.0[0].field, "points_used");
        assert!(e.0[0].message.contains("残高 200"), "{err}");
        // In a batch the second order overdraws: the batch is refused, by index.
        let err = store
            .create_orders(vec![order(150), order(100)], &staff())
            .await
            .unwrap_err();
        let juchu_store::StoreError::Invalid(e) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(e.0[0].field, "orders[1].points_used");
        assert_eq!(balance(store.clone()).await, 200);
        assert_eq!(
            juchu_store::testing::count(&store, "SELECT COUNT(*) AS n FROM orders").await,
            orders_before
        );
        // Using more on the order later takes the difference; more than the
        // balance is refused on the field.
        let more = juchu_domain::patch::OrderPatch {
            points_used: Some(350),
            ..Default::default()
        };
        store
            .change_order(&first.order_number, None, &more, &staff(), "")
            .await
            .unwrap();
        assert_eq!(balance(store.clone()).await, 150);
        let too_much = juchu_domain::patch::OrderPatch {
            points_used: Some(600),
            ..Default::default()
        };
        let err = store
            .change_order(&first.order_number, None, &too_much, &staff(), "")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("points_used"), "{err}");
        let less = juchu_domain::patch::OrderPatch {
            points_used: Some(300),
            ..Default::default()
        };
        store
            .change_order(&first.order_number, None, &less, &staff(), "")
            .await
            .unwrap();
        assert_eq!(balance(store.clone()).await, 200);
        // A guest order cannot use points.
        let guest = NewOrder {
            customer_id: None,
            ..order(10)
        };
        assert!(store.create_orders(vec![guest], &staff()).await.is_err());

        // 5 % of the item total at 発送完了, once.
        assert!(
            store
                .save_points_settings(&juchu_store::orders::PointsSettings {
                    rate_percent: 101,
                    grant_status: "発送完了".into(),
                })
                .await
                .is_err()
        );
        assert!(
            store
                .save_points_settings(&juchu_store::orders::PointsSettings {
                    rate_percent: 5,
                    grant_status: "そんな状況".into(),
                })
                .await
                .is_err()
        );
        store
            .save_points_settings(&juchu_store::orders::PointsSettings {
                rate_percent: 5,
                grant_status: "発送完了".into(),
            })
            .await
            .unwrap();
        let to = |status: &str| juchu_domain::patch::OrderPatch {
            handling_status: Some(status.into()),
            ..Default::default()
        };
        store
            .change_order(&first.order_number, None, &to("発送完了"), &staff(), "")
            .await
            .unwrap();
        let o = store.order_by_number(&first.order_number).await.unwrap();
        assert_eq!(o.points_granted, 3980 * 5 / 100);
        assert_eq!(balance(store.clone()).await, 200 + 199);
        store
            .change_order(&first.order_number, None, &to("発送準備中"), &staff(), "")
            .await
            .unwrap();
        store
            .change_order(&first.order_number, None, &to("発送完了"), &staff(), "")
            .await
            .unwrap();
        assert_eq!(balance(store.clone()).await, 399, "granted once per order");
        let h: Vec<String> = store
            .order_history(&first.order_number)
            .await
            .unwrap()
            .iter()
            .map(|h| format!("{}|{}|{}", h.field, h.before, h.after))
            .collect();
        assert!(
            h.contains(&"customer_points_used|500|200".to_string()),
            "{h:?}"
        );
        assert!(
            h.contains(&"customer_points_awarded|200|399".to_string()),
            "{h:?}"
        );
    }
);

both_stores!(
    notices_go_out_once_per_delivery_before_the_ship_date,
    |store| async move {
        let (store, _) = setup(store).await;
        let (number, id) = parent(&store, "cod", None).await;
        // Off by default.
        assert_eq!(
            store
                .send_subscription_notices(d("2027-02-04"))
                .await
                .unwrap(),
            0
        );
        let mut settings = store.subscription_settings().await.unwrap();
        let cal = store.shipping_calendar().await.unwrap();
        // Orders are made 5 days before delivery = 3 before shipping: a notice
        // 3 days before shipping would come after its order — refused.
        settings.notice_days_before = 3;
        let err = store
            .save_subscription_settings(&settings, &cal)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("notice_days_before"), "{err}");
        settings.notice_days_before = 4;
        store
            .save_subscription_settings(&settings, &cal)
            .await
            .unwrap();
        let s = store.subscription(id).await.unwrap();
        let ship = s.schedule.next_ship;
        let before = ship.checked_sub(jiff::Span::new().days(5)).unwrap();
        assert_eq!(
            store.send_subscription_notices(before).await.unwrap(),
            0,
            "too early"
        );
        let due = ship.checked_sub(jiff::Span::new().days(4)).unwrap();
        assert_eq!(store.send_subscription_notices(due).await.unwrap(), 1);
        // The run that day does not order it yet: the notice came first.
        let report = store
            .run_subscriptions(due, &RunOptions::default())
            .await
            .unwrap();
        assert_eq!(report.created, 0, "{report:?}");
        assert_eq!(
            store.send_subscription_notices(due).await.unwrap(),
            0,
            "once"
        );
        assert_eq!(
            store
                .send_subscription_notices(due.tomorrow().unwrap())
                .await
                .unwrap(),
            0
        );
        let parent = store.order_by_number(&number).await.unwrap();
        let mails = store.order_mails(parent.id).await.unwrap();
        let notice = mails
            .iter()
            .find(|m| m.template_code == "subscription_notice")
            .expect("the notice is listed with the subscription's latest order");
        assert_eq!(notice.to, "hanako@example.jp");
        assert!(
            notice.subject.contains(&format!("定期受注番号 {id}")),
            "{}",
            notice.subject
        );
        for part in [
            format!("お届け予定日: {}", s.schedule.next_delivery),
            format!("発送予定日: {ship}"),
            "青汁 定期".to_string(),
            "スキップ".to_string(),
        ] {
            assert!(notice.body.contains(&part), "{part} in {}", notice.body);
        }
        // A skip makes a new delivery: its own notice when it comes near.
        store
            .change_subscription(id, None, &[SubscriptionCommand::Skip], &staff(), "")
            .await
            .unwrap();
        let next_ship = store.subscription(id).await.unwrap().schedule.next_ship;
        let due = next_ship.checked_sub(jiff::Span::new().days(1)).unwrap();
        assert_eq!(store.send_subscription_notices(due).await.unwrap(), 1);
        let h = sub_history(&store, id).await;
        assert!(
            h.contains(&format!("事前お知らせ（発送予定日 {ship}）")),
            "{h}"
        );
    }
);

both_stores!(
    a_provider_that_times_out_is_retried_never_doubled,
    |store| async move {
        let (store, clock) = setup(store).await;
        let (_, id) = parent(&store, "credit_card", Some(test_cards::OK)).await;
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        store
            .change_subscription(
                id,
                None,
                &[SubscriptionCommand::ReplacePaymentToken {
                    token: test_cards::TIMEOUT.into(),
                }],
                &staff(),
                "",
            )
            .await
            .unwrap();
        run(&store, &clock, "2027-02-04").await;
        let child = children(&store, id).await.remove(0);
        // Each look after the backoff asks again — the same request, never a new one.
        let mut now = at("2027-02-04");
        for attempt in 1..=5 {
            let r = store.process_payments(&sandbox(&store), 10).await.unwrap();
            assert_eq!(r.unavailable.len(), 1, "attempt {attempt}: {r:?}");
            now = now
                .checked_add(jiff::SignedDuration::from_hours(1))
                .unwrap();
            clock.set(now).unwrap();
        }
        let reqs = store.payment_requests(child.id).await.unwrap();
        assert_eq!(reqs.len(), 1, "{reqs:?}");
        assert_eq!((reqs[0].status.as_str(), reqs[0].attempts), ("failed", 5));
        let o = store.order_by_number(&child.order_number).await.unwrap();
        assert_eq!(
            o.payment_status,
            PaymentStatus::Unpaid,
            "nothing half-applied"
        );
        let h = store
            .order_history(&child.order_number)
            .await
            .unwrap()
            .iter()
            .map(|h| h.after.clone())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(h.contains("失敗（5回試行）"), "{h}");
    }
);
