//! 自動化設定 beyond the basics, on both stores: customer-flag conditions,
//! rules on a subscription's status, rules that became dangling, reordering,
//! and conditions kept when a rule is listed and saved again.

use juchu_domain::automation::{Action, Condition, CustomerFlag, Rule, Trigger};
use juchu_domain::calendar::Cycle;
use juchu_domain::customer::{Address, CustomerInput};
use juchu_domain::event::OrderEvent;
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_domain::status::SubscriptionStatus;
use juchu_domain::subscription::SubscriptionCommand;
use juchu_store::masters::{HandlingStatusInput, ProductInput};
use juchu_store::{Actor, Store, both_stores};

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

fn rule(name: &str, trigger: Trigger, action: Action, conditions: Vec<Condition>) -> Rule {
    Rule {
        id: 0,
        name: name.into(),
        position: 0,
        enabled: true,
        trigger,
        conditions,
        action,
    }
}

fn created() -> Trigger {
    Trigger::Exact {
        event: OrderEvent::Created,
    }
}

async fn order_for(store: &Store, customer: Option<i64>, product: &str) -> String {
    store
        .create_orders(
            vec![NewOrder {
                customer_id: customer,
                billing: address(),
                items: vec![ItemInput {
                    product_code: product.into(),
                    quantity: 1,
                    unit_price: None,
                }],
                carrier: Some("yamato".into()),
                subscription_cycle: (product == "SUP-01").then_some(Cycle::Days { every: 30 }),
                scheduled_delivery_date: Some("2027-01-10".into()),
                ..Default::default()
            }],
            &Actor::system("test"),
        )
        .await
        .unwrap()
        .remove(0)
        .order_number
}

async fn handling(store: &Store, n: &str) -> String {
    let o = store.order_by_number(n).await.unwrap();
    let m = store.masters().await.unwrap();
    m.handling_status(o.handling_status_id)
        .unwrap()
        .name
        .clone()
}

