//! 在庫 over the JSON API.

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use juchu_domain::access::Permission;

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct StockJson {
    pub product_code: String,
    pub product_name: String,
    /// 在庫数: received minus shipped.
    pub on_hand: i64,
    /// 引当数: items of confirmed orders not shipped yet.
    pub allocated: i64,
    /// 引当可能数 = on_hand − allocated (negative: short).
    pub available: i64,
    /// 欠品: items short over every order, first come first served.
    pub short: i64,
    pub short_orders: i64,
}

/// Every product under stock control.
#[utoipa::path(get, path = "/api/v1/stock", tag = "stock",
    responses((status = 200, body = [StockJson])), security(("bearer" = [])))]
pub async fn list_stock(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<StockJson>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(
        st.store
            .stock_levels()
            .await?
            .into_iter()
            .map(|l| StockJson {
                product_code: l.code,
                product_name: l.name,
                on_hand: l.on_hand,
                allocated: l.allocated,
                available: l.available,
                short: l.short,
                short_orders: l.short_orders,
            })
            .collect(),
    ))
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockBody {
    /// 在庫数 counted now; `null` takes the product out of stock control.
    pub on_hand: Option<i64>,
}

/// Sets 在庫数 after a count (the product comes under stock control).
#[utoipa::path(put, path = "/api/v1/stock/{product_code}", tag = "stock", request_body = StockBody,
    params(("product_code" = String, Path)),
    responses((status = 204)), security(("bearer" = [])))]
pub async fn put_stock(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<axum::http::StatusCode, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: StockBody = parse_json(&body)?;
    st.store.set_stock(&code, b.on_hand).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
