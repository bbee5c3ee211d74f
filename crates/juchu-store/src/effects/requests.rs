//! The request's change pipeline, here in the mediator because handling a
//! request changes a subscription (受信BOX and the automation alike): every
//! change of a request — an operator's status, tags, memo or assignment, a
//! manual pause, the automation's decision, 再実行 — goes through
//! [`Store::change_request`] or the automation's chunk, which validate,
//! record 履歴 and carry effects on the subscription out through the
//! subscription pipeline in the request's own transaction.
//!
//! Exactly once: the automation takes only requests that are 未対応 and not
//! yet looked at (`auto_state = 'pending'`), and writes the outcome in the
//! transaction that changed the subscription. A worker that dies mid-way
//! leaves nothing (the transaction rolls back) and the request is taken again;
//! 再実行 pressed twice finds the request already queued and changes nothing.

use std::collections::HashMap;

use crate::StoreError;
use crate::db::{Store, Tx, get_i64, get_str};
use crate::history::Actor;
use crate::requests::rules::{ensure_tags, load_rules};
use crate::requests::{REQUEST_COLUMNS, Request, add_history, request_from_row};
use juchu_domain::FieldErrors;
use juchu_domain::request::RequestStatus;
use juchu_domain::request_rule::{
    Decision, MessageChannel, RequestRule, SubscriptionFacts, decide, render,
};
use juchu_domain::subscription::{Subscription, SubscriptionCommand, SubscriptionPatch};

/// An operator's (or the API's) change of a request.
#[derive(Debug, Clone)]
pub enum RequestCommand {
    /// 担当オペレーター (a staff id; `None` unassigns).
    Assign(Option<i64>),
    /// Tags from the master, replacing the request's.
    SetTags(Vec<String>),
    SetMemo(String),
    /// A status set by hand: 未対応, 対応中, 対応完了, or 対応不可 with its reason.
    SetStatus {
        status: RequestStatus,
        reason: String,
    },
    /// Manual handling: the commands go through the subscription pipeline (the
    /// request is the actor in its 履歴) and the request becomes 対応完了.
    Apply {
        commands: Vec<SubscriptionCommand>,
        summary: String,
    },
    /// 再実行: a request in 条件未設定 or エラー goes back to the automation.
    Rerun,
}

/// What one automation pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutomationReport {
    pub completed: usize,
    pub refused: usize,
    pub errors: usize,
    pub no_rule: usize,
    /// Left 未対応 for a person (not an automated type).
    pub manual: usize,
}

impl AutomationReport {
    pub fn total(&self) -> usize {
        self.completed + self.refused + self.errors + self.no_rule + self.manual
    }
}

/// What a rule would do to one request (the dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRunLine {
    pub request_id: i64,
    pub received_at: String,
    pub request_type: String,
    /// 対応完了 / 対応不可 / エラー / 対象外.
    pub outcome: String,
    /// The new dates or the reason.
    pub detail: String,
}

fn tags_text(tags: &[String]) -> String {
    tags.join("\n")
}

/// The request row, locked on PostgreSQL.
async fn load_request(tx: &mut Tx, id: i64, lock: &str) -> Result<Request, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound("申請"))?;
    request_from_row(&row)
}

