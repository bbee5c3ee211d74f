//! `/api/v1/mail-templates` (メールテンプレート) and an order's queued mails.

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use juchu_domain::access::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailTemplateJson {
    /// Used by rules: `{"kind": "send_mail", "template": "<code>"}`.
    pub code: String,
    pub name: String,
    pub subject: String,
    pub body: String,
    /// Variables the subject and body may use (`{{ order_number }}` …).
    pub variables: Vec<String>,
}

impl From<&juchu_domain::mail::MailTemplate> for MailTemplateJson {
    fn from(t: &juchu_domain::mail::MailTemplate) -> Self {
        MailTemplateJson {
            code: t.code.clone(),
            name: t.name.clone(),
            subject: t.subject.clone(),
            body: t.body.clone(),
            variables: juchu_domain::mail::VARIABLES
                .iter()
                .map(|v| v.to_string())
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailTemplateBody {
    pub subject: String,
    pub body: String,
}

#[utoipa::path(get, path = "/api/v1/mail-templates", tag = "mail",
    responses((status = 200, body = Vec<MailTemplateJson>)), security(("bearer" = [])))]
pub async fn list_templates(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<MailTemplateJson>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(
        st.store
            .mail_templates()
            .await?
            .iter()
            .map(Into::into)
            .collect(),
    ))
}

#[utoipa::path(put, path = "/api/v1/mail-templates/{code}", tag = "mail", params(("code" = String, Path)),
    request_body = MailTemplateBody,
    responses((status = 200, body = MailTemplateJson), (status = 404, body = crate::error::ErrorBody),
        (status = 422, description = "the template does not render (unknown variable, syntax)", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_template(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Json<MailTemplateJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: MailTemplateBody = parse_json(&body)?;
    let t = st
        .store
        .update_mail_template(&code, &b.subject, &b.body)
        .await?;
    Ok(Json((&t).into()))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueuedMailJson {
    pub id: i64,
    pub template_code: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// pending / sending (claimed by a worker) / sent / failed / skipped (not
    /// sent: opted out, no address — the reason is in `last_error`)
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
}

#[utoipa::path(get, path = "/api/v1/orders/{order_number}/mails", tag = "mail", params(("order_number" = String, Path)),
    responses((status = 200, body = Vec<QueuedMailJson>), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
/// Mails rules queued for an order, with their delivery state.
pub async fn order_mails(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<Vec<QueuedMailJson>>, ApiError> {
    caller.require(Permission::Read)?;
    let o = st.store.order_by_number(&number).await?;
    Ok(Json(
        st.store
            .order_mails(o.id)
            .await?
            .into_iter()
            .map(|m| QueuedMailJson {
                id: m.id,
                template_code: m.template_code,
                to: m.to,
                subject: m.subject,
                body: m.body,
                status: m.status,
                attempts: m.attempts,
                last_error: m.last_error,
            })
            .collect(),
    ))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// The order whose data fills the template.
    pub order_number: String,
    /// An edited subject and body not saved yet (both, or neither).
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewJson {
    pub subject: String,
    pub body: String,
}

#[utoipa::path(post, path = "/api/v1/mail-templates/{code}/preview", tag = "mail", params(("code" = String, Path)),
    request_body = PreviewBody,
    responses((status = 200, body = PreviewJson), (status = 404, body = crate::error::ErrorBody),
        (status = 422, description = "the template does not render", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// The mail as a real order would receive it.
pub async fn preview(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Json<PreviewJson>, ApiError> {
    caller.require(Permission::Read)?;
    let b: PreviewBody = parse_json(&body)?;
    let edited = match (&b.subject, &b.body) {
        (Some(s), Some(t)) => Some((s.as_str(), t.as_str())),
        (None, None) => None,
        _ => {
            return Err(ApiError::invalid(juchu_domain::FieldErrors::single(
                "subject",
                "required",
                "subject と body は両方指定してください",
            )));
        }
    };
    let (subject, body) = st
        .store
        .preview_mail(&code, &b.order_number, edited)
        .await?;
    Ok(Json(PreviewJson { subject, body }))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopSettingsJson {
    /// ショップ名 (in subjects and signatures).
    pub name: String,
    /// The shop's address: receives its copy of 注文受付メール ("" for none).
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub address: String,
    /// 適格請求書発行事業者の登録番号: `T` and 13 digits, printed on 請求書 and
    /// 領収書 (PDF一括出力 needs it for those).
    #[serde(default)]
    pub registration_number: String,
    /// 振込先, printed on 請求書 and put in 入金案内 (`bank_account` variable).
    #[serde(default)]
    pub bank_account: String,
    /// 支払期限 in days after the order date (0: none; `payment_due_date` variable).
    #[serde(default)]
    pub payment_due_days: i64,
}

impl From<juchu_domain::mail::ShopInfo> for ShopSettingsJson {
    fn from(s: juchu_domain::mail::ShopInfo) -> Self {
        ShopSettingsJson {
            name: s.name,
            email: s.email,
            phone: s.phone,
            address: s.address,
            registration_number: s.registration_number,
            bank_account: s.bank_account,
            payment_due_days: s.payment_due_days,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/shop-settings", tag = "mail",
    responses((status = 200, body = ShopSettingsJson)), security(("bearer" = [])))]
pub async fn get_shop_settings(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<ShopSettingsJson>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(st.store.shop_settings().await?.into()))
}

#[utoipa::path(put, path = "/api/v1/shop-settings", tag = "mail", request_body = ShopSettingsJson,
    responses((status = 200, body = ShopSettingsJson), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// ショップ情報 used in mails.
pub async fn put_shop_settings(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<Json<ShopSettingsJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: ShopSettingsJson = parse_json(&body)?;
    let saved = st
        .store
        .update_shop_settings(&juchu_domain::mail::ShopInfo {
            name: b.name,
            email: b.email,
            phone: b.phone,
            address: b.address,
            registration_number: b.registration_number,
            bank_account: b.bank_account,
            payment_due_days: b.payment_due_days,
        })
        .await?;
    Ok(Json(saved.into()))
}

#[utoipa::path(put, path = "/api/v1/shop-settings/logo", tag = "mail",
    request_body(description = "PNG or JPEG, at most 512 KB", content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"))),
    responses((status = 204), (status = 422, description = "not a PNG or JPEG, or too large", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// The shop's logo, printed on 帳票 (PDF一括出力).
pub async fn put_shop_logo(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<axum::http::StatusCode, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store.set_shop_logo(&body).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/shop-settings/logo", tag = "mail",
    responses((status = 200, description = "the image", content_type = "image/png"), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_shop_logo(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    caller.require(Permission::Read)?;
    match st.store.shop_logo().await? {
        Some((content_type, bytes)) => {
            Ok(([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response())
        }
        None => Err(juchu_store::StoreError::NotFound("ロゴ").into()),
    }
}

#[utoipa::path(delete, path = "/api/v1/shop-settings/logo", tag = "mail",
    responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_shop_logo(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<axum::http::StatusCode, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store.delete_shop_logo().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
