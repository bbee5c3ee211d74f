//! `/api/v1/subscriptions`: 定期受注 — search, read, change, operations.

use crate::AppState;
use crate::auth::ApiCaller;
use crate::dto::{AddressJson, HistoryJson, OrderJson, double_option};
use crate::error::{ApiError, parse_json};
pub use crate::query::subscription_query;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::calendar::{Cycle, PauseFrom, ShippingCalendar, WhenEarlier};
use juchu_domain::masters::Masters;
use juchu_domain::status::SubscriptionStatus;
use juchu_domain::subscription::{
    CountPrice, Subscription, SubscriptionCommand, SubscriptionItemInput, SubscriptionPatch,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionItemJson {
    pub product_code: String,
    pub product_name: String,
    pub quantity: i64,
    /// 10 or 8
    pub tax_rate: i64,
    pub is_bundled_item: bool,
    /// Unit price by delivery count: `[{"from_count": 1, "unit_price": 980}, {"from_count": 2, "unit_price": 3980}]`.
    #[schema(value_type = Vec<Object>)]
    pub prices: Vec<CountPrice>,
    /// Delivered from this delivery count …
    pub first_count: i64,
    /// … up to this one (null: for ever).
    pub last_count: Option<i64>,
    /// Unit price of the next delivery (`count + 1`).
    pub next_unit_price: i64,
    /// Whether the next delivery carries this line.
    pub in_next_delivery: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarEntryJson {
    pub delivery_date: String,
    pub ship_date: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionJson {
    pub id: i64,
    pub version: i64,
    /// ステータス(定期): 有効 / 停止 / キャンセル
    pub status: String,
    /// `active` / `stopped` / `cancelled`
    pub status_code: String,
    pub stop_reason: String,
    pub cancel_reason: String,
    #[schema(value_type = Object)]
    pub cycle: Cycle,
    /// The cycle in Japanese, e.g. 1ヶ月ごと 15日.
    pub cycle_label: String,
    /// 次回配送予定日
    pub next_delivery_date: String,
    /// 次回発送予定日
    pub next_ship_date: String,
    /// 前回配送予定日
    pub previous_delivery_date: Option<String>,
    /// 定期回数: deliveries created so far (the parent order is the first).
    pub count: i64,
    pub customer_id: Option<i64>,
    pub parent_order_id: Option<i64>,
    pub payment_method: Option<String>,
    pub carrier: Option<String>,
    pub billing: AddressJson,
    pub shipping: AddressJson,
    pub delivery_time_slot: Option<String>,
    pub items: Vec<SubscriptionItemJson>,
    /// 定期受注メモ
    pub memo: String,
    pub labels: Vec<String>,
    /// 要対応定期受注
    pub needs_attention: bool,
    pub needs_attention_reason: String,
    /// 要対応理由, one per reason (the system's, e.g. 「お届け予定日超過」, and the
    /// operator's own text).
    pub needs_attention_reasons: Vec<String>,
    /// Whether a card token is kept for the child orders' 与信 (the token itself
    /// is never shown).
    pub payment_token_set: bool,
    /// The next six deliveries.
    pub calendar: Vec<CalendarEntryJson>,
}

impl SubscriptionJson {
    pub fn new(s: &Subscription, m: &Masters, cal: &ShippingCalendar) -> Self {
        let next = s.count + 1;
        SubscriptionJson {
            id: s.id,
            version: s.version,
            status: s.status.label().into(),
            status_code: s.status.code().into(),
            stop_reason: s.stop_reason.clone(),
            cancel_reason: s.cancel_reason.clone(),
            cycle: s.cycle,
            cycle_label: s.cycle.label(),
            next_delivery_date: s.schedule.next_delivery.to_string(),
            next_ship_date: s.schedule.next_ship.to_string(),
            previous_delivery_date: s.schedule.previous_delivery.map(|d| d.to_string()),
            count: s.count,
            customer_id: s.customer_id,
            parent_order_id: s.parent_order_id,
            payment_method: s
                .payment_method_id
                .and_then(|id| m.payment_method(id))
                .map(|p| p.name.clone()),
            carrier: s
                .carrier_id
                .and_then(|id| m.carrier(id))
                .map(|c| c.name.clone()),
            billing: s.billing.clone(),
            shipping: s.shipping.clone(),
            delivery_time_slot: s.delivery_time_slot.clone(),
            items: s
                .items
                .iter()
                .map(|i| SubscriptionItemJson {
                    product_code: i.product_code.clone(),
                    product_name: i.product_name.clone(),
                    quantity: i.quantity,
                    tax_rate: i.tax_rate.percent(),
                    is_bundled_item: i.is_bundled_item,
                    prices: i.prices.clone(),
                    first_count: i.first_count,
                    last_count: i.last_count,
                    next_unit_price: i.price_for(next),
                    in_next_delivery: i.delivers_on(next),
                })
                .collect(),
            memo: s.memo.clone(),
            labels: s
                .label_ids
                .iter()
                .filter_map(|id| m.label(*id).map(|l| l.name.clone()))
                .collect(),
            needs_attention: s.needs_attention,
            needs_attention_reason: s.needs_attention_reason.clone(),
            needs_attention_reasons: s.needs_attention_reasons(),
            payment_token_set: s.card_token.is_set(),
            calendar: s
                .schedule
                .preview(&s.cycle, cal, 6)
                .into_iter()
                .map(|(d, sh)| CalendarEntryJson {
                    delivery_date: d.to_string(),
                    ship_date: sh.to_string(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionListJson {
    pub subscriptions: Vec<SubscriptionJson>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// With `after` or `updated_since`: the `after` of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

async fn to_json(st: &AppState, s: &Subscription) -> Result<SubscriptionJson, ApiError> {
    let m = st.store.masters().await?;
    let cal = st.store.shipping_calendar().await?;
    Ok(SubscriptionJson::new(s, &m, &cal))
}

#[utoipa::path(get, path = "/api/v1/subscriptions", tag = "subscriptions",
    params(("status" = Option<String>, Query, description = "有効 / 停止 / キャンセル (or active / stopped / cancelled)"),
        ("next_delivery_from" = Option<String>, Query), ("next_delivery_to" = Option<String>, Query),
        ("next_ship_from" = Option<String>, Query), ("next_ship_to" = Option<String>, Query),
        ("product_code" = Option<String>, Query), ("customer_id" = Option<i64>, Query),
        ("name" = Option<String>, Query), ("kana" = Option<String>, Query), ("phone" = Option<String>, Query),
        ("needs_attention" = Option<bool>, Query), ("count_min" = Option<i64>, Query), ("count_max" = Option<i64>, Query),
        ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query),
        ("after" = Option<String>, Query, description = "keyset paging: the next_after of the previous page (id order; with updated_since: updated_at, id)"),
        ("updated_since" = Option<String>, Query, description = "RFC 3339: only subscriptions changed at or after it, oldest change first")),
    responses((status = 200, body = SubscriptionListJson), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_subscriptions(
    caller: ApiCaller,
    State(st): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<SubscriptionListJson>, ApiError> {
    caller.require(Permission::Read)?;
    let q = subscription_query(&params).map_err(ApiError::invalid)?;
    let page = st.store.search_subscriptions(&q).await?;
    let m = st.store.masters().await?;
    let cal = st.store.shipping_calendar().await?;
    Ok(Json(SubscriptionListJson {
        subscriptions: page
            .subscriptions
            .iter()
            .map(|s| SubscriptionJson::new(s, &m, &cal))
            .collect(),
        total: page.total,
        page: page.page,
        per_page: page.per_page,
        next_after: page.next_after,
    }))
}

#[utoipa::path(get, path = "/api/v1/subscriptions/{id}", tag = "subscriptions", params(("id" = i64, Path)),
    responses((status = 200, body = SubscriptionJson), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_subscription(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<SubscriptionJson>, ApiError> {
    caller.require(Permission::Read)?;
    let s = st.store.subscription(id).await?;
    Ok(Json(to_json(&st, &s).await?))
}

/// A change of a subscription. Absent fields stay. Status changes: `"status":
/// "停止"` with `stop_reason`, `"キャンセル"` with `cancel_reason`, `"有効"` to
/// resume (from キャンセル only with `"confirm": true`).
///
/// A new `cycle` keeps the next delivery on or after the current one (the
/// first date of the new cycle from there), so a skip or a pause is never
/// undone. When the new cycle counted from the last delivery would move the
/// next delivery earlier, the change needs `"confirm": true` to move it, or
/// `"keep_next_date": true` to keep it (with neither: 422 on `cycle`, the
/// message naming both dates), or an explicit `next_delivery_date`. `"dry_run": true` returns the result without saving,
/// to show the resulting dates first.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSubscriptionBody {
    /// The version you read; required.
    pub version: i64,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    #[serde(default)]
    pub confirm: bool,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub cycle: Option<Cycle>,
    #[serde(default)]
    pub next_delivery_date: Option<String>,
    #[serde(default)]
    pub next_ship_date: Option<String>,
    /// With a new date: move the other one by 最短お届け日の指定.
    #[serde(default)]
    pub sync_dates: bool,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub payment_method: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub carrier: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub delivery_time_slot: Option<Option<String>>,
    #[serde(default)]
    pub shipping: Option<AddressJson>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub items: Option<Vec<SubscriptionItemInput>>,
    #[serde(default)]
    pub memo: Option<String>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    #[serde(default)]
    pub needs_attention: Option<bool>,
    #[serde(default)]
    pub needs_attention_reason: Option<String>,
    /// 再計算 after the change.
    #[serde(default)]
    pub recalculate: bool,
    /// 定期回数 −1.
    #[serde(default)]
    pub decrement_count: bool,
    /// Returns the subscription as the change would leave it, saving nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// With `cycle`: keep the next delivery where it is (the first date of the
    /// new cycle on or after it) even when the new cycle would move it earlier.
    #[serde(default)]
    pub keep_next_date: bool,
}

impl PatchSubscriptionBody {
    fn into_commands(self) -> Result<(i64, String, Vec<SubscriptionCommand>), ApiError> {
        // Fields that only mean something with a status change are not ignored
        // silently when the status is missing.
        if self.status.is_none() {
            for (given, field) in [
                (self.stop_reason.is_some(), "stop_reason"),
                (self.cancel_reason.is_some(), "cancel_reason"),
                (self.confirm && self.cycle.is_none(), "confirm"),
            ] {
                if given {
                    return Err(ApiError::invalid(FieldErrors::single(
                        field,
                        "status_required",
                        format!("{field} は status と一緒に指定してください"),
                    )));
                }
            }
        }
        let mut cmds = Vec::new();
        if let Some(s) = self.status.as_deref() {
            match SubscriptionStatus::parse(s) {
                Some(SubscriptionStatus::Active) => cmds.push(SubscriptionCommand::Resume {
                    confirm: self.confirm,
                }),
                Some(SubscriptionStatus::Stopped) => cmds.push(SubscriptionCommand::Stop {
                    reason: self.stop_reason.clone().unwrap_or_default(),
                }),
                Some(SubscriptionStatus::Cancelled) => cmds.push(SubscriptionCommand::Cancel {
                    reason: self.cancel_reason.clone().unwrap_or_default(),
                }),
                None => {
                    return Err(ApiError::invalid(FieldErrors::single(
                        "status",
                        "unknown_status",
                        format!("ステータス「{s}」はありません（有効・停止・キャンセル）"),
                    )));
                }
            }
        }
        let patch = SubscriptionPatch {
            cycle: self.cycle,
            when_earlier: match (self.confirm, self.keep_next_date) {
                (true, _) => WhenEarlier::MoveEarlier,
                (false, true) => WhenEarlier::Keep,
                (false, false) => WhenEarlier::Ask,
            },
            next_delivery_date: self.next_delivery_date,
            next_ship_date: self.next_ship_date,
            sync_dates: self.sync_dates,
            payment_method: self.payment_method,
            carrier: self.carrier,
            delivery_time_slot: self.delivery_time_slot,
            shipping: self.shipping,
            items: self.items,
            memo: self.memo,
            labels: self.labels,
            needs_attention: self.needs_attention,
            needs_attention_reason: self.needs_attention_reason,
        };
        if patch != SubscriptionPatch::default() {
            cmds.push(SubscriptionCommand::Patch(Box::new(patch)));
        }
        if self.recalculate {
            cmds.push(SubscriptionCommand::Recalculate);
        }
        if self.decrement_count {
            cmds.push(SubscriptionCommand::DecrementCount);
        }
        Ok((self.version, self.reason.unwrap_or_default(), cmds))
    }
}

#[utoipa::path(patch, path = "/api/v1/subscriptions/{id}", tag = "subscriptions", params(("id" = i64, Path)),
    request_body = PatchSubscriptionBody,
    responses((status = 200, body = SubscriptionJson), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "stale version", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_subscription(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<SubscriptionJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: PatchSubscriptionBody = parse_json(&body)?;
    let dry_run = b.dry_run;
    let (version, reason, cmds) = b.into_commands()?;
    let changed = if dry_run {
        st.store
            .preview_subscription_change(id, Some(version), &cmds, &caller.actor)
            .await?
    } else {
        st.store
            .change_subscription(id, Some(version), &cmds, &caller.actor, &reason)
            .await?
    };
    Ok(Json(to_json(&st, &changed.subscription).await?))
}

/// Body of the operations; `version` is optional here (the operation is relative
/// to the current state), but checked when given.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationBody {
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    /// 休止期間 in days (1–365).
    pub days: i64,
    /// Count the days from the next (`next`) or the previous (`previous`) delivery date.
    #[serde(default = "default_from")]
    #[schema(value_type = String)]
    pub from: PauseFrom,
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

fn default_from() -> PauseFrom {
    PauseFrom::Next
}

fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(body)
    }
}

/// An operation whose body is only the optional version and reason.
async fn operation(
    st: &AppState,
    caller: &ApiCaller,
    id: i64,
    body: &Bytes,
    cmd: SubscriptionCommand,
) -> Result<Json<SubscriptionJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: OperationBody = optional_body(body)?;
    operate(
        st,
        caller,
        id,
        b.version,
        cmd,
        &b.reason.unwrap_or_default(),
    )
    .await
}

async fn operate(
    st: &AppState,
    caller: &ApiCaller,
    id: i64,
    version: Option<i64>,
    cmd: SubscriptionCommand,
    reason: &str,
) -> Result<Json<SubscriptionJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let changed = st
        .store
        .change_subscription(id, version, &[cmd], &caller.actor, reason)
        .await?;
    Ok(Json(to_json(st, &changed.subscription).await?))
}

#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/skip", tag = "subscriptions", params(("id" = i64, Path)),
    request_body = OperationBody,
    responses((status = 200, body = SubscriptionJson), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// スキップ: on a monthly cycle the next delivery moves to the next anchor date
/// (monthly on the 26th: 12-26 → 01-26); on a cycle of days or weeks by the gap
/// between the previous and the next delivery.
pub async fn skip(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<SubscriptionJson>, ApiError> {
    operation(&st, &caller, id, &body, SubscriptionCommand::Skip).await
}

#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/pause", tag = "subscriptions", params(("id" = i64, Path)),
    request_body = PauseBody,
    responses((status = 200, body = SubscriptionJson), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// 休止: the next delivery date becomes `days` after the next or the previous delivery date.
pub async fn pause(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<SubscriptionJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: PauseBody = parse_json(&body)?;
    let reason = b.reason.unwrap_or_default();
    let cmd = SubscriptionCommand::Pause {
        days: b.days,
        from: b.from,
    };
    operate(&st, &caller, id, b.version, cmd, &reason).await
}

/// Body of `PUT /api/v1/subscriptions/{id}/payment-token`.
// No `Debug`: it carries the token.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentTokenBody {
    /// The payment provider's token for the customer's new card (never a card number).
    pub card_token: String,
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[utoipa::path(put, path = "/api/v1/subscriptions/{id}/payment-token", tag = "subscriptions", params(("id" = i64, Path)),
    request_body = PaymentTokenBody,
    responses((status = 200, body = SubscriptionJson), (status = 404, body = crate::error::ErrorBody),
        (status = 422, description = "`card_token` empty or malformed", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// カード変更: the customer's new card token replaces the stored one; the next
/// child orders (and a pending 再オーソリ) are authorised with it. 履歴 says that
/// it changed, never the token.
pub async fn replace_payment_token(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<SubscriptionJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: PaymentTokenBody = parse_json(&body)?;
    let reason = b.reason.unwrap_or_default();
    let cmd = SubscriptionCommand::ReplacePaymentToken {
        token: b.card_token.into(),
    };
    operate(&st, &caller, id, b.version, cmd, &reason).await
}

#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/recalculate", tag = "subscriptions", params(("id" = i64, Path)),
    request_body = OperationBody,
    responses((status = 200, body = SubscriptionJson), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
/// 再計算: items take the product master's current data.
pub async fn recalculate(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<SubscriptionJson>, ApiError> {
    operation(&st, &caller, id, &body, SubscriptionCommand::Recalculate).await
}

#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/orders", tag = "subscriptions", params(("id" = i64, Path)),
    request_body = OperationBody,
    responses((status = 201, body = OrderJson), (status = 404, body = crate::error::ErrorBody),
        (status = 422, description = "not 有効, or nothing to deliver", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// Creates the next order now (only when 有効); the subscription advances.
pub async fn create_order_now(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<(axum::http::StatusCode, Json<OrderJson>), ApiError> {
    caller.require(Permission::WriteOrders)?;
    // `{"version": N}` makes a retry of the same request safe (409 instead of the
    // delivery after next).
    let b: OperationBody = optional_body(&body)?;
    let o = st
        .store
        .create_subscription_order_now(id, b.version, &caller.actor)
        .await?;
    let m = st.store.masters().await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(OrderJson::new(&o, &m)),
    ))
}

#[utoipa::path(get, path = "/api/v1/subscriptions/{id}/orders", tag = "subscriptions", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<OrderJson>), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
/// The parent order and the child orders, oldest first.
pub async fn subscription_orders(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<OrderJson>>, ApiError> {
    caller.require(Permission::Read)?;
    let orders = st.store.subscription_orders(id).await?;
    let m = st.store.masters().await?;
    Ok(Json(orders.iter().map(|o| OrderJson::new(o, &m)).collect()))
}

#[utoipa::path(get, path = "/api/v1/subscriptions/{id}/history", tag = "subscriptions", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<HistoryJson>), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn subscription_history(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<HistoryJson>>, ApiError> {
    caller.require(Permission::Read)?;
    st.store.subscription(id).await?;
    Ok(Json(
        st.store
            .subscription_history(id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionReasonsJson {
    /// 停止理由
    pub stop: Vec<String>,
    /// キャンセル理由
    pub cancel: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/subscription-reasons", tag = "subscriptions",
    responses((status = 200, body = SubscriptionReasonsJson)), security(("bearer" = [])))]
pub async fn reasons(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<SubscriptionReasonsJson>, ApiError> {
    caller.require(Permission::Read)?;
    let r = st.store.subscription_reasons().await?;
    Ok(Json(SubscriptionReasonsJson {
        stop: r.stop,
        cancel: r.cancel,
    }))
}
