//! ブラックリスト and 要対応受注: which new orders need a person to look first, and
//! why. Pure: the store finds the candidates by indexed match keys and asks here.
//!
//! An order is flagged when its customer is blacklisted, when its billing data is
//! *similar* to a blacklisted customer's (two or more of 姓名, 郵便番号, 電話番号
//! equal after normalisation), or when it matches a shop-defined condition
//! (ブラックリスト条件). Every match says which fields matched against what.

use crate::customer::Address;
use crate::error::FieldErrors;
use crate::normalize::{email_key, name_key, nfkc, phone_key, postal_key};
use serde::{Deserialize, Serialize};

/// 要対応理由 of an order flagged from its blacklisted customer.
pub const REASON_BLACKLISTED: &str = "ブラックリストからの受注";
/// 要対応理由 of an order similar to a blacklisted customer.
pub const REASON_SIMILAR: &str = "ブラックリスト類似顧客からの受注";
/// 要対応理由 of an order matching a ブラックリスト条件.
pub const REASON_CONDITION: &str = "ブラックリスト条件合致者からの受注";
/// 要対応理由 of a manually flagged subscription that has a flagged order.
pub const REASON_SUBSCRIPTION_WITH_FLAGGED_ORDER: &str = "要対応受注がある定期受注";

/// Whether a 要対応理由 came from the blacklist screening (all its reasons are
/// screening reasons), not from a person.
pub fn is_screening_reason(reason: &str) -> bool {
    !reason.is_empty()
        && reason
            .split('、')
            .all(|r| [REASON_BLACKLISTED, REASON_SIMILAR, REASON_CONDITION].contains(&r))
}

/// A blacklisted customer's match keys, as stored (normalised once, indexed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlacklistedKeys {
    pub customer_id: i64,
    pub name_key: String,
    pub postal_key: String,
    pub phone_key: String,
}

/// The billing fields the 2-of-3 rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimilarField {
    Name,
    PostalCode,
    Phone,
}

impl SimilarField {
    pub fn label(self) -> &'static str {
        match self {
            SimilarField::Name => "姓名",
            SimilarField::PostalCode => "郵便番号",
            SimilarField::Phone => "電話番号",
        }
    }
}

/// The keys of a billing address for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingKeys {
    pub name_key: String,
    pub postal_key: String,
    pub phone_key: String,
}

impl BillingKeys {
    pub fn of(a: &Address) -> Self {
        BillingKeys {
            name_key: name_key(&format!("{}{}", a.family_name, a.given_name)),
            postal_key: postal_key(&a.postal_code),
            phone_key: phone_key(&a.phone),
        }
    }
}

/// Which of the three fields are equal; empty keys never match (two customers
/// without a phone number are not "the same phone").
pub fn similar_fields(billing: &BillingKeys, b: &BlacklistedKeys) -> Vec<SimilarField> {
    let eq = |x: &str, y: &str| !x.is_empty() && x == y;
    let mut out = Vec::new();
    if eq(&billing.name_key, &b.name_key) {
        out.push(SimilarField::Name);
    }
    if eq(&billing.postal_key, &b.postal_key) {
        out.push(SimilarField::PostalCode);
    }
    if eq(&billing.phone_key, &b.phone_key) {
        out.push(SimilarField::Phone);
    }
    out
}

/// A billing field a ブラックリスト条件 can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionField {
    BillingName,
    BillingKana,
    BillingEmail,
    BillingPhone,
    BillingPostalCode,
    BillingAddress,
    ShippingName,
    ShippingPhone,
    ShippingPostalCode,
    ShippingAddress,
    PaymentMethod,
}

