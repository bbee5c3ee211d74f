//! 決済状況一括変更: a payment process asked for each order (or 強制売上 /
//! 強制取消), and with 取消 the subscription stopped or cancelled once.

use crate::StoreError;
use crate::db::{Store, Tx};
use crate::history::Actor;
use crate::jobs::kind::*;
use crate::snapshot::Snapshot;
use juchu_domain::job::{ItemOutcome, JobKind, JobParams};
use juchu_domain::job::{PaymentChange, PaymentChangeProcess, SubscriptionOption};
use juchu_domain::order::Order;
use juchu_domain::patch::OrderPatch;
use juchu_domain::payment::PaymentProcess;
use juchu_domain::subscription::SubscriptionCommand;

pub(crate) struct PaymentChangeKind;

impl Kind for PaymentChangeKind {
    fn kind(&self) -> JobKind {
        JobKind::PaymentChange
    }

    fn checks_orders(&self) -> bool {
        true
    }

    fn would_fail(&self, ctx: &DryRunContext<'_>, order: &Order) -> Option<String> {
        let JobParams::PaymentChange(p) = ctx.params else {
            return None;
        };
        let process = process_of(p.process)?;
        juchu_domain::payment::check_request(
            crate::payments::gateway_of(order, &ctx.snapshot.masters),
            process,
            order,
        )
        .err()
    }

    fn run_chunk<'a>(&'a self, c: Chunk<'a>) -> KindFuture<'a, Outcomes> {
        Box::pin(async move {
            let JobParams::PaymentChange(p) = c.params else {
                return mismatch(JobKind::PaymentChange);
            };
            let snapshot = c.store.masters_in(c.tx).await?;
            let orders = lock_orders(c.store, c.tx, c.items).await?;
            let work = OneOrder {
                job_id: c.job.id,
                p,
                snapshot: &snapshot,
                actor: c.actor,
            };
            run_each(c.store, c.tx, c.items, &orders, &work).await
        })
    }
}

struct OneOrder<'a> {
    job_id: i64,
    p: &'a PaymentChange,
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
        Box::pin(payment_change(
            store,
            tx,
            self.job_id,
            self.p,
            order,
            self.snapshot,
            self.actor,
        ))
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
                    crate::orders::ChangeTarget::new(&order.order_number, &patch),
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
            match crate::jobs::subscription_of(tx, order).await? {
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
