//! Shop settings kept as key/value rows (`settings`): 受注/定期受注の設定, 配送設定
//! and the shop's holidays, read by subscriptions, blacklist screening and the
//! daily run.

use crate::StoreError;
use crate::db::{Arg, get_str, query_with};
use jiff::civil::Date;
use juchu_domain::calendar::{CreationBasis, ShippingCalendar};
use std::collections::HashMap;

/// 受注/定期受注の設定 and 配送設定 the subscription run needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSettings {
    /// 自動受注作成日の指定: the child order is created this many days before …
    pub days_before: i64,
    /// … the next delivery date or the next ship date.
    pub basis: CreationBasis,
    /// Months between deliveries when a parent order names no cycle.
    pub default_cycle_months: u8,
    /// 要対応定期受注の自動受注設定: 作成する (true) / 作成しない (false).
    pub flagged_creates: bool,
    /// ブラックリスト化した顧客が持つ定期受注の要対応化: する (true) / しない.
    pub blacklist_flags_subscriptions: bool,
    /// 再オーソリ: a declined recurring card authorisation is retried this many
    /// times (0: never), …
    pub reauth_retries: u8,
    /// … every this many days, then the subscription is flagged 要対応.
    pub reauth_interval_days: u16,
    /// A subscription whose delivery date had passed when its order was made is
    /// flagged 要対応 「お届け予定日超過」.
    pub overdue_flags: bool,
    /// 事前お知らせ: mailed this many days before each next ship date (0: off).
    pub notice_days_before: u8,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        Self {
            days_before: 5,
            basis: CreationBasis::Delivery,
            default_cycle_months: 1,
            flagged_creates: true,
            blacklist_flags_subscriptions: true,
            reauth_retries: 0,
            reauth_interval_days: 3,
            overdue_flags: true,
            notice_days_before: 0,
        }
    }
}

const SETTING_KEYS: &[&str] = &[
    "shipping.lead_days",
    "shipping.no_ship_weekdays",
    "subscription.days_before",
    "subscription.basis",
    "subscription.default_cycle_months",
    "subscription.flagged_creates",
    "subscription.blacklist_flags",
    "subscription.reauth_retries",
    "subscription.reauth_interval_days",
    "subscription.overdue_flags",
    "subscription.notice_days_before",
];

pub(crate) async fn settings_map(
    conn: &mut sqlx::AnyConnection,
) -> Result<HashMap<String, String>, StoreError> {
    let sql = format!(
        "SELECT key, value FROM settings WHERE key IN ({})",
        crate::db::in_list(SETTING_KEYS.len(), 1)
    );
    let rows = query_with(sql, SETTING_KEYS.iter().map(|k| Arg::from(*k)).collect())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((get_str(r, "key")?, get_str(r, "value")?)))
        .collect()
}

pub(crate) fn settings_from(map: &HashMap<String, String>) -> SubscriptionSettings {
    let d = SubscriptionSettings::default();
    SubscriptionSettings {
        days_before: map
            .get("subscription.days_before")
            .and_then(|v| v.parse().ok())
            .unwrap_or(d.days_before),
        basis: match map.get("subscription.basis").map(String::as_str) {
            Some("ship") => CreationBasis::Ship,
            _ => CreationBasis::Delivery,
        },
        default_cycle_months: map
            .get("subscription.default_cycle_months")
            .and_then(|v| v.parse().ok())
            .unwrap_or(d.default_cycle_months),
        flagged_creates: map
            .get("subscription.flagged_creates")
            .is_none_or(|v| v != "false"),
        blacklist_flags_subscriptions: map
            .get("subscription.blacklist_flags")
            .is_none_or(|v| v != "false"),
        reauth_retries: map
            .get("subscription.reauth_retries")
            .and_then(|v| v.parse().ok())
            .unwrap_or(d.reauth_retries),
        reauth_interval_days: map
            .get("subscription.reauth_interval_days")
            .and_then(|v| v.parse().ok())
            .unwrap_or(d.reauth_interval_days),
        overdue_flags: map
            .get("subscription.overdue_flags")
            .is_none_or(|v| v != "false"),
        notice_days_before: map
            .get("subscription.notice_days_before")
            .and_then(|v| v.parse().ok())
            .unwrap_or(d.notice_days_before),
    }
}

pub(crate) async fn calendar_from(
    conn: &mut sqlx::AnyConnection,
    map: &HashMap<String, String>,
) -> Result<ShippingCalendar, StoreError> {
    let rows = sqlx::query("SELECT day FROM shop_holidays")
        .fetch_all(&mut *conn)
        .await?;
    let mut no_ship_dates = std::collections::BTreeSet::new();
    for r in &rows {
        if let Ok(d) = get_str(r, "day")?.parse::<Date>() {
            no_ship_dates.insert(d);
        }
    }
    Ok(ShippingCalendar {
        lead_days: map
            .get("shipping.lead_days")
            .and_then(|v| v.parse().ok())
            .unwrap_or(2),
        no_ship_weekdays: map
            .get("shipping.no_ship_weekdays")
            .map(|v| v.split(',').filter_map(|d| d.trim().parse().ok()).collect())
            .unwrap_or_default(),
        no_ship_dates,
    })
}

/// One setting's value, if set.
pub(crate) async fn setting(
    conn: &mut sqlx::AnyConnection,
    key: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
        .bind(key.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| get_str(&r, "value")).transpose()?)
}

/// Sets one setting.
pub(crate) async fn set_setting(
    conn: &mut sqlx::AnyConnection,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key.to_string())
        .bind(value.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A secret kept in the settings (signing keys), made on first use. Two
/// processes racing to make it keep the first one written.
pub(crate) async fn secret(
    conn: &mut sqlx::AnyConnection,
    key: &str,
) -> Result<String, StoreError> {
    if let Some(v) = setting(conn, key).await? {
        return Ok(v);
    }
    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(key.to_string())
        .bind(crate::db::random_token(""))
        .execute(&mut *conn)
        .await?;
    setting(conn, key)
        .await?
        .ok_or_else(|| StoreError::Other(format!("setting {key} was not kept")))
}

/// The address mails and links start with (`JUCHU_PUBLIC_URL`, or where
/// `juchu serve` listens), never taken from a request's Host header.
pub(crate) async fn public_url(conn: &mut sqlx::AnyConnection) -> Result<String, StoreError> {
    Ok(setting(conn, "public_url").await?.unwrap_or_default())
}
