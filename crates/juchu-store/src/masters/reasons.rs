//! 停止理由 and 解約理由: the reason masters of subscriptions.

use crate::StoreError;
use crate::db::get_str;
use juchu_domain::subscription::SubscriptionReasons;

pub(crate) async fn load_reasons(
    conn: &mut sqlx::AnyConnection,
) -> Result<SubscriptionReasons, StoreError> {
    let rows = sqlx::query("SELECT kind, name FROM subscription_reasons ORDER BY position, id")
        .fetch_all(&mut *conn)
        .await?;
    let mut out = SubscriptionReasons::default();
    for r in &rows {
        let name = get_str(r, "name")?;
        match get_str(r, "kind")?.as_str() {
            "stop" => out.stop.push(name),
            "cancel" => out.cancel.push(name),
            _ => {}
        }
    }
    Ok(out)
}

/// Default reason masters, seeded once.
pub(crate) const DEFAULT_STOP_REASONS: &[&str] = &[
    "支払い不備",
    "長期不在",
    "在庫切れ",
    "顧客都合（一時停止）",
    "その他",
];
pub(crate) const DEFAULT_CANCEL_REASONS: &[&str] = &[
    "商品に満足できなかった",
    "商品が余っている",
    "価格が高い",
    "効果を感じない",
    "解約申請",
    "その他",
];
