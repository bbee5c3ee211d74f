//! The mediator: the only code that crosses aggregates.
//!
//! An aggregate's pipeline changes its own rows and reports what reaches
//! further (`orders::Changed::outside`, a subscription's new status); the code
//! here carries that out in the same transaction — a rule's mail, payment
//! request or subscription change, the subscriptions new orders start, the
//! event a subscription's new status raises on its latest order, a payment
//! provider's answer, the orders the daily run creates. So every entry point
//! that can set off such an effect lives here (or above, in `jobs`), and the
//! aggregates below never call each other.
//!
//! Depth: an effect crosses back at most once. An operator's subscription
//! change raises an event on its latest order; a rule acting on that event may
//! change the subscription again, but through the subscription pipeline alone
//! ([`Store::apply_outside_actions`] never raises), so no chain runs between
//! orders and subscriptions. The future types enforce it: a call back into
//! `change_subscription_raising` from here would be a recursive async fn and
//! not compile without boxing.

mod create;
mod deliveries;
pub mod order_mail;
mod payment_answers;
pub mod payment_import;
pub mod requests;
pub mod shipment_import;
mod subscription_notices;
mod subscription_run;
mod subscriptions;

use crate::StoreError;
use crate::db::{Store, Tx, write_rows};
use crate::history::{Actor, HistoryRow, order_history_rows};
use crate::orders::{ChangeTarget, Changed};
use juchu_domain::FieldErrors;
use juchu_domain::automation::Step;
use juchu_domain::order::Order;
use juchu_domain::patch::OrderPatch;
use std::collections::HashMap;

