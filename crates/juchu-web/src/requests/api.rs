//! 申請 over the API: intake (staff and programs, an external form tool's
//! signed webhook, a LIFF app's LINE ID token), reading requests, forms
//! (フォーム管理), signed links and a customer's case file.

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::request::{Answer, Channel, Offer, Question, RequestForm, RequestStatus};
use juchu_store::Actor;
use juchu_store::requests::{NewRequest, Request, RequestQuery};

/// A request as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RequestJson {
    pub id: i64,
    pub customer_id: i64,
    pub subscription_id: Option<i64>,
    pub form_id: Option<i64>,
    /// 申請種別 (col_1).
    #[serde(rename = "type")]
    pub request_type: String,
    /// 未対応, 対応中, 対応完了, 対応不可, エラー, 条件未設定.
    pub status: String,
    /// The same as a code: open, in_progress, completed, refused, error, no_rule.
    pub status_code: String,
    /// Why 対応不可 or エラー (empty otherwise).
    pub status_reason: String,
    /// mypage, link, api, webhook, line.
    pub channel: String,
    pub received_at: String,
    /// In display order (col_1, col_2, col_4, col_5, col_6, pause_col_6, col_7 …).
    pub answers: Vec<Answer>,
    /// The 解約抑止 offer accepted instead of a cancellation.
    pub offer: Option<String>,
    pub tags: Vec<String>,
    /// 担当オペレーター (staff id).
    pub operator_id: Option<i64>,
    pub memo: String,
    /// 対応完了日時 (completed, refused or failed).
    pub completed_at: Option<String>,
    /// auto (a rule), manual, or empty.
    pub handled_by: String,
    /// The automation rule that acted.
    pub rule_id: Option<i64>,
    /// col_4 as sent.
    pub product: String,
}

impl From<Request> for RequestJson {
    fn from(r: Request) -> Self {
        RequestJson {
            id: r.id,
            customer_id: r.customer_id,
            subscription_id: r.subscription_id,
            form_id: r.form_id,
            request_type: r.request_type,
            status: r.status.label().into(),
            status_code: r.status.code().into(),
            status_reason: r.status_reason,
            channel: r.channel.code().into(),
            received_at: r.received_at,
            answers: r.answers,
            offer: r.offer.map(|o| o.code().to_string()),
            tags: r.tags,
            operator_id: r.operator_id,
            memo: r.memo,
            completed_at: r.completed_at,
            handled_by: r.handled_by,
            rule_id: r.rule_id,
            product: r.product,
        }
    }
}

/// A request sent as JSON. `fields` holds the form's answers by name
/// (`col_1` 申請種別, `col_2` 休止期間, `col_3` サイクル変更期間, `col_4` 商品
/// (required), `col_5` 満足度, `col_6`…`col_50`, `cancell_col_N` /
/// `pause_col_N` / `cycle_col_N` for N = 6…50).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    pub customer_id: i64,
    pub subscription_id: Option<i64>,
    /// The form it was filled in on: its questions are checked.
    #[serde(default)]
    pub form_id: Option<i64>,
    /// mypage, link, api (default), webhook, line.
    #[serde(default)]
    pub channel: Option<String>,
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Idempotency: the same token posted twice is one request.
    #[serde(default)]
    pub form_token: Option<String>,
}

/// The same as form fields (`application/x-www-form-urlencoded`).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct RequestFormBody {
    pub customer_id: i64,
    pub subscription_id: Option<i64>,
    pub col_1: Option<String>,
    pub col_4: String,
}

fn field_values(
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::with_capacity(fields.len());
    let mut e = FieldErrors::default();
    for (k, v) in fields {
        match v {
            serde_json::Value::String(s) => out.push((k.clone(), s.clone())),
            serde_json::Value::Number(n) => out.push((k.clone(), n.to_string())),
            serde_json::Value::Null => out.push((k.clone(), String::new())),
            _ => e.add(
                format!("fields.{k}"),
                "invalid_type",
                format!("fields.{k} は文字列で指定してください"),
            ),
        }
    }
    e.into_result().map_err(ApiError::invalid)?;
    Ok(out)
}

