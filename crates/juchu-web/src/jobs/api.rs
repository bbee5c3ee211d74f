//! `/api/v1/jobs` (一括処理 / ジョブ管理) and `/api/v1/csv-formats` (CSV管理).

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, parse_json};
use crate::job_files::{format_from_definition, result_response};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::csv_format::{CsvFormat, Encoding, RowPer, Unmappable};
use juchu_domain::job::JobKind;
use juchu_store::StoreError;
use juchu_store::jobs::{Job, JobPreview, NewJob, Selection};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

/// The job kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKindName {
    /// 一括更新
    BulkUpdate,
    /// CSV一括出力
    CsvExport,
    /// PDF一括出力 (帳票: `{"document": "delivery_note" | "invoice" | "receipt", "issue_date": "2026-12-01", "format_id": 3}`; `format_id` is optional (帳票管理, the standard layout when absent); up to 1,000 orders)
    PdfExport,
    /// 一括督促
    Dunning,
    /// メール一括通知
    BulkMail,
    /// 決済状況一括変更
    PaymentChange,
    /// ブラックリスト再チェック (no selection; `{"days": N}`)
    BlacklistRescan,
    /// 出荷実績インポート (registered by `POST /api/v1/shipment-imports`)
    ShipmentImport,
    /// 入金消込 (registered by `POST /api/v1/payment-imports`)
    PaymentImport,
    /// 送り状データ出力 (`{"carrier_format": "yamato_b2" | "sagawa_ehiden3" | "japanpost_yupri", "shipping_list": true}`)
    CarrierExport,
}

impl JobKindName {
    fn kind(self) -> JobKind {
        match self {
            JobKindName::BulkUpdate => JobKind::BulkUpdate,
            JobKindName::CsvExport => JobKind::CsvExport,
            JobKindName::PdfExport => JobKind::PdfExport,
            JobKindName::Dunning => JobKind::Dunning,
            JobKindName::BulkMail => JobKind::BulkMail,
            JobKindName::PaymentChange => JobKind::PaymentChange,
            JobKindName::BlacklistRescan => JobKind::BlacklistRescan,
            JobKindName::ShipmentImport => JobKind::ShipmentImport,
            JobKindName::PaymentImport => JobKind::PaymentImport,
            JobKindName::CarrierExport => JobKind::CarrierExport,
        }
    }
}