impl ConditionField {
    pub const ALL: &'static [ConditionField] = &[
        ConditionField::BillingName,
        ConditionField::BillingKana,
        ConditionField::BillingEmail,
        ConditionField::BillingPhone,
        ConditionField::BillingPostalCode,
        ConditionField::BillingAddress,
        ConditionField::ShippingName,
        ConditionField::ShippingPhone,
        ConditionField::ShippingPostalCode,
        ConditionField::ShippingAddress,
        ConditionField::PaymentMethod,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ConditionField::BillingName => "請求者の氏名",
            ConditionField::BillingKana => "請求者のフリガナ",
            ConditionField::BillingEmail => "請求者のメールアドレス",
            ConditionField::BillingPhone => "請求者の電話番号",
            ConditionField::BillingPostalCode => "請求者の郵便番号",
            ConditionField::BillingAddress => "請求者の住所",
            ConditionField::ShippingName => "お届け先の氏名",
            ConditionField::ShippingPhone => "お届け先の電話番号",
            ConditionField::ShippingPostalCode => "お届け先の郵便番号",
            ConditionField::ShippingAddress => "お届け先の住所",
            ConditionField::PaymentMethod => "支払方法",
        }
    }

    /// The normalisation both sides of a comparison go through.
    fn key(self, s: &str) -> String {
        match self {
            ConditionField::BillingName | ConditionField::ShippingName => name_key(s),
            ConditionField::BillingKana => name_key(s),
            ConditionField::BillingEmail => email_key(s),
            ConditionField::BillingPhone | ConditionField::ShippingPhone => phone_key(s),
            ConditionField::BillingPostalCode | ConditionField::ShippingPostalCode => postal_key(s),
            // Addresses: NFKC and no whitespace, so 「1-2-3」 and 「１－２－３」 meet.
            ConditionField::BillingAddress | ConditionField::ShippingAddress => nfkc(s)
                .chars()
                .filter(|c| !c.is_whitespace())
                .map(|c| {
                    if crate::normalize::is_hyphen(c) {
                        '-'
                    } else {
                        c
                    }
                })
                .collect(),
            ConditionField::PaymentMethod => s.trim().to_string(),
        }
    }

    fn ops(self) -> &'static [Op] {
        match self {
            ConditionField::BillingEmail => &[Op::Equals, Op::EmailDomain],
            ConditionField::BillingAddress | ConditionField::ShippingAddress => {
                &[Op::Equals, Op::Contains, Op::StartsWith]
            }
            _ => &[Op::Equals],
        }
    }
}

/// How a clause compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// 完全一致 (after normalisation).
    Equals,
    /// メールアドレスのドメインが一致 (`example.jp` also matches `mail.example.jp`).
    EmailDomain,
    /// 住所に含む.
    Contains,
    /// 住所が前方一致.
    StartsWith,
}

impl Op {
    pub fn label(self) -> &'static str {
        match self {
            Op::Equals => "が一致",
            Op::EmailDomain => "のドメインが一致",
            Op::Contains => "に含む",
            Op::StartsWith => "が前方一致",
        }
    }
}

/// One field test of a condition; all clauses of a condition must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    pub field: ConditionField,
    #[serde(default = "equals")]
    pub op: Op,
    pub value: String,
}

fn equals() -> Op {
    Op::Equals
}

/// ブラックリスト条件: a named set of clauses (AND), shown as the match reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistCondition {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub clauses: Vec<Clause>,
}

impl BlacklistCondition {
    /// Refuses a condition without a name or clauses, an empty value, an
    /// operator the field does not support, or a value that normalises to
    /// nothing (a phone number with no digits). Errors name the clause:
    /// `clauses[1].value`.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        if self.name.trim().is_empty() {
            e.add("name", "required", "条件名を入力してください");
        }
        crate::text::check_len(&mut e, "name", &self.name, 100);
        if self.clauses.is_empty() {
            e.add("clauses", "required", "条件の項目を1つ以上指定してください");
        }
        for (i, c) in self.clauses.iter().enumerate() {
            let at = |k: &str| format!("clauses[{i}].{k}");
            if c.value.trim().is_empty() {
                e.add(
                    at("value"),
                    "required",
                    format!("{}の値を入力してください", c.field.label()),
                );
                continue;
            }
            crate::text::check_len(&mut e, &at("value"), &c.value, 200);
            if !c.field.ops().contains(&c.op) {
                e.add(
                    at("op"),
                    "unsupported_op",
                    format!("{}では「{}」は使えません", c.field.label(), c.op.label()),
                );
            }
            let key = match c.op {
                Op::EmailDomain => domain_key(&c.value),
                _ => c.field.key(&c.value),
            };
            if key.is_empty() {
                e.add(
                    at("value"),
                    "invalid_value",
                    format!(
                        "{}「{}」は比較できる値になりません",
                        c.field.label(),
                        c.value
                    ),
                );
            }
            if c.op == Op::EmailDomain && (key.contains('@') || !key.contains('.')) {
                e.add(
                    at("value"),
                    "invalid_domain",
                    format!(
                        "ドメイン「{}」は example.jp の形で入力してください",
                        c.value
                    ),
                );
            }
        }
        e.into_result()
    }

    /// The clauses' descriptions when every clause holds, else `None`.
    pub fn matches(&self, facts: &OrderFacts<'_>) -> Option<Vec<String>> {
        let prepared = PreparedConditions::new(vec![self.clone()]);
        prepared.matching(facts).pop().map(|(_, fields)| fields)
    }
}

