//! 決済処理 through the outbox and the sandbox gateway, on SQLite and PostgreSQL:
//! requests are queued with the change, executed by `process_payments` outside
//! any transaction, and the answers come back through the pipeline so rules fire.

use juchu_adapters::SandboxGateway;
use juchu_adapters::payment_sandbox::test_cards;
use juchu_domain::customer::{Address, CustomerInput};
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_domain::patch::OrderPatch;
use juchu_domain::payment::PaymentProcess;
use juchu_domain::status::PaymentStatus;
use juchu_store::masters::ProductInput;
use juchu_store::orders::NewOrderRequest;
use juchu_store::{Actor, Store, StoreError, both_stores};
use std::time::Duration;

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
}

/// A new 未決済 order paid by `method`, `quantity` teas, for a new customer with
/// 1,000 points; the card token when given.
async fn order(store: &Store, method: &str, quantity: i64, card: Option<&str>) -> String {
    let req = NewOrderRequest {
        order: NewOrder {
            items: vec![ItemInput {
                product_code: "TEA-01".into(),
                quantity,
                unit_price: None,
            }],
            payment_method: Some(method.into()),
            carrier: Some("yamato".into()),
            points_used: 100,
            points_granted: 30,
            ..Default::default()
        },
        billing_given: false,
        new_customer: Some(CustomerInput {
            address: address(),
            mail_opt_out: false,
            points: 1000,
            memo: String::new(),
        }),
        card_token: card.map(Into::into),
    };
    store
        .create_order(req, &staff(), None)
        .await
        .unwrap()
        .order
        .order_number
}

fn sandbox(store: &Store) -> SandboxGateway {
    SandboxGateway::new(store, Duration::ZERO)
}

async fn status(store: &Store, number: &str) -> PaymentStatus {
    store.order_by_number(number).await.unwrap().payment_status
}

async fn handling(store: &Store, number: &str) -> String {
    let o = store.order_by_number(number).await.unwrap();
    let m = store.masters().await.unwrap();
    m.handling_status(o.handling_status_id)
        .unwrap()
        .name
        .clone()
}

