//! 出荷実績インポート and 入金消込 in the admin UI (upload → preview → run as a
//! job), and 出荷設定 (sender, carriers' codes, saved import formats, the
//! ゆうプリR filter guide).

use crate::AppState;
use crate::auth::StaffSession;
use crate::dto::ImportJson;
use crate::job_files::{MAX_UPLOAD_BYTES, encoding_of};
use crate::views::{Nav, error_page, refuse_post, render, store_error_page};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juchu_domain::access::Permission;
use juchu_domain::carrier_file::{ShippingSettings, YUPRI_FILTER_GUIDE};
use juchu_domain::job::{FileImport, JobKind};
use juchu_domain::shipment_import::{FileEncoding, decode};
use juchu_store::StoreError;
use juchu_store::shipping::ImportFormatInput;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/shipments/import", get(shipment_import_page))
        .route("/shipments/import/preview", post(shipment_preview))
        .route("/shipments/import/run", post(shipment_run))
        .route("/payments/import", get(payment_import_page))
        .route("/payments/import/preview", post(payment_preview))
        .route("/payments/import/run", post(payment_run))
        .route("/settings/shipping", get(settings_page).post(settings_save))
        .route("/settings/shipping/formats", post(format_add))
        .route(
            "/settings/shipping/formats/{id}/delete",
            post(format_delete),
        )
        .route("/settings/shipping/yupri-filter.txt", get(yupri_guide))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
}

/// Which import a page is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Shipments,
    Payments,
}

impl Which {
    fn kind(self) -> JobKind {
        match self {
            Which::Shipments => JobKind::ShipmentImport,
            Which::Payments => JobKind::PaymentImport,
        }
    }
    fn base(self) -> &'static str {
        match self {
            Which::Shipments => "/shipments/import",
            Which::Payments => "/payments/import",
        }
    }
}

#[derive(Template)]
#[template(path = "shipments/import.html")]
struct ImportPage {
    nav: Nav,
    title: &'static str,
    base: &'static str,
    shipments: bool,
    can_edit: bool,
    /// (value, label) of the formats to choose from.
    formats: Vec<(String, String)>,
    format: String,
    form_error: String,
    preview: Option<ImportJson>,
    /// The previewed file as text, sent again to run it.
    content: String,
    file_name: String,
}

