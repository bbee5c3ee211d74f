//! Handling requests over the API: 受信BOX changes (status, operator, tags,
//! memo), manual handling with a preview, 再実行, the automation rules
//! (RPA設定) and their start / stop, the tag master, usage CSV and analytics.

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, parse_json};
use crate::requests::api::{RequestJson, query_date};
use crate::requests::display;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::calendar::PauseFrom;
use juchu_domain::request::RequestStatus;
use juchu_domain::request_rule::{RequestRule, RuleType, commands_for};
use juchu_store::RequestCommand;
use juchu_store::requests::RequestQuery;
use juchu_store::requests::analytics::{Analytics, CountTable, OutcomeRow, Usage};

/// A change of a request from 受信BOX: only the fields sent change, all in
/// one transaction.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPatch {
    /// 未対応, 対応中, 対応完了, 対応不可 (with `status_reason`), or the codes.
    pub status: Option<String>,
    pub status_reason: Option<String>,
    /// A staff id; `null` unassigns.
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<i64>)]
    pub operator_id: Option<Option<i64>>,
    /// Tags from the master (replaces the request's tags).
    pub tags: Option<Vec<String>>,
    pub memo: Option<String>,
}

/// Manual handling of a request.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyBody {
    /// 休止, スキップ, 解約, サイクル変更 (or pause, skip, cancel, cycle_change).
    pub action: String,
    /// 休止: the period (「30日」「2ヶ月」); サイクル変更: the new cycle (「2ヶ月」).
    /// Default: what the customer wrote (col_2 / col_3).
    #[serde(default)]
    pub period: Option<String>,
    /// 休止: next (次回配送予定日, default) or previous (前回配送予定日).
    #[serde(default)]
    pub pause_base: Option<String>,
    /// 解約: the cancellation reason (from the reason master).
    #[serde(default)]
    pub reason: Option<String>,
    /// true: answer with the new dates and change nothing.
    #[serde(default)]
    pub preview: bool,
}

