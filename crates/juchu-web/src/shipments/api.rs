//! `POST /api/v1/shipment-imports`: a shop's shipment file (出荷実績), previewed
//! with `dry_run=true` or applied. Today the standard format only, applied at
//! once (the file of a day is 100–5,000 rows); the carriers' result formats
//! and the job come next.

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Multipart, State};
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::shipment_import::FileEncoding;
use juchu_store::ImportRowResult;
use serde::Serialize;
use utoipa::ToSchema;

/// One row's result (行, 受注番号, 結果, 内容).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportRowJson {
    /// The file's line (the header is line 1).
    pub row: usize,
    pub order_number: String,
    /// 変更 / 変更なし / エラー
    pub outcome: String,
    /// What changes, or why the row is refused.
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportJson {
    /// true: a preview, nothing changed.
    pub dry_run: bool,
    pub rows: Vec<ImportRowJson>,
    pub changed: usize,
    pub unchanged: usize,
    pub refused: usize,
}

/// The multipart form, as the OpenAPI document describes it.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ImportForm {
    /// The CSV file.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// `standard` (受注番号, 配送伝票番号; optional 配送業者, 発送状況, 発送完了日).
    pub format: Option<String>,
    /// `auto` (default: UTF-8 if it reads as UTF-8, else Shift_JIS), `utf-8` or `shift_jis`.
    pub encoding: Option<String>,
    /// `true`: the preview, nothing changes.
    pub dry_run: Option<String>,
}

fn form_error(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(FieldErrors::single(field, "invalid", message))
}

#[utoipa::path(post, path = "/api/v1/shipment-imports", tag = "shipments",
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses((status = 200, body = ImportJson),
        (status = 422, description = "the file cannot be read (the line is named), or a form field is wrong", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
/// 出荷実績インポート: per row what changes, what is refused and why. A blank
/// cell changes nothing; the same file again reports every row 変更なし.
pub async fn shipment_import(
    caller: ApiCaller,
    State(st): State<AppState>,
    mut form: Multipart,
) -> Result<Json<ImportJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let (mut file, mut format, mut encoding, mut dry_run) = (None, None, None, false);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| form_error("file", format!("フォームを読めません: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
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
    let file = file.ok_or_else(|| form_error("file", "file（CSVファイル）を指定してください"))?;
    match format.as_deref().unwrap_or("standard") {
        "standard" => {}
        other => {
            return Err(form_error(
                "format",
                format!("取込形式「{other}」にはまだ対応していません（standard）"),
            ));
        }
    }
    let encoding = match encoding.as_deref().unwrap_or("auto") {
        "auto" | "" => FileEncoding::Detect,
        "utf-8" | "utf8" => FileEncoding::Utf8,
        "shift_jis" | "sjis" | "cp932" => FileEncoding::Cp932,
        other => {
            return Err(form_error(
                "encoding",
                format!("文字コード「{other}」はありません（auto / utf-8 / shift_jis）"),
            ));
        }
    };
    let rows = if dry_run {
        st.store.preview_shipment_import(&file, encoding).await?
    } else {
        st.store
            .run_shipment_import(&file, encoding, &caller.actor)
            .await?
    };
    let count = |o: &str| rows.iter().filter(|r| r.outcome == o).count();
    Ok(Json(ImportJson {
        dry_run,
        changed: count("変更"),
        unchanged: count("変更なし"),
        refused: count("エラー"),
        rows: rows
            .into_iter()
            .map(|r: ImportRowResult| ImportRowJson {
                row: r.row,
                order_number: r.order_number,
                outcome: r.outcome,
                message: r.message,
            })
            .collect(),
    }))
}