/// Writes the handling columns of a request and bumps `updated_at`.
/// `count`: 定期回数 when it was carried out (kept as it was when `None`).
/// A request that became 対応完了 or 対応不可 publishes its event.
async fn write_request(
    tx: &mut Tx,
    backend: crate::Backend,
    before: RequestStatus,
    r: &Request,
    count: Option<i64>,
    now: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE requests SET status = $1, status_reason = $2, tags = $3, memo = $4, operator_id = $5, completed_at = $6, handled_by = $7, rule_id = $8, auto_state = $9, updated_at = $10, count_at_completion = COALESCE($12, count_at_completion) WHERE id = $11",
    )
    .bind(r.status.code())
    .bind(r.status_reason.clone())
    .bind(tags_text(&r.tags))
    .bind(r.memo.clone())
    .bind(r.operator_id)
    .bind(r.completed_at.clone())
    .bind(r.handled_by.clone())
    .bind(r.rule_id)
    .bind(r.auto_state.clone())
    .bind(now.to_string())
    .bind(r.id)
    .bind(count)
    .execute(&mut **tx)
    .await?;
    let event = match r.status {
        _ if r.status == before => None,
        RequestStatus::Completed => Some("request.completed"),
        RequestStatus::Refused => Some("request.refused"),
        _ => None,
    };
    if let Some(t) = event {
        let e = juchu_domain::webhook::request_event(t, crate::requests::request_summary(r));
        crate::db::write_rows(tx, backend, vec![crate::webhooks::event_rows(&[e], now)]).await?;
    }
    Ok(())
}

/// The actor a request is in the subscription's 履歴.
fn request_actor(r: &Request, rule: Option<&RequestRule>) -> Actor {
    Actor::Request {
        id: r.id,
        name: match rule {
            Some(rule) => format!("申請 #{}（自動処理: {}）", r.id, rule.name),
            None => format!("申請 #{}", r.id),
        },
    }
}

