//! 帳票 (納品書 / 請求書 / 領収書): what a document says for an order. Invoices
//! follow Japan's qualified-invoice rules (適格請求書): the issuer's
//! registration number (T + 13 digits), the items with the reduced-rate mark,
//! and the amounts and consumption tax per rate — the tax rounded once per
//! rate, as the order's totals already are. Rendering lives elsewhere.

use crate::FieldErrors;
use crate::masters::Masters;
use crate::order::Order;
use crate::status::TaxRate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 納品書
    DeliveryNote,
    /// 請求書 (適格請求書)
    Invoice,
    /// 領収書 (適格簡易請求書 as well)
    Receipt,
}

impl DocumentKind {
    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::DeliveryNote => "納品書",
            DocumentKind::Invoice => "請求書",
            DocumentKind::Receipt => "領収書",
        }
    }
    /// Whether the document must carry the registration number.
    pub fn is_qualified_invoice(self) -> bool {
        !matches!(self, DocumentKind::DeliveryNote)
    }
}

/// PDF一括出力's parameters: which document, the shop's format of it (帳票管理;
/// the standard layout when absent) and the issue date chosen at export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdfExport {
    pub document: DocumentKind,
    pub issue_date: String,
    #[serde(default)]
    pub format_id: Option<i64>,
}

/// Whom a document is addressed to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Addressee {
    /// 請求先
    #[default]
    Billing,
    /// お届け先 (a delivery note travelling with a gift)
    Shipping,
}

fn yes() -> bool {
    true
}

/// 帳票管理: a shop's layout of one kind of document — which items it prints
/// and its own wording. What a qualified invoice must say (issuer, registration
/// number, date, items with the reduced-rate mark, amounts and tax per rate)
/// cannot be left out of a 請求書 or 領収書.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentFormat {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    pub kind: DocumentKind,
    /// The printed title; the kind's name when empty.
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub addressee: Addressee,
    #[serde(default = "yes")]
    pub show_order_number: bool,
    #[serde(default = "yes")]
    pub show_ordered_on: bool,
    #[serde(default = "yes")]
    pub show_product_code: bool,
    /// Unit prices, amounts, totals and tax. Only a 納品書 may leave them out.
    #[serde(default = "yes")]
    pub show_prices: bool,
    #[serde(default = "yes")]
    pub show_payment_method: bool,
    /// 配送業者, 配送予定日, 配送時間帯 and 配送伝票番号.
    #[serde(default)]
    pub show_delivery: bool,
    #[serde(default = "yes")]
    pub show_logo: bool,
    /// 但し書き of a 領収書 (「お品代として」).
    #[serde(default)]
    pub proviso: String,
    /// Printed under the amounts (a greeting, the returns policy).
    #[serde(default)]
    pub message: String,
}

impl DocumentFormat {
    /// The layout used when an export names no format.
    pub fn standard(kind: DocumentKind) -> DocumentFormat {
        DocumentFormat {
            id: 0,
            name: format!("標準の{}", kind.label()),
            kind,
            title: String::new(),
            addressee: Addressee::Billing,
            show_order_number: true,
            show_ordered_on: true,
            show_product_code: true,
            show_prices: true,
            show_payment_method: true,
            show_delivery: false,
            show_logo: true,
            proviso: if kind == DocumentKind::Receipt {
                "お品代として".into()
            } else {
                String::new()
            },
            message: String::new(),
        }
    }

    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        if self.name.trim().is_empty() {
            e.add("name", "required", "フォーマット名を入力してください");
        }
        crate::text::check_len(&mut e, "name", &self.name, 100);
        crate::text::check_len(&mut e, "title", &self.title, 40);
        crate::text::check_len(&mut e, "proviso", &self.proviso, 100);
        crate::text::check_len(&mut e, "message", &self.message, 1000);
        if !self.show_prices && self.kind.is_qualified_invoice() {
            e.add(
                "show_prices",
                "required_by_invoice_rules",
                format!(
                    "{}は適格請求書として金額と税率ごとの消費税を省けません（金額なしにできるのは納品書だけです）",
                    self.kind.label()
                ),
            );
        }
        // 取引年月日 is part of a qualified invoice; a 請求書 (not the simplified
        // 領収書) also names the buyer it is issued to.
        if !self.show_ordered_on && self.kind.is_qualified_invoice() {
            e.add(
                "show_ordered_on",
                "required_by_invoice_rules",
                format!(
                    "{}は適格請求書として取引の日付（受注日）を省けません",
                    self.kind.label()
                ),
            );
        }
        if self.addressee == Addressee::Shipping && self.kind == DocumentKind::Invoice {
            e.add(
                "addressee",
                "required_by_invoice_rules",
                "請求書の宛名は請求先です（適格請求書は交付先の氏名を記載します）。お届け先宛ては納品書で作れます",
            );
        }
        if !self.proviso.trim().is_empty() && self.kind != DocumentKind::Receipt {
            e.add("proviso", "receipt_only", "但し書きは領収書にだけ書けます");
        }
        e.into_result()
    }
}

