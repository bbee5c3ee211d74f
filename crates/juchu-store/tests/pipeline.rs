//! The store and change pipeline, run on SQLite and on PostgreSQL.

use juchu_domain::automation::{Action, Rule, Trigger};
use juchu_domain::customer::{Address, CustomerInput};
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_domain::patch::OrderPatch;
use juchu_domain::status::PaymentStatus;
use juchu_store::masters::{LabelInput, ProductInput};
use juchu_store::orders::{IdempotencyKey, NewOrderRequest};
use juchu_store::{Actor, OrderQuery, Store, StoreError, both_stores};

fn address(family: &str, given: &str, kana: (&str, &str), phone: &str, email: &str) -> Address {
    Address {
        family_name: family.into(),
        given_name: given.into(),
        family_kana: kana.0.into(),
        given_kana: kana.1.into(),
        postal_code: "150-0001".into(),
        prefecture: "東京都".into(),
        address1: "渋谷区神宮前1-2-3".into(),
        address2: String::new(),
        phone: phone.into(),
        email: email.into(),
        ..Default::default()
    }
}

async fn seed_products(store: &Store) {
    for (code, name, price, rate) in [
        ("TEA-01", "有機緑茶", 1080, 8),
        ("CUP-01", "湯呑み", 3300, 10),
    ] {
        store
            .create_product(ProductInput {
                code: code.into(),
                name: name.into(),
                unit_price: price,
                tax_rate: rate,
                shipping_fee: None,
                payment_fee: None,
                is_bundled_item: false,
                is_subscription: false,
            })
            .await
            .unwrap();
    }
}

fn new_order(billing: Address) -> NewOrder {
    NewOrder {
        billing,
        items: vec![
            ItemInput {
                product_code: "TEA-01".into(),
                quantity: 2,
                unit_price: None,
            },
            ItemInput {
                product_code: "CUP-01".into(),
                quantity: 1,
                unit_price: None,
            },
        ],
        payment_method: Some("cod".into()),
        carrier: Some("yamato".into()),
        ..Default::default()
    }
}

fn staff() -> Actor {
    Actor::Staff {
        id: 1,
        name: "佐藤".into(),
    }
}

both_stores!(
    create_computes_totals_and_records_history,
    |store| async move {
        seed_products(&store).await;
        let created = store
            .create_order(
                NewOrderRequest {
                    order: new_order(address(
                        "山田",
                        "花子",
                        ("ヤマダ", "ハナコ"),
                        "03-1234-5678",
                        "h@example.jp",
                    )),
                    billing_given: true,
                    new_customer: None,
                    card_token: None,
                },
                &staff(),
                None,
            )
            .await
            .unwrap();
        let o = created.order;
        assert_eq!(o.totals.total, 2160 + 3300 + 770 + 330);
        assert_eq!(o.version, 1);
        let loaded = store.order_by_number(&o.order_number).await.unwrap();
        assert_eq!(loaded, o, "what is read back is what was written");
        let history = store.order_history(&o.order_number).await.unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].after, "作成");
        assert_eq!(history[0].actor_name, "佐藤");
        // 代金引換 has a provider: the new 未決済 order is sent for 与信処理.
        assert_eq!(history[1].field, "payment_process");
        assert!(
            history[1].after.contains("与信処理"),
            "{}",
            history[1].after
        );
        let events = store.order_events(&o.order_number).await.unwrap();
        assert_eq!(events[0].0, "created");
    }
);

