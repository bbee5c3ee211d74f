//! RPA設定 (the seed's automation settings, native): スタート / 強制停止, the
//! rules per form and product (create, edit, 複製, delete, dry run), and the
//! tag master.

use crate::AppState;
use crate::auth::StaffSession;
use crate::views::*;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use juchu_domain::access::Permission;
use juchu_domain::calendar::PauseFrom;
use juchu_domain::request_rule::{
    MessageChannel, RefusalConditions, RequestRule, RuleType, TagChange, VARIABLES,
};
use juchu_domain::status::SubscriptionStatus;
use juchu_store::{DryRunLine, StoreError};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/request-automation", get(page))
        .route("/settings/request-automation/start", post(start))
        .route("/settings/request-automation/stop", post(stop))
        .route("/settings/request-automation/tags", post(add_tag))
        .route("/settings/request-automation/tags/delete", post(delete_tag))
        .route(
            "/settings/request-automation/rules/new",
            get(new_rule).post(create_rule),
        )
        .route(
            "/settings/request-automation/rules/{id}",
            get(edit_rule).post(save_rule),
        )
        .route(
            "/settings/request-automation/rules/{id}/copy",
            post(copy_rule),
        )
        .route(
            "/settings/request-automation/rules/{id}/delete",
            post(delete_rule),
        )
        .route(
            "/settings/request-automation/rules/{id}/dry-run",
            get(dry_run),
        )
}

struct RuleRow {
    id: i64,
    name: String,
    form: String,
    rule_type: &'static str,
    products: String,
    details: String,
    refusal: String,
    success: String,
}

fn describe_refusal(c: &RefusalConditions) -> String {
    let mut out = Vec::new();
    if let Some(n) = c.min_count {
        out.push(format!("定期回数{n}回未満"));
    }
    if !c.allowed_statuses.is_empty() {
        out.push(format!(
            "ステータスが{}以外",
            c.allowed_statuses
                .iter()
                .map(|s| s.label())
                .collect::<Vec<_>>()
                .join("・")
        ));
    }
    if !c.refused_order_statuses.is_empty() {
        out.push(format!(
            "最新受注の対応状況が{}",
            c.refused_order_statuses.join("・")
        ));
    }
    if let Some(n) = c.min_days_to_ship {
        out.push(format!("次回発送予定日まで{n}日未満"));
    }
    out.join(" / ")
}

fn rule_row(r: &RequestRule, forms: &HashMap<i64, String>) -> RuleRow {
    let mut success = Vec::new();
    if !r.on_success.is_empty() {
        success.push(format!("タグ {}", r.on_success.describe()));
    }
    if !r.success_memo.trim().is_empty() {
        success.push("メモ記入".into());
    }
    if !r.success_label.trim().is_empty() {
        success.push(format!("ラベル「{}」", r.success_label));
    }
    if r.message_channel != MessageChannel::None {
        success.push(format!("メッセージ（{}）", r.message_channel.label()));
    }
    let mut refusal = describe_refusal(&r.refusal);
    if !r.on_refusal.is_empty() {
        refusal = format!("{refusal}（タグ {}）", r.on_refusal.describe());
    }
    RuleRow {
        id: r.id,
        name: r.name.clone(),
        form: r
            .form_id
            .map(|f| forms.get(&f).cloned().unwrap_or_else(|| format!("#{f}")))
            .unwrap_or_else(|| "すべてのフォーム".into()),
        rule_type: r.rule_type.label(),
        products: r.products.join(", "),
        details: match r.rule_type {
            RuleType::Pause => match r.pause_base {
                PauseFrom::Next => "次回配送予定日に加算".into(),
                PauseFrom::Previous => "前回配送予定日に加算".into(),
            },
            RuleType::Cancel => format!("解約理由: {}", r.cancel_reason),
            RuleType::Skip => "次のお届け日へ".into(),
            RuleType::CycleChange => "col_3 のサイクルへ".into(),
        },
        refusal,
        success: success.join(" / "),
    }
}

#[derive(Template)]
#[template(path = "requests/automation.html")]
struct AutomationPage {
    nav: Nav,
    running: bool,
    waiting: i64,
    rules: Vec<RuleRow>,
    tags: Vec<String>,
    flash: String,
    errors: Vec<String>,
}

