//! 一括処理 as jobs on both stores: selections frozen at registration, each
//! operation through the pipeline (履歴 says which job), per-order results,
//! the seed's rules, exports in every encoding, cancellation and dry runs.

use juchu_domain::calendar::Cycle;
use juchu_domain::csv_format::{Column, CsvFormat, Encoding, RowPer, Unmappable};
use juchu_domain::customer::{Address, CustomerInput};
use juchu_domain::job::{JobKind, JobStatus};
use juchu_domain::order::{ItemInput, NewOrder, Order};
use juchu_domain::patch::OrderPatch;
use juchu_store::jobs::{Job, NewJob, Selection};
use juchu_store::masters::{LabelInput, ProductInput};
use juchu_store::testing::count;
use juchu_store::{Actor, OrderQuery, Store, StoreError, both_stores};
use serde_json::json;

/// A 4×4 red PNG.
const LOGO_PNG: [u8; 73] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 4, 0, 0, 0, 4, 8, 2, 0,
    0, 0, 38, 147, 9, 41, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 56, 160, 160, 0, 71, 12, 196,
    113, 0, 170, 67, 16, 1, 181, 166, 172, 134, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

fn actor() -> Actor {
    Actor::Staff {
        id: 1,
        name: "山田（店長）".into(),
    }
}

fn address(family: &str, email: &str) -> Address {
    Address {
        family_name: family.into(),
        given_name: "花子".into(),
        family_kana: "ヤマダ".into(),
        given_kana: "ハナコ".into(),
        postal_code: "150-0001".into(),
        prefecture: "東京都".into(),
        address1: "渋谷区神宮前1-2-3".into(),
        address2: String::new(),
        phone: "090-1234-5678".into(),
        email: email.into(),
        ..Default::default()
    }
}

async fn seed(store: &Store) {
    for (code, sub, fee) in [
        ("TEA-01", false, None),
        ("SUP-01", true, None),
        ("BIG-01", false, Some(0)),
    ] {
        store
            .create_product(ProductInput {
                code: code.into(),
                name: format!("商品 {code}"),
                unit_price: 1080,
                tax_rate: 8,
                shipping_fee: fee,
                payment_fee: None,
                is_bundled_item: false,
                is_subscription: sub,
            })
            .await
            .unwrap();
    }
    store
        .create_label(LabelInput {
            name: "VIP".into(),
            color: "#ff0000".into(),
        })
        .await
        .unwrap();
}

async fn orders(store: &Store, n: usize, product: &str, customer: Option<i64>) -> Vec<Order> {
    let inputs = (0..n)
        .map(|i| NewOrder {
            customer_id: customer,
            billing: address(&format!("山田{i}"), "hanako@example.jp"),
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
        })
        .collect();
    store.create_orders(inputs, &actor()).await.unwrap()
}

fn numbers(os: &[Order]) -> Selection {
    Selection::OrderNumbers(os.iter().map(|o| o.order_number.clone()).collect())
}

async fn run(store: &Store, kind: JobKind, selection: Selection, params: serde_json::Value) -> Job {
    let job = store
        .register_job(
            NewJob {
                kind,
                selection: Some(selection),
                params,
            },
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    store.run_jobs(10_000).await.unwrap();
    store.job(job.id).await.unwrap()
}

async fn result_csv(store: &Store, job: &Job) -> Vec<(String, String, String)> {
    store
        .job_items(job.id, 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.order_number, i.status, i.message))
        .collect()
}

async fn file(store: &Store, job: &Job) -> Vec<u8> {
    let mut out = Vec::new();
    let mut part = 0;
    while let Some(bytes) = store.job_file_part(job.id, part).await.unwrap() {
        out.extend(bytes);
        part += 1;
    }
    out
}

