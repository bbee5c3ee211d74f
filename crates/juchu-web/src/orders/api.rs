//! 受注 over the JSON API: search, create (with Idempotency-Key), get, change, 履歴.

use crate::AppState;
use crate::auth::ApiCaller;
use crate::dto::*;
use crate::error::missing_field;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::customer::CustomerInput;
use juchu_domain::order::NewOrder;
use juchu_store::orders::{IdempotencyKey, NewOrderRequest};
use std::collections::HashMap;

/// Lists orders, newest first, with the search filters as query parameters.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders",
    params(
        ("order_number" = Option<String>, Query, description = "受注番号 (exact)"),
        ("ordered_from" = Option<String>, Query, description = "受注日 from, YYYY-MM-DD (Japan time, inclusive)"),
        ("ordered_to" = Option<String>, Query, description = "受注日 to, YYYY-MM-DD (inclusive)"),
        ("handling_status" = Option<String>, Query, description = "対応状況 name"),
        ("payment_status" = Option<String>, Query, description = "決済状況 label or code"),
        ("shipment_status" = Option<String>, Query, description = "発送状況"),
        ("payment_method" = Option<String>, Query, description = "支払方法 code or name"),
        ("carrier" = Option<String>, Query, description = "配送業者 code or name"),
        ("customer_id" = Option<i64>, Query),
        ("name" = Option<String>, Query, description = "請求者名 prefix (normalised)"),
        ("kana" = Option<String>, Query, description = "請求者カナ prefix (normalised)"),
        ("name_part" = Option<String>, Query, description = "請求者名 or カナ anywhere in the name (a given name alone finds 山田 花子); reads every row the other filters leave"),
        ("stock_shortage" = Option<bool>, Query, description = "欠品: true lists the orders short of stock (在庫), false the others"),
        ("phone_tail" = Option<String>, Query, description = "the end of the phone number, at least 3 digits (the last four digits)"),
        ("sort" = Option<String>, Query, description = "ordered_at (default, newest first) / order_number / total / scheduled_delivery_date / billing_kana / handling_status / carrier / tracking_number; `-` before it for descending"),
        ("phone" = Option<String>, Query, description = "phone (hyphens, 全角, +81 folded)"),
        ("email" = Option<String>, Query),
        ("product_code" = Option<String>, Query),
        ("label" = Option<String>, Query, description = "受注ラベル name"),
        ("tracking_number" = Option<String>, Query),
        ("needs_attention" = Option<bool>, Query),
        ("shipping_list_state" = Option<String>, Query, description = "未出力 / 出力済"),
        ("page" = Option<i64>, Query, description = "1-based"),
        ("per_page" = Option<i64>, Query, description = "1–200, default 50"),
        ("exact_total" = Option<bool>, Query, description = "count every match (default: exact up to 10,000, then total_is_exact=false)"),
        ("after" = Option<String>, Query, description = "keyset paging: the next_after of the previous page; rows in id order (with updated_since: updated_at, id), page and sort ignored"),
        ("updated_since" = Option<String>, Query, description = "RFC 3339: only orders changed at or after it, oldest change first (mirroring; next_after continues)"),
    ),
    responses((status = 200, body = OrderListJson), (status = 401, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_orders(
    caller: ApiCaller,
    State(st): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<OrderListJson>, ApiError> {
    caller.require(Permission::Read)?;
    let q = crate::query::order_query(&params, true).map_err(ApiError::invalid)?;
    let m = st.store.masters().await?;
    let page = st.store.search_orders_with(&q, &m).await?;
    Ok(Json(OrderListJson {
        orders: page.orders.iter().map(|o| OrderJson::new(o, &m)).collect(),
        total: page.total,
        total_is_exact: page.total_is_exact,
        page: page.page,
        per_page: page.per_page,
        next_after: page.next_after,
    }))
}

/// Creates an order; totals are computed here. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", request_body = CreateOrderBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key returns the first order")),
    responses((status = 201, body = OrderJson), (status = 200, description = "replayed by Idempotency-Key", body = OrderJson),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_order(
    caller: ApiCaller,
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: CreateOrderBody = parse_json(&body).map_err(missing_field)?;
    let mut errors = FieldErrors::default();
    if b.billing.is_none() && b.customer.is_none() && b.customer_id.is_none() {
        errors.add(
            "billing",
            "required",
            "billing（請求者）か customer / customer_id を指定してください",
        );
    }
    if b.customer.is_some() && b.customer_id.is_some() {
        errors.add(
            "customer",
            "conflict",
            "customer と customer_id はどちらか一方を指定してください",
        );
    }
    let ordered_at = b.ordered_at.as_deref().and_then(|s| {
        s.parse::<jiff::Timestamp>()
            .map_err(|_| {
                errors.add(
                    "ordered_at",
                    "invalid_timestamp",
                    "RFC 3339 形式で指定してください（例: 2026-11-24T10:00:00+09:00）",
                )
            })
            .ok()
    });
    errors.into_result().map_err(ApiError::invalid)?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_idempotency_key",
                        "Idempotency-Key は255文字以内の文字列にしてください",
                        Some("Idempotency-Key".into()),
                    )
                })?;
            Some(IdempotencyKey::new(caller.token_id, k, &body))
        }
    };
    let billing_given = b.billing.is_some();
    let req = NewOrderRequest {
        billing_given,
        new_customer: b.customer.map(CustomerInput::from),
        card_token: b.card_token,
        order: NewOrder {
            order_number: b.order_number,
            customer_id: b.customer_id,
            ordered_at,
            billing: b.billing.unwrap_or_default(),
            shipping: b.shipping,
            items: b.items.into_iter().map(Into::into).collect(),
            payment_method: b.payment_method,
            carrier: b.carrier,
            handling_status: b.handling_status,
            payment_status: b.payment_status,
            discount: b.discount,
            points_used: b.points_used,
            points_granted: b.points_granted,
            scheduled_delivery_date: b.scheduled_delivery_date,
            scheduled_ship_date: b.scheduled_ship_date,
            delivery_time_slot: b.delivery_time_slot,
            memo: b.memo,
            labels: b.labels,
            tracking_number: b.tracking_number,
            shipment_status: b.shipment_status,
            shipped_at: b.shipped_at,
            delivered_at: b.delivered_at,
            paid_at: b.paid_at,
            subscription_cycle: b.subscription_cycle,
            attributes: b.attributes.into_iter().collect(),
            ..Default::default()
        },
    };
    let created = st.store.create_order(req, &caller.actor, key).await?;
    let m = st.store.masters().await?;
    let status = if created.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let json = with_matches(&st, OrderJson::new(&created.order, &m), created.order.id).await?;
    let mut resp = (status, Json(json)).into_response();
    if created.replayed {
        resp.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(resp)
}

