//! One trait for what a kind of job does ([`Kind`]), and the tools its
//! implementations share. The queue (`jobs/mod.rs`) calls the trait through
//! the registry in `kinds/` and names no kind: a new kind is one file in
//! `kinds/` and one line in its registry.

use super::export::Stop;
use super::{Job, item_error};
use crate::StoreError;
use crate::db::{Arg, Clock, Store, Tx};
use crate::history::Actor;
use crate::snapshot::Snapshot;
use juchu_domain::FieldErrors;
use juchu_domain::job::{ItemOutcome, JobKind, JobParams};
use juchu_domain::order::Order;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

pub(crate) type KindFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What one item did: its outcome and the message shown for it.
pub(crate) type Outcome = (ItemOutcome, String);

/// Each item of a chunk (`seq`) with its outcome.
pub(crate) type Outcomes = Vec<(i64, ItemOutcome, String)>;

/// A chunk claimed for a kind to run, in the claim's transaction.
pub(crate) struct Chunk<'a> {
    pub store: &'a Store,
    pub tx: &'a mut Tx,
    pub job: &'a Job,
    pub params: &'a JobParams,
    /// (seq, order id) of the chunk's pending items.
    pub items: &'a [(i64, i64)],
    pub actor: &'a Actor,
    /// The chunk failed as a whole before: run each order on its own.
    pub isolate: bool,
}

/// What the dry run knows when it asks a kind about one order.
pub(crate) struct DryRunContext<'a> {
    pub params: &'a JobParams,
    pub snapshot: &'a Snapshot,
    /// Customers who chose 送信しない (only for kinds that send mail).
    pub opted_out: &'a HashSet<i64>,
    pub clock: &'a Clock,
}

/// What one kind of job does. Every method but [`Kind::kind`] has a default,
/// so a kind says only what is its own.
pub(crate) trait Kind: Send + Sync {
    fn kind(&self) -> JobKind;

    /// Whether the job writes one file in the job's order (an export: one
    /// chunk under a lease, [`Kind::write_file`]) instead of working through
    /// chunks of orders ([`Kind::run_chunk`]).
    fn writes_file(&self) -> bool {
        false
    }

    /// Whether each item gets its outcome as it runs; `false` for a file that
    /// is written as a whole, whose items are ok once the job completes.
    fn marks_items(&self) -> bool {
        true
    }

    /// How many consecutive chunks a worker may claim and run in one
    /// transaction. Only for kinds whose work is all in the database (no
    /// mail, no payment provider inside the transaction): fewer commits, job
    /// item and chunk writes per order. The chunk stays the unit of claims,
    /// progress and retries, so workers of an older version, which claim one
    /// at a time, still share the job.
    fn chunks_per_transaction(&self) -> i64 {
        1
    }

    /// At most this many orders in one job.
    fn max_orders(&self) -> Option<i64> {
        None
    }

    /// Checks what the parameters name (a format, a template, masters), at
    /// registration and in the dry run.
    fn check<'a>(&'a self, _store: &'a Store, _params: &'a JobParams) -> KindFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    /// The orders the job acts on, when its parameters choose them rather
    /// than the operator's selection: a WHERE clause on `orders`.
    fn own_selection(&self, _params: &JobParams, _clock: &Clock) -> Option<(String, Vec<Arg>)> {
        None
    }

    /// What the dry run reminds the operator of.
    fn reminders(&self, _params: &JobParams) -> Vec<String> {
        Vec::new()
    }

    /// Whether the dry run looks at each order ([`Kind::would_fail`]).
    fn checks_orders(&self) -> bool {
        false
    }

    /// Whether [`DryRunContext::opted_out`] must be filled.
    fn needs_opt_outs(&self) -> bool {
        false
    }

    /// Why this order would fail, checked without writing.
    fn would_fail(&self, _ctx: &DryRunContext<'_>, _order: &Order) -> Option<String> {
        None
    }

    /// Runs a chunk's items.
    fn run_chunk<'a>(&'a self, _chunk: Chunk<'a>) -> KindFuture<'a, Outcomes> {
        let label = self.kind().label();
        Box::pin(async move { Err(StoreError::Other(format!("{label}は一括で実行します"))) })
    }

    /// Writes the job's file under the chunk's lease `token`.
    fn write_file<'a>(
        &'a self,
        _store: &'a Store,
        _job: &'a Job,
        _params: &'a JobParams,
        _token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Stop>> + Send + 'a>> {
        let label = self.kind().label();
        Box::pin(async move { Err(Stop::Failed(format!("{label}はファイルを作りません"))) })
    }
}

/// A kind's work on one order of a chunk.
pub(crate) trait PerOrder: Send + Sync {
    fn run<'a>(
        &'a self,
        store: &'a Store,
        tx: &'a mut Tx,
        order: &'a Order,
    ) -> KindFuture<'a, Outcome>;
}

/// The chunk's orders, locked for the chunk: what an item computes from its
/// order (a memo added to, the 売上完了 rule, an open payment request) cannot
/// go stale.
pub(crate) async fn lock_orders(
    store: &Store,
    tx: &mut Tx,
    items: &[(i64, i64)],
) -> Result<HashMap<i64, Order>, StoreError> {
    let ids: Vec<i64> = items.iter().map(|(_, id)| *id).collect();
    Ok(store
        .lock_orders_by_id(tx, &ids)
        .await?
        .into_values()
        .map(|o| (o.id, o))
        .collect())
}

/// Runs `work` on each item's order under a savepoint, so a failing order is
/// rolled back alone and reported.
pub(crate) async fn run_each(
    store: &Store,
    tx: &mut Tx,
    items: &[(i64, i64)],
    orders: &HashMap<i64, Order>,
    work: &dyn PerOrder,
) -> Result<Outcomes, StoreError> {
    let mut out = Vec::with_capacity(items.len());
    for (seq, order_id) in items {
        let Some(order) = orders.get(order_id) else {
            out.push((*seq, ItemOutcome::Failed, "受注が削除されています".into()));
            continue;
        };
        sqlx::query("SAVEPOINT job_item").execute(&mut **tx).await?;
        match work.run(store, tx, order).await {
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

/// An item refused for `why`.
pub(crate) fn invalid(why: String) -> StoreError {
    FieldErrors::single("order", "not_allowed", why).into()
}

/// Whether `target` (a customer, a subscription) is met for the first time in
/// this job: several selected orders of one customer change the customer once.
pub(crate) async fn first_time(
    tx: &mut Tx,
    job_id: i64,
    kind: &str,
    target: i64,
) -> Result<bool, StoreError> {
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

/// The parameters of `kind`, which the registry matched; anything else is a
/// bug in the registry, reported rather than panicking.
pub(crate) fn mismatch<T>(kind: JobKind) -> Result<T, StoreError> {
    Err(StoreError::Other(format!(
        "パラメータが{}のものではありません",
        kind.label()
    )))
}