both_stores!(bulk_update_through_the_pipeline, |store| async move {
    seed(&store).await;
    let os = orders(&store, 250, "TEA-01", None).await;
    // One of them is 売上完了: its payment method may not change.
    store
        .change_order(
            &os[3].order_number,
            None,
            &OrderPatch {
                payment_override: Some("強制売上".into()),
                ..Default::default()
            },
            &actor(),
            "",
        )
        .await
        .unwrap();
    let params = json!({
        "handling_status": "発送準備中",
        "payment_method": "bank_transfer",
        "paid_at": "2026-12-01",
        "memo": {"mode": "add", "value": "一括で確認済み"},
        "labels": {"mode": "add", "values": ["VIP"]}
    });
    let preview = store
        .preview_job(NewJob {
            kind: JobKind::BulkUpdate,
            selection: Some(Selection::Query(Box::default())),
            params: params.clone(),
        })
        .await
        .unwrap();
    assert_eq!(preview.total, 250);
    assert_eq!(preview.would_fail, 1);
    assert_eq!(preview.failures[0].0, os[3].order_number);
    assert!(preview.failures[0].1.contains("売上完了"), "{preview:?}");
    assert!(preview.reminders[0].contains("再オーソリ"));

    let job = run(
        &store,
        JobKind::BulkUpdate,
        Selection::Query(Box::default()),
        params,
    )
    .await;
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!((job.total, job.done, job.failed), (250, 250, 1));
    // Its completion is published once, with its counts, and every changed
    // order published its change in the job's transactions: the forced
    // payment above, then 249 (the refused one changed nothing). Read from
    // the outbox itself: the feed's visibility rule is tested elsewhere.
    let published =
        |t: &str| format!("SELECT COUNT(*) AS n FROM webhook_events WHERE type = '{t}'");
    assert_eq!(
        juchu_store::testing::count(&store, &published("job.completed")).await,
        1
    );
    assert_eq!(
        juchu_store::testing::count(&store, &published("order.changed")).await,
        1 + 249
    );
    let data = juchu_store::testing::count(
        &store,
        &format!(
            "SELECT COUNT(*) AS n FROM webhook_events WHERE type = 'job.completed' AND data LIKE '%\"id\":{}%' AND data LIKE '%\"total\":250%'",
            job.id
        ),
    )
    .await;
    assert_eq!(data, 1, "the job's id and total in its event");
    let o = store.order_by_number(&os[0].order_number).await.unwrap();
    let snapshot = store.masters().await.unwrap();
    assert_eq!(
        snapshot.handling_status(o.handling_status_id).unwrap().name,
        "発送準備中"
    );
    // The payment fee follows the method (銀行振込: 0, 代金引換 was 330).
    assert_eq!(o.totals.payment_fee, 0);
    assert_eq!(o.paid_at.unwrap().to_string(), "2026-12-01");
    assert!(o.memo.ends_with("一括で確認済み"));
    assert_eq!(o.label_ids.len(), 1);
    // 履歴 names the job and who registered it.
    let h = store.order_history(&o.order_number).await.unwrap();
    let status_rows: Vec<_> = h.iter().filter(|e| e.field == "handling_status").collect();
    assert_eq!(status_rows.len(), 1, "{h:?}");
    assert_eq!(status_rows[0].actor_kind, "job");
    assert!(
        status_rows[0]
            .actor_name
            .contains(&format!("一括更新 #{}", job.id))
            && status_rows[0].actor_name.contains("山田（店長）"),
        "{}",
        status_rows[0].actor_name
    );
    // The captured order failed alone and is unchanged.
    let items = result_csv(&store, &job).await;
    let failed: Vec<_> = items.iter().filter(|i| i.1 == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, os[3].order_number);
    assert!(
        failed[0]
            .2
            .contains("売上完了の受注は支払方法を変更できません")
    );
    let captured = store.order_by_number(&os[3].order_number).await.unwrap();
    assert!(!captured.memo.contains("一括"));
    // Running again changes nothing: every item is done.
    assert_eq!(store.run_jobs(100).await.unwrap(), 0);
});