async fn history_text(store: &Store, number: &str) -> String {
    store
        .order_history(number)
        .await
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{}|{}|{}|{}|{}",
                h.actor_name, h.field, h.before, h.after, h.reason
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Makes every queued request due now (retry backoff and polls wait otherwise).
async fn due_now(store: &Store) {
    sqlx::query("UPDATE payment_requests SET next_attempt_at = '2000-01-01T00:00:00Z' WHERE status IN ('pending', 'running')")
        .execute(store.pool())
        .await
        .unwrap();
}

async fn request(store: &Store, number: &str, p: PaymentProcess) -> Result<String, StoreError> {
    store.request_payment(number, p, None, &staff(), "").await
}

both_stores!(
    card_authorise_capture_cancel_returns_points,
    |store| async move {
        seed(&store).await;
        let n = order(&store, "credit_card", 2, Some(test_cards::OK)).await;
        // Queued with the order; nothing asked of the provider yet.
        assert_eq!(status(&store, &n).await, PaymentStatus::Unpaid);
        let run = store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(run.done, 1, "{run:?}");
        assert_eq!(status(&store, &n).await, PaymentStatus::Authorized);
        // Nothing else is due: a second round does nothing.
        let run = store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!((run.done, run.declined), (0, 0));

        request(&store, &n, PaymentProcess::Capture).await.unwrap();
        // A second request while one waits is refused.
        let twice = request(&store, &n, PaymentProcess::Cancel)
            .await
            .unwrap_err();
        assert!(twice.to_string().contains("処理待ち"), "{twice}");
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(status(&store, &n).await, PaymentStatus::Captured);

        let o = store.order_by_number(&n).await.unwrap();
        let before = store.customer(o.customer_id.unwrap()).await.unwrap().points;
        request(&store, &n, PaymentProcess::Cancel).await.unwrap();
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(status(&store, &n).await, PaymentStatus::Cancelled);
        let after = store.customer(o.customer_id.unwrap()).await.unwrap().points;
        assert_eq!(
            after - before,
            100 - 30,
            "used points back, granted taken back"
        );
        let h = history_text(&store, &n).await;
        assert!(h.contains("決済サービス（サンドボックス）|payment_status|仮売上完了|売上完了|決済処理「売上処理」"), "{h}");
        assert!(h.contains("customer_points"), "{h}");
        // Not twice: cancelling again is refused before anything is queued.
        assert!(request(&store, &n, PaymentProcess::Cancel).await.is_err());
        let reqs = store.payment_requests(o.id).await.unwrap();
        assert_eq!(reqs.len(), 3);
        assert!(reqs.iter().all(|r| r.status == "done"), "{reqs:?}");
    }
);

both_stores!(
    declined_cards_fire_rules_and_cod_reauthorises,
    |store| async move {
        seed(&store).await;
        store.load_automation_presets().await.unwrap();
        let n = order(
            &store,
            "credit_card",
            1,
            Some(test_cards::CREDIT_CHECK_ERROR),
        )
        .await;
        let run = store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(run.declined, 1, "{run:?}");
        assert_eq!(status(&store, &n).await, PaymentStatus::CreditCheckError);
        assert_eq!(handling(&store, &n).await, "決済NG", "preset rule fired");
        let h = history_text(&store, &n).await;
        assert!(
            h.contains("カード会社の与信審査で承認されませんでした"),
            "{h}"
        );

        // The customer switches to 代金引換: the preset queues 再オーソリ, the provider
        // answers 入金待ち and the preset takes the order back to 注文確定.
        store
            .change_order(
                &n,
                None,
                &OrderPatch {
                    payment_method: Some(Some("代金引換".into())),
                    ..Default::default()
                },
                &staff(),
                "お客様のご希望",
            )
            .await
            .unwrap();
        let h = history_text(&store, &n).await;
        assert!(
            h.contains("決済処理「再オーソリ処理」を依頼しました"),
            "{h}"
        );
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(status(&store, &n).await, PaymentStatus::AwaitingPayment);
        assert_eq!(handling(&store, &n).await, "注文確定");

        let m = order(
            &store,
            "credit_card",
            1,
            Some(test_cards::AUTHORIZATION_FAILED),
        )
        .await;
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(status(&store, &m).await, PaymentStatus::AuthorizationFailed);
        assert_eq!(handling(&store, &m).await, "決済NG");
        // 再オーソリ with a good card.
        store
            .request_payment(
                &m,
                PaymentProcess::Reauthorize,
                Some(test_cards::OK),
                &staff(),
                "カード変更",
            )
            .await
            .unwrap();
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(status(&store, &m).await, PaymentStatus::Authorized);
        assert_eq!(handling(&store, &m).await, "注文確定");
    }
);

both_stores!(
    unreachable_provider_is_retried_then_fails_visibly,
    |store| async move {
        seed(&store).await;
        let n = order(&store, "credit_card", 1, Some(test_cards::TIMEOUT)).await;
        let o = store.order_by_number(&n).await.unwrap();
        for attempt in 1..=juchu_store::payments::MAX_ATTEMPTS {
            let run = store.process_payments(&sandbox(&store), 10).await.unwrap();
            assert_eq!(run.unavailable.len(), 1, "attempt {attempt}: {run:?}");
            // Not due again until the backoff passed.
            let run = store.process_payments(&sandbox(&store), 10).await.unwrap();
            assert!(run.unavailable.is_empty());
            due_now(&store).await;
        }
        let reqs = store.payment_requests(o.id).await.unwrap();
        assert_eq!(reqs[0].status, "failed");
        assert_eq!(reqs[0].attempts, 5);
        assert!(reqs[0].last_error.contains("タイムアウト"));
        assert_eq!(status(&store, &n).await, PaymentStatus::Unpaid);
        let h = history_text(&store, &n).await;
        assert!(h.contains("決済処理「与信処理」失敗（5回試行）"), "{h}");
    }
);

both_stores!(deferred_payment_flow, |store| async move {
    seed(&store).await;
    store.load_automation_presets().await.unwrap();
    let n = order(&store, "np_atobarai", 2, None).await;
    store.process_payments(&sandbox(&store), 1).await.unwrap();
    assert_eq!(status(&store, &n).await, PaymentStatus::CreditCheckPending);
    // The credit result arrives later, asked for by the worker.
    store.process_payments(&sandbox(&store), 10).await.unwrap();
    assert_eq!(status(&store, &n).await, PaymentStatus::CreditCheckApproved);

    // 出荷報告 needs a tracking number.
    let err = request(&store, &n, PaymentProcess::Capture)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("配送伝票番号"), "{err}");
    let set_tracking = OrderPatch {
        tracking_number: Some(Some("1234-5678-9013".into())),
        shipped_at: Some(Some("2026-12-01".into())),
        ..Default::default()
    };
    store
        .change_order(&n, None, &set_tracking, &staff(), "")
        .await
        .unwrap();
    request(&store, &n, PaymentProcess::Capture).await.unwrap();
    store.process_payments(&sandbox(&store), 10).await.unwrap();
    assert_eq!(status(&store, &n).await, PaymentStatus::Captured);

    // Cancel, then register again: the old shipment report and link data go.
    request(&store, &n, PaymentProcess::Cancel).await.unwrap();
    store.process_payments(&sandbox(&store), 10).await.unwrap();
    assert_eq!(status(&store, &n).await, PaymentStatus::Cancelled);
    request(&store, &n, PaymentProcess::Reauthorize)
        .await
        .unwrap();
    store.process_payments(&sandbox(&store), 1).await.unwrap();
    let o = store.order_by_number(&n).await.unwrap();
    assert_eq!(o.payment_status, PaymentStatus::CreditCheckPending);
    assert_eq!(o.tracking_number, None);
    assert_eq!(o.shipped_at, None);
    store.process_payments(&sandbox(&store), 10).await.unwrap();
    assert_eq!(status(&store, &n).await, PaymentStatus::CreditCheckApproved);

    // 強制取消 changes only our record: the provider still holds the transaction,
    // so registering again fails with 取引登録失敗 (and the preset says 決済NG).
    store
        .change_order(
            &n,
            None,
            &OrderPatch {
                payment_override: Some("強制取消".into()),
                ..Default::default()
            },
            &staff(),
            "電話で取消",
        )
        .await
        .unwrap();
    store
        .change_order(&n, None, &set_tracking, &staff(), "")
        .await
        .unwrap();
    request(&store, &n, PaymentProcess::Reauthorize)
        .await
        .unwrap();
    store.process_payments(&sandbox(&store), 10).await.unwrap();
    let o = store.order_by_number(&n).await.unwrap();
    assert_eq!(o.payment_status, PaymentStatus::RegistrationFailed);
    assert_eq!(o.tracking_number, None, "cleared with the re-registration");
    assert_eq!(handling(&store, &n).await, "決済NG");
    let h = history_text(&store, &n).await;
    assert!(h.contains("有効な取引"), "{h}");
});

