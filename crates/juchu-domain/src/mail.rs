//! Mail templates (メールテンプレート): shop-editable subject and body with order
//! data inserted. Rendering is strict: an unknown variable is an error at save
//! time, never an empty gap in a mail to a customer.

use crate::masters::Masters;
use crate::order::Order;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// A template as the shop edits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailTemplate {
    /// Stable code used by rules (`shipped`).
    pub code: String,
    /// Japanese name shown in the UI (発送完了メール).
    pub name: String,
    pub subject: String,
    pub body: String,
}

/// The shop's own data for mails (ショップ情報), a setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ShopInfo {
    pub name: String,
    /// Receives the shop's copy of 注文受付メール; empty: no copy.
    pub email: String,
    pub phone: String,
    pub address: String,
    /// 適格請求書発行事業者の登録番号 (T + 13 digits), printed on 請求書 and 領収書.
    pub registration_number: String,
    /// 振込先 (bank, branch, account type and number, holder), as printed on
    /// 請求書 and put in 入金案内 for bank transfer.
    #[serde(default)]
    pub bank_account: String,
    /// 支払期限: days after the order date; 0: none.
    #[serde(default)]
    pub payment_due_days: i64,
}

impl ShopInfo {
    /// The 支払期限 of an order placed on `ordered_on`, when the shop sets one.
    pub fn payment_due_date(&self, ordered_on: jiff::civil::Date) -> Option<jiff::civil::Date> {
        (self.payment_due_days > 0)
            .then(|| {
                ordered_on
                    .checked_add(jiff::Span::new().days(self.payment_due_days))
                    .ok()
            })
            .flatten()
    }
}

const SIGNATURE: &str = "\n--\n{{ shop_name }}\n{% if shop_address %}{{ shop_address }}\n{% endif %}{% if shop_phone %}TEL: {{ shop_phone }}\n{% endif %}{% if shop_email %}{{ shop_email }}\n{% endif %}";

const ORDER_SUMMARY: &str = "ご注文番号: {{ order_number }}\n{% for i in items %}{{ i.name }}{% if i.reduced %}※{% endif %} × {{ i.quantity }}  {{ i.amount }}円\n{% endfor %}送料: {{ shipping_fee }}円\n{% if payment_fee %}決済手数料: {{ payment_fee }}円\n{% endif %}{% if discount %}値引き: -{{ discount }}円\n{% endif %}{% if points_used %}ポイント利用: -{{ points_used }}円\n{% endif %}合計: {{ total }}円（10%対象 {{ taxable_standard }}円 内消費税 {{ tax_standard }}円 / 8%対象 {{ taxable_reduced }}円 内消費税 {{ tax_reduced }}円）\n{% if has_reduced %}※は軽減税率（8%）対象です。\n{% endif %}お支払い方法: {{ payment_method }}\n{% if scheduled_delivery_date %}お届け予定日: {{ scheduled_delivery_date }}{% if delivery_time_slot %} {{ delivery_time_slot }}{% endif %}\n{% endif %}";

