//! `POST /api/v1/shipment-imports` (出荷実績インポート) and
//! `POST /api/v1/payment-imports` (入金消込): a file previewed with
//! `dry_run=true`, or registered as a job (`shipment_import` /
//! `payment_import`) whose result (`GET /api/v1/jobs/{id}/result`) is the
//! per-row CSV. A file that cannot be read at all is refused at once, with the
//! line named. Also the saved import formats and 出荷設定.

use crate::AppState;
use crate::auth::ApiCaller;
use crate::dto::ImportJson;
use crate::error::{ApiError, parse_json};
use crate::job_files::encoding_of;
use crate::jobs::api::JobJson;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::carrier_file::ShippingSettings;
use juchu_domain::job::{FileImport, JobKind};
use juchu_domain::shipment_import::{FileEncoding, decode};
use juchu_store::shipping::{ImportFormat, ImportFormatInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The multipart form, as the OpenAPI document describes it.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ImportForm {
    /// The CSV file.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// Shipments: `standard` (受注番号 or 出荷ID, 配送伝票番号; optional 配送業者,
    /// 発送状況, 発送完了日), `yamato_b2`, `sagawa_ehiden3`, `japanpost_yupri`, or
    /// a saved format's id. Payments: `standard` (受注番号, 入金額, 入金日) or
    /// `bank_transfer` (振込依頼人名, 金額, 日付).
    pub format: Option<String>,
    /// `auto` (default: UTF-8 if it reads as UTF-8, else Shift_JIS), `utf-8` or `shift_jis`.
    pub encoding: Option<String>,
    /// `true`: the preview, nothing changes.
    pub dry_run: Option<String>,
}

fn form_error(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(FieldErrors::single(field, "invalid", message))
}

/// An uploaded file and what the form says about it.
pub(crate) struct Upload {
    pub file: Vec<u8>,
    pub file_name: String,
    pub format: String,
    pub encoding: FileEncoding,
    pub dry_run: bool,
}

async fn read_upload(mut form: Multipart) -> Result<Upload, ApiError> {
    let (mut file, mut file_name, mut format, mut encoding, mut dry_run) =
        (None, String::new(), None, None, false);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| form_error("file", format!("フォームを読めません: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            file_name = field.file_name().unwrap_or_default().to_string();
        }
        let bytes = field
            .bytes()
            .await
            .map_err(|e| form_error(&name, format!("「{name}」を読めません: {e}")))?;
        let text = || String::from_utf8_lossy(&bytes).trim().to_string();
        match name.as_str() {
            "file" => file = Some(bytes.to_vec()),
            "format" => format = Some(text()),
            "encoding" => encoding = Some(text()),
            "dry_run" => dry_run = matches!(text().as_str(), "true" | "1"),
            other => {
                return Err(form_error(
                    other,
                    format!("「{other}」という項目はありません"),
                ));
            }
        }
    }
    Ok(Upload {
        file: file.ok_or_else(|| form_error("file", "file（CSVファイル）を指定してください"))?,
        file_name,
        format: format
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| "standard".into()),
        encoding: encoding_of(encoding.as_deref().unwrap_or("auto")).map_err(ApiError::invalid)?,
        dry_run,
    })
}

/// Keeps the checked file with a new import job: 202 with the job.
async fn register(
    st: &AppState,
    caller: &ApiCaller,
    kind: JobKind,
    u: Upload,
    text: String,
    rows: usize,
    layout: Option<juchu_domain::shipment_import::Layout>,
) -> Result<Response, ApiError> {
    let params = FileImport {
        format: u.format,
        file_name: u.file_name,
        layout,
    };
    let job = st
        .store
        .register_file_job(kind, &params, text, rows as i64, &caller.actor)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(JobJson::from(&job))).into_response())
}