fn parse_channel(raw: Option<&str>) -> Result<Option<Channel>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(c) => Channel::parse(c).map(Some).ok_or_else(|| {
            ApiError::invalid(FieldErrors::single(
                "channel",
                "invalid_channel",
                "channel は mypage / link / api / webhook / line のいずれかです",
            ))
        }),
    }
}

fn required_id(pairs: &[(String, String)], name: &str) -> Result<Option<i64>, ApiError> {
    match pairs.iter().rev().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) if v.trim().is_empty() => Ok(None),
        Some((_, v)) => v.trim().parse().map(Some).map_err(|_| {
            ApiError::invalid(FieldErrors::single(
                name,
                "invalid_id",
                format!("{name} は数字で指定してください（「{v}」）"),
            ))
        }),
    }
}

/// Reads a request body: JSON, or form fields with the same names.
fn read_request(headers: &HeaderMap, body: &[u8]) -> Result<NewRequest, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form {
        let b: RequestBody = parse_json(body)?;
        return Ok(NewRequest {
            customer_id: b.customer_id,
            subscription_id: b.subscription_id,
            form_id: b.form_id,
            channel: parse_channel(b.channel.as_deref())?,
            fields: field_values(&b.fields)?,
            form_token: b.form_token.filter(|t| !t.trim().is_empty()),
            offer: None,
        });
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_form",
            format!("フォームの形式が正しくありません: {e}"),
            None,
        )
    })?;
    let meta = [
        "customer_id",
        "subscription_id",
        "form_id",
        "channel",
        "form_token",
    ];
    let customer_id = required_id(&pairs, "customer_id")?.ok_or_else(|| {
        ApiError::invalid(FieldErrors::single(
            "customer_id",
            "required",
            "customer_id を指定してください",
        ))
    })?;
    let text = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    Ok(NewRequest {
        customer_id,
        subscription_id: required_id(&pairs, "subscription_id")?,
        form_id: required_id(&pairs, "form_id")?,
        channel: parse_channel(text("channel").as_deref())?,
        form_token: text("form_token"),
        fields: pairs
            .iter()
            .filter(|(k, _)| !meta.contains(&k.as_str()))
            .cloned()
            .collect(),
        offer: None,
    })
}

/// 201 with a new request; 200 with the one its form token already made.
fn answer((r, created): (Request, bool)) -> (StatusCode, Json<RequestJson>) {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(r.into()))
}

/// Receives a request (申請) from staff or a program. The answers are kept
/// as the seed's scheme says; a form token seen before returns its request
/// (200) instead of storing another.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests",
    request_body(content((RequestBody = "application/json"), (RequestFormBody = "application/x-www-form-urlencoded"))),
    responses((status = 201, body = RequestJson), (status = 200, description = "The request this form token already made", body = RequestJson),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 409, description = "The form token was used by another customer's request", body = crate::error::ErrorBody),
        (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_request(
    caller: ApiCaller,
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<RequestJson>), ApiError> {
    caller.require(Permission::WriteOrders)?;
    let new = read_request(&headers, &body)?;
    let received = st.store.receive_request(&new, &caller.actor).await?;
    Ok(answer(received))
}

#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestListQuery {
    pub customer_id: Option<i64>,
    pub subscription_id: Option<i64>,
    /// open, in_progress, completed, refused, error, no_rule (or the Japanese label).
    pub status: Option<String>,
    /// 申請種別, e.g. 休止.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub request_type: Option<String>,
    /// col_4 (商品), exact.
    pub product: Option<String>,
    /// 受付日 from / to (YYYY-MM-DD, Japan, inclusive).
    pub received_from: Option<String>,
    pub received_to: Option<String>,
    /// 対応完了日 from / to (YYYY-MM-DD, Japan, inclusive).
    pub completed_from: Option<String>,
    pub completed_to: Option<String>,
    /// 担当オペレーター (staff id).
    pub operator_id: Option<i64>,
    pub tag: Option<String>,
    /// The next page: requests with an id below this one.
    pub before_id: Option<i64>,
    /// 1–500 (default 100).
    pub limit: Option<i64>,
    /// Keyset paging for integrations, oldest first: the last request's `id`
    /// (or, with `updated_since`, `<its updated_at>~<its id>`).
    pub after: Option<String>,
    /// RFC 3339: only requests changed at or after it, oldest change first.
    pub updated_since: Option<String>,
}