both_stores!(
    bad_jobs_are_refused_and_nothing_is_written,
    |store| async move {
        seed(&store).await;
        let os = orders(&store, 2, "TEA-01", None).await;
        let bad = |kind, selection, params| NewJob {
            kind,
            selection,
            params,
        };
        let cases = vec![
            (
                bad(JobKind::BulkUpdate, Some(numbers(&os)), json!({})),
                "params",
            ),
            (
                bad(
                    JobKind::BulkUpdate,
                    Some(numbers(&os)),
                    json!({"handling_status": "宇宙"}),
                ),
                "params.handling_status",
            ),
            (
                bad(
                    JobKind::BulkUpdate,
                    Some(numbers(&os)),
                    json!({"labels": {"mode": "add", "values": ["なし"]}}),
                ),
                "params.labels.values[0]",
            ),
            (
                bad(
                    JobKind::BulkUpdate,
                    Some(Selection::OrderNumbers(vec![
                        os[0].order_number.clone(),
                        "NOPE-1".into(),
                    ])),
                    json!({"handling_status": "保留"}),
                ),
                "selection.order_numbers[1]",
            ),
            (
                bad(
                    JobKind::BulkUpdate,
                    None,
                    json!({"handling_status": "保留"}),
                ),
                "selection",
            ),
            (
                bad(
                    JobKind::BulkUpdate,
                    Some(Selection::Query(Box::new(OrderQuery {
                        order_number: Some("none-such".into()),
                        ..Default::default()
                    }))),
                    json!({"handling_status": "保留"}),
                ),
                "selection",
            ),
            (
                bad(
                    JobKind::CsvExport,
                    Some(numbers(&os)),
                    json!({"format_id": 99}),
                ),
                "params.format_id",
            ),
            (
                bad(
                    JobKind::BulkMail,
                    Some(numbers(&os)),
                    json!({"template_code": "none"}),
                ),
                "params.template_code",
            ),
            (
                bad(
                    JobKind::PdfExport,
                    Some(numbers(&os)),
                    json!({"document": "invoice", "issue_date": "2026-12-01"}),
                ),
                "params.document",
            ),
            (
                bad(
                    JobKind::PdfExport,
                    Some(numbers(&os)),
                    json!({"document": "invoice", "issue_date": "12/1"}),
                ),
                "params.issue_date",
            ),
        ];
        for (job, field) in cases {
            match store.register_job(job, &actor()).await {
                Err(StoreError::Invalid(e)) => assert_eq!(e.0[0].field, field, "{e:?}"),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(store.jobs(10).await.unwrap().is_empty());
    }
);

both_stores!(dunning_mail_and_payment_jobs, |store| async move {
    seed(&store).await;
    let os = orders(&store, 3, "TEA-01", None).await;
    let job = run(
        &store,
        JobKind::Dunning,
        numbers(&os),
        json!({"memo": "電話で入金をお願いした", "due_date": "2026-12-20"}),
    )
    .await;
    assert_eq!(
        (job.status, job.done, job.failed),
        (JobStatus::Completed, 3, 0)
    );
    let h = store.order_history(&os[0].order_number).await.unwrap();
    let d = h.iter().find(|e| e.field == "dunning").unwrap();
    assert_eq!(d.after, "電話で入金をお願いした（支払期限 2026-12-20）");
    assert_eq!(d.field_label, "督促");

    // メール一括通知: a customer who opted out is skipped and listed.
    let opted = store
        .create_customer(CustomerInput {
            address: address("鈴木", "suzuki@example.jp"),
            mail_opt_out: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut all = os.clone();
    all.extend(orders(&store, 1, "TEA-01", Some(opted.id)).await);
    // A typed body with an unknown variable is refused before anything is sent.
    match store
        .register_job(
            NewJob {
                kind: JobKind::BulkMail,
                selection: Some(numbers(&all)),
                params: json!({"subject": "x", "body": "{{ nonsense }}"}),
            },
            &actor(),
        )
        .await
    {
        Err(StoreError::Invalid(e)) => assert_eq!(e.0[0].field, "params.body", "{e:?}"),
        other => panic!("{other:?}"),
    }
    let job = run(
        &store,
        JobKind::BulkMail,
        numbers(&all),
        json!({"subject": "{{ order_number }} のお知らせ", "body": "{{ customer_name }} 様\n年末年始の配送について", "bcc": ["shop@example.jp"]}),
    )
    .await;
    assert_eq!(
        (job.status, job.done, job.skipped),
        (JobStatus::Completed, 4, 1)
    );
    let items = result_csv(&store, &job).await;
    assert!(items[3].2.contains("送信しない"), "{items:?}");
    let mails = store.order_mails(os[0].id).await.unwrap();
    let m = mails
        .iter()
        .find(|m| m.template_code == "bulk_mail")
        .unwrap();
    assert_eq!(m.subject, format!("{} のお知らせ", os[0].order_number));
    assert!(m.body.starts_with("山田0 花子 様"), "{}", m.body);

    // 決済状況一括変更: 強制取消 with the subscription stopped; 売上処理 queued.
    let sub_orders = orders(&store, 1, "SUP-01", None).await;
    let reasons = store.subscription_reasons().await.unwrap();
    let job = run(
        &store,
        JobKind::PaymentChange,
        numbers(&sub_orders),
        json!({"process": "force_cancel", "subscription": "stop", "subscription_reason": reasons.stop[0]}),
    )
    .await;
    assert_eq!(
        (job.done, job.failed),
        (1, 0),
        "{:?}",
        result_csv(&store, &job).await
    );
    let o = store
        .order_by_number(&sub_orders[0].order_number)
        .await
        .unwrap();
    assert_eq!(o.payment_status.label(), "取消完了");
    let subs = store
        .search_subscriptions(&Default::default())
        .await
        .unwrap();
    assert_eq!(subs.subscriptions[0].status.label(), "停止");

    let job = run(
        &store,
        JobKind::PaymentChange,
        numbers(&os[..1]),
        json!({"process": "capture"}),
    )
    .await;
    assert_eq!((job.done, job.failed), (1, 1));
    let r = store.payment_requests(os[0].id).await.unwrap();
    // An unpaid order cannot be captured: the reason is the result, nothing is
    // queued (its 与信 was queued when it was created).
    let items = result_csv(&store, &job).await;
    assert!(r.iter().all(|x| x.process == "与信処理"), "{r:?}");
    assert_eq!(items[0].1, "failed");
    assert!(
        items[0].2.contains("未決済") && items[0].2.contains("売上処理"),
        "{items:?}"
    );
});

fn format(row_per: RowPer, encoding: Encoding, unmappable: Unmappable) -> CsvFormat {
    CsvFormat {
        id: 0,
        name: "出荷用".into(),
        row_per,
        encoding,
        unmappable,
        // Item columns only where there is one row per item (a per-order
        // format with one is refused).
        columns: [
            "order_number",
            "billing_name",
            "item_product_code",
            "item_quantity",
            "memo",
        ]
        .iter()
        .filter(|k| row_per == RowPer::Item || !k.starts_with("item_"))
        .map(|k| Column {
            key: k.to_string(),
            header: if *k == "billing_name" {
                "お名前".into()
            } else {
                String::new()
            },
        })
        .collect(),
    }
}

both_stores!(csv_exports_in_every_encoding, |store| async move {
    seed(&store).await;
    let os = orders(&store, 3, "TEA-01", None).await;
    // A name CP932 cannot hold, and a formula.
    store
        .change_order(
            &os[1].order_number,
            None,
            &OrderPatch {
                memo: Some("=HYPERLINK(\"http://evil\")".into()),
                billing: Some(address("𠮷田", "yoshida@example.jp")),
                ..Default::default()
            },
            &actor(),
            "",
        )
        .await
        .unwrap();
    let strict = store
        .add_csv_format(&format(RowPer::Item, Encoding::Cp932, Unmappable::Error))
        .await
        .unwrap();
    let job = run(
        &store,
        JobKind::CsvExport,
        numbers(&os),
        json!({"format_id": strict.id, "shipping_list": true}),
    )
    .await;
    assert_eq!(job.status, JobStatus::Failed);
    // A failed export marks nothing 出力済: the orders stay in the next 未出力 export.
    for o in &os {
        let o = store.order_by_number(&o.order_number).await.unwrap();
        assert_eq!(o.shipping_list_state.label(), "未出力");
    }
    assert!(
        job.error.contains("行目") && job.error.contains("お名前") && job.error.contains('𠮷'),
        "{}",
        job.error
    );

    let lenient = store
        .add_csv_format(&format(RowPer::Item, Encoding::Cp932, Unmappable::Replace))
        .await
        .unwrap();
    let job = run(
        &store,
        JobKind::CsvExport,
        numbers(&os),
        json!({"format_id": lenient.id, "shipping_list": true}),
    )
    .await;
    assert_eq!(job.status, JobStatus::Completed, "{}", job.error);
    assert_eq!(job.result_type, "text/csv; charset=Shift_JIS");
    let bytes = file(&store, &job).await;
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "受注番号,お名前,商品コード,数量,受注メモ");
    assert!(lines.iter().any(|l| l.contains("〓田 花子")), "{text}");
    assert!(text.contains("'=HYPERLINK"), "{text}");
    let items = result_csv(&store, &job).await;
    assert!(
        items.iter().any(|i| i.2.contains("〓にしました")),
        "{items:?}"
    );
    // 出荷リスト出力用: 出力済 with today's date, through the pipeline.
    let o = store.order_by_number(&os[0].order_number).await.unwrap();
    assert_eq!(o.shipping_list_state.label(), "出力済");
    assert!(o.shipping_list_exported_on.is_some());
    let h = store.order_history(&o.order_number).await.unwrap();
    assert!(
        h.iter()
            .any(|e| e.field == "shipping_list_state" && e.actor_kind == "job")
    );

    let bom = store
        .add_csv_format(&format(RowPer::Order, Encoding::Utf8Bom, Unmappable::Error))
        .await
        .unwrap();
    let job = run(
        &store,
        JobKind::CsvExport,
        numbers(&os),
        json!({"format_id": bom.id}),
    )
    .await;
    assert_eq!(job.status, JobStatus::Completed);
    let bytes = file(&store, &job).await;
    assert!(bytes.starts_with(b"\xef\xbb\xbf"));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains("𠮷田 花子"));
    assert_eq!(text.split("\r\n").filter(|l| !l.is_empty()).count(), 4);
    // The same export in plain UTF-8, chosen at export time.
    let job = run(
        &store,
        JobKind::CsvExport,
        numbers(&os),
        json!({"format_id": bom.id, "encoding": "utf8"}),
    )
    .await;
    assert!(!file(&store, &job).await.starts_with(b"\xef\xbb\xbf"));
});

both_stores!(csv_formats_are_checked, |store| async move {
    let mut f = format(RowPer::Order, Encoding::Utf8, Unmappable::Error);
    f.columns.push(Column {
        key: "favourite_colour".into(),
        header: String::new(),
    });
    match store.add_csv_format(&f).await {
        Err(StoreError::Invalid(e)) => assert_eq!(e.0[0].field, "columns[3].key"),
        other => panic!("{other:?}"),
    }
    // Only the ready-made formats a new shop starts with.
    let names: Vec<String> = store
        .csv_formats()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["受注一覧", "出荷リスト", "受注明細"]);
    // An item column in a one-row-per-order format is refused with its position.
    let mut per_order = format(RowPer::Order, Encoding::Utf8, Unmappable::Error);
    per_order.columns.push(Column {
        key: "item_product_name".into(),
        header: String::new(),
    });
    match store.add_csv_format(&per_order).await {
        Err(StoreError::Invalid(e)) => {
            assert_eq!(e.0[0].field, "columns[3].key");
            assert!(e.0[0].message.contains("1行1商品"));
        }
        other => panic!("{other:?}"),
    }
});

both_stores!(
    jobs_can_be_cancelled_and_rescans_run_as_jobs,
    |store| async move {
        seed(&store).await;
        // A bulk update runs five chunks per transaction: one claim does
        // 1,000 orders; 10 more are left for a sixth chunk.
        let first_run = 5 * juchu_store::jobs::CHUNK_SIZE;
        let os = orders(&store, first_run as usize + 10, "TEA-01", None).await;
        let job = store
            .register_job(
                NewJob {
                    kind: JobKind::BulkUpdate,
                    selection: Some(numbers(&os)),
                    params: json!({"handling_status": "保留"}),
                },
                &actor(),
            )
            .await
            .unwrap();
        // One claim runs, then the job is cancelled: the rest is never touched.
        assert!(store.run_next_chunk().await.unwrap());
        let progress = store.job(job.id).await.unwrap();
        assert_eq!(progress.done, first_run);
        assert_eq!(
            count(
                &store,
                &format!("SELECT COUNT(*) AS n FROM job_chunks WHERE job_id = {} AND status = 'done' AND done = 200", job.id)
            )
            .await,
            5,
            "each chunk counts its own orders"
        );
        let cancelled = store.cancel_job(job.id).await.unwrap();
        assert_eq!(cancelled.status, JobStatus::Cancelled);
        assert_eq!(store.run_jobs(100).await.unwrap(), 0);
        let j = store.job(job.id).await.unwrap();
        assert_eq!(j.done, first_run);
        let marked = count(
            &store,
            &format!(
                "SELECT COUNT(*) AS n FROM job_items WHERE job_id = {} AND status = 'ok'",
                job.id
            ),
        )
        .await;
        assert_eq!(
            marked, first_run,
            "the claim's items are marked by their range"
        );
        let untouched = store
            .order_by_number(&os.last().unwrap().order_number)
            .await
            .unwrap();
        assert_ne!(
            store
                .masters()
                .await
                .unwrap()
                .handling_status(untouched.handling_status_id)
                .unwrap()
                .name,
            "保留"
        );
        assert!(matches!(
            store.cancel_job(job.id).await,
            Err(StoreError::Conflict { .. })
        ));

        // ブラックリスト再チェック as a job: an order placed before its customer
        // was blacklisted is found.
        let c = store
            .create_customer(CustomerInput {
                address: address("山田5", "x@example.jp"),
                ..Default::default()
            })
            .await
            .unwrap();
        store
            .set_blacklisted(c.id, true, "受取拒否", &actor())
            .await
            .unwrap();
        let job = store
            .register_job(
                NewJob {
                    kind: JobKind::BlacklistRescan,
                    selection: None,
                    params: json!({"days": 30}),
                },
                &actor(),
            )
            .await
            .unwrap();
        store.run_jobs(100).await.unwrap();
        let job = store.job(job.id).await.unwrap();
        assert_eq!(job.status, JobStatus::Completed);
        let o = store.order_by_number(&os[5].order_number).await.unwrap();
        assert!(o.needs_attention, "{:?}", o.needs_attention_reason);
        let items = result_csv(&store, &job).await;
        assert!(
            items
                .iter()
                .any(|i| i.0 == os[5].order_number && i.2.contains("要対応受注にしました"))
        );
    }
);

/// A PDF written to a file of its own (both stores' tests run at once in one
/// process).
fn temp_pdf(pdf: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "juchu-document-{}.pdf",
        &juchu_store::staff::random_token("")[..16]
    ));
    std::fs::write(&path, pdf).unwrap();
    path
}

