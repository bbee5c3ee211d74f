//! 一括督促: a dunning record and a note on each order.

use crate::StoreError;
use crate::db::{Store, Tx};
use crate::history::Actor;
use crate::jobs::kind::*;
use juchu_domain::job::{ItemOutcome, JobKind, JobParams};
use juchu_domain::order::Order;

pub(crate) struct DunningKind;

impl Kind for DunningKind {
    fn kind(&self) -> JobKind {
        JobKind::Dunning
    }

    fn run_chunk<'a>(&'a self, c: Chunk<'a>) -> KindFuture<'a, Outcomes> {
        Box::pin(async move {
            let orders = lock_orders(c.store, c.tx, c.items).await?;
            let work = match c.params {
                JobParams::Dunning(d) => OneOrder {
                    d,
                    job_id: c.job.id,
                    actor: c.actor,
                },
                _ => return mismatch(JobKind::Dunning),
            };
            run_each(c.store, c.tx, c.items, &orders, &work).await
        })
    }
}

struct OneOrder<'a> {
    d: &'a juchu_domain::job::Dunning,
    job_id: i64,
    actor: &'a Actor,
}

impl PerOrder for OneOrder<'_> {
    fn run<'a>(
        &'a self,
        store: &'a Store,
        tx: &'a mut Tx,
        order: &'a Order,
    ) -> KindFuture<'a, Outcome> {
        Box::pin(dunning(store, tx, self.d, order, self.job_id, self.actor))
    }
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