/// What a job acts on: every order a search finds (the same filters as
/// `GET /api/v1/orders`), or the listed orders.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectionBody {
    /// e.g. `{"handling_status": "新規受付", "ordered_from": "2026-11-01"}`
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub query: Option<HashMap<String, serde_json::Value>>,
    #[serde(default)]
    pub order_numbers: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobBody {
    pub kind: JobKindName,
    #[serde(default)]
    pub selection: Option<SelectionBody>,
    /// Per kind. bulk_update: `{"handling_status": "発送準備中", "paid_at": "2026-12-01" | null,
    /// "memo": {"mode": "overwrite|add|clear", "value": "…"}, "labels": {"mode": "overwrite|add|remove|clear", "values": ["VIP"]},
    /// "payment_method", "carrier", "scheduled_ship_date", "shipped_at", "scheduled_delivery_date", "delivered_at",
    /// "shipping_list_state": "未出力|出力済", "shipping_list_exported_on", "needs_attention", "needs_attention_reason",
    /// "customer_blacklisted", "customer_blacklist_reason", "customer_memo", "subscription_needs_attention",
    /// "subscription_needs_attention_reason", "subscription_next_ship_date", "subscription_next_delivery_date",
    /// "subscription_sync_dates", "subscription_status": "有効|停止|キャンセル", "subscription_status_reason", "subscription_memo"}`.
    /// csv_export: `{"format_id": 1, "encoding": "utf8|utf8_bom|cp932", "shipping_list": true}`.
    /// dunning: `{"memo": "…", "due_date": "2026-12-20"}`.
    /// bulk_mail: `{"template_code": "shipped"}` or `{"subject": "…", "body": "…", "cc": [], "bcc": []}`.
    /// payment_change: `{"process": "capture|cancel|reauthorize|force_capture|force_cancel",
    /// "subscription": "leave|stop|cancel", "subscription_reason": "…", "decrement_count": true, "recalculate": true}`.
    /// pdf_export: `{"document": "delivery_note|invoice|receipt", "issue_date": "2026-12-01", "format_id": 3}` (format_id optional: 帳票管理).
    /// blacklist_rescan: `{"days": 30}`.
    /// carrier_export: `{"carrier_format": "yamato_b2|sagawa_ehiden3|japanpost_yupri", "shipping_list": true}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Only count and check: how many orders, and which would fail and why.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobJson {
    pub id: i64,
    pub kind: JobKindName,
    pub kind_label: String,
    /// queued / running / completed / failed / cancelled. `completed` means the
    /// job ran to the end; `failed` counts the orders that did not succeed.
    pub status: String,
    pub status_label: String,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub skipped: i64,
    /// 0–100.
    pub progress: i64,
    pub created_by: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub cancel_requested: bool,
    pub error: String,
    /// 「受注 メール一括通知 を登録しました。」 / 「… を完了しました。」
    pub notice: String,
    /// Where the result file is, once the job has finished (none once it was
    /// deleted after the retention period).
    pub result_url: Option<String>,
    /// When the items and the result were deleted (保存期間).
    pub purged_at: Option<String>,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

pub(crate) fn kind_name(k: JobKind) -> JobKindName {
    match k {
        JobKind::BulkUpdate => JobKindName::BulkUpdate,
        JobKind::CsvExport => JobKindName::CsvExport,
        JobKind::PdfExport => JobKindName::PdfExport,
        JobKind::Dunning => JobKindName::Dunning,
        JobKind::BulkMail => JobKindName::BulkMail,
        JobKind::PaymentChange => JobKindName::PaymentChange,
        JobKind::BlacklistRescan => JobKindName::BlacklistRescan,
        JobKind::ShipmentImport => JobKindName::ShipmentImport,
        JobKind::PaymentImport => JobKindName::PaymentImport,
        JobKind::CarrierExport => JobKindName::CarrierExport,
    }
}

impl From<&Job> for JobJson {
    fn from(j: &Job) -> Self {
        JobJson {
            id: j.id,
            kind: kind_name(j.kind),
            kind_label: j.kind.label().into(),
            status: j.status.code().into(),
            status_label: j.status.label().into(),
            total: j.total,
            done: j.done,
            failed: j.failed,
            skipped: j.skipped,
            progress: (j.done * 100).checked_div(j.total).unwrap_or(0),
            created_by: j.created_by.clone(),
            created_at: j.created_at.clone(),
            started_at: j.started_at.clone(),
            finished_at: j.finished_at.clone(),
            cancel_requested: j.cancel_requested,
            error: j.error.clone(),
            notice: j.notice(),
            result_url: (j.status.is_finished() && j.purged_at.is_none())
                .then(|| format!("/api/v1/jobs/{}/result", j.id)),
            purged_at: j.purged_at.clone(),
            params: j.params.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureJson {
    pub order_number: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobPreviewJson {
    pub dry_run: bool,
    pub total: i64,
    /// How many were checked one by one (the first 10,000).
    pub checked: i64,
    pub would_fail: i64,
    /// The first 100.
    pub failures: Vec<FailureJson>,
    /// The seed's reminders (再オーソリ after a payment-method change, …).
    pub reminders: Vec<String>,
}

impl From<JobPreview> for JobPreviewJson {
    fn from(p: JobPreview) -> Self {
        JobPreviewJson {
            dry_run: true,
            total: p.total,
            checked: p.checked,
            would_fail: p.would_fail,
            failures: p
                .failures
                .into_iter()
                .map(|(order_number, reason)| FailureJson {
                    order_number,
                    reason,
                })
                .collect(),
            reminders: p.reminders,
        }
    }
}

/// A selection from the API body; `query` takes the list filters.
pub(crate) fn selection_of(body: Option<SelectionBody>) -> Result<Option<Selection>, ApiError> {
    let Some(s) = body else { return Ok(None) };
    match (s.query, s.order_numbers) {
        (Some(q), None) => {
            let params: HashMap<String, String> = q
                .into_iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k, text)
                })
                .collect();
            let query = crate::query::order_query(&params, true).map_err(|mut e| {
                for f in &mut e.0 {
                    f.field = format!("selection.query.{}", f.field);
                }
                ApiError::from(StoreError::Invalid(e))
            })?;
            Ok(Some(Selection::Query(Box::new(query))))
        }
        (None, Some(n)) => Ok(Some(Selection::OrderNumbers(n))),
        _ => Err(StoreError::Invalid(FieldErrors::single(
            "selection",
            "one_of",
            "selection には query か order_numbers のどちらか一方を指定してください",
        ))
        .into()),
    }
}

#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", request_body = JobBody,
    responses((status = 201, description = "registered", body = JobJson),
        (status = 200, description = "dry_run: what would happen", body = JobPreviewJson),
        (status = 422, description = "bad kind, parameters or selection (named), or nothing selected", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// Registers a job. The selection is frozen now; the job runs in the
/// background and `GET /api/v1/jobs/{id}` shows its progress.
pub async fn create_job(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: JobBody = parse_json(&body)?;
    let new = NewJob {
        kind: b.kind.kind(),
        selection: selection_of(b.selection)?,
        params: b.params,
    };
    if b.dry_run {
        let p = st.store.preview_job(new).await?;
        return Ok(Json(JobPreviewJson::from(p)).into_response());
    }
    let job = st.store.register_job(new, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(JobJson::from(&job))).into_response())
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs",
    params(("limit" = Option<i64>, Query, description = "1–500, default 50")),
    responses((status = 200, body = Vec<JobJson>)), security(("bearer" = [])))]
/// Jobs, newest first (ジョブ管理).
pub async fn list_jobs(
    caller: ApiCaller,
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<JobJson>>, ApiError> {
    caller.require(Permission::Read)?;
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
    let jobs = st.store.jobs(limit).await?;
    Ok(Json(jobs.iter().map(JobJson::from).collect()))
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = JobJson), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_job(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<JobJson>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(JobJson::from(&st.store.job(id).await?)))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = JobJson), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "already finished", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// Stops a job: no further chunk starts (the running one finishes).
pub async fn cancel_job(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<JobJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    Ok(Json(JobJson::from(&st.store.cancel_job(id).await?)))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobItemJson {
    pub seq: i64,
    pub order_number: String,
    /// pending / ok / failed / skipped
    pub status: String,
    pub message: String,
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}/items", tag = "jobs",
    params(("id" = i64, Path), ("after" = Option<i64>, Query, description = "seq to continue after"),
        ("limit" = Option<i64>, Query, description = "1–1000, default 100")),
    responses((status = 200, body = Vec<JobItemJson>)), security(("bearer" = [])))]
/// Each order of the job with its outcome, in order.
pub async fn job_items(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<JobItemJson>>, ApiError> {
    caller.require(Permission::Read)?;
    st.store.job(id).await?;
    let after = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let limit = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100i64)
        .clamp(1, 1000);
    let items = st.store.job_items(id, after, limit).await?;
    Ok(Json(
        items
            .into_iter()
            .map(|i| JobItemJson {
                seq: i.seq,
                order_number: i.order_number,
                status: i.status,
                message: i.message,
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}/result", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, description = "the export (CSV in the chosen encoding) or the per-order result CSV", content_type = "text/csv"),
        (status = 409, description = "not finished yet", body = crate::error::ErrorBody),
        (status = 410, description = "deleted after the retention period (JUCHU_JOB_RETENTION_DAYS)", body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn job_result(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Read)?;
    Ok(result_response(&st.store, id).await?)
}

// ---- CSV管理 ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvFormatBody {
    pub name: String,
    /// order (受注ごと) or item (受注商品ごと).
    #[serde(default)]
    #[schema(value_type = String)]
    pub row_per: RowPer,
    /// utf8, utf8_bom (default) or cp932.
    #[serde(default)]
    #[schema(value_type = String)]
    pub encoding: Encoding,
    /// What to do with characters CP932 cannot hold: error (default: the job
    /// fails naming the row and column) or replace (〓, listed in the result).
    #[serde(default)]
    #[schema(value_type = String)]
    pub unmappable: Unmappable,
    /// `[{"key": "order_number", "header": "注文番号"}]`; keys from
    /// `GET /api/v1/csv-formats/columns`, or `attribute:<name>` for a custom
    /// order attribute.
    #[schema(value_type = Vec<Object>)]
    pub columns: Vec<juchu_domain::csv_format::Column>,
}

/// A CSV format as stored: the body's fields and its id. Spelled out rather
/// than flattened: the body refuses unknown fields, and a flattened schema
/// would then refuse `id` in every answer (the OpenAPI document must describe
/// what is sent).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CsvFormatJson {
    pub id: i64,
    pub name: String,
    /// order or item.
    #[schema(value_type = String)]
    pub row_per: RowPer,
    /// utf8, utf8_bom or cp932.
    #[schema(value_type = String)]
    pub encoding: Encoding,
    /// error or replace.
    #[schema(value_type = String)]
    pub unmappable: Unmappable,
    #[schema(value_type = Vec<Object>)]
    pub columns: Vec<juchu_domain::csv_format::Column>,
}

fn format_json(f: CsvFormat) -> CsvFormatJson {
    CsvFormatJson {
        id: f.id,
        name: f.name,
        row_per: f.row_per,
        encoding: f.encoding,
        unmappable: f.unmappable,
        columns: f.columns,
    }
}

fn body_format(id: i64, b: CsvFormatBody) -> CsvFormat {
    CsvFormat {
        id,
        name: b.name,
        row_per: b.row_per,
        encoding: b.encoding,
        unmappable: b.unmappable,
        columns: b.columns,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CsvColumnJson {
    pub key: String,
    pub header: String,
    pub group: String,
}

#[utoipa::path(get, path = "/api/v1/csv-formats/columns", tag = "jobs",
    responses((status = 200, body = Vec<CsvColumnJson>)), security(("bearer" = [])))]
/// The column catalogue formats pick from.
pub async fn csv_columns(caller: ApiCaller) -> Result<Json<Vec<CsvColumnJson>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(
        juchu_domain::csv_format::CATALOGUE
            .iter()
            .map(|(k, h, g)| CsvColumnJson {
                key: k.to_string(),
                header: h.to_string(),
                group: g.label().to_string(),
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/csv-formats", tag = "jobs",
    responses((status = 200, body = Vec<CsvFormatJson>)), security(("bearer" = [])))]
pub async fn list_csv_formats(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<CsvFormatJson>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(
        st.store
            .csv_formats()
            .await?
            .into_iter()
            .map(format_json)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/csv-formats", tag = "jobs", request_body = CsvFormatBody,
    responses((status = 201, body = CsvFormatJson),
        (status = 422, description = "no columns, or an unknown one (named with its position)", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_csv_format(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<CsvFormatJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: CsvFormatBody = parse_json(&body)?;
    let saved = st.store.add_csv_format(&body_format(0, b)).await?;
    Ok((StatusCode::CREATED, Json(format_json(saved))))
}

#[utoipa::path(put, path = "/api/v1/csv-formats/{id}", tag = "jobs", params(("id" = i64, Path)),
    request_body = CsvFormatBody,
    responses((status = 200, body = CsvFormatJson), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_csv_format(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<CsvFormatJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: CsvFormatBody = parse_json(&body)?;
    let saved = st.store.update_csv_format(&body_format(id, b)).await?;
    Ok(Json(format_json(saved)))
}

#[utoipa::path(delete, path = "/api/v1/csv-formats/{id}", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn delete_csv_format(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store.delete_csv_format(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/csv-formats/import", tag = "jobs",
    params(("name" = String, Query), ("row_per" = Option<String>, Query, description = "order or item"),
        ("encoding" = Option<String>, Query, description = "utf8, utf8_bom or cp932"),
        ("unmappable" = Option<String>, Query, description = "error or replace")),
    request_body(description = "項目,見出し rows (the header row is optional); 項目 is a column key or its Japanese header; UTF-8 or Shift_JIS",
        content((String = "text/csv"), (String = "text/plain"))),
    responses((status = 201, body = CsvFormatJson),
        (status = 422, description = "an unknown column, named with its line", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// Creates a format from a definition file (as shops keep them in a spreadsheet).
pub async fn import_csv_format(
    caller: ApiCaller,
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<(StatusCode, Json<CsvFormatJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let f = format_from_definition(&q, &body)?;
    let saved = st.store.add_csv_format(&f).await?;
    Ok((StatusCode::CREATED, Json(format_json(saved))))
}
