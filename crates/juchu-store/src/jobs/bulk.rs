//! The work of one job item, per kind: 一括更新, 一括督促, メール一括通知,
//! 決済状況一括変更 and ブラックリスト再チェック. Each runs inside the chunk's
//! transaction under a savepoint, and every change goes through the change
//! pipeline (orders) or the subscription pipeline.

use crate::StoreError;
use crate::db::{Store, Tx};
use crate::history::Actor;
use crate::jobs::{Job, item_error, subscription_of};
use crate::snapshot::Snapshot;
use juchu_domain::FieldErrors;
use juchu_domain::job::{
    BulkMail, BulkUpdate, ItemOutcome, JobParams, PaymentChange, PaymentChangeProcess,
    SubscriptionOption,
};
use juchu_domain::mail::MailTemplate;
use juchu_domain::order::{Order, OrderContext};
use juchu_domain::patch::OrderPatch;
use juchu_domain::payment::PaymentProcess;
use juchu_domain::subscription::SubscriptionCommand;
use std::collections::{HashMap, HashSet};

type Outcome = (ItemOutcome, String);

/// Runs a chunk's items; one savepoint each, so a failing order is rolled back
/// alone and reported.
pub(crate) async fn run_items(
    store: &Store,
    tx: &mut Tx,
    job: &Job,
    params: &JobParams,
    items: &[(i64, i64)],
    actor: &Actor,
    isolate: bool,
) -> Result<Vec<(i64, ItemOutcome, String)>, StoreError> {
    let snapshot = store.masters_in(tx).await?;
    let ids: Vec<i64> = items.iter().map(|(_, id)| *id).collect();
    // The batch path, unless this chunk failed before: then each order runs
    // under its own savepoint so that only the bad one fails.
    if let JobParams::BulkUpdate(u) = params
        && !isolate
        && !u.touches_subscription()
        && u.customer_blacklisted.is_none()
        && u.customer_memo.is_none()
    {
        return bulk_update_orders(store, tx, u, items, &snapshot, actor).await;
    }
    // Locked for the chunk: what an item computes from the order (a memo added
    // to, the 売上完了 rule, an open payment request) cannot go stale.
    let orders: HashMap<i64, Order> = store
        .lock_orders_by_id(tx, &ids)
        .await?
        .into_values()
        .map(|o| (o.id, o))
        .collect();
    // ブラックリスト再チェック screens the chunk at once.
    let mut screened: HashMap<i64, Vec<juchu_domain::blacklist::AttentionMatch>> = HashMap::new();
    if let JobParams::BlacklistRescan(_) = params {
        let list: Vec<Order> = ids
            .iter()
            .filter_map(|id| orders.get(id).cloned())
            .collect();
        let found = crate::blacklist::screen_orders(
            tx,
            store.backend,
            &snapshot.blacklist,
            &snapshot.masters,
            &list,
            None,
        )
        .await?;
        for (o, m) in list.iter().zip(found) {
            screened.insert(o.id, m);
        }
    }
    let template = match params {
        JobParams::BulkMail(m) => Some(mail_template(tx, m).await?),
        _ => None,
    };
    let mut out = Vec::with_capacity(items.len());
    for (seq, order_id) in items {
        let Some(order) = orders.get(order_id) else {
            out.push((*seq, ItemOutcome::Failed, "受注が削除されています".into()));
            continue;
        };
        sqlx::query("SAVEPOINT job_item").execute(&mut **tx).await?;
        let result = match params {
            JobParams::BulkUpdate(u) => {
                bulk_update(store, tx, job.id, u, order, &snapshot, actor).await
            }
            JobParams::Dunning(d) => dunning(store, tx, d, order, job.id, actor).await,
            JobParams::BulkMail(m) => match &template {
                Some(t) => bulk_mail(store, tx, m, t, order, &snapshot, actor).await,
                None => Err(StoreError::Other("no template".into())),
            },
            JobParams::PaymentChange(p) => {
                payment_change(store, tx, job.id, p, order, &snapshot, actor).await
            }
            JobParams::BlacklistRescan(_) => {
                rescan(
                    store,
                    tx,
                    order,
                    screened.remove(order_id).unwrap_or_default(),
                    actor,
                )
                .await
            }
            JobParams::CsvExport(_) | JobParams::PdfExport(_) => {
                Err(StoreError::Other("exports run as one chunk".into()))
            }
        };
        match result {
            Ok((outcome, message)) => {
                sqlx::query("RELEASE SAVEPOINT job_item")
                    .execute(&mut **tx)
                    .await?;
                out.push((*seq, outcome, message));
            }
            Err(e) => {
                sqlx::query("ROLLBACK TO SAVEPOINT job_item")
                    .execute(&mut **tx)
                    .await?;
                sqlx::query("RELEASE SAVEPOINT job_item")
                    .execute(&mut **tx)
                    .await?;
                out.push((*seq, ItemOutcome::Failed, item_error(&e)));
            }
        }
    }
    Ok(out)
}

