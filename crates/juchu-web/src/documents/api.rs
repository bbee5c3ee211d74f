//! `/api/v1/document-formats` (帳票管理): the shop's layouts of 納品書, 請求書
//! and 領収書 that PDF一括出力 prints with (`params.format_id`).

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use juchu_domain::access::Permission;
use juchu_domain::document::{Addressee, DocumentFormat, DocumentKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn yes() -> bool {
    true
}

/// A document format. What a qualified invoice must print (issuer,
/// registration number, date, items with the reduced-rate mark, amounts and
/// tax per rate) cannot be left out of a 請求書 or 領収書: `show_prices: false`
/// is for 納品書 only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentFormatBody {
    pub name: String,
    /// delivery_note (納品書), invoice (請求書) or receipt (領収書).
    #[schema(value_type = String)]
    pub kind: DocumentKind,
    /// The printed title; the kind's name when empty.
    #[serde(default)]
    pub title: String,
    /// billing (請求先, default) or shipping (お届け先).
    #[serde(default)]
    #[schema(value_type = String)]
    pub addressee: Addressee,
    #[serde(default = "yes")]
    pub show_order_number: bool,
    #[serde(default = "yes")]
    pub show_ordered_on: bool,
    #[serde(default = "yes")]
    pub show_product_code: bool,
    /// Unit prices, amounts, totals and tax (納品書 may leave them out).
    #[serde(default = "yes")]
    pub show_prices: bool,
    #[serde(default = "yes")]
    pub show_payment_method: bool,
    /// 配送業者, 配送予定日, 配送時間帯 and 配送伝票番号 (default false).
    #[serde(default)]
    pub show_delivery: bool,
    /// The shop's logo (ショップ情報).
    #[serde(default = "yes")]
    pub show_logo: bool,
    /// 但し書き, 領収書 only (「お品代として」).
    #[serde(default)]
    pub proviso: String,
    /// Printed under the amounts, up to 1,000 characters.
    #[serde(default)]
    pub message: String,
}

/// A 帳票 format as stored: the body's fields and its id, spelled out (a
/// flattened body that refuses unknown fields would refuse `id` in the
/// OpenAPI document).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentFormatJson {
    pub id: i64,
    pub name: String,
    /// delivery_note (納品書), invoice (請求書) or receipt (領収書).
    #[schema(value_type = String)]
    pub kind: DocumentKind,
    /// The printed title; the kind's name when empty.
    pub title: String,
    /// billing (請求先, default) or shipping (お届け先).
    #[schema(value_type = String)]
    pub addressee: Addressee,
    pub show_order_number: bool,
    pub show_ordered_on: bool,
    pub show_product_code: bool,
    /// Unit prices, amounts, totals and tax (納品書 may leave them out).
    pub show_prices: bool,
    pub show_payment_method: bool,
    /// 配送業者, 配送予定日, 配送時間帯 and 配送伝票番号 (default false).
    pub show_delivery: bool,
    /// The shop's logo (ショップ情報).
    pub show_logo: bool,
    /// 但し書き, 領収書 only (「お品代として」).
    pub proviso: String,
    /// Printed under the amounts, up to 1,000 characters.
    pub message: String,
}

fn format_json(f: DocumentFormat) -> DocumentFormatJson {
    DocumentFormatJson {
        id: f.id,
        name: f.name,
        kind: f.kind,
        title: f.title,
        addressee: f.addressee,
        show_order_number: f.show_order_number,
        show_ordered_on: f.show_ordered_on,
        show_product_code: f.show_product_code,
        show_prices: f.show_prices,
        show_payment_method: f.show_payment_method,
        show_delivery: f.show_delivery,
        show_logo: f.show_logo,
        proviso: f.proviso,
        message: f.message,
    }
}

pub(crate) fn body_format(id: i64, b: DocumentFormatBody) -> DocumentFormat {
    DocumentFormat {
        id,
        name: b.name,
        kind: b.kind,
        title: b.title,
        addressee: b.addressee,
        show_order_number: b.show_order_number,
        show_ordered_on: b.show_ordered_on,
        show_product_code: b.show_product_code,
        show_prices: b.show_prices,
        show_payment_method: b.show_payment_method,
        show_delivery: b.show_delivery,
        show_logo: b.show_logo,
        proviso: b.proviso,
        message: b.message,
    }
}

#[utoipa::path(get, path = "/api/v1/document-formats", tag = "jobs",
    responses((status = 200, body = Vec<DocumentFormatJson>)), security(("bearer" = [])))]
pub async fn list_document_formats(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<DocumentFormatJson>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(
        st.store
            .document_formats()
            .await?
            .into_iter()
            .map(format_json)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/document-formats", tag = "jobs", request_body = DocumentFormatBody,
    responses((status = 201, body = DocumentFormatJson),
        (status = 422, description = "no name, too long a text, or a 請求書 / 領収書 without prices", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_document_format(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<DocumentFormatJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: DocumentFormatBody = parse_json(&body)?;
    let saved = st.store.add_document_format(&body_format(0, b)).await?;
    Ok((StatusCode::CREATED, Json(format_json(saved))))
}

#[utoipa::path(put, path = "/api/v1/document-formats/{id}", tag = "jobs", params(("id" = i64, Path)),
    request_body = DocumentFormatBody,
    responses((status = 200, body = DocumentFormatJson), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_document_format(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<DocumentFormatJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: DocumentFormatBody = parse_json(&body)?;
    let saved = st.store.update_document_format(&body_format(id, b)).await?;
    Ok(Json(format_json(saved)))
}

#[utoipa::path(delete, path = "/api/v1/document-formats/{id}", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn delete_document_format(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store.delete_document_format(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
