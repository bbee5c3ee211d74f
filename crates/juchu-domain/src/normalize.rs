//! Match and search keys for Japanese data as it is really typed.
//!
//! Keys are derived, stored beside what the user typed, and indexed; display always
//! uses the original. NFKC folds full-width ASCII and half-width katakana.

use unicode_normalization::UnicodeNormalization;

pub fn nfkc(s: &str) -> String {
    s.nfkc().collect()
}

/// Every dash-like character people type in phone numbers and postal codes.
pub fn is_hyphen(c: char) -> bool {
    matches!(
        c,
        '-' | 'ー'
            | '－'
            | '‐'
            | '‑'
            | '‒'
            | '–'
            | '—'
            | '―'
            | '−'
            | 'ｰ'
            | '─'
            | '━'
            | '﹣'
    )
}

/// Name key: NFKC, all whitespace removed (including the ideographic space between
/// 姓 and 名), lower-cased, and hiragana folded to katakana so that `やまだ` and
/// `ヤマダ` meet.
pub fn name_key(s: &str) -> String {
    nfkc(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(hiragana_to_katakana)
        .flat_map(char::to_lowercase)
        .collect()
}

fn hiragana_to_katakana(c: char) -> char {
    match c {
        'ぁ'..='ゖ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        _ => c,
    }
}

/// Phone key: digits only, a leading `+81` (or `81` after a `+`) turned into `0`.
pub fn phone_key(s: &str) -> String {
    let n = nfkc(s);
    let t = n.trim_start();
    let international = t.starts_with('+');
    let digits: String = n.chars().filter(char::is_ascii_digit).collect();
    if international && let Some(rest) = digits.strip_prefix("81") {
        let rest = rest.strip_prefix('0').unwrap_or(rest);
        return format!("0{rest}");
    }
    digits
}

/// Postal key: the seven digits, without 〒, hyphens or spaces.
pub fn postal_key(s: &str) -> String {
    nfkc(s).chars().filter(char::is_ascii_digit).collect()
}

/// E-mail key: NFKC, trimmed, lower-cased.
pub fn email_key(s: &str) -> String {
    nfkc(s).trim().to_lowercase()
}

/// Tracking number key: NFKC, digits and letters only, upper-case.
pub fn tracking_key(s: &str) -> String {
    nfkc(s)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Escapes `%`, `_` and `\` so user text can be used as a `LIKE` prefix with `ESCAPE '\'`.
/// A `LIKE` pattern matching `s` anywhere (`%s%`), with `%`, `_` and `\\` escaped.
pub fn like_contains(s: &str) -> String {
    format!("%{}", like_prefix(s))
}

/// A `LIKE` pattern matching values that end with `s`.
pub fn like_suffix(s: &str) -> String {
    let p = like_prefix(s);
    format!("%{}", &p[..p.len() - 1])
}

pub fn like_prefix(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_and_anchor() {
        assert_eq!(like_prefix("a%b"), "a\\%b%");
        assert_eq!(like_contains("花子"), "%花子%");
        assert_eq!(like_suffix("5678"), "%5678");
        assert_eq!(like_suffix("1_2"), "%1\\_2");
    }

    #[test]
    fn name_keys_fold_width_space_and_kana() {
        assert_eq!(name_key("山田　太郎"), "山田太郎");
        assert_eq!(name_key("山田 太郎 "), "山田太郎");
        assert_eq!(name_key("ﾔﾏﾀﾞ ﾀﾛｳ"), "ヤマダタロウ");
        assert_eq!(name_key("やまだ　たろう"), "ヤマダタロウ");
        assert_eq!(name_key("ＹＡＭＡＤＡ Taro"), "yamadataro");
    }

    #[test]
    fn phone_keys() {
        assert_eq!(phone_key("090-1234-5678"), "09012345678");
        assert_eq!(phone_key("０９０ー１２３４ー５６７８"), "09012345678");
        assert_eq!(phone_key("+81 90-1234-5678"), "09012345678");
        assert_eq!(phone_key("+81-(0)90-1234-5678"), "09012345678");
        assert_eq!(phone_key("(03)1234‐5678"), "0312345678");
        // A domestic number that merely starts with 81 is left alone.
        assert_eq!(phone_key("0812345678"), "0812345678");
    }

    #[test]
    fn postal_keys() {
        assert_eq!(postal_key("〒150-0001"), "1500001");
        assert_eq!(postal_key("１５０－０００１"), "1500001");
        assert_eq!(postal_key("150 0001"), "1500001");
    }

    #[test]
    fn email_and_tracking_keys() {
        assert_eq!(email_key(" Taro@Example.JP "), "taro@example.jp");
        assert_eq!(email_key("ｔａｒｏ＠example.jp"), "taro@example.jp");
        assert_eq!(tracking_key("1234-5678-9012"), "123456789012");
        assert_eq!(tracking_key("ｊｐ１２３"), "JP123");
    }

    #[test]
    fn like_prefix_escapes_wildcards() {
        assert_eq!(like_prefix("50%_off"), "50\\%\\_off%");
    }
}
