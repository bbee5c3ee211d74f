//! 申請 (seed 004): intake over the API, webhooks and LIFF (`api`), handling
//! over the API (`handling_api`), 受信BOX (`inbox`), RPA設定 (`automation_ui`),
//! 分析 (`analytics_ui`), and the admin's フォーム管理 and マイページ設定 (`ui`).

pub mod analytics_ui;
pub mod api;
pub mod automation_ui;
pub mod handling_api;
pub mod inbox;
pub mod ui;

use crate::AppState;
use crate::error::ApiError;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use juchu_domain::csv_format::{neutralise, record_line};
use juchu_domain::request::Channel;

/// Makes a signed link for a subscription's customer: (full URL, signed
/// part, form id). The first form when none is named.
pub(crate) async fn make_link(
    st: &AppState,
    subscription_id: i64,
    form_id: Option<i64>,
    valid_days: Option<i64>,
) -> Result<(String, String, i64), ApiError> {
    let sub = st.store.subscription(subscription_id).await?;
    let Some(customer_id) = sub.customer_id else {
        return Err(ApiError::invalid(juchu_domain::FieldErrors::single(
            "subscription_id",
            "no_customer",
            "顧客のない定期受注にはリンクを作れません",
        )));
    };
    let form_id = match form_id {
        Some(f) => f,
        None => st
            .store
            .request_forms()
            .await?
            .first()
            .map(|f| f.id)
            .ok_or_else(|| {
                ApiError::invalid(juchu_domain::FieldErrors::single(
                    "form_id",
                    "no_form",
                    "申請フォームがありません。フォーム管理で作成してください",
                ))
            })?,
    };
    let link = st
        .store
        .request_link_token(
            customer_id,
            subscription_id,
            form_id,
            valid_days.unwrap_or(30),
        )
        .await?;
    let base = st.store.public_url().await?;
    Ok((format!("{base}/r/{link}"), link, form_id))
}

/// A customer's case file: every request and every intent with its time.
pub(crate) async fn case_file_csv(st: &AppState, customer_id: i64) -> Result<Vec<u8>, ApiError> {
    let customer = st.store.customer(customer_id).await?;
    let intents = st.store.customer_intents(customer_id).await?;
    let requests = st
        .store
        .requests(&juchu_store::requests::RequestQuery {
            customer_id: Some(customer_id),
            limit: 500,
            ..Default::default()
        })
        .await?;
    let mut out: Vec<u8> = b"\xef\xbb\xbf".to_vec();
    let head = |s: &str| s.to_string();
    out.extend(
        record_line(&[
            head("記録"),
            head("日時"),
            head("顧客ID"),
            head("顧客名"),
            head("定期受注番号"),
            head("申請ID"),
            head("経路"),
            head("内容"),
            head("詳細"),
        ])
        .as_bytes(),
    );
    let name = format!(
        "{} {}",
        customer.address.family_name, customer.address.given_name
    );
    let channel_label = |c: &str| Channel::parse(c).map(|c| c.label()).unwrap_or("");
    for i in &intents {
        out.extend(
            record_line(&[
                "意思表示".into(),
                display(&i.at),
                customer_id.to_string(),
                neutralise(name.clone()),
                i.subscription_id.map(|s| s.to_string()).unwrap_or_default(),
                i.request_id.map(|s| s.to_string()).unwrap_or_default(),
                channel_label(&i.channel).into(),
                i.label().into(),
                neutralise(i.detail.clone()),
            ])
            .as_bytes(),
        );
    }
    for r in requests.iter().rev() {
        let answers = r
            .answers
            .iter()
            .map(|a| format!("{}={}", a.name, a.value))
            .collect::<Vec<_>>()
            .join(" / ");
        out.extend(
            record_line(&[
                "申請".into(),
                display(&r.received_at),
                customer_id.to_string(),
                neutralise(name.clone()),
                r.subscription_id.map(|s| s.to_string()).unwrap_or_default(),
                r.id.to_string(),
                r.channel.label().into(),
                neutralise(format!(
                    "{}（{}{}）",
                    r.request_type,
                    r.status.label(),
                    if r.status_reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", r.status_reason)
                    }
                )),
                neutralise(answers),
            ])
            .as_bytes(),
        );
    }
    Ok(out)
}

/// A stored time as the admin shows it (Japan, `2026/12/07 13:02`).
pub(crate) fn display(ts: &str) -> String {
    juchu_domain::time::parse_ts(ts)
        .map(juchu_domain::time::display_ts)
        .unwrap_or_else(|| ts.to_string())
}

pub(crate) fn csv_download(bytes: Vec<u8>, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}