#[utoipa::path(post, path = "/api/v1/shipment-imports", tag = "shipments",
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "dry_run: per row what would change", body = ImportJson),
        (status = 202, description = "registered as a job (kind shipment_import); its result is the per-row CSV", body = JobJson),
        (status = 422, description = "the file cannot be read (the line is named), or a form field is wrong", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// 出荷実績インポート: per row what changes, what is refused and why. A blank
/// cell changes nothing; rows naming one package are its parcels (個数口);
/// the same file again reports every row 変更なし.
pub async fn shipment_import(
    caller: ApiCaller,
    State(st): State<AppState>,
    form: Multipart,
) -> Result<Response, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let u = read_upload(form).await?;
    let layout = st.store.import_layout(&u.format).await?;
    if u.dry_run {
        let rows = st
            .store
            .preview_shipment_import(&u.file, u.encoding, &layout)
            .await?;
        return Ok(Json(ImportJson::of(rows)).into_response());
    }
    let text = decode(&u.file, u.encoding).map_err(ApiError::invalid)?;
    let rows = juchu_domain::shipment_import::read(&text, &layout).map_err(ApiError::invalid)?;
    register(
        &st,
        &caller,
        JobKind::ShipmentImport,
        u,
        text,
        rows.len(),
        Some(layout),
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/payment-imports", tag = "shipments",
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "dry_run: per row what would change", body = ImportJson),
        (status = 202, description = "registered as a job (kind payment_import); its result is the per-row CSV", body = JobJson),
        (status = 422, description = "the file cannot be read (the line is named), or a form field is wrong", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// 入金消込: each row → 入金済み + 入金日 through the order pipeline. An amount
/// that is not the order's is refused with both amounts; a bank's row is
/// matched by 振込依頼人名 (kana) and amount to one 入金待ち order.
pub async fn payment_import(
    caller: ApiCaller,
    State(st): State<AppState>,
    form: Multipart,
) -> Result<Response, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let u = read_upload(form).await?;
    if u.dry_run {
        let rows = st
            .store
            .preview_payment_import(&u.file, u.encoding, &u.format)
            .await?;
        return Ok(Json(ImportJson::of(rows)).into_response());
    }
    let text = decode(&u.file, u.encoding).map_err(ApiError::invalid)?;
    let rows = juchu_domain::payment_import::read(&text, &u.format).map_err(ApiError::invalid)?;
    register(
        &st,
        &caller,
        JobKind::PaymentImport,
        u,
        text,
        rows.len(),
        None,
    )
    .await
}

/// A saved 出荷実績インポート format: header names per role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportFormatJson {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    /// Header of 受注番号 (this or `shipment_id` required).
    #[serde(default)]
    pub order_number: String,
    /// Header of 出荷ID / お客様管理番号.
    #[serde(default)]
    pub shipment_id: String,
    /// Header of 配送伝票番号 (required).
    #[serde(default)]
    pub tracking_number: String,
    #[serde(default)]
    pub carrier: String,
    #[serde(default)]
    pub shipment_status: String,
    #[serde(default)]
    pub shipped_at: String,
    /// A carrier master code when every row is that carrier's.
    #[serde(default)]
    pub carrier_code: String,
}

impl From<&ImportFormat> for ImportFormatJson {
    fn from(f: &ImportFormat) -> Self {
        let first = |v: &Vec<String>| v.first().cloned().unwrap_or_default();
        ImportFormatJson {
            id: f.id,
            name: f.name.clone(),
            order_number: first(&f.layout.order_number),
            shipment_id: first(&f.layout.shipment_id),
            tracking_number: first(&f.layout.tracking_number),
            carrier: first(&f.layout.carrier),
            shipment_status: first(&f.layout.shipment_status),
            shipped_at: first(&f.layout.shipped_at),
            carrier_code: f.layout.carrier_code.clone(),
        }
    }
}