both_stores!(
    change_writes_history_events_and_bumps_version,
    |store| async move {
        seed_products(&store).await;
        let o = store
            .create_orders(
                vec![new_order(address(
                    "山田",
                    "花子",
                    ("ヤマダ", "ハナコ"),
                    "03-1234-5678",
                    "",
                ))],
                &staff(),
            )
            .await
            .unwrap()
            .remove(0);
        let patch = OrderPatch {
            handling_status: Some("発送準備中".into()),
            tracking_number: Some(Some("1234-5678-9013".into())),
            payment_status: Some("売上完了".into()),
            ..Default::default()
        };
        let changed = store
            .change_order(&o.order_number, Some(1), &patch, &staff(), "電話で確認")
            .await
            .unwrap();
        assert_eq!(changed.order.version, 2);
        assert_eq!(changed.order.payment_status, PaymentStatus::Captured);
        let history = store.order_history(&o.order_number).await.unwrap();
        // After the creation row and the 与信 its 代金引換 asks for on creation.
        let rows: Vec<_> = history
            .iter()
            .skip(1)
            .filter(|h| h.field != "payment_process")
            .map(|h| {
                (
                    h.field.as_str(),
                    h.before.as_str(),
                    h.after.as_str(),
                    h.reason.as_str(),
                )
            })
            .collect();
        // The number is stored normalised, and a first number ships the
        // order today.
        let today = store.clock.today().to_string();
        assert_eq!(
            rows,
            [
                ("handling_status", "注文確定", "発送準備中", "電話で確認"),
                ("payment_status", "未決済", "売上完了", "電話で確認"),
                ("tracking_number", "", "123456789013", "電話で確認"),
                ("shipment_status", "未発送", "発送済", "電話で確認"),
                ("shipped_at", "", today.as_str(), "電話で確認"),
            ]
        );
        let kinds: Vec<_> = store
            .order_events(&o.order_number)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(
            kinds,
            [
                "created",
                "handling_status_became",
                "payment_status_became",
                "tracking_number_set",
                "shipment_status_became",
                "shipped_at_set"
            ]
        );
        // The same patch again changes nothing and writes nothing.
        let again = store
            .change_order(&o.order_number, Some(2), &patch, &staff(), "")
            .await
            .unwrap();
        assert!(again.changes.is_empty());
        assert_eq!(again.order.version, 2);
        assert_eq!(
            store.order_history(&o.order_number).await.unwrap().len(),
            7,
            "creation, 与信 asked, five changes"
        );
    }
);

both_stores!(
    stale_version_is_refused_and_nothing_written,
    |store| async move {
        seed_products(&store).await;
        let o = store
            .create_orders(
                vec![new_order(address(
                    "山田",
                    "花子",
                    ("ヤマダ", "ハナコ"),
                    "03-1234-5678",
                    "",
                ))],
                &staff(),
            )
            .await
            .unwrap()
            .remove(0);
        store
            .change_order(
                &o.order_number,
                Some(1),
                &OrderPatch::handling_status("処理中"),
                &staff(),
                "",
            )
            .await
            .unwrap();
        let err = store
            .change_order(
                &o.order_number,
                Some(1),
                &OrderPatch::handling_status("保留"),
                &staff(),
                "",
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict { field: Some(f), .. } if f == "version"),
            "{err:?}"
        );
        let now = store.order_by_number(&o.order_number).await.unwrap();
        assert_eq!(now.version, 2);
        let masters = store.masters().await.unwrap();
        assert_eq!(
            masters
                .handling_status(now.handling_status_id)
                .unwrap()
                .name,
            "処理中"
        );
    }
);

both_stores!(invalid_patch_is_refused_whole, |store| async move {
    seed_products(&store).await;
    let o = store
        .create_orders(
            vec![new_order(address(
                "山田",
                "花子",
                ("ヤマダ", "ハナコ"),
                "03-1234-5678",
                "",
            ))],
            &staff(),
        )
        .await
        .unwrap()
        .remove(0);
    let patch = OrderPatch {
        memo: Some("先に書かれるメモ".into()),
        handling_status: Some("存在しない状況".into()),
        items: Some(vec![ItemInput {
            product_code: "NOPE".into(),
            quantity: 1,
            unit_price: None,
        }]),
        ..Default::default()
    };
    let err = store
        .change_order(&o.order_number, None, &patch, &staff(), "")
        .await
        .unwrap_err();
    let StoreError::Invalid(e) = err else {
        panic!("expected validation error")
    };
    assert_eq!(
        e.0.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
        ["handling_status", "items[0].product_code"]
    );
    let now = store.order_by_number(&o.order_number).await.unwrap();
    assert_eq!(now, o, "nothing half-applied");
    assert!(matches!(
        store
            .change_order("no-such", None, &OrderPatch::default(), &staff(), "")
            .await,
        Err(StoreError::NotFound(_))
    ));
});

