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

/// PDF一括出力's parameters: which document, and the issue date chosen at export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdfExport {
    pub document: DocumentKind,
    pub issue_date: String,
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
}

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

/// Everything one order's document prints, amounts already formatted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentData {
    pub title: &'static str,
    pub order_number: String,
    pub issue_date: String,
    pub ordered_on: String,
    pub customer_name: String,
    pub postal_code: String,
    pub address: String,
    pub payment_method: String,
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
    kind: DocumentKind,
    issue_date: &str,
) -> DocumentData {
    let t = &order.totals;
    let b = &order.billing;
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
    DocumentData {
        title: kind.label(),
        order_number: order.order_number.clone(),
        issue_date: issue_date.to_string(),
        ordered_on: crate::time::japan_date(order.ordered_at).to_string(),
        customer_name: b.full_name(),
        postal_code: b.postal_code.clone(),
        address: format!("{}{}{}", b.prefecture, b.address1, b.address2),
        payment_method: order
            .payment_method_id
            .and_then(|id| masters.payment_method(id))
            .map(|p| p.name.clone())
            .unwrap_or_default(),
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
        let d = document_of(&o, &m, DocumentKind::Invoice, "2026-12-01");
        assert_eq!(d.title, "請求書");
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
                issue_date: "12/01".into()
            }
            .validate()
            .is_err()
        );
    }
}