/// The defaults every shop starts with: one per step of the daily flow (seed 003).
pub fn default_templates() -> Vec<MailTemplate> {
    let t = |code: &str, name: &str, subject: &str, body: String| MailTemplate {
        code: code.into(),
        name: name.into(),
        subject: subject.into(),
        body: format!("{body}{SIGNATURE}"),
    };
    vec![
        t(
            "order_received",
            "注文受付メール",
            "【{{ shop_name }}】ご注文ありがとうございます（ご注文番号 {{ order_number }}）",
            format!("{{{{ customer_name }}}} 様\n\nこのたびはご注文いただき誠にありがとうございます。\n以下の内容でご注文を承りました。\n\n{ORDER_SUMMARY}"),
        ),
        t(
            "shipped",
            "発送完了メール",
            "【{{ shop_name }}】発送のお知らせ（ご注文番号 {{ order_number }}）",
            "{{ customer_name }} 様\n\nご注文の商品を発送しました。\nご注文番号: {{ order_number }}\n{% for p in packages %}{% if packages|length > 1 %}\n【お荷物{{ p.number }}】{% if p.status %} {{ p.status }}{% endif %}\n{% endif %}配送業者: {{ p.carrier }}\n{% for t in p.parcels %}配送伝票番号: {{ t.tracking_number }}\n{% if t.tracking_url %}配送状況: {{ t.tracking_url }}\n{% endif %}{% endfor %}{% endfor %}{% if scheduled_delivery_date %}お届け予定日: {{ scheduled_delivery_date }}{% if delivery_time_slot %} {{ delivery_time_slot }}{% endif %}\n{% endif %}".into(),
        ),
        t(
            "cancelled",
            "注文キャンセル完了メール",
            "【{{ shop_name }}】ご注文キャンセルのお知らせ（ご注文番号 {{ order_number }}）",
            "{{ customer_name }} 様\n\nご注文番号 {{ order_number }} のキャンセルが完了しました。\n{% if points_used %}ご利用のポイント（{{ points_used }}ポイント）はお客様のアカウントに戻しております。\n{% endif %}".into(),
        ),
        t(
            "returned",
            "返品確認メール",
            "【{{ shop_name }}】返品の確認（ご注文番号 {{ order_number }}）",
            "{{ customer_name }} 様\n\nご注文番号 {{ order_number }} の商品が当店に返送されました。\nお心当たりがない場合はお手数ですがご連絡ください。\n".into(),
        ),
        t(
            "payment_guidance",
            "入金案内メール",
            "【{{ shop_name }}】お支払いのご案内（ご注文番号 {{ order_number }}）",
            format!("{{{{ customer_name }}}} 様\n\nご注文ありがとうございます。下記の金額のお支払いをお願いいたします。\nご入金を確認しだい商品を発送いたします。\n\nお支払い金額: {{{{ total }}}}円\n{{% if payment_due_date %}}お支払期限: {{{{ payment_due_date }}}}\n{{% endif %}}{{% if bank_account %}}\nお振込先:\n{{{{ bank_account }}}}\n{{% endif %}}\n{ORDER_SUMMARY}"),
        ),
        t(
            "payment_confirmed",
            "振り込み確認メール",
            "【{{ shop_name }}】ご入金を確認しました（ご注文番号 {{ order_number }}）",
            "{{ customer_name }} 様\n\nご注文番号 {{ order_number }} のご入金（{{ total }}円）を確認いたしました。\n{% if paid_at %}入金日: {{ paid_at }}\n{% endif %}発送まで今しばらくお待ちください。\n".into(),
        ),
        t(
            "out_of_stock",
            "欠品のお知らせメール",
            "【{{ shop_name }}】欠品のお知らせ（ご注文番号 {{ order_number }}）",
            "{{ customer_name }} 様\n\nご注文いただいた以下の商品が現在欠品しております。\n{% if missing_items %}{% for m in missing_items %}・{{ m.name }}（ご注文 {{ m.ordered }} 点のうち {{ m.quantity }} 点）\n{% endfor %}{% else %}{% for i in items %}・{{ i.name }} × {{ i.quantity }}\n{% endfor %}{% endif %}入荷しだい発送いたします。お待ちいただけない場合はキャンセルも承りますので、ご連絡ください。\n".into(),
        ),
        t(
            SUBSCRIPTION_NOTICE,
            "定期お届け事前お知らせメール",
            "【{{ shop_name }}】次回のお届けのご案内（定期受注番号 {{ subscription_id }}）",
            "{{ customer_name }} 様\n\nいつもご利用いただきありがとうございます。\n定期便の次回のお届け内容をお知らせします。\n\nお届け予定日: {{ scheduled_delivery_date }}{% if delivery_time_slot %} {{ delivery_time_slot }}{% endif %}\n発送予定日: {{ scheduled_ship_date }}\n{% for i in items %}{{ i.name }}{% if i.reduced %}※{% endif %} × {{ i.quantity }}  {{ i.amount }}円\n{% endfor %}送料: {{ shipping_fee }}円\n{% if payment_fee %}決済手数料: {{ payment_fee }}円\n{% endif %}合計: {{ total }}円\n{% if has_reduced %}※は軽減税率（8%）対象です。\n{% endif %}お支払い方法: {{ payment_method }}\n\nスキップ・お届け日やサイクルの変更・休止・解約をご希望の場合は、発送予定日 {{ scheduled_ship_date }} の前日までに、定期受注番号 {{ subscription_id }} をお書き添えのうえ当店までご連絡ください。\n".into(),
        ),
        t(
            ORDER_MESSAGE,
            "メッセージ通知メール",
            "【{{ shop_name }}】ショップからのメッセージがあります（ご注文番号 {{ order_number }}）",
            "{{ customer_name }} 様\n\nご注文番号 {{ order_number }} について、ショップからのメッセージがあります。\n{% if mypage_url %}マイページの注文履歴からご確認ください。\n{{ mypage_url }}/orders/{{ order_number }}\n{% else %}マイページの注文履歴からご確認ください。\n{% endif %}".into(),
        ),
    ]
}

