//! 顧客 (customers) and the address shape shared with orders.

use crate::error::FieldErrors;
use crate::text::{Email, PhoneNumber, PostalCode, check_len, check_required};
use serde::{Deserialize, Serialize};

pub const PREFECTURES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

// Also the API's shape (`AddressJson` in the OpenAPI document), so the doc
// comments here are the API's descriptions.
/// A billing (請求者) or shipping (お届け先) address with the person's name.
/// Only 姓 (`family_name`) is required: a company may have no 名.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = AddressJson))]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// 姓
    pub family_name: String,
    /// 名
    #[serde(default)]
    pub given_name: String,
    /// セイ
    #[serde(default)]
    pub family_kana: String,
    /// メイ
    #[serde(default)]
    pub given_kana: String,
    /// 会社名 (for business customers; printed on 帳票 and carrier files)
    #[serde(default)]
    pub company_name: String,
    /// 部署
    #[serde(default)]
    pub department: String,
    /// `150-0001`
    pub postal_code: String,
    /// 都道府県 (e.g. 東京都)
    pub prefecture: String,
    pub address1: String,
    #[serde(default)]
    pub address2: String,
    pub phone: String,
    #[serde(default)]
    pub email: String,
}

impl Address {
    /// `山田 太郎`
    pub fn full_name(&self) -> String {
        format!("{} {}", self.family_name, self.given_name)
            .trim()
            .to_string()
    }
    pub fn full_kana(&self) -> String {
        format!("{} {}", self.family_kana, self.given_kana)
            .trim()
            .to_string()
    }

    /// Validates and normalises the display forms (postal code as `NNN-NNNN`).
    /// `prefix` is the field path, e.g. `billing`; `email_required` for billing.
    pub fn validate(&mut self, prefix: &str, email_required: bool, errors: &mut FieldErrors) {
        let f = |name: &str| format!("{prefix}.{name}");
        check_required(errors, &f("family_name"), &self.family_name);
        for (name, value, max) in [
            ("family_name", &self.family_name, 50),
            ("given_name", &self.given_name, 50),
            ("family_kana", &self.family_kana, 50),
            ("given_kana", &self.given_kana, 50),
            ("company_name", &self.company_name, 100),
            ("department", &self.department, 100),
            ("address1", &self.address1, 200),
            ("address2", &self.address2, 200),
        ] {
            check_len(errors, &f(name), value, max);
        }
        check_required(errors, &f("address1"), &self.address1);
        match PostalCode::parse(&self.postal_code) {
            Ok(p) => self.postal_code = p.as_str().to_string(),
            Err(m) => errors.add(f("postal_code"), "invalid_postal_code", m),
        }
        if !PREFECTURES.contains(&self.prefecture.trim()) {
            errors.add(
                f("prefecture"),
                "invalid_prefecture",
                "都道府県名を正しく入力してください（例: 東京都）",
            );
        } else {
            self.prefecture = self.prefecture.trim().to_string();
        }
        match PhoneNumber::parse(&self.phone) {
            Ok(p) => self.phone = p.as_str().to_string(),
            Err(m) => errors.add(f("phone"), "invalid_phone", m),
        }
        if !self.email.trim().is_empty() || email_required {
            match Email::parse(&self.email) {
                Ok(e) => self.email = e.as_str().to_string(),
                Err(m) => errors.add(f("email"), "invalid_email", m),
            }
        }
    }
}

/// A customer as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: i64,
    #[serde(flatten)]
    pub address: Address,
    /// メール設定: 送信しない.
    pub mail_opt_out: bool,
    pub points: i64,
    pub memo: String,
    pub created_at: String,
    /// ブラックリスト: orders of this customer need attention.
    #[serde(default)]
    pub blacklisted: bool,
    #[serde(default)]
    pub blacklist_reason: String,
}

/// What creating or replacing a customer takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerInput {
    pub address: Address,
    pub mail_opt_out: bool,
    pub points: i64,
    pub memo: String,
}

impl CustomerInput {
    pub fn validate(mut self) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        self.address.validate("", true, &mut errors);
        // Top-level customer fields have no prefix.
        for e in &mut errors.0 {
            e.field = e.field.trim_start_matches('.').to_string();
        }
        if self.points < 0 {
            errors.add("points", "negative", "0以上で入力してください");
        }
        check_len(&mut errors, "memo", &self.memo, 2000);
        errors.into_result().map(|()| self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample() -> Address {
        Address {
            family_name: "山田".into(),
            given_name: "太郎".into(),
            family_kana: "ヤマダ".into(),
            given_kana: "タロウ".into(),
            postal_code: "１５００００１".into(),
            prefecture: "東京都".into(),
            address1: "渋谷区神宮前1-2-3".into(),
            address2: String::new(),
            phone: "090-1234-5678".into(),
            email: "taro@example.jp".into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_address_is_normalised_for_display() {
        let mut a = sample();
        let mut e = FieldErrors::default();
        a.validate("billing", true, &mut e);
        assert!(e.is_empty(), "{e}");
        assert_eq!(a.postal_code, "150-0001");
        assert_eq!(a.full_name(), "山田 太郎");
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut a = Address {
            family_name: " ".into(),
            postal_code: "12".into(),
            prefecture: "東京".into(),
            phone: "x".into(),
            email: "nope".into(),
            ..sample()
        };
        let mut e = FieldErrors::default();
        a.validate("billing", true, &mut e);
        let fields: Vec<_> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "billing.family_name",
                "billing.postal_code",
                "billing.prefecture",
                "billing.phone",
                "billing.email"
            ]
        );
    }

    #[test]
    fn customer_input_fields_have_no_prefix() {
        let input = CustomerInput {
            address: Address {
                phone: "1".into(),
                ..sample()
            },
            points: -1,
            ..Default::default()
        };
        let e = input.validate().unwrap_err();
        assert_eq!(e.0[0].field, "phone");
        assert_eq!(e.0[1].field, "points");
    }
}
