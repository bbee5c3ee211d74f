//! 自動化設定: storing rules. Rules run inside the change pipeline
//! (the order pipeline); every write here replaces `masters_revision` so every
//! process picks up the new rule set on its next change.

use crate::StoreError;
use crate::db::{Arg, Store, Tx, get_bool, get_i64, get_str, query_with};
use juchu_domain::FieldErrors;
use juchu_domain::automation::CustomerFacts;
use juchu_domain::automation::{Action, Condition, Rule, conflicts};
use std::collections::HashMap;

/// Checks `rule` against the masters (its status, label, conditions and reason
/// exist) and the other rules (no clash on one event, no circle).
fn check_rule(
    rule: &Rule,
    others: &[Rule],
    masters: &juchu_domain::masters::Masters,
    reasons: &juchu_domain::subscription::SubscriptionReasons,
    templates: &[String],
) -> Result<(), StoreError> {
    reference_problems(rule, masters, reasons, templates).into_result()?;
    let mut all: Vec<Rule> = others.iter().filter(|r| r.id != rule.id).cloned().collect();
    all.push(rule.clone());
    let clashes: Vec<String> = conflicts(&all)
        .iter()
        .filter(|c| c.involves(&rule.name))
        .map(|c| c.message())
        .collect();
    if !clashes.is_empty() {
        return Err(FieldErrors::single("rule", "conflict", clashes.join(" / ")).into());
    }
    Ok(())
}

/// What a rule refers to that does not exist (a handling status renamed away, a
/// label, a reason, a template): refused on save, and shown on saved rules that
/// became dangling.
fn reference_problems(
    rule: &Rule,
    masters: &juchu_domain::masters::Masters,
    reasons: &juchu_domain::subscription::SubscriptionReasons,
    templates: &[String],
) -> FieldErrors {
    let mut e = FieldErrors::default();
    if let juchu_domain::automation::Trigger::Exact { event } = &rule.trigger {
        use juchu_domain::event::OrderEvent;
        let missing = match event {
            OrderEvent::HandlingStatusBecame { name } => masters
                .handling_status_by_name(name)
                .is_none()
                .then(|| format!("対応状況「{name}」は登録されていません")),
            OrderEvent::PaymentMethodBecame { name } => masters
                .payment_method_by_key(name)
                .is_none()
                .then(|| format!("支払方法「{name}」は登録されていません")),
            OrderEvent::CarrierBecame { name } => masters
                .carrier_by_key(name)
                .is_none()
                .then(|| format!("配送業者「{name}」は登録されていません")),
            _ => None,
        };
        if let Some(m) = missing {
            e.add("trigger", "unknown", format!("きっかけ: {m}"));
        }
    }
    juchu_domain::text::check_len(&mut e, "name", &rule.name, 100);
    if rule.name.trim().is_empty() {
        e.add("name", "required", "名前を入力してください");
    }
    match &rule.action {
        Action::SetHandlingStatus { name } if masters.handling_status_by_name(name).is_none() => {
            e.add(
                "action.name",
                "unknown_handling_status",
                format!("対応状況「{name}」は登録されていません"),
            );
        }
        Action::SetHandlingStatus { .. } => {}
        Action::AddLabel { name } | Action::RemoveLabel { name }
            if masters.label_by_name(name).is_none() =>
        {
            e.add(
                "action.name",
                "unknown_label",
                format!("受注ラベル「{name}」は登録されていません"),
            );
        }
        Action::AddLabel { .. } | Action::RemoveLabel { .. } => {}
        Action::SendMail { template } if !templates.iter().any(|t| t == template) => {
            e.add(
                "action.template",
                "unknown_template",
                format!("メールテンプレート「{template}」はありません"),
            );
        }
        Action::SendMail { .. } => {}
        Action::RunPaymentProcess {
            process: juchu_domain::payment::PaymentProcess::FetchCreditResult,
        } => e.add(
            "action.process",
            "not_allowed",
            "与信結果照会は決済サービスの結果待ちの間に自動で行われます",
        ),
        Action::RunPaymentProcess { .. } => {}
        Action::SetSubscriptionStatus { status, reason } => {
            let allowed = match status {
                juchu_domain::status::SubscriptionStatus::Stopped => &reasons.stop,
                juchu_domain::status::SubscriptionStatus::Cancelled => &reasons.cancel,
                juchu_domain::status::SubscriptionStatus::Active => &Vec::new(),
            };
            if !allowed.is_empty() && !allowed.iter().any(|r| r == reason.trim()) {
                e.add(
                    "action.reason",
                    "unknown_reason",
                    format!(
                        "理由「{reason}」は{}理由に登録されていません",
                        status.label()
                    ),
                );
            }
        }
    }
    for (i, c) in rule.conditions.iter().enumerate() {
        let known = match c {
            Condition::PaymentMethod { name } => masters.payment_method_by_key(name).is_some(),
            Condition::Carrier { name } => masters.carrier_by_key(name).is_some(),
            Condition::Label { name } => masters.label_by_name(name).is_some(),
            Condition::NeedsAttention { .. } | Condition::CustomerFlag { .. } => true,
        };
        if !known {
            e.add(
                format!("conditions[{i}]"),
                "unknown",
                format!("{}: 登録されていません", c.describe()),
            );
        }
    }
    e
}

