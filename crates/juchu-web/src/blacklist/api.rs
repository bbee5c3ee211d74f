//! `/api/v1/blacklist-conditions` (ブラックリスト条件管理) and
//! `/api/v1/blacklist-reasons` (the ブラックリスト理由 master).

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use juchu_domain::access::Permission;
use juchu_domain::blacklist::{BlacklistCondition, Clause};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlacklistConditionJson {
    pub id: i64,
    /// Shown as the match reason on flagged orders.
    pub name: String,
    pub enabled: bool,
    /// All must hold: `[{"field": "billing_phone", "op": "equals", "value": "090-1234-5678"},
    /// {"field": "billing_email", "op": "email_domain", "value": "example.jp"},
    /// {"field": "billing_address", "op": "contains" | "starts_with", "value": "…"},
    /// {"field": "payment_method", "value": "代金引換"}]`. Fields: billing_name,
    /// billing_kana, billing_email, billing_phone, billing_postal_code, billing_address,
    /// shipping_name, shipping_phone, shipping_postal_code, shipping_address,
    /// payment_method. Values are compared after normalisation (全角/半角, spaces,
    /// hyphens, +81).
    #[schema(value_type = Vec<Object>)]
    pub clauses: Vec<Clause>,
}

impl From<&BlacklistCondition> for BlacklistConditionJson {
    fn from(c: &BlacklistCondition) -> Self {
        BlacklistConditionJson {
            id: c.id,
            name: c.name.clone(),
            enabled: c.enabled,
            clauses: c.clauses.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlacklistConditionBody {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[schema(value_type = Vec<Object>)]
    pub clauses: Vec<Clause>,
}

fn yes() -> bool {
    true
}

impl BlacklistConditionBody {
    fn into_condition(self, id: i64) -> BlacklistCondition {
        BlacklistCondition {
            id,
            name: self.name,
            enabled: self.enabled,
            clauses: self.clauses,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/blacklist-conditions", tag = "blacklist",
    responses((status = 200, body = Vec<BlacklistConditionJson>)), security(("bearer" = [])))]
pub async fn list_conditions(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<BlacklistConditionJson>>, ApiError> {
    caller.require(Permission::Read)?;
    let list = st.store.blacklist_conditions().await?;
    Ok(Json(list.iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/blacklist-conditions", tag = "blacklist", request_body = BlacklistConditionBody,
    responses((status = 201, body = BlacklistConditionJson),
        (status = 422, description = "no clauses, an empty value, an operator the field does not take, an unknown field", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_condition(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<BlacklistConditionJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: BlacklistConditionBody = parse_json(&body)?;
    let saved = st
        .store
        .add_blacklist_condition(&b.into_condition(0))
        .await?;
    Ok((StatusCode::CREATED, Json((&saved).into())))
}

#[utoipa::path(put, path = "/api/v1/blacklist-conditions/{id}", tag = "blacklist", params(("id" = i64, Path)),
    request_body = BlacklistConditionBody,
    responses((status = 200, body = BlacklistConditionJson), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_condition(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<BlacklistConditionJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: BlacklistConditionBody = parse_json(&body)?;
    let c = b.into_condition(id);
    st.store.update_blacklist_condition(&c).await?;
    Ok(Json((&c).into()))
}

#[utoipa::path(delete, path = "/api/v1/blacklist-conditions/{id}", tag = "blacklist", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn delete_condition(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store.delete_blacklist_condition(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescanBody {
    /// Orders of the last N days (1–3660) are checked.
    pub days: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RescanJson {
    /// Orders looked at (not 要対応 yet).
    pub checked: usize,
    /// Order numbers flagged now.
    pub flagged: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/blacklist/rescan", tag = "blacklist", request_body = RescanBody,
    responses((status = 200, body = RescanJson), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// Checks existing orders against the blacklist as it is now (orders placed
/// before a customer was blacklisted) and flags those that match.
pub async fn rescan(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<Json<RescanJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: RescanBody = parse_json(&body)?;
    let r = st.store.rescan_blacklist(b.days, &caller.actor).await?;
    Ok(Json(RescanJson {
        checked: r.checked,
        flagged: r.flagged,
    }))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlacklistReasonJson {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlacklistReasonBody {
    /// 1–100 characters, unique.
    pub name: String,
}

#[utoipa::path(get, path = "/api/v1/blacklist-reasons", tag = "blacklist",
    responses((status = 200, body = Vec<BlacklistReasonJson>)), security(("bearer" = [])))]
/// The ブラックリスト理由 master: the reasons offered when blacklisting a
/// customer (`blacklist_reason` may still be any text).
pub async fn list_reasons(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<BlacklistReasonJson>>, ApiError> {
    caller.require(Permission::Read)?;
    let list = st.store.blacklist_reasons().await?;
    Ok(Json(
        list.into_iter()
            .map(|r| BlacklistReasonJson {
                id: r.id,
                name: r.name,
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/blacklist-reasons", tag = "blacklist", request_body = BlacklistReasonBody,
    responses((status = 201, body = BlacklistReasonJson),
        (status = 422, description = "empty, longer than 100 characters, or already there", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_reason(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<BlacklistReasonJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: BlacklistReasonBody = parse_json(&body)?;
    let r = st.store.add_blacklist_reason(&b.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(BlacklistReasonJson {
            id: r.id,
            name: r.name,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/v1/blacklist-reasons/{id}", tag = "blacklist", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
/// Removes a reason from the master; customers keep the text they were listed with.
pub async fn delete_reason(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store.delete_blacklist_reason(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