/// Code of 「ショップからのメッセージがあります」 (a message on the order).
pub const ORDER_MESSAGE: &str = "order_message";

/// Code of 定期お届け事前お知らせメール (sent N days before each ship date).
pub const SUBSCRIPTION_NOTICE: &str = "subscription_notice";

#[derive(Debug, Clone, Serialize)]
struct Line {
    name: String,
    code: String,
    quantity: i64,
    unit_price: i64,
    amount: i64,
    /// 軽減税率 (8%).
    reduced: bool,
}

/// A line the order is short of (在庫): how many of how many ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Missing {
    name: String,
    code: String,
    quantity: i64,
    ordered: i64,
}

/// One package of the order (出荷), for templates listing every package.
#[derive(Debug, Clone, Serialize)]
struct Package {
    number: u32,
    carrier: String,
    /// 発送状況 of a split order's package ("" for an order of one package).
    status: String,
    parcels: Vec<Parcel>,
}

/// One parcel's number and its tracking link.
#[derive(Debug, Clone, Serialize)]
struct Parcel {
    tracking_number: String,
    tracking_url: String,
}

/// The variables a template may use.
#[derive(Debug, Clone, Serialize)]
pub struct MailContext {
    order_number: String,
    /// 定期受注番号 ("" for an order of no subscription).
    subscription_id: String,
    /// 発送予定日.
    scheduled_ship_date: String,
    ordered_at: String,
    customer_name: String,
    total: i64,
    shipping_fee: i64,
    payment_fee: i64,
    discount: i64,
    points_used: i64,
    taxable_standard: i64,
    tax_standard: i64,
    taxable_reduced: i64,
    tax_reduced: i64,
    has_reduced: bool,
    payment_method: String,
    carrier: String,
    tracking_number: String,
    tracking_url: String,
    packages: Vec<Package>,
    scheduled_delivery_date: String,
    delivery_time_slot: String,
    paid_at: String,
    items: Vec<Line>,
    shop_name: String,
    shop_email: String,
    shop_phone: String,
    shop_address: String,
    /// 振込先 (ショップ情報).
    bank_account: String,
    /// 支払期限: the order date plus ショップ情報's days ("" when none).
    payment_due_date: String,
    /// 欠品: the lines the order is short of (empty without stock control).
    missing_items: Vec<Missing>,
    /// マイページ's address ("" when juchu does not know its public address).
    mypage_url: String,
}

/// The names templates can use, for the editor's help text.
pub const VARIABLES: &[&str] = &[
    "order_number",
    "subscription_id",
    "scheduled_ship_date",
    "ordered_at",
    "customer_name",
    "total",
    "shipping_fee",
    "payment_fee",
    "discount",
    "points_used",
    "taxable_standard",
    "tax_standard",
    "taxable_reduced",
    "tax_reduced",
    "has_reduced",
    "payment_method",
    "carrier",
    "tracking_number",
    "tracking_url",
    "packages (number, carrier, status, parcels: tracking_number, tracking_url)",
    "scheduled_delivery_date",
    "delivery_time_slot",
    "paid_at",
    "items (name, code, quantity, unit_price, amount, reduced)",
    "shop_name",
    "shop_email",
    "shop_phone",
    "shop_address",
    "bank_account",
    "payment_due_date",
    "missing_items (name, code, quantity: 不足数, ordered: 注文数)",
    "mypage_url",
];