async fn template_codes(conn: &mut sqlx::AnyConnection) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT code FROM mail_templates")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| get_str(r, "code").map_err(StoreError::from))
        .collect()
}

pub(crate) const RULE_COLUMNS: &str =
    "id, name, position, enabled, trigger_json, action_json, conditions_json";

/// One stored rule; a row that does not parse is a store error naming the rule.
pub(crate) fn rule_from_row(r: &sqlx::any::AnyRow) -> Result<Rule, StoreError> {
    let bad = |what: &str, e: serde_json::Error| {
        StoreError::Other(format!(
            "automation rule {} has a bad {what}: {e}",
            get_i64(r, "id").unwrap_or(0)
        ))
    };
    Ok(Rule {
        id: get_i64(r, "id")?,
        name: get_str(r, "name")?,
        position: get_i64(r, "position")?,
        enabled: get_bool(r, "enabled")?,
        conditions: serde_json::from_str(&get_str(r, "conditions_json")?)
            .map_err(|e| bad("conditions", e))?,
        trigger: serde_json::from_str(&get_str(r, "trigger_json")?)
            .map_err(|e| bad("trigger", e))?,
        action: serde_json::from_str(&get_str(r, "action_json")?).map_err(|e| bad("action", e))?,
    })
}

async fn all_rules(conn: &mut sqlx::AnyConnection) -> Result<Vec<Rule>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {RULE_COLUMNS} FROM automation_rules ORDER BY position, id"
    )))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(rule_from_row).collect()
}

impl Store {
    /// Saved rules whose status, label, reason or template no longer exists, with
    /// what is missing (rule id → message). Such a rule records a failure on the
    /// order when it fires; the UI and the API show the problem beside it.
    pub async fn automation_rule_problems(
        &self,
    ) -> Result<std::collections::HashMap<i64, String>, StoreError> {
        let mut tx = self.begin_read().await?;
        let rules = all_rules(&mut tx).await?;
        let masters = crate::masters::load_masters(&mut tx).await?;
        let reasons = crate::masters::load_reasons(&mut tx).await?;
        let templates = template_codes(&mut tx).await?;
        tx.commit().await?;
        Ok(rules
            .iter()
            .filter_map(|r| {
                let e = reference_problems(r, &masters, &reasons, &templates);
                (!e.0.is_empty()).then(|| (r.id, e.to_string()))
            })
            .collect())
    }

