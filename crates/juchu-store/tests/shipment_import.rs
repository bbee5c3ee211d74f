//! 出荷実績インポート (standard format) on SQLite and PostgreSQL: a CP932 file
//! from Excel is previewed row by row without changing anything, then run
//! through the pipeline (a first number ships the order and fires the preset
//! 発送完了 rules); refused rows say why; the same file again is 変更なし.

use juchu_domain::customer::Address;
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_domain::shipment_import::{FileEncoding, Layout};
use juchu_domain::status::ShipmentStatus;
use juchu_store::masters::ProductInput;
use juchu_store::{Actor, Store, both_stores};

fn standard() -> Layout {
    Layout::builtin("standard").unwrap()
}

async fn orders(store: &Store, n: usize) -> Vec<String> {
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
    let input = NewOrder {
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
    };
    store
        .create_orders(vec![input; n], &Actor::system("test"))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.order_number)
        .collect()
}

both_stores!(
    a_cp932_file_is_previewed_then_applied_once,
    |store| async move {
        store.load_automation_presets().await.unwrap();
        let numbers = orders(&store, 3).await;
        let text = format!(
            "受注番号,配送伝票番号,発送完了日\r\n{},1234-5678-9013,\r\n{},1234-5678-9012,\r\n99999,4444-5555-6661,\r\n{},,\r\n",
            numbers[0], numbers[1], numbers[2]
        );
        let (file, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
        let preview = store
            .preview_shipment_import(&file, FileEncoding::Detect, &standard())
            .await
            .unwrap();
        let got: Vec<(usize, &str)> = preview
            .iter()
            .map(|r| (r.row, r.outcome.as_str()))
            .collect();
        assert_eq!(
            got,
            [(2, "変更"), (3, "エラー"), (4, "エラー"), (5, "変更なし")]
        );
        assert!(
            preview[1].message.contains("チェックデジット"),
            "{preview:?}"
        );
        assert!(preview[2].message.contains("99999"), "{preview:?}");
        // The preview changed nothing.
        let o = store.order_by_number(&numbers[0]).await.unwrap();
        assert_eq!(o.tracking_number, None);

        let actor = Actor::Staff {
            id: 1,
            name: "佐藤".into(),
        };
        let run = store
            .run_shipment_import(&file, FileEncoding::Detect, &standard(), &actor)
            .await
            .unwrap();
        assert_eq!(run, preview);
        let o = store.order_by_number(&numbers[0]).await.unwrap();
        assert_eq!(o.tracking_number.as_deref(), Some("123456789013"));
        assert_eq!(o.shipment_status, ShipmentStatus::Shipped);
        assert_eq!(o.shipped_at, Some(store.clock.today()));
        // The preset rules fired: 発送完了 and its mail, once.
        let m = store.masters().await.unwrap();
        assert_eq!(
            m.handling_status(o.handling_status_id).unwrap().name,
            "発送完了"
        );
        let mails = store.order_mails(o.id).await.unwrap();
        assert_eq!(
            mails
                .iter()
                .filter(|m| m.template_code == "shipped")
                .count(),
            1
        );
        // A blank cell erased nothing; the same file again is 変更なし.
        let again = store
            .run_shipment_import(&file, FileEncoding::Detect, &standard(), &actor)
            .await
            .unwrap();
        assert_eq!(again[0].outcome, "変更なし");
        let mails = store.order_mails(o.id).await.unwrap();
        assert_eq!(
            mails
                .iter()
                .filter(|m| m.template_code == "shipped")
                .count(),
            1
        );
        // One order on two rows: one package, the later row's status wins.
        let twice = format!(
            "受注番号,配送伝票番号,発送状況\n{n},4444-5555-6661,発送指示\n{n},4444-5555-6661,発送済\n",
            n = numbers[2]
        );
        let run = store
            .run_shipment_import(twice.as_bytes(), FileEncoding::Detect, &standard(), &actor)
            .await
            .unwrap();
        let got: Vec<&str> = run.iter().map(|r| r.outcome.as_str()).collect();
        assert_eq!(got, ["変更", "変更"], "{run:?}");
        let o = store.order_by_number(&numbers[2]).await.unwrap();
        assert_eq!(o.tracking_number.as_deref(), Some("444455556661"));
        assert_eq!(o.shipment_status, ShipmentStatus::Shipped);
        // A file that is not CSV of the format names what is missing.
        let err = store
            .preview_shipment_import(
                "番号,伝票\n1,2\n".as_bytes(),
                FileEncoding::Detect,
                &standard(),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("受注番号"), "{err}");
    }
);
