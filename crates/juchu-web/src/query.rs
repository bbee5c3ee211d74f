//! Turning query-string filters (API and list page alike) into an [`OrderQuery`].

use juchu_domain::FieldErrors;
use juchu_domain::status::{PaymentStatus, ShipmentStatus, ShippingListState};
use juchu_domain::time::parse_date;
use juchu_store::OrderQuery;
use juchu_store::db::keyset::Keyset;
use juchu_store::orders::search::SortKey;
use juchu_store::subscriptions::SubscriptionQuery;
use std::collections::HashMap;

/// The filter parameters, by name (also the list page's form field names).
pub const ORDER_FILTERS: &[(&str, &str)] = &[
    ("order_number", "受注番号"),
    ("ordered_from", "受注日（から）"),
    ("ordered_to", "受注日（まで）"),
    ("handling_status", "対応状況"),
    ("payment_status", "決済状況"),
    ("shipment_status", "発送状況"),
    ("payment_method", "支払方法"),
    ("carrier", "配送業者"),
    ("customer_id", "顧客ID"),
    ("name", "請求者名"),
    ("kana", "請求者名（カナ）"),
    ("name_part", "請求者名（部分一致）"),
    ("phone", "電話番号"),
    ("phone_tail", "電話番号（末尾一致）"),
    ("sort", "並び順"),
    ("email", "メールアドレス"),
    ("product_code", "商品コード"),
    ("label", "受注ラベル"),
    ("tracking_number", "配送伝票番号"),
    ("needs_attention", "要対応"),
    ("stock_shortage", "欠品"),
    ("unread_messages", "未読メッセージ"),
    ("shipping_list_state", "出荷リスト"),
    ("exact_total", "件数を正確に数える"),
    ("page", "ページ"),
    ("per_page", "件数"),
    ("after", "続きの位置（next_after）"),
    ("updated_since", "更新日時（以降）"),
];

/// `after` and `updated_since` (keyset paging for integrations); errors are
/// added to `e`.
pub fn keyset_of(params: &HashMap<String, String>, e: &mut FieldErrors) -> Keyset {
    match Keyset::parse(
        params.get("after").map(String::as_str),
        params.get("updated_since").map(String::as_str),
    ) {
        Ok(k) => k,
        Err(errors) => {
            for x in errors.0 {
                e.push(x);
            }
            Keyset::default()
        }
    }
}

fn get(params: &HashMap<String, String>, k: &str) -> Option<String> {
    params
        .get(k)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Parses the filters; unknown parameters and bad values are field errors.
pub fn order_query(
    params: &HashMap<String, String>,
    strict: bool,
) -> Result<OrderQuery, FieldErrors> {
    let mut e = FieldErrors::default();
    if strict {
        let mut unknown: Vec<&String> = params
            .keys()
            .filter(|k| !ORDER_FILTERS.iter().any(|(n, _)| n == k))
            .collect();
        unknown.sort();
        for k in unknown {
            e.add(
                k.clone(),
                "unknown_parameter",
                format!("検索条件「{k}」はありません"),
            );
        }
    }
    let mut date = |k: &str| {
        get(params, k).and_then(|s| parse_date(&s).map_err(|m| e.add(k, "invalid_date", m)).ok())
    };
    let ordered_from = date("ordered_from");
    let ordered_to = date("ordered_to");
    let mut int = |k: &str, min: i64, max: i64| {
        get(params, k).and_then(|s| match s.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                e.add(
                    k,
                    "invalid_number",
                    format!("{min}〜{max}の整数で指定してください"),
                );
                None
            }
        })
    };
    let page = int("page", 1, 1_000_000).unwrap_or(1);
    let per_page = int("per_page", 1, juchu_store::orders::MAX_PER_PAGE).unwrap_or(50);
    let customer_id = int("customer_id", 1, i64::MAX);
    let payment_status = get(params, "payment_status").and_then(|s| {
        PaymentStatus::parse(&s).or_else(|| {
            e.add(
                "payment_status",
                "unknown_payment_status",
                format!("決済状況「{s}」はありません"),
            );
            None
        })
    });
    let shipment_status = get(params, "shipment_status").and_then(|s| {
        ShipmentStatus::parse(&s).or_else(|| {
            e.add(
                "shipment_status",
                "unknown_shipment_status",
                format!("発送状況「{s}」はありません"),
            );
            None
        })
    });
    let shipping_list_state = get(params, "shipping_list_state").and_then(|s| {
        ShippingListState::parse(&s).or_else(|| {
            e.add(
                "shipping_list_state",
                "unknown_shipping_list_state",
                format!("出荷リスト「{s}」はありません"),
            );
            None
        })
    });
    let needs_attention = get(params, "needs_attention").and_then(|s| match s.as_str() {
        "true" | "1" | "on" => Some(true),
        "false" | "0" => Some(false),
        _ => {
            e.add(
                "needs_attention",
                "invalid_bool",
                "true または false で指定してください",
            );
            None
        }
    });
    let stock_shortage = match get(params, "stock_shortage").as_deref() {
        None => None,
        Some("true") | Some("1") => Some(true),
        Some("false") | Some("0") => Some(false),
        Some(_) => {
            e.add(
                "stock_shortage",
                "invalid_bool",
                "true または false で指定してください",
            );
            None
        }
    };
    let exact_total = match get(params, "exact_total").as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            e.add(
                "exact_total",
                "invalid_bool",
                "true または false で指定してください",
            );
            false
        }
    };
    let (sort, ascending) = match get(params, "sort") {
        None => (SortKey::OrderedAt, false),
        Some(s) => {
            let (asc, code) = match s.strip_prefix('-') {
                Some(c) => (false, c),
                None => (true, s.as_str()),
            };
            match SortKey::parse(code) {
                Some(k) => (k, asc),
                None => {
                    e.add(
                        "sort",
                        "unknown_sort",
                        format!(
                            "並び順「{s}」はありません（{}、降順は先頭に -）",
                            SortKey::ALL.map(|(_, c, _)| c).join(" / ")
                        ),
                    );
                    (SortKey::OrderedAt, false)
                }
            }
        }
    };
    let keyset = keyset_of(params, &mut e);
    e.into_result()?;
    Ok(OrderQuery {
        keyset,
        sort,
        ascending,
        with_sum: false,
        stock_shortage,
        unread_messages: matches!(
            get(params, "unread_messages").as_deref(),
            Some("true") | Some("1")
        ),
        name_part: get(params, "name_part"),
        phone_tail: get(params, "phone_tail"),
        exact_total,
        order_number: get(params, "order_number"),
        ordered_from,
        ordered_to,
        handling_status: get(params, "handling_status"),
        payment_status,
        shipment_status,
        payment_method: get(params, "payment_method"),
        carrier: get(params, "carrier"),
        customer_id,
        name: get(params, "name"),
        kana: get(params, "kana"),
        phone: get(params, "phone"),
        email: get(params, "email"),
        product_code: get(params, "product_code"),
        label: get(params, "label"),
        tracking_number: get(params, "tracking_number"),
        needs_attention,
        shipping_list_state,
        page,
        per_page,
    })
}

