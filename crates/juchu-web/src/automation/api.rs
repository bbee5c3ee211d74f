//! `/api/v1/automation-rules`: 自動化設定 — event → action rules. Saving a rule
//! that clashes with the enabled ones (two values on one event, a circle) is
//! refused with 422 `conflict`, naming the rules.

use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, parse_json};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use juchu_domain::access::Permission;
use juchu_domain::automation::{Action, Condition, Rule, Trigger};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleJson {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub enabled: bool,
    /// `{"kind": "exact", "event": {"kind": "payment_status_became", "status": "credit_check_error"}}`
    /// or `{"kind": "event_kind", "event": "tracking_number_set"}`.
    #[schema(value_type = Object)]
    pub trigger: Trigger,
    /// The trigger in Japanese, e.g. 決済状況が「与信審査エラー」になった.
    pub trigger_label: String,
    /// `{"kind": "set_handling_status", "name": "決済NG"}`
    /// All must hold: `[{"kind": "payment_method", "name": "代金引換"}, {"kind": "carrier", "name": "yamato"},
    /// {"kind": "label", "name": "ギフト"}, {"kind": "needs_attention", "value": true}]`.
    #[schema(value_type = Vec<Object>)]
    pub conditions: Vec<Condition>,
    pub condition_labels: Vec<String>,
    #[schema(value_type = Object)]
    pub action: Action,
    pub action_label: String,
    /// What the rule refers to that no longer exists (a renamed handling
    /// status, a label): such a rule fails when it fires. Only in the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl From<&Rule> for RuleJson {
    fn from(r: &Rule) -> Self {
        RuleJson {
            id: r.id,
            name: r.name.clone(),
            position: r.position,
            enabled: r.enabled,
            trigger: r.trigger.clone(),
            trigger_label: r.trigger.describe(),
            conditions: r.conditions.clone(),
            condition_labels: r.conditions.iter().map(Condition::describe).collect(),
            action: r.action.clone(),
            action_label: r.action.describe(),
            problem: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    pub name: String,
    /// Rules run in position order; absent or 0: after the last one.
    #[serde(default)]
    pub position: Option<i64>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[schema(value_type = Object)]
    pub trigger: Trigger,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub conditions: Vec<Condition>,
    #[schema(value_type = Object)]
    pub action: Action,
}

fn yes() -> bool {
    true
}

#[utoipa::path(get, path = "/api/v1/automation-rules", tag = "automation",
    responses((status = 200, body = Vec<RuleJson>)), security(("bearer" = [])))]
pub async fn list_rules(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<Vec<RuleJson>>, ApiError> {
    caller.require(Permission::Read)?;
    let rules = st.store.automation_rules().await?;
    let problems = st.store.automation_rule_problems().await?;
    Ok(Json(
        rules
            .iter()
            .map(|r| RuleJson {
                problem: problems.get(&r.id).cloned(),
                ..r.into()
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/automation-rules", tag = "automation", request_body = RuleBody,
    responses((status = 201, body = RuleJson), (status = 422, description = "invalid or conflicting", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_rule(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<RuleJson>), ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: RuleBody = parse_json(&body)?;
    let rule = Rule {
        id: 0,
        name: b.name,
        // 0: the store puts it after the last rule.
        position: b.position.unwrap_or(0),
        enabled: b.enabled,
        conditions: b.conditions,
        trigger: b.trigger,
        action: b.action,
    };
    let saved = st.store.add_automation_rule(&rule).await?;
    Ok((StatusCode::CREATED, Json((&saved).into())))
}

#[utoipa::path(put, path = "/api/v1/automation-rules/{id}", tag = "automation", params(("id" = i64, Path)), request_body = RuleBody,
    responses((status = 200, body = RuleJson), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_rule(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<RuleJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let b: RuleBody = parse_json(&body)?;
    let current = st
        .store
        .automation_rules()
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(juchu_store::StoreError::NotFound("自動化設定"))?;
    let rule = Rule {
        id,
        name: b.name,
        position: b.position.unwrap_or(current.position),
        enabled: b.enabled,
        conditions: b.conditions,
        trigger: b.trigger,
        action: b.action,
    };
    st.store.update_automation_rule(&rule).await?;
    Ok(Json((&rule).into()))
}

#[utoipa::path(delete, path = "/api/v1/automation-rules/{id}", tag = "automation", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn delete_rule(
    caller: ApiCaller,
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::WriteMasters)?;
    st.store.delete_automation_rule(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PresetReportJson {
    /// Rules added.
    pub added: Vec<String>,
    /// Rules not added, with the reason (already there, or a conflict).
    pub skipped: Vec<SkippedJson>,
    /// 対応状況 created because a preset needed them.
    pub statuses_created: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SkippedJson {
    pub name: String,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/automation-rules/presets", tag = "automation",
    responses((status = 200, body = PresetReportJson)), security(("bearer" = [])))]
/// Loads the seed's example rules in one call (missing 対応状況 are created).
pub async fn load_presets(
    caller: ApiCaller,
    State(st): State<AppState>,
) -> Result<Json<PresetReportJson>, ApiError> {
    caller.require(Permission::WriteMasters)?;
    let r = st.store.load_automation_presets().await?;
    Ok(Json(PresetReportJson {
        added: r.added,
        skipped: r
            .skipped
            .into_iter()
            .map(|(name, reason)| SkippedJson { name, reason })
            .collect(),
        statuses_created: r.statuses_created,
    }))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunBody {
    #[schema(value_type = Object)]
    pub trigger: Trigger,
    #[schema(value_type = Object)]
    pub action: Action,
    /// Look back this many days (1–365, default 30).
    #[serde(default)]
    pub days: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRunJson {
    pub days: i64,
    /// Orders the rule would have fired on.
    pub orders: i64,
    /// Up to 20 of their order numbers, newest first.
    pub sample: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/automation-rules/dry-run", tag = "automation", request_body = DryRunBody,
    responses((status = 200, body = DryRunJson), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
/// How many of the last N days' orders a rule would have fired on, and a sample;
/// nothing is changed.
pub async fn dry_run(
    caller: ApiCaller,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<Json<DryRunJson>, ApiError> {
    caller.require(Permission::Read)?;
    let b: DryRunBody = parse_json(&body)?;
    let rule = Rule {
        id: 0,
        name: String::new(),
        position: 0,
        enabled: true,
        conditions: Vec::new(),
        trigger: b.trigger,
        action: b.action,
    };
    let r = st.store.dry_run_rule(&rule, b.days.unwrap_or(30)).await?;
    Ok(Json(DryRunJson {
        days: r.days,
        orders: r.orders,
        sample: r.sample,
    }))
}
