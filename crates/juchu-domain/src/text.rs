//! Validated text value types ("parse, don't validate").

use crate::error::FieldErrors;
use serde::{Deserialize, Serialize};

/// Checks an optional free-text field's length in characters (not bytes: Japanese
/// text is three bytes a character in UTF-8).
pub fn check_len(errors: &mut FieldErrors, field: &str, value: &str, max: usize) {
    let n = value.chars().count();
    if n > max {
        errors.add(
            field,
            "too_long",
            format!("{max}文字以内で入力してください（{n}文字）"),
        );
    }
}

pub fn check_required(errors: &mut FieldErrors, field: &str, value: &str) {
    if value.trim().is_empty() {
        errors.add(field, "required", "入力してください");
    }
}

/// A Japanese postal code, stored as typed digits `NNN-NNNN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalCode(String);

/// Where the first NUL character (U+0000) of `text` is, as (line, column), both
/// from 1: text with one is refused wherever it comes in (PostgreSQL cannot
/// store it, and nothing a shop types contains it).
pub fn nul_position(text: &str) -> Option<(usize, usize)> {
    let at = text.find('\0')?;
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Some((line, column))
}

impl PostalCode {
    /// Accepts `1500001`, `150-0001`, `〒150-0001`, full-width digits and hyphen variants.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let digits = crate::normalize::postal_key(input);
        let rest: String = crate::normalize::nfkc(input)
            .chars()
            .filter(|c| {
                !c.is_ascii_digit()
                    && !c.is_whitespace()
                    && *c != '〒'
                    && !crate::normalize::is_hyphen(*c)
            })
            .collect();
        if digits.len() != 7 || !rest.is_empty() {
            return Err("郵便番号は7桁の数字で入力してください（例: 150-0001）");
        }
        Ok(Self(format!("{}-{}", &digits[..3], &digits[3..])))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number as typed (kept for display), validated to hold 10–11 digits
/// once `+81` is folded to `0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let trimmed = input.trim();
        // Separators are allowed, but not without end: the raw text is stored.
        if trimmed.chars().count() > 24 {
            return Err("電話番号が長すぎます（24文字まで）");
        }
        let key = crate::normalize::phone_key(trimmed);
        let allowed = crate::normalize::nfkc(trimmed).chars().all(|c| {
            c.is_ascii_digit()
                || c == '+'
                || c == '('
                || c == ')'
                || c.is_whitespace()
                || crate::normalize::is_hyphen(c)
        });
        if !allowed || !(10..=11).contains(&key.len()) {
            return Err("電話番号は10〜11桁の数字で入力してください（例: 03-1234-5678）");
        }
        Ok(Self(trimmed.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address, minimally checked: one `@`, a non-empty local part, a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let s = input.trim();
        let msg = "メールアドレスの形式が正しくありません（例: taro@example.jp）";
        let (local, domain) = s.split_once('@').ok_or(msg)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
            || s.len() > 254
        {
            return Err(msg);
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_found_with_line_and_column() {
        assert_eq!(nul_position("abc"), None);
        assert_eq!(nul_position("\0"), Some((1, 1)));
        assert_eq!(nul_position("山田\n太\0郎"), Some((2, 2)));
    }

    #[test]
    fn postal_codes() {
        assert_eq!(PostalCode::parse("1500001").unwrap().as_str(), "150-0001");
        assert_eq!(
            PostalCode::parse("〒150-0001").unwrap().as_str(),
            "150-0001"
        );
        assert_eq!(
            PostalCode::parse("１５０ー０００１").unwrap().as_str(),
            "150-0001"
        );
        assert!(PostalCode::parse("150-001").is_err());
        assert!(PostalCode::parse("15a0001").is_err());
        assert!(PostalCode::parse("").is_err());
    }

    #[test]
    fn phones() {
        assert!(PhoneNumber::parse("03-1234-5678").is_ok());
        assert!(PhoneNumber::parse("090-1234-5678").is_ok());
        assert!(PhoneNumber::parse("+81 90-1234-5678").is_ok());
        assert!(PhoneNumber::parse("０９０１２３４５６７８").is_ok());
        assert!(PhoneNumber::parse("12345").is_err());
        assert!(PhoneNumber::parse("090-abcd-5678").is_err());
    }

    #[test]
    fn emails() {
        assert!(Email::parse("taro@example.jp").is_ok());
        assert!(Email::parse("taro@example").is_err());
        assert!(Email::parse("@example.jp").is_err());
        assert!(Email::parse("ta ro@example.jp").is_err());
        assert!(Email::parse("a@b@c.jp").is_err());
    }

    #[test]
    fn length_counts_characters() {
        let mut e = FieldErrors::default();
        check_len(&mut e, "memo", "あいう", 3);
        assert!(e.is_empty());
        check_len(&mut e, "memo", "あいうえ", 3);
        assert_eq!(e.first().unwrap().code, "too_long");
    }
}
