//! Shop-defined master data: handling statuses, payment methods, carriers, products,
//! order labels; and [`Masters`], the snapshot the pipeline validates against.

use crate::status::TaxRate;
use serde::{Deserialize, Serialize};

/// 対応状況: the shop's own workflow status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingStatus {
    pub id: i64,
    pub name: String,
    pub position: i64,
    /// CSS colour such as `#d9534f`.
    pub color: String,
    /// New orders start here (注文確定 unless the shop chose another).
    pub is_default: bool,
}

/// The handling statuses a new shop starts with (SPEC glossary), with colours.
pub const DEFAULT_HANDLING_STATUSES: &[(&str, &str)] = &[
    ("新規受付", "#5bc0de"),
    ("注文確定", "#337ab7"),
    ("処理中", "#f0ad4e"),
    ("保留", "#999999"),
    ("発送準備中", "#8e44ad"),
    ("発送完了", "#2e8b57"),
    ("配送完了", "#1e6b3a"),
    ("決済NG", "#d9534f"),
    ("キャンセル", "#6c757d"),
    ("返品", "#c0392b"),
    ("完了", "#222222"),
];
pub const DEFAULT_HANDLING_STATUS: &str = "注文確定";

/// 支払方法 with its fee (手数料, tax included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub fee: i64,
}

pub const DEFAULT_PAYMENT_METHODS: &[(&str, &str, i64)] = &[
    ("credit_card", "クレジットカード", 0),
    ("np_atobarai", "NP後払い", 250),
    ("cod", "代金引換", 330),
    ("bank_transfer", "銀行振込", 0),
    ("convenience_store", "コンビニ決済", 220),
];

/// 配送業者 with its tracking URL template (`{tracking_number}` is replaced) and fee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carrier {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub tracking_url_template: String,
    pub shipping_fee: i64,
}

impl Carrier {
    pub fn tracking_url(&self, tracking_number: &str) -> Option<String> {
        if self.tracking_url_template.is_empty() || tracking_number.is_empty() {
            return None;
        }
        Some(
            self.tracking_url_template
                .replace("{tracking_number}", tracking_number),
        )
    }
}

pub const DEFAULT_CARRIERS: &[(&str, &str, &str, i64)] = &[
    (
        "yamato",
        "ヤマト運輸",
        "https://jizen.kuronekoyamato.co.jp/jizen/servlet/crjz.b.NQ0010?id={tracking_number}",
        770,
    ),
    (
        "sagawa",
        "佐川急便",
        "https://k2k.sagawa-exp.co.jp/p/web/okurijosearch.do?okurijoNo={tracking_number}",
        770,
    ),
    (
        "japanpost",
        "日本郵便",
        "https://trackings.post.japanpost.jp/services/srv/search/direct?reqCodeNo1={tracking_number}",
        600,
    ),
];

/// 商品. `unit_price` and fees are tax-included yen (総額表示).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub unit_price: i64,
    pub tax_rate: TaxRate,
    /// 商品別送料: wins over the carrier's fee.
    pub shipping_fee: Option<i64>,
    /// 商品別決済手数料: wins over the payment method's fee.
    pub payment_fee: Option<i64>,
    /// 同梱物: a leaflet or sample shipped with the order, not a product for matching.
    pub is_bundled_item: bool,
    pub is_subscription: bool,
}

/// 受注ラベル.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLabel {
    pub id: i64,
    pub name: String,
    pub color: String,
}

/// Snapshot of the masters an order refers to, loaded once per transaction.
#[derive(Debug, Clone, Default)]
pub struct Masters {
    pub handling_statuses: Vec<HandlingStatus>,
    pub payment_methods: Vec<PaymentMethod>,
    pub carriers: Vec<Carrier>,
    pub labels: Vec<OrderLabel>,
}

impl Masters {
    pub fn handling_status(&self, id: i64) -> Option<&HandlingStatus> {
        self.handling_statuses.iter().find(|s| s.id == id)
    }
    pub fn handling_status_by_name(&self, name: &str) -> Option<&HandlingStatus> {
        let name = name.trim();
        self.handling_statuses.iter().find(|s| s.name == name)
    }
    pub fn default_handling_status(&self) -> Option<&HandlingStatus> {
        self.handling_statuses
            .iter()
            .find(|s| s.is_default)
            .or_else(|| self.handling_statuses.iter().min_by_key(|s| s.position))
    }
    pub fn payment_method(&self, id: i64) -> Option<&PaymentMethod> {
        self.payment_methods.iter().find(|m| m.id == id)
    }
    /// By code or by Japanese name.
    pub fn payment_method_by_key(&self, key: &str) -> Option<&PaymentMethod> {
        let key = key.trim();
        self.payment_methods
            .iter()
            .find(|m| m.code == key || m.name == key)
    }
    pub fn carrier(&self, id: i64) -> Option<&Carrier> {
        self.carriers.iter().find(|c| c.id == id)
    }
    pub fn carrier_by_key(&self, key: &str) -> Option<&Carrier> {
        let key = key.trim();
        self.carriers
            .iter()
            .find(|c| c.code == key || c.name == key)
    }
    pub fn label(&self, id: i64) -> Option<&OrderLabel> {
        self.labels.iter().find(|l| l.id == id)
    }
    pub fn label_by_name(&self, name: &str) -> Option<&OrderLabel> {
        let name = name.trim();
        self.labels.iter().find(|l| l.name == name)
    }
}

/// Checks a `#rrggbb` colour.
pub fn is_valid_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_url_fills_template() {
        let c = Carrier {
            id: 1,
            code: "yamato".into(),
            name: "ヤマト運輸".into(),
            tracking_url_template: "https://t.example/?id={tracking_number}".into(),
            shipping_fee: 0,
        };
        assert_eq!(
            c.tracking_url("1234").as_deref(),
            Some("https://t.example/?id=1234")
        );
        assert_eq!(c.tracking_url(""), None);
    }

    #[test]
    fn default_status_falls_back_to_first_position() {
        let mut m = Masters::default();
        for (i, (n, c)) in DEFAULT_HANDLING_STATUSES.iter().enumerate() {
            m.handling_statuses.push(HandlingStatus {
                id: i as i64 + 1,
                name: (*n).into(),
                position: i as i64,
                color: (*c).into(),
                is_default: false,
            });
        }
        assert_eq!(m.default_handling_status().unwrap().name, "新規受付");
        m.handling_statuses[1].is_default = true;
        assert_eq!(m.default_handling_status().unwrap().name, "注文確定");
        assert!(m.handling_status_by_name(" 保留 ").is_some());
    }

    #[test]
    fn colours() {
        assert!(is_valid_color("#a0B1c2"));
        assert!(!is_valid_color("red"));
        assert!(!is_valid_color("#12345g"));
    }
}
