//! メールテンプレート: the shop edits subject and body; a template that does not
//! render is refused with the reason and the text as typed.

use super::{Nav, render, store_error_page};
use crate::AppState;
use crate::auth::StaffSession;
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juchu_domain::access::Permission;
use juchu_domain::mail::MailTemplate;
use juchu_store::StoreError;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/mail-templates", get(page))
        .route("/settings/mail-templates/{code}", post(save))
}

#[derive(Template)]
#[template(path = "mail_templates.html")]
struct Page {
    nav: Nav,
    templates: Vec<MailTemplate>,
    variables: Vec<&'static str>,
    can_edit: bool,
    flash: String,
    form_error: String,
}

async fn view(
    st: &AppState,
    session: &StaffSession,
    flash: String,
    form_error: String,
    typed: Option<MailTemplate>,
    status: StatusCode,
) -> Response {
    let mut templates = match st.store.mail_templates().await {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    // Show what was typed for the template that failed, not the stored text.
    if let Some(typed) = typed {
        for t in &mut templates {
            if t.code == typed.code {
                t.subject = typed.subject.clone();
                t.body = typed.body.clone();
            }
        }
    }
    let t = Page {
        nav: Nav::of(session),
        templates,
        variables: juchu_domain::mail::VARIABLES.to_vec(),
        can_edit: session.role().allows(Permission::WriteMasters),
        flash,
        form_error,
    };
    render(status, &t)
}

async fn page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = if q.contains_key("saved") {
        "保存しました。".to_string()
    } else {
        String::new()
    };
    view(&st, &session, flash, String::new(), None, StatusCode::OK).await
}

async fn save(
    State(st): State<AppState>,
    session: StaffSession,
    Path(code): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = super::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let subject = f.get("subject").cloned().unwrap_or_default();
    let body = f.get("body").cloned().unwrap_or_default();
    match st.store.update_mail_template(&code, &subject, &body).await {
        Ok(_) => Redirect::to("/settings/mail-templates?saved=1").into_response(),
        Err(StoreError::Invalid(e)) => {
            let typed = MailTemplate {
                code: code.clone(),
                name: String::new(),
                subject,
                body,
            };
            let msg = format!(
                "「{code}」を保存できません: {}",
                e.0.iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join(" / ")
            );
            view(
                &st,
                &session,
                String::new(),
                msg,
                Some(typed),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}