/// The subscription's dates a manual handling leaves (or would leave).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ApplyResult {
    pub preview: bool,
    pub summary: String,
    pub next_delivery_date: String,
    pub next_ship_date: String,
    pub subscription_status: String,
    /// The request after it (absent in a preview).
    pub request: Option<RequestJson>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AutomationJson {
    pub running: bool,
    /// Requests waiting for the automation.
    pub waiting: i64,
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagBody {
    pub name: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RequestDryRunJson {
    pub request_id: i64,
    pub received_at: String,
    #[serde(rename = "type")]
    pub request_type: String,
    /// 対応完了 / 対応不可 / エラー / 対象外.
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DryRunQuery {
    /// The last N days' requests (1–365, default 30).
    pub days: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CountRowJson {
    pub label: String,
    pub count: i64,
    /// Percent of the table's total.
    pub ratio: f64,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CountTableJson {
    /// by_product, by_operator, by_type, by_pause_period, by_cycle_period,
    /// by_status, by_customer, by_answer.
    pub key: String,
    pub title: String,
    pub total: i64,
    pub rows: Vec<CountRowJson>,
}

impl From<&CountTable> for CountTableJson {
    fn from(t: &CountTable) -> Self {
        CountTableJson {
            key: t.key.clone(),
            title: t.title.clone(),
            total: t.total,
            rows: t
                .rows
                .iter()
                .map(|r| CountRowJson {
                    label: r.label.clone(),
                    count: r.count,
                    ratio: (r.ratio * 10.0).round() / 10.0,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OutcomeRowJson {
    pub label: String,
    pub requests: i64,
    pub next_order_created: i64,
    pub next_order_paid: i64,
    pub cancelled_within: i64,
    pub retained_revenue: i64,
}

impl From<&OutcomeRow> for OutcomeRowJson {
    fn from(r: &OutcomeRow) -> Self {
        OutcomeRowJson {
            label: r.label.clone(),
            requests: r.requests,
            next_order_created: r.next_order_created,
            next_order_paid: r.next_order_paid,
            cancelled_within: r.cancelled_within,
            retained_revenue: r.retained_revenue,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OutcomesJson {
    /// N of 「N回以内の解約」.
    pub cycles: i64,
    pub by_product: Vec<OutcomeRowJson>,
    pub by_operator: Vec<OutcomeRowJson>,
    pub by_offer: Vec<OutcomeRowJson>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AnalyticsJson {
    pub tables: Vec<CountTableJson>,
    /// Per-answer breakdown of `question`.
    pub answers: CountTableJson,
    pub outcomes: OutcomesJson,
}

impl From<&Analytics> for AnalyticsJson {
    fn from(a: &Analytics) -> Self {
        let rows = |v: &[OutcomeRow]| v.iter().map(OutcomeRowJson::from).collect();
        AnalyticsJson {
            tables: a.tables.iter().map(CountTableJson::from).collect(),
            answers: (&a.answers).into(),
            outcomes: OutcomesJson {
                cycles: a.outcomes.cycles,
                by_product: rows(&a.outcomes.by_product),
                by_operator: rows(&a.outcomes.by_operator),
                by_offer: rows(&a.outcomes.by_offer),
            },
        }
    }
}

/// Filters of the analytics (and its CSVs).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// 受付日 from / to (YYYY-MM-DD, inclusive).
    pub received_from: Option<String>,
    pub received_to: Option<String>,
    /// 対応完了日 from / to (YYYY-MM-DD, inclusive).
    pub completed_from: Option<String>,
    pub completed_to: Option<String>,
    /// col_4 (商品), exact.
    pub product: Option<String>,
    /// The question broken down per answer (default col_5, 満足度).
    pub question: Option<String>,
    /// N of 「N回以内の解約」 (1–24, default 3).
    pub cycles: Option<i64>,
}

impl AnalyticsQuery {
    pub(crate) fn to_query(&self) -> Result<RequestQuery, ApiError> {
        Ok(RequestQuery {
            received_from: query_date("received_from", self.received_from.as_deref())?,
            received_to: query_date("received_to", self.received_to.as_deref())?,
            completed_from: query_date("completed_from", self.completed_from.as_deref())?,
            completed_to: query_date("completed_to", self.completed_to.as_deref())?,
            product: self.product.clone().filter(|p| !p.trim().is_empty()),
            limit: 1,
            ..Default::default()
        })
    }

    pub(crate) fn question(&self) -> String {
        self.question
            .clone()
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty())
            .unwrap_or_else(|| "col_5".into())
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// 対応完了日 from (YYYY-MM-DD).
    pub from: Option<String>,
    /// 対応完了日 to (YYYY-MM-DD, inclusive).
    pub to: Option<String>,
}

fn parse_status(raw: &str) -> Result<RequestStatus, ApiError> {
    RequestStatus::parse(raw).ok_or_else(|| {
        ApiError::invalid(FieldErrors::single(
            "status",
            "invalid_status",
            "status は 未対応 / 対応中 / 対応完了 / 対応不可 のいずれかです",
        ))
    })
}

/// The commands a PATCH asks for, in a fixed order (assignment, tags, memo,
/// then status).
pub(crate) fn patch_commands(p: &RequestPatch) -> Result<Vec<RequestCommand>, ApiError> {
    let mut cmds = Vec::new();
    if let Some(op) = p.operator_id {
        cmds.push(RequestCommand::Assign(op));
    }
    if let Some(t) = &p.tags {
        cmds.push(RequestCommand::SetTags(t.clone()));
    }
    if let Some(m) = &p.memo {
        cmds.push(RequestCommand::SetMemo(m.clone()));
    }
    if let Some(s) = &p.status {
        cmds.push(RequestCommand::SetStatus {
            status: parse_status(s)?,
            reason: p.status_reason.clone().unwrap_or_default(),
        });
    } else if p
        .status_reason
        .as_deref()
        .is_some_and(|r| !r.trim().is_empty())
    {
        return Err(ApiError::invalid(FieldErrors::single(
            "status_reason",
            "without_status",
            "status_reason は status と一緒に送ってください",
        )));
    }
    Ok(cmds)
}

/// Changes a request's status, operator, tags or memo (受信BOX).
#[utoipa::path(patch, path = "/api/v1/requests/{id}", tag = "requests", params(("id" = i64, Path)),
    request_body = RequestPatch,
    responses((status = 200, body = RequestJson), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_request(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<RequestJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let p: RequestPatch = parse_json(&body)?;
    let cmds = patch_commands(&p)?;
    Ok(Json(
        st.store
            .change_request(id, &cmds, &caller.actor)
            .await?
            .into(),
    ))
}

/// 再実行: a request in 条件未設定 or エラー goes back to the automation
/// (pressed twice, the second changes nothing).
#[utoipa::path(post, path = "/api/v1/requests/{id}/rerun", tag = "requests", params(("id" = i64, Path)),
    responses((status = 200, body = RequestJson), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, description = "Not in 条件未設定 or エラー", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn rerun_request(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<RequestJson>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    Ok(Json(
        st.store
            .change_request(id, &[RequestCommand::Rerun], &caller.actor)
            .await?
            .into(),
    ))
}

/// Builds the subscription commands of a manual handling.
pub(crate) async fn apply_commands(
    st: &AppState,
    id: i64,
    b: &ApplyBody,
) -> Result<(Vec<juchu_domain::subscription::SubscriptionCommand>, String), ApiError> {
    let r = st.store.request(id).await?;
    let Some(rule_type) = RuleType::for_request_type(b.action.trim()) else {
        return Err(ApiError::invalid(FieldErrors::single(
            "action",
            "invalid_action",
            "action は 休止 / スキップ / 解約 / サイクル変更 のいずれかです",
        )));
    };
    let Some(sub_id) = r.subscription_id else {
        return Err(ApiError::invalid(FieldErrors::single(
            "subscription_id",
            "no_subscription",
            "定期受注が指定されていない申請です",
        )));
    };
    let sub = st.store.subscription(sub_id).await?;
    let base = match b.pause_base.as_deref().map(str::trim) {
        None | Some("") | Some("next") => PauseFrom::Next,
        Some("previous") => PauseFrom::Previous,
        Some(other) => {
            return Err(ApiError::invalid(FieldErrors::single(
                "pause_base",
                "invalid_pause_base",
                format!("pause_base は next か previous です（「{other}」）"),
            )));
        }
    };
    let period = b
        .period
        .clone()
        .filter(|p| !p.trim().is_empty())
        .or_else(|| match rule_type {
            RuleType::Pause => r.answer("col_2"),
            RuleType::CycleChange => r.answer("col_3"),
            _ => None,
        })
        .unwrap_or_default();
    commands_for(
        rule_type,
        &period,
        base,
        b.reason.as_deref().unwrap_or(""),
        &sub,
    )
    .map_err(ApiError::invalid)
}

/// Manual handling: pause, skip, cancel or change the cycle of the request's
/// subscription through the subscription pipeline (the request is the actor
/// in its 履歴), and mark the request 対応完了; with `preview`, only the new
/// dates.
#[utoipa::path(post, path = "/api/v1/requests/{id}/apply", tag = "requests", params(("id" = i64, Path)),
    request_body = ApplyBody,
    responses((status = 200, body = ApplyResult), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn apply_request(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<ApplyResult>, ApiError> {
    caller.require(Permission::WriteOrders)?;
    let b: ApplyBody = parse_json(&body)?;
    let (commands, summary) = apply_commands(&st, id, &b).await?;
    if b.preview {
        let sub = st.store.preview_request_apply(id, &commands).await?;
        return Ok(Json(ApplyResult {
            preview: true,
            summary,
            next_delivery_date: sub.schedule.next_delivery.to_string(),
            next_ship_date: sub.schedule.next_ship.to_string(),
            subscription_status: sub.status.label().into(),
            request: None,
        }));
    }
    let r = st
        .store
        .change_request(
            id,
            &[RequestCommand::Apply {
                commands,
                summary: summary.clone(),
            }],
            &caller.actor,
        )
        .await?;
    let sub = st
        .store
        .subscription(r.subscription_id.unwrap_or_default())
        .await?;
    Ok(Json(ApplyResult {
        preview: false,
        summary,
        next_delivery_date: sub.schedule.next_delivery.to_string(),
        next_ship_date: sub.schedule.next_ship.to_string(),
        subscription_status: sub.status.label().into(),
        request: Some(r.into()),
    }))
}

/// The automation rules (RPA設定), in order.
#[utoipa::path(get, path = "/api/v1/request-rules", tag = "requests",
    responses((status = 200, body = [RequestRule]), (status = 401, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_request_rules(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<RequestRule>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(st.store.request_rules().await?))
}

fn read_rule(body: &[u8]) -> Result<RequestRule, ApiError> {
    parse_json(body)
}

/// Adds a rule. `type` is 休止, スキップ, 解約 or サイクル変更; `products` the
/// product codes or names it covers (exact); `pause_base` next | previous;
/// no `form_id`: every form.
#[utoipa::path(post, path = "/api/v1/request-rules", tag = "requests",
    request_body = RequestRule,
    responses((status = 201, body = RequestRule), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_request_rule(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<RequestRule>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let mut rule = read_rule(&body)?;
    rule.id = 0;
    Ok((
        StatusCode::CREATED,
        Json(st.store.save_request_rule(&rule).await?),
    ))
}

/// Replaces a rule.
#[utoipa::path(put, path = "/api/v1/request-rules/{id}", tag = "requests", params(("id" = i64, Path)),
    request_body = RequestRule,
    responses((status = 200, body = RequestRule), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_request_rule(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<RequestRule>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let mut rule = read_rule(&body)?;
    rule.id = id;
    Ok(Json(st.store.save_request_rule(&rule).await?))
}

/// Deletes a rule.
#[utoipa::path(delete, path = "/api/v1/request-rules/{id}", tag = "requests", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_request_rule(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store.delete_request_rule(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 複製: a copy of a rule, last in the list.
#[utoipa::path(post, path = "/api/v1/request-rules/{id}/copy", tag = "requests", params(("id" = i64, Path)),
    responses((status = 201, body = RequestRule), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn copy_request_rule(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<RequestRule>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    Ok((
        StatusCode::CREATED,
        Json(st.store.copy_request_rule(id).await?),
    ))
}

/// What a rule would do to each request of the last N days (nothing changes).
#[utoipa::path(post, path = "/api/v1/request-rules/{id}/dry-run", tag = "requests", params(("id" = i64, Path), DryRunQuery),
    responses((status = 200, body = [RequestDryRunJson]), (status = 401, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn dry_run_request_rule(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<DryRunQuery>,
) -> Result<Json<Vec<RequestDryRunJson>>, ApiError> {
    caller.require(Permission::Read)?;
    let rule = st.store.request_rule(id).await?;
    let lines = st
        .store
        .dry_run_request_rule(&rule, q.days.unwrap_or(30), 2000)
        .await?;
    Ok(Json(
        lines
            .into_iter()
            .map(|l| RequestDryRunJson {
                request_id: l.request_id,
                received_at: l.received_at,
                request_type: l.request_type,
                outcome: l.outcome,
                detail: l.detail,
            })
            .collect(),
    ))
}

async fn automation_json(st: &AppState) -> Result<AutomationJson, ApiError> {
    Ok(AutomationJson {
        running: st.store.request_automation_running().await?,
        waiting: st.store.requests_awaiting_automation().await?,
    })
}

/// Whether the automation is running.
#[utoipa::path(get, path = "/api/v1/request-automation", tag = "requests",
    responses((status = 200, body = AutomationJson), (status = 401, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_request_automation(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<AutomationJson>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(automation_json(&st).await?))
}

/// スタート: the automation runs; requests that arrived while it was stopped
/// are processed in arrival order.
#[utoipa::path(post, path = "/api/v1/request-automation/start", tag = "requests",
    responses((status = 200, body = AutomationJson), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn start_request_automation(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<AutomationJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store.set_request_automation(true, &caller.actor).await?;
    Ok(Json(automation_json(&st).await?))
}

/// 強制停止: requests wait (未対応) until it is started again.
#[utoipa::path(post, path = "/api/v1/request-automation/stop", tag = "requests",
    responses((status = 200, body = AutomationJson), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn stop_request_automation(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<AutomationJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store
        .set_request_automation(false, &caller.actor)
        .await?;
    Ok(Json(automation_json(&st).await?))
}

/// The tag master.
#[utoipa::path(get, path = "/api/v1/request-tags", tag = "requests",
    responses((status = 200, body = [String]), (status = 401, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_request_tags(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<String>>, ApiError> {
    caller.require(Permission::Read)?;
    Ok(Json(st.store.request_tags().await?))
}

/// Adds a tag to the master.
#[utoipa::path(post, path = "/api/v1/request-tags", tag = "requests", request_body = TagBody,
    responses((status = 201, body = [String]), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_request_tag(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Vec<String>>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: TagBody = parse_json(&body)?;
    st.store.add_request_tag(&b.name).await?;
    Ok((StatusCode::CREATED, Json(st.store.request_tags().await?)))
}

/// The usage CSV (「RPA課金件数」): every automatic processing completed,
/// refused or failed between `from` and `to` (対応完了日), UTF-8 with BOM.
#[utoipa::path(get, path = "/api/v1/request-usage.csv", tag = "requests", params(UsageQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn request_usage_csv(
    caller: ApiCaller,
    State(st): State<AppState>,
    q: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Read)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text(), None))?;
    let (from, to) = usage_range(&q)?;
    let usage = st.store.request_usage(from, to).await?;
    Ok(super::csv_download(
        usage_csv(&usage),
        &format!("request-usage-{from}-{to}.csv"),
    ))
}

/// `from` and `to` of the usage: both required, `from` ≤ `to`.
pub(crate) fn usage_range(
    q: &UsageQuery,
) -> Result<(jiff::civil::Date, jiff::civil::Date), ApiError> {
    let from = query_date("from", q.from.as_deref())?;
    let to = query_date("to", q.to.as_deref())?;
    let mut e = FieldErrors::default();
    if from.is_none() {
        e.add(
            "from",
            "required",
            "from（対応完了日の開始、YYYY-MM-DD）を指定してください",
        );
    }
    if to.is_none() {
        e.add(
            "to",
            "required",
            "to（対応完了日の終了、YYYY-MM-DD）を指定してください",
        );
    }
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        e.add("to", "before_from", "to は from 以降の日付にしてください");
    }
    e.into_result().map_err(ApiError::invalid)?;
    Ok((from.unwrap_or_default(), to.unwrap_or_default()))
}

/// The usage as CSV: a summary line per result, then every processing.
pub(crate) fn usage_csv(u: &Usage) -> Vec<u8> {
    use juchu_domain::csv_format::{neutralise, record_line};
    let mut out: Vec<u8> = b"\xef\xbb\xbf".to_vec();
    let line =
        |cells: Vec<String>| record_line(&cells.into_iter().map(neutralise).collect::<Vec<_>>());
    out.extend(
        line(vec![
            "申請ID".into(),
            "受付日時".into(),
            "対応完了日時".into(),
            "顧客ID".into(),
            "定期受注ID".into(),
            "申請種別".into(),
            "商品".into(),
            "対応ステータス".into(),
            "自動処理ルール".into(),
            "RPA結果内容".into(),
        ])
        .into_bytes(),
    );
    for r in &u.rows {
        out.extend(
            line(vec![
                r.request_id.to_string(),
                display(&r.received_at),
                display(&r.completed_at),
                r.customer_id.to_string(),
                r.subscription_id.map(|s| s.to_string()).unwrap_or_default(),
                r.request_type.clone(),
                r.product.clone(),
                r.status.label().into(),
                r.rule.clone(),
                r.result_text(),
            ])
            .into_bytes(),
        );
    }
    out
}

/// A count table as CSV: 「件数(比率)」 as the seed shows it, plus the
/// numbers apart for a spreadsheet.
pub(crate) fn table_csv(t: &CountTable) -> Vec<u8> {
    use juchu_domain::csv_format::{neutralise, record_line};
    let mut out: Vec<u8> = b"\xef\xbb\xbf".to_vec();
    out.extend(
        record_line(&[
            t.title.clone(),
            "件数(比率)".into(),
            "件数".into(),
            "比率(%)".into(),
        ])
        .into_bytes(),
    );
    for r in &t.rows {
        out.extend(
            record_line(&[
                neutralise(r.label.clone()),
                format!("{}({:.1}%)", r.count, r.ratio),
                r.count.to_string(),
                format!("{:.1}", r.ratio),
            ])
            .into_bytes(),
        );
    }
    out
}

/// Counts and ratios by product, operator, type (解約抑止 by its tag), pause
/// period, cycle-change period, status and customer; a per-answer breakdown;
/// and outcomes (next order created and paid, cancelled within N cycles,
/// retained revenue).
#[utoipa::path(get, path = "/api/v1/request-analytics", tag = "requests", params(AnalyticsQuery),
    responses((status = 200, body = AnalyticsJson), (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn request_analytics(
    caller: ApiCaller,
    State(st): State<AppState>,
    q: Result<Query<AnalyticsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AnalyticsJson>, ApiError> {
    caller.require(Permission::Read)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text(), None))?;
    let a = st
        .store
        .request_analytics(&q.to_query()?, &q.question(), q.cycles.unwrap_or(3))
        .await?;
    Ok(Json((&a).into()))
}
