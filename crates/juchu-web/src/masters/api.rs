//! Masters over the JSON API: 商品, 対応状況, 支払方法, 配送業者, 受注ラベル.

use crate::AppState;
use crate::auth::ApiCaller;
use crate::dto::*;
use crate::error::missing_field;
use crate::error::{ApiError, parse_json};
use crate::query::paging;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use juchu_domain::access::Permission;
use juchu_store::masters::{
    CarrierInput, HandlingStatusInput, LabelInput, PaymentMethodInput, ProductInput,
};
use std::collections::HashMap;

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
