//! Staff members and API tokens over the JSON API (owners only).

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::missing_field;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenBody {
    pub name: String,
    /// owner, manager, operator or viewer.
    pub role: String,
    /// Last day the token works (Japan time), `YYYY-MM-DD`; absent: no expiry.
    #[serde(default)]
    pub expires_on: Option<String>,
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
    responses((status = 201, body = ApiTokenJson), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
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
    let expires = match b.expires_on.as_deref() {
        None | Some("") => None,
        Some(d) => Some(d.parse().map_err(|_| {
            ApiError::invalid(FieldErrors::single(
                "expires_on",
                "invalid_date",
                "expires_on は YYYY-MM-DD の日付です",
            ))
        })?),
    };
    let (secret, t) = st
        .store
        .create_api_token_until(&b.name, role, expires)
        .await?;
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

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ApiTokenInfoJson {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

/// Every API token (never the secrets), newest first.
#[utoipa::path(get, path = "/api/v1/api-tokens", tag = "access",
    responses((status = 200, body = [ApiTokenInfoJson]), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_api_tokens(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<ApiTokenInfoJson>>, ApiError> {
    caller.require(Permission::ManageStaff)?;
    Ok(Json(
        st.store
            .list_api_tokens()
            .await?
            .into_iter()
            .map(|t| ApiTokenInfoJson {
                id: t.id,
                name: t.name,
                role: t.role.code().into(),
                created_at: t.created_at,
                expires_at: t.expires_at,
                last_used_at: t.last_used_at,
                revoked: t.revoked,
            })
            .collect(),
    ))
}

/// Revokes a token; the next request with it gets 401.
#[utoipa::path(delete, path = "/api/v1/api-tokens/{id}", tag = "access",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_api_token(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::ManageStaff)?;
    st.store.revoke_api_token(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct StaffJson {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// owner, manager, operator or viewer.
    pub role: String,
    pub disabled: bool,
    pub created_at: String,
}

impl From<juchu_store::staff::StaffMember> for StaffJson {
    fn from(m: juchu_store::staff::StaffMember) -> Self {
        StaffJson {
            id: m.id,
            email: m.email,
            name: m.name,
            role: m.role.code().into(),
            disabled: m.disabled,
            created_at: m.created_at,
        }
    }
}

/// Every staff member.
#[utoipa::path(get, path = "/api/v1/staff", tag = "access",
    responses((status = 200, body = [StaffJson]), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_staff(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<StaffJson>>, ApiError> {
    caller.require(Permission::ManageStaff)?;
    Ok(Json(
        st.store
            .list_staff()
            .await?
            .into_iter()
            .map(StaffJson::from)
            .collect(),
    ))
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaffBody {
    pub email: String,
    #[serde(default)]
    pub name: String,
    pub role: String,
    /// At least 8 characters; absent: one is made and returned once.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct NewStaffJson {
    #[serde(flatten)]
    pub staff: StaffJson,
    /// The password made for the member (only when none was given), shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

fn parse_role(s: &str) -> Result<juchu_domain::access::Role, ApiError> {
    juchu_domain::access::Role::parse(s).ok_or_else(|| {
        ApiError::invalid(FieldErrors::single(
            "role",
            "invalid_role",
            "role は owner / manager / operator / viewer のいずれかです",
        ))
    })
}

/// Adds a staff member.
#[utoipa::path(post, path = "/api/v1/staff", tag = "access", request_body = NewStaffBody,
    responses((status = 201, body = NewStaffJson), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_staff(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<NewStaffJson>), ApiError> {
    caller.require(Permission::ManageStaff)?;
    let b: NewStaffBody = parse_json(&body).map_err(missing_field)?;
    let role = parse_role(&b.role)?;
    let made = b.password.is_none();
    let password = b.password.unwrap_or_else(|| {
        juchu_store::staff::random_token("")
            .chars()
            .take(16)
            .collect()
    });
    let u = st
        .store
        .create_staff(&b.email, &b.name, &password, role)
        .await?;
    let m = st.store.staff_member(u.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewStaffJson {
            staff: m.into(),
            password: made.then_some(password),
        }),
    ))
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffPatchBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    /// true: the member cannot log in and every session of theirs ends.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// Changes a member's name, role or 無効. The last enabled owner cannot be
/// demoted or disabled (409).
#[utoipa::path(patch, path = "/api/v1/staff/{id}", tag = "access", request_body = StaffPatchBody,
    params(("id" = i64, Path)),
    responses((status = 200, body = StaffJson), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_staff(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<StaffJson>, ApiError> {
    caller.require(Permission::ManageStaff)?;
    let b: StaffPatchBody = parse_json(&body)?;
    let role = b.role.as_deref().map(parse_role).transpose()?;
    let m = st
        .store
        .update_staff(
            id,
            &juchu_store::staff::StaffPatch {
                name: b.name,
                role,
                disabled: b.disabled,
            },
        )
        .await?;
    Ok(Json(m.into()))
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PasswordResetJson {
    /// The new password, shown once; every session of the member has ended.
    pub password: String,
}

/// Gives a member a new random password (returned once) and ends their sessions.
#[utoipa::path(post, path = "/api/v1/staff/{id}/password-reset", tag = "access",
    params(("id" = i64, Path)),
    responses((status = 200, body = PasswordResetJson), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn reset_staff_password(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<PasswordResetJson>, ApiError> {
    caller.require(Permission::ManageStaff)?;
    let password: String = juchu_store::staff::random_token("")
        .chars()
        .take(16)
        .collect();
    st.store.set_password(id, &password, None).await?;
    Ok(Json(PasswordResetJson { password }))
}