    /// Moves a rule one place earlier (`up`) or later in the execution order;
    /// positions are renumbered 1, 2, 3 … on the way.
    pub async fn move_automation_rule(&self, id: i64, up: bool) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let mut rules = all_rules(&mut tx).await?;
        let Some(i) = rules.iter().position(|r| r.id == id) else {
            return Err(StoreError::NotFound("自動化設定"));
        };
        let j = if up {
            i.checked_sub(1)
        } else {
            Some(i + 1).filter(|j| *j < rules.len())
        };
        if let Some(j) = j {
            rules.swap(i, j);
        }
        for (k, r) in rules.iter().enumerate() {
            let position = k as i64 + 1;
            if r.position != position {
                sqlx::query("UPDATE automation_rules SET position = $1 WHERE id = $2")
                    .bind(position)
                    .bind(r.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every rule, enabled or not, in position order.
    pub async fn automation_rules(&self) -> Result<Vec<Rule>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        all_rules(&mut conn).await
    }

    /// Saves a new rule unless it is invalid or clashes with the enabled rules
    /// (two values on one event, or a circle): then nothing is saved and the
    /// conflicts are named. A position of 0 or less puts it after the last rule.
    /// Returns the rule as saved (id and position).
    pub async fn add_automation_rule(&self, rule: &Rule) -> Result<Rule, StoreError> {
        let mut tx = self.begin().await?;
        let masters = crate::masters::load_masters(&mut tx).await?;
        let existing = all_rules(&mut tx).await?;
        let position = if rule.position > 0 {
            rule.position
        } else {
            existing.iter().map(|r| r.position).max().unwrap_or(0) + 1
        };
        let candidate = Rule {
            id: i64::MAX,
            position,
            ..rule.clone()
        };
        let reasons = crate::masters::load_reasons(&mut tx).await?;
        let templates = template_codes(&mut tx).await?;
        check_rule(&candidate, &existing, &masters, &reasons, &templates)?;
        let row = sqlx::query(
            "INSERT INTO automation_rules (name, position, enabled, trigger_json, action_json, created_at, conditions_json) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(rule.name.trim().to_string())
        .bind(position)
        .bind(rule.enabled as i64)
        .bind(serde_json::to_string(&rule.trigger).unwrap_or_default())
        .bind(serde_json::to_string(&rule.action).unwrap_or_default())
        .bind(self.clock.now_text())
        .bind(serde_json::to_string(&rule.conditions).unwrap_or_else(|_| "[]".into()))
        .fetch_one(&mut *tx)
        .await?;
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(Rule {
            id: get_i64(&row, "id")?,
            name: rule.name.trim().to_string(),
            ..candidate
        })
    }

    /// Replaces a rule (name, position, enabled, trigger, action) with the same
    /// checks as a new one.
    pub async fn update_automation_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let masters = crate::masters::load_masters(&mut tx).await?;
        let existing = all_rules(&mut tx).await?;
        if !existing.iter().any(|r| r.id == rule.id) {
            return Err(StoreError::NotFound("自動化設定"));
        }
        let reasons = crate::masters::load_reasons(&mut tx).await?;
        let templates = template_codes(&mut tx).await?;
        if rule.enabled {
            check_rule(rule, &existing, &masters, &reasons, &templates)?;
        } else {
            // A disabled rule never fires: it may point at something renamed
            // (that is how a shop switches off a dangling rule).
            let mut e = FieldErrors::default();
            juchu_domain::text::check_len(&mut e, "name", &rule.name, 100);
            if rule.name.trim().is_empty() {
                e.add("name", "required", "名前を入力してください");
            }
            e.into_result()?;
        }
        sqlx::query(
            "UPDATE automation_rules SET name = $1, position = $2, enabled = $3, trigger_json = $4, action_json = $5, conditions_json = $7 WHERE id = $6",
        )
        .bind(rule.name.trim().to_string())
        .bind(rule.position)
        .bind(rule.enabled as i64)
        .bind(serde_json::to_string(&rule.trigger).unwrap_or_default())
        .bind(serde_json::to_string(&rule.action).unwrap_or_default())
        .bind(rule.id)
        .bind(serde_json::to_string(&rule.conditions).unwrap_or_else(|_| "[]".into()))
        .execute(&mut *tx)
        .await?;
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_automation_rule(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM automation_rules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("自動化設定"));
        }
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Loads the seed's example rules ([`juchu_domain::automation::presets`]):
    /// handling statuses they need are created on the way (e.g. 返品, 決済NG if a
    /// shop deleted them), rules that exist already or would clash are skipped
    /// and reported.
    pub async fn load_automation_presets(&self) -> Result<PresetReport, StoreError> {
        let mut report = PresetReport::default();
        let masters = self.masters().await?;
        for rule in juchu_domain::automation::presets() {
            let Action::SetHandlingStatus { name } = &rule.action else {
                continue;
            };
            if masters.handling_status_by_name(name).is_none()
                && !report.statuses_created.contains(name)
            {
                self.create_handling_status(crate::masters::HandlingStatusInput {
                    name: name.clone(),
                    position: None,
                    color: "#337ab7".into(),
                    is_default: false,
                })
                .await?;
                report.statuses_created.push(name.clone());
            }
        }
        // Read once; rules added here are appended so later presets see them.
        let mut existing = self.automation_rules().await?;
        for rule in juchu_domain::automation::presets() {
            if existing
                .iter()
                .any(|r| r.trigger == rule.trigger && r.action == rule.action)
            {
                report
                    .skipped
                    .push((rule.name, "既に同じルールがあります".into()));
                continue;
            }
            // Position 0: after the last rule, in the presets' order.
            let rule = Rule {
                position: 0,
                ..rule
            };
            match self.add_automation_rule(&rule).await {
                Ok(saved) => {
                    report.added.push(saved.name.clone());
                    existing.push(saved);
                }
                Err(StoreError::Invalid(e)) => report.skipped.push((rule.name, e.messages())),
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}

/// What a rule would have done over a past period ([`Store::dry_run_rule`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DryRun {
    pub days: i64,
    /// Orders with a matching event in the period.
    pub orders: i64,
    /// Up to 20 of their order numbers, newest first.
    pub sample: Vec<String>,
}

/// What loading the presets did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PresetReport {
    pub added: Vec<String>,
    /// (rule, why) for rules not added.
    pub skipped: Vec<(String, String)>,
    pub statuses_created: Vec<String>,
}

pub(crate) async fn load_rules(tx: &mut Tx) -> Result<Vec<Rule>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM automation_rules WHERE enabled = 1",
        crate::automation::RULE_COLUMNS
    )))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(crate::automation::rule_from_row).collect()
}

