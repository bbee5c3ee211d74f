//! 出荷 on SQLite and PostgreSQL: packages (分納, 個数口) through the order
//! pipeline, a carrier's result file joined back by お客様管理番号, the import
//! as a job with its per-row CSV, 入金消込, and the carriers' label files.

use juchu_domain::customer::Address;
use juchu_domain::job::{FileImport, JobKind, JobStatus};
use juchu_domain::order::{ItemInput, NewOrder, Order};
use juchu_domain::patch::OrderPatch;
use juchu_domain::shipment::ShipmentItem;
use juchu_domain::shipment_change::{ShipmentPatch, ShipmentsPatch, SplitShipment};
use juchu_domain::shipment_import::{FileEncoding, Layout};
use juchu_domain::status::{PaymentStatus, ShipmentStatus};
use juchu_store::jobs::{NewJob, Selection};
use juchu_store::masters::ProductInput;
use juchu_store::{Actor, Store, both_stores};

fn actor() -> Actor {
    Actor::Staff {
        id: 1,
        name: "佐藤".into(),
    }
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

async fn products(store: &Store) {
    for (code, name) in [("TEA-01", "有機緑茶"), ("CUP-01", "湯呑み")] {
        store
            .create_product(ProductInput {
                code: code.into(),
                name: name.into(),
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
}

async fn orders(store: &Store, n: usize, payment: &str) -> Vec<Order> {
    let input = NewOrder {
        billing: address(),
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
        carrier: Some("yamato".into()),
        payment_method: Some(payment.into()),
        ..Default::default()
    };
    store
        .create_orders(vec![input; n], &Actor::system("test"))
        .await
        .unwrap()
}

fn split(lines: &[(usize, i64)]) -> OrderPatch {
    OrderPatch {
        shipments: ShipmentsPatch {
            split: Some(SplitShipment {
                from: 1,
                items: lines
                    .iter()
                    .map(|(line, quantity)| ShipmentItem {
                        line: *line,
                        quantity: *quantity,
                    })
                    .collect(),
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn ship(number: u32, tracking: &[&str]) -> OrderPatch {
    OrderPatch {
        shipments: ShipmentsPatch {
            shipments: vec![ShipmentPatch {
                number,
                tracking_numbers: Some(tracking.iter().map(|t| t.to_string()).collect()),
                ..Default::default()
            }],
            ..Default::default()
        },
        ..Default::default()
    }
}

both_stores!(
    packages_split_ship_and_mail_every_link,
    |store| async move {
        store.load_automation_presets().await.unwrap();
        products(&store).await;
        let o = &orders(&store, 1, "credit_card").await[0];
        let n = o.order_number.as_str();
        let c = store
            .change_order(n, None, &split(&[(1, 1)]), &actor(), "分納")
            .await
            .unwrap();
        assert_eq!(c.order.shipments.len(), 2);
        assert_eq!(
            c.changes.iter().filter(|c| c.field == "shipments").count(),
            1
        );
        // The first package ships: its first number fires the preset (発送完了 and
        // the mail), the order is not yet 発送済.
        let c = store
            .change_order(
                n,
                None,
                &ship(1, &["1234-5678-9013", "123456789024"]),
                &actor(),
                "",
            )
            .await
            .unwrap();
        assert_eq!(c.order.shipment_status, ShipmentStatus::NotShipped);
        let kinds: Vec<&str> = c.events.iter().map(|e| e.kind()).collect();
        assert!(kinds.contains(&"tracking_number_set"), "{kinds:?}");
        assert!(kinds.contains(&"package_status_became"), "{kinds:?}");
        assert!(!kinds.contains(&"shipment_status_became"), "{kinds:?}");
        // The second package: now every package is 発送済.
        let c = store
            .change_order(n, None, &ship(2, &["4444-5555-6661"]), &actor(), "")
            .await
            .unwrap();
        assert_eq!(c.order.shipment_status, ShipmentStatus::Shipped);
        assert_eq!(c.order.shipped_at, Some(store.clock.today()));
        assert!(
            c.events
                .iter()
                .any(|e| e.kind() == "shipment_status_became")
        );
        // Stored and read back: both packages with every number.
        let back = store.order_by_number(n).await.unwrap();
        assert_eq!(back.shipments, c.order.shipments);
        assert_eq!(
            back.shipments[0].tracking_numbers,
            ["123456789013", "123456789024"]
        );
        // 発送完了メール went once (first number), listing each parcel's link.
        let mails = store.order_mails(back.id).await.unwrap();
        let shipped: Vec<_> = mails
            .iter()
            .filter(|m| m.template_code == "shipped")
            .collect();
        assert_eq!(shipped.len(), 1);
        assert!(
            shipped[0].body.contains("123456789013"),
            "{}",
            shipped[0].body
        );
        assert!(
            shipped[0].body.contains("123456789024"),
            "{}",
            shipped[0].body
        );
        // Order-level shipping fields of a split order are refused, named.
        let e = store
            .change_order(
                n,
                None,
                &OrderPatch {
                    tracking_number: Some(Some("123456789035".into())),
                    ..Default::default()
                },
                &actor(),
                "",
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("出荷ごと"), "{e}");
    }
);

both_stores!(
    a_b2_result_file_joins_back_by_shipment_id,
    |store| async move {
        products(&store).await;
        let os = orders(&store, 3, "credit_card").await;
        let (a, b, c) = (
            &os[0].order_number,
            &os[1].order_number,
            &os[2].order_number,
        );
        store
            .change_order(b, None, &split(&[(0, 1)]), &actor(), "分納")
            .await
            .unwrap();
        // B2's 発行済データ: 伝票番号 (col 4) beside our お客様管理番号 (col 1). Two
        // rows of one package are its parcels; an order number works too.
        let text = format!(
            "お客様管理番号,送り状種類,クール区分,伝票番号,出荷予定日\r\n\
         {a}-1,0,0,1234-5678-9013,2026/12/06\r\n\
         {a}-1,0,0,1234-5678-9024,2026/12/06\r\n\
         {b}-2,0,0,4444-5555-6661,2026/12/06\r\n\
         {c},0,0,3000-0000-0005,2026/12/06\r\n\
         {b}-9,0,0,3000-0000-0016,2026/12/06\r\n"
        );
        let (file, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
        let b2 = store.import_layout("yamato_b2").await.unwrap();
        let preview = store
            .preview_shipment_import(&file, FileEncoding::Detect, &b2)
            .await
            .unwrap();
        let got: Vec<(usize, &str)> = preview
            .iter()
            .map(|r| (r.row, r.outcome.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (2, "変更"),
                (3, "変更"),
                (4, "変更"),
                (5, "変更"),
                (6, "エラー")
            ],
            "{preview:?}"
        );
        assert!(preview[0].message.contains("個数口2個"), "{preview:?}");
        assert_eq!(preview[2].order_number, *b);
        let run = store
            .run_shipment_import(&file, FileEncoding::Detect, &b2, &actor())
            .await
            .unwrap();
        assert_eq!(run, preview);
        let oa = store.order_by_number(a).await.unwrap();
        assert_eq!(
            oa.effective_shipments()[0].tracking_numbers,
            ["123456789013", "123456789024"]
        );
        assert_eq!(oa.shipment_status, ShipmentStatus::Shipped);
        let ob = store.order_by_number(b).await.unwrap();
        assert_eq!(ob.shipments[1].status, ShipmentStatus::Shipped);
        assert_eq!(ob.shipments[0].status, ShipmentStatus::NotShipped);
        assert_eq!(
            ob.shipment_status,
            ShipmentStatus::NotShipped,
            "one package left"
        );
        // Again: nothing changes.
        let again = store
            .run_shipment_import(&file, FileEncoding::Detect, &b2, &actor())
            .await
            .unwrap();
        assert!(
            again[..4].iter().all(|r| r.outcome == "変更なし"),
            "{again:?}"
        );
        // A saved mapping by header name.
        let f = store
            .save_shipment_import_format(
                None,
                &juchu_store::shipping::ImportFormatInput {
                    name: "倉庫".into(),
                    order_number: "注文番号".into(),
                    tracking_number: "送り状".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let own = store.import_layout(&f.id.to_string()).await.unwrap();
        let rows = store
            .preview_shipment_import(
                format!("送り状,注文番号\n3000-0000-0005,{c}\n").as_bytes(),
                FileEncoding::Detect,
                &own,
            )
            .await
            .unwrap();
        assert_eq!(rows[0].outcome, "変更なし", "{rows:?}");
        assert!(store.import_layout("9999").await.is_err());
    }
);

both_stores!(imports_run_as_jobs_with_a_per_row_csv, |store| async move {
    products(&store).await;
    let os = orders(&store, 2, "bank_transfer").await;
    let text = format!(
        "受注番号,配送伝票番号\r\n{},1234-5678-9013\r\n{},1234-5678-9012\r\n",
        os[0].order_number, os[1].order_number
    );
    let layout = Layout::builtin("standard").unwrap();
    let job = store
        .register_file_job(
            JobKind::ShipmentImport,
            &FileImport {
                format: "standard".into(),
                file_name: "shipped.csv".into(),
                layout: Some(layout),
            },
            text,
            2,
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    store.run_jobs(100).await.unwrap();
    let job = store.job(job.id).await.unwrap();
    assert_eq!(job.status, JobStatus::Completed, "{}", job.error);
    assert_eq!((job.done, job.failed, job.skipped), (2, 1, 0));
    let mut csv = Vec::new();
    let mut part = 0;
    while let Some(b) = store.job_file_part(job.id, part).await.unwrap() {
        csv.extend(b);
        part += 1;
    }
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.starts_with("\u{feff}行,受注番号,結果,内容\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("2,{},変更,", os[0].order_number)),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("3,{},エラー,", os[1].order_number)),
        "{csv}"
    );
    // Registering such a job from a selection is refused, named.
    let e = store
        .register_job(
            NewJob {
                kind: JobKind::ShipmentImport,
                selection: Some(Selection::OrderNumbers(vec![os[0].order_number.clone()])),
                params: serde_json::json!({"format": "standard"}),
            },
            &actor(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("shipment-imports"), "{e}");

    // 入金消込: the standard format and a bank's list.
    for o in &os {
        store
            .change_order(
                &o.order_number,
                None,
                &OrderPatch {
                    payment_status: Some("入金待ち".into()),
                    ..Default::default()
                },
                &actor(),
                "",
            )
            .await
            .unwrap();
    }
    let total = os[0].totals.total;
    let file = format!(
        "受注番号,入金額,入金日\n{},\"{}\",2026/12/05\n{},100,2026/12/05\nX-404,100,\n",
        os[0].order_number,
        format_args!("{},{:03}", total / 1000, total % 1000),
        os[1].order_number
    );
    let preview = store
        .preview_payment_import(file.as_bytes(), FileEncoding::Detect, "standard")
        .await
        .unwrap();
    let got: Vec<&str> = preview.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(got, ["変更", "エラー", "エラー"], "{preview:?}");
    assert!(preview[1].message.contains("¥100"), "{preview:?}");
    let run = store
        .run_payment_import(file.as_bytes(), FileEncoding::Detect, "standard", &actor())
        .await
        .unwrap();
    assert_eq!(run, preview);
    let paid = store.order_by_number(&os[0].order_number).await.unwrap();
    assert_eq!(paid.payment_status, PaymentStatus::Paid);
    assert_eq!(paid.paid_at, Some("2026-12-05".parse().unwrap()));
    let again = store
        .run_payment_import(file.as_bytes(), FileEncoding::Detect, "standard", &actor())
        .await
        .unwrap();
    assert_eq!(again[0].outcome, "変更なし");
    // The bank's list: half-width kana name and amount find the one order.
    let bank = format!("取扱日,振込依頼人名,金額\n20261206,ﾔﾏﾀﾞ ﾊﾅｺ,{total}\n");
    let (bank, _, _) = encoding_rs::SHIFT_JIS.encode(&bank);
    let run = store
        .run_payment_import(&bank, FileEncoding::Detect, "bank_transfer", &actor())
        .await
        .unwrap();
    assert_eq!(run[0].outcome, "変更", "{run:?}");
    assert_eq!(run[0].order_number, os[1].order_number);
    let paid = store.order_by_number(&os[1].order_number).await.unwrap();
    assert_eq!(paid.payment_status, PaymentStatus::Paid);
    let again = store
        .run_payment_import(&bank, FileEncoding::Detect, "bank_transfer", &actor())
        .await
        .unwrap();
    assert_eq!(again[0].outcome, "変更なし", "{again:?}");
});

both_stores!(carrier_files_in_the_carriers_layouts, |store| async move {
    products(&store).await;
    let mut os = orders(&store, 3, "cod").await;
    // A name the carrier cannot print, a package already shipped.
    let mut shipping = address();
    shipping.family_name = "𠮷田".into();
    store
        .change_order(
            &os[0].order_number,
            None,
            &OrderPatch {
                shipping: Some(shipping),
                delivery_time_slot: Some(Some("午前中".into())),
                ..Default::default()
            },
            &actor(),
            "",
        )
        .await
        .unwrap();
    store
        .change_order(
            &os[2].order_number,
            None,
            &ship(1, &["123456789013"]),
            &actor(),
            "",
        )
        .await
        .unwrap();
    // A 代金引換 order in two packages: 代引 is collected once.
    store
        .change_order(&os[1].order_number, None, &split(&[(1, 1)]), &actor(), "")
        .await
        .unwrap();
    os[0] = store.order_by_number(&os[0].order_number).await.unwrap();
    let numbers: Vec<String> = os.iter().map(|o| o.order_number.clone()).collect();
    let new = |fmt: &str| NewJob {
        kind: JobKind::CarrierExport,
        selection: Some(Selection::OrderNumbers(numbers.clone())),
        params: serde_json::json!({"carrier_format": fmt, "shipping_list": true}),
    };
    // Without the carrier's codes the job is refused, the setting named.
    let e = store
        .register_job(new("yamato_b2"), &actor())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("請求先顧客コード"), "{e}");
    store
        .save_shipping_settings(&juchu_domain::carrier_file::ShippingSettings {
            sender_phone: "03-0000-0000".into(),
            sender_postal_code: "1500001".into(),
            sender_address1: "東京都渋谷区神宮前1-2-3".into(),
            yamato_customer_code: "012345678901".into(),
            yamato_freight_number: "01".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let job = store
        .register_job(new("yamato_b2"), &actor())
        .await
        .unwrap();
    store.run_jobs(100).await.unwrap();
    let job = store.job(job.id).await.unwrap();
    assert_eq!(job.status, JobStatus::Completed, "{}", job.error);
    assert!(
        job.result_name.starts_with("yamato_b2_"),
        "{}",
        job.result_name
    );
    let mut bytes = Vec::new();
    let mut part = 0;
    while let Some(b) = store.job_file_part(job.id, part).await.unwrap() {
        bytes.extend(b);
        part += 1;
    }
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad, "CP932");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4, "header and three packages: {text}");
    let collect: Vec<&str> = lines[2..]
        .iter()
        .map(|l| l.split(',').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(collect, ["2", "0"], "コレクト on the first package only");
    assert!(!text.replace("\r\n", "").contains('\n'), "CRLF only");
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first.len(), 95);
    assert_eq!(first[0], format!("{}-1", numbers[0]));
    assert_eq!(first[1], "2", "代金引換 → コレクト");
    assert_eq!(first[6], "0812");
    assert_eq!(first[33], os[0].totals.total.to_string());
    assert!(first[15].starts_with("吉田"), "{}", first[15]);
    assert!(!text.contains('\''), "never formula-escaped");
    // Notes per order: the replacement, the shipped one left out.
    let items = store.job_items(job.id, 0, 100).await.unwrap();
    let note = |n: &str| {
        items
            .iter()
            .find(|i| i.order_number == n)
            .map(|i| i.message.clone())
            .unwrap_or_default()
    };
    assert!(note(&numbers[0]).contains("𠮷"), "{items:?}");
    assert!(note(&numbers[2]).contains("発送済"), "{items:?}");
    assert!(note(&numbers[1]).contains("発払い"), "{items:?}");
    // 出荷リスト出力用: the exported orders are 出力済.
    let o = store.order_by_number(&numbers[1]).await.unwrap();
    assert_eq!(o.shipping_list_state.label(), "出力済");
    let o = store.order_by_number(&numbers[2]).await.unwrap();
    assert_eq!(
        o.shipping_list_state.label(),
        "未出力",
        "nothing was written for it"
    );
    // Without 出荷リスト出力用: the items are ok once complete, notes kept.
    let job = store
        .register_job(
            NewJob {
                kind: JobKind::CarrierExport,
                selection: Some(Selection::OrderNumbers(numbers.clone())),
                params: serde_json::json!({"carrier_format": "japanpost_yupri"}),
            },
            &actor(),
        )
        .await
        .unwrap();
    store.run_jobs(100).await.unwrap();
    let job = store.job(job.id).await.unwrap();
    assert_eq!(
        (job.status, job.done),
        (JobStatus::Completed, 3),
        "{}",
        job.error
    );
    let items = store.job_items(job.id, 0, 100).await.unwrap();
    assert!(items.iter().all(|i| i.status == "ok"), "{items:?}");
    assert!(
        items.iter().any(|i| i.message.contains("ヤマト運輸のため")),
        "packages of another carrier are left out: {items:?}"
    );
    // 佐川 needs its own code.
    let e = store
        .register_job(new("sagawa_ehiden3"), &actor())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("お客様コード"), "{e}");
});