both_stores!(customer_flag_conditions, |store| async move {
    seed(&store).await;
    store
        .add_automation_rule(&rule(
            "メール拒否の顧客は保留",
            created(),
            Action::SetHandlingStatus {
                name: "保留".into(),
            },
            vec![Condition::CustomerFlag {
                flag: CustomerFlag::MailOptOut,
                value: true,
            }],
        ))
        .await
        .unwrap();
    let quiet = store
        .create_customer(CustomerInput {
            address: address(),
            mail_opt_out: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let loud = store
        .create_customer(CustomerInput {
            address: address(),
            ..Default::default()
        })
        .await
        .unwrap();
    let a = order_for(&store, Some(quiet.id), "TEA-01").await;
    let b = order_for(&store, Some(loud.id), "TEA-01").await;
    let c = order_for(&store, None, "TEA-01").await;
    assert_eq!(handling(&store, &a).await, "保留");
    assert_eq!(handling(&store, &b).await, "注文確定");
    assert_eq!(
        handling(&store, &c).await,
        "注文確定",
        "no customer: no flag"
    );
    // The condition is stored and listed with the rule (and kept on a re-save).
    let listed = store.automation_rules().await.unwrap();
    assert_eq!(listed[0].conditions.len(), 1);
    let mut off = listed[0].clone();
    off.enabled = false;
    store.update_automation_rule(&off).await.unwrap();
    assert_eq!(
        store.automation_rules().await.unwrap()[0].conditions.len(),
        1
    );
    // The dry run applies it too.
    let dry = store.dry_run_rule(&listed[0], 30).await.unwrap();
    assert_eq!(dry.orders, 1, "{dry:?}");
});

both_stores!(rules_on_a_subscription_status, |store| async move {
    seed(&store).await;
    store
        .add_automation_rule(&rule(
            "定期停止で保留",
            Trigger::Exact {
                event: OrderEvent::SubscriptionStatusBecame {
                    status: SubscriptionStatus::Stopped,
                },
            },
            Action::SetHandlingStatus {
                name: "保留".into(),
            },
            vec![],
        ))
        .await
        .unwrap();
    let n = order_for(&store, None, "SUP-01").await;
    let sid = store
        .order_by_number(&n)
        .await
        .unwrap()
        .subscription_id
        .unwrap();
    let reason = store.subscription_reasons().await.unwrap().stop[0].clone();
    store
        .change_subscription(
            sid,
            None,
            &[SubscriptionCommand::Stop { reason }],
            &Actor::system("test"),
            "",
        )
        .await
        .unwrap();
    assert_eq!(handling(&store, &n).await, "保留");
    let h = store.order_history(&n).await.unwrap();
    assert!(
        h.iter().any(|h| h.actor_kind == "rule"
            && h.reason.contains("定期受注のステータスが「停止」になった")),
        "{h:?}"
    );
    // Resuming raises its own event, which no rule listens to: the order is
    // untouched (same version), the event is logged.
    let version = store.order_by_number(&n).await.unwrap().version;
    store
        .change_subscription(
            sid,
            None,
            &[SubscriptionCommand::Resume { confirm: true }],
            &Actor::system("test"),
            "",
        )
        .await
        .unwrap();
    assert_eq!(store.order_by_number(&n).await.unwrap().version, version);
    let events = store.order_events(&n).await.unwrap();
    assert!(
        events
            .iter()
            .filter(|e| e.0 == "subscription_status_became")
            .count()
            >= 2
    );
});

both_stores!(
    dangling_rules_are_flagged_and_rules_reorder,
    |store| async move {
        seed(&store).await;
        store
            .create_handling_status(HandlingStatusInput {
                name: "要確認".into(),
                position: None,
                color: "#ff0000".into(),
                is_default: false,
            })
            .await
            .unwrap();
        let first = store
            .add_automation_rule(&rule(
                "受注で要確認",
                created(),
                Action::SetHandlingStatus {
                    name: "要確認".into(),
                },
                vec![],
            ))
            .await
            .unwrap();
        let second = store
            .add_automation_rule(&rule(
                "受注でメール",
                created(),
                Action::SendMail {
                    template: "order_received".into(),
                },
                vec![],
            ))
            .await
            .unwrap();
        assert!(store.automation_rule_problems().await.unwrap().is_empty());
        // Saving a rule that points at nothing is refused.
        let bad = store
            .add_automation_rule(&rule(
                "存在しない",
                created(),
                Action::SetHandlingStatus {
                    name: "ない状況".into(),
                },
                vec![],
            ))
            .await;
        assert!(bad.is_err());
        // The status is renamed: the saved rule now dangles and says so.
        let m = store.masters().await.unwrap();
        let st = m.handling_status_by_name("要確認").unwrap().clone();
        store
            .update_handling_status(
                st.id,
                HandlingStatusInput {
                    name: "確認待ち".into(),
                    position: Some(st.position),
                    color: st.color.clone(),
                    is_default: false,
                },
            )
            .await
            .unwrap();
        let problems = store.automation_rule_problems().await.unwrap();
        assert!(problems[&first.id].contains("要確認"), "{problems:?}");
        // Firing it records the failure on the order instead of a silent no-op.
        let n = order_for(&store, None, "TEA-01").await;
        let h = store.order_history(&n).await.unwrap();
        assert!(
            h.iter()
                .any(|h| h.actor_kind == "rule" && h.after.contains("失敗")),
            "{h:?}"
        );
        // Such a rule can still be switched off, not on again until it is fixed.
        let mut off = store
            .automation_rules()
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.id == first.id)
            .unwrap();
        off.enabled = false;
        store.update_automation_rule(&off).await.unwrap();
        off.enabled = true;
        assert!(store.update_automation_rule(&off).await.is_err());
        off.action = Action::SetHandlingStatus {
            name: "確認待ち".into(),
        };
        store.update_automation_rule(&off).await.unwrap();
        assert!(store.automation_rule_problems().await.unwrap().is_empty());

        // Reorder: the second rule moves first.
        store.move_automation_rule(second.id, true).await.unwrap();
        let ids: Vec<i64> = store
            .automation_rules()
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [second.id, first.id]);
        store.move_automation_rule(second.id, true).await.unwrap();
        let ids: Vec<i64> = store
            .automation_rules()
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [second.id, first.id], "already first");
        assert!(store.move_automation_rule(999_999, false).await.is_err());
    }
);

both_stores!(
    a_rule_that_changes_nothing_leaves_no_history_row,
    |store| async move {
        seed(&store).await;
        // New orders are already 注文確定: the rule fires and changes nothing.
        store
            .add_automation_rule(&rule(
                "確定にする",
                created(),
                Action::SetHandlingStatus {
                    name: "注文確定".into(),
                },
                vec![],
            ))
            .await
            .unwrap();
        let n = order_for(&store, None, "TEA-01").await;
        assert_eq!(handling(&store, &n).await, "注文確定");
        let history = store.order_history(&n).await.unwrap();
        assert!(
            !history
                .iter()
                .any(|h| h.field == "automation" || h.after == "変更なし"),
            "{history:?}"
        );
    }
);