async fn forms_by_id(st: &AppState) -> Result<HashMap<i64, String>, StoreError> {
    Ok(st
        .store
        .request_forms()
        .await?
        .into_iter()
        .map(|f| (f.id, f.name))
        .collect())
}

async fn automation_page(
    st: &AppState,
    session: &StaffSession,
    flash: &str,
    errors: Vec<String>,
) -> Response {
    let (running, waiting, rules, tags, forms) = match (
        st.store.request_automation_running().await,
        st.store.requests_awaiting_automation().await,
        st.store.request_rules().await,
        st.store.request_tags().await,
        forms_by_id(st).await,
    ) {
        (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e)) => (a, b, c, d, e),
        (Err(e), ..)
        | (_, Err(e), ..)
        | (_, _, Err(e), ..)
        | (_, _, _, Err(e), _)
        | (.., Err(e)) => {
            return store_error_page(e);
        }
    };
    render(
        form_status(&errors),
        &AutomationPage {
            nav: Nav::of(session),
            running,
            waiting,
            rules: rules.iter().map(|r| rule_row(r, &forms)).collect(),
            tags,
            flash: flash.into(),
            errors,
        },
    )
}

async fn page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = match q.get("done").map(String::as_str) {
        Some("started") => "自動処理をスタートしました。停止中に届いた申請から順に処理します。",
        Some("stopped") => "自動処理を強制停止しました。届いた申請は未対応のまま待ちます。",
        Some("saved") => "保存しました。",
        Some("copied") => "複製しました。",
        Some("deleted") => "削除しました。",
        _ => "",
    };
    automation_page(&st, &session, flash, vec![]).await
}

async fn set_running(
    st: &AppState,
    session: &StaffSession,
    f: &HashMap<String, String>,
    on: bool,
) -> Response {
    if let Some(refused) = refuse_post(session, Permission::WriteMasters, f) {
        return refused;
    }
    match st.store.set_request_automation(on, &session.actor()).await {
        Ok(()) => Redirect::to(if on {
            "/settings/request-automation?done=started"
        } else {
            "/settings/request-automation?done=stopped"
        })
        .into_response(),
        Err(e) => store_error_page(e),
    }
}

async fn start(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    set_running(&st, &session, &f, true).await
}

async fn stop(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    set_running(&st, &session, &f, false).await
}