/// Conditions with their values normalised once (they are cached with the
/// masters), so screening an order normalises each of its fields once, not
/// once per condition.
#[derive(Debug, Clone, Default)]
pub struct PreparedConditions {
    conditions: Vec<BlacklistCondition>,
    /// Per condition, per clause: the value's match key.
    wants: Vec<Vec<String>>,
}

impl PreparedConditions {
    pub fn new(conditions: Vec<BlacklistCondition>) -> Self {
        let conditions: Vec<BlacklistCondition> = conditions
            .into_iter()
            .filter(|c| c.enabled && !c.clauses.is_empty())
            .collect();
        let wants = conditions
            .iter()
            .map(|c| {
                c.clauses
                    .iter()
                    .map(|k| match k.op {
                        Op::EmailDomain => domain_key(&k.value),
                        _ if k.field == ConditionField::PaymentMethod => k.value.trim().to_string(),
                        _ => k.field.key(&k.value),
                    })
                    .collect()
            })
            .collect();
        PreparedConditions { conditions, wants }
    }

    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// The conditions the order meets, with the matched clauses described.
    fn matching<'c>(
        &'c self,
        facts: &OrderFacts<'_>,
    ) -> Vec<(&'c BlacklistCondition, Vec<String>)> {
        let mut keys: Vec<(ConditionField, String)> = Vec::new();
        let mut key_of = |f: ConditionField| -> String {
            if let Some((_, k)) = keys.iter().find(|(g, _)| *g == f) {
                return k.clone();
            }
            let k = match f {
                ConditionField::BillingEmail => email_key(&facts.value(f)),
                ConditionField::PaymentMethod => String::new(),
                _ => f.key(&facts.value(f)),
            };
            keys.push((f, k.clone()));
            k
        };
        let mut out = Vec::new();
        'conditions: for (c, wants) in self.conditions.iter().zip(&self.wants) {
            let mut matched = Vec::with_capacity(c.clauses.len());
            for (k, want) in c.clauses.iter().zip(wants) {
                if want.is_empty() {
                    continue 'conditions;
                }
                let hit = if k.field == ConditionField::PaymentMethod {
                    want == facts.payment_method.0 || want == facts.payment_method.1
                } else {
                    let have = key_of(k.field);
                    match k.op {
                        Op::Equals => !have.is_empty() && have == *want,
                        Op::EmailDomain => have
                            .rsplit_once('@')
                            .is_some_and(|(_, d)| d == want || d.ends_with(&format!(".{want}"))),
                        Op::Contains => have.contains(want.as_str()),
                        Op::StartsWith => have.starts_with(want.as_str()),
                    }
                };
                if !hit {
                    continue 'conditions;
                }
                matched.push(format!(
                    "{}{}「{}」",
                    k.field.label(),
                    k.op.label(),
                    k.value.trim()
                ));
            }
            out.push((c, matched));
        }
        out
    }
}

fn domain_key(s: &str) -> String {
    email_key(s).trim_start_matches('@').to_string()
}

/// What a condition is tested against.
pub struct OrderFacts<'a> {
    pub billing: &'a Address,
    pub shipping: &'a Address,
    /// The payment method's name and code (a condition may name either).
    pub payment_method: (&'a str, &'a str),
}

impl OrderFacts<'_> {
    /// The field as one string: names as 姓+名, addresses as 都道府県+住所1+住所2.
    fn value(&self, f: ConditionField) -> String {
        let name = |a: &Address| format!("{}{}", a.family_name, a.given_name);
        let address = |a: &Address| format!("{}{}{}", a.prefecture, a.address1, a.address2);
        match f {
            ConditionField::BillingName => name(self.billing),
            ConditionField::BillingKana => {
                format!("{}{}", self.billing.family_kana, self.billing.given_kana)
            }
            ConditionField::BillingEmail => self.billing.email.clone(),
            ConditionField::BillingPhone => self.billing.phone.clone(),
            ConditionField::BillingPostalCode => self.billing.postal_code.clone(),
            ConditionField::BillingAddress => address(self.billing),
            ConditionField::ShippingName => name(self.shipping),
            ConditionField::ShippingPhone => self.shipping.phone.clone(),
            ConditionField::ShippingPostalCode => self.shipping.postal_code.clone(),
            ConditionField::ShippingAddress => address(self.shipping),
            ConditionField::PaymentMethod => self.payment_method.0.to_string(),
        }
    }
}

