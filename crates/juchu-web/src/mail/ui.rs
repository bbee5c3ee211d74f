//! メールテンプレート: the shop edits subject and body; a template that does not
//! render is refused with the reason and the text as typed.

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
use juchu_domain::mail::MailTemplate;
use juchu_store::StoreError;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/mail-templates", get(page))
        .route("/settings/mail-templates/{code}", post(save))
        .route("/settings/shop", get(shop_page).post(save_shop))
        .route("/settings/points", post(save_points))
        .route("/settings/shop-logo", post(save_logo))
}

#[derive(Template)]
#[template(path = "mail/templates.html")]
struct Page {
    nav: Nav,
    templates: Vec<MailTemplate>,
    variables: Vec<&'static str>,
    can_edit: bool,
    flash: String,
    form_error: String,
    shop: juchu_domain::mail::ShopInfo,
    points: juchu_store::orders::PointsSettings,
    /// 対応状況 names, for the status points are granted at.
    statuses: Vec<String>,
    /// (template code, order number, subject, body) of a preview.
    preview: Option<(String, String, String, String)>,
    /// ショップ情報 (shop, logo, points) instead of the templates.
    shop_page: bool,
}

struct Shown {
    shop_page: bool,
    flash: String,
    form_error: String,
    typed: Option<MailTemplate>,
    preview: Option<(String, String, String, String)>,
    shop: Option<juchu_domain::mail::ShopInfo>,
}

impl Shown {
    fn flash(flash: String) -> Self {
        Shown {
            shop_page: false,
            flash,
            form_error: String::new(),
            typed: None,
            preview: None,
            shop: None,
        }
    }
}

async fn view(st: &AppState, session: &StaffSession, shown: Shown, status: StatusCode) -> Response {
    let Shown {
        shop_page,
        flash,
        form_error,
        typed,
        preview,
        shop,
    } = shown;
    let (mut templates, stored_shop, points, masters) = match (
        st.store.mail_templates().await,
        st.store.shop_settings().await,
        st.store.points_settings().await,
        st.store.masters().await,
    ) {
        (Ok(t), Ok(s), Ok(p), Ok(m)) => (t, s, p, m),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            return store_error_page(e);
        }
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
        shop: shop.unwrap_or(stored_shop),
        points,
        statuses: masters
            .handling_statuses
            .iter()
            .map(|h| h.name.clone())
            .collect(),
        preview,
        shop_page,
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
    view(&st, &session, Shown::flash(flash), StatusCode::OK).await
}

async fn shop_page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = if q.contains_key("saved") {
        "保存しました。".to_string()
    } else {
        String::new()
    };
    let shown = Shown {
        shop_page: true,
        ..Shown::flash(flash)
    };
    view(&st, &session, shown, StatusCode::OK).await
}

async fn save_shop(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let shop = juchu_domain::mail::ShopInfo {
        name: g("name"),
        email: g("email"),
        phone: g("phone"),
        address: g("address"),
        registration_number: g("registration_number"),
        bank_account: g("bank_account"),
        payment_due_days: match g("payment_due_days").trim() {
            "" => 0,
            d => d.parse().unwrap_or(-1),
        },
    };
    match st.store.update_shop_settings(&shop).await {
        Ok(_) => Redirect::to("/settings/shop?saved=1").into_response(),
        Err(StoreError::Invalid(e)) => {
            let shown = Shown {
                form_error: format!("ショップ情報を保存できません: {}", e.messages()),
                shop: Some(shop),
                shop_page: true,
                ..Shown::flash(String::new())
            };
            view(&st, &session, shown, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => store_error_page(e),
    }
}

async fn save_points(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let rate = f.get("rate_percent").map(|v| v.trim()).unwrap_or("0");
    let Ok(rate_percent) = rate.parse::<u32>() else {
        let shown = Shown {
            form_error: format!(
                "ポイント設定を保存できません: 付与率「{rate}」は0〜100の整数で入力してください"
            ),
            shop_page: true,
            ..Shown::flash(String::new())
        };
        return view(&st, &session, shown, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let p = juchu_store::orders::PointsSettings {
        rate_percent,
        grant_status: f.get("grant_status").cloned().unwrap_or_default(),
    };
    match st.store.save_points_settings(&p).await {
        Ok(()) => Redirect::to("/settings/shop?saved=1").into_response(),
        Err(StoreError::Invalid(e)) => {
            let shown = Shown {
                form_error: format!("ポイント設定を保存できません: {}", e.messages()),
                shop_page: true,
                ..Shown::flash(String::new())
            };
            view(&st, &session, shown, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => store_error_page(e),
    }
}

async fn save(
    State(st): State<AppState>,
    session: StaffSession,
    Path(code): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    // A preview changes nothing: anyone who may read may preview.
    let needs = if f.contains_key("preview") {
        Permission::Read
    } else {
        Permission::WriteMasters
    };
    if let Some(refused) = crate::views::refuse_post(&session, needs, &f) {
        return refused;
    }
    let subject = f.get("subject").cloned().unwrap_or_default();
    let body = f.get("body").cloned().unwrap_or_default();
    let typed = MailTemplate {
        code: code.clone(),
        name: String::new(),
        subject: subject.clone(),
        body: body.clone(),
    };
    if f.contains_key("preview") {
        let number = f.get("order_number").map(|s| s.trim()).unwrap_or("");
        let (preview, form_error, status) = match st
            .store
            .preview_mail(&code, number, Some((&subject, &body)))
            .await
        {
            Ok((s, b)) => (
                Some((code.clone(), number.to_string(), s, b)),
                String::new(),
                StatusCode::OK,
            ),
            Err(StoreError::NotFound(what)) => (
                None,
                format!("プレビューできません: {what}「{number}」が見つかりません"),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            Err(StoreError::Invalid(e)) => (
                None,
                format!("プレビューできません: {}", e.messages()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            Err(e) => return store_error_page(e),
        };
        let shown = Shown {
            form_error,
            typed: Some(typed),
            preview,
            ..Shown::flash(String::new())
        };
        return view(&st, &session, shown, status).await;
    }
    match st.store.update_mail_template(&code, &subject, &body).await {
        Ok(_) => Redirect::to("/settings/mail-templates?saved=1").into_response(),
        Err(StoreError::Invalid(e)) => {
            let shown = Shown {
                form_error: format!("「{code}」を保存できません: {}", e.messages()),
                typed: Some(typed),
                ..Shown::flash(String::new())
            };
            view(&st, &session, shown, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => store_error_page(e),
    }
}

/// 帳票のロゴ: the file comes hex-encoded from the page's script (the form
/// is url-encoded like every other admin form).
async fn save_logo(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let result = if f.contains_key("remove") {
        st.store.delete_shop_logo().await
    } else {
        match hex::decode(f.get("logo_hex").map(|s| s.trim()).unwrap_or("")) {
            Ok(bytes) if !bytes.is_empty() => st.store.set_shop_logo(&bytes).await.map(|_| ()),
            _ => {
                return crate::views::error_page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "ロゴの画像ファイルを選んでください",
                );
            }
        }
    };
    match result {
        Ok(()) => Redirect::to("/settings/shop?saved=1").into_response(),
        Err(e) => crate::views::store_error_page(e),
    }
}
