//! API tokens over the JSON API.

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::missing_field;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;

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