/// One reason an order needs attention, with what matched against what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttentionMatch {
    /// 要対応理由 (one of the `REASON_*` texts).
    pub reason: String,
    /// e.g. 「顧客 #12 と 姓名・電話番号 が一致」.
    pub detail: String,
    /// The blacklisted customer matched, if any.
    pub customer_id: Option<i64>,
    /// The condition matched, if any.
    pub condition_id: Option<i64>,
    /// The fields that matched, in Japanese.
    pub fields: Vec<String>,
}

/// Screens a new order. `customer` is the order's own customer and whether it
/// is blacklisted; `candidates` are blacklisted customers sharing a name or a
/// phone key with the billing data (the store looks them up by index: a postal
/// code alone can never make two of three); `conditions` the enabled ones.
pub fn screen(
    customer: Option<(i64, bool)>,
    billing: &BillingKeys,
    candidates: &[BlacklistedKeys],
    conditions: &PreparedConditions,
    facts: &OrderFacts<'_>,
) -> Vec<AttentionMatch> {
    let mut out = Vec::new();
    if let Some((id, true)) = customer {
        out.push(AttentionMatch {
            reason: REASON_BLACKLISTED.into(),
            detail: format!("顧客 #{id} はブラックリストに登録されています"),
            customer_id: Some(id),
            condition_id: None,
            fields: vec![],
        });
    }
    let own = customer.map(|(id, _)| id);
    for b in candidates {
        if Some(b.customer_id) == own {
            continue;
        }
        let fields = similar_fields(billing, b);
        if fields.len() >= 2 {
            let labels: Vec<String> = fields.iter().map(|f| f.label().to_string()).collect();
            out.push(AttentionMatch {
                reason: REASON_SIMILAR.into(),
                detail: format!(
                    "ブラックリスト顧客 #{} と {} が一致",
                    b.customer_id,
                    labels.join("・")
                ),
                customer_id: Some(b.customer_id),
                condition_id: None,
                fields: labels,
            });
        }
    }
    for (c, fields) in conditions.matching(facts) {
        {
            out.push(AttentionMatch {
                reason: REASON_CONDITION.into(),
                detail: format!("ブラックリスト条件「{}」: {}", c.name, fields.join("、")),
                customer_id: None,
                condition_id: Some(c.id),
                fields,
            });
        }
    }
    out
}

