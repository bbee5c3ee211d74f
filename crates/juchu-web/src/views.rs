//! What every admin page shares: the navigation bar, refusing a form post,
//! list links, yen, and (from `page`) rendering and the error page.

use crate::auth::StaffSession;
pub use crate::page::{error_page, render, store_error_page};
use axum::http::StatusCode;
use axum::response::Response;
use juchu_domain::access::Permission;
use std::collections::HashMap;

/// Formats yen with thousands separators: `¥12,345`.
pub fn yen(v: i64) -> String {
    juchu_domain::document::yen(v)
}

/// Data of the navigation bar.
pub struct Nav {
    pub staff_name: String,
    pub role_label: &'static str,
    pub csrf: String,
}

impl Nav {
    pub fn of(s: &StaffSession) -> Nav {
        Nav {
            staff_name: s.0.staff.name.clone(),
            role_label: s.0.staff.role.label(),
            csrf: s.0.csrf_token.clone(),
        }
    }
}

pub fn forbidden() -> Response {
    error_page(StatusCode::FORBIDDEN, "この操作を行う権限がありません")
}

/// `path` with the list's filters (sorted, empty ones dropped) and another page.
pub fn page_url_for(path: &str, params: &HashMap<String, String>, page: i64) -> String {
    let mut pairs: Vec<(&String, &String)> = params
        .iter()
        .filter(|(k, v)| k.as_str() != "page" && !v.is_empty())
        .collect();
    pairs.sort();
    let mut q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect();
    q.push(format!("page={page}"));
    format!("{path}?{}", q.join("&"))
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Refuses a form post before anything in it is looked at: a role that may not
/// do it (403), then a missing or wrong CSRF token (403).
/// A form page's status: 200, or 422 when it shows what was refused.
pub fn form_status(errors: &[String]) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

pub fn refuse_post(
    session: &StaffSession,
    permission: Permission,
    f: &HashMap<String, String>,
) -> Option<Response> {
    if !session.role().allows(permission) {
        return Some(forbidden());
    }
    if !session.check_csrf(f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Some(error_page(
            StatusCode::FORBIDDEN,
            "不正なリクエストです（CSRF）。画面を再読み込みしてください。",
        ));
    }
    None
}

/// One 履歴 row as the order and subscription pages show it: when (in Japan),
/// who, the field's label, before, after, why.
pub type HistoryLine = (String, String, String, String, String, String);

/// The one history view of orders and subscriptions.
pub fn history_lines(entries: Vec<juchu_store::HistoryEntry>) -> Vec<HistoryLine> {
    entries
        .into_iter()
        .map(|h| {
            let at = juchu_domain::time::parse_ts(&h.at)
                .map(juchu_domain::time::display_ts)
                .unwrap_or(h.at);
            let who = match h.actor_kind.as_str() {
                // A rule's change of a subscription already says 自動化設定「…」.
                "rule" if h.actor_name.starts_with("自動化設定") => h.actor_name,
                "rule" => format!("自動化: {}", h.actor_name),
                "api_token" => format!("API: {}", h.actor_name),
                "job" => format!("ジョブ: {}", h.actor_name),
                "customer" => format!("お客様: {}", h.actor_name),
                "request" => format!("申請: {}", h.actor_name),
                _ => h.actor_name,
            };
            let label = if h.field_label.is_empty() {
                h.field
            } else {
                h.field_label
            };
            (at, who, label, h.before, h.after, h.reason)
        })
        .collect()
}

/// The fields of an address form, in the order an operator fills them.
pub const ADDRESS_FIELDS: [(&str, &str); 12] = [
    ("family_name", "姓"),
    ("given_name", "名"),
    ("family_kana", "セイ"),
    ("given_kana", "メイ"),
    ("company_name", "会社名"),
    ("department", "部署"),
    ("postal_code", "郵便番号"),
    ("prefecture", "都道府県"),
    ("address1", "住所1（市区町村・番地）"),
    ("address2", "住所2（建物名・部屋番号）"),
    ("phone", "電話番号"),
    ("email", "メールアドレス"),
];

/// One field of an address by its form name (`family_name`).
pub fn address_field(a: &juchu_domain::customer::Address, name: &str) -> String {
    match name {
        "family_name" => &a.family_name,
        "given_name" => &a.given_name,
        "family_kana" => &a.family_kana,
        "given_kana" => &a.given_kana,
        "company_name" => &a.company_name,
        "department" => &a.department,
        "postal_code" => &a.postal_code,
        "prefecture" => &a.prefecture,
        "address1" => &a.address1,
        "address2" => &a.address2,
        "phone" => &a.phone,
        "email" => &a.email,
        _ => return String::new(),
    }
    .clone()
}

/// The address typed into a form whose fields are `{prefix}{name}`.
pub fn address_from_form(
    f: &HashMap<String, String>,
    prefix: &str,
) -> juchu_domain::customer::Address {
    let g = |n: &str| f.get(&format!("{prefix}{n}")).cloned().unwrap_or_default();
    juchu_domain::customer::Address {
        family_name: g("family_name"),
        given_name: g("given_name"),
        family_kana: g("family_kana"),
        given_kana: g("given_kana"),
        company_name: g("company_name"),
        department: g("department"),
        postal_code: g("postal_code"),
        prefecture: g("prefecture"),
        address1: g("address1"),
        address2: g("address2"),
        phone: g("phone"),
        email: g("email"),
    }
}