/// The customer flags rules test, for these customers — loaded only when an
/// enabled rule has a customer condition, so intake pays nothing otherwise.
pub(crate) async fn customer_facts(
    conn: &mut sqlx::AnyConnection,
    rules: &[Rule],
    ids: &[i64],
) -> Result<HashMap<i64, CustomerFacts>, StoreError> {
    let mut out = HashMap::new();
    if ids.is_empty() || !rules.iter().any(|r| r.enabled && r.tests_customer()) {
        return Ok(out);
    }
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(400) {
        let sql = format!(
            "SELECT id, mail_opt_out FROM customers WHERE id IN ({})",
            crate::db::in_list(chunk.len(), 1)
        );
        let rows = query_with(sql, chunk.iter().map(|id| Arg::from(*id)).collect())
            .fetch_all(&mut *conn)
            .await?;
        for r in &rows {
            out.insert(
                get_i64(r, "id")?,
                CustomerFacts {
                    mail_opt_out: get_i64(r, "mail_opt_out")? != 0,
                },
            );
        }
    }
    Ok(out)
}

pub(crate) fn facts_of(map: &HashMap<i64, CustomerFacts>, customer: Option<i64>) -> CustomerFacts {
    customer
        .and_then(|id| map.get(&id).copied())
        .unwrap_or_default()
}