impl PdfExport {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        match crate::time::parse_date(&self.issue_date) {
            Ok(_) => Ok(()),
            Err(_) => Err(FieldErrors::single(
                "params.issue_date",
                "bad_date",
                format!(
                    "発行日「{}」は YYYY-MM-DD で入力してください",
                    self.issue_date
                ),
            )),
        }
    }
}

/// The registration number of a qualified-invoice issuer: `T` and 13 digits
/// (全角 and hyphens accepted, stored as `T1234567890123`).
pub fn registration_number(input: &str) -> Result<String, String> {
    let s: String = crate::normalize::nfkc(input)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let s = s.to_uppercase();
    match s.strip_prefix('T') {
        Some(d) if d.len() == 13 && d.chars().all(|c| c.is_ascii_digit()) => Ok(s),
        _ => Err(format!(
            "登録番号「{input}」は T と13桁の数字で入力してください（例: T1234567890123）"
        )),
    }
}

/// Who issues the documents (帳票管理 / ショップ情報).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Issuer {
    pub shop_name: String,
    pub address: String,
    pub phone: String,
    pub registration_number: String,
    /// 振込先, printed on a 請求書 of an order paid by bank transfer.
    #[serde(skip)]
    pub bank_account: String,
    /// 支払期限 in days after the order date (0: none).
    #[serde(skip)]
    pub payment_due_days: i64,
}

impl Issuer {
    pub fn of(shop: &crate::mail::ShopInfo) -> Issuer {
        Issuer {
            shop_name: shop.name.clone(),
            address: shop.address.clone(),
            phone: shop.phone.clone(),
            registration_number: shop.registration_number.clone(),
            bank_account: shop.bank_account.clone(),
            payment_due_days: shop.payment_due_days,
        }
    }
}

/// The code of the payment method whose 請求書 carries the 振込先.
pub const BANK_TRANSFER: &str = "bank_transfer";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentLine {
    pub code: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: String,
    pub amount: String,
    /// ※ 軽減税率対象
    pub reduced: bool,
}

/// Everything one order's document prints, amounts already formatted; what
/// the format leaves out is empty (or false).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentData {
    pub title: String,
    pub order_number: String,
    pub issue_date: String,
    pub ordered_on: String,
    pub customer_name: String,
    pub postal_code: String,
    /// The address, one printed line each: 都道府県 + 住所1, 住所2, 会社名, 部署.
    pub address_lines: Vec<String>,
    /// What the total is called: ご請求金額 on a 請求書, 合計金額 otherwise.
    pub total_label: String,
    /// (label, value) rows of how to pay: 振込先 and 支払期限 on the 請求書 of a
    /// bank-transfer order.
    pub payment_notes: Vec<(String, String)>,
    pub payment_method: String,
    pub show_code: bool,
    pub show_prices: bool,
    pub show_logo: bool,
    /// (label, value) rows of 配送業者 and the like.
    pub delivery: Vec<(String, String)>,
    /// 但し書き (領収書).
    pub proviso: String,
    pub message: String,
    pub lines: Vec<DocumentLine>,
    /// (label, amount) rows under the items: 小計, 送料, 手数料, 値引き, ポイント利用.
    pub adjustments: Vec<(String, String)>,
    pub total: String,
    /// Per rate: (「10%対象」, amount, tax).
    pub taxes: Vec<(String, String, String)>,
    pub has_reduced: bool,
    pub receipt: bool,
}