impl MailContext {
    pub fn of(o: &Order, m: &Masters, shop: &ShopInfo) -> Self {
        let carrier = o.carrier_id.and_then(|id| m.carrier(id));
        let t = &o.totals;
        MailContext {
            order_number: o.order_number.clone(),
            subscription_id: o.subscription_id.map(|s| s.to_string()).unwrap_or_default(),
            scheduled_ship_date: o
                .scheduled_ship_date
                .map(|d| d.to_string())
                .unwrap_or_default(),
            ordered_at: crate::time::display_ts(o.ordered_at),
            customer_name: o.billing.full_name(),
            total: t.total,
            shipping_fee: t.shipping_fee,
            payment_fee: t.payment_fee,
            discount: t.discount,
            points_used: t.points_used,
            taxable_standard: t.taxable_standard,
            tax_standard: t.tax_standard,
            taxable_reduced: t.taxable_reduced,
            tax_reduced: t.tax_reduced,
            has_reduced: o
                .items
                .iter()
                .any(|i| i.tax_rate == crate::status::TaxRate::Reduced),
            payment_method: o
                .payment_method_id
                .and_then(|id| m.payment_method(id))
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            carrier: carrier.map(|c| c.name.clone()).unwrap_or_default(),
            tracking_number: o.tracking_number.clone().unwrap_or_default(),
            tracking_url: carrier
                .zip(o.tracking_number.as_deref())
                .and_then(|(c, t)| c.tracking_url(t))
                .unwrap_or_default(),
            packages: {
                let all = o.effective_shipments();
                let split = all.len() > 1;
                all.iter()
                    .map(|s| {
                        let c = o.shipment_carrier_id(s).and_then(|id| m.carrier(id));
                        Package {
                            number: s.number,
                            carrier: c.map(|c| c.name.clone()).unwrap_or_default(),
                            status: if split {
                                s.status.label().to_string()
                            } else {
                                String::new()
                            },
                            parcels: s
                                .tracking_numbers
                                .iter()
                                .map(|t| Parcel {
                                    tracking_number: t.clone(),
                                    tracking_url: c
                                        .and_then(|c| c.tracking_url(t))
                                        .unwrap_or_default(),
                                })
                                .collect(),
                        }
                    })
                    .collect()
            },
            scheduled_delivery_date: o
                .scheduled_delivery_date
                .map(|d| d.to_string())
                .unwrap_or_default(),
            delivery_time_slot: o.delivery_time_slot.clone().unwrap_or_default(),
            paid_at: o.paid_at.map(|d| d.to_string()).unwrap_or_default(),
            items: o
                .items
                .iter()
                .map(|i| Line {
                    name: i.product_name.clone(),
                    code: i.product_code.clone(),
                    quantity: i.quantity,
                    unit_price: i.unit_price,
                    amount: i.unit_price * i.quantity,
                    reduced: i.tax_rate == crate::status::TaxRate::Reduced,
                })
                .collect(),
            shop_name: shop.name.clone(),
            shop_email: shop.email.clone(),
            shop_phone: shop.phone.clone(),
            shop_address: shop.address.clone(),
            bank_account: shop.bank_account.clone(),
            payment_due_date: shop
                .payment_due_date(crate::time::japan_date(o.ordered_at))
                .map(|d| d.to_string())
                .unwrap_or_default(),
            missing_items: vec![],
            mypage_url: String::new(),
        }
    }

    /// The lines the order is short of, as (product code, quantity short);
    /// names and ordered quantities come from the order's own items.
    /// マイページ's address under `public_url` (nothing when it is empty).
    pub fn with_mypage_url(mut self, public_url: &str) -> Self {
        let base = public_url.trim().trim_end_matches('/');
        self.mypage_url = if base.is_empty() {
            String::new()
        } else {
            format!("{base}/mypage")
        };
        self
    }

    pub fn with_missing(mut self, short: &[(String, i64)]) -> Self {
        self.missing_items = short
            .iter()
            .map(|(code, quantity)| {
                let line = self.items.iter().find(|l| &l.code == code);
                Missing {
                    name: line.map(|l| l.name.clone()).unwrap_or_else(|| code.clone()),
                    code: code.clone(),
                    quantity: *quantity,
                    ordered: line.map_or(*quantity, |l| l.quantity),
                }
            })
            .collect();
        self
    }
}

