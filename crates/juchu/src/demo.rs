//! Realistic demo data: Japanese customers, addresses, products and orders in
//! every status, spread over the last two years. Orders go through the change
//! pipeline in batches, like any other intake.

use juchu_domain::customer::{Address, CustomerInput};
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_store::masters::{LabelInput, ProductInput};
use juchu_store::{Actor, Store, StoreError};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const FAMILY: &[(&str, &str)] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
];
const GIVEN: &[(&str, &str)] = &[
    ("太郎", "タロウ"),
    ("花子", "ハナコ"),
    ("健太", "ケンタ"),
    ("美咲", "ミサキ"),
    ("翔太", "ショウタ"),
    ("陽菜", "ヒナ"),
    ("大輔", "ダイスケ"),
    ("さくら", "サクラ"),
    ("直樹", "ナオキ"),
    ("由美", "ユミ"),
    ("拓也", "タクヤ"),
    ("恵子", "ケイコ"),
    ("蓮", "レン"),
    ("結衣", "ユイ"),
    ("誠", "マコト"),
];
const PLACES: &[(&str, &str, &str)] = &[
    ("東京都", "渋谷区神宮前", "150-0001"),
    ("東京都", "世田谷区三軒茶屋", "154-0024"),
    ("神奈川県", "横浜市中区山下町", "231-0023"),
    ("大阪府", "大阪市北区梅田", "530-0001"),
    ("愛知県", "名古屋市中区栄", "460-0008"),
    ("福岡県", "福岡市中央区天神", "810-0001"),
    ("北海道", "札幌市中央区大通西", "060-0042"),
    ("京都府", "京都市下京区四条通", "600-8001"),
    ("宮城県", "仙台市青葉区一番町", "980-0811"),
    ("広島県", "広島市中区紙屋町", "730-0031"),
    ("沖縄県", "那覇市久茂地", "900-0015"),
    ("埼玉県", "さいたま市大宮区桜木町", "330-0854"),
];
pub const PRODUCTS: &[(&str, &str, i64, i64)] = &[
    ("TEA-SENCHA-100", "静岡煎茶 100g", 1080, 8),
    ("TEA-MATCHA-30", "宇治抹茶 30g", 2160, 8),
    ("SUP-COLLAGEN-30", "コラーゲンサプリ 30日分", 3980, 8),
    ("SUP-AOJIRU-30", "国産青汁 30包", 3240, 8),
    ("COS-LOTION-150", "薬用化粧水 150ml", 3300, 10),
    ("COS-SERUM-30", "美容液 30ml", 5500, 10),
    ("COS-SOAP-100", "洗顔石けん 100g", 1650, 10),
    ("GOODS-TUMBLER", "ステンレスタンブラー", 2750, 10),
    ("FOOD-GRANOLA-500", "フルーツグラノーラ 500g", 1296, 8),
    ("FOOD-HONEY-250", "国産はちみつ 250g", 2484, 8),
];
const BUNDLED: (&str, &str) = ("LEAFLET-01", "商品案内チラシ（同梱物）");
const TIME_SLOTS: &[&str] = &[
    "午前中",
    "14時〜16時",
    "16時〜18時",
    "18時〜20時",
    "19時〜21時",
];

/// Creates the demo products and labels if they are missing.
pub async fn ensure_catalog(store: &Store) -> Result<(), StoreError> {
    for (code, name, price, rate) in PRODUCTS {
        if store.product_by_code(code).await.is_ok() {
            continue;
        }
        store
            .create_product(ProductInput {
                code: code.to_string(),
                name: name.to_string(),
                unit_price: *price,
                tax_rate: *rate,
                shipping_fee: if code.starts_with("GOODS") {
                    Some(0)
                } else {
                    None
                },
                payment_fee: None,
                is_bundled_item: false,
                is_subscription: code.starts_with("SUP"),
            })
            .await?;
    }
    if store.product_by_code(BUNDLED.0).await.is_err() {
        store
            .create_product(ProductInput {
                code: BUNDLED.0.into(),
                name: BUNDLED.1.into(),
                unit_price: 0,
                tax_rate: 10,
                shipping_fee: None,
                payment_fee: None,
                is_bundled_item: true,
                is_subscription: false,
            })
            .await?;
    }
    let masters = store.masters().await?;
    for (name, color) in [
        ("ギフト", "#e67e22"),
        ("リピーター", "#27ae60"),
        ("同梱不可", "#8e44ad"),
        ("急ぎ", "#c0392b"),
    ] {
        if masters.label_by_name(name).is_none() {
            store
                .create_label(LabelInput {
                    name: name.into(),
                    color: color.into(),
                })
                .await?;
        }
    }
    Ok(())
}

