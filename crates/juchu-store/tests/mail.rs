//! A rule's mail goes through a real SMTP server: rendered and queued with the
//! change, delivered by `deliver_mail`, received by an SMTP server on loopback.
//! Opted-out customers get nothing and the order says why. Both stores.

use juchu_adapters::SmtpConfig;
use juchu_domain::automation::{Action, Rule, Trigger};
use juchu_domain::customer::{Address, CustomerInput};
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_domain::patch::OrderPatch;
use juchu_store::masters::ProductInput;
use juchu_store::{Actor, Store, both_stores};
use mailin_embedded::{Handler, Server, response};
use std::sync::{Arc, Mutex};

/// Collects every message the SMTP server receives.
#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Vec<String>>>, Arc<Mutex<Vec<u8>>>);

impl Handler for Inbox {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.1.lock().unwrap().extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> mailin_embedded::Response {
        let raw = std::mem::take(&mut *self.1.lock().unwrap());
        self.0
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&raw).into_owned());
        response::OK
    }
}

fn smtp_sink() -> (Inbox, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Inbox::default();
    let mut server = Server::new(inbox.clone());
    server.with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (inbox, port)
}

fn address(email: &str) -> Address {
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
        email: email.into(),
        ..Default::default()
    }
}

async fn order(store: &Store, customer_id: Option<i64>, email: &str) -> String {
    store
        .create_orders(
            vec![NewOrder {
                customer_id,
                billing: address(email),
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
        .remove(0)
        .order_number
}

both_stores!(rule_mail_is_delivered_over_smtp, |store| async move {
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
    store
        .add_automation_rule(&Rule {
            id: 0,
            name: "発送完了メール".into(),
            position: 1,
            enabled: true,
            trigger: Trigger::EventKind {
                event: "tracking_number_set".into(),
            },
            conditions: Vec::new(),
            action: Action::SendMail {
                template: "shipped".into(),
            },
        })
        .await
        .unwrap();
    let ship = |n: &str| {
        let store = store.clone();
        let n = n.to_string();
        async move {
            store
                .change_order(
                    &n,
                    None,
                    &OrderPatch {
                        tracking_number: Some(Some("1234-5678-9013".into())),
                        ..Default::default()
                    },
                    &Actor::system("test"),
                    "",
                )
                .await
                .unwrap()
        }
    };
    let n = order(&store, None, "hanako@example.jp").await;
    ship(&n).await;
    // An opted-out customer gets nothing; the order says why.
    let opted = store
        .create_customer(CustomerInput {
            address: address("out@example.jp"),
            mail_opt_out: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let quiet = order(&store, Some(opted.id), "out@example.jp").await;
    ship(&quiet).await;
    let h = store.order_history(&quiet).await.unwrap();
    assert!(
        h.iter()
            .any(|h| h.field == "mail" && h.after.contains("送信しない")),
        "{h:?}"
    );
    // … and its mail list shows the skipped mail with the reason.
    let quiet_id = store.order_by_number(&quiet).await.unwrap().id;
    let skipped = store.order_mails(quiet_id).await.unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].status, "skipped");
    assert!(skipped[0].last_error.contains("送信しない"));

    let (inbox, port) = smtp_sink();
    let smtp = SmtpConfig::parse(&format!("smtp://127.0.0.1:{port}"), "shop@example.jp").unwrap();
    let sender = smtp.sender().unwrap();
    let d = store.deliver_mail(&sender, 10).await.unwrap();
    assert_eq!((d.sent, d.failed.len()), (1, 0), "{d:?}");
    // Nothing left: a second round sends nothing again.
    assert_eq!(store.deliver_mail(&sender, 10).await.unwrap().sent, 0);
    let got = inbox.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("hanako@example.jp"), "{}", got[0]);
    let id = store.order_by_number(&n).await.unwrap().id;
    let mails = store.order_mails(id).await.unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].status, "sent");
    assert!(mails[0].subject.contains(&n));
    assert!(mails[0].body.contains("123456789013"));
    // Japanese subject and body arrive intact (encoded words / UTF-8), as a
    // mail client decodes them.
    let parsed = mailparse::parse_mail(got[0].as_bytes()).unwrap();
    use mailparse::MailHeaderMap;
    assert_eq!(
        parsed.headers.get_first_value("Subject").unwrap(),
        mails[0].subject
    );
    assert!(mails[0].subject.contains("発送のお知らせ"));
    // SMTP lines end in CRLF.
    assert_eq!(
        parsed.get_body().unwrap().replace("\r\n", "\n").trim_end(),
        mails[0].body.trim_end()
    );
    // A MIME message with a Message-ID at the sender's domain (the same on
    // every retry of this mail) and the shop's name as the sender's name.
    assert_eq!(
        parsed.headers.get_first_value("MIME-Version").as_deref(),
        Some("1.0")
    );
    let id = parsed.headers.get_first_value("Message-ID").unwrap();
    assert!(
        id.starts_with("<juchu.") && id.ends_with("@example.jp>"),
        "{id}"
    );
    let from = parsed.headers.get_first_value("From").unwrap();
    let shop = store.shop_settings().await.unwrap().name;
    assert!(!shop.is_empty());
    let from_addr = mailparse::addrparse(&from).unwrap();
    match &from_addr[0] {
        mailparse::MailAddr::Single(a) => {
            assert_eq!(a.display_name.as_deref(), Some(shop.as_str()), "{from}");
            assert_eq!(a.addr, "shop@example.jp");
        }
        other => panic!("{other:?}"),
    }

    // A server that is down: the mail stays queued with the error, for a retry.
    let n2 = order(&store, None, "jiro@example.jp").await;
    ship(&n2).await;
    let down = SmtpConfig::parse("smtp://127.0.0.1:1", "shop@example.jp").unwrap();
    let d = store
        .deliver_mail(&down.sender().unwrap(), 10)
        .await
        .unwrap();
    assert_eq!((d.sent, d.failed.len()), (0, 1));
    let id2 = store.order_by_number(&n2).await.unwrap().id;
    let m = store.order_mails(id2).await.unwrap().remove(0);
    assert_eq!((m.status.as_str(), m.attempts), ("pending", 1));
    assert!(!m.last_error.is_empty());
    // A template that does not render is refused when saved.
    assert!(
        store
            .update_mail_template("shipped", "{{ nope }}", "本文")
            .await
            .is_err()
    );
    assert!(SmtpConfig::parse("http://x", "a@b.jp").is_err());
});

