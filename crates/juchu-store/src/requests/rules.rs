//! 自動処理ルール (the seed's RPA設定) and the tag master, as stored.

use crate::StoreError;
use crate::db::Tx;
use crate::db::{Store, get_i64, get_str};
use crate::history::Actor;
use crate::requests::to_json;
use juchu_domain::FieldErrors;
use juchu_domain::request_rule::{RequestRule, check_rule};

pub(crate) fn rule_from_row(r: &sqlx::any::AnyRow) -> Result<RequestRule, StoreError> {
    let mut rule: RequestRule = serde_json::from_str(&get_str(r, "definition")?)
        .map_err(|e| StoreError::Other(format!("request rule: {e}")))?;
    rule.id = get_i64(r, "id")?;
    rule.position = get_i64(r, "position")?;
    Ok(rule)
}

pub(crate) const AUTOMATION_SETTING: &str = "request_automation";

/// Adds tags to the master (a rule's or a form's tags become known when used).
pub(crate) async fn ensure_tags(tx: &mut Tx, tags: &[String]) -> Result<(), StoreError> {
    for t in tags {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        sqlx::query(
            "INSERT INTO request_tags (name, position) VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM request_tags)) ON CONFLICT (name) DO NOTHING",
        )
        .bind(t.to_string())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Every rule, in order.
pub(crate) async fn load_rules(tx: &mut Tx) -> Result<Vec<RequestRule>, StoreError> {
    let rows =
        sqlx::query("SELECT id, definition, position FROM request_rules ORDER BY position, id")
            .fetch_all(&mut **tx)
            .await?;
    rows.iter()
        .map(crate::requests::rules::rule_from_row)
        .collect()
}

impl Store {
    /// Whether the automation is running (スタート / 強制停止).
    pub async fn request_automation_running(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(
            crate::settings::setting(&mut conn, AUTOMATION_SETTING).await?
                == Some("running".into()),
        )
    }

    pub async fn set_request_automation(
        &self,
        running: bool,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        crate::settings::set_setting(
            &mut conn,
            AUTOMATION_SETTING,
            if running { "running" } else { "stopped" },
        )
        .await?;
        tracing::info!(
            running,
            by = actor.name(),
            "request automation {}",
            if running { "started" } else { "stopped" }
        );
        Ok(())
    }

    /// How many requests wait for the automation (未対応, not yet looked at).
    pub async fn requests_awaiting_automation(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM requests WHERE auto_state = 'pending' AND status = 'open'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(get_i64(&row, "n")?)
    }

    pub async fn request_rules(&self) -> Result<Vec<RequestRule>, StoreError> {
        let mut tx = self.begin().await?;
        let rules = load_rules(&mut tx).await?;
        tx.commit().await?;
        Ok(rules)
    }

    pub async fn request_rule(&self, id: i64) -> Result<RequestRule, StoreError> {
        let row = sqlx::query("SELECT id, definition, position FROM request_rules WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("自動処理ルール"))?;
        rule_from_row(&row)
    }

    /// Checks a rule against the masters (form, labels, 対応状況).
    async fn check_request_rule(&self, rule: &RequestRule) -> Result<(), StoreError> {
        let masters = self.masters().await?;
        let labels: Vec<String> = masters.labels.iter().map(|l| l.name.clone()).collect();
        let statuses: Vec<String> = masters
            .handling_statuses
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let mut e = match check_rule(rule, &labels, &statuses) {
            Ok(()) => FieldErrors::default(),
            Err(e) => e,
        };
        if rule.rule_type == juchu_domain::request_rule::RuleType::Cancel {
            let reasons = self.subscription_reasons().await?.cancel;
            let r = rule.cancel_reason.trim();
            if !r.is_empty() && !reasons.is_empty() && !reasons.iter().any(|x| x == r) {
                e.add(
                    "cancel_reason",
                    "unknown_reason",
                    format!("解約理由「{r}」は登録されていません（理由の一覧から選んでください）"),
                );
            }
        }
        if let Some(form) = rule.form_id
            && let Err(StoreError::NotFound(_)) = self.request_form(form).await
        {
            e.add(
                "form_id",
                "unknown_form",
                format!("申請フォーム {form} はありません"),
            );
        }
        Ok(e.into_result()?)
    }

    /// Saves a rule: a new one (`id` 0) goes last; an existing one keeps its place.
    pub async fn save_request_rule(&self, rule: &RequestRule) -> Result<RequestRule, StoreError> {
        self.check_request_rule(rule).await?;
        let mut clean = rule.clone();
        clean.name = clean.name.trim().to_string();
        clean.products = clean
            .products
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        ensure_tags(&mut tx, &clean.on_refusal.add).await?;
        ensure_tags(&mut tx, &clean.on_success.add).await?;
        let id = if rule.id == 0 {
            let row = sqlx::query(
                "INSERT INTO request_rules (name, form_id, rule_type, definition, position, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(position), 0) + 1 FROM request_rules), $5, $5) RETURNING id",
            )
            .bind(clean.name.clone())
            .bind(clean.form_id)
            .bind(clean.rule_type.code())
            .bind(to_json(&clean)?)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            get_i64(&row, "id")?
        } else {
            let done = sqlx::query(
                "UPDATE request_rules SET name = $1, form_id = $2, rule_type = $3, definition = $4, updated_at = $5 WHERE id = $6",
            )
            .bind(clean.name.clone())
            .bind(clean.form_id)
            .bind(clean.rule_type.code())
            .bind(to_json(&clean)?)
            .bind(now)
            .bind(rule.id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("自動処理ルール"));
            }
            rule.id
        };
        tx.commit().await?;
        self.request_rule(id).await
    }

    /// 複製: the same settings under 「（コピー）」, last in the list.
    pub async fn copy_request_rule(&self, id: i64) -> Result<RequestRule, StoreError> {
        let mut rule = self.request_rule(id).await?;
        rule.id = 0;
        rule.name = format!("{}（コピー）", rule.name);
        self.save_request_rule(&rule).await
    }

    pub async fn delete_request_rule(&self, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM request_rules WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("自動処理ルール"));
        }
        Ok(())
    }

    /// The tag master, in order.
    pub async fn request_tags(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT name FROM request_tags ORDER BY position, name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| get_str(r, "name").map_err(StoreError::from))
            .collect()
    }

    /// Adds a tag to the master.
    pub async fn add_request_tag(&self, name: &str) -> Result<(), StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 50 || name.contains('\n') {
            return Err(FieldErrors::single(
                "name",
                "invalid_tag",
                "タグは1〜50文字で、改行を含めないでください",
            )
            .into());
        }
        let mut tx = self.begin().await?;
        ensure_tags(&mut tx, &[name.to_string()]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a tag from the master (requests keep the tags they have).
    pub async fn delete_request_tag(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM request_tags WHERE name = $1")
            .bind(name.trim().to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