pub fn random_address(rng: &mut SmallRng, i: usize) -> Address {
    let (fam, fam_k) = FAMILY[rng.random_range(0..FAMILY.len())];
    let (giv, giv_k) = GIVEN[rng.random_range(0..GIVEN.len())];
    let (pref, city, postal) = PLACES[rng.random_range(0..PLACES.len())];
    let mobile = ["090", "080", "070"][rng.random_range(0..3)];
    Address {
        family_name: fam.into(),
        given_name: giv.into(),
        family_kana: fam_k.into(),
        given_kana: giv_k.into(),
        postal_code: postal.into(),
        prefecture: pref.into(),
        address1: format!(
            "{city}{}-{}-{}",
            rng.random_range(1..6),
            rng.random_range(1..30),
            rng.random_range(1..20)
        ),
        address2: if rng.random_bool(0.3) {
            format!("サンプルマンション{}号室", rng.random_range(101..1200))
        } else {
            String::new()
        },
        phone: format!("{mobile}-{:04}-{:04}", (i / 10000) % 10000, i % 10000),
        email: format!("customer{i}@example.jp"),
        ..Default::default()
    }
}

/// Generates `n` orders for `n / 3` customers. Returns how many were created.
pub async fn generate(
    store: &Store,
    n: usize,
    seed: u64,
    progress: bool,
) -> Result<usize, StoreError> {
    ensure_catalog(store).await?;
    let masters = store.masters().await?;
    let mut rng = SmallRng::seed_from_u64(seed);
    let offset = store.list_customers(&Default::default(), 1, 0).await?.total as usize;
    let n_customers = (n / 3).max(1);
    let mut customers = Vec::with_capacity(n_customers);
    for chunk_start in (0..n_customers).step_by(2000) {
        let inputs: Vec<CustomerInput> = (chunk_start..(chunk_start + 2000).min(n_customers))
            .map(|i| CustomerInput {
                address: random_address(&mut rng, offset + i),
                mail_opt_out: rng.random_bool(0.05),
                points: rng.random_range(0..2000),
                memo: String::new(),
            })
            .collect();
        customers.extend(store.create_customers(inputs).await?);
    }
    let now = store.clock.now();
    let two_years = 2 * 365 * 86_400;
    let labels: Vec<String> = masters.labels.iter().map(|l| l.name.clone()).collect();
    let actor = Actor::system("デモデータ");
    let mut created = 0;
    let batch = 500;
    let mut last_report = std::time::Instant::now();
    while created < n {
        let m = batch.min(n - created);
        let mut orders = Vec::with_capacity(m);
        for _ in 0..m {
            let c = &customers[rng.random_range(0..customers.len())];
            let age_secs = rng.random_range(0..two_years);
            let ordered_at = now - jiff::SignedDuration::from_secs(age_secs);
            let age_days = age_secs / 86_400;
            let mut items: Vec<ItemInput> = (0..rng.random_range(1..4))
                .map(|_| ItemInput {
                    product_code: PRODUCTS[rng.random_range(0..PRODUCTS.len())].0.into(),
                    quantity: rng.random_range(1..4),
                    unit_price: None,
                })
                .collect();
            items.dedup_by(|a, b| a.product_code == b.product_code);
            // Subscription products (SUP-*) start a subscription; keep them to the
            // last three months so the demo's subscriptions are current ones.
            if age_days > 90 {
                items.retain(|i| !i.product_code.starts_with("SUP"));
                if items.is_empty() {
                    items.push(ItemInput {
                        product_code: PRODUCTS[0].0.into(),
                        quantity: 1,
                        unit_price: None,
                    });
                }
            }
            if rng.random_bool(0.2) {
                items.push(ItemInput {
                    product_code: BUNDLED.0.into(),
                    quantity: 1,
                    unit_price: None,
                });
            }
            let method = [
                "credit_card",
                "credit_card",
                "credit_card",
                "np_atobarai",
                "cod",
                "bank_transfer",
                "convenience_store",
            ][rng.random_range(0..7)];
            // Older orders are further along: most are complete, recent ones are in progress.
            let (status, payment, shipped) = if age_days > 14 {
                match rng.random_range(0..100) {
                    0..=84 => ("完了", "売上完了", true),
                    85..=89 => ("配送完了", "売上完了", true),
                    90..=94 => ("キャンセル", "取消完了", false),
                    95..=97 => ("返品", "取消完了", true),
                    _ => ("決済NG", "与信審査エラー", false),
                }
            } else {
                match rng.random_range(0..100) {
                    0..=29 => (
                        "注文確定",
                        if method == "credit_card" {
                            "仮売上完了"
                        } else {
                            "未決済"
                        },
                        false,
                    ),
                    30..=44 => ("新規受付", "与信審査中", false),
                    45..=59 => ("処理中", "入金待ち", false),
                    60..=69 => ("保留", "未決済", false),
                    70..=84 => ("発送準備中", "仮売上完了", false),
                    _ => ("発送完了", "仮売上完了", true),
                }
            };
            let ship_day = juchu_domain::time::japan_date(ordered_at)
                .checked_add(jiff::Span::new().days(rng.random_range(1..4)))
                .ok();
            orders.push(NewOrder {
                customer_id: Some(c.id),
                ordered_at: Some(ordered_at),
                billing: c.address.clone(),
                shipping: if rng.random_bool(0.1) {
                    let k = rng.random_range(0..1_000_000);
                    Some(random_address(&mut rng, k))
                } else {
                    None
                },
                items,
                payment_method: Some(method.into()),
                carrier: Some(["yamato", "sagawa", "japanpost"][rng.random_range(0..3)].into()),
                handling_status: Some(status.into()),
                payment_status: Some(payment.into()),
                discount: if rng.random_bool(0.1) { 100 } else { 0 },
                // Points come out of the customer's balance: a tenth of it at
                // most, so the demo's orders never overdraw it.
                points_used: if rng.random_bool(0.1) {
                    rng.random_range(1..100).min(c.points / 10)
                } else {
                    0
                },
                points_granted: rng.random_range(0..50),
                scheduled_delivery_date: ship_day
                    .and_then(|d| d.tomorrow().ok())
                    .map(|d| d.to_string()),
                delivery_time_slot: if rng.random_bool(0.4) {
                    Some(TIME_SLOTS[rng.random_range(0..TIME_SLOTS.len())].into())
                } else {
                    None
                },
                memo: if rng.random_bool(0.05) {
                    "お客様より電話あり。配送日の変更希望。".into()
                } else {
                    String::new()
                },
                labels: if rng.random_bool(0.15) && !labels.is_empty() {
                    vec![labels[rng.random_range(0..labels.len())].clone()]
                } else {
                    vec![]
                },
                // Twelve digits whose last is the rest modulo 7, as the
                // carriers' numbers are (a demo number passes the check).
                tracking_number: shipped.then(|| {
                    let body: u64 = rng.random_range(10_000_000_000..100_000_000_000);
                    format!("{body}{}", body % 7)
                }),
                shipment_status: Some(if shipped { "発送済" } else { "未発送" }.into()),
                shipped_at: if shipped {
                    ship_day.map(|d| d.to_string())
                } else {
                    None
                },
                delivered_at: if shipped && status != "発送完了" {
                    ship_day
                        .and_then(|d| d.tomorrow().ok())
                        .map(|d| d.to_string())
                } else {
                    None
                },
                paid_at: None,
                order_number: None,
                ..Default::default()
            });
        }
        let made = store.create_orders(orders, &actor).await?;
        // The storefront's card token for the card subscriptions (bulk creation
        // takes none), so the demo's child orders are authorised by the sandbox.
        let masters = store.masters().await?;
        for o in &made {
            let by_card = o
                .payment_method_id
                .and_then(|id| masters.payment_method(id))
                .is_some_and(|p| p.code == "credit_card");
            if let (Some(sid), true) = (o.subscription_id, by_card) {
                let token = juchu_domain::subscription::SubscriptionCommand::ReplacePaymentToken {
                    token: juchu_adapters::payment_sandbox::test_cards::OK.into(),
                };
                store
                    .change_subscription(sid, None, &[token], &actor, "デモデータ")
                    .await?;
            }
        }
        created += m;
        if progress && last_report.elapsed().as_secs() >= 5 {
            eprintln!("  … {created} / {n} orders");
            last_report = std::time::Instant::now();
        }
    }
    Ok(created)
}