impl Store {
    /// Changes an order. With `expected_version`, an edit based on a stale copy is
    /// refused (409) instead of overwriting someone else's change.
    pub async fn change_order(
        &self,
        order_number: &str,
        expected_version: Option<i64>,
        patch: &OrderPatch,
        actor: &Actor,
        reason: &str,
    ) -> Result<Changed, StoreError> {
        let mut tx = self.begin().await?;
        let target = ChangeTarget {
            expected_version,
            ..ChangeTarget::new(order_number, patch)
        };
        let out = self.change_in_tx(&mut tx, target, actor, reason).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// One order through the pipeline in the caller's transaction — the
    /// one-order form of [`Store::change_batch_in_tx`]; see [`ChangeTarget`]
    /// for what is asked (a version to check, events from outside the order).
    pub(crate) async fn change_in_tx(
        &self,
        tx: &mut Tx,
        target: ChangeTarget<'_>,
        actor: &Actor,
        reason: &str,
    ) -> Result<Changed, StoreError> {
        self.change_batch_in_tx(tx, &[target], actor, reason)
            .await?
            .pop()
            .unwrap_or(Err(StoreError::NotFound("受注")))
    }

    /// The change pipeline for many orders at once (a job's chunk): each
    /// order is validated, diffed, recorded and run through the rules exactly
    /// as alone, but the orders are read, locked and written together — one
    /// read, one multi-row `UPDATE` per few hundred orders, one write of every
    /// 履歴 and event row. An order that fails (not found, stale version,
    /// invalid) gets its error and nothing of it is written; the others go
    /// on. `Err` is for the store itself failing: the caller's transaction is
    /// then to be dropped.
    pub(crate) async fn change_batch_in_tx(
        &self,
        tx: &mut Tx,
        targets: &[ChangeTarget<'_>],
        actor: &Actor,
        reason: &str,
    ) -> Result<Vec<Result<Changed, StoreError>>, StoreError> {
        let mut reason_errors = FieldErrors::default();
        juchu_domain::text::check_len(&mut reason_errors, "reason", reason, 500);
        reason_errors.into_result()?;
        let loaded = self.lock_orders_by_number(tx, targets).await?;
        self.change_loaded_in_tx(tx, loaded, targets, actor, reason)
            .await
    }

    /// The order pipeline ([`Store::apply_order_changes`]) on orders the caller
    /// read and locked in this transaction, with the rules' actions outside
    /// the orders carried out after them.
    pub(crate) async fn change_loaded_in_tx(
        &self,
        tx: &mut Tx,
        loaded: HashMap<String, Order>,
        targets: &[ChangeTarget<'_>],
        actor: &Actor,
        reason: &str,
    ) -> Result<Vec<Result<Changed, StoreError>>, StoreError> {
        let results = self
            .apply_order_changes(tx, loaded, targets, actor, reason)
            .await?;
        let mut history = Vec::new();
        for changed in results.iter().flatten() {
            if !changed.outside.is_empty() {
                self.apply_outside_actions(tx, &changed.order, &changed.outside, &mut history)
                    .await?;
            }
        }
        if !history.is_empty() {
            write_rows(
                tx,
                self.backend,
                vec![order_history_rows(&history, &self.clock.now_text())],
            )
            .await?;
        }
        Ok(results)
    }

    /// Carries out the rules' actions that reach outside the order — a mail to
    /// queue, the order's subscription to change — in the same transaction, and
    /// records on the order what happened (or why not — a failure here never undoes the order's change).
    async fn apply_outside_actions(
        &self,
        tx: &mut Tx,
        order: &Order,
        steps: &[Step],
        history: &mut Vec<HistoryRow>,
    ) -> Result<(), StoreError> {
        use juchu_domain::automation::Action;
        use juchu_domain::status::SubscriptionStatus;
        use juchu_domain::subscription::SubscriptionCommand;
        for step in steps {
            if step.error.is_some() {
                continue;
            }
            let rule = &step.firing.rule_name;
            let why = format!(
                "自動化設定「{rule}」: {} → {}",
                step.firing.event.describe(),
                step.firing.action.describe()
            );
            // What the action did (or why not), for one 履歴 row on the order.
            let (field, after) = match &step.firing.action {
                Action::SendMail { template } => {
                    let snapshot = self.masters_in(tx).await?;
                    let result = crate::mail::queue_for_order(
                        tx,
                        template,
                        order,
                        &snapshot.masters,
                        &self.clock.now_text(),
                    )
                    .await?;
                    (
                        "mail",
                        result.unwrap_or_else(|why| format!("送信しません: {why}")),
                    )
                }
                Action::RunPaymentProcess { process } => {
                    let snapshot = self.masters_in(tx).await?;
                    let result = crate::payments::queue(
                        tx,
                        order,
                        &snapshot.masters,
                        *process,
                        &format!("自動化設定「{rule}」"),
                        None,
                        &self.clock.now_text(),
                    )
                    .await?;
                    (
                        "payment_process",
                        result.unwrap_or_else(|why| format!("依頼しません: {why}")),
                    )
                }
                Action::SetSubscriptionStatus { status, reason } => {
                    let result = match order.subscription_id {
                        None => Err("この受注には定期受注がありません".to_string()),
                        Some(sid) => {
                            let cmd = match status {
                                SubscriptionStatus::Stopped => SubscriptionCommand::Stop {
                                    reason: reason.clone(),
                                },
                                SubscriptionStatus::Cancelled => SubscriptionCommand::Cancel {
                                    reason: reason.clone(),
                                },
                                SubscriptionStatus::Active => {
                                    SubscriptionCommand::Resume { confirm: true }
                                }
                            };
                            // The subscription's 履歴 names the rule as before; the
                            // kind and id now say which rule it was.
                            let actor = Actor::Rule {
                                id: step.firing.rule_id,
                                name: format!("自動化設定「{rule}」"),
                            };
                            match self
                                .change_subscription_in_tx(tx, sid, None, &[cmd], &actor, &why)
                                .await
                            {
                                Ok(changed) if changed.changes.is_empty() => {
                                    Ok(format!("定期受注 #{sid}: 変更なし"))
                                }
                                Ok(_) => {
                                    Ok(format!("定期受注 #{sid} を「{}」に変更", status.label()))
                                }
                                Err(StoreError::Invalid(e)) => Err(e.to_string()),
                                Err(e) => return Err(e),
                            }
                        }
                    };
                    (
                        "subscription",
                        result.unwrap_or_else(|why| format!("失敗: {why}")),
                    )
                }
                _ => continue,
            };
            let actor = Actor::Rule {
                id: step.firing.rule_id,
                name: rule.clone(),
            };
            history.push(HistoryRow::by(&actor, order.id, field, "", after, why));
        }
        Ok(())
    }
}