/// `¥12,345`
pub fn yen(v: i64) -> String {
    let s = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}¥{out}", if v < 0 { "-" } else { "" })
}

pub fn document_of(
    order: &Order,
    masters: &Masters,
    format: &DocumentFormat,
    issue_date: &str,
    issuer: &Issuer,
) -> DocumentData {
    let kind = format.kind;
    let method = order
        .payment_method_id
        .and_then(|id| masters.payment_method(id));
    let mut payment_notes = Vec::new();
    if kind == DocumentKind::Invoice && method.is_some_and(|m| m.code == BANK_TRANSFER) {
        if !issuer.bank_account.trim().is_empty() {
            payment_notes.push((
                "お振込先".to_string(),
                issuer.bank_account.trim().to_string(),
            ));
        }
        let shop = crate::mail::ShopInfo {
            payment_due_days: issuer.payment_due_days,
            ..Default::default()
        };
        if let Some(due) = shop.payment_due_date(crate::time::japan_date(order.ordered_at)) {
            payment_notes.push(("お支払期限".to_string(), due.to_string()));
        }
    }
    let t = &order.totals;
    // What a qualified invoice must say holds even for a format stored
    // before a rule existed (validated with the format, enforced here too).
    let b = match format.addressee {
        Addressee::Shipping if kind != DocumentKind::Invoice => &order.shipping,
        _ => &order.billing,
    };
    let mut delivery = Vec::new();
    if format.show_delivery {
        let carrier = order
            .carrier_id
            .and_then(|id| masters.carrier(id))
            .map(|c| c.name.clone());
        let date = order.scheduled_delivery_date.map(|d| d.to_string());
        for (label, value) in [
            ("配送業者", carrier),
            ("配送予定日", date),
            ("配送時間帯", order.delivery_time_slot.clone()),
            ("配送伝票番号", order.tracking_number.clone()),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                delivery.push((label.to_string(), v));
            }
        }
    }
    let mut adjustments = vec![("小計".to_string(), yen(t.items_standard + t.items_reduced))];
    if t.shipping_fee != 0 {
        adjustments.push(("送料".into(), yen(t.shipping_fee)));
    }
    if t.payment_fee != 0 {
        adjustments.push(("決済手数料".into(), yen(t.payment_fee)));
    }
    if t.discount != 0 {
        adjustments.push(("値引き".into(), yen(-t.discount)));
    }
    if t.points_used != 0 {
        adjustments.push(("ポイント利用".into(), yen(-t.points_used)));
    }
    let mut taxes = Vec::new();
    if t.taxable_standard != 0 || t.taxable_reduced == 0 {
        taxes.push((
            "10%対象".to_string(),
            yen(t.taxable_standard),
            yen(t.tax_standard),
        ));
    }
    if t.taxable_reduced != 0 {
        taxes.push(("8%対象".into(), yen(t.taxable_reduced), yen(t.tax_reduced)));
    }
    let shown = |yes: bool, s: String| if yes { s } else { String::new() };
    DocumentData {
        title: if format.title.trim().is_empty() {
            kind.label().to_string()
        } else {
            format.title.trim().to_string()
        },
        order_number: shown(format.show_order_number, order.order_number.clone()),
        issue_date: issue_date.to_string(),
        ordered_on: shown(
            format.show_ordered_on || kind.is_qualified_invoice(),
            crate::time::japan_date(order.ordered_at).to_string(),
        ),
        customer_name: b.full_name(),
        postal_code: b.postal_code.clone(),
        address_lines: [
            format!("{}{}", b.prefecture, b.address1),
            b.address2.clone(),
            b.company_name.clone(),
            b.department.clone(),
        ]
        .into_iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect(),
        total_label: if kind == DocumentKind::Invoice {
            "ご請求金額"
        } else {
            "合計金額"
        }
        .to_string(),
        payment_notes,
        payment_method: shown(
            format.show_payment_method,
            method.map(|p| p.name.clone()).unwrap_or_default(),
        ),
        // A qualified invoice always shows its amounts (validated with the format).
        show_prices: format.show_prices || kind.is_qualified_invoice(),
        show_code: format.show_product_code,
        show_logo: format.show_logo,
        delivery,
        proviso: if kind == DocumentKind::Receipt {
            format.proviso.trim().to_string()
        } else {
            String::new()
        },
        message: format.message.trim().to_string(),
        lines: order
            .items
            .iter()
            .map(|i| DocumentLine {
                code: i.product_code.clone(),
                name: i.product_name.clone(),
                quantity: i.quantity,
                unit_price: yen(i.unit_price),
                amount: yen(i.amount()),
                reduced: i.tax_rate == TaxRate::Reduced,
            })
            .collect(),
        adjustments,
        total: yen(t.total),
        taxes,
        has_reduced: order.items.iter().any(|i| i.tax_rate == TaxRate::Reduced),
        receipt: kind == DocumentKind::Receipt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_numbers_are_t_and_13_digits() {
        assert_eq!(
            registration_number("T1234567890123").unwrap(),
            "T1234567890123"
        );
        assert_eq!(
            registration_number(" ｔ１２３４-５６７８-９０１２３ ").unwrap(),
            "T1234567890123"
        );
        assert!(registration_number("1234567890123").is_err());
        assert!(registration_number("T123456789012").is_err());
        assert!(registration_number("T12345678901234").is_err());
        assert!(registration_number("TA234567890123").is_err());
    }

    #[test]
    fn documents_show_the_reduced_mark_and_tax_per_rate() {
        let m = crate::order::tests::masters();
        let p = crate::order::tests::products();
        let o =
            crate::order::tests::order_with(&m, &p, &[("TEA-01", 2, None), ("CUP-01", 1, None)]);
        let d = document_of(
            &o,
            &m,
            &DocumentFormat::standard(DocumentKind::Invoice),
            "2026-12-01",
            &Issuer::default(),
        );
        assert_eq!(d.title, "請求書");
        assert_eq!(d.total_label, "ご請求金額");
        assert!(d.show_prices && d.show_code && d.delivery.is_empty());
        assert_eq!(d.order_number, o.order_number);
        assert!(d.has_reduced);
        let tea = d.lines.iter().find(|l| l.code == "TEA-01").unwrap();
        assert!(tea.reduced);
        assert!(!d.lines.iter().find(|l| l.code == "CUP-01").unwrap().reduced);
        assert_eq!(d.taxes.len(), 2);
        assert_eq!(d.taxes[0].0, "10%対象");
        assert_eq!(d.taxes[0].2, yen(o.totals.tax_standard));
        assert_eq!(d.taxes[1].2, yen(o.totals.tax_reduced));
        assert_eq!(d.total, yen(o.totals.total));
        assert_eq!(yen(1234567), "¥1,234,567");
        assert_eq!(yen(-500), "-¥500");
        assert!(
            PdfExport {
                document: DocumentKind::Receipt,
                issue_date: "12/01".into(),
                format_id: None,
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn formats_choose_what_a_document_prints_but_not_what_an_invoice_must() {
        let m = crate::order::tests::masters();
        let p = crate::order::tests::products();
        let mut o = crate::order::tests::order_with(&m, &p, &[("TEA-01", 2, None)]);
        o.shipping.family_name = "佐藤".into();
        o.shipping.given_name = "一郎".into();
        o.tracking_number = Some("1234-5678".into());
        let gift = DocumentFormat {
            name: "ギフト用納品書".into(),
            title: "お買上明細書".into(),
            addressee: Addressee::Shipping,
            show_prices: false,
            show_order_number: false,
            show_delivery: true,
            message: "このたびはありがとうございました。".into(),
            ..DocumentFormat::standard(DocumentKind::DeliveryNote)
        };
        assert!(gift.validate().is_ok());
        let d = document_of(&o, &m, &gift, "2026-12-01", &Issuer::default());
        assert_eq!(d.total_label, "合計金額");
        assert_eq!(d.title, "お買上明細書");
        assert_eq!(d.customer_name, "佐藤 一郎");
        assert!(!d.show_prices);
        assert_eq!(d.order_number, "");
        assert!(
            d.delivery
                .contains(&("配送伝票番号".to_string(), "1234-5678".to_string()))
        );
        assert_eq!(d.message, "このたびはありがとうございました。");
        assert_eq!(d.proviso, "");

        let no_prices_invoice = DocumentFormat {
            name: "金額なし請求書".into(),
            show_prices: false,
            ..DocumentFormat::standard(DocumentKind::Invoice)
        };
        let e = no_prices_invoice.validate().unwrap_err();
        assert_eq!(e.0[0].field, "show_prices");
        assert!(e.0[0].message.contains("適格請求書"));
        let undated_receipt = DocumentFormat {
            show_ordered_on: false,
            ..DocumentFormat::standard(DocumentKind::Receipt)
        };
        assert_eq!(
            undated_receipt.validate().unwrap_err().0[0].field,
            "show_ordered_on"
        );
        let gift_invoice = DocumentFormat {
            addressee: Addressee::Shipping,
            ..DocumentFormat::standard(DocumentKind::Invoice)
        };
        assert_eq!(gift_invoice.validate().unwrap_err().0[0].field, "addressee");
        // Enforced when rendering too: the buyer and the date stay on an invoice.
        let forced = document_of(&o, &m, &gift_invoice, "2026-12-01", &Issuer::default());
        assert_eq!(forced.customer_name, o.billing.full_name());
        assert!(!forced.ordered_on.is_empty());
        let proviso_on_a_note = DocumentFormat {
            proviso: "お品代として".into(),
            ..DocumentFormat::standard(DocumentKind::DeliveryNote)
        };
        assert_eq!(
            proviso_on_a_note.validate().unwrap_err().0[0].field,
            "proviso"
        );
        let unnamed = DocumentFormat {
            name: " ".into(),
            ..DocumentFormat::standard(DocumentKind::Receipt)
        };
        assert_eq!(unnamed.validate().unwrap_err().0[0].field, "name");
        let receipt = document_of(
            &o,
            &m,
            &DocumentFormat::standard(DocumentKind::Receipt),
            "2026-12-01",
            &Issuer::default(),
        );
        assert_eq!(receipt.proviso, "お品代として");
        assert!(receipt.receipt && receipt.show_prices);
    }

    #[test]
    fn address_lines_company_and_bank_transfer_notes() {
        let mut m = crate::order::tests::masters();
        m.payment_methods.push(crate::masters::PaymentMethod {
            id: 3,
            code: BANK_TRANSFER.into(),
            name: "銀行振込".into(),
            fee: 0,
        });
        let p = crate::order::tests::products();
        let mut o = crate::order::tests::order_with(&m, &p, &[("TEA-01", 1, None)]);
        o.billing.prefecture = "東京都".into();
        o.billing.address1 = "千代田区千代田1-1".into();
        o.billing.address2 = "皇居ビル3F".into();
        o.billing.company_name = "株式会社やまだ商事".into();
        o.billing.department = "購買部".into();
        let issuer = Issuer {
            bank_account: "〇〇銀行 本店 普通 1234567".into(),
            payment_due_days: 7,
            ..Issuer::default()
        };
        let invoice = DocumentFormat::standard(DocumentKind::Invoice);
        let d = document_of(&o, &m, &invoice, "2026-12-01", &issuer);
        assert_eq!(
            d.address_lines,
            vec![
                "東京都千代田区千代田1-1",
                "皇居ビル3F",
                "株式会社やまだ商事",
                "購買部"
            ]
        );
        // Not a bank-transfer order: no 振込先.
        assert!(d.payment_notes.is_empty());
        let bank = m
            .payment_methods
            .iter()
            .find(|pm| pm.code == BANK_TRANSFER)
            .map(|pm| pm.id);
        if let Some(id) = bank {
            o.payment_method_id = Some(id);
            let d = document_of(&o, &m, &invoice, "2026-12-01", &issuer);
            assert_eq!(d.payment_notes[0].1, "〇〇銀行 本店 普通 1234567");
            let ordered = crate::time::japan_date(o.ordered_at);
            assert_eq!(
                d.payment_notes[1],
                (
                    "お支払期限".to_string(),
                    ordered
                        .checked_add(jiff::Span::new().days(7))
                        .unwrap()
                        .to_string()
                )
            );
            // A 納品書 of the same order says nothing of payment.
            let note = document_of(
                &o,
                &m,
                &DocumentFormat::standard(DocumentKind::DeliveryNote),
                "2026-12-01",
                &issuer,
            );
            assert!(note.payment_notes.is_empty());
        } else {
            panic!("the test masters have a bank_transfer payment method");
        }
    }
}