/// A context with sample values, to check a template when it is saved.
pub fn sample_context() -> MailContext {
    MailContext {
        order_number: "1001".into(),
        subscription_id: "12".into(),
        scheduled_ship_date: "2026-11-29".into(),
        ordered_at: "2026-11-30 10:00".into(),
        customer_name: "山田 花子".into(),
        total: 3_980,
        shipping_fee: 770,
        payment_fee: 0,
        discount: 0,
        points_used: 0,
        taxable_standard: 770,
        tax_standard: 70,
        taxable_reduced: 3_210,
        tax_reduced: 237,
        has_reduced: true,
        payment_method: "クレジットカード".into(),
        carrier: "ヤマト運輸".into(),
        tracking_number: "1234-5678-9012".into(),
        tracking_url: "https://example.jp/track?no=123456789012".into(),
        packages: vec![Package {
            number: 1,
            carrier: "ヤマト運輸".into(),
            status: String::new(),
            parcels: vec![Parcel {
                tracking_number: "123456789012".into(),
                tracking_url: "https://example.jp/track?no=123456789012".into(),
            }],
        }],
        scheduled_delivery_date: "2026-12-01".into(),
        delivery_time_slot: "午前中".into(),
        paid_at: "2026-11-30".into(),
        items: vec![Line {
            name: "有機緑茶 100g".into(),
            code: "TEA-01".into(),
            quantity: 2,
            unit_price: 1_080,
            amount: 2_160,
            reduced: true,
        }],
        shop_name: "juchu 茶舗".into(),
        shop_email: "shop@example.jp".into(),
        shop_phone: "03-0000-0000".into(),
        shop_address: "東京都渋谷区神宮前1-2-3".into(),
        bank_account: "〇〇銀行 渋谷支店 普通 1234567 ジユチユウチヤホ".into(),
        payment_due_date: "2026-12-07".into(),
        missing_items: vec![Missing {
            name: "有機緑茶 100g".into(),
            code: "TEA-01".into(),
            quantity: 1,
            ordered: 2,
        }],
        mypage_url: "https://shop.example.jp/mypage".into(),
    }
}

/// Renders subject and body. An empty subject or body, an unknown variable
/// (named, with the line) or a syntax error is an error in Japanese naming the
/// part: a shop must never send an empty or half-filled mail.
pub fn render(t: &MailTemplate, ctx: &MailContext) -> Result<(String, String), String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let value = minijinja::Value::from_serialize(ctx);
    let known: std::collections::HashSet<String> = value
        .try_iter()
        .map(|keys| {
            keys.filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let one = |part: &str, src: &str| -> Result<String, String> {
        if src.trim().is_empty() {
            return Err(format!("{part}が空です。{part}を入力してください"));
        }
        let tmpl = env
            .template_from_str(src)
            .map_err(|e| explain(part, src, &e))?;
        let mut unknown: Vec<String> = tmpl
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !known.contains(v))
            .collect();
        unknown.sort();
        if let Some(v) = unknown.first() {
            return Err(format!(
                "{part}{}: 「{{{{ {v} }}}}」の {v} という変数はありません（使える変数は画面の一覧にあります）",
                line_of(src, v)
                    .map(|l| format!(" {l}行目"))
                    .unwrap_or_default(),
            ));
        }
        let out = tmpl.render(&value).map_err(|e| explain(part, src, &e))?;
        if out.trim().is_empty() {
            return Err(format!("{part}がこの受注では空になります"));
        }
        Ok(out)
    };
    Ok((
        one("件名", &t.subject)?.trim().to_string(),
        one("本文", &t.body)?,
    ))
}