/// The distinct reasons, in the order found, for 要対応理由.
pub fn reasons(matches: &[AttentionMatch]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in matches {
        if !out.contains(&m.reason) {
            out.push(m.reason.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(name: (&str, &str), postal: &str, phone: &str) -> Address {
        Address {
            family_name: name.0.into(),
            given_name: name.1.into(),
            family_kana: "ヤマダ".into(),
            given_kana: "ハナコ".into(),
            postal_code: postal.into(),
            prefecture: "東京都".into(),
            address1: "渋谷区神宮前1-2-3".into(),
            address2: String::new(),
            phone: phone.into(),
            email: "hanako@example.jp".into(),
            ..Default::default()
        }
    }

    fn listed(id: i64, a: &Address) -> BlacklistedKeys {
        let k = BillingKeys::of(a);
        BlacklistedKeys {
            customer_id: id,
            name_key: k.name_key,
            postal_key: k.postal_key,
            phone_key: k.phone_key,
        }
    }

    fn facts(a: &Address) -> OrderFacts<'_> {
        OrderFacts {
            billing: a,
            shipping: a,
            payment_method: ("代金引換", "cod"),
        }
    }

    #[test]
    fn keys_survive_how_japanese_data_is_typed() {
        let typed = addr(("山田", "花子"), "150-0001", "090-1234-5678");
        let k = BillingKeys::of(&typed);
        for (name, postal, phone) in [
            // full-width digits and hyphens, 〒
            (
                ("山田", "花子"),
                "〒１５０－０００１",
                "０９０－１２３４－５６７８",
            ),
            // ideographic space inside the name, katakana-hiragana long-vowel hyphens
            (("山田\u{3000}", "花子"), "150ー0001", "090ー1234ー5678"),
            // other dash variants, spaces
            (("山田 ", " 花子"), "150‐0001", "090‐1234‐5678"),
            (("山田", "花子"), "150 0001", "090-1234-5678"),
            // +81, with and without the trunk 0, spaces and brackets
            (("山田", "花子"), "1500001", "+81 90-1234-5678"),
            (("山田", "花子"), "1500001", "+81 (0)90 1234 5678"),
            (("山田", "花子"), "1500001", "＋８１９０１２３４５６７８"),
        ] {
            let other = BillingKeys::of(&addr(name, postal, phone));
            assert_eq!(other, k, "{name:?} {postal} {phone}");
        }
        // Half-width katakana kana meet full-width.
        assert_eq!(name_key("ﾔﾏﾀﾞ ﾊﾅｺ"), name_key("ヤマダ　ハナコ"));
    }

    #[test]
    fn two_of_three_at_its_edges() {
        let bad = addr(("山田", "花子"), "150-0001", "090-1234-5678");
        let list = [listed(7, &bad)];
        let none = PreparedConditions::default();
        let cases = [
            // (name, postal, phone, flagged)
            (("山田", "花子"), "150-0001", "090-1234-5678", true),
            (("山田", "花子"), "150-0001", "03-0000-0000", true),
            (("山田", "花子"), "999-9999", "090-1234-5678", true),
            (("鈴木", "一郎"), "150-0001", "090-1234-5678", true),
            // exactly one field: never
            (("山田", "花子"), "999-9999", "03-0000-0000", false),
            (("鈴木", "一郎"), "150-0001", "03-0000-0000", false),
            (("鈴木", "一郎"), "999-9999", "090-1234-5678", false),
            (("鈴木", "一郎"), "999-9999", "03-0000-0000", false),
        ];
        for (name, postal, phone, flagged) in cases {
            let a = addr(name, postal, phone);
            let m = screen(None, &BillingKeys::of(&a), &list, &none, &facts(&a));
            assert_eq!(!m.is_empty(), flagged, "{name:?} {postal} {phone}: {m:?}");
            if flagged {
                assert_eq!(m[0].reason, REASON_SIMILAR);
                assert_eq!(m[0].customer_id, Some(7));
                assert!(m[0].fields.len() >= 2);
                assert!(m[0].detail.contains("#7"), "{}", m[0].detail);
            }
        }
        // Empty fields never count as equal.
        let blank = addr(("", ""), "", "");
        let empty_list = [listed(8, &blank)];
        let a = addr(("鈴木", "一郎"), "", "");
        assert!(screen(None, &BillingKeys::of(&a), &empty_list, &none, &facts(&a)).is_empty());
    }

    #[test]
    fn blacklisted_customer_and_its_own_record() {
        let a = addr(("山田", "花子"), "150-0001", "090-1234-5678");
        let list = [listed(7, &a)];
        let none = PreparedConditions::default();
        // The customer itself: one reason, not also "similar to itself".
        let m = screen(
            Some((7, true)),
            &BillingKeys::of(&a),
            &list,
            &none,
            &facts(&a),
        );
        assert_eq!(reasons(&m), [REASON_BLACKLISTED]);
        // Another customer with the same data: similar.
        let m = screen(
            Some((9, false)),
            &BillingKeys::of(&a),
            &list,
            &none,
            &facts(&a),
        );
        assert_eq!(reasons(&m), [REASON_SIMILAR]);
    }

    fn cond(clauses: Vec<Clause>) -> BlacklistCondition {
        BlacklistCondition {
            id: 3,
            name: "転売業者".into(),
            enabled: true,
            clauses,
        }
    }

    fn clause(field: ConditionField, op: Op, value: &str) -> Clause {
        Clause {
            field,
            op,
            value: value.into(),
        }
    }

    #[test]
    fn conditions_match_normalised_values_with_and() {
        let a = addr(("山田", "花子"), "150-0001", "090-1234-5678");
        let list: [BlacklistedKeys; 0] = [];
        let hit = |c: BlacklistCondition| {
            c.validate().unwrap();
            screen(
                None,
                &BillingKeys::of(&a),
                &list,
                &PreparedConditions::new(vec![c]),
                &facts(&a),
            )
        };
        let m = hit(cond(vec![clause(
            ConditionField::BillingPhone,
            Op::Equals,
            "０９０１２３４５６７８",
        )]));
        assert_eq!(reasons(&m), [REASON_CONDITION]);
        assert!(m[0].detail.contains("転売業者"), "{}", m[0].detail);
        assert_eq!(m[0].condition_id, Some(3));
        assert!(
            !hit(cond(vec![clause(
                ConditionField::BillingEmail,
                Op::EmailDomain,
                "example.jp"
            )]))
            .is_empty()
        );
        assert!(
            !hit(cond(vec![clause(
                ConditionField::BillingEmail,
                Op::EmailDomain,
                "@EXAMPLE.JP"
            )]))
            .is_empty()
        );
        assert!(
            hit(cond(vec![clause(
                ConditionField::BillingEmail,
                Op::EmailDomain,
                "ample.jp"
            )]))
            .is_empty(),
            "not a suffix of the domain"
        );
        assert!(
            !hit(cond(vec![clause(
                ConditionField::BillingAddress,
                Op::Contains,
                "神宮前１－２"
            )]))
            .is_empty()
        );
        assert!(
            !hit(cond(vec![clause(
                ConditionField::BillingAddress,
                Op::StartsWith,
                "東京都渋谷区"
            )]))
            .is_empty()
        );
        assert!(
            hit(cond(vec![clause(
                ConditionField::BillingAddress,
                Op::StartsWith,
                "渋谷区"
            )]))
            .is_empty()
        );
        assert!(
            !hit(cond(vec![clause(
                ConditionField::PaymentMethod,
                Op::Equals,
                "cod"
            )]))
            .is_empty()
        );
        assert!(
            !hit(cond(vec![clause(
                ConditionField::BillingKana,
                Op::Equals,
                "ﾔﾏﾀﾞ ﾊﾅｺ"
            )]))
            .is_empty()
        );
        // AND: one clause failing is no match.
        assert!(
            hit(cond(vec![
                clause(ConditionField::BillingPostalCode, Op::Equals, "150-0001"),
                clause(ConditionField::BillingName, Op::Equals, "鈴木一郎"),
            ]))
            .is_empty()
        );
        // Disabled conditions never match.
        let mut off = cond(vec![clause(
            ConditionField::BillingPostalCode,
            Op::Equals,
            "1500001",
        )]);
        off.enabled = false;
        assert!(
            screen(
                None,
                &BillingKeys::of(&a),
                &list,
                &PreparedConditions::new(vec![off]),
                &facts(&a)
            )
            .is_empty()
        );
    }

    #[test]
    fn bad_conditions_are_refused_with_where() {
        let e = cond(vec![]).validate().unwrap_err();
        assert_eq!(e.0[0].field, "clauses");
        let e = cond(vec![clause(ConditionField::BillingPhone, Op::Equals, "  ")])
            .validate()
            .unwrap_err();
        assert_eq!(e.0[0].field, "clauses[0].value");
        let e = cond(vec![
            clause(ConditionField::BillingName, Op::Equals, "山田"),
            clause(ConditionField::BillingPhone, Op::Contains, "090"),
        ])
        .validate()
        .unwrap_err();
        assert_eq!(e.0[0].field, "clauses[1].op");
        let e = cond(vec![clause(
            ConditionField::BillingPhone,
            Op::Equals,
            "なし",
        )])
        .validate()
        .unwrap_err();
        assert_eq!(e.0[0].code, "invalid_value");
        let e = cond(vec![clause(
            ConditionField::BillingEmail,
            Op::EmailDomain,
            "localhost",
        )])
        .validate()
        .unwrap_err();
        assert_eq!(e.0[0].code, "invalid_domain");
        let mut unnamed = cond(vec![clause(
            ConditionField::BillingName,
            Op::Equals,
            "山田",
        )]);
        unnamed.name = " ".into();
        assert_eq!(unnamed.validate().unwrap_err().0[0].field, "name");
        // Unknown fields and operators are refused when the JSON is read.
        assert!(
            serde_json::from_str::<Clause>(r#"{"field": "favourite_colour", "value": "x"}"#)
                .is_err()
        );
        assert!(
            serde_json::from_str::<Clause>(
                r#"{"field": "billing_phone", "op": "regex", "value": "0.*"}"#
            )
            .is_err()
        );
    }
}
