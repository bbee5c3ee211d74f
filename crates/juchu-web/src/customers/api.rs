//! 顧客 over the JSON API.

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
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::customer::CustomerInput;
use juchu_store::customers::CustomerQuery;
use std::collections::HashMap;

/// One page of customers.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CustomerListJson {
    pub items: Vec<CustomerJson>,
    pub total: i64,
    /// With `after` or `updated_since`: the `after` of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/customers", tag = "customers",
    params(("name" = Option<String>, Query), ("phone" = Option<String>, Query), ("email" = Option<String>, Query),
        ("blacklisted" = Option<bool>, Query, description = "true: only ブラックリスト customers"),
        ("page" = Option<i64>, Query), ("per_page" = Option<i64>, Query),
        ("after" = Option<String>, Query, description = "keyset paging: the next_after of the previous page (id order; with updated_since: updated_at, id)"),
        ("updated_since" = Option<String>, Query, description = "RFC 3339: only customers changed at or after it, oldest change first")),
    responses((status = 200, body = CustomerListJson)), security(("bearer" = [])))]
pub async fn list_customers(
    caller: ApiCaller,
    State(st): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<CustomerListJson>, ApiError> {
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
    if let Some(p) = params.get("phone")
        && !p.trim().is_empty()
        && juchu_domain::normalize::phone_key(p).is_empty()
    {
        return Err(ApiError::invalid(FieldErrors::single(
            "phone",
            "invalid_phone",
            format!("phone「{p}」に数字がありません（電話番号で検索してください）"),
        )));
    }
    let mut errors = FieldErrors::default();
    let keyset = crate::query::keyset_of(&params, &mut errors);
    errors.into_result().map_err(ApiError::invalid)?;
    let q = CustomerQuery {
        name: params.get("name").cloned(),
        phone: params.get("phone").cloned(),
        email: params.get("email").cloned(),
        blacklisted,
        keyset,
    };
    let page = st.store.list_customers(&q, limit, offset).await?;
    Ok(Json(CustomerListJson {
        items: page.customers.iter().map(Into::into).collect(),
        total: page.total,
        next_after: page.next_after,
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

/// Partial update: send only the fields to change.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatchBody {
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub family_kana: Option<String>,
    pub given_kana: Option<String>,
    pub company_name: Option<String>,
    pub department: Option<String>,
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
        &b.company_name,
        &b.department,
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
    set(&mut a.company_name, b.company_name);
    set(&mut a.department, b.department);
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
