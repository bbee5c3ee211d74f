//! 在庫: stock per product — 在庫数, 引当数, 引当可能数 and 欠品 with the orders
//! short — and 在庫数 set after a count.

use crate::AppState;
use crate::auth::StaffSession;
use crate::views::{Nav, refuse_post, render, store_error_page};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use juchu_domain::access::Permission;
use juchu_store::StoreError;
use juchu_store::stock::StockLine;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new().route("/stock", get(stock_page).post(stock_set))
}

#[derive(Template)]
#[template(path = "stock/stock.html")]
struct StockPage {
    nav: Nav,
    lines: Vec<StockLine>,
    /// (code, name) of products not under stock control.
    others: Vec<(String, String)>,
    can_edit: bool,
    flash: String,
    form_error: String,
}

async fn page(
    st: &AppState,
    session: &StaffSession,
    flash: String,
    form_error: String,
    status: StatusCode,
) -> Response {
    let (lines, products) = match (
        st.store.stock_levels().await,
        st.store.list_products(1000, 0).await,
    ) {
        (Ok(l), Ok((p, _))) => (l, p),
        (Err(e), _) | (_, Err(e)) => return store_error_page(e),
    };
    let others = products
        .into_iter()
        .filter(|p| !lines.iter().any(|l| l.code == p.code))
        .map(|p| (p.code, p.name))
        .collect();
    render(
        status,
        &StockPage {
            nav: Nav::of(session),
            lines,
            others,
            can_edit: session.role().allows(Permission::WriteMasters),
            flash,
            form_error,
        },
    )
}

async fn stock_page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = if q.contains_key("saved") {
        "在庫数を保存しました。".to_string()
    } else {
        String::new()
    };
    page(&st, &session, flash, String::new(), StatusCode::OK).await
}

/// 在庫数 of one product after a count; empty with 「在庫管理しない」 takes
/// it out of stock control.
async fn stock_set(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let code = f.get("code").cloned().unwrap_or_default();
    let on_hand = if f.contains_key("unmanage") {
        None
    } else {
        let typed = f
            .get("on_hand")
            .map(|s| s.trim().replace([',', '，'], ""))
            .unwrap_or_default();
        match typed.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let msg = format!("在庫数「{typed}」は数値で入力してください（商品 {code}）");
                return page(
                    &st,
                    &session,
                    String::new(),
                    msg,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        }
    };
    match st.store.set_stock(&code, on_hand).await {
        Ok(()) => Redirect::to("/stock?saved=1").into_response(),
        Err(StoreError::Invalid(e)) => {
            page(
                &st,
                &session,
                String::new(),
                e.messages(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}