both_stores!(deferred_credit_check_can_refuse, |store| async move {
    seed(&store).await;
    // 60 teas = 64,800 yen, above the deferred provider's limit.
    let n = order(&store, "np_atobarai", 60, None).await;
    store.process_payments(&sandbox(&store), 10).await.unwrap();
    assert_eq!(status(&store, &n).await, PaymentStatus::CreditCheckError);
    // An asynchronous provider that has not decided yet: asked again later.
    let slow = SandboxGateway::new(&store, Duration::from_secs(3600));
    let m = order(&store, "np_atobarai", 1, None).await;
    store.process_payments(&slow, 1).await.unwrap();
    assert_eq!(status(&store, &m).await, PaymentStatus::CreditCheckPending);
    due_now(&store).await;
    let run = store.process_payments(&slow, 10).await.unwrap();
    assert_eq!((run.done, run.declined), (0, 0));
    assert_eq!(status(&store, &m).await, PaymentStatus::CreditCheckPending);
});

both_stores!(
    transfer_waits_for_the_payment_notification,
    |store| async move {
        seed(&store).await;
        let n = order(&store, "bank_transfer", 1, None).await;
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(status(&store, &n).await, PaymentStatus::AwaitingPayment);
        let total = store.order_by_number(&n).await.unwrap().totals.total;
        let err = store
            .record_payment_notification(&n, total - 1, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("一致しません"), "{err}");
        assert_eq!(status(&store, &n).await, PaymentStatus::AwaitingPayment);
        let day: jiff::civil::Date = "2026-12-01".parse().unwrap();
        store
            .record_payment_notification(&n, total, Some(day))
            .await
            .unwrap();
        let o = store.order_by_number(&n).await.unwrap();
        assert_eq!(o.payment_status, PaymentStatus::Paid);
        assert_eq!(o.paid_at, Some(day));
        // Again with another amount is refused (the same one is answered alike).
        assert!(
            store
                .record_payment_notification(&n, total + 5, None)
                .await
                .is_err()
        );
        request(&store, &n, PaymentProcess::Capture).await.unwrap();
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(status(&store, &n).await, PaymentStatus::Captured);
        // A method without a provider is kept by hand.
        let err = store
            .record_payment_notification("no-such-order", 1, None)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)));
    }
);