async fn add_tag(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    match st
        .store
        .add_request_tag(f.get("name").map(String::as_str).unwrap_or(""))
        .await
    {
        Ok(()) => Redirect::to("/settings/request-automation?done=saved#tags").into_response(),
        Err(StoreError::Invalid(e)) => {
            automation_page(
                &st,
                &session,
                "",
                e.0.into_iter().map(|x| x.message).collect(),
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn delete_tag(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    match st
        .store
        .delete_request_tag(f.get("name").map(String::as_str).unwrap_or(""))
        .await
    {
        Ok(()) => Redirect::to("/settings/request-automation?done=deleted#tags").into_response(),
        Err(e) => store_error_page(e),
    }
}

#[derive(Template)]
#[template(path = "requests/rule_edit.html")]
struct RuleEditPage {
    nav: Nav,
    id: i64,
    f: HashMap<String, String>,
    /// Multi-valued fields: allowed statuses and refused order statuses.
    allowed: Vec<(&'static str, &'static str, bool)>,
    order_statuses: Vec<(String, bool)>,
    forms: Vec<(i64, String)>,
    reasons: Vec<String>,
    labels: Vec<String>,
    variables: Vec<(&'static str, &'static str)>,
    errors: Vec<String>,
}

impl RuleEditPage {
    fn v(&self, k: &str) -> String {
        self.f.get(k).cloned().unwrap_or_default()
    }
    fn is(&self, k: &str, v: &str) -> bool {
        self.f.get(k).is_some_and(|x| x == v)
    }
}

fn join(v: &[String]) -> String {
    v.join(", ")
}

/// A rule's fields as the form shows them.
fn fields_of(r: &RequestRule) -> HashMap<String, String> {
    let mut f = HashMap::new();
    f.insert("name".into(), r.name.clone());
    f.insert(
        "form_id".into(),
        r.form_id.map(|x| x.to_string()).unwrap_or_default(),
    );
    f.insert("type".into(), r.rule_type.code().into());
    f.insert("products".into(), r.products.join("\n"));
    f.insert(
        "pause_base".into(),
        match r.pause_base {
            PauseFrom::Next => "next",
            PauseFrom::Previous => "previous",
        }
        .into(),
    );
    f.insert("cancel_reason".into(), r.cancel_reason.clone());
    f.insert(
        "min_count".into(),
        r.refusal
            .min_count
            .map(|x| x.to_string())
            .unwrap_or_default(),
    );
    f.insert(
        "min_days_to_ship".into(),
        r.refusal
            .min_days_to_ship
            .map(|x| x.to_string())
            .unwrap_or_default(),
    );
    f.insert("refusal_add".into(), join(&r.on_refusal.add));
    f.insert("refusal_remove".into(), join(&r.on_refusal.remove));
    f.insert("success_add".into(), join(&r.on_success.add));
    f.insert("success_remove".into(), join(&r.on_success.remove));
    f.insert("success_memo".into(), r.success_memo.clone());
    f.insert("success_label".into(), r.success_label.clone());
    f.insert(
        "message_channel".into(),
        match r.message_channel {
            MessageChannel::None => "none",
            MessageChannel::Mail => "mail",
            MessageChannel::Line => "line",
        }
        .into(),
    );
    f.insert("message".into(), r.message.clone());
    f
}

fn list_of(raw: &str) -> Vec<String> {
    raw.split([',', '、', '\n'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The rule the form describes; a number that is not one is said.
fn rule_from_form(id: i64, pairs: &[(String, String)]) -> Result<RequestRule, Vec<String>> {
    let f: HashMap<String, String> = pairs.iter().cloned().collect();
    let g = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let mut errors = Vec::new();
    let mut number = |k: &str, label: &str| {
        let v = g(k);
        if v.is_empty() {
            return None;
        }
        match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(format!("{label}は数字で入力してください（「{v}」）"));
                None
            }
        }
    };
    let min_count = number("min_count", "定期回数");
    let min_days = number("min_days_to_ship", "次回発送予定日までの日数");
    let form_id = number("form_id", "フォーム");
    let rule_type = RuleType::ALL
        .iter()
        .copied()
        .find(|t| t.code() == g("type"))
        .unwrap_or(RuleType::Pause);
    let many = |k: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let rule = RequestRule {
        id,
        name: g("name"),
        form_id,
        products: list_of(&g("products")),
        rule_type,
        pause_base: if g("pause_base") == "previous" {
            PauseFrom::Previous
        } else {
            PauseFrom::Next
        },
        cancel_reason: g("cancel_reason"),
        refusal: RefusalConditions {
            min_count,
            allowed_statuses: many("allowed_status")
                .iter()
                .filter_map(|s| SubscriptionStatus::parse(s))
                .collect(),
            refused_order_statuses: many("refused_order_status"),
            min_days_to_ship: min_days,
        },
        on_refusal: TagChange {
            add: list_of(&g("refusal_add")),
            remove: list_of(&g("refusal_remove")),
        },
        on_success: TagChange {
            add: list_of(&g("success_add")),
            remove: list_of(&g("success_remove")),
        },
        success_memo: f.get("success_memo").cloned().unwrap_or_default(),
        success_label: g("success_label"),
        message_channel: match g("message_channel").as_str() {
            "mail" => MessageChannel::Mail,
            "line" => MessageChannel::Line,
            _ => MessageChannel::None,
        },
        message: f.get("message").cloned().unwrap_or_default(),
        position: 0,
    };
    if errors.is_empty() {
        Ok(rule)
    } else {
        Err(errors)
    }
}

async fn edit_page(
    st: &AppState,
    session: &StaffSession,
    id: i64,
    f: HashMap<String, String>,
    allowed: &[SubscriptionStatus],
    refused: &[String],
    errors: Vec<String>,
) -> Response {
    let (forms, reasons, masters) = match (
        st.store.request_forms().await,
        st.store.subscription_reasons().await,
        st.store.masters().await,
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return store_error_page(e),
    };
    render(
        form_status(&errors),
        &RuleEditPage {
            nav: Nav::of(session),
            id,
            f,
            allowed: SubscriptionStatus::ALL
                .iter()
                .map(|s| (s.code(), s.label(), allowed.contains(s)))
                .collect(),
            order_statuses: masters
                .handling_statuses
                .iter()
                .map(|s| (s.name.clone(), refused.contains(&s.name)))
                .collect(),
            forms: forms.into_iter().map(|f| (f.id, f.name)).collect(),
            reasons: reasons.cancel,
            labels: masters.labels.iter().map(|l| l.name.clone()).collect(),
            variables: VARIABLES.to_vec(),
            errors,
        },
    )
}

async fn new_rule(State(st): State<AppState>, session: StaffSession) -> Response {
    let mut f = HashMap::new();
    f.insert("type".into(), "pause".into());
    f.insert("pause_base".into(), "next".into());
    edit_page(
        &st,
        &session,
        0,
        f,
        &[SubscriptionStatus::Active],
        &[],
        vec![],
    )
    .await
}

async fn edit_rule(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
) -> Response {
    match st.store.request_rule(id).await {
        Ok(r) => {
            edit_page(
                &st,
                &session,
                id,
                fields_of(&r),
                &r.refusal.allowed_statuses,
                &r.refusal.refused_order_statuses,
                vec![],
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn save(
    st: &AppState,
    session: &StaffSession,
    id: i64,
    pairs: Vec<(String, String)>,
) -> Response {
    let f: HashMap<String, String> = pairs.iter().cloned().collect();
    if let Some(refused) = refuse_post(session, Permission::WriteMasters, &f) {
        return refused;
    }
    let allowed: Vec<SubscriptionStatus> = pairs
        .iter()
        .filter(|(k, _)| k == "allowed_status")
        .filter_map(|(_, v)| SubscriptionStatus::parse(v))
        .collect();
    let refused: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "refused_order_status")
        .map(|(_, v)| v.clone())
        .collect();
    let rule = match rule_from_form(id, &pairs) {
        Ok(r) => r,
        Err(errors) => return edit_page(st, session, id, f, &allowed, &refused, errors).await,
    };
    match st.store.save_request_rule(&rule).await {
        Ok(_) => Redirect::to("/settings/request-automation?done=saved").into_response(),
        Err(StoreError::Invalid(e)) => {
            edit_page(
                st,
                session,
                id,
                f,
                &allowed,
                &refused,
                e.0.into_iter().map(|x| x.message).collect(),
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn create_rule(
    State(st): State<AppState>,
    session: StaffSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    save(&st, &session, 0, pairs).await
}

async fn save_rule(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    save(&st, &session, id, pairs).await
}

async fn copy_rule(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    match st.store.copy_request_rule(id).await {
        Ok(_) => Redirect::to("/settings/request-automation?done=copied").into_response(),
        Err(e) => store_error_page(e),
    }
}

async fn delete_rule(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    match st.store.delete_request_rule(id).await {
        Ok(()) => Redirect::to("/settings/request-automation?done=deleted").into_response(),
        Err(e) => store_error_page(e),
    }
}

#[derive(Template)]
#[template(path = "requests/rule_dry_run.html")]
struct DryRunPage {
    nav: Nav,
    rule: RuleRow,
    days: i64,
    lines: Vec<DryRunLine>,
    counts: Vec<(String, usize)>,
}

async fn dry_run(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let days = q
        .get("days")
        .and_then(|d| d.trim().parse::<i64>().ok())
        .unwrap_or(30)
        .clamp(1, 365);
    let (rule, forms) = match (st.store.request_rule(id).await, forms_by_id(&st).await) {
        (Ok(r), Ok(f)) => (r, f),
        (Err(e), _) | (_, Err(e)) => return store_error_page(e),
    };
    let mut lines = match st.store.dry_run_request_rule(&rule, days, 2000).await {
        Ok(l) => l,
        Err(e) => return store_error_page(e),
    };
    for l in &mut lines {
        l.received_at = super::display(&l.received_at);
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for l in &lines {
        match counts.iter_mut().find(|(k, _)| *k == l.outcome) {
            Some(c) => c.1 += 1,
            None => counts.push((l.outcome.clone(), 1)),
        }
    }
    render(
        StatusCode::OK,
        &DryRunPage {
            nav: Nav::of(&session),
            rule: rule_row(&rule, &forms),
            days,
            lines,
            counts,
        },
    )
}