/// The first line of `src` that mentions `name` as a word.
fn line_of(src: &str, name: &str) -> Option<usize> {
    src.lines()
        .position(|l| {
            l.match_indices(name).any(|(i, _)| {
                let before = l[..i].chars().next_back();
                let after = l[i + name.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !word(before) && !word(after)
            })
        })
        .map(|i| i + 1)
}

fn explain(part: &str, src: &str, e: &minijinja::Error) -> String {
    use minijinja::ErrorKind as K;
    let line = e
        .line()
        .filter(|l| *l <= src.lines().count().max(1))
        .map(|l| format!(" {l}行目"))
        .unwrap_or_default();
    let what = match e.kind() {
        K::SyntaxError => {
            "書き方に誤りがあります（{{ 変数 }} や {% if %}…{% endif %} の閉じ忘れなど）"
        }
        K::UndefinedError => {
            "この受注では値のない項目を使っています（{% if 項目 %} で囲むと、ないときは省けます）"
        }
        K::UnknownFilter => "使えないフィルターがあります",
        K::UnknownFunction | K::UnknownMethod => "使えない関数があります",
        K::InvalidOperation => "できない計算や比較があります",
        _ => "表示できません",
    };
    let detail = e.detail().map(|d| format!("（{d}）")).unwrap_or_default();
    format!("{part}{line}: {what}{detail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{masters, order_with, products};

    #[test]
    fn defaults_render_with_order_data() {
        let (m, p) = (masters(), products());
        let mut o = order_with(&m, &p, &[("TEA-01", 2, None)]);
        o.order_number = "1001".into();
        o.tracking_number = Some("1234-5678".into());
        o.carrier_id = Some(1);
        let ctx = MailContext::of(
            &o,
            &m,
            &ShopInfo {
                name: "茶舗".into(),
                ..Default::default()
            },
        );
        for t in default_templates() {
            let (subject, body) = render(&t, &ctx).unwrap();
            // The notice comes before its order exists: it names the subscription.
            if t.code != SUBSCRIPTION_NOTICE {
                assert!(subject.contains("1001"), "{}", t.code);
            }
            assert!(body.contains("様"));
        }
        let shipped = default_templates().remove(1);
        let (_, body) = render(&shipped, &ctx).unwrap();
        assert!(body.contains("1234-5678"));
        assert!(body.contains("https://t.example/1234-5678"), "{body}");
        // Totals per tax rate and the reduced-rate mark.
        let (subject, body) = render(&default_templates().remove(0), &ctx).unwrap();
        assert!(subject.starts_with("【茶舗】"), "{subject}");
        assert!(body.contains("有機緑茶 100g※ × 2  2160円"), "{body}");
        assert!(body.contains("8%対象 2160円 内消費税 160円"), "{body}");
        assert!(body.contains("※は軽減税率"), "{body}");
        assert!(body.contains("茶舗\n"), "signature: {body}");
        let names: Vec<String> = default_templates().into_iter().map(|t| t.name).collect();
        for n in [
            "注文受付メール",
            "入金案内メール",
            "振り込み確認メール",
            "欠品のお知らせメール",
            "発送完了メール",
            "注文キャンセル完了メール",
            "返品確認メール",
        ] {
            assert!(names.iter().any(|x| x == n), "{n}");
        }
        // Every default renders against the save-time sample as well.
        for t in default_templates() {
            render(&t, &sample_context()).unwrap();
        }
    }

    /// The context of an order of one tea, with no shop data.
    fn one_tea_context() -> MailContext {
        let (m, p) = (masters(), products());
        MailContext::of(
            &order_with(&m, &p, &[("TEA-01", 1, None)]),
            &m,
            &ShopInfo::default(),
        )
    }

    fn template(subject: &str, body: &str) -> MailTemplate {
        MailTemplate {
            code: "x".into(),
            name: "x".into(),
            subject: subject.into(),
            body: body.into(),
        }
    }

    #[test]
    fn unknown_variables_are_errors() {
        let ctx = one_tea_context();
        let t = template("{{ order_numbr }}", "ok");
        let e = render(&t, &ctx).unwrap_err();
        assert!(e.starts_with("件名 1行目"), "{e}");
        assert!(e.contains("order_numbr という変数はありません"), "{e}");
        let later = MailTemplate {
            subject: "ok".into(),
            body: "こんにちは\n{{ customer_name }}様\n\n{{ shop_nam }}".into(),
            ..t.clone()
        };
        let e = render(&later, &ctx).unwrap_err();
        assert!(e.starts_with("本文 4行目"), "{e}");
        assert!(e.contains("shop_nam"), "{e}");
        // A loop's own variable is not unknown.
        let looped = MailTemplate {
            subject: "ok".into(),
            body: "{% for i in items %}{{ i.name }}{% endfor %}".into(),
            ..t.clone()
        };
        assert!(render(&looped, &ctx).is_ok());
        let bad = MailTemplate {
            body: "{% if %}".into(),
            subject: "ok".into(),
            ..t
        };
        let e = render(&bad, &ctx).unwrap_err();
        assert!(e.starts_with("本文 1行目: 書き方に誤り"), "{e}");
    }

    #[test]
    fn empty_subject_or_body_is_refused() {
        let ctx = one_tea_context();
        let t = template("  ", "本文");
        assert_eq!(
            render(&t, &ctx).unwrap_err(),
            "件名が空です。件名を入力してください"
        );
        let t = MailTemplate {
            subject: "件名".into(),
            body: "\n".into(),
            ..t
        };
        assert!(render(&t, &ctx).unwrap_err().starts_with("本文が空"));
    }
}