/// 一括更新 of the orders' own fields: the chunk goes through the pipeline as
/// one batch (one locked read, multi-row writes), each order judged alone.
async fn bulk_update_orders(
    store: &Store,
    tx: &mut Tx,
    u: &BulkUpdate,
    items: &[(i64, i64)],
    snapshot: &Snapshot,
    actor: &Actor,
) -> Result<Vec<(i64, ItemOutcome, String)>, StoreError> {
    let ids: Vec<i64> = items.iter().map(|(_, id)| *id).collect();
    let mut loaded = store.lock_orders_by_id(tx, &ids).await?;
    let by_id: HashMap<i64, String> = loaded
        .values()
        .map(|o| (o.id, o.order_number.clone()))
        .collect();
    let mut out = Vec::with_capacity(items.len());
    let mut batch: Vec<(i64, String, OrderPatch)> = Vec::new();
    for (seq, order_id) in items {
        let Some(order) = by_id.get(order_id).and_then(|n| loaded.get(n)) else {
            out.push((*seq, ItemOutcome::Failed, "受注が削除されています".into()));
            continue;
        };
        match u.check_order(order) {
            Err(why) => out.push((*seq, ItemOutcome::Failed, why)),
            Ok(()) => batch.push((
                *seq,
                order.order_number.clone(),
                u.order_patch(order, &snapshot.masters),
            )),
        }
    }
    // Refused orders are not changed: drop them from what the pipeline sees.
    let keep: HashSet<&str> = batch.iter().map(|(_, n, _)| n.as_str()).collect();
    loaded.retain(|n, _| keep.contains(n.as_str()));
    let targets: Vec<crate::orders::ChangeTarget<'_>> = batch
        .iter()
        .map(|(_, number, patch)| crate::orders::ChangeTarget {
            order_number: number,
            expected_version: None,
            patch,
            outside_events: &[],
        })
        .collect();
    let results = store
        .change_loaded_in_tx(tx, loaded, &targets, actor, "一括更新")
        .await?;
    for ((seq, _, _), r) in batch.iter().zip(results) {
        out.push(match r {
            Ok(changed) if changed.changes.is_empty() => (
                *seq,
                ItemOutcome::Ok,
                "変更はありません（すでにその値です）".into(),
            ),
            Ok(changed) => (*seq, ItemOutcome::Ok, updated_message(&changed)),
            Err(e) => (*seq, ItemOutcome::Failed, item_error(&e)),
        });
    }
    out.sort_by_key(|(seq, _, _)| *seq);
    Ok(out)
}