/// A `YYYY-MM-DD` query value, or 422 naming the parameter.
pub(crate) fn query_date(
    name: &str,
    v: Option<&str>,
) -> Result<Option<jiff::civil::Date>, ApiError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => juchu_domain::time::parse_date(s).map(Some).map_err(|m| {
            ApiError::invalid(FieldErrors::single(
                name,
                "invalid_date",
                format!("{name}: {m}"),
            ))
        }),
    }
}

/// Requests, newest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests", params(RequestListQuery),
    responses((status = 200, body = [RequestJson]), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_requests(
    caller: ApiCaller,
    State(st): State<AppState>,
    q: Result<Query<RequestListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<RequestJson>>, ApiError> {
    caller.require(Permission::Read)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text(), None))?;
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(RequestStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(FieldErrors::single(
                "status",
                "invalid_status",
                "status は open / in_progress / completed / refused / error / no_rule のいずれかです",
            ))
        })?),
    };
    let list = st
        .store
        .requests(&RequestQuery {
            customer_id: q.customer_id,
            subscription_id: q.subscription_id,
            status,
            request_type: q.request_type.filter(|t| !t.trim().is_empty()),
            product: q.product.filter(|t| !t.trim().is_empty()),
            received_from: query_date("received_from", q.received_from.as_deref())?,
            received_to: query_date("received_to", q.received_to.as_deref())?,
            completed_from: query_date("completed_from", q.completed_from.as_deref())?,
            completed_to: query_date("completed_to", q.completed_to.as_deref())?,
            operator_id: q.operator_id,
            tag: q.tag.filter(|t| !t.trim().is_empty()),
            before_id: q.before_id,
            limit: q.limit.unwrap_or(100),
            keyset: juchu_store::db::keyset::Keyset::parse(
                q.after.as_deref(),
                q.updated_since.as_deref(),
            )
            .map_err(ApiError::invalid)?,
        })
        .await?;
    Ok(Json(list.into_iter().map(RequestJson::from).collect()))
}

/// One request.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests", params(("id" = i64, Path)),
    responses((status = 200, body = RequestJson), (status = 401, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_request(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<RequestJson>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(st.store.request(id).await?.into()))
}

/// An external form tool's request: the body as `POST /api/v1/requests`
/// takes it (JSON), signed with the webhook secret (フォーム管理):
/// `X-Juchu-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.
#[utoipa::path(post, path = "/api/v1/request-webhook", tag = "requests",
    request_body(content((RequestBody = "application/json"))),
    params(("X-Juchu-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256(secret, raw body)>")),
    responses((status = 201, body = RequestJson), (status = 200, description = "The request this form token already made", body = RequestJson),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn request_webhook(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<RequestJson>), ApiError> {
    let sig = headers
        .get("x-juchu-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if sig.is_empty() || !st.store.verify_request_webhook(&body, sig).await? {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "署名（X-Juchu-Signature）が正しくありません。フォーム管理の Webhook シークレットで本文の HMAC-SHA256 を計算してください",
            None,
        ));
    }
    let mut new = read_request(&headers, &body)?;
    new.channel = Some(Channel::Webhook);
    let actor = Actor::System {
        name: "外部フォーム（Webhook）".into(),
    };
    let received = st.store.receive_request(&new, &actor).await?;
    Ok(answer(received))
}

