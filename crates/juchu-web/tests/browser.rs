//! The admin UI in a real headless Chromium (Debian's chromium + chromedriver):
//! log in, search, open an order, change its 対応状況, and see it in 履歴.
//! A missing browser fails the test: `.ci/run` installs it.

mod common;

use common::{TestApp, seed_products};
use fantoccini::{ClientBuilder, Locator};
use juchu_domain::access::Role;
use juchu_domain::customer::Address;
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_store::Actor;
use juchu_store::testing::TestStore;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> (Driver, u16) {
    let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let port = free_port();
    let child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("chromedriver not runnable at {bin} ({e}); install Debian's chromium and chromium-driver (.ci/run does)"));
    let driver = Driver(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (driver, port);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on port {port}");
}

/// A headless Chromium at `width`×1000 through chromedriver; the profile
/// directory is removed by the caller.
async fn browser(port: u16, width: u32) -> (fantoccini::Client, std::path::PathBuf) {
    let profile = std::env::temp_dir().join(format!("juchu-chrome-{}", free_port()));
    let mut options = serde_json::json!({
        "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", format!("--window-size={},1000", width.max(500)), format!("--user-data-dir={}", profile.display())]
    });
    // A window is at least 500 px wide; a phone's viewport is emulated.
    if width < 500 {
        options["mobileEmulation"] = serde_json::json!({
            "deviceMetrics": {"width": width, "height": 812, "pixelRatio": 2.0, "touch": true}
        });
    }
    let caps: serde_json::Map<String, serde_json::Value> =
        serde_json::from_value(serde_json::json!({ "goog:chromeOptions": options })).unwrap();
    let c = ClientBuilder::rustls()
        .expect("tls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect to chromedriver");
    (c, profile)
}

async fn log_in(
    c: &fantoccini::Client,
    app: &TestApp,
    email: &str,
    password: &str,
) -> Result<(), fantoccini::error::CmdError> {
    c.goto(&app.url("/login")).await?;
    c.find(Locator::Css("input[name=email]"))
        .await?
        .send_keys(email)
        .await?;
    c.find(Locator::Css("input[name=password]"))
        .await?
        .send_keys(password)
        .await?;
    c.find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    Ok(())
}

fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).ok();
    dir
}