/// Why an item would fail, checked without writing (the dry run).
pub(crate) fn would_fail(
    params: &JobParams,
    order: &Order,
    snapshot: &Snapshot,
    opted_out: &HashSet<i64>,
    clock: &crate::db::Clock,
) -> Option<String> {
    match params {
        JobParams::BulkUpdate(u) => {
            if let Err(why) = u.check_order(order) {
                return Some(why);
            }
            if !u.touches_order() {
                return None;
            }
            let products = HashMap::new();
            let ctx = OrderContext {
                masters: &snapshot.masters,
                products: &products,
                rounding: snapshot.rounding,
            };
            juchu_domain::patch::apply_patch(
                order,
                &u.order_patch(order, &snapshot.masters),
                &ctx,
                clock.today(),
            )
            .err()
            .map(|e| messages(&e))
        }
        JobParams::PaymentChange(p) => match process_of(p.process) {
            Some(process) => juchu_domain::payment::check_request(
                crate::payments::gateway_of(order, &snapshot.masters),
                process,
                order,
            )
            .err(),
            None => None,
        },
        JobParams::BulkMail(_) => {
            if order.customer_id.is_some_and(|c| opted_out.contains(&c)) {
                Some("メール設定が「送信しない」の顧客です（送信せずに結果に記録します）".into())
            } else if order.billing.email.trim().is_empty() {
                Some("請求者のメールアドレスがありません".into())
            } else {
                None
            }
        }
        _ => None,
    }
}

fn updated_message(changed: &crate::orders::Changed) -> String {
    let fields: Vec<&str> = changed
        .changes
        .iter()
        .map(|c| juchu_domain::patch::field_label(c.field))
        .collect();
    format!("{} を更新しました", fields.join("・"))
}

fn messages(e: &FieldErrors) -> String {
    e.0.iter()
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join(" / ")
}

fn invalid(why: String) -> StoreError {
    FieldErrors::single("order", "not_allowed", why).into()
}

/// Whether `target` (a customer, a subscription) is met for the first time in
/// this job: several selected orders of one customer change the customer once.
async fn first_time(tx: &mut Tx, job_id: i64, kind: &str, target: i64) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "INSERT INTO job_targets (job_id, kind, target_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(job_id)
    .bind(kind.to_string())
    .bind(target)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

async fn bulk_update(
    store: &Store,
    tx: &mut Tx,
    job_id: i64,
    u: &BulkUpdate,
    order: &Order,
    snapshot: &Snapshot,
    actor: &Actor,
) -> Result<Outcome, StoreError> {
    const WHY: &str = "一括更新";
    u.check_order(order).map_err(invalid)?;
    let mut done: Vec<String> = Vec::new();
    if u.touches_order() {
        let patch = u.order_patch(order, &snapshot.masters);
        let changed = store
            .change_in_tx(tx, &order.order_number, None, &patch, actor, WHY)
            .await?;
        done.extend(
            changed
                .changes
                .iter()
                .map(|c| juchu_domain::patch::field_label(c.field).to_string()),
        );
    }
    let customer_change = u.customer_blacklisted.is_some() || u.customer_memo.is_some();
    let mut customer_first = true;
    if customer_change {
        let Some(customer_id) = order.customer_id else {
            return Err(invalid(
                "顧客が登録されていない受注です（顧客の項目を更新できません）".into(),
            ));
        };
        customer_first = first_time(tx, job_id, "customer", customer_id).await?;
        if !customer_first {
            done.push("顧客（同じ顧客の別の受注で更新済み）".into());
        }
    }
    if customer_change
        && customer_first
        && let Some(customer_id) = order.customer_id
    {
        if let Some(on) = u.customer_blacklisted {
            let reason = u.customer_blacklist_reason.clone().unwrap_or_default();
            store
                .set_blacklisted_in_tx(tx, customer_id, on, &reason, actor)
                .await?;
            done.push("ブラックリスト(顧客)".into());
        }
        if let Some(memo) = &u.customer_memo {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT memo FROM customers WHERE id = $1{}",
                store.lock_suffix()
            )))
            .bind(customer_id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound("顧客"))?;
            let current_memo = crate::db::get_str(&row, "memo")?;
            let text = memo.apply(&current_memo);
            let mut e = FieldErrors::default();
            juchu_domain::text::check_len(
                &mut e,
                "customer_memo",
                &text,
                juchu_domain::order::MAX_MEMO,
            );
            e.into_result()?;
            sqlx::query("UPDATE customers SET memo = $1, updated_at = $2 WHERE id = $3")
                .bind(text)
                .bind(store.clock.now_text())
                .bind(customer_id)
                .execute(&mut **tx)
                .await?;
            done.push("顧客メモ".into());
        }
    }
    if u.touches_subscription() {
        let Some(sub_id) = subscription_of(tx, order).await? else {
            return Err(invalid(
                "定期受注に紐づかない受注です（定期の項目を更新できません）".into(),
            ));
        };
        let sub = crate::subscriptions::load_subscription(tx, sub_id, store.lock_suffix()).await?;
        let cmds = u.subscription_commands(&sub);
        if !first_time(tx, job_id, "subscription", sub_id).await? {
            done.push(format!(
                "定期受注 #{sub_id}（同じ定期受注の別の受注で更新済み）"
            ));
        } else if !cmds.is_empty() {
            let changed = store
                .change_subscription_raising_in_tx(tx, sub_id, &cmds, actor, WHY)
                .await?;
            if !changed.changes.is_empty() {
                done.push(format!("定期受注 #{sub_id}"));
            }
        }
    }
    Ok(if done.is_empty() {
        (
            ItemOutcome::Ok,
            "変更はありません（すでにその値です）".into(),
        )
    } else {
        (
            ItemOutcome::Ok,
            format!("{} を更新しました", done.join("・")),
        )
    })
}

