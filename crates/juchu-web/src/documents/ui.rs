//! 帳票管理 in the admin UI: the shop's layouts of 納品書, 請求書 and 領収書
//! that PDF一括出力 offers.

use crate::AppState;
use crate::auth::StaffSession;
use crate::views::{Nav, render, store_error_page};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juchu_domain::access::Permission;
use juchu_domain::document::{Addressee, DocumentFormat, DocumentKind};
use juchu_store::StoreError;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/settings/document-formats",
            get(formats_page).post(format_add),
        )
        .route(
            "/settings/document-formats/{id}/delete",
            post(format_delete),
        )
}

/// The form's switches: (field, label, on in a new form).
const SWITCHES: &[(&str, &str, bool)] = &[
    ("show_order_number", "受注番号", true),
    (
        "show_ordered_on",
        "受注日（請求書・領収書では省けません）",
        true,
    ),
    ("show_product_code", "商品コード", true),
    (
        "show_prices",
        "金額（単価・金額・合計・消費税。外せるのは納品書だけ）",
        true,
    ),
    ("show_payment_method", "お支払方法", true),
    (
        "show_delivery",
        "配送情報（配送業者・配送予定日・時間帯・伝票番号）",
        false,
    ),
    ("show_logo", "ショップのロゴ", true),
];

#[derive(Template)]
#[template(path = "documents/formats.html")]
struct FormatsPage {
    nav: Nav,
    flash: String,
    form_error: String,
    /// (id, name, kind, what it prints)
    rows: Vec<(i64, String, &'static str, String)>,
    can_edit: bool,
    values: HashMap<String, String>,
    switches: Vec<(&'static str, &'static str, bool)>,
}

impl FormatsPage {
    fn val(&self, k: &str) -> &str {
        self.values.get(k).map(String::as_str).unwrap_or("")
    }
}

fn summary(f: &DocumentFormat) -> String {
    let mut parts = vec![format!(
        "表題「{}」",
        if f.title.is_empty() {
            f.kind.label()
        } else {
            &f.title
        }
    )];
    parts.push(
        match f.addressee {
            Addressee::Billing => "宛名: 請求先",
            Addressee::Shipping => "宛名: お届け先",
        }
        .into(),
    );
    let on = [
        (f.show_order_number, "受注番号"),
        (f.show_ordered_on, "受注日"),
        (f.show_product_code, "商品コード"),
        (f.show_prices, "金額"),
        (f.show_payment_method, "お支払方法"),
        (f.show_delivery, "配送情報"),
        (f.show_logo, "ロゴ"),
    ];
    let shown: Vec<&str> = on.iter().filter(|(y, _)| *y).map(|(_, l)| *l).collect();
    parts.push(format!("印字: {}", shown.join("・")));
    if !f.proviso.is_empty() {
        parts.push(format!("但し {}", f.proviso));
    }
    if !f.message.is_empty() {
        parts.push("メッセージあり".into());
    }
    parts.join(" / ")
}

async fn view(
    st: &AppState,
    session: &StaffSession,
    flash: String,
    form_error: String,
    values: HashMap<String, String>,
    status: StatusCode,
) -> Response {
    let formats = match st.store.document_formats().await {
        Ok(f) => f,
        Err(e) => return store_error_page(e),
    };
    let fresh = values.is_empty();
    let t = FormatsPage {
        nav: Nav::of(session),
        flash,
        form_error,
        rows: formats
            .iter()
            .map(|f| (f.id, f.name.clone(), f.kind.label(), summary(f)))
            .collect(),
        can_edit: session.role().allows(Permission::WriteMasters),
        switches: SWITCHES
            .iter()
            .map(|(k, l, default)| {
                (
                    *k,
                    *l,
                    if fresh {
                        *default
                    } else {
                        values.contains_key(*k)
                    },
                )
            })
            .collect(),
        values,
    };
    render(status, &t)
}

async fn formats_page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = match q.get("done").map(String::as_str) {
        Some("added") => "帳票フォーマットを追加しました。",
        Some("deleted") => "削除しました。",
        _ => "",
    };
    view(
        &st,
        &session,
        flash.into(),
        String::new(),
        HashMap::new(),
        StatusCode::OK,
    )
    .await
}

/// The format the form describes; an unknown kind is refused by name.
fn format_of(f: &HashMap<String, String>) -> Result<DocumentFormat, StoreError> {
    let text = |k: &str| f.get(k).cloned().unwrap_or_default();
    let kind = match text("kind").as_str() {
        "delivery_note" => DocumentKind::DeliveryNote,
        "invoice" => DocumentKind::Invoice,
        "receipt" => DocumentKind::Receipt,
        other => {
            return Err(juchu_domain::FieldErrors::single(
                "kind",
                "unknown",
                format!("帳票の種類「{other}」はありません"),
            )
            .into());
        }
    };
    let on = |k: &str| f.contains_key(k);
    Ok(DocumentFormat {
        id: 0,
        name: text("name"),
        kind,
        title: text("title"),
        addressee: if text("addressee") == "shipping" {
            Addressee::Shipping
        } else {
            Addressee::Billing
        },
        show_order_number: on("show_order_number"),
        show_ordered_on: on("show_ordered_on"),
        show_product_code: on("show_product_code"),
        show_prices: on("show_prices"),
        show_payment_method: on("show_payment_method"),
        show_delivery: on("show_delivery"),
        show_logo: on("show_logo"),
        proviso: text("proviso"),
        message: text("message"),
    })
}

async fn format_add(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let result = match format_of(&f) {
        Ok(format) => st.store.add_document_format(&format).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Redirect::to("/settings/document-formats?done=added").into_response(),
        Err(StoreError::Invalid(e)) => {
            let mut values = f;
            values.remove("csrf");
            // Keeps the form as it was sent, even with every switch off.
            values.insert("sent".into(), "1".into());
            view(
                &st,
                &session,
                String::new(),
                format!("保存できません: {}", e.messages()),
                values,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn format_delete(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    match st.store.delete_document_format(id).await {
        Ok(()) => Redirect::to("/settings/document-formats?done=deleted").into_response(),
        Err(e) => store_error_page(e),
    }
}