/// Parses the search parameters of 定期受注管理 (shared with the UI).
pub fn subscription_query(p: &HashMap<String, String>) -> Result<SubscriptionQuery, FieldErrors> {
    let mut e = FieldErrors::default();
    let g = |k: &str| p.get(k).cloned().filter(|v| !v.trim().is_empty());
    let mut int = |k: &str| {
        g(k).and_then(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| e.add(k, "invalid_number", "整数で指定してください"))
                .ok()
        })
    };
    let customer_id = int("customer_id");
    let count_min = int("count_min");
    let count_max = int("count_max");
    let page = int("page").unwrap_or(1);
    let per_page = int("per_page").unwrap_or(50);
    let needs_attention = match g("needs_attention").as_deref() {
        None => None,
        Some("true") | Some("1") => Some(true),
        Some("false") | Some("0") => Some(false),
        Some(_) => {
            e.add(
                "needs_attention",
                "invalid_bool",
                "true か false で指定してください",
            );
            None
        }
    };
    if !(1..=500).contains(&per_page) {
        e.add("per_page", "out_of_range", "1〜500で指定してください");
    }
    if page < 1 {
        e.add("page", "out_of_range", "1以上で指定してください");
    }
    let keyset = keyset_of(p, &mut e);
    e.into_result()?;
    Ok(SubscriptionQuery {
        keyset,
        status: g("status"),
        next_delivery_from: g("next_delivery_from"),
        next_delivery_to: g("next_delivery_to"),
        next_ship_from: g("next_ship_from"),
        next_ship_to: g("next_ship_to"),
        product_code: g("product_code"),
        customer_id,
        name: g("name"),
        kana: g("kana"),
        phone: g("phone"),
        needs_attention,
        count_min,
        count_max,
        page,
        per_page,
    })
}

/// `page` and `per_page` of an API list, as (limit, offset).
pub fn paging(params: &HashMap<String, String>) -> Result<(i64, i64), crate::error::ApiError> {
    let mut e = FieldErrors::default();
    let mut num = |k: &str, default: i64, max: i64| match params.get(k).map(|s| s.parse::<i64>()) {
        None => default,
        Some(Ok(n)) if (1..=max).contains(&n) => n,
        _ => {
            e.add(
                k,
                "invalid_number",
                format!("1〜{max}の整数で指定してください"),
            );
            default
        }
    };
    let page = num("page", 1, 1_000_000);
    let per_page = num("per_page", 50, 200);
    e.into_result().map_err(crate::error::ApiError::invalid)?;
    Ok((per_page, (page - 1) * per_page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_and_reports_each_bad_parameter() {
        let q = order_query(
            &params(&[
                ("payment_status", "売上完了"),
                ("ordered_from", "2026/11/01"),
                ("page", "2"),
                ("name", " "),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(q.payment_status, Some(PaymentStatus::Captured));
        assert_eq!(q.page, 2);
        assert_eq!(q.name, None);
        let e = order_query(
            &params(&[
                ("page", "0"),
                ("ordered_to", "2026-02-30"),
                ("colour", "x"),
                ("needs_attention", "maybe"),
            ]),
            true,
        )
        .unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["colour", "ordered_to", "page", "needs_attention"]);
    }
}