both_stores!(
    automation_rules_fire_inside_the_pipeline,
    |store| async move {
        seed_products(&store).await;
        store
            .add_automation_rule(&Rule {
                id: 0,
                name: "発送完了にする".into(),
                position: 1,
                enabled: true,
                conditions: Vec::new(),
                trigger: Trigger::EventKind {
                    event: "tracking_number_set".into(),
                },
                action: Action::SetHandlingStatus {
                    name: "発送完了".into(),
                },
            })
            .await
            .unwrap();
        let o = store
            .create_orders(
                vec![new_order(address(
                    "山田",
                    "花子",
                    ("ヤマダ", "ハナコ"),
                    "03-1234-5678",
                    "",
                ))],
                &staff(),
            )
            .await
            .unwrap()
            .remove(0);
        let changed = store
            .change_order(
                &o.order_number,
                Some(1),
                &OrderPatch {
                    tracking_number: Some(Some("4444-5555-6661".into())),
                    ..Default::default()
                },
                &staff(),
                "",
            )
            .await
            .unwrap();
        assert_eq!(changed.cascade_steps, 1);
        let masters = store.masters().await.unwrap();
        assert_eq!(
            masters
                .handling_status(changed.order.handling_status_id)
                .unwrap()
                .name,
            "発送完了"
        );
        let history = store.order_history(&o.order_number).await.unwrap();
        let last = history.last().unwrap();
        assert_eq!(
            (
                last.actor_kind.as_str(),
                last.field.as_str(),
                last.after.as_str()
            ),
            ("rule", "handling_status", "発送完了")
        );
        assert!(
            last.reason.contains("配送伝票番号が登録された"),
            "{}",
            last.reason
        );
        let events = store.order_events(&o.order_number).await.unwrap();
        assert_eq!(events.last().unwrap().0, "handling_status_became");
        assert_eq!(
            events.last().unwrap().2,
            1,
            "rule-caused events carry their chain depth"
        );
    }
);