both_stores!(a_new_order_can_send_its_confirmation, |store| async move {
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
    let report = store.load_automation_presets().await.unwrap();
    assert!(report.skipped.is_empty(), "{report:?}");
    let n = order(&store, None, "hanako@example.jp").await;
    let o = store.order_by_number(&n).await.unwrap();
    let mails = store.order_mails(o.id).await.unwrap();
    assert_eq!(mails.len(), 1, "no shop address yet: {mails:?}");
    assert_eq!(mails[0].template_code, "order_received");
    assert!(mails[0].body.contains("有機緑茶"));
    // With the shop's address set, the shop gets its copy.
    let bad = store
        .update_shop_settings(&juchu_domain::mail::ShopInfo {
            name: "茶舗".into(),
            email: "not an address".into(),
            ..Default::default()
        })
        .await;
    assert!(bad.is_err());
    store
        .update_shop_settings(&juchu_domain::mail::ShopInfo {
            name: "茶舗やまだ".into(),
            email: "orders@shop.example.jp".into(),
            phone: "03-0000-0000".into(),
            address: "東京都渋谷区".into(),
            registration_number: String::new(),
            ..Default::default()
        })
        .await
        .unwrap();
    let n = order(&store, None, "hanako@example.jp").await;
    let o = store.order_by_number(&n).await.unwrap();
    let mails = store.order_mails(o.id).await.unwrap();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(mails[0].to, "hanako@example.jp");
    assert!(
        mails[0].subject.starts_with("【茶舗やまだ】"),
        "{}",
        mails[0].subject
    );
    assert!(mails[0].body.contains("03-0000-0000"));
    assert_eq!(mails[1].to, "orders@shop.example.jp");
    assert!(mails[1].subject.starts_with("【ショップ控え】"));
    // Preview with a real order, also of an edit not saved yet.
    let (subject, _) = store.preview_mail("shipped", &n, None).await.unwrap();
    assert!(subject.contains(&n));
    let (_, body) = store
        .preview_mail(
            "shipped",
            &n,
            Some(("件名", "{{ customer_name }} / {{ total }}")),
        )
        .await
        .unwrap();
    assert_eq!(body, format!("山田 花子 / {}", o.totals.total));
    assert!(
        store
            .preview_mail("shipped", &n, Some(("x", "{{ nope }}")))
            .await
            .is_err()
    );
    let h = store.order_history(&n).await.unwrap();
    assert!(h.iter().any(|h| h.field == "mail"), "{h:?}");
});
