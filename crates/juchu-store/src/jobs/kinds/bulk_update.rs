//! 一括更新: the orders' own fields through the order pipeline as one batch;
//! customers and subscriptions once per job, under a savepoint per order.

use crate::StoreError;
use crate::db::{Store, Tx};
use crate::history::Actor;
use crate::jobs::kind::*;
use crate::snapshot::Snapshot;
use juchu_domain::FieldErrors;
use juchu_domain::job::BulkUpdate;
use juchu_domain::job::{ItemOutcome, JobKind, JobParams};
use juchu_domain::order::Order;
use juchu_domain::order::OrderContext;
use juchu_domain::patch::OrderPatch;
use std::collections::{HashMap, HashSet};

pub(crate) struct BulkUpdateKind;

fn params(p: &JobParams) -> Result<&BulkUpdate, StoreError> {
    match p {
        JobParams::BulkUpdate(u) => Ok(u),
        _ => mismatch(JobKind::BulkUpdate),
    }
}

impl Kind for BulkUpdateKind {
    fn kind(&self) -> JobKind {
        JobKind::BulkUpdate
    }

    /// 1,000 orders per transaction: all of its work is rows (履歴, events,
    /// rules' queued mail), and a commit per 200 orders cost a fifth of the
    /// job's time on PostgreSQL.
    fn chunks_per_transaction(&self) -> i64 {
        5
    }

    fn check<'a>(&'a self, store: &'a Store, p: &'a JobParams) -> KindFuture<'a, ()> {
        Box::pin(async move {
            let u = params(p)?;
            let snapshot = store.masters().await?;
            let mut e = FieldErrors::default();
            if let Some(s) = &u.handling_status
                && snapshot.handling_status_by_name(s).is_none()
            {
                e.add(
                    "params.handling_status",
                    "unknown",
                    format!("対応状況「{s}」はありません"),
                );
            }
            if let Some(Some(p)) = &u.payment_method
                && snapshot.payment_method_by_key(p).is_none()
            {
                e.add(
                    "params.payment_method",
                    "unknown",
                    format!("支払方法「{p}」はありません"),
                );
            }
            if let Some(Some(c)) = &u.carrier
                && snapshot.carrier_by_key(c).is_none()
            {
                e.add(
                    "params.carrier",
                    "unknown",
                    format!("配送業者「{c}」はありません"),
                );
            }
            if let Some(l) = &u.labels {
                for (i, name) in l.values.iter().enumerate() {
                    if snapshot.label_by_name(name).is_none() {
                        e.add(
                            format!("params.labels.values[{i}]"),
                            "unknown",
                            format!("受注ラベル「{name}」はありません"),
                        );
                    }
                }
            }
            Ok(e.into_result()?)
        })
    }

    fn reminders(&self, p: &JobParams) -> Vec<String> {
        params(p).map_or_else(
            |_| Vec::new(),
            |u| u.reminders().into_iter().map(String::from).collect(),
        )
    }

    fn checks_orders(&self) -> bool {
        true
    }

    fn would_fail(&self, ctx: &DryRunContext<'_>, order: &Order) -> Option<String> {
        let u = params(ctx.params).ok()?;
        if let Err(why) = u.check_order(order) {
            return Some(why);
        }
        if !u.touches_order() {
            return None;
        }
        let products = HashMap::new();
        let octx = OrderContext {
            masters: &ctx.snapshot.masters,
            products: &products,
            rounding: ctx.snapshot.rounding,
        };
        juchu_domain::patch::apply_patch(
            order,
            &u.order_patch(order, &ctx.snapshot.masters),
            &octx,
            ctx.clock.today(),
        )
        .err()
        .map(|e| e.messages())
    }

    fn run_chunk<'a>(&'a self, c: Chunk<'a>) -> KindFuture<'a, Outcomes> {
        Box::pin(async move {
            let u = params(c.params)?;
            let snapshot = c.store.masters_in(c.tx).await?;
            // The batch path, unless this chunk failed before: then each order
            // runs under its own savepoint so that only the bad one fails.
            if !c.isolate
                && !u.touches_subscription()
                && u.customer_blacklisted.is_none()
                && u.customer_memo.is_none()
            {
                return bulk_update_orders(c.store, c.tx, u, c.items, &snapshot, c.actor).await;
            }
            let orders = lock_orders(c.store, c.tx, c.items).await?;
            let work = OneOrder {
                job_id: c.job.id,
                u,
                snapshot: &snapshot,
                actor: c.actor,
            };
            run_each(c.store, c.tx, c.items, &orders, &work).await
        })
    }
}

struct OneOrder<'a> {
    job_id: i64,
    u: &'a BulkUpdate,
    snapshot: &'a Snapshot,
    actor: &'a Actor,
}

impl PerOrder for OneOrder<'_> {
    fn run<'a>(
        &'a self,
        store: &'a Store,
        tx: &'a mut Tx,
        order: &'a Order,
    ) -> KindFuture<'a, Outcome> {
        Box::pin(bulk_update(
            store,
            tx,
            self.job_id,
            self.u,
            order,
            self.snapshot,
            self.actor,
        ))
    }
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
) -> Result<Outcomes, StoreError> {
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
            Err(e) => (*seq, ItemOutcome::Failed, crate::jobs::item_error(&e)),
        });
    }
    out.sort_by_key(|(seq, _, _)| *seq);
    Ok(out)
}

fn updated_message(changed: &crate::orders::Changed) -> String {
    let fields: Vec<&str> = changed
        .changes
        .iter()
        .map(|c| juchu_domain::patch::field_label(c.field))
        .collect();
    format!("{} を更新しました", fields.join("・"))
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
            .change_in_tx(
                tx,
                crate::orders::ChangeTarget::new(&order.order_number, &patch),
                actor,
                WHY,
            )
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
        let Some(sub_id) = crate::jobs::subscription_of(tx, order).await? else {
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