impl From<ImportFormatJson> for ImportFormatInput {
    fn from(b: ImportFormatJson) -> Self {
        ImportFormatInput {
            name: b.name,
            order_number: b.order_number,
            shipment_id: b.shipment_id,
            tracking_number: b.tracking_number,
            carrier: b.carrier,
            shipment_status: b.shipment_status,
            shipped_at: b.shipped_at,
            carrier_code: b.carrier_code,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/shipment-import-formats", tag = "shipments",
    responses((status = 200, body = Vec<ImportFormatJson>)), security(("bearer" = [])))]
/// The shop's saved import formats (use the id as `format`).
pub async fn list_import_formats(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<ImportFormatJson>>, ApiError> {
    caller.require(Permission::Read)?;
    let formats = st.store.shipment_import_formats().await?;
    Ok(Json(formats.iter().map(ImportFormatJson::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/shipment-import-formats", tag = "shipments",
    request_body = ImportFormatJson,
    responses((status = 201, body = ImportFormatJson),
        (status = 422, description = "a required header is missing", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// Saves a format: which header means what.
pub async fn create_import_format(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: ImportFormatJson = parse_json(&body)?;
    let f = st
        .store
        .save_shipment_import_format(None, &b.into())
        .await?;
    Ok((StatusCode::CREATED, Json(ImportFormatJson::from(&f))).into_response())
}

#[utoipa::path(put, path = "/api/v1/shipment-import-formats/{id}", tag = "shipments",
    request_body = ImportFormatJson,
    responses((status = 200, body = ImportFormatJson), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_import_format(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<ImportFormatJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: ImportFormatJson = parse_json(&body)?;
    let f = st
        .store
        .save_shipment_import_format(Some(id), &b.into())
        .await?;
    Ok(Json(ImportFormatJson::from(&f)))
}

#[utoipa::path(delete, path = "/api/v1/shipment-import-formats/{id}", tag = "shipments",
    responses((status = 204)), security(("bearer" = [])))]
pub async fn delete_import_format(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store.delete_shipment_import_format(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 出荷設定: the sender printed on labels and the carriers' customer codes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingSettingsJson {
    #[serde(default)]
    pub sender_name: String,
    #[serde(default)]
    pub sender_phone: String,
    #[serde(default)]
    pub sender_postal_code: String,
    #[serde(default)]
    pub sender_address1: String,
    #[serde(default)]
    pub sender_address2: String,
    /// ヤマト 請求先顧客コード (10–12 digits).
    #[serde(default)]
    pub yamato_customer_code: String,
    /// ヤマト 請求先分類コード (blank or 3 digits).
    #[serde(default)]
    pub yamato_class_code: String,
    /// ヤマト 運賃管理番号 (2 digits).
    #[serde(default)]
    pub yamato_freight_number: String,
    /// 佐川 お客様コード (12 digits).
    #[serde(default)]
    pub sagawa_customer_code: String,
    #[serde(default)]
    pub default_item_name: String,
}

impl From<ShippingSettings> for ShippingSettingsJson {
    fn from(s: ShippingSettings) -> Self {
        ShippingSettingsJson {
            sender_name: s.sender_name,
            sender_phone: s.sender_phone,
            sender_postal_code: s.sender_postal_code,
            sender_address1: s.sender_address1,
            sender_address2: s.sender_address2,
            yamato_customer_code: s.yamato_customer_code,
            yamato_class_code: s.yamato_class_code,
            yamato_freight_number: s.yamato_freight_number,
            sagawa_customer_code: s.sagawa_customer_code,
            default_item_name: s.default_item_name,
        }
    }
}

impl From<ShippingSettingsJson> for ShippingSettings {
    fn from(s: ShippingSettingsJson) -> Self {
        ShippingSettings {
            sender_name: s.sender_name,
            sender_phone: s.sender_phone,
            sender_postal_code: s.sender_postal_code,
            sender_address1: s.sender_address1,
            sender_address2: s.sender_address2,
            yamato_customer_code: s.yamato_customer_code,
            yamato_class_code: s.yamato_class_code,
            yamato_freight_number: s.yamato_freight_number,
            sagawa_customer_code: s.sagawa_customer_code,
            default_item_name: s.default_item_name,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/shipping-settings", tag = "shipments",
    responses((status = 200, body = ShippingSettingsJson)), security(("bearer" = [])))]
pub async fn get_shipping_settings(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<ShippingSettingsJson>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(st.store.shipping_settings().await?.into()))
}

#[utoipa::path(put, path = "/api/v1/shipping-settings", tag = "shipments",
    request_body = ShippingSettingsJson,
    responses((status = 200, body = ShippingSettingsJson), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_shipping_settings(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<Json<ShippingSettingsJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: ShippingSettingsJson = parse_json(&body)?;
    Ok(Json(
        st.store.save_shipping_settings(&b.into()).await?.into(),
    ))
}
