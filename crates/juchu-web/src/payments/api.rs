//! 決済処理 over the API: ask for a payment process on an order, list an order's
//! requests, and the providers' 入金通知 (payment notification).

use crate::AppState;
use crate::auth::ApiCaller;
use crate::dto::OrderJson;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::payment::PaymentProcess;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequestBody {
    /// `authorize` (与信処理), `capture` (売上処理), `cancel` (取消処理),
    /// `reauthorize` (再オーソリ処理); the Japanese label is accepted too.
    pub process: String,
    /// A new card token for 再オーソリ (sandbox: a test card number).
    #[serde(default)]
    pub card_token: Option<String>,
    /// Written to 履歴.
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentRequestJson {
    pub id: i64,
    /// Japanese label of the process (売上処理 …).
    pub process: String,
    /// pending / running / done / declined / failed / superseded
    pub status: String,
    pub attempts: i64,
    /// The provider's answer (the new 決済状況, or why it declined).
    pub result: String,
    pub last_error: String,
    pub requested_by: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentRequestsJson {
    /// What was queued (only on POST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Newest first.
    pub requests: Vec<PaymentRequestJson>,
}

async fn requests_of(st: &AppState, order_id: i64) -> Result<Vec<PaymentRequestJson>, ApiError> {
    Ok(st
        .store
        .payment_requests(order_id)
        .await?
        .into_iter()
        .map(|r| PaymentRequestJson {
            id: r.id,
            process: r.process,
            status: r.status,
            attempts: r.attempts,
            result: r.result,
            last_error: r.last_error,
            requested_by: r.requested_by,
            created_at: r.created_at,
            finished_at: r.finished_at,
        })
        .collect())
}

#[utoipa::path(post, path = "/api/v1/orders/{order_number}/payment-requests", tag = "payments",
    params(("order_number" = String, Path)), request_body = PaymentRequestBody,
    responses((status = 202, description = "queued; the worker asks the provider and the answer changes 決済状況", body = PaymentRequestsJson),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, description = "not possible now (e.g. 後払いの売上処理 without a tracking number)", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// 決済処理を依頼する: queued, executed by the worker against the payment provider.
pub async fn request_payment(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<PaymentRequestsJson>), ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: PaymentRequestBody = parse_json(&body)?;
    let process = PaymentProcess::parse(&b.process)
        .filter(|p| *p != PaymentProcess::FetchCreditResult)
        .ok_or_else(|| {
            ApiError::invalid(FieldErrors::single(
                "process",
                "unknown_process",
                format!(
                    "process「{}」は使えません（authorize / capture / cancel / reauthorize）",
                    b.process
                ),
            ))
        })?;
    let message = st
        .store
        .request_payment(
            &number,
            process,
            b.card_token.as_deref(),
            &caller.actor,
            &b.reason,
        )
        .await?;
    let o = st.store.order_by_number(&number).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PaymentRequestsJson {
            message: Some(message),
            requests: requests_of(&st, o.id).await?,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/orders/{order_number}/payment-requests", tag = "payments",
    params(("order_number" = String, Path)),
    responses((status = 200, body = PaymentRequestsJson), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// An order's payment requests and the providers' answers.
pub async fn list_payment_requests(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<PaymentRequestsJson>, ApiError> {
    caller.require(Permission::Read)?;
    let o = st.store.order_by_number(&number).await?;
    Ok(Json(PaymentRequestsJson {
        message: None,
        requests: requests_of(&st, o.id).await?,
    }))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentNotificationBody {
    pub order_number: String,
    /// Yen received; must equal the order's total.
    pub amount: i64,
    /// 入金日 (YYYY-MM-DD); today when absent.
    #[serde(default)]
    pub paid_on: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/payment-notifications", tag = "payments",
    request_body = PaymentNotificationBody,
    responses((status = 200, description = "the order is 入金済み", body = OrderJson),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, description = "not awaiting payment, or another amount", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// 入金通知: a bank transfer, convenience-store payment or 代金引換 collection arrived.
pub async fn payment_notification(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<Json<OrderJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: PaymentNotificationBody = parse_json(&body)?;
    let paid_on = match b.paid_on.as_deref() {
        None => None,
        Some(s) => Some(juchu_domain::time::parse_date(s).map_err(|_| {
            ApiError::invalid(FieldErrors::single(
                "paid_on",
                "invalid_date",
                "YYYY-MM-DD 形式で指定してください",
            ))
        })?),
    };
    let changed = st
        .store
        .record_payment_notification(&b.order_number, b.amount, paid_on)
        .await?;
    let m = st.store.masters().await?;
    Ok(Json(OrderJson::new(&changed.order, &m)))
}
