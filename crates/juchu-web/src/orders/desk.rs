//! What an operator does for one order from its page besides editing it:
//! print its 納品書 / 請求書 / 領収書 at once (a PDF, no job), and send it a
//! mail from a template, previewed with its data and edited before sending.

use super::ui::{Feedback, order_page};
use crate::AppState;
use crate::auth::StaffSession;
use crate::views::{error_page, refuse_post, store_error_page, urlencode};
use axum::Form;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juchu_domain::access::Permission;
use juchu_domain::document::DocumentKind;
use juchu_store::{StoreError, WrittenMail};
use serde_json::json;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders/{number}/documents/{kind}", get(print))
        .route("/orders/{number}/mail-preview", get(mail_preview))
        .route("/orders/{number}/mails", post(send_mail))
        .route("/orders/{number}/messages", post(send_message))
}

pub fn document_kind(s: &str) -> Option<DocumentKind> {
    match s {
        "delivery_note" => Some(DocumentKind::DeliveryNote),
        "invoice" => Some(DocumentKind::Invoice),
        "receipt" => Some(DocumentKind::Receipt),
        _ => None,
    }
}

/// `?format_id=` chooses one of the shop's formats (帳票管理); none: the standard one.
async fn print(
    State(st): State<AppState>,
    _session: StaffSession,
    Path((number, kind)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(kind) = document_kind(&kind) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "その帳票はありません（納品書・請求書・領収書）",
        );
    };
    let format_id = match q
        .get("format_id")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(id) => match id.parse() {
            Ok(id) => Some(id),
            Err(_) => return error_page(StatusCode::BAD_REQUEST, "format_id は数値です"),
        },
    };
    match st.store.order_document_pdf(&number, kind, format_id).await {
        Ok(pdf) => {
            let file = format!("{}_{}.pdf", kind.label(), number);
            (
                [
                    (header::CONTENT_TYPE, "application/pdf".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!(
                            "attachment; filename=\"{}.pdf\"; filename*=UTF-8''{}",
                            urlencode(&number),
                            urlencode(&file)
                        ),
                    ),
                ],
                pdf,
            )
                .into_response()
        }
        Err(StoreError::Invalid(e)) => error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("{}を印刷できません: {}", kind.label(), e.messages()),
        ),
        Err(StoreError::Other(why)) => {
            tracing::error!(error = %why, "printing a document failed");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("{}を作れません: {why}", kind.label()),
            )
        }
        Err(e) => store_error_page(e),
    }
}

/// The chosen template rendered with this order's data, to edit before sending.
async fn mail_preview(
    State(st): State<AppState>,
    _session: StaffSession,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let code = q.get("template").map(String::as_str).unwrap_or("");
    match st.store.preview_mail(code, &number, None).await {
        Ok((subject, body)) => Json(json!({ "subject": subject, "body": body })).into_response(),
        Err(e) => {
            let (status, message) = match e {
                StoreError::NotFound(what) => {
                    (StatusCode::NOT_FOUND, format!("{what}が見つかりません"))
                }
                StoreError::Invalid(fe) => (StatusCode::UNPROCESSABLE_ENTITY, fe.messages()),
                other => {
                    tracing::error!(error = %other, "mail preview failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "内部エラーが発生しました".into(),
                    )
                }
            };
            (
                status,
                Json(json!({ "code": "preview_failed", "message": message })),
            )
                .into_response()
        }
    }
}

async fn send_mail(
    State(st): State<AppState>,
    session: StaffSession,
    Path(number): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let mail = WrittenMail {
        template_code: g("template"),
        subject: g("subject"),
        body: g("body"),
    };
    match st
        .store
        .send_order_mail(&number, &mail, &session.actor())
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/orders/{}?tab=payment&saved=mail#mails",
            urlencode(&number)
        ))
        .into_response(),
        Err(StoreError::Invalid(e)) => {
            let fb = Feedback {
                flash: String::new(),
                form_error: format!("メールを送れません: {}", e.messages()),
                errors: e
                    .0
                    .iter()
                    .map(|x| (x.field.clone(), x.message.clone()))
                    .collect(),
                values: f.clone(),
            };
            order_page(
                &st,
                &session,
                &number,
                "payment",
                fb,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

/// 管理者用スペース: a message to the customer, read in マイページ.
async fn send_message(
    State(st): State<AppState>,
    session: StaffSession,
    Path(number): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let body = f.get("body").cloned().unwrap_or_default();
    let notify = f.get("notify").is_some_and(|v| v == "1");
    match st
        .store
        .post_order_message(
            &number,
            juchu_domain::mypage::MessageAuthor::Shop,
            &body,
            notify,
            &session.actor(),
        )
        .await
    {
        Ok(posted) => {
            let saved = match posted.mail {
                Some(Ok(_)) => "message_mail",
                _ => "message",
            };
            if let Some(Err(why)) = posted.mail {
                // The message is there; the mail could not go (no address,
                // 送信しない): say so on the page.
                let fb = Feedback {
                    flash: format!(
                        "メッセージを送りました。ただしお知らせメールは送れませんでした: {why}"
                    ),
                    form_error: String::new(),
                    errors: HashMap::new(),
                    values: HashMap::new(),
                };
                return order_page(&st, &session, &number, "messages", fb, StatusCode::OK).await;
            }
            Redirect::to(&format!(
                "/orders/{}?tab=messages&saved={saved}#messages",
                urlencode(&number)
            ))
            .into_response()
        }
        Err(StoreError::Invalid(e)) => {
            let mut values = HashMap::new();
            values.insert("message_body".to_string(), body);
            let fb = Feedback {
                flash: String::new(),
                form_error: format!("メッセージを送れません: {}", e.messages()),
                errors: e
                    .0
                    .iter()
                    .map(|x| (x.field.clone(), x.message.clone()))
                    .collect(),
                values,
            };
            order_page(
                &st,
                &session,
                &number,
                "messages",
                fb,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}