impl Store {
    /// Applies changes to a request in order: one transaction (all or
    /// nothing), one 履歴 line for what changed.
    pub async fn change_request(
        &self,
        id: i64,
        cmds: &[RequestCommand],
        actor: &Actor,
    ) -> Result<Request, StoreError> {
        let mut tx = self.begin().await?;
        let before = load_request(&mut tx, id, self.lock_suffix()).await?;
        let mut after = before.clone();
        let now = self.clock.now_text();
        let mut what: Vec<String> = Vec::new();
        let mut count = None;
        for cmd in cmds {
            match cmd {
                RequestCommand::Assign(staff) => {
                    let name = match staff {
                        Some(sid) => {
                            let row = sqlx::query("SELECT name FROM staff_users WHERE id = $1")
                                .bind(*sid)
                                .fetch_optional(&mut *tx)
                                .await?;
                            match row {
                                Some(r) => get_str(&r, "name")?,
                                None => {
                                    return Err(FieldErrors::single(
                                        "operator_id",
                                        "unknown_staff",
                                        format!("スタッフ {sid} はいません"),
                                    )
                                    .into());
                                }
                            }
                        }
                        None => "なし".into(),
                    };
                    after.operator_id = *staff;
                    what.push(format!("担当: {name}"));
                }
                RequestCommand::SetTags(tags) => {
                    let known = self.request_tags().await?;
                    let mut e = FieldErrors::default();
                    let mut clean: Vec<String> = Vec::new();
                    for t in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
                        // A tag the request has keeps working after it left the
                        // master (saving the memo must not fail on it).
                        if !known.iter().any(|k| k == t) && !before.tags.iter().any(|k| k == t) {
                            e.add(
                                "tags",
                                "unknown_tag",
                                format!(
                                    "タグ「{t}」は登録されていません（タグ管理で追加してください）"
                                ),
                            );
                        } else if !clean.iter().any(|c| c == t) {
                            clean.push(t.to_string());
                        }
                    }
                    e.into_result()?;
                    after.tags = clean;
                    what.push(format!("タグ: {}", after.tags.join("、")));
                }
                RequestCommand::SetMemo(memo) => {
                    let mut e = FieldErrors::default();
                    juchu_domain::text::check_len(&mut e, "memo", memo, 2000);
                    e.into_result()?;
                    after.memo = memo.clone();
                    what.push("メモを更新".into());
                }
                RequestCommand::SetStatus { status, reason } => {
                    let reason = reason.trim();
                    // The status as it is (a form sends it with every save):
                    // not a change — the automation keeps the request and
                    // 対応完了日時 stays.
                    if *status == after.status && reason == after.status_reason {
                        continue;
                    }
                    let mut e = FieldErrors::default();
                    match status {
                        RequestStatus::Refused if reason.is_empty() => e.add(
                            "status_reason",
                            "required",
                            "対応不可の理由を入力してください",
                        ),
                        RequestStatus::Error | RequestStatus::NoRule => e.add(
                            "status",
                            "not_manual",
                            format!("「{}」は自動処理だけが付けるステータスです", status.label()),
                        ),
                        _ => {}
                    }
                    juchu_domain::text::check_len(&mut e, "status_reason", reason, 500);
                    e.into_result()?;
                    after.status = *status;
                    after.status_reason = reason.to_string();
                    after.auto_state = "done".into();
                    match status {
                        RequestStatus::Completed | RequestStatus::Refused => {
                            after.completed_at = Some(now.clone());
                            after.handled_by = "manual".into();
                        }
                        _ => after.completed_at = None,
                    }
                    what.push(if reason.is_empty() {
                        format!("ステータス: {}", status.label())
                    } else {
                        format!("ステータス: {}（{reason}）", status.label())
                    });
                }
                RequestCommand::Apply { commands, summary } => {
                    if matches!(
                        after.status,
                        RequestStatus::Completed | RequestStatus::Refused
                    ) {
                        return Err(StoreError::Conflict {
                            field: Some("status".into()),
                            message: format!(
                                "この申請は既に「{}」です。定期受注を直接変更してください",
                                after.status.label()
                            ),
                        });
                    }
                    let Some(sub_id) = before.subscription_id else {
                        return Err(FieldErrors::single(
                            "subscription_id",
                            "no_subscription",
                            "定期受注が指定されていない申請です",
                        )
                        .into());
                    };
                    let changed = self
                        .change_subscription_raising_in_tx(
                            &mut tx,
                            sub_id,
                            commands,
                            &request_actor(&before, None),
                            &format!("申請 #{}", before.id),
                        )
                        .await?;
                    after.status = RequestStatus::Completed;
                    after.status_reason = String::new();
                    after.completed_at = Some(now.clone());
                    after.handled_by = "manual".into();
                    after.auto_state = "done".into();
                    count = Some(changed.subscription.count);
                    what.push(format!(
                        "手動対応: {summary} → 次回配送予定日 {}",
                        changed.subscription.schedule.next_delivery
                    ));
                }
                RequestCommand::Rerun => {
                    match after.status {
                        RequestStatus::NoRule | RequestStatus::Error => {
                            after.status = RequestStatus::Open;
                            after.status_reason = String::new();
                            after.completed_at = None;
                            after.auto_state = "pending".into();
                            what.push("再実行".into());
                        }
                        // Pressed twice: the first press queued it already.
                        RequestStatus::Open if after.auto_state == "pending" => {}
                        other => {
                            return Err(StoreError::Conflict {
                                field: Some("status".into()),
                                message: format!(
                                    "再実行できるのは「条件未設定」か「エラー」の申請です（この申請は「{}」）",
                                    other.label()
                                ),
                            });
                        }
                    }
                }
            }
        }
        if after == before {
            tx.commit().await?;
            return Ok(before);
        }
        write_request(&mut tx, self.backend, before.status, &after, count, &now).await?;
        add_history(&mut tx, id, actor, &what.join(" / "), &now).await?;
        tx.commit().await?;
        self.request(id).await
    }

    /// The subscription as a manual handling would leave it (the preview of
    /// the new dates); nothing is written.
    pub async fn preview_request_apply(
        &self,
        id: i64,
        commands: &[SubscriptionCommand],
    ) -> Result<Subscription, StoreError> {
        let r = self.request(id).await?;
        let sub = r.subscription_id.ok_or_else(|| {
            StoreError::from(FieldErrors::single(
                "subscription_id",
                "no_subscription",
                "定期受注が指定されていない申請です",
            ))
        })?;
        Ok(self
            .preview_subscription_change(sub, None, commands, &request_actor(&r, None))
            .await?
            .subscription)
    }

    /// One automation pass: while running, takes up to `limit` requests that
    /// await it, oldest first, in chunks of one transaction each (a savepoint
    /// per request: one request's failure does not undo the others). On
    /// PostgreSQL several workers share the work (`SKIP LOCKED`).
    pub async fn process_requests(&self, limit: usize) -> Result<AutomationReport, StoreError> {
        let mut report = AutomationReport::default();
        if !self.request_automation_running().await? {
            return Ok(report);
        }
        // SQLite has one writer: short chunks keep the web's writes waiting
        // only briefly.
        let chunk = match self.backend {
            crate::Backend::Postgres => 200,
            crate::Backend::Sqlite => 50,
        };
        let mut left = limit.max(1);
        while left > 0 {
            let n = left.min(chunk);
            let done = self.process_request_chunk(n, &mut report).await?;
            if done == 0 {
                break;
            }
            left = left.saturating_sub(done);
        }
        Ok(report)
    }

    async fn process_request_chunk(
        &self,
        n: usize,
        report: &mut AutomationReport,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
        let skip = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE auto_state = 'pending' AND status = 'open' ORDER BY id LIMIT {n}{skip}"
        )))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let requests: Vec<Request> = rows
            .iter()
            .map(request_from_row)
            .collect::<Result<_, _>>()?;
        let rules = load_rules(&mut tx).await?;
        // The chunk's subscriptions are locked in id order first (PostgreSQL):
        // two workers taking requests of the same subscriptions in another
        // order cannot deadlock.
        if self.backend == crate::Backend::Postgres {
            let mut subs: Vec<i64> = requests.iter().filter_map(|r| r.subscription_id).collect();
            subs.sort_unstable();
            subs.dedup();
            if !subs.is_empty() {
                let args: Vec<crate::Arg> = subs.iter().map(|s| (*s).into()).collect();
                crate::db::query_with(
                    format!(
                        "SELECT id FROM subscriptions WHERE id IN ({}) ORDER BY id FOR UPDATE",
                        crate::db::in_list(subs.len(), 1)
                    ),
                    args,
                )
                .fetch_all(&mut *tx)
                .await?;
            }
        }
        // Masters, calendar and reasons once for the chunk (the automation's
        // commands name no product).
        let env = self.subscription_env(&mut tx, &[]).await?;
        let today = self.clock.today();
        let now = self.clock.now_text();
        for r in &requests {
            // Read just before deciding: an earlier request of the chunk may
            // have changed the same subscription.
            let f = load_fact(&mut tx, &env.snapshot.masters, r, "").await?;
            let sub_facts = f.as_ref().map(|(s, latest)| SubscriptionFacts {
                subscription: s,
                latest_order_status: latest.as_deref(),
                today,
            });
            let decision = decide(
                r.form_id,
                &r.request_type,
                &|name| r.answer(name),
                sub_facts.as_ref(),
                &rules,
            );
            let sub = f.map(|(s, _)| s);
            self.carry_out(&mut tx, r, decision, sub, &env, &rules, &now, report)
                .await?;
        }
        tx.commit().await?;
        Ok(requests.len())
    }

    /// Carries one decision out inside the chunk's transaction (`sub`: the
    /// request's subscription as just read, locked).
    #[allow(clippy::too_many_arguments)]
    async fn carry_out(
        &self,
        tx: &mut Tx,
        r: &Request,
        decision: Decision,
        sub: Option<Subscription>,
        env: &crate::subscriptions::SubscriptionEnv,
        rules: &[RequestRule],
        now: &str,
        report: &mut AutomationReport,
    ) -> Result<(), StoreError> {
        let automation = Actor::system("自動処理");
        let mut after = r.clone();
        after.auto_state = "done".into();
        let mut count = None;
        let what;
        match decision {
            Decision::Manual => {
                report.manual += 1;
                what = format!(
                    "自動処理の対象外（申請種別「{}」）: 手動で対応してください",
                    r.request_type
                );
            }
            Decision::NoRule => {
                report.no_rule += 1;
                after.status = RequestStatus::NoRule;
                after.status_reason = "このフォームの自動処理条件がありません".into();
                what = "条件未設定".into();
            }
            Decision::Error(reason) => {
                report.errors += 1;
                after.status = RequestStatus::Error;
                after.status_reason = reason.clone();
                after.completed_at = Some(now.to_string());
                after.handled_by = "auto".into();
                what = format!("エラー: {reason}");
            }
            Decision::Refuse { rule, reason } => {
                report.refused += 1;
                let rule = rules.iter().find(|x| x.id == rule);
                after.status = RequestStatus::Refused;
                after.status_reason = reason.clone();
                after.completed_at = Some(now.to_string());
                after.handled_by = "auto".into();
                after.rule_id = rule.map(|x| x.id);
                if let Some(rule) = rule {
                    after.tags = rule.on_refusal.apply(&r.tags);
                    ensure_tags(tx, &rule.on_refusal.add).await?;
                }
                what = format!(
                    "対応不可（{}）: {reason}",
                    rule.map(|x| x.name.as_str()).unwrap_or("")
                );
            }
            Decision::Apply {
                rule,
                commands,
                summary,
            } => {
                let Some(rule) = rules.iter().find(|x| x.id == rule) else {
                    return Err(StoreError::Other(format!("rule {rule} vanished")));
                };
                let Some(before) = sub else {
                    return Err(StoreError::Other(format!(
                        "request {} decided without its subscription",
                        r.id
                    )));
                };
                sqlx::query("SAVEPOINT request_apply")
                    .execute(&mut **tx)
                    .await?;
                match self
                    .apply_rule(tx, r, rule, before, env, &commands, &summary)
                    .await
                {
                    Ok((sub, applied)) => {
                        sqlx::query("RELEASE SAVEPOINT request_apply")
                            .execute(&mut **tx)
                            .await?;
                        report.completed += 1;
                        after.status = RequestStatus::Completed;
                        after.status_reason = String::new();
                        after.completed_at = Some(now.to_string());
                        after.handled_by = "auto".into();
                        after.rule_id = Some(rule.id);
                        after.tags = rule.on_success.apply(&r.tags);
                        ensure_tags(tx, &rule.on_success.add).await?;
                        count = Some(sub.count);
                        self.queue_request_message(tx, r, rule, &sub, now).await?;
                        what = format!("対応完了（{}）: {applied}", rule.name);
                    }
                    // A database failure aborts the chunk (retried later); any
                    // other failure is this request's エラー, so one request
                    // cannot stop the ones after it.
                    Err(StoreError::Database(e)) => return Err(StoreError::Database(e)),
                    Err(e) => {
                        sqlx::query("ROLLBACK TO SAVEPOINT request_apply")
                            .execute(&mut **tx)
                            .await?;
                        sqlx::query("RELEASE SAVEPOINT request_apply")
                            .execute(&mut **tx)
                            .await?;
                        report.errors += 1;
                        let reason = match e {
                            StoreError::Invalid(e) => {
                                e.0.iter()
                                    .map(|f| f.message.clone())
                                    .collect::<Vec<_>>()
                                    .join(" / ")
                            }
                            other => other.to_string(),
                        };
                        after.status = RequestStatus::Error;
                        after.status_reason = reason.clone();
                        after.completed_at = Some(now.to_string());
                        after.handled_by = "auto".into();
                        after.rule_id = Some(rule.id);
                        what = format!("エラー（{}）: {reason}", rule.name);
                    }
                }
            }
        }
        write_request(tx, self.backend, r.status, &after, count, now).await?;
        add_history(tx, r.id, &automation, &what, now).await?;
        Ok(())
    }

    /// A rule's commands, then its memo line and label, through the
    /// subscription pipeline; the subscription after, and what was done.
    #[allow(clippy::too_many_arguments)]
    async fn apply_rule(
        &self,
        tx: &mut Tx,
        r: &Request,
        rule: &RequestRule,
        before: Subscription,
        env: &crate::subscriptions::SubscriptionEnv,
        commands: &[SubscriptionCommand],
        summary: &str,
    ) -> Result<(Subscription, String), StoreError> {
        let actor = request_actor(r, Some(rule));
        let why = format!("申請 #{}", r.id);
        let changed = self
            .change_loaded_subscription_raising_in_tx(tx, before, commands, env, &actor, &why)
            .await?;
        let mut sub = changed.subscription;
        let memo = rule.success_memo.trim();
        let label = rule.success_label.trim();
        if !memo.is_empty() || !label.is_empty() {
            let masters = &env.snapshot;
            let mut patch = SubscriptionPatch::default();
            if !memo.is_empty() {
                let line = render(memo, &sub, &r.request_type, "");
                patch.memo = Some(if sub.memo.trim().is_empty() {
                    line
                } else {
                    format!("{}\n{line}", sub.memo)
                });
            }
            if !label.is_empty() {
                let mut names: Vec<String> = sub
                    .label_ids
                    .iter()
                    .filter_map(|id| masters.masters.label(*id).map(|l| l.name.clone()))
                    .collect();
                if !names.iter().any(|n| n == label) {
                    names.push(label.to_string());
                }
                patch.labels = Some(names);
            }
            sub = self
                .change_loaded_subscription_raising_in_tx(
                    tx,
                    sub,
                    &[SubscriptionCommand::Patch(Box::new(patch))],
                    env,
                    &actor,
                    &why,
                )
                .await?
                .subscription;
        }
        let applied = format!(
            "{summary} → 次回配送予定日 {}、次回発送予定日 {}",
            sub.schedule.next_delivery, sub.schedule.next_ship
        );
        Ok((sub, applied))
    }

    /// The rule's message to the customer, queued in the request's
    /// transaction: LINE when asked and the customer linked an account, mail
    /// otherwise (nothing without an address).
    async fn queue_request_message(
        &self,
        tx: &mut Tx,
        r: &Request,
        rule: &RequestRule,
        sub: &Subscription,
        now: &str,
    ) -> Result<(), StoreError> {
        if rule.message_channel == MessageChannel::None || rule.message.trim().is_empty() {
            return Ok(());
        }
        let row = sqlx::query(
            "SELECT c.family_name, c.given_name, c.email, a.line_user_id FROM customers c LEFT JOIN customer_accounts a ON a.customer_id = c.id WHERE c.id = $1",
        )
        .bind(r.customer_id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else { return Ok(()) };
        let name = format!(
            "{} {}",
            get_str(&row, "family_name")?,
            get_str(&row, "given_name")?
        );
        let text = render(&rule.message, sub, &r.request_type, name.trim());
        let line_user = crate::db::get_opt_str(&row, "line_user_id")?.filter(|u| !u.is_empty());
        if rule.message_channel == MessageChannel::Line
            && let Some(user) = line_user
        {
            crate::line::queue_line(tx, r.customer_id, Some(r.id), &user, &[text], now).await?;
            return Ok(());
        }
        let email = get_str(&row, "email")?;
        if email.trim().is_empty() {
            return Ok(());
        }
        let shop = crate::mail::shop_info(tx).await?;
        let subject = format!(
            "【{}】お手続き完了のお知らせ（{}）",
            shop.name, r.request_type
        );
        crate::mail::queue_account_mail(tx, "request_completed", &email, &subject, &text, now).await
    }

    /// What `rule` would do to each request received in the last `days` days
    /// (of its type and form), newest first. Pure: the subscriptions are read
    /// and the commands applied in memory, so a dry run never takes the write
    /// lock or a row lock.
    pub async fn dry_run_request_rule(
        &self,
        rule: &RequestRule,
        days: i64,
        limit: i64,
    ) -> Result<Vec<DryRunLine>, StoreError> {
        let since = self
            .clock
            .now()
            .checked_sub(jiff::SignedDuration::from_hours(24 * days.clamp(1, 365)))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let since = juchu_domain::time::format_ts(since);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE received_at >= $1 AND request_type = $2 AND ($3 IS NULL OR form_id = $3) ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 2000)
        )))
        .bind(since)
        .bind(rule.rule_type.label())
        .bind(rule.form_id)
        .fetch_all(&self.pool)
        .await?;
        let requests: Vec<Request> = rows
            .iter()
            .map(request_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let masters = self.masters().await?;
        let calendar = self.shipping_calendar().await?;
        let reasons = self.subscription_reasons().await?;
        let products = HashMap::new();
        let ctx = juchu_domain::subscription::SubscriptionContext {
            masters: &masters,
            calendar: &calendar,
            reasons: &reasons,
            products: &products,
        };
        // A reading transaction: never SQLite's write lock.
        let mut tx = self.begin_read().await?;
        let today = self.clock.today();
        let mut out = Vec::new();
        for r in &requests {
            let f = load_fact(&mut tx, &masters, r, "").await?;
            let sub_facts = f.as_ref().map(|(s, latest)| SubscriptionFacts {
                subscription: s,
                latest_order_status: latest.as_deref(),
                today,
            });
            let decision = decide(
                r.form_id,
                &r.request_type,
                &|name| r.answer(name),
                sub_facts.as_ref(),
                std::slice::from_ref(rule),
            );
            let (outcome, detail) = match (decision, f) {
                (Decision::Manual | Decision::NoRule, _) => ("対象外".to_string(), String::new()),
                (Decision::Error(m), _) => (RequestStatus::Error.label().to_string(), m),
                (Decision::Refuse { reason, .. }, _) => {
                    (RequestStatus::Refused.label().to_string(), reason)
                }
                (
                    Decision::Apply {
                        commands, summary, ..
                    },
                    Some((sub, _)),
                ) => {
                    let mut after = Ok(sub);
                    for c in &commands {
                        after = after
                            .and_then(|s| juchu_domain::subscription::apply_command(&s, c, &ctx));
                    }
                    match after {
                        Ok(s) => (
                            RequestStatus::Completed.label().to_string(),
                            format!(
                                "{summary} → 次回配送予定日 {}、次回発送予定日 {}",
                                s.schedule.next_delivery, s.schedule.next_ship
                            ),
                        ),
                        Err(e) => (
                            RequestStatus::Error.label().to_string(),
                            e.0.iter()
                                .map(|f| f.message.clone())
                                .collect::<Vec<_>>()
                                .join(" / "),
                        ),
                    }
                }
                (Decision::Apply { .. }, None) => (
                    RequestStatus::Error.label().to_string(),
                    "定期受注がありません".into(),
                ),
            };
            out.push(DryRunLine {
                request_id: r.id,
                received_at: r.received_at.clone(),
                request_type: r.request_type.clone(),
                outcome,
                detail,
            });
        }
        tx.rollback().await?;
        Ok(out)
    }
}

/// A request's subscription as it is now, and its latest order's 対応状況
/// name; `None` without a subscription.
async fn load_fact(
    tx: &mut Tx,
    masters: &juchu_domain::masters::Masters,
    r: &Request,
    lock: &str,
) -> Result<Option<(Subscription, Option<String>)>, StoreError> {
    let Some(sub_id) = r.subscription_id else {
        return Ok(None);
    };
    let sub = match crate::subscriptions::load_subscription(tx, sub_id, lock).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let latest = sqlx::query(
        "SELECT handling_status_id FROM orders WHERE subscription_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(sub_id)
    .fetch_optional(&mut **tx)
    .await?;
    let latest = match latest {
        Some(row) => masters
            .handling_status(get_i64(&row, "handling_status_id")?)
            .map(|s| s.name.clone()),
        None => None,
    };
    Ok(Some((sub, latest)))
}