async fn dunning(
    store: &Store,
    tx: &mut Tx,
    d: &juchu_domain::job::Dunning,
    order: &Order,
    job_id: i64,
    actor: &Actor,
) -> Result<Outcome, StoreError> {
    sqlx::query(
        "INSERT INTO order_dunnings (order_id, memo, due_date, job_id, actor_name, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(order.id)
    .bind(d.memo.trim().to_string())
    .bind(d.due_date.clone())
    .bind(job_id)
    .bind(actor.name().to_string())
    .bind(store.clock.now_text())
    .execute(&mut **tx)
    .await?;
    store
        .job_note(tx, order.id, actor, "dunning", d.describe())
        .await?;
    Ok((
        ItemOutcome::Ok,
        format!("督促を記録しました: {}", d.describe()),
    ))
}

/// The template a メール一括通知 sends: a stored one, or the typed text.
async fn mail_template(tx: &mut Tx, m: &BulkMail) -> Result<MailTemplate, StoreError> {
    if let (Some(subject), Some(body)) = (&m.subject, &m.body) {
        return Ok(MailTemplate {
            code: "bulk_mail".into(),
            name: "メール一括通知".into(),
            subject: subject.clone(),
            body: body.clone(),
        });
    }
    let code = m.template_code.clone().unwrap_or_default();
    crate::mail::template(tx, &code)
        .await?
        .ok_or_else(|| invalid(format!("メールテンプレート「{code}」はありません")))
}

async fn bulk_mail(
    store: &Store,
    tx: &mut Tx,
    m: &BulkMail,
    t: &MailTemplate,
    order: &Order,
    snapshot: &Snapshot,
    actor: &Actor,
) -> Result<Outcome, StoreError> {
    let copies = crate::mail::Copies {
        cc: m.cc.clone(),
        bcc: m.bcc.clone(),
    };
    match crate::mail::queue_template(
        tx,
        t,
        order,
        &snapshot.masters,
        &copies,
        &store.clock.now_text(),
    )
    .await?
    {
        Ok(done) => {
            store
                .job_note(tx, order.id, actor, "mail", done.clone())
                .await?;
            Ok((ItemOutcome::Ok, done))
        }
        // Opted out or no address: reported, not an error.
        Err(why) => Ok((ItemOutcome::Skipped, why)),
    }
}

fn process_of(p: PaymentChangeProcess) -> Option<PaymentProcess> {
    match p {
        PaymentChangeProcess::Capture => Some(PaymentProcess::Capture),
        PaymentChangeProcess::Cancel => Some(PaymentProcess::Cancel),
        PaymentChangeProcess::Reauthorize => Some(PaymentProcess::Reauthorize),
        PaymentChangeProcess::ForceCapture | PaymentChangeProcess::ForceCancel => None,
    }
}

async fn payment_change(
    store: &Store,
    tx: &mut Tx,
    job_id: i64,
    p: &PaymentChange,
    order: &Order,
    snapshot: &Snapshot,
    actor: &Actor,
) -> Result<Outcome, StoreError> {
    let mut message = match process_of(p.process) {
        Some(process) => {
            let done = crate::payments::queue(
                tx,
                order,
                &snapshot.masters,
                process,
                actor.name(),
                None,
                &store.clock.now_text(),
            )
            .await?
            .map_err(invalid)?;
            store
                .job_note(tx, order.id, actor, "payment_process", done.clone())
                .await?;
            done
        }
        None => {
            // 強制売上 / 強制取消: our status only; 履歴 says the provider was not told.
            let patch = OrderPatch {
                payment_override: Some(
                    match p.process {
                        PaymentChangeProcess::ForceCapture => "強制売上",
                        _ => "強制取消",
                    }
                    .into(),
                ),
                ..OrderPatch::default()
            };
            let changed = store
                .change_in_tx(
                    tx,
                    &order.order_number,
                    None,
                    &patch,
                    actor,
                    p.process.label(),
                )
                .await?;
            format!(
                "{}: 決済状況を「{}」にしました",
                p.process.label(),
                changed.order.payment_status.label()
            )
        }
    };
    if p.process.cancels() {
        let mut cmds = Vec::new();
        let reason = p.subscription_reason.clone().unwrap_or_default();
        match p.subscription {
            SubscriptionOption::Leave => {}
            SubscriptionOption::Stop => cmds.push(SubscriptionCommand::Stop { reason }),
            SubscriptionOption::Cancel => cmds.push(SubscriptionCommand::Cancel { reason }),
        }
        if p.decrement_count {
            cmds.push(SubscriptionCommand::DecrementCount);
        }
        if p.recalculate {
            cmds.push(SubscriptionCommand::Recalculate);
        }
        if !cmds.is_empty() {
            match subscription_of(tx, order).await? {
                // 定期回数 -1 and the rest once per subscription, however many
                // of its orders are selected.
                Some(sub_id) if !first_time(tx, job_id, "subscription", sub_id).await? => {
                    message.push_str(&format!(
                        "／定期受注 #{sub_id} は同じジョブの別の受注で更新済み"
                    ));
                }
                Some(sub_id) => {
                    store
                        .change_subscription_raising_in_tx(
                            tx,
                            sub_id,
                            &cmds,
                            actor,
                            p.process.label(),
                        )
                        .await?;
                    message.push_str(&format!("／定期受注 #{sub_id} を更新しました"));
                }
                None => message.push_str("／定期受注のない受注です（定期の変更なし）"),
            }
        }
    }
    Ok((ItemOutcome::Ok, message))
}

async fn rescan(
    store: &Store,
    tx: &mut Tx,
    order: &Order,
    matches: Vec<juchu_domain::blacklist::AttentionMatch>,
    actor: &Actor,
) -> Result<Outcome, StoreError> {
    if order.needs_attention {
        return Ok((ItemOutcome::Skipped, "すでに要対応受注です".into()));
    }
    if matches.is_empty() {
        return Ok((ItemOutcome::Ok, "該当なし".into()));
    }
    let reason = store.flag_rescanned(tx, order, matches, actor).await?;
    Ok((ItemOutcome::Ok, format!("要対応受注にしました（{reason}）")))
}