both_stores!(search_filters_and_normalises, |store| async move {
    seed_products(&store).await;
    store
        .create_label(LabelInput {
            name: "ギフト".into(),
            color: "#ff0000".into(),
        })
        .await
        .unwrap();
    let mut a = new_order(address(
        "山田",
        "花子",
        ("ヤマダ", "ハナコ"),
        "090-1111-2222",
        "Hanako@Example.jp",
    ));
    a.labels = vec!["ギフト".into()];
    let mut b = new_order(address(
        "佐藤",
        "一郎",
        ("サトウ", "イチロウ"),
        "03-9999-0000",
        "ichiro@example.jp",
    ));
    b.items = vec![ItemInput {
        product_code: "CUP-01".into(),
        quantity: 1,
        unit_price: None,
    }];
    b.ordered_at = Some("2025-01-10T03:00:00Z".parse().unwrap());
    let created = store.create_orders(vec![a, b], &staff()).await.unwrap();
    store
        .change_order(
            &created[1].order_number,
            None,
            &OrderPatch {
                tracking_number: Some(Some("4444-5555-6661".into())),
                ..Default::default()
            },
            &staff(),
            "",
        )
        .await
        .unwrap();
    let find = |q: OrderQuery| {
        let store = store.clone();
        async move {
            store
                .search_orders(&q)
                .await
                .unwrap()
                .orders
                .into_iter()
                .map(|o| o.order_number)
                .collect::<Vec<_>>()
        }
    };
    let (na, nb) = (
        created[0].order_number.clone(),
        created[1].order_number.clone(),
    );
    assert_eq!(
        find(OrderQuery::default()).await,
        [na.as_str(), nb.as_str()],
        "newest first"
    );
    assert_eq!(
        find(OrderQuery {
            phone: Some("０９０ー１１１１ー２２２２".into()),
            ..Default::default()
        })
        .await,
        [na.as_str()]
    );
    assert_eq!(
        find(OrderQuery {
            phone: Some("+81 90 1111 2222".into()),
            ..Default::default()
        })
        .await,
        [na.as_str()]
    );
    assert_eq!(
        find(OrderQuery {
            email: Some(" HANAKO@example.JP".into()),
            ..Default::default()
        })
        .await,
        [na.as_str()]
    );
    assert_eq!(
        find(OrderQuery {
            kana: Some("ﾔﾏ".into()),
            ..Default::default()
        })
        .await,
        [na.as_str()]
    );
    assert_eq!(
        find(OrderQuery {
            kana: Some("やまだ はなこ".into()),
            ..Default::default()
        })
        .await,
        [na.as_str()]
    );
    assert_eq!(
        find(OrderQuery {
            name: Some("佐藤　一".into()),
            ..Default::default()
        })
        .await,
        [nb.as_str()]
    );
    assert_eq!(
        find(OrderQuery {
            tracking_number: Some("444455556661".into()),
            ..Default::default()
        })
        .await,
        [nb.as_str()]
    );
    assert_eq!(
        find(OrderQuery {
            product_code: Some("TEA-01".into()),
            ..Default::default()
        })
        .await,
        [na.as_str()]
    );
    assert_eq!(
        find(OrderQuery {
            label: Some("ギフト".into()),
            ..Default::default()
        })
        .await,
        [na.as_str()]
    );
    let d = |s: &str| Some(s.parse().unwrap());
    assert_eq!(
        find(OrderQuery {
            ordered_from: d("2025-01-10"),
            ordered_to: d("2025-01-10"),
            ..Default::default()
        })
        .await,
        [nb.as_str()]
    );
    assert_eq!(
        find(OrderQuery {
            handling_status: Some("注文確定".into()),
            payment_method: Some("代金引換".into()),
            ..Default::default()
        })
        .await
        .len(),
        2
    );
    assert!(
        find(OrderQuery {
            needs_attention: Some(true),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    let page = store
        .search_orders(&OrderQuery {
            per_page: 1,
            page: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, page.orders.len(), page.pages()), (2, 1, 2));
    assert!(page.total_is_exact);
    let exact = store
        .search_orders(&OrderQuery {
            exact_total: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((exact.total, exact.total_is_exact), (2, true));
    assert_eq!(page.orders[0].order_number, nb);
    assert!(matches!(
        store
            .search_orders(&OrderQuery {
                handling_status: Some("謎".into()),
                ..Default::default()
            })
            .await,
        Err(StoreError::Invalid(_))
    ));
    // LIKE wildcards in user text are literal.
    assert!(
        find(OrderQuery {
            kana: Some("%".into()),
            ..Default::default()
        })
        .await
        .is_empty()
    );
});

both_stores!(
    idempotency_key_returns_the_first_order,
    |store| async move {
        seed_products(&store).await;
        let req = NewOrderRequest {
            order: new_order(address(
                "山田",
                "花子",
                ("ヤマダ", "ハナコ"),
                "03-1234-5678",
                "",
            )),
            billing_given: true,
            new_customer: None,
            card_token: None,
        };
        let key = IdempotencyKey::new(7, "abc", b"body");
        let first = store
            .create_order(req.clone(), &staff(), Some(key.clone()))
            .await
            .unwrap();
        let second = store
            .create_order(req.clone(), &staff(), Some(key))
            .await
            .unwrap();
        assert!(!first.replayed && second.replayed);
        assert_eq!(first.order.order_number, second.order.order_number);
        assert_eq!(
            store
                .search_orders(&OrderQuery::default())
                .await
                .unwrap()
                .total,
            1
        );
        let other_body = store
            .create_order(req, &staff(), Some(IdempotencyKey::new(7, "abc", b"other")))
            .await;
        assert!(matches!(other_body, Err(StoreError::Conflict { .. })));
    }
);

both_stores!(inline_customer_and_duplicate_numbers, |store| async move {
    seed_products(&store).await;
    let mut order = new_order(Address::default());
    order.order_number = Some("SHOP-1".into());
    let req = NewOrderRequest {
        order,
        billing_given: false,
        new_customer: Some(CustomerInput {
            address: address(
                "鈴木",
                "次郎",
                ("スズキ", "ジロウ"),
                "080-1234-5678",
                "jiro@example.jp",
            ),
            ..Default::default()
        }),
        card_token: None,
    };
    let created = store
        .create_order(req.clone(), &staff(), None)
        .await
        .unwrap()
        .order;
    assert_eq!(created.order_number, "SHOP-1");
    assert_eq!(created.billing.family_name, "鈴木");
    let customer = store.customer(created.customer_id.unwrap()).await.unwrap();
    assert_eq!(customer.address.email, "jiro@example.jp");
    let dup = store.create_order(req, &staff(), None).await.unwrap_err();
    assert!(
        matches!(&dup, StoreError::Conflict { field: Some(f), .. } if f == "order_number"),
        "{dup:?}"
    );
    // The failed creation left no second customer behind.
    let n = store
        .list_customers(&Default::default(), 10, 0)
        .await
        .unwrap()
        .total;
    assert_eq!(n, 1);
});

both_stores!(
    generated_numbers_step_around_imported_ones,
    |store| async move {
        seed_products(&store).await;
        let billing = || {
            address(
                "鈴木",
                "次郎",
                ("スズキ", "ジロウ"),
                "080-1234-5678",
                "jiro@example.jp",
            )
        };
        let numbered = |n: Option<&str>| {
            let mut o = new_order(billing());
            o.order_number = n.map(String::from);
            o
        };
        // Imported numbers equal to the ids the store will hand out next.
        for n in ["2", "3"] {
            store
                .create_orders(vec![numbered(Some(n))], &staff())
                .await
                .unwrap();
        }
        let third = store
            .create_orders(vec![numbered(None)], &staff())
            .await
            .unwrap();
        assert_eq!(third[0].order_number, "3-2");
        let batch = store
            .create_orders(
                vec![
                    numbered(None),
                    numbered(Some("6")),
                    numbered(None),
                    numbered(None),
                ],
                &staff(),
            )
            .await
            .unwrap();
        let numbers: Vec<_> = batch.iter().map(|o| o.order_number.as_str()).collect();
        assert_eq!(numbers, ["4", "6", "6-2", "7"]);
        let page = store
            .search_orders(&OrderQuery {
                order_number: Some("6-2".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.total, 1);
    }
);

both_stores!(batch_creation_is_all_or_nothing, |store| async move {
    seed_products(&store).await;
    let good = new_order(address(
        "山田",
        "花子",
        ("ヤマダ", "ハナコ"),
        "03-1234-5678",
        "",
    ));
    let mut bad = good.clone();
    bad.items[0].quantity = 0;
    let err = store
        .create_orders(vec![good.clone(), bad], &staff())
        .await
        .unwrap_err();
    let StoreError::Invalid(e) = err else {
        panic!()
    };
    assert_eq!(e.0[0].field, "orders[1].items[0].quantity");
    assert_eq!(
        store
            .search_orders(&OrderQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    let many = store
        .create_orders(vec![good; 250], &staff())
        .await
        .unwrap();
    assert_eq!(many.len(), 250);
    assert_eq!(
        store
            .search_orders(&OrderQuery::default())
            .await
            .unwrap()
            .total,
        250
    );
});

both_stores!(
    concurrent_changes_never_lose_an_update,
    |store| async move {
        seed_products(&store).await;
        let o = store
            .create_orders(
                vec![new_order(address(
                    "山田",
                    "花子",
                    ("ヤマダ", "ハナコ"),
                    "03-1234-5678",
                    "",
                ))],
                &staff(),
            )
            .await
            .unwrap()
            .remove(0);
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            let number = o.order_number.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .change_order(
                        &number,
                        None,
                        &OrderPatch {
                            memo: Some(format!("memo {i}")),
                            ..Default::default()
                        },
                        &staff(),
                        "",
                    )
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let now = store.order_by_number(&o.order_number).await.unwrap();
        assert_eq!(now.version, 9, "eight serialised changes, none lost");
        let history = store.order_history(&o.order_number).await.unwrap();
        let changes = history.iter().filter(|h| h.field != "payment_process");
        assert_eq!(changes.count(), 9, "creation and eight changes");
    }
);

both_stores!(staff_sessions_and_tokens, |store| async move {
    use juchu_domain::access::Role;
    let u = store
        .create_staff("Owner@Example.jp", "", "correct horse battery", Role::Owner)
        .await
        .unwrap();
    assert_eq!(u.email, "owner@example.jp");
    assert!(
        store
            .create_staff("x@example.jp", "", "short", Role::Viewer)
            .await
            .is_err()
    );
    assert!(
        store
            .authenticate("owner@example.jp", "wrong password!")
            .await
            .unwrap()
            .is_none()
    );
    let me = store
        .authenticate("OWNER@example.jp", "correct horse battery")
        .await
        .unwrap()
        .unwrap();
    let (cookie, s) = store.create_session(&me).await.unwrap();
    assert_eq!(
        store.session(&cookie).await.unwrap().unwrap().csrf_token,
        s.csrf_token
    );
    store.delete_session(&cookie).await.unwrap();
    assert!(store.session(&cookie).await.unwrap().is_none());
    let (secret, t) = store
        .create_api_token("storefront", Role::Operator)
        .await
        .unwrap();
    assert_eq!(store.api_token(&secret).await.unwrap().unwrap().id, t.id);
    assert!(store.api_token("jc_nope").await.unwrap().is_none());
});

both_stores!(
    cached_masters_follow_changes_from_other_processes,
    |store| async move {
        seed_products(&store).await;
        let o = store
            .create_orders(
                vec![new_order(address(
                    "山田",
                    "花子",
                    ("ヤマダ", "ハナコ"),
                    "03-1234-5678",
                    "",
                ))],
                &staff(),
            )
            .await
            .unwrap()
            .remove(0);
        // A second Store on the same database stands in for another juchu process.
        let other = Store::connect(&juchu_store::StoreConfig {
            database_url: Some(store_url(&store).await),
            data_dir: std::env::temp_dir(),
            create_data_dir: false,
            max_connections: 2,
        })
        .await
        .unwrap();
        other
            .create_handling_status(juchu_store::masters::HandlingStatusInput {
                name: "検品中".into(),
                position: None,
                color: "#123456".into(),
                is_default: false,
            })
            .await
            .unwrap();
        let changed = store
            .change_order(
                &o.order_number,
                None,
                &OrderPatch::handling_status("検品中"),
                &staff(),
                "",
            )
            .await
            .unwrap();
        assert_eq!(changed.changes[0].after, "検品中");
        other.close().await;
    }
);

/// The URL a test store was opened with (read back from the database itself).
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
    payment_status_follows_the_payment_flow,
    |store| async move {
        seed_products(&store).await;
        let o = store
            .create_orders(
                vec![new_order(address(
                    "鈴木",
                    "次郎",
                    ("スズキ", "ジロウ"),
                    "080-1234-5678",
                    "jiro@example.jp",
                ))],
                &staff(),
            )
            .await
            .unwrap()
            .remove(0);
        let set = |s: &str| OrderPatch {
            payment_status: Some(s.into()),
            ..Default::default()
        };
        let n = o.order_number.clone();
        store
            .change_order(&n, None, &set("与信審査中"), &staff(), "")
            .await
            .unwrap();
        store
            .change_order(&n, None, &set("与信審査エラー"), &staff(), "")
            .await
            .unwrap();
        // 与信審査エラー → 売上完了 is not a payment flow: refused, nothing written.
        let err = store
            .change_order(&n, None, &set("売上完了"), &staff(), "")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(e) if e.0[0].code == "illegal_transition" && e.0[0].field == "payment_status"),
            "{err:?}"
        );
        let before = store.order_by_number(&n).await.unwrap();
        assert_eq!(before.payment_status, PaymentStatus::CreditCheckError);
        // 強制売上 does it, and 履歴 says the provider was not asked.
        let forced = store
            .change_order(
                &n,
                Some(before.version),
                &OrderPatch {
                    payment_override: Some("強制売上".into()),
                    ..Default::default()
                },
                &staff(),
                "入金確認済み",
            )
            .await
            .unwrap();
        assert_eq!(forced.order.payment_status, PaymentStatus::Captured);
        let h = store.order_history(&n).await.unwrap();
        let last = h.iter().rfind(|h| h.field == "payment_status").unwrap();
        assert!(
            last.reason
                .starts_with("強制売上（決済サービスへの連絡なし）"),
            "{last:?}"
        );
        assert!(last.reason.ends_with("入金確認済み"));
        // Both at once is refused.
        let err = store
            .change_order(
                &n,
                None,
                &OrderPatch {
                    payment_status: Some("取消完了".into()),
                    payment_override: Some("強制取消".into()),
                    ..Default::default()
                },
                &staff(),
                "",
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)));
    }
);

both_stores!(
    clashing_automation_rules_cannot_be_saved,
    |store| async move {
        let rule = |name: &str, on: &str, to: &str| Rule {
            id: 0,
            name: name.into(),
            position: 1,
            enabled: true,
            conditions: Vec::new(),
            trigger: Trigger::Exact {
                event: juchu_domain::event::OrderEvent::HandlingStatusBecame { name: on.into() },
            },
            action: Action::SetHandlingStatus { name: to.into() },
        };
        store
            .add_automation_rule(&rule("保留→処理中", "保留", "処理中"))
            .await
            .unwrap();
        // Same event, another value.
        let err = store
            .add_automation_rule(&rule("保留→完了", "保留", "完了"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(e) if e.0[0].code == "conflict" && e.0[0].message.contains("別の値")),
            "{err:?}"
        );
        // A circle back to the first rule.
        let err = store
            .add_automation_rule(&rule("処理中→保留", "処理中", "保留"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(e) if e.0[0].message.contains("循環")),
            "{err:?}"
        );
        // A chain onwards is fine.
        store
            .add_automation_rule(&rule("処理中→完了", "処理中", "完了"))
            .await
            .unwrap();
    }
);

both_stores!(automation_presets_load_once, |store| async move {
    seed_products(&store).await;
    let r = store.load_automation_presets().await.unwrap();
    assert_eq!(r.added.len(), 17, "{r:?}");
    assert!(r.skipped.is_empty());
    let again = store.load_automation_presets().await.unwrap();
    assert!(again.added.is_empty());
    assert_eq!(again.skipped.len(), 17);
    // They run: 与信審査エラー → 決済NG, then 与信審査完了 back to 注文確定.
    let o = store
        .create_orders(
            vec![new_order(address(
                "鈴木",
                "次郎",
                ("スズキ", "ジロウ"),
                "080-1234-5678",
                "jiro@example.jp",
            ))],
            &staff(),
        )
        .await
        .unwrap()
        .remove(0);
    let set = |s: &str| OrderPatch {
        payment_status: Some(s.into()),
        ..Default::default()
    };
    let n = o.order_number;
    store
        .change_order(&n, None, &set("与信審査中"), &staff(), "")
        .await
        .unwrap();
    let ng = store
        .change_order(&n, None, &set("与信審査エラー"), &staff(), "")
        .await
        .unwrap();
    let m = store.masters().await.unwrap();
    assert_eq!(
        m.handling_status(ng.order.handling_status_id).unwrap().name,
        "決済NG"
    );
    store
        .change_order(&n, None, &set("与信審査中"), &staff(), "")
        .await
        .unwrap();
    let ok = store
        .change_order(&n, None, &set("与信審査完了"), &staff(), "")
        .await
        .unwrap();
    assert_eq!(
        m.handling_status(ok.order.handling_status_id).unwrap().name,
        "注文確定"
    );
    // Dry run over the event log: the 与信審査エラー rule fired on this order.
    let rule = juchu_domain::automation::presets()
        .into_iter()
        .find(|r| r.name == "与信審査エラーで決済NG")
        .unwrap();
    let dry = store.dry_run_rule(&rule, 30).await.unwrap();
    assert_eq!(dry.orders, 1);
    assert_eq!(dry.sample, vec![n.clone()]);
    assert!(store.dry_run_rule(&rule, 0).await.is_err());
    // With a condition the order does not meet (it pays 代金引換), no match.
    let mut card_only = rule.clone();
    card_only.conditions = vec![juchu_domain::automation::Condition::PaymentMethod {
        name: "credit_card".into(),
    }];
    assert_eq!(store.dry_run_rule(&card_only, 30).await.unwrap().orders, 0);
    let mut cod_only = rule;
    cod_only.conditions =
        vec![juchu_domain::automation::Condition::PaymentMethod { name: "cod".into() }];
    assert_eq!(store.dry_run_rule(&cod_only, 30).await.unwrap().orders, 1);
});

both_stores!(
    the_store_clock_stamps_orders_and_their_history,
    |store| async move {
        // A set clock: what tests of schedules and retries rely on.
        let at: jiff::Timestamp = "2027-03-31T15:30:00Z".parse().unwrap();
        let clock = juchu_store::db::Clock::fixed(at);
        let store = store.with_clock(clock.clone());
        seed_products(&store).await;
        let order = store
            .create_orders(
                vec![new_order(address(
                    "山田",
                    "花子",
                    ("ヤマダ", "ハナコ"),
                    "03-1234-5678",
                    "h@example.jp",
                ))],
                &staff(),
            )
            .await
            .unwrap()
            .remove(0);
        assert_eq!(order.ordered_at, at);
        let history = store.order_history(&order.order_number).await.unwrap();
        assert_eq!(history[0].at, "2027-03-31T15:30:00Z");
        // 15:30 UTC on 03-31 is already April in Japan.
        assert_eq!(store.clock.today().to_string(), "2027-04-01");
        clock.set("2027-04-02T00:00:00Z".parse().unwrap()).unwrap();
        let changed = store
            .change_order(
                &order.order_number,
                None,
                &juchu_domain::patch::OrderPatch {
                    memo: Some("clock".into()),
                    ..Default::default()
                },
                &staff(),
                "",
            )
            .await
            .unwrap();
        assert_eq!(changed.order.version, 2);
        let history = store.order_history(&order.order_number).await.unwrap();
        assert_eq!(history.last().unwrap().at, "2027-04-02T00:00:00Z");
    }
);
