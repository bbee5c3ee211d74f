//! Tracking numbers (配送伝票番号) and delivery time slots (お届け時間帯) per
//! carrier, as the carriers define them (../shared/CARRIERS.md).
//!
//! A number is normalised before it is checked: full-width characters become
//! ASCII, hyphens and spaces go, letters are upper-case — operators and
//! carriers' files write `1234-5678-9012`, `１２３４…` or `ej123456789jp`.
//! Yamato and Sagawa numbers are 12 digits whose last digit is the preceding
//! eleven modulo 7 (the "7DR" check digit), so most typos are caught before a
//! customer is mailed a link that leads nowhere. Japan Post numbers are 11–13
//! digits (ゆうパック, ゆうパケット, クリックポスト) or the international
//! `EJ123456789JP` form; their check digit is not documented for every
//! service, so only the form is checked. A shop's own carrier has no rule.

use crate::error::FieldErrors;

/// The carriers whose numbers and slots juchu knows, by the carrier master's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownCarrier {
    Yamato,
    Sagawa,
    JapanPost,
}

impl KnownCarrier {
    /// The carrier behind a carrier master code; `None` for a shop's own.
    pub fn for_code(code: &str) -> Option<KnownCarrier> {
        match code {
            "yamato" => Some(KnownCarrier::Yamato),
            "sagawa" => Some(KnownCarrier::Sagawa),
            "japanpost" => Some(KnownCarrier::JapanPost),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            KnownCarrier::Yamato => "ヤマト運輸",
            KnownCarrier::Sagawa => "佐川急便",
            KnownCarrier::JapanPost => "日本郵便",
        }
    }

    /// お届け時間帯 the carrier offers (labels as customers see them).
    /// ヤマト stopped 12–14 and 20–21; 佐川 keeps 12–14 and has 18–21.
    pub fn time_slots(self) -> &'static [&'static str] {
        match self {
            KnownCarrier::Yamato => &["午前中", "14-16", "16-18", "18-20", "19-21"],
            KnownCarrier::Sagawa => &[
                "午前中",
                "12-14",
                "14-16",
                "16-18",
                "18-20",
                "19-21",
                "18-21",
            ],
            KnownCarrier::JapanPost => &["午前中", "12-14", "14-16", "16-18", "18-20", "19-21"],
        }
    }

    /// The slot as the carrier lists it, from what an operator or a file wrote
    /// (`14時～16時`, `14:00-16:00`, `１４－１６` → `14-16`); `None` when the
    /// carrier has no such slot.
    pub fn slot(self, raw: &str) -> Option<&'static str> {
        let s = normalise_slot(raw);
        self.time_slots().iter().copied().find(|t| *t == s)
    }
}

/// What a carrier's tracking says of a parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParcelStatus {
    /// On its way (荷物受付 … 配達中).
    InTransit,
    /// 配達完了 on that day.
    Delivered(jiff::civil::Date),
    /// 持戻り / ご不在: taken back, waiting for redelivery.
    Absent,
    /// The carrier does not know the number (yet, or a typo that passed the
    /// check digit).
    Unknown,
}

/// Full-width ASCII (！ to ～) and the ideographic space to their ASCII forms.
fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

fn normalise_slot(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(half_width)
        .filter(|c| !c.is_whitespace())
        .collect();
    if s.contains("午前") {
        return "午前中".into();
    }
    // 14時～16時, 14:00-16:00, 14〜16 → the two hours.
    let hours: Vec<u32> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .filter(|h| *h != 0)
        .collect();
    match hours.as_slice() {
        [a, b] => format!("{a}-{b}"),
        _ => s,
    }
}

/// A tracking number as stored: ASCII, upper-case, without hyphens or spaces.
pub fn normalise(raw: &str) -> String {
    raw.chars()
        .map(half_width)
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '－' | 'ー' | '‐' | '―'))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The 7DR check: the last digit is the number before it modulo 7.
fn check_digit_ok(digits: &str) -> bool {
    let Some((body, last)) = digits.split_at_checked(digits.len().saturating_sub(1)) else {
        return false;
    };
    let (Ok(body), Ok(last)) = (body.parse::<u64>(), last.parse::<u64>()) else {
        return false;
    };
    body % 7 == last
}

