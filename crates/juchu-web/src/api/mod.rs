//! The JSON API under `/api/v1`.

pub mod automation;
pub mod blacklist;
pub mod documents;
pub use crate::dto;
pub mod jobs;
pub mod mail;
pub mod payments;
pub mod subscriptions;

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dto::*;
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::customer::CustomerInput;
use juchu_domain::order::NewOrder;
use juchu_store::customers::CustomerQuery;
use juchu_store::masters::{
    CarrierInput, HandlingStatusInput, LabelInput, PaymentMethodInput, ProductInput,
};
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
    }))
}

fn missing_field(e: ApiError) -> ApiError {
    // serde reports a missing field at the parent path; name the field itself.
    if e.body.field.is_none()
        && let Some(name) = e
            .body
            .message
            .split("missing field `")
            .nth(1)
            .and_then(|s| s.split('`').next())
    {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "required",
            format!("{name} は必須です"),
            Some(name.to_string()),
        );
    }
    e
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
            billing: b.billing.map(Into::into).unwrap_or_default(),
            shipping: b.shipping.map(Into::into),
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
    Ok(Json(OrderJson::new(&changed.order, &m)))
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

fn paging(params: &HashMap<String, String>) -> Result<(i64, i64), ApiError> {
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
    e.into_result().map_err(ApiError::invalid)?;
    Ok((per_page, (page - 1) * per_page))
}

#[utoipa::path(get, path = "/api/v1/customers", tag = "customers",
    params(("name" = Option<String>, Query), ("phone" = Option<String>, Query), ("email" = Option<String>, Query),
        ("blacklisted" = Option<bool>, Query, description = "true: only ブラックリスト customers"),
        ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = ListJson<CustomerJson>)), security(("bearer" = [])))]
pub async fn list_customers(
    caller: ApiCaller,
    State(st): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ListJson<CustomerJson>>, ApiError> {
    caller.require(Permission::Read)?;
    let (limit, offset) = paging(&params)?;
    let blacklisted = match params.get("blacklisted").map(String::as_str) {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::invalid(FieldErrors::single(
                "blacklisted",
                "invalid_bool",
                "true か false で指定してください",
            )));
        }
    };
    let q = CustomerQuery {
        name: params.get("name").cloned(),
        phone: params.get("phone").cloned(),
        email: params.get("email").cloned(),
        blacklisted,
    };
    let (items, total) = st.store.list_customers(&q, limit, offset).await?;
    Ok(Json(ListJson {
        items: items.iter().map(Into::into).collect(),
        total,
    }))
}

#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = CustomerBody,
    responses((status = 201, body = CustomerJson), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn create_customer(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<CustomerJson>), ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: CustomerBody = parse_json(&body).map_err(missing_field)?;
    let c = st.store.create_customer(b.into()).await?;
    Ok((StatusCode::CREATED, Json((&c).into())))
}

#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = CustomerJson), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_customer(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CustomerJson>, ApiError> {
    caller.require(Permission::Read)?;
    let id = parse_id(&id)?;
    Ok(Json((&st.store.customer(id).await?).into()))
}

fn parse_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "顧客が見つかりません",
            None,
        )
    })
}

/// Partial update: send only the fields to change.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatchBody {
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub family_kana: Option<String>,
    pub given_kana: Option<String>,
    pub postal_code: Option<String>,
    pub prefecture: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub mail_opt_out: Option<bool>,
    pub points: Option<i64>,
    pub memo: Option<String>,
    /// ブラックリスト: `true` needs `blacklist_reason`.
    pub blacklisted: Option<bool>,
    pub blacklist_reason: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)), request_body = CustomerPatchBody,
    responses((status = 200, body = CustomerJson), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_customer(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<CustomerJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let id = parse_id(&id)?;
    let b: CustomerPatchBody = parse_json(&body)?;
    // Checked before anything is written: nothing half-applied.
    if b.blacklisted == Some(true)
        && b.blacklist_reason
            .as_deref()
            .unwrap_or("")
            .trim()
            .is_empty()
    {
        return Err(ApiError::invalid(FieldErrors::single(
            "blacklist_reason",
            "required",
            "ブラックリストに登録する理由を入力してください",
        )));
    }
    if b.blacklist_reason.is_some() && b.blacklisted.is_none() {
        return Err(ApiError::invalid(FieldErrors::single(
            "blacklisted",
            "required",
            "blacklist_reason は blacklisted と一緒に指定してください",
        )));
    }
    let contact_changed = [
        &b.family_name,
        &b.given_name,
        &b.family_kana,
        &b.given_kana,
        &b.postal_code,
        &b.prefecture,
        &b.address1,
        &b.address2,
        &b.phone,
        &b.email,
        &b.memo,
    ]
    .iter()
    .any(|v| v.is_some())
        || b.mail_opt_out.is_some()
        || b.points.is_some();
    let c = st.store.customer(id).await?;
    let mut a = c.address.clone();
    let set = |t: &mut String, v: Option<String>| {
        if let Some(v) = v {
            *t = v;
        }
    };
    set(&mut a.family_name, b.family_name);
    set(&mut a.given_name, b.given_name);
    set(&mut a.family_kana, b.family_kana);
    set(&mut a.given_kana, b.given_kana);
    set(&mut a.postal_code, b.postal_code);
    set(&mut a.prefecture, b.prefecture);
    set(&mut a.address1, b.address1);
    set(&mut a.address2, b.address2);
    set(&mut a.phone, b.phone);
    set(&mut a.email, b.email);
    let input = CustomerInput {
        address: a,
        mail_opt_out: b.mail_opt_out.unwrap_or(c.mail_opt_out),
        points: b.points.unwrap_or(c.points),
        memo: b.memo.unwrap_or_else(|| c.memo.clone()),
    };
    let mut out = if contact_changed {
        st.store.update_customer(id, input).await?
    } else {
        c
    };
    if let Some(flag) = b.blacklisted {
        out = st
            .store
            .set_blacklisted(
                id,
                flag,
                b.blacklist_reason.as_deref().unwrap_or(""),
                &caller.actor,
            )
            .await?;
    }
    Ok(Json((&out).into()))
}

#[utoipa::path(get, path = "/api/v1/products", tag = "masters", params(("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query)),
    responses((status = 200, body = ListJson<ProductJson>)), security(("bearer" = [])))]