#[utoipa::path(get, path = "/api/v1/orders/{order_number}", tag = "orders",
    params(("order_number" = String, Path)),
    responses((status = 200, body = OrderJson), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_order(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<OrderJson>, ApiError> {
    caller.require(Permission::Read)?;
    let o = st.store.order_by_number(&number).await?;
    let m = st.store.masters().await?;
    with_matches(&st, OrderJson::new(&o, &m), o.id)
        .await
        .map(Json)
}

/// An order's JSON with what the blacklist screening matched.
async fn with_matches(
    st: &AppState,
    mut j: OrderJson,
    order_id: i64,
) -> Result<OrderJson, ApiError> {
    j.attributes = st
        .store
        .order_attributes(order_id)
        .await?
        .into_iter()
        .collect();
    if j.needs_attention {
        j.attention_matches = st
            .store
            .order_attention_matches(order_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
    }
    Ok(j)
}

/// Changes an order through the change pipeline. `version` must be the one you read.
#[utoipa::path(patch, path = "/api/v1/orders/{order_number}", tag = "orders", request_body = PatchOrderBody,
    params(("order_number" = String, Path)),
    responses((status = 200, body = OrderJson), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "stale version", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_order(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<Json<OrderJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: PatchOrderBody = parse_json(&body).map_err(missing_field)?;
    let (version, reason, patch) = b.into_patch();
    let changed = st
        .store
        .change_order(&number, Some(version), &patch, &caller.actor, &reason)
        .await?;
    let m = st.store.masters().await?;
    // The reply carries what GET does (attributes, what the blacklist matched).
    with_matches(&st, OrderJson::new(&changed.order, &m), changed.order.id)
        .await
        .map(Json)
}

/// 履歴: every change, oldest first.
#[utoipa::path(get, path = "/api/v1/orders/{order_number}/history", tag = "orders",
    params(("order_number" = String, Path)),
    responses((status = 200, body = Vec<HistoryJson>), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn order_history(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<Vec<HistoryJson>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(
        st.store
            .order_history(&number)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}