async fn formats_of(st: &AppState, which: Which) -> Result<Vec<(String, String)>, StoreError> {
    Ok(match which {
        Which::Shipments => {
            let mut v: Vec<(String, String)> = juchu_domain::shipment_import::FORMATS
                .iter()
                .map(|(c, l)| (c.to_string(), l.to_string()))
                .collect();
            for f in st.store.shipment_import_formats().await? {
                v.push((f.id.to_string(), format!("{}（保存した形式）", f.name)));
            }
            v
        }
        Which::Payments => juchu_domain::payment_import::FORMATS
            .iter()
            .map(|(c, l)| (c.to_string(), l.to_string()))
            .collect(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn import_view(
    st: &AppState,
    session: &StaffSession,
    which: Which,
    format: String,
    form_error: String,
    preview: Option<ImportJson>,
    content: String,
    file_name: String,
    status: StatusCode,
) -> Response {
    let formats = match formats_of(st, which).await {
        Ok(f) => f,
        Err(e) => return store_error_page(e),
    };
    render(
        status,
        &ImportPage {
            nav: Nav::of(session),
            title: which.kind().label(),
            base: which.base(),
            shipments: which == Which::Shipments,
            can_edit: session.role().allows(Permission::WriteOrders),
            formats,
            format,
            form_error,
            preview,
            content,
            file_name,
        },
    )
}

async fn shipment_import_page(State(st): State<AppState>, session: StaffSession) -> Response {
    import_view(
        &st,
        &session,
        Which::Shipments,
        "standard".into(),
        String::new(),
        None,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

async fn payment_import_page(State(st): State<AppState>, session: StaffSession) -> Response {
    import_view(
        &st,
        &session,
        Which::Payments,
        "standard".into(),
        String::new(),
        None,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The upload form's fields (the file's bytes apart).
async fn read_form(
    mut form: Multipart,
) -> Result<(HashMap<String, String>, Vec<u8>, String), String> {
    let mut fields = HashMap::new();
    let (mut file, mut name) = (Vec::new(), String::new());
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| format!("フォームを読めません: {e}"))?
    {
        let key = field.name().unwrap_or_default().to_string();
        if key == "file" {
            name = field.file_name().unwrap_or_default().to_string();
            file = field
                .bytes()
                .await
                .map_err(|e| format!("ファイルを読めません: {e}"))?
                .to_vec();
        } else {
            let v = field
                .text()
                .await
                .map_err(|e| format!("「{key}」を読めません: {e}"))?;
            fields.insert(key, v);
        }
    }
    Ok((fields, file, name))
}

async fn preview(st: AppState, session: StaffSession, which: Which, form: Multipart) -> Response {
    let (f, file, file_name) = match read_form(form).await {
        Ok(x) => x,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    if let Some(refused) = refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let format = f
        .get("format")
        .cloned()
        .unwrap_or_else(|| "standard".into());
    let fail = |why: String| {
        let st = st.clone();
        let session = &session;
        let format = format.clone();
        async move {
            import_view(
                &st,
                session,
                which,
                format,
                why,
                None,
                String::new(),
                String::new(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    if file.is_empty() {
        return fail("ファイルを選んでください".into()).await;
    }
    let encoding = match encoding_of(f.get("encoding").map(String::as_str).unwrap_or("auto")) {
        Ok(e) => e,
        Err(e) => return fail(e.messages()).await,
    };
    let text = match decode(&file, encoding) {
        Ok(t) => t,
        Err(e) => return fail(e.messages()).await,
    };
    let rows = match which {
        Which::Shipments => match st.store.import_layout(&format).await {
            Ok(layout) => {
                st.store
                    .preview_shipment_import(text.as_bytes(), FileEncoding::Utf8, &layout)
                    .await
            }
            Err(e) => Err(e),
        },
        Which::Payments => {
            st.store
                .preview_payment_import(text.as_bytes(), FileEncoding::Utf8, &format)
                .await
        }
    };
    match rows {
        Ok(rows) => {
            import_view(
                &st,
                &session,
                which,
                format.clone(),
                String::new(),
                Some(ImportJson::of(rows)),
                text,
                file_name,
                StatusCode::OK,
            )
            .await
        }
        Err(StoreError::Invalid(e)) => fail(e.messages()).await,
        Err(e) => store_error_page(e),
    }
}

async fn shipment_preview(
    State(st): State<AppState>,
    session: StaffSession,
    form: Multipart,
) -> Response {
    preview(st, session, Which::Shipments, form).await
}

async fn payment_preview(
    State(st): State<AppState>,
    session: StaffSession,
    form: Multipart,
) -> Response {
    preview(st, session, Which::Payments, form).await
}

/// この内容で取り込む: the previewed text, registered as a job.
async fn run(
    st: AppState,
    session: StaffSession,
    which: Which,
    f: HashMap<String, String>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let format = f
        .get("format")
        .cloned()
        .unwrap_or_else(|| "standard".into());
    let text = f.get("content").cloned().unwrap_or_default();
    let (layout, rows) = match which {
        Which::Shipments => {
            let layout = match st.store.import_layout(&format).await {
                Ok(l) => l,
                Err(e) => return store_error_page(e),
            };
            match juchu_domain::shipment_import::read(&text, &layout) {
                Ok(r) => (Some(layout), r.len()),
                Err(e) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.messages()),
            }
        }
        Which::Payments => match juchu_domain::payment_import::read(&text, &format) {
            Ok(r) => (None, r.len()),
            Err(e) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.messages()),
        },
    };
    let params = FileImport {
        format,
        file_name: f.get("file_name").cloned().unwrap_or_default(),
        layout,
    };
    match st
        .store
        .register_file_job(which.kind(), &params, text, rows as i64, &session.actor())
        .await
    {
        Ok(_) => Redirect::to("/jobs").into_response(),
        Err(e) => store_error_page(e),
    }
}

async fn shipment_run(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    run(st, session, Which::Shipments, f).await
}

async fn payment_run(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    run(st, session, Which::Payments, f).await
}

#[derive(Template)]
#[template(path = "shipments/settings.html")]
struct SettingsPage {
    nav: Nav,
    can_edit: bool,
    flash: String,
    form_error: String,
    errors: HashMap<String, String>,
    s: ShippingSettings,
    formats: Vec<(i64, String, String)>,
}

impl SettingsPage {
    fn err(&self, field: &str) -> &str {
        self.errors.get(field).map(String::as_str).unwrap_or("")
    }
}

async fn settings_view(
    st: &AppState,
    session: &StaffSession,
    flash: String,
    errors: Option<(juchu_domain::FieldErrors, ShippingSettings)>,
    status: StatusCode,
) -> Response {
    let (saved, formats) = match (
        st.store.shipping_settings().await,
        st.store.shipment_import_formats().await,
    ) {
        (Ok(s), Ok(f)) => (s, f),
        (Err(e), _) | (_, Err(e)) => return store_error_page(e),
    };
    let (s, errors, form_error) = match errors {
        Some((e, typed)) => (
            typed,
            e.0.iter()
                .map(|f| (f.field.clone(), f.message.clone()))
                .collect(),
            "入力内容を確認してください。".to_string(),
        ),
        None => (saved, HashMap::new(), String::new()),
    };
    let formats = formats
        .iter()
        .map(|f| {
            let l = &f.layout;
            let cols = [
                ("受注番号", &l.order_number),
                ("出荷ID", &l.shipment_id),
                ("配送伝票番号", &l.tracking_number),
                ("配送業者", &l.carrier),
                ("発送状況", &l.shipment_status),
                ("発送完了日", &l.shipped_at),
            ]
            .iter()
            .filter_map(|(k, v)| v.first().map(|h| format!("{k}=「{h}」")))
            .collect::<Vec<_>>()
            .join(" ");
            (f.id, f.name.clone(), cols)
        })
        .collect();
    render(
        status,
        &SettingsPage {
            nav: Nav::of(session),
            can_edit: session.role().allows(Permission::WriteMasters),
            flash,
            form_error,
            errors,
            s,
            formats,
        },
    )
}

async fn settings_page(State(st): State<AppState>, session: StaffSession) -> Response {
    settings_view(&st, &session, String::new(), None, StatusCode::OK).await
}

async fn settings_save(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let s = ShippingSettings {
        sender_name: g("sender_name"),
        sender_phone: g("sender_phone"),
        sender_postal_code: g("sender_postal_code"),
        sender_address1: g("sender_address1"),
        sender_address2: g("sender_address2"),
        yamato_customer_code: g("yamato_customer_code"),
        yamato_class_code: g("yamato_class_code"),
        yamato_freight_number: g("yamato_freight_number"),
        sagawa_customer_code: g("sagawa_customer_code"),
        default_item_name: g("default_item_name"),
    };
    match st.store.save_shipping_settings(&s).await {
        Ok(_) => settings_view(&st, &session, "保存しました。".into(), None, StatusCode::OK).await,
        Err(StoreError::Invalid(e)) => {
            settings_view(
                &st,
                &session,
                String::new(),
                Some((e, s)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn format_add(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let input = ImportFormatInput {
        name: g("name"),
        order_number: g("order_number"),
        shipment_id: g("shipment_id"),
        tracking_number: g("tracking_number"),
        carrier: g("carrier"),
        shipment_status: g("shipment_status"),
        shipped_at: g("shipped_at"),
        carrier_code: g("carrier_code"),
    };
    match st.store.save_shipment_import_format(None, &input).await {
        Ok(_) => Redirect::to("/settings/shipping").into_response(),
        Err(StoreError::Invalid(e)) => error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.messages()),
        Err(e) => store_error_page(e),
    }
}

async fn format_delete(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    match st.store.delete_shipment_import_format(id).await {
        Ok(()) => Redirect::to("/settings/shipping").into_response(),
        Err(e) => store_error_page(e),
    }
}

/// The ゆうプリR import-filter guide, as a text file (CP932, as ゆうプリR's PC reads it).
async fn yupri_guide(_session: StaffSession) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=Shift_JIS"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"juchu_yupri_filter.txt\"",
            ),
        ],
        juchu_domain::carrier_file::encode_cp932(YUPRI_FILTER_GUIDE),
    )
        .into_response()
}