pub async fn list_products(
    caller: ApiCaller,
    State(st): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ListJson<ProductJson>>, ApiError> {
    caller.require(Permission::Read)?;
    let (limit, offset) = paging(&params)?;
    let (items, total) = st.store.list_products(limit, offset).await?;
    Ok(Json(ListJson {
        items: items.iter().map(Into::into).collect(),
        total,
    }))
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductBody {
    pub code: String,
    pub name: String,
    /// Tax included.
    pub unit_price: i64,
    /// 10 or 8 (軽減税率).
    pub tax_rate: i64,
    #[serde(default)]
    pub shipping_fee: Option<i64>,
    #[serde(default)]
    pub payment_fee: Option<i64>,
    #[serde(default)]
    pub is_bundled_item: bool,
    #[serde(default)]
    pub is_subscription: bool,
}

#[utoipa::path(post, path = "/api/v1/products", tag = "masters", request_body = ProductBody,
    responses((status = 201, body = ProductJson), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_product(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<ProductJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: ProductBody = parse_json(&body).map_err(missing_field)?;
    let p = st
        .store
        .create_product(ProductInput {
            code: b.code,
            name: b.name,
            unit_price: b.unit_price,
            tax_rate: b.tax_rate,
            shipping_fee: b.shipping_fee,
            payment_fee: b.payment_fee,
            is_bundled_item: b.is_bundled_item,
            is_subscription: b.is_subscription,
        })
        .await?;
    Ok((StatusCode::CREATED, Json((&p).into())))
}

#[utoipa::path(get, path = "/api/v1/products/{code}", tag = "masters", params(("code" = String, Path)),
    responses((status = 200, body = ProductJson), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_product(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<ProductJson>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json((&st.store.product_by_code(&code).await?).into()))
}

#[utoipa::path(get, path = "/api/v1/handling-statuses", tag = "masters",
    responses((status = 200, body = Vec<HandlingStatusJson>)), security(("bearer" = [])))]
pub async fn list_handling_statuses(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<HandlingStatusJson>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(
        st.store
            .masters()
            .await?
            .handling_statuses
            .iter()
            .map(Into::into)
            .collect(),
    ))
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandlingStatusBody {
    pub name: String,
    #[serde(default)]
    pub position: Option<i64>,
    /// `#rrggbb`
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub is_default: bool,
}

#[utoipa::path(post, path = "/api/v1/handling-statuses", tag = "masters", request_body = HandlingStatusBody,
    responses((status = 201, body = HandlingStatusJson), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_handling_status(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<HandlingStatusJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: HandlingStatusBody = parse_json(&body).map_err(missing_field)?;
    let s = st
        .store
        .create_handling_status(HandlingStatusInput {
            name: b.name,
            position: b.position,
            color: b.color.unwrap_or_else(|| "#337ab7".into()),
            is_default: b.is_default,
        })
        .await?;
    Ok((StatusCode::CREATED, Json((&s).into())))
}

#[utoipa::path(get, path = "/api/v1/payment-methods", tag = "masters", responses((status = 200, body = Vec<PaymentMethodJson>)), security(("bearer" = [])))]
pub async fn list_payment_methods(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<PaymentMethodJson>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(
        st.store
            .masters()
            .await?
            .payment_methods
            .iter()
            .map(Into::into)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/payment-methods", tag = "masters", responses((status = 201, body = PaymentMethodJson)), security(("bearer" = [])))]
pub async fn create_payment_method(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<PaymentMethodJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: PaymentMethodInput = parse_json(&body).map_err(missing_field)?;
    Ok((
        StatusCode::CREATED,
        Json((&st.store.create_payment_method(b).await?).into()),
    ))
}

#[utoipa::path(get, path = "/api/v1/carriers", tag = "masters", responses((status = 200, body = Vec<CarrierJson>)), security(("bearer" = [])))]
pub async fn list_carriers(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<CarrierJson>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(
        st.store
            .masters()
            .await?
            .carriers
            .iter()
            .map(Into::into)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/carriers", tag = "masters", responses((status = 201, body = CarrierJson)), security(("bearer" = [])))]
pub async fn create_carrier(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<CarrierJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: CarrierInput = parse_json(&body).map_err(missing_field)?;
    Ok((
        StatusCode::CREATED,
        Json((&st.store.create_carrier(b).await?).into()),
    ))
}

#[utoipa::path(get, path = "/api/v1/order-labels", tag = "masters", responses((status = 200, body = Vec<LabelJson>)), security(("bearer" = [])))]
pub async fn list_labels(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<LabelJson>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(
        st.store
            .masters()
            .await?
            .labels
            .iter()
            .map(Into::into)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/order-labels", tag = "masters", responses((status = 201, body = LabelJson)), security(("bearer" = [])))]
pub async fn create_label(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<LabelJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: LabelInput = parse_json(&body).map_err(missing_field)?;
    Ok((
        StatusCode::CREATED,
        Json((&st.store.create_label(b).await?).into()),
    ))
}

#[utoipa::path(put, path = "/api/v1/products/{code}", tag = "masters", params(("code" = String, Path)), request_body = ProductBody,
    responses((status = 200, body = ProductJson), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// Replaces a product's data (the code in the body may rename it). Existing
/// orders keep what they were sold at.
pub async fn put_product(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Json<ProductJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: ProductBody = parse_json(&body).map_err(missing_field)?;
    let id = st.store.product_by_code(&code).await?.id;
    let p = st
        .store
        .update_product(
            id,
            ProductInput {
                code: b.code,
                name: b.name,
                unit_price: b.unit_price,
                tax_rate: b.tax_rate,
                shipping_fee: b.shipping_fee,
                payment_fee: b.payment_fee,
                is_bundled_item: b.is_bundled_item,
                is_subscription: b.is_subscription,
            },
        )
        .await?;
    Ok(Json((&p).into()))
}

#[utoipa::path(put, path = "/api/v1/handling-statuses/{id}", tag = "masters", params(("id" = i64, Path)), request_body = HandlingStatusBody,
    responses((status = 200, body = HandlingStatusJson), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// Replaces a handling status (name, position, colour, default). Making it the
/// default unsets the previous one; the default cannot be unset directly.
pub async fn put_handling_status(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<HandlingStatusJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: HandlingStatusBody = parse_json(&body).map_err(missing_field)?;
    let s = st
        .store
        .update_handling_status(
            id,
            HandlingStatusInput {
                name: b.name,
                position: b.position,
                color: b.color.unwrap_or_else(|| "#337ab7".into()),
                is_default: b.is_default,
            },
        )
        .await?;
    Ok(Json((&s).into()))
}

#[utoipa::path(put, path = "/api/v1/payment-methods/{id}", tag = "masters", params(("id" = i64, Path)),
    responses((status = 200, body = PaymentMethodJson), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn put_payment_method(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<PaymentMethodJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: PaymentMethodInput = parse_json(&body).map_err(missing_field)?;
    Ok(Json((&st.store.update_payment_method(id, b).await?).into()))
}

#[utoipa::path(put, path = "/api/v1/carriers/{id}", tag = "masters", params(("id" = i64, Path)),
    responses((status = 200, body = CarrierJson), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn put_carrier(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<CarrierJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: CarrierInput = parse_json(&body).map_err(missing_field)?;
    Ok(Json((&st.store.update_carrier(id, b).await?).into()))
}

#[utoipa::path(put, path = "/api/v1/order-labels/{id}", tag = "masters", params(("id" = i64, Path)),
    responses((status = 200, body = LabelJson), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn put_label(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<LabelJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: LabelInput = parse_json(&body).map_err(missing_field)?;
    Ok(Json((&st.store.update_label(id, b).await?).into()))
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenBody {
    pub name: String,
    /// owner, manager, operator or viewer.
    pub role: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ApiTokenJson {
    pub id: i64,
    pub name: String,
    pub role: String,
    /// The secret, shown only in this response.
    pub token: String,
}

/// Creates an API token (owners only). The secret is returned once.
#[utoipa::path(post, path = "/api/v1/api-tokens", tag = "access", request_body = ApiTokenBody,
    responses((status = 201, body = ApiTokenJson), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_api_token(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<ApiTokenJson>), ApiError> {
    caller.require(Permission::ManageStaff)?;
    let b: ApiTokenBody = parse_json(&body).map_err(missing_field)?;
    let role = juchu_domain::access::Role::parse(&b.role).ok_or_else(|| {
        ApiError::invalid(FieldErrors::single(
            "role",
            "invalid_role",
            "role は owner / manager / operator / viewer のいずれかです",
        ))
    })?;
    let (secret, t) = st.store.create_api_token(&b.name, role).await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiTokenJson {
            id: t.id,
            name: t.name,
            role: t.role.code().into(),
            token: secret,
        }),
    ))
}