/// A LIFF form's answers. The customer is the one linked to the ID token's
/// LINE user; a first visit links them with the signed link the form was
/// opened from.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiffBody {
    pub subscription_id: i64,
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The signed link (`/r/{link}`) the LIFF app was opened with, needed
    /// once to link the LINE account to the customer.
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub form_token: Option<String>,
}

/// A request from a LIFF app: `Authorization: Bearer <LINE ID token>`
/// (`liff.getIDToken()`), verified with LINE before anything is read.
#[utoipa::path(post, path = "/liff/forms/{form_id}", tag = "requests", params(("form_id" = i64, Path)),
    request_body(content((LiffBody = "application/json"))),
    responses((status = 201, body = RequestJson), (status = 200, description = "The request this form token already made", body = RequestJson),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn liff_request(
    State(st): State<AppState>,
    Path(form_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<RequestJson>), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "id_token_required",
                "LINE の ID トークンを Authorization: Bearer で送ってください",
                None,
            )
        })?;
    let identity = match st.line.verify_id_token(&token).await {
        Ok(i) => i,
        Err(juchu_store::requests::links::LineVerifyError::Rejected(why)) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_id_token",
                format!(
                    "LINE の ID トークンを確認できませんでした（{why}）。LINE からフォームを開き直してください"
                ),
                None,
            ));
        }
        Err(juchu_store::requests::links::LineVerifyError::Unavailable(why)) => {
            tracing::warn!(%why, "LINE verify unavailable");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "line_unavailable",
                "LINE に接続できません。しばらくしてからもう一度お試しください",
                None,
            ));
        }
    };
    let b: LiffBody = parse_json(&body)?;
    let customer_id = match st.store.customer_by_line_user(&identity.user_id).await? {
        Some(c) => c,
        None => {
            let Some(link) = b.link.as_deref().filter(|l| !l.trim().is_empty()) else {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "line_not_linked",
                    "この LINE アカウントはまだお客様情報と連携されていません。ショップから届いたリンクからフォームを開いてください",
                    None,
                ));
            };
            let claims = match st.store.verify_request_link(link).await? {
                Ok(c) => c,
                Err(p) => {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "invalid_link",
                        p.message(),
                        Some("link".into()),
                    ));
                }
            };
            st.store
                .link_line_user(claims.customer_id, &identity.user_id)
                .await?;
            claims.customer_id
        }
    };
    // Another customer's subscription is "not found", as one that does not exist.
    st.store
        .customer_subscription(customer_id, b.subscription_id)
        .await?;
    let new = NewRequest {
        customer_id,
        subscription_id: Some(b.subscription_id),
        form_id: Some(form_id),
        channel: Some(Channel::Line),
        fields: field_values(&b.fields)?,
        form_token: b.form_token.filter(|t| !t.trim().is_empty()),
        offer: None,
    };
    st.store.request_form(form_id).await?;
    let actor = Actor::Customer {
        id: customer_id,
        name: identity.name.clone(),
    };
    let received = st.store.receive_request(&new, &actor).await?;
    Ok(answer(received))
}

/// A form (フォーム管理).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RequestFormJson {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    /// In the order they are asked.
    pub questions: Vec<Question>,
    /// 解約抑止 offers shown before a cancellation: skip, pause, cycle_change, discount.
    #[serde(default)]
    pub offers: Vec<String>,
    #[serde(default)]
    pub discount_text: String,
    /// The tag a request gets when an offer was accepted.
    #[serde(default)]
    pub retention_tag: String,
}

impl From<RequestForm> for RequestFormJson {
    fn from(f: RequestForm) -> Self {
        RequestFormJson {
            id: f.id,
            name: f.name,
            questions: f.questions,
            offers: f.offers.iter().map(|o| o.code().to_string()).collect(),
            discount_text: f.discount_text,
            retention_tag: f.retention_tag,
        }
    }
}