/// A PDF's text (pdftotext from poppler-utils), as it is and without spaces.
fn pdf_text(pdf: &[u8]) -> (String, String) {
    let path = temp_pdf(pdf);
    let out = std::process::Command::new("pdftotext")
        .args([path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils; scripts/test installs it)");
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let squeezed = text.chars().filter(|c| !c.is_whitespace()).collect();
    (text, squeezed)
}

both_stores!(pdf_invoices_with_japanese_text, |store| async move {
    seed(&store).await;
    store
        .create_product(ProductInput {
            code: "CUP-01".into(),
            name: "有田焼の湯呑み".into(),
            unit_price: 3300,
            tax_rate: 10,
            shipping_fee: None,
            payment_fee: None,
            is_bundled_item: false,
            is_subscription: false,
        })
        .await
        .unwrap();
    let mut os = orders(&store, 2, "TEA-01", None).await;
    os.extend(orders(&store, 1, "CUP-01", None).await);
    let bad = store
        .update_shop_settings(&juchu_domain::mail::ShopInfo {
            name: "茶舗やまだ".into(),
            registration_number: "T123".into(),
            ..Default::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(e)) if e.0[0].field == "registration_number"));
    store
        .update_shop_settings(&juchu_domain::mail::ShopInfo {
            name: "茶舗やまだ".into(),
            address: "東京都渋谷区神宮前1-2-3".into(),
            phone: "03-0000-0000".into(),
            registration_number: "Ｔ１２３４５６７８９０１２３".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // The shop's logo (a 4×4 PNG); anything but PNG or JPEG is refused.
    assert!(matches!(
        store.set_shop_logo(b"GIF89a....").await,
        Err(StoreError::Invalid(_))
    ));
    store.set_shop_logo(&LOGO_PNG).await.unwrap();
    let job = run(
        &store,
        JobKind::PdfExport,
        numbers(&os),
        json!({"document": "invoice", "issue_date": "2026-12-01"}),
    )
    .await;
    assert_eq!(job.status, JobStatus::Completed, "{}", job.error);
    assert_eq!(job.result_type, "application/pdf");
    assert_eq!(job.done, 3);
    let pdf = file(&store, &job).await;
    assert!(pdf.starts_with(b"%PDF-"));
    // A subset of the font is embedded: far below the font's own size.
    assert!(pdf.len() < 2_000_000, "{} bytes", pdf.len());
    // The text reads back (searchable).
    let (text, squeezed) = pdf_text(&pdf);
    for want in [
        "請求書",
        "登録番号T1234567890123",
        "茶舗やまだ",
        "山田0花子様",
        "発行日2026-12-01",
        "8%対象",
        "10%対象",
        "内消費税",
        "※は軽減税率（8%）対象です。",
        "有田焼の湯呑み",
    ] {
        assert!(squeezed.contains(want), "{want} in {text}");
    }
    assert_eq!(squeezed.matches("請求書").count(), 3, "one per order");
    // The logo is in the PDF as an image (pdfimages, poppler-utils).
    let path = temp_pdf(&pdf);
    let images = std::process::Command::new("pdfimages")
        .args(["-list", path.to_str().unwrap()])
        .output()
        .expect("pdfimages");
    let _ = std::fs::remove_file(&path);
    let listed = String::from_utf8_lossy(&images.stdout).to_string();
    assert!(listed.lines().count() > 2, "the logo image: {listed}");
});

both_stores!(
    a_customer_with_several_orders_changes_once,
    |store| async move {
        seed(&store).await;
        let c = store
            .create_customer(CustomerInput {
                address: address("山田", "hanako@example.jp"),
                memo: "常連".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let os = orders(&store, 3, "TEA-01", Some(c.id)).await;
        let job = run(
            &store,
            JobKind::BulkUpdate,
            numbers(&os),
            json!({"customer_memo": {"mode": "add", "value": "年末に電話"}}),
        )
        .await;
        assert_eq!(
            (job.status, job.done, job.failed),
            (JobStatus::Completed, 3, 0)
        );
        let c = store.customer(c.id).await.unwrap();
        assert_eq!(c.memo, "常連\n年末に電話");
        let items = result_csv(&store, &job).await;
        assert!(
            items[1].2.contains("同じ顧客の別の受注で更新済み"),
            "{items:?}"
        );
    }
);

both_stores!(subscription_columns_in_exports, |store| async move {
    seed(&store).await;
    let mut os = orders(&store, 2, "SUP-01", None).await;
    os.extend(orders(&store, 1, "TEA-01", None).await);
    let f = store
        .add_csv_format(&CsvFormat {
            id: 0,
            name: "定期".into(),
            row_per: RowPer::Order,
            encoding: Encoding::Utf8,
            unmappable: Unmappable::Error,
            columns: ["order_number", "subscription_status", "subscription_count"]
                .iter()
                .map(|k| Column {
                    key: k.to_string(),
                    header: String::new(),
                })
                .collect(),
        })
        .await
        .unwrap();
    let job = run(
        &store,
        JobKind::CsvExport,
        numbers(&os),
        json!({"format_id": f.id}),
    )
    .await;
    let text = String::from_utf8(file(&store, &job).await).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[1].ends_with(",有効,1") && lines[2].ends_with(",有効,1"),
        "{text}"
    );
    assert!(
        lines[3].ends_with(",,"),
        "an order without a subscription: {text}"
    );
});

both_stores!(
    large_exports_stream_in_the_jobs_order_with_every_kind_of_column,
    |store| async move {
        seed(&store).await;
        store
            .create_product(ProductInput {
                code: "EMO-01".into(),
                name: "笑顔😀の湯呑み".into(),
                unit_price: 1100,
                tax_rate: 10,
                shipping_fee: None,
                payment_fee: None,
                is_bundled_item: false,
                is_subscription: false,
            })
            .await
            .unwrap();
        // Enough orders for several encoded batches (256 KB of text each), so
        // a note or an error far into the file lands on the right order.
        let n = 2_600;
        let far = 2_345;
        let inputs = (0..n)
            .map(|i| NewOrder {
                billing: address(if i == far { "𠮷野" } else { "鈴木" }, "hanako@example.jp"),
                items: vec![
                    ItemInput {
                        product_code: "TEA-01".into(),
                        quantity: 2,
                        unit_price: None,
                    },
                    ItemInput {
                        // The far order's second item holds another character
                        // CP932 lacks: its note lists both.
                        product_code: if i == far { "EMO-01" } else { "BIG-01" }.into(),
                        quantity: 1,
                        unit_price: None,
                    },
                ],
                carrier: Some("yamato".into()),
                payment_method: Some("cod".into()),
                labels: if i % 2 == 0 {
                    vec!["VIP".into()]
                } else {
                    vec![]
                },
                attributes: vec![
                    ("好きな色".into(), format!("色{i}")),
                    ("it's \\ 色".into(), format!("q{i}")),
                ],
                memo: "とても長いメモです。".repeat(3),
                ..Default::default()
            })
            .collect();
        let os = store.create_orders(inputs, &actor()).await.unwrap();
        let keys = [
            "order_number",
            "ordered_at",
            "handling_status",
            "payment_method",
            "carrier",
            "labels",
            "attribute:好きな色",
            "billing_name",
            "item_product_code",
            "item_amount",
            "item_tax_rate",
            "total",
            "memo",
            "item_product_name",
            // A quote and a backslash in a name: PostgreSQL's COPY takes the
            // name as a literal, and must read it as written.
            "attribute:it's \\ 色",
        ];
        let mut lenient = CsvFormat {
            id: 0,
            name: "全部".into(),
            row_per: RowPer::Item,
            encoding: Encoding::Cp932,
            unmappable: Unmappable::Replace,
            columns: keys
                .iter()
                .map(|k| Column {
                    key: k.to_string(),
                    header: String::new(),
                })
                .collect(),
        };
        let format = store.add_csv_format(&lenient).await.unwrap();
        let job = run(
            &store,
            JobKind::CsvExport,
            numbers(&os),
            json!({"format_id": format.id}),
        )
        .await;
        assert_eq!(job.status, JobStatus::Completed, "{}", job.error);
        assert_eq!((job.done, job.failed, job.skipped), (n as i64, 0, 0));
        let bytes = file(&store, &job).await;
        assert!(bytes.len() > 2 * (256 << 10), "{} bytes", bytes.len());
        let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
        assert!(!bad);
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 2 * n, "one record per item");
        for (k, o) in os.iter().enumerate() {
            let (a, b) = (&records[2 * k], &records[2 * k + 1]);
            assert_eq!(&a[0], o.order_number, "the job's order, record {k}");
            assert_eq!(&b[0], o.order_number);
            assert_eq!(&a[8], "TEA-01");
            assert_eq!(&b[8], if k == far { "EMO-01" } else { "BIG-01" });
            assert_eq!(&a[9], "2160");
            assert_eq!(&a[10], "8%");
            assert_eq!(&a[6], format!("色{k}"));
            assert_eq!(&a[5], if k % 2 == 0 { "VIP" } else { "" });
            assert_eq!(&a[14], format!("q{k}"));
        }
        let first = &records[0];
        assert_eq!(&first[2], "注文確定");
        assert_eq!(&first[3], "代金引換");
        assert_eq!(&first[4], "ヤマト運輸");
        assert_eq!(&first[7], "鈴木 花子");
        assert_eq!(&first[11], os[0].totals.total.to_string());
        assert_eq!(&first[1], juchu_domain::time::display_ts(os[0].ordered_at));
        assert_eq!(&records[2 * far][7], "〓野 花子");
        // The 〓 is noted on that order only; every other order is ok.
        let items = result_csv(&store, &job).await;
        assert_eq!(items.len(), n);
        for (k, (number, status, message)) in items.iter().enumerate() {
            assert_eq!(number, &os[k].order_number);
            assert_eq!(status, "ok");
            assert_eq!(message.contains("〓にしました"), k == far, "{k}: {message}");
            if k == far {
                assert!(message.contains("「𠮷😀」"), "{message}");
            }
        }

        // Refusing the character names its row (header = row 1, two rows per
        // order), column and order, however far into the file it is.
        lenient.name = "厳密".into();
        lenient.unmappable = Unmappable::Error;
        let strict = store.add_csv_format(&lenient).await.unwrap();
        let job = run(
            &store,
            JobKind::CsvExport,
            numbers(&os),
            json!({"format_id": strict.id}),
        )
        .await;
        assert_eq!(job.status, JobStatus::Failed);
        let row = 2 * far + 2;
        assert!(
            job.error.starts_with(&format!(
                "{row}行目（受注番号 {}）8列目「請求先氏名」の文字「𠮷」",
                os[far].order_number
            )),
            "{}",
            job.error
        );
    }
);

both_stores!(document_formats_shape_the_pdf, |store| async move {
    use juchu_domain::document::{Addressee, DocumentFormat, DocumentKind};
    seed(&store).await;
    let os = orders(&store, 2, "TEA-01", None).await;
    // 帳票管理: a gift's delivery note, addressed to the recipient, without prices.
    let gift = store
        .add_document_format(&DocumentFormat {
            name: " ギフト用 ".into(),
            title: "お届け明細".into(),
            addressee: Addressee::Shipping,
            show_prices: false,
            show_delivery: true,
            message: "いつもありがとうございます。".into(),
            ..DocumentFormat::standard(DocumentKind::DeliveryNote)
        })
        .await
        .unwrap();
    assert_eq!(gift.name, "ギフト用");
    assert_eq!(store.document_formats().await.unwrap().len(), 1);
    // What a qualified invoice must print cannot be left out.
    let refused = store
        .add_document_format(&DocumentFormat {
            name: "金額なし請求書".into(),
            show_prices: false,
            ..DocumentFormat::standard(DocumentKind::Invoice)
        })
        .await;
    assert!(matches!(refused, Err(StoreError::Invalid(e)) if e.0[0].field == "show_prices"));
    // A format of another document is refused when the job is registered.
    let wrong = store
        .register_job(
            NewJob {
                kind: JobKind::PdfExport,
                selection: Some(numbers(&os)),
                params: json!({"document": "receipt", "issue_date": "2026-12-01", "format_id": gift.id}),
            },
            &actor(),
        )
        .await;
    assert!(
        matches!(&wrong, Err(StoreError::Invalid(e)) if e.0[0].field == "params.format_id" && e.0[0].message.contains("納品書用")),
        "{wrong:?}"
    );
    let job = run(
        &store,
        JobKind::PdfExport,
        numbers(&os),
        json!({"document": "delivery_note", "issue_date": "2026-12-02", "format_id": gift.id}),
    )
    .await;
    assert_eq!(job.status, JobStatus::Completed, "{}", job.error);
    let (text, squeezed) = pdf_text(&file(&store, &job).await);
    assert_eq!(squeezed.matches("お届け明細").count(), 2, "{text}");
    assert!(squeezed.contains("配送業者:ヤマト運輸"), "{text}");
    assert!(squeezed.contains("配送予定日:2027-01-10"), "{text}");
    assert!(squeezed.contains("いつもありがとうございます。"), "{text}");
    for absent in ["単価", "合計（税込）", "内消費税", "ご請求金額"] {
        assert!(!squeezed.contains(absent), "{absent} in {text}");
    }
    // The standard layout still prints the prices.
    let job = run(
        &store,
        JobKind::PdfExport,
        numbers(&os),
        json!({"document": "delivery_note", "issue_date": "2026-12-02"}),
    )
    .await;
    let (_, squeezed) = pdf_text(&file(&store, &job).await);
    assert!(squeezed.contains("単価") && squeezed.contains("内消費税"));
    store.delete_document_format(gift.id).await.unwrap();
    assert!(matches!(
        store.delete_document_format(gift.id).await,
        Err(StoreError::NotFound(_))
    ));
});

both_stores!(
    finished_jobs_lose_items_and_files_after_the_retention_period,
    |store| async move {
        seed(&store).await;
        let os = orders(&store, 3, "TEA-01", None).await;
        let format = store
            .add_csv_format(&format(RowPer::Order, Encoding::Utf8, Unmappable::Error))
            .await
            .unwrap();
        let old = run(
            &store,
            JobKind::CsvExport,
            numbers(&os),
            json!({"format_id": format.id}),
        )
        .await;
        let recent = run(
            &store,
            JobKind::Dunning,
            numbers(&os),
            json!({"memo": "お支払いのお願い"}),
        )
        .await;
        // The export finished long ago; the dunning job just now.
        juchu_store::testing::execute(
            &store,
            &format!(
                "UPDATE jobs SET finished_at = '2020-01-01T00:00:00Z' WHERE id = {}",
                old.id
            ),
        )
        .await;
        let cutoff = juchu_domain::time::format_ts(
            store
                .clock
                .now()
                .checked_sub(jiff::SignedDuration::from_hours(24 * 30))
                .unwrap(),
        );
        assert_eq!(store.purge_finished_jobs(&cutoff).await.unwrap(), 1);
        assert_eq!(store.purge_finished_jobs(&cutoff).await.unwrap(), 0);
        let purged = store.job(old.id).await.unwrap();
        assert!(purged.purged_at.is_some());
        // The row and its counts stay; the items and the file are gone.
        assert_eq!((purged.total, purged.done), (3, 3));
        assert!(store.job_items(old.id, 0, 10).await.unwrap().is_empty());
        assert!(store.job_file_part(old.id, 0).await.unwrap().is_none());
        let kept = store.job(recent.id).await.unwrap();
        assert!(kept.purged_at.is_none());
        assert_eq!(store.job_items(recent.id, 0, 10).await.unwrap().len(), 3);
    }
);