/// Checks a tracking number for `carrier` (none: a shop's own, any text) and
/// returns it normalised; the error names `field` and says what is wrong.
pub fn validate(
    carrier: Option<KnownCarrier>,
    raw: &str,
    field: &str,
) -> Result<String, FieldErrors> {
    let n = normalise(raw);
    if n.is_empty() {
        return Err(FieldErrors::single(
            field,
            "required",
            "配送伝票番号を入力してください",
        ));
    }
    let Some(carrier) = carrier else {
        if n.chars().count() > 40 {
            return Err(FieldErrors::single(
                field,
                "too_long",
                "配送伝票番号は40文字以内で入力してください",
            ));
        }
        return Ok(n);
    };
    let digits = n.bytes().all(|b| b.is_ascii_digit());
    let bad = |why: String| {
        Err(FieldErrors::single(
            field,
            "invalid_tracking_number",
            format!(
                "配送伝票番号「{raw}」は{}の番号ではありません: {why}",
                carrier.label()
            ),
        ))
    };
    // Excel turns long numbers into 2.01E+10 and drops leading zeros.
    if n.contains('E') && n.contains('+') || n.contains('.') {
        return bad(
            "表計算ソフトで指数表記に変わっています（列を文字列として保存してください）".into(),
        );
    }
    match carrier {
        KnownCarrier::Yamato | KnownCarrier::Sagawa => {
            if !digits || n.len() != 12 {
                return bad(format!("12桁の数字です（{}桁）", n.chars().count()));
            }
            if !check_digit_ok(&n) {
                return bad("チェックデジットが合いません（入力間違いの可能性があります）".into());
            }
        }
        KnownCarrier::JapanPost => {
            // Byte slicing below is safe only on ASCII (the input may not be).
            let international = n.is_ascii()
                && n.len() == 13
                && n[..2].bytes().all(|b| b.is_ascii_uppercase())
                && n[2..11].bytes().all(|b| b.is_ascii_digit())
                && n[11..].bytes().all(|b| b.is_ascii_uppercase());
            if !(international || digits && (11..=13).contains(&n.len())) {
                return bad("11〜13桁の数字、または EJ123456789JP の形です".into());
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid 7DR number from its first eleven digits.
    fn with_check(body: u64) -> String {
        format!("{body:011}{}", body % 7)
    }

    #[test]
    fn numbers_are_normalised() {
        assert_eq!(normalise(" 1234-5678 9012 "), "123456789012");
        assert_eq!(normalise("１２３４－５６７８－９０１２"), "123456789012");
        assert_eq!(normalise("ej123456789jp"), "EJ123456789JP");
    }

    #[test]
    fn yamato_and_sagawa_need_twelve_digits_and_the_check_digit() {
        let good = with_check(47_257_551_673);
        for c in [KnownCarrier::Yamato, KnownCarrier::Sagawa] {
            assert_eq!(validate(Some(c), &good, "tracking_number").unwrap(), good);
            let hyphenated = format!("{}-{}-{}", &good[..4], &good[4..8], &good[8..]);
            assert_eq!(validate(Some(c), &hyphenated, "f").unwrap(), good);
            // One digit mistyped: the check digit catches it.
            let mut typo = good.clone().into_bytes();
            typo[3] = if typo[3] == b'9' { b'1' } else { typo[3] + 1 };
            let typo = String::from_utf8(typo).unwrap();
            let e = validate(Some(c), &typo, "shipments[0].tracking_numbers[1]").unwrap_err();
            assert_eq!(e.0[0].field, "shipments[0].tracking_numbers[1]");
            assert!(e.0[0].message.contains("チェックデジット"), "{e}");
            assert!(validate(Some(c), "12345678901", "f").is_err(), "11 digits");
            assert!(validate(Some(c), "ABCDEFGHIJKL", "f").is_err());
        }
    }

    #[test]
    fn excel_damage_is_named() {
        let e = validate(Some(KnownCarrier::Yamato), "4.72576E+11", "f").unwrap_err();
        assert!(e.0[0].message.contains("指数表記"), "{e}");
        // A lost leading zero leaves 11 digits: refused on the length.
        let good = with_check(7_551_673);
        assert!(good.starts_with('0'));
        assert!(validate(Some(KnownCarrier::Sagawa), &good[1..], "f").is_err());
    }

    #[test]
    fn japan_post_takes_its_forms() {
        let jp = Some(KnownCarrier::JapanPost);
        for ok in [
            "12345678901",
            "123456789012",
            "1234567890123",
            "ej123456789jp",
        ] {
            assert!(validate(jp, ok, "f").is_ok(), "{ok}");
        }
        for bad in [
            "1234567890",
            "12345678901234",
            "E1234567890JP",
            "EJ12345678JPX",
        ] {
            assert!(validate(jp, bad, "f").is_err(), "{bad}");
        }
    }

    #[test]
    fn a_shops_own_carrier_takes_any_text() {
        assert_eq!(validate(None, "abc-123", "f").unwrap(), "ABC123");
        assert!(validate(None, "  ", "f").is_err());
    }

    #[test]
    fn time_slots_are_the_carriers() {
        let y = KnownCarrier::Yamato;
        assert_eq!(y.slot("14時～16時"), Some("14-16"));
        assert_eq!(y.slot("１４：００－１６：００"), Some("14-16"));
        assert_eq!(y.slot("午前"), Some("午前中"));
        assert_eq!(y.slot("12-14"), None, "Yamato stopped 12–14");
        assert_eq!(y.slot("20-21"), None);
        assert_eq!(KnownCarrier::Sagawa.slot("12時-14時"), Some("12-14"));
        assert_eq!(KnownCarrier::Sagawa.slot("18-21"), Some("18-21"));
        assert_eq!(KnownCarrier::for_code("yamato"), Some(y));
        assert_eq!(KnownCarrier::for_code("own"), None);
    }
}