both_stores!(a_retried_call_gets_the_first_answer, |store| async move {
    use juchu_domain::payment::{GatewayKind, GatewayOutcome};
    use juchu_store::payments::{GatewayRequest, PaymentGateway};
    // A worker that died after the call but before recording it repeats the
    // call with the same idempotency key: one authorisation, not two.
    let gw = sandbox(&store);
    let req = GatewayRequest {
        kind: GatewayKind::Card,
        process: PaymentProcess::Authorize,
        order_number: "R-1".into(),
        amount: 1000,
        transaction_id: String::new(),
        card_token: test_cards::OK.into(),
        tracking_number: String::new(),
        idempotency_key: "juchu-payment-request-1".into(),
    };
    let first = gw.call(&req).await.unwrap();
    let again = gw.call(&req).await.unwrap();
    assert_eq!(first, again);
    assert!(matches!(
        first,
        GatewayOutcome::Accepted {
            status: PaymentStatus::Authorized,
            ..
        }
    ));
    let count =
        sqlx::query("SELECT COUNT(*) AS n FROM sandbox_transactions WHERE order_number = 'R-1'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    use sqlx::Row;
    assert_eq!(count.get::<i64, _>("n"), 1);
    // Another key is another authorisation.
    let other = GatewayRequest {
        idempotency_key: "juchu-payment-request-2".into(),
        ..req
    };
    assert_ne!(gw.call(&other).await.unwrap(), first);
});

both_stores!(
    rules_chain_payment_processes_within_limits,
    |store| async move {
        use juchu_domain::automation::{Action, Rule, Trigger};
        use juchu_domain::event::OrderEvent;
        seed(&store).await;
        // 仮売上完了 → 売上処理 at once (the answer's own request is closed first).
        store
            .add_automation_rule(&Rule {
                id: 0,
                name: "仮売上で即売上".into(),
                position: 0,
                enabled: true,
                trigger: Trigger::Exact {
                    event: OrderEvent::PaymentStatusBecame {
                        status: PaymentStatus::Authorized,
                    },
                },
                conditions: vec![],
                action: Action::RunPaymentProcess {
                    process: PaymentProcess::Capture,
                },
            })
            .await
            .unwrap();
        // 与信審査エラー → 再オーソリ: 後払い above its limit goes 与信審査中 → 与信審査エラー
        // again and again — without the per-order limit, for ever.
        store
            .add_automation_rule(&Rule {
                id: 0,
                name: "与信NGなら再オーソリ".into(),
                position: 0,
                enabled: true,
                trigger: Trigger::Exact {
                    event: OrderEvent::PaymentStatusBecame {
                        status: PaymentStatus::CreditCheckError,
                    },
                },
                conditions: vec![],
                action: Action::RunPaymentProcess {
                    process: PaymentProcess::Reauthorize,
                },
            })
            .await
            .unwrap();
        let n = order(&store, "credit_card", 1, Some(test_cards::OK)).await;
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(status(&store, &n).await, PaymentStatus::Captured);

        let m = order(&store, "np_atobarai", 60, None).await;
        for _ in 0..10 {
            store.process_payments(&sandbox(&store), 10).await.unwrap();
        }
        let o = store.order_by_number(&m).await.unwrap();
        assert_eq!(o.payment_status, PaymentStatus::CreditCheckError);
        let reqs = store.payment_requests(o.id).await.unwrap();
        let by_rules = reqs
            .iter()
            .filter(|r| r.requested_by.starts_with("自動化設定"))
            .count();
        assert_eq!(
            by_rules,
            juchu_store::payments::MAX_RULE_REQUESTS as usize,
            "{reqs:?}"
        );
        assert!(
            reqs.iter()
                .all(|r| r.status != "pending" && r.status != "running")
        );
        let h = history_text(&store, &m).await;
        assert!(h.contains("1受注3回まで"), "{h}");
    }
);

both_stores!(
    points_go_back_once_and_answers_that_no_longer_fit,
    |store| async move {
        seed(&store).await;
        let n = order(&store, "credit_card", 1, Some(test_cards::OK)).await;
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        let customer = store
            .order_by_number(&n)
            .await
            .unwrap()
            .customer_id
            .unwrap();
        let points = || {
            let store = store.clone();
            async move { store.customer(customer).await.unwrap().points }
        };
        let start = points().await;
        // cancel → 再オーソリ → cancel: the points go back once, not twice.
        request(&store, &n, PaymentProcess::Cancel).await.unwrap();
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(points().await, start + 70);
        request(&store, &n, PaymentProcess::Reauthorize)
            .await
            .unwrap();
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(status(&store, &n).await, PaymentStatus::Authorized);
        assert_eq!(
            points().await,
            start,
            "re-authorised: used again, granted again"
        );
        request(&store, &n, PaymentProcess::Cancel).await.unwrap();
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(points().await, start + 70);

        // 強制取消 while an authorisation is on its way: the answer is recorded, not
        // applied over the operator's decision.
        let m = order(&store, "credit_card", 1, Some(test_cards::OK)).await;
        store
            .change_order(
                &m,
                None,
                &OrderPatch {
                    payment_override: Some("強制取消".into()),
                    ..Default::default()
                },
                &staff(),
                "",
            )
            .await
            .unwrap();
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        assert_eq!(status(&store, &m).await, PaymentStatus::Cancelled);
        let h = history_text(&store, &m).await;
        // Asked after the 強制取消, the request is dropped before the provider is
        // called (an answer arriving after one is recorded, not applied).
        assert!(h.contains("中止"), "{h}");

        // A 入金通知 sent twice gets the same answer.
        let t = order(&store, "bank_transfer", 1, None).await;
        store.process_payments(&sandbox(&store), 10).await.unwrap();
        let total = store.order_by_number(&t).await.unwrap().totals.total;
        store
            .record_payment_notification(&t, total, None)
            .await
            .unwrap();
        let again = store
            .record_payment_notification(&t, total, None)
            .await
            .unwrap();
        assert!(again.changes.is_empty());
        assert_eq!(again.order.payment_status, PaymentStatus::Paid);
    }
);