/// Waits until `css` holds `text` (a script fills it in), for up to 10 s.
async fn wait_for_text(
    c: &fantoccini::Client,
    css: &str,
    text: &str,
) -> Result<String, fantoccini::error::CmdError> {
    let mut last = String::new();
    for _ in 0..50 {
        // The element may belong to the page being replaced (stale): look again.
        if let Ok(e) = c.find(Locator::Css(css)).await {
            let value = match e.prop("value").await {
                Ok(Some(v)) if !v.is_empty() => Ok(v),
                Ok(_) => e.text().await,
                Err(err) => Err(err),
            };
            if let Ok(v) = value {
                last = v;
                if last.contains(text) {
                    return Ok(last);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{css} never showed {text:?} (last: {last:?})");
}

/// The order desk as a new operator's day goes (issue 16's walk): an owner
/// adds a staff member, who logs in with the role's limits, enters a phone
/// order (address from the postal code, totals as the form changes), changes
/// its delivery address from a postal code, sends a mail edited before
/// sending, and prints its 納品書. The navigation fits one line at 1280 px.
#[tokio::test]
async fn an_operator_runs_the_order_desk() {
    let t = TestStore::sqlite().await;
    seed_products(&t.store).await;
    t.store
        .create_staff(
            "owner@example.jp",
            "店長",
            "correct horse battery",
            Role::Owner,
        )
        .await
        .unwrap();
    let app = TestApp::start(t.store.clone()).await;
    let (_driver, port) = start_driver().await;
    let (c, profile) = browser(port, 1280).await;
    let dir = screenshot_dir();
    let mut number = String::new();
    let result = async {
        log_in(&c, &app, "owner@example.jp", "correct horse battery").await?;
        // Logging in lands on ホーム.
        c.wait().for_element(Locator::Id("today")).await?;
        assert!(c.source().await?.contains("<svg"), "the 30-day chart");
        // One line of navigation at 1280 px, grouped by area.
        let (_, _, _, h) = c.find(Locator::Css("header")).await?.rectangle().await?;
        assert!(h <= 47.0, "the header wraps: {h}px");
        c.goto(&app.url("/settings/staff")).await?;
        c.find(Locator::Css("#staff-add input[name=email]"))
            .await?
            .send_keys("part@example.jp")
            .await?;
        c.find(Locator::Css("#staff-add input[name=name]"))
            .await?
            .send_keys("パート 鈴木")
            .await?;
        c.find(Locator::Css("#staff-add select[name=role]"))
            .await?
            .select_by_value("operator")
            .await?;
        c.find(Locator::Id("staff-add-submit"))
            .await?
            .click()
            .await?;
        let password = c
            .wait()
            .for_element(Locator::Id("secret-value"))
            .await?
            .text()
            .await?;
        std::fs::write(dir.join("staff.png"), c.screenshot().await?).expect("write screenshot");
        c.find(Locator::Css("form[action='/logout'] button"))
            .await?
            .click()
            .await?;

        log_in(&c, &app, "part@example.jp", &password).await?;
        c.wait().for_element(Locator::Id("today")).await?;
        // An operator may not manage staff.
        c.goto(&app.url("/settings/staff")).await?;
        assert!(c.source().await?.contains("この操作を行う権限がありません"));

        // 受注登録: the postal code fills 都道府県 and 住所1 (the page's script,
        // allowed by the content security policy), the totals follow the form.
        c.goto(&app.url("/orders/new")).await?;
        for (name, value) in [
            ("billing.family_name", "高橋"),
            ("billing.given_name", "直子"),
            ("billing.company_name", "高橋商事株式会社"),
            ("billing.postal_code", "1000001"),
            ("billing.phone", "03-5555-0001"),
            ("billing.email", "takahashi@example.jp"),
        ] {
            c.find(Locator::Css(&format!("#order-entry input[name='{name}']")))
                .await?
                .send_keys(value)
                .await?;
        }
        c.find(Locator::Css("button[data-postal='billing.']"))
            .await?
            .click()
            .await?;
        wait_for_text(
            &c,
            "#order-entry input[name='billing.address1']",
            "千代田区千代田",
        )
        .await?;
        let pref = c
            .find(Locator::Css(
                "#order-entry select[name='billing.prefecture']",
            ))
            .await?
            .prop("value")
            .await?;
        assert_eq!(pref.as_deref(), Some("東京都"));
        c.find(Locator::Css("#order-entry input[name='billing.address1']"))
            .await?
            .send_keys("1-1")
            .await?;
        c.find(Locator::Css("input[name=item_code_0]"))
            .await?
            .send_keys("TEA-01")
            .await?;
        c.find(Locator::Css("input[name=item_qty_0]"))
            .await?
            .send_keys("3")
            .await?;
        c.find(Locator::Css("select[name=payment_method]"))
            .await?
            .select_by_label("代金引換")
            .await?;
        c.find(Locator::Css("select[name=carrier]"))
            .await?
            .select_by_label("ヤマト運輸")
            .await?;
        c.find(Locator::Css("select[name=delivery_time_slot]"))
            .await?
            .select_by_value("午前中")
            .await?;
        wait_for_text(&c, "#entry-totals", "¥3,240").await?;
        std::fs::write(dir.join("order-entry.png"), c.screenshot().await?)
            .expect("write screenshot");
        c.find(Locator::Id("entry-create")).await?.click().await?;
        let flash = c
            .wait()
            .for_element(Locator::Id("flash"))
            .await?
            .text()
            .await?;
        assert_eq!(flash, "受注を登録しました。");
        number = c
            .current_url()
            .await?
            .path()
            .trim_start_matches("/orders/")
            .to_string();

        // The delivery address changes: a new postal code fills the rest.
        let code = c
            .find(Locator::Css(
                "#address-form input[name='shipping.postal_code']",
            ))
            .await?;
        code.clear().await?;
        code.send_keys("530-0001").await?;
        c.find(Locator::Css("button[data-postal='shipping.']"))
            .await?
            .click()
            .await?;
        wait_for_text(
            &c,
            "#address-form input[name='shipping.address1']",
            "大阪市北区梅田",
        )
        .await?;
        c.find(Locator::Css(
            "#address-form input[name='shipping.address1']",
        ))
        .await?
        .send_keys("2-2")
        .await?;
        c.find(Locator::Css("#address-form input[name=reason]"))
            .await?
            .send_keys("お届け先変更の電話")
            .await?;
        c.find(Locator::Id("save-addresses")).await?.click().await?;
        let shown = c
            .wait()
            .for_element(Locator::Id("shipping-shown"))
            .await?
            .text()
            .await?;
        assert!(shown.contains("大阪府大阪市北区梅田2-2"), "{shown}");

        // A mail from 入金案内, previewed with the order, edited, sent.
        c.find(Locator::Id("link-send-mail")).await?.click().await?;
        c.wait().for_element(Locator::Id("order-mail")).await?;
        c.find(Locator::Id("mail-template"))
            .await?
            .select_by_value("payment_guidance")
            .await?;
        c.find(Locator::Id("mail-preview")).await?.click().await?;
        wait_for_text(&c, "#mail-body", "高橋").await?;
        c.find(Locator::Id("mail-body"))
            .await?
            .send_keys(
                "
お電話ありがとうございました。",
            )
            .await?;
        c.find(Locator::Id("mail-send")).await?.click().await?;
        let flash = c
            .wait()
            .for_element(Locator::Id("flash"))
            .await?
            .text()
            .await?;
        assert!(flash.contains("送信待ち"), "{flash}");
        let mails = c.find(Locator::Id("mails")).await?.text().await?;
        assert!(mails.contains("お支払いのご案内"), "{mails}");
        std::fs::write(dir.join("order-mail.png"), c.screenshot().await?)
            .expect("write screenshot");

        // 納品書: the link on the order page answers with a PDF.
        let href = c
            .find(Locator::Id("print-delivery_note"))
            .await?
            .attr("href")
            .await?
            .unwrap_or_default();
        let cookie = c
            .get_all_cookies()
            .await?
            .into_iter()
            .map(|k| format!("{}={}", k.name(), k.value()))
            .collect::<Vec<_>>()
            .join("; ");
        let r = app
            .client
            .get(app.url(&href))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert!(r.bytes().await.unwrap().starts_with(b"%PDF-"));
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    result.expect("browser flow");
    let o = t.store.order_by_number(&number).await.unwrap();
    assert_eq!(o.billing.company_name, "高橋商事株式会社");
    assert_eq!(o.billing.address1, "千代田区千代田1-1");
    assert_eq!(o.shipping.prefecture, "大阪府");
    assert_eq!(o.delivery_time_slot.as_deref(), Some("午前中"));
    let mails = t.store.order_mails(o.id).await.unwrap();
    assert!(mails.iter().any(|m| m.template_code == "payment_guidance"
        && m.body.contains("お電話ありがとうございました。")));
}

#[tokio::test]
async fn staff_changes_a_handling_status_and_sees_it_in_history() {
    let t = TestStore::sqlite().await;
    seed_products(&t.store).await;
    t.store
        .create_staff(
            "op@example.jp",
            "受注担当 佐藤",
            "correct horse battery",
            Role::Operator,
        )
        .await
        .unwrap();
    let billing = Address {
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
    };
    let mut other = billing.clone();
    other.family_name = "佐藤".into();
    other.family_kana = "サトウ".into();
    let order = |b: Address| NewOrder {
        billing: b,
        items: vec![ItemInput {
            product_code: "TEA-01".into(),
            quantity: 1,
            unit_price: None,
        }],
        payment_method: Some("credit_card".into()),
        ..Default::default()
    };
    let mut third = billing.clone();
    third.family_name = "鈴木".into();
    third.family_kana = "スズキ".into();
    let mut two_packages = order(third);
    two_packages.items[0].quantity = 3;
    two_packages.carrier = Some("yamato".into());
    let created = t
        .store
        .create_orders(
            vec![order(billing), order(other), two_packages],
            &Actor::system("test"),
        )
        .await
        .unwrap();
    let split_number = created[2].order_number.clone();
    let import_number = created[1].order_number.clone();
    let number = created[0].order_number.clone();
    let app = TestApp::start(t.store.clone()).await;

    let (_driver, port) = start_driver().await;
    let profile = std::env::temp_dir().join(format!("juchu-chrome-{}", free_port()));
    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "goog:chromeOptions": {
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1400,1000", format!("--user-data-dir={}", profile.display())]
        }
    }))
    .unwrap();
    let c = ClientBuilder::rustls()
        .expect("tls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect to chromedriver");

    let result = async {
        c.goto(&app.url("/login")).await?;
        c.find(Locator::Css("input[name=email]"))
            .await?
            .send_keys("op@example.jp")
            .await?;
        c.find(Locator::Css("input[name=password]"))
            .await?
            .send_keys("correct horse battery")
            .await?;
        c.find(Locator::Css("button[type=submit]"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("today")).await?;
        c.goto(&app.url("/orders")).await?;
        c.wait().for_element(Locator::Id("orders")).await?;
        assert!(c.source().await?.contains("受注一覧"));

        // Search by kana, typed in half-width katakana: the normalised match finds 山田 only.
        c.find(Locator::Css("input[name=kana]"))
            .await?
            .send_keys("ﾔﾏﾀﾞ")
            .await?;
        c.find(Locator::Id("search")).await?.click().await?;
        // The old page's #total is there until the result page replaces it:
        // read it until the search has answered (or 10 s have passed).
        let mut total = String::new();
        for _ in 0..50 {
            if c.current_url().await?.as_str().contains("kana=")
                && let Ok(e) = c.find(Locator::Id("total")).await
                && let Ok(t) = e.text().await
            {
                total = t;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_eq!(total, "1件");

        c.find(Locator::LinkText(&number)).await?.click().await?;
        c.wait().for_element(Locator::Id("handling_status")).await?;
        let select = c.find(Locator::Id("handling_status")).await?;
        select.select_by_label("発送準備中").await?;
        c.find(Locator::Id("save-basic")).await?.click().await?;
        c.wait().for_element(Locator::Id("flash")).await?;
        assert_eq!(
            c.find(Locator::Id("flash")).await?.text().await?,
            "保存しました。"
        );

        // A long memo without spaces: 履歴 wraps it instead of widening the page.
        t.store
            .change_order(
                &number,
                None,
                &juchu_domain::patch::OrderPatch {
                    memo: Some("長いメモ".repeat(120)),
                    ..Default::default()
                },
                &Actor::system("test"),
                "",
            )
            .await
            .unwrap();
        c.find(Locator::Id("tab-history")).await?.click().await?;
        c.wait().for_element(Locator::Id("history")).await?;
        let wide = c
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth;",
                vec![],
            )
            .await?;
        assert_eq!(wide, serde_json::json!(false), "履歴 widens the page");
        let history = c.find(Locator::Id("history")).await?.text().await?;
        assert!(history.contains("対応状況"), "{history}");
        assert!(
            history.contains("注文確定") && history.contains("発送準備中"),
            "{history}"
        );
        assert!(history.contains("受注担当 佐藤"), "{history}");

        let png = c.screenshot().await?;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).ok();
        std::fs::write(dir.join("order-history.png"), png).expect("write screenshot");

        // 自動化設定 with every preset: each rule is one line, its buttons side by side.
        t.store.load_automation_presets().await.unwrap();
        c.goto(&app.url("/settings/automation")).await?;
        c.wait().for_element(Locator::Id("rules")).await?;
        let tallest = c
            .execute(
                "return Math.max(...Array.from(document.querySelectorAll('#rules tbody tr')).map(r => r.getBoundingClientRect().height));",
                vec![],
            )
            .await?
            .as_f64()
            .unwrap_or(0.0);
        assert!(tallest > 0.0 && tallest < 90.0, "a rule row is {tallest}px tall");

        // 一括督促 of the checked order from 受注一覧, registered as a job; the
        // notices reach the open page as the seed says.
        c.goto(&app.url("/orders")).await?;
        c.wait().for_element(Locator::Id("bulk-form")).await?;
        c.find(Locator::Css(&format!("input.row-check[value='{number}']")))
            .await?
            .click()
            .await?;
        c.find(Locator::Id("bulk-kind"))
            .await?
            .select_by_value("dunning")
            .await?;
        c.find(Locator::Id("bulk-next")).await?.click().await?;
        c.wait().for_element(Locator::Id("job-form")).await?;
        let target = c.find(Locator::Id("count")).await?.text().await?;
        assert_eq!(target, "1件");
        c.find(Locator::Css("textarea[name=memo]"))
            .await?
            .send_keys("お電話で入金をお願いしました")
            .await?;
        c.find(Locator::Id("run-job")).await?.click().await?;
        // ジョブ管理 reloads itself while a job runs: read the page, not an
        // element that a reload may replace.
        let mut registered = false;
        for _ in 0..100 {
            if c.source().await?.contains("受注 一括督促 を登録しました。") {
                registered = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(registered, "the registered notice on ジョブ管理");
        // An open page; the worker runs the job once the page listens.
        c.goto(&app.url("/orders")).await?;
        c.wait().for_element(Locator::Id("orders")).await?;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let store = app.store.clone();
        tokio::spawn(async move {
            let _ = store.run_jobs(100).await;
        });
        let notice = c
            .wait()
            .at_most(std::time::Duration::from_secs(20))
            .for_element(Locator::XPath(
                "//div[contains(@class, 'notice') and contains(., 'を完了しました')]",
            ))
            .await?
            .text()
            .await?;
        assert!(
            notice.starts_with("受注 一括督促 を完了しました。"),
            "{notice}"
        );
        let png = c.screenshot().await?;
        std::fs::write(dir.join("job-notice.png"), png).expect("write screenshot");

        // 出荷: split an order into two packages, ship the second with a
        // mistyped number (refused, said next to the package), then the right one.
        c.goto(&app.url(&format!("/orders/{split_number}?tab=shipments")))
            .await?;
        let qty = c.find(Locator::Css("input[name=qty_0]")).await?;
        qty.clear().await?;
        qty.send_keys("1").await?;
        c.find(Locator::Id("split-shipment")).await?.click().await?;
        c.wait().for_element(Locator::Id("shipment-2")).await?;
        let numbers = c
            .find(Locator::Css("#shipment-2 textarea[name=tracking_numbers]"))
            .await?;
        numbers.send_keys("1234-5678-9012").await?;
        c.find(Locator::Id("save-shipment-2")).await?.click().await?;
        let errors = c
            .wait()
            .for_element(Locator::Id("shipment-errors"))
            .await?
            .text()
            .await?;
        assert!(errors.contains("チェックデジット"), "{errors}");
        let numbers = c
            .find(Locator::Css("#shipment-2 textarea[name=tracking_numbers]"))
            .await?;
        numbers.clear().await?;
        numbers.send_keys("1234-5678-9013").await?;
        c.find(Locator::Id("save-shipment-2")).await?.click().await?;
        c.wait().for_element(Locator::Id("flash")).await?;
        let second = c.find(Locator::Id("shipment-2")).await?.text().await?;
        assert!(second.contains("発送済") && second.contains("123456789013"), "{second}");
        let png = c.screenshot().await?;
        std::fs::write(dir.join("shipments-tab.png"), png).expect("write screenshot");

        // 出荷実績インポート: a CP932 file, previewed, then run as a job.
        let file = std::env::temp_dir().join(format!("juchu-shukka-{}.csv", free_port()));
        let text = format!("受注番号,配送伝票番号\r\n{import_number},4444-5555-6661\r\n{split_number},4444-5555-6661\r\n");
        std::fs::write(&file, encoding_rs::SHIFT_JIS.encode(&text).0).expect("write file");
        c.goto(&app.url("/shipments/import")).await?;
        c.find(Locator::Id("import-file"))
            .await?
            .send_keys(&file.display().to_string())
            .await?;
        c.find(Locator::Id("preview-import")).await?.click().await?;
        let preview = c
            .wait()
            .for_element(Locator::Id("preview"))
            .await?
            .text()
            .await?;
        assert!(preview.contains("配送伝票番号 444455556661"), "{preview}");
        assert!(preview.contains("分納しています"), "{preview}");
        let png = c.screenshot().await?;
        std::fs::write(dir.join("shipment-import-preview.png"), png).expect("write screenshot");
        c.find(Locator::Id("run-import")).await?.click().await?;
        let mut on_jobs = false;
        for _ in 0..100 {
            if c.current_url().await?.path() == "/jobs" {
                on_jobs = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(on_jobs, "the import job registered, ジョブ管理 shown");
        let _ = std::fs::remove_file(&file);
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    result.expect("browser flow");

    let o = t.store.order_by_number(&number).await.unwrap();
    let m = t.store.masters().await.unwrap();
    assert_eq!(
        m.handling_status(o.handling_status_id).unwrap().name,
        "発送準備中"
    );
    // The 対応状況 change and the long memo.
    assert_eq!(o.version, 3);
    // The import job registered from the page applies the file.
    t.store.run_jobs(100).await.unwrap();
    let o = t.store.order_by_number(&import_number).await.unwrap();
    assert_eq!(o.tracking_number.as_deref(), Some("444455556661"));
    let o = t.store.order_by_number(&split_number).await.unwrap();
    assert_eq!(o.shipments.len(), 2);
    assert_eq!(
        o.shipments[0].tracking_numbers.len(),
        0,
        "refused in the file"
    );
}

/// Whether the page is wider than its window (it scrolls sideways).
async fn scrolls_sideways(c: &fantoccini::Client) -> Result<bool, fantoccini::error::CmdError> {
    let v = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await?;
    Ok(v[0].as_f64().unwrap_or(0.0) > v[1].as_f64().unwrap_or(0.0))
}

/// Width of the page's content: more than the window means the page scrolls
/// sideways (unusable on a phone).
async fn page_width(c: &fantoccini::Client) -> Result<f64, fantoccini::error::CmdError> {
    let v = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await?;
    let scroll = v[0].as_f64().unwrap_or(0.0);
    let inner = v[1].as_f64().unwrap_or(0.0);
    assert!(
        inner <= 375.0,
        "the window is {inner}px wide, not a phone's"
    );
    Ok(scroll)
}

/// The customer's side (issue 17's walk) on a phone (375 px) and a desktop:
/// the invitation's link sets a password, 注文履歴 and a reply to the shop,
/// 定期便 with its terms, and the request form — questions of the chosen type
/// only, 解約抑止 offers before a cancellation — then a desktop login.
#[tokio::test]
async fn a_customer_uses_mypage_on_a_phone_and_a_desktop() {
    let t = TestStore::sqlite().await;
    seed_products(&t.store).await;
    t.store
        .create_product(juchu_store::masters::ProductInput {
            code: "SUP-01".into(),
            name: "コラーゲンサプリ".into(),
            unit_price: 3980,
            tax_rate: 8,
            shipping_fee: None,
            payment_fee: None,
            is_bundled_item: false,
            is_subscription: true,
        })
        .await
        .unwrap();
    let app = TestApp::start(t.store.clone()).await;
    let hanako = t
        .store
        .create_customer(juchu_domain::customer::CustomerInput {
            address: Address {
                family_name: "山田".into(),
                given_name: "花子".into(),
                family_kana: "ヤマダ".into(),
                given_kana: "ハナコ".into(),
                postal_code: "150-0001".into(),
                prefecture: "東京都".into(),
                address1: "渋谷区神宮前1-2-3".into(),
                phone: "090-1234-5678".into(),
                email: "hanako@example.jp".into(),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    let token = app.token(Role::Operator).await;
    let r = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "customer_id": hanako,
            "billing": {
                "family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
                "postal_code": "150-0001", "prefecture": "東京都", "address1": "渋谷区神宮前1-2-3",
                "phone": "090-1234-5678", "email": "hanako@example.jp"
            },
            "items": [{"product_code": "SUP-01", "quantity": 1, "unit_price": 980}, {"product_code": "TEA-01", "quantity": 2}],
            "payment_method": "代金引換",
            "carrier": "yamato",
            "scheduled_delivery_date": "2027-01-10",
            "subscription_cycle": {"kind": "days", "every": 30}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let order: serde_json::Value = r.json().await.unwrap();
    let number = order["order_number"].as_str().unwrap().to_string();
    let sub = order["subscription_id"].as_i64().unwrap();
    t.store
        .post_order_message(
            &number,
            juchu_domain::mypage::MessageAuthor::Shop,
            "ご注文ありがとうございます。1月10日にお届けします。",
            false,
            &Actor::System {
                name: "店長".into(),
            },
        )
        .await
        .unwrap();
    let (inbox, smtp_port) = common::smtp_sink();
    t.store.invite_customer(hanako).await.unwrap();
    let mails = common::deliver(&t.store, &inbox, smtp_port).await;
    let link = common::link_in(&mails[0].2, "/mypage/password/");

    let (_driver, port) = start_driver().await;
    let dir = screenshot_dir();
    let (c, profile) = browser(port, 375).await;
    let phone = async {
        c.goto(&link).await?;
        c.find(Locator::Id("password"))
            .await?
            .send_keys("hanako-pass-1")
            .await?;
        c.find(Locator::Id("password-again"))
            .await?
            .send_keys("hanako-pass-1")
            .await?;
        c.find(Locator::Id("password-submit"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("orders")).await?;
        assert!(
            page_width(&c).await? <= 375.0,
            "注文履歴 scrolls sideways at 375 px"
        );
        std::fs::write(dir.join("mypage-orders-375.png"), c.screenshot().await?)
            .expect("write screenshot");
        c.find(Locator::Css(&format!("a[data-order='{number}']")))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("reply-form")).await?;
        assert!(c.source().await?.contains("1月10日にお届けします"));
        assert!(
            page_width(&c).await? <= 375.0,
            "the order scrolls sideways at 375 px"
        );
        c.find(Locator::Id("reply-body"))
            .await?
            .send_keys("置き配でお願いします。")
            .await?;
        c.find(Locator::Id("reply-send")).await?.click().await?;
        wait_for_text(&c, "#messages + .box", "置き配でお願いします。").await?;
        std::fs::write(dir.join("mypage-order-375.png"), c.screenshot().await?)
            .expect("write screenshot");

        c.find(Locator::Id("nav-subscriptions"))
            .await?
            .click()
            .await?;
        c.wait()
            .for_element(Locator::Css(&format!("a[data-subscription='{sub}']")))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("terms")).await?;
        let terms = c.find(Locator::Id("terms")).await?.text().await?;
        assert!(
            terms.contains("¥980") && terms.contains("定めなし"),
            "{terms}"
        );
        assert!(
            page_width(&c).await? <= 375.0,
            "定期便 scrolls sideways at 375 px"
        );
        std::fs::write(
            dir.join("mypage-subscription-375.png"),
            c.screenshot().await?,
        )
        .expect("write screenshot");
        c.find(Locator::Id("request-link")).await?.click().await?;
        c.wait().for_element(Locator::Id("request-form")).await?;
        // 休止 shows the pause questions only; 解約 the cancellation ones.
        c.find(Locator::Css("input[name=col_1][value='休止']"))
            .await?
            .click()
            .await?;
        assert!(
            c.find(Locator::Id("q-pause_col_6"))
                .await?
                .is_displayed()
                .await?
        );
        assert!(
            !c.find(Locator::Id("q-cancell_col_6"))
                .await?
                .is_displayed()
                .await?
        );
        c.find(Locator::Css("input[name=col_1][value='解約']"))
            .await?
            .click()
            .await?;
        assert!(
            c.find(Locator::Id("q-cancell_col_6"))
                .await?
                .is_displayed()
                .await?
        );
        assert!(
            !c.find(Locator::Id("q-pause_col_6"))
                .await?
                .is_displayed()
                .await?
        );
        c.find(Locator::Css(
            "input[name=cancell_col_6][value='商品が余っている']",
        ))
        .await?
        .click()
        .await?;
        assert!(
            page_width(&c).await? <= 375.0,
            "the form scrolls sideways at 375 px"
        );
        std::fs::write(dir.join("mypage-form-375.png"), c.screenshot().await?)
            .expect("write screenshot");
        c.find(Locator::Id("request-submit")).await?.click().await?;
        c.wait().for_element(Locator::Id("offers")).await?;
        std::fs::write(dir.join("mypage-offers-375.png"), c.screenshot().await?)
            .expect("write screenshot");
        c.find(Locator::Id("offer-skip")).await?.click().await?;
        wait_for_text(&c, "#notice", "受け付けました").await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    phone.expect("phone flow");

    let (c, profile) = browser(port, 1280).await;
    let desktop = async {
        c.goto(&app.url("/mypage/orders")).await?;
        c.wait().for_element(Locator::Id("login-form")).await?;
        c.find(Locator::Id("email"))
            .await?
            .send_keys("hanako@example.jp")
            .await?;
        c.find(Locator::Id("password"))
            .await?
            .send_keys("hanako-pass-1")
            .await?;
        c.find(Locator::Id("login-submit")).await?.click().await?;
        c.wait().for_element(Locator::Id("orders")).await?;
        assert!(c.source().await?.contains(&number));
        std::fs::write(dir.join("mypage-orders-1280.png"), c.screenshot().await?)
            .expect("write screenshot");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    desktop.expect("desktop flow");

    let requests = t
        .store
        .requests(&juchu_store::requests::RequestQuery {
            customer_id: Some(hanako),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].request_type, "スキップ");
    assert_eq!(requests[0].tags, ["解約抑止"]);
    let messages = t.store.order_messages(&number).await.unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].body, "置き配でお願いします。");
}

/// The request desk as the seed's operator works it: RPA設定 — a 休止 rule
/// added from the page, the automation started; 受信BOX — the automated
/// request 対応完了 with its new date, a request the automation leaves to a
/// person handled by hand with a preview first; 分析 with its charts.
#[tokio::test]
async fn an_operator_automates_requests_and_handles_the_rest_by_hand() {
    let t = TestStore::sqlite().await;
    t.store
        .create_product(juchu_store::masters::ProductInput {
            code: "SUP-01".into(),
            name: "コラーゲンサプリ".into(),
            unit_price: 3980,
            tax_rate: 8,
            shipping_fee: None,
            payment_fee: None,
            is_bundled_item: false,
            is_subscription: true,
        })
        .await
        .unwrap();
    t.store
        .create_staff(
            "owner@example.jp",
            "店長 山本",
            "correct horse battery",
            Role::Owner,
        )
        .await
        .unwrap();
    let app = TestApp::start(t.store.clone()).await;
    let hanako = common::customer(&t.store, "山田", "hanako@example.jp").await;
    let token = app.token(Role::Owner).await;
    let (s, order) = common::api(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/orders",
        Some(serde_json::json!({
            "customer_id": hanako,
            "billing": {
                "family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
                "postal_code": "150-0001", "prefecture": "東京都", "address1": "渋谷区神宮前1-2-3",
                "phone": "090-1234-5678", "email": "hanako@example.jp"
            },
            "items": [{"product_code": "SUP-01", "quantity": 1}],
            "payment_method": "代金引換",
            "scheduled_delivery_date": "2027-01-10",
            "subscription_cycle": {"kind": "days", "every": 30}
        })),
    )
    .await;
    assert_eq!(s, 201, "{order}");
    let sub = order["subscription_id"].as_i64().unwrap();
    let send = |fields: serde_json::Value| {
        let app = &app;
        let token = token.clone();
        async move {
            let (s, r) = common::api(
                app,
                &token,
                reqwest::Method::POST,
                "/api/v1/requests",
                Some(serde_json::json!({"customer_id": hanako, "subscription_id": sub, "fields": fields})),
            )
            .await;
            assert_eq!(s, 201, "{r}");
            r["id"].as_i64().unwrap()
        }
    };

    let (_driver, port) = start_driver().await;
    let dir = screenshot_dir();
    let (c, profile) = browser(port, 1280).await;
    let result = async {
        log_in(&c, &app, "owner@example.jp", "correct horse battery").await?;
        c.wait().for_element(Locator::Css("header")).await?;
        c.goto(&app.url("/settings/request-automation")).await?;
        c.find(Locator::Id("automation-stopped")).await?;
        c.find(Locator::Id("rule-new")).await?.click().await?;
        c.wait().for_element(Locator::Id("rule-form")).await?;
        c.find(Locator::Css("input[name=name]"))
            .await?
            .send_keys("サプリ（休止）")
            .await?;
        c.find(Locator::Id("rule-products"))
            .await?
            .send_keys("SUP-01")
            .await?;
        c.find(Locator::Css(
            "select[name=message_channel] option[value=mail]",
        ))
        .await?
        .click()
        .await?;
        // A message without text is refused with the reason; nothing saved.
        c.find(Locator::Id("rule-save")).await?.click().await?;
        wait_for_text(&c, "#rule-errors", "送信するメッセージを入力してください").await?;
        c.find(Locator::Id("rule-message"))
            .await?
            .send_keys("休止を承りました。次回のお届けは{{次回配送予定日}}です。")
            .await?;
        c.find(Locator::Id("rule-save")).await?.click().await?;
        wait_for_text(&c, "#rules", "サプリ（休止）").await?;
        c.find(Locator::Id("automation-start"))
            .await?
            .click()
            .await?;
        wait_for_text(&c, "#automation-state", "稼働中").await?;
        std::fs::write(dir.join("request-automation.png"), c.screenshot().await?)
            .expect("write screenshot");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    if let Err(e) = result {
        let _ = c.close().await;
        let _ = std::fs::remove_dir_all(&profile);
        panic!("RPA設定: {e}");
    }
    let pause = send(serde_json::json!({"col_1": "休止", "col_2": "1ヶ月", "col_4": "コラーゲンサプリ", "col_5": "満足"})).await;
    let change = send(serde_json::json!({"col_1": "お届け日変更", "col_4": "コラーゲンサプリ", "col_5": "普通", "col_6": "2月は旅行中です"})).await;
    // The worker's pass (the test app runs no worker loops).
    let report = t.store.process_requests(10).await.unwrap();
    assert_eq!((report.completed, report.manual), (1, 1));

    let result = async {
        c.goto(&app.url("/requests")).await?;
        c.wait().for_element(Locator::Id("requests")).await?;
        let tabs = c.find(Locator::Id("status-tabs")).await?.text().await?;
        assert!(
            tabs.contains("未対応1") && tabs.contains("対応完了1"),
            "{tabs}"
        );
        let row = c
            .find(Locator::Css(&format!("tr[data-id='{pause}']")))
            .await?
            .text()
            .await?;
        // 02-09 (the next delivery after the first) + 1 calendar month.
        assert!(
            row.contains("対応完了") && row.contains("2027-03-09"),
            "{row}"
        );
        std::fs::write(dir.join("request-inbox.png"), c.screenshot().await?)
            .expect("write screenshot");
        assert!(
            !scrolls_sideways(&c).await?,
            "受信BOX scrolls sideways at 1280 px"
        );
        c.find(Locator::Css(&format!("tr[data-id='{change}'] a")))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("apply-form")).await?;
        c.find(Locator::Css("#apply-action option[value='スキップ']"))
            .await?
            .click()
            .await?;
        c.find(Locator::Id("apply-preview-button"))
            .await?
            .click()
            .await?;
        let preview = wait_for_text(&c, "#apply-preview", "2027-04-08").await?;
        assert!(preview.contains("スキップ"), "{preview}");
        // The preview changed nothing.
        wait_for_text(&c, "#next-delivery", "2027-03-09").await?;
        c.find(Locator::Id("apply-button")).await?.click().await?;
        wait_for_text(&c, "#flash", "対応完了").await?;
        wait_for_text(&c, "#request-status", "対応完了").await?;
        wait_for_text(&c, "#next-delivery", "2027-04-08").await?;
        wait_for_text(&c, "#history", "手動対応").await?;
        std::fs::write(dir.join("request-detail.png"), c.screenshot().await?)
            .expect("write screenshot");
        c.goto(&app.url("/requests/analytics")).await?;
        c.wait().for_element(Locator::Id("table-by_type")).await?;
        let charts = c.find_all(Locator::Css("svg.chart")).await?;
        assert!(charts.len() >= 7, "a chart per table ({})", charts.len());
        let answers = c.find(Locator::Id("table-by_answer")).await?.text().await?;
        assert!(
            answers.contains("満足") && answers.contains("1(50.0%)"),
            "{answers}"
        );
        assert!(
            !scrolls_sideways(&c).await?,
            "分析 scrolls sideways at 1280 px"
        );
        std::fs::write(dir.join("request-analytics.png"), c.screenshot().await?)
            .expect("write screenshot");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    result.expect("受信BOX and 分析");
    let h = t.store.subscription_history(sub).await.unwrap();
    assert!(
        h.iter()
            .any(|e| e.actor_name.starts_with(&format!("申請 #{change}"))),
        "the request is the actor in the subscription's 履歴"
    );
}