/// Requests to try 受信BOX, RPA設定 and 分析 with: automation rules for the
/// products of the demo's subscriptions (休止, スキップ and サイクル変更 for every product;
/// 解約 refused before the third delivery) and `n` requests of every type
/// from subscribers, received while the automation waits; the automation is
/// started, so the worker processes them in arrival order. Only for a shop
/// with no rule and no request yet.
pub async fn requests(store: &Store, n: usize, seed: u64) -> Result<usize, StoreError> {
    if !store.request_rules().await?.is_empty()
        || !store
            .requests(&juchu_store::requests::RequestQuery {
                limit: 1,
                ..Default::default()
            })
            .await?
            .is_empty()
    {
        return Ok(0);
    }
    let subs = store
        .search_subscriptions(&juchu_store::subscriptions::SubscriptionQuery {
            status: Some("有効".into()),
            page: 1,
            per_page: 200,
            ..Default::default()
        })
        .await?
        .subscriptions;
    let mut products: Vec<(String, String)> = Vec::new();
    for s in &subs {
        for i in s.items.iter().filter(|i| !i.is_bundled_item) {
            if !products.iter().any(|(c, _)| *c == i.product_code) {
                products.push((i.product_code.clone(), i.product_name.clone()));
            }
        }
    }
    if products.is_empty() {
        return Ok(0);
    }
    let codes: Vec<String> = products.iter().map(|(c, _)| c.clone()).collect();
    let reasons = store.subscription_reasons().await?;
    let rule = |name: &str,
                json: serde_json::Value|
     -> Result<juchu_domain::request_rule::RequestRule, StoreError> {
        let mut v = json;
        v["name"] = name.into();
        v["products"] = serde_json::json!(codes);
        serde_json::from_value(v).map_err(|e| StoreError::Other(e.to_string()))
    };
    for r in [
        rule(
            "全商品（休止）",
            serde_json::json!({"type": "休止", "pause_base": "next",
                "refusal": {"allowed_statuses": ["active"], "refused_order_statuses": ["発送準備中"]},
                "on_success": {"add": ["休止済"]},
                "message_channel": "line",
                "message": "{{お名前}}様\n休止を承りました。次回のお届けは{{次回配送予定日}}です。"}),
        )?,
        rule(
            "全商品（スキップ）",
            serde_json::json!({"type": "スキップ", "refusal": {"min_days_to_ship": 3},
                "message_channel": "mail",
                "message": "{{お名前}}様\n次回分をスキップしました。次回のお届けは{{次回配送予定日}}（{{継続回数}}回目まで済）です。"}),
        )?,
        rule(
            "全商品（サイクル変更）",
            serde_json::json!({"type": "サイクル変更", "on_success": {"add": ["サイクル変更済"]}}),
        )?,
        rule(
            "全商品（解約）",
            serde_json::json!({"type": "解約",
                "cancel_reason": reasons.cancel.first().cloned().unwrap_or_else(|| "その他".into()),
                "refusal": {"min_count": 3}, "on_refusal": {"add": ["解約不可（回数）"]}}),
        )?,
    ] {
        store.save_request_rule(&r).await?;
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let asks: &[(&str, &str, &str)] = &[
        ("休止", "col_2", "1ヶ月"),
        ("休止", "col_2", "2ヶ月"),
        ("休止", "col_2", "30日"),
        ("スキップ", "", ""),
        ("スキップ", "", ""),
        ("解約", "", ""),
        ("サイクル変更", "col_3", "2ヶ月"),
        ("お届け日変更", "", ""),
    ];
    let satisfaction = ["満足", "やや満足", "普通", "やや不満", "不満"];
    let mut made = 0;
    for _ in 0..n {
        let s = &subs[rng.random_range(0..subs.len())];
        let Some(customer_id) = s.customer_id else {
            continue;
        };
        let (kind, field, value) = asks[rng.random_range(0..asks.len())];
        let product = s
            .items
            .iter()
            .find(|i| !i.is_bundled_item)
            .map(|i| i.product_name.clone())
            .unwrap_or_default();
        let mut fields = vec![
            ("col_1".to_string(), kind.to_string()),
            ("col_4".to_string(), product),
            (
                "col_5".to_string(),
                satisfaction[rng.random_range(0..satisfaction.len())].to_string(),
            ),
        ];
        if !field.is_empty() {
            fields.push((field.to_string(), value.to_string()));
        }
        store
            .receive_request(
                &juchu_store::requests::NewRequest {
                    customer_id,
                    subscription_id: Some(s.id),
                    channel: Some(juchu_domain::request::Channel::Mypage),
                    fields,
                    ..Default::default()
                },
                &Actor::system("デモ"),
            )
            .await?;
        made += 1;
    }
    store
        .set_request_automation(true, &Actor::system("デモ"))
        .await?;
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `juchu serve --demo` makes rules and requests the automation can
    /// process (a rule the masters refuse would stop the demo from starting).
    #[tokio::test]
    async fn demo_requests_are_made_and_processed() {
        let t = juchu_store::testing::TestStore::sqlite().await;
        generate(&t.store, 300, 7, false).await.unwrap();
        let made = requests(&t.store, 40, 7).await.unwrap();
        assert!(made > 0);
        assert_eq!(t.store.request_rules().await.unwrap().len(), 4);
        assert!(t.store.request_automation_running().await.unwrap());
        let report = t.store.process_requests(100).await.unwrap();
        assert_eq!(report.total(), made);
        assert!(report.completed > 0, "{report:?}");
        // Once: a second demo start adds nothing.
        assert_eq!(requests(&t.store, 40, 7).await.unwrap(), 0);
    }
}