fn form_from_json(id: i64, b: RequestFormJson) -> Result<RequestForm, ApiError> {
    let mut offers = Vec::new();
    for o in &b.offers {
        offers.push(Offer::parse(o).ok_or_else(|| {
            ApiError::invalid(FieldErrors::single(
                "offers",
                "invalid_offer",
                format!("offers の「{o}」は skip / pause / cycle_change / discount のいずれかです"),
            ))
        })?);
    }
    Ok(RequestForm {
        id,
        name: b.name,
        questions: b.questions,
        offers,
        discount_text: b.discount_text,
        retention_tag: b.retention_tag,
    })
}

/// Every form.
#[utoipa::path(get, path = "/api/v1/request-forms", tag = "requests",
    responses((status = 200, body = [RequestFormJson]), (status = 401, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_request_forms(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<RequestFormJson>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(
        st.store
            .request_forms()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates a form.
#[utoipa::path(post, path = "/api/v1/request-forms", tag = "requests", request_body = RequestFormJson,
    responses((status = 201, body = RequestFormJson), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_request_form(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<RequestFormJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: RequestFormJson = parse_json(&body)?;
    let f = st.store.save_request_form(&form_from_json(0, b)?).await?;
    Ok((StatusCode::CREATED, Json(f.into())))
}

/// Replaces a form's design.
#[utoipa::path(put, path = "/api/v1/request-forms/{id}", tag = "requests", params(("id" = i64, Path)), request_body = RequestFormJson,
    responses((status = 200, body = RequestFormJson), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_request_form(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<RequestFormJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: RequestFormJson = parse_json(&body)?;
    Ok(Json(
        st.store
            .save_request_form(&form_from_json(id, b)?)
            .await?
            .into(),
    ))
}

/// 複製: a copy of the form, named 「… のコピー」.
#[utoipa::path(post, path = "/api/v1/request-forms/{id}/copy", tag = "requests", params(("id" = i64, Path)),
    responses((status = 201, body = RequestFormJson), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn copy_request_form(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<RequestFormJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    Ok((
        StatusCode::CREATED,
        Json(st.store.copy_request_form(id).await?.into()),
    ))
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestLinkBody {
    /// The form (default: the first form).
    #[serde(default)]
    pub form_id: Option<i64>,
    /// 1–365 (default 30).
    #[serde(default)]
    pub valid_days: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RequestLinkJson {
    /// Open without signing in: the form for this customer and subscription.
    pub url: String,
    /// The signed part, for a LIFF app's `link`.
    pub link: String,
    pub form_id: i64,
}

/// A signed link to the request form for this subscription (for a mail or
/// a LINE message): whoever opens it files requests for this customer and
/// this subscription only, until it expires.
#[utoipa::path(post, path = "/api/v1/subscriptions/{id}/request-link", tag = "requests", params(("id" = i64, Path)), request_body = RequestLinkBody,
    responses((status = 201, body = RequestLinkJson), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_request_link(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<(StatusCode, Json<RequestLinkJson>), ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: RequestLinkBody = if body.is_empty() {
        RequestLinkBody {
            form_id: None,
            valid_days: None,
        }
    } else {
        parse_json(&body)?
    };
    let (url, link, form_id) = super::make_link(&st, id, b.form_id, b.valid_days).await?;
    Ok((
        StatusCode::CREATED,
        Json(RequestLinkJson { url, link, form_id }),
    ))
}

/// A customer's case file (特商法 evidence): every request and intent with
/// its time, as CSV (UTF-8 with BOM, opens in Excel).
#[utoipa::path(get, path = "/api/v1/customers/{id}/request-file", tag = "requests", params(("id" = i64, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn customer_request_file(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Read)?;
    let csv = super::case_file_csv(&st, id).await?;
    Ok(super::csv_download(
        csv,
        &format!("case-file-customer-{id}.csv"),
    ))
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct InvitationJson {
    /// Where the invitation went.
    pub email: String,
    pub message: String,
}

/// Mails the customer an invitation to マイページ: a one-time link (7 days)
/// to set a password.
#[utoipa::path(post, path = "/api/v1/customers/{id}/mypage-invitation", tag = "mypage", params(("id" = i64, Path)),
    responses((status = 202, body = InvitationJson), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn invite_customer(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<InvitationJson>), ApiError> {
    caller.require(Permission::WriteOrders)?;
    let email = st.store.invite_customer(id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(InvitationJson {
            message: format!("{email} 宛てにマイページの招待メールを送信待ちにしました"),
            email,
        }),
    ))
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct InvitationsJson {
    pub invited: usize,
    /// No address, メール設定 送信しない, or already signed up.
    pub skipped: usize,
}

/// Invites every customer with a mail address who has not signed up.
#[utoipa::path(post, path = "/api/v1/customers/mypage-invitations", tag = "mypage",
    responses((status = 202, body = InvitationsJson), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn invite_all_customers(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<(StatusCode, Json<InvitationsJson>), ApiError> {
    caller.require(Permission::ManageStaff)?;
    let r = st.store.invite_all_customers().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(InvitationsJson {
            invited: r.invited,
            skipped: r.skipped,
        }),
    ))
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MessageJson {
    pub id: i64,
    /// shop or customer.
    pub author: String,
    /// The staff member who wrote it ("" for the customer's).
    pub staff_name: String,
    pub body: String,
    pub created_at: String,
    pub read_at: Option<String>,
}

impl From<juchu_store::messages::OrderMessage> for MessageJson {
    fn from(m: juchu_store::messages::OrderMessage) -> Self {
        MessageJson {
            id: m.id,
            author: m.author.code().into(),
            staff_name: m.staff_name,
            body: m.body,
            created_at: m.created_at,
            read_at: m.read_at,
        }
    }
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    pub body: String,
    /// Mail the customer 「ショップからのメッセージがあります」 (default: the
    /// shop's setting in マイページ設定).
    #[serde(default)]
    pub notify: Option<bool>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PostedMessageJson {
    #[serde(flatten)]
    pub message: MessageJson,
    /// What happened to the notice mail: queued, not sent (with why), or none asked.
    pub mail: String,
}

/// Writes a message to the customer on the order (管理者用スペース).
#[utoipa::path(post, path = "/api/v1/orders/{order_number}/messages", tag = "mypage", params(("order_number" = String, Path)), request_body = MessageBody,
    responses((status = 201, body = PostedMessageJson), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn post_message(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(order_number): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<PostedMessageJson>), ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: MessageBody = parse_json(&body)?;
    let notify = match b.notify {
        Some(n) => n,
        None => st.store.message_mail_default().await?,
    };
    let posted = st
        .store
        .post_order_message(
            &order_number,
            juchu_domain::mypage::MessageAuthor::Shop,
            &b.body,
            notify,
            &caller.actor,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PostedMessageJson {
            mail: match posted.mail {
                None => "メール通知なし".into(),
                Some(Ok(m)) => m,
                Some(Err(why)) => why,
            },
            message: posted.message.into(),
        }),
    ))
}

/// The order's messages, oldest first.
#[utoipa::path(get, path = "/api/v1/orders/{order_number}/messages", tag = "mypage", params(("order_number" = String, Path)),
    responses((status = 200, body = [MessageJson]), (status = 401, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_messages(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(order_number): Path<String>,
) -> Result<Json<Vec<MessageJson>>, ApiError> {
    caller.require(Permission::Read)?;
    // 404 for an order that does not exist, not an empty list.
    st.store.order_by_number(&order_number).await?;
    Ok(Json(
        st.store
            .order_messages(&order_number)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}
