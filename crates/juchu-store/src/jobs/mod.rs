//! Jobs (一括処理): registering, claiming, running and reporting.
//!
//! A job's selection is frozen into `job_items` when it is registered, so the
//! job acts on what the operator saw. Items are grouped in chunks of
//! [`CHUNK_SIZE`]. A worker claims a chunk (or, for a kind that allows it,
//! a few consecutive ones) and runs it **in one transaction** together with
//! the claim: PostgreSQL's `FOR UPDATE SKIP LOCKED` lets several
//! `juchu worker` processes share a job's chunks, and a worker that dies
//! leaves nothing behind (its transaction and its row lock go with its
//! connection), so the chunk is simply claimed again and each order is changed
//! exactly once. Each item runs under a savepoint: one order failing does not
//! undo the others. Exports write one file in order and run as one chunk with
//! a lease that is renewed as they go (see `export`).
//!
//! The queue names no kind: what a kind does is its file in `kinds/`, behind
//! the one trait in `kind.rs`.
//!
//! Every change goes through the change pipeline with the actor
//! [`Actor::Job`], so 履歴 says which job did it and rules fire.

mod copy_binary;
mod export;
mod export_projection;
mod kind;
mod kinds;

pub use kinds::{MAX_PDF_ORDERS, Rescan};

use crate::StoreError;
use crate::db::{Arg, Store, Tx, get_i64, get_opt_i64, get_opt_str, get_str, in_list, query_with};
use crate::history::{Actor, HistoryRow, order_history_rows as history_rows};
use crate::orders::OrderQuery;
use juchu_domain::FieldErrors;
use juchu_domain::job::{ItemOutcome, JobKind, JobParams, JobStatus};

/// The first and last item (seq) of a chunk of a job that splits into chunks.
fn chunk_seqs(chunk: i64) -> (i64, i64) {
    (chunk * CHUNK_SIZE + 1, (chunk + 1) * CHUNK_SIZE)
}

/// Items a registration adds before PostgreSQL's statistics of `job_items`
/// are refreshed (ANALYZE samples the table: about 0.2 s).
const ANALYZE_AFTER: i64 = 50_000;

/// Orders per chunk: the unit of claims, progress and retries (a kind may
/// run several consecutive chunks in one transaction,
/// `Kind::chunks_per_transaction`).
pub const CHUNK_SIZE: i64 = 200;

/// Orders a worker runs in one transaction for a job of `kind`.
pub fn orders_per_transaction(kind: JobKind) -> i64 {
    kinds::of(kind).map_or(1, |k| k.chunks_per_transaction()) * CHUNK_SIZE
}

/// The chunk an item of seq `seq` belongs to (see [`chunk_seqs`]).
fn chunk_of(seq: i64) -> i64 {
    (seq - 1).div_euclid(CHUNK_SIZE)
}

/// What a job acts on.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every order the search finds (frozen when the job is registered).
    Query(Box<OrderQuery>),
    /// The checked rows or the page, by order number.
    OrderNumbers(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: JobKind,
    /// Required, except for a ブラックリスト再チェック (its period selects).
    pub selection: Option<Selection>,
    pub params: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub params: serde_json::Value,
    pub status: JobStatus,
    pub total: i64,
    /// Items processed, whatever their outcome.
    pub done: i64,
    pub failed: i64,
    pub skipped: i64,
    pub created_by: String,
    pub cancel_requested: bool,
    /// Why a failed job stopped.
    pub error: String,
    /// The download's file name and type, once there is one.
    pub result_name: String,
    pub result_type: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub updated_at: String,
    /// When the items and the result file were deleted (保存期間).
    pub purged_at: Option<String>,
}

impl Job {
    /// Who the job's changes are attributed to in 履歴.
    pub fn actor(&self) -> Actor {
        Actor::Job {
            id: self.id,
            name: format!("{} #{}（{}）", self.kind.label(), self.id, self.created_by),
        }
    }

    pub fn notice(&self) -> String {
        if self.status.is_finished() {
            juchu_domain::job::finished_notice(self.kind, self.status)
        } else {
            juchu_domain::job::registered_notice(self.kind)
        }
    }
}

/// Orders a dry run checks one by one (the count covers all).
pub const PREVIEW_CHECKED: usize = 10_000;

/// What registering would do: how many orders, and how many would fail and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobPreview {
    pub total: i64,
    /// How many of them were checked (at most [`PREVIEW_CHECKED`]).
    pub checked: i64,
    pub would_fail: i64,
    /// The first failures: (order number, reason).
    pub failures: Vec<(String, String)>,
    pub reminders: Vec<String>,
}

/// One item's outcome, for the result file and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobItem {
    pub seq: i64,
    pub order_number: String,
    /// pending / ok / failed / skipped
    pub status: String,
    pub message: String,
}

const JOB_COLUMNS: &str = "id, kind, params_json, status, total, \
    CAST((SELECT COALESCE(SUM(c.done), 0) FROM job_chunks c WHERE c.job_id = jobs.id) AS BIGINT) AS done, \
    CAST((SELECT COALESCE(SUM(c.failed), 0) FROM job_chunks c WHERE c.job_id = jobs.id) AS BIGINT) AS failed, \
    CAST((SELECT COALESCE(SUM(c.skipped), 0) FROM job_chunks c WHERE c.job_id = jobs.id) AS BIGINT) AS skipped, \
    actor_name, cancel_requested, error, result_name, result_type, created_at, started_at, finished_at, updated_at, purged_at";

fn job_from_row(r: &sqlx::any::AnyRow) -> Result<Job, StoreError> {
    let kind = get_str(r, "kind")?;
    let status = get_str(r, "status")?;
    Ok(Job {
        id: get_i64(r, "id")?,
        kind: JobKind::parse(&kind)
            .ok_or_else(|| StoreError::Other(format!("unknown job kind {kind:?}")))?,
        params: serde_json::from_str(&get_str(r, "params_json")?).unwrap_or_default(),
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Other(format!("unknown job status {status:?}")))?,
        total: get_i64(r, "total")?,
        done: get_i64(r, "done")?,
        failed: get_i64(r, "failed")?,
        skipped: get_i64(r, "skipped")?,
        created_by: get_str(r, "actor_name")?,
        cancel_requested: get_i64(r, "cancel_requested")? != 0,
        error: get_str(r, "error")?,
        result_name: get_str(r, "result_name")?,
        result_type: get_str(r, "result_type")?,
        created_at: get_str(r, "created_at")?,
        started_at: get_opt_str(r, "started_at")?,
        finished_at: get_opt_str(r, "finished_at")?,
        updated_at: get_str(r, "updated_at")?,
        purged_at: get_opt_str(r, "purged_at")?,
    })
}

/// How an item's error reads in the result file.
pub(crate) fn item_error(e: &StoreError) -> String {
    match e {
        StoreError::Invalid(errors) => errors.messages(),
        StoreError::Database(err) => {
            tracing::warn!(error = %err, "job item failed on a database error");
            "データベースエラーのため処理できませんでした".into()
        }
        other => other.to_string(),
    }
}

/// A job's selection, resolved: a condition on `orders`, or the orders by id
/// in the operator's order.
enum Resolved {
    Where(String, Vec<Arg>),
    Ids(Vec<i64>),
}

impl Store {
    async fn check_params(&self, new: &NewJob) -> Result<JobParams, StoreError> {
        let params = JobParams::parse(new.kind, &new.params)?;
        kinds::of(new.kind)?.check(self, &params).await?;
        Ok(params)
    }

    /// The WHERE clause (and its arguments) of a job's selection.
    async fn resolve_selection(
        &self,
        new: &NewJob,
        params: &JobParams,
    ) -> Result<Resolved, StoreError> {
        if let Some((where_sql, args)) = kinds::of(new.kind)?.own_selection(params, &self.clock) {
            return Ok(Resolved::Where(where_sql, args));
        }
        match &new.selection {
            None => Err(FieldErrors::single(
                "selection",
                "required",
                "対象の受注（selection: query か order_numbers）を指定してください",
            )
            .into()),
            Some(Selection::Query(q)) => {
                let masters = self.masters().await?;
                let f = q.filter(&masters, self.backend)?;
                Ok(Resolved::Where(f.where_sql, f.args))
            }
            Some(Selection::OrderNumbers(numbers)) => {
                if numbers.is_empty() {
                    return Err(FieldErrors::single(
                        "selection.order_numbers",
                        "required",
                        "受注を1件以上選んでください",
                    )
                    .into());
                }
                if numbers.len() > 100_000 {
                    return Err(FieldErrors::single(
                        "selection.order_numbers",
                        "too_many",
                        "一度に選べる受注は100,000件までです（検索条件で選んでください）",
                    )
                    .into());
                }
                let mut id_of = std::collections::HashMap::new();
                for chunk in numbers.chunks(500) {
                    let sql = format!(
                        "SELECT id, order_number FROM orders WHERE order_number IN ({})",
                        in_list(chunk.len(), 1)
                    );
                    let args = chunk.iter().map(|n| Arg::from(n.trim())).collect();
                    for r in query_with(sql, args).fetch_all(&self.pool).await? {
                        id_of.insert(get_str(&r, "order_number")?, get_i64(&r, "id")?);
                    }
                }
                // Unknown numbers are named, with their position.
                let mut e = FieldErrors::default();
                let mut seen = std::collections::HashSet::new();
                let mut ids = Vec::with_capacity(numbers.len());
                for (i, n) in numbers.iter().enumerate() {
                    match id_of.get(n.trim()) {
                        Some(id) if seen.insert(*id) => ids.push(*id),
                        // The same order twice: it is done once.
                        Some(_) => {}
                        None if e.0.len() < 20 => e.add(
                            format!("selection.order_numbers[{i}]"),
                            "unknown",
                            format!("受注番号「{n}」の受注はありません"),
                        ),
                        None => {}
                    }
                }
                e.into_result()?;
                Ok(Resolved::Ids(ids))
            }
        }
    }

    /// Registers a job: its items are frozen now. Nothing is written when the
    /// parameters or the selection are wrong, or when nothing is selected.
    pub async fn register_job(&self, new: NewJob, actor: &Actor) -> Result<Job, StoreError> {
        let params = self.check_params(&new).await?;
        let kind = kinds::of(new.kind)?;
        let resolved = self.resolve_selection(&new, &params).await?;
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO jobs (kind, params_json, status, actor_kind, actor_id, actor_name, created_at, updated_at) \
             VALUES ($1, $2, 'queued', $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(new.kind.code())
        .bind(new.params.to_string())
        .bind(actor.kind())
        .bind(actor.id())
        .bind(actor.name().to_string())
        .bind(now.clone())
        .fetch_one(&mut *tx)
        .await?;
        let id = get_i64(&row, "id")?;
        // Items are numbered from 1 in the selection's order; chunk k holds
        // the items of seq k·CHUNK_SIZE+1 ..= (k+1)·CHUNK_SIZE (see `chunk_seqs`).
        let total = match resolved {
            Resolved::Ids(ids) => {
                let mut seq = 0i64;
                for chunk in ids.chunks(400) {
                    let mut values = Vec::with_capacity(chunk.len());
                    let mut args: Vec<Arg> = Vec::with_capacity(chunk.len() * 2);
                    for order_id in chunk {
                        seq += 1;
                        let base = args.len();
                        values.push(format!("({id}, ${}, ${})", base + 1, base + 2));
                        args.push(seq.into());
                        args.push((*order_id).into());
                    }
                    query_with(
                        format!(
                            "INSERT INTO job_items (job_id, seq, order_id) VALUES {}",
                            values.join(", ")
                        ),
                        args,
                    )
                    .execute(&mut *tx)
                    .await?;
                }
                seq
            }
            Resolved::Where(where_sql, args) => {
                // Set-based: a million orders are frozen in one statement.
                let sql = format!(
                    "INSERT INTO job_items (job_id, seq, order_id) \
                     SELECT {id}, rn, id FROM \
                     (SELECT id, ROW_NUMBER() OVER (ORDER BY ordered_at DESC, id DESC) AS rn FROM orders{where_sql}) selected"
                );
                query_with(sql, args)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected() as i64
            }
        };
        if let Some(max) = kind.max_orders()
            && total > max
        {
            return Err(FieldErrors::single(
                "selection",
                "too_many",
                format!(
                    "{}は1回{max}件までです（{total}件選ばれています）。検索条件で絞ってください",
                    new.kind.label()
                ),
            )
            .into());
        }
        if total == 0 {
            // Dropped with the transaction: nothing is left of the job.
            return Err(FieldErrors::single("selection", "empty", "対象の受注がありません").into());
        }
        // An export writes one file in order: one chunk.
        let chunks = if kind.writes_file() {
            1
        } else {
            (total + CHUNK_SIZE - 1) / CHUNK_SIZE
        };
        sqlx::query(
            "WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n + 1 < $2) \
             INSERT INTO job_chunks (job_id, chunk) SELECT $1, n FROM c",
        )
        .bind(id)
        .bind(chunks)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE jobs SET total = $1 WHERE id = $2")
            .bind(total)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if self.backend == crate::Backend::Postgres && total >= ANALYZE_AFTER {
            // A big selection changes the table's make-up at once: with fresh
            // statistics the planner joins a whole-shop export by hashing
            // (measured: 3.5 s for 1M orders) instead of a million index probes.
            // The job is saved either way: a failure only costs the plan.
            if let Err(e) = sqlx::query("ANALYZE job_items").execute(&self.pool).await {
                tracing::warn!(job = id, error = %e, "ANALYZE job_items failed");
            }
        }
        self.job(id).await
    }

    /// What [`Store::register_job`] would do, without doing it: the count, and
    /// for changes the orders that would fail and why.
    pub async fn preview_job(&self, new: NewJob) -> Result<JobPreview, StoreError> {
        let params = self.check_params(&new).await?;
        let resolved = self.resolve_selection(&new, &params).await?;
        let mut preview = JobPreview::default();
        let kind = kinds::of(new.kind)?;
        preview.reminders = kind.reminders(&params);
        let ids: Vec<i64> = match resolved {
            Resolved::Ids(ids) => ids,
            Resolved::Where(where_sql, args) => {
                let sql = format!("SELECT id FROM orders{where_sql}");
                query_with(sql, args)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| get_i64(r, "id"))
                    .collect::<Result<_, _>>()?
            }
        };
        preview.total = ids.len() as i64;
        // Checking is as costly as doing: a dry run looks at the first 10,000.
        let ids = &ids[..ids.len().min(PREVIEW_CHECKED)];
        preview.checked = ids.len() as i64;
        // Only changes can fail per order; a dry run of an export is its count.
        if !kind.checks_orders() {
            return Ok(preview);
        }
        let snapshot = {
            let mut tx = self.begin_read().await?;
            let s = self.masters_in(&mut tx).await?;
            tx.commit().await?;
            s
        };
        for chunk in ids.chunks(500) {
            let mut tx = self.begin_read().await?;
            let orders = crate::orders::load_orders_by_ids(&mut tx, chunk).await?;
            let opted_out = if kind.needs_opt_outs() {
                crate::customers::opted_out(&mut tx, &orders).await?
            } else {
                Default::default()
            };
            tx.commit().await?;
            let ctx = kind::DryRunContext {
                params: &params,
                snapshot: &snapshot,
                opted_out: &opted_out,
                clock: &self.clock,
            };
            for o in &orders {
                let why = kind.would_fail(&ctx, o);
                if let Some(why) = why {
                    preview.would_fail += 1;
                    if preview.failures.len() < 100 {
                        preview.failures.push((o.order_number.clone(), why));
                    }
                }
            }
        }
        Ok(preview)
    }

    pub async fn job(&self, id: i64) -> Result<Job, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("ジョブ"))?;
        job_from_row(&row)
    }

    /// The newest jobs first.
    pub async fn jobs(&self, limit: i64) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit.clamp(1, 500))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Jobs changed after `since` (an `updated_at`), oldest change first: what
    /// the admin pages' notifications poll.
    pub async fn jobs_changed_since(&self, since: &str) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE updated_at >= $1 ORDER BY updated_at, id LIMIT 100"
        )))
        .bind(since.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Asks a job to stop: no further chunk starts; the one running finishes.
    pub async fn cancel_job(&self, id: i64) -> Result<Job, StoreError> {
        let job = self.job(id).await?;
        if job.status.is_finished() {
            return Err(StoreError::Conflict {
                field: None,
                message: format!(
                    "ジョブ #{id} は{}のためキャンセルできません",
                    job.status.label()
                ),
            });
        }
        sqlx::query("UPDATE jobs SET cancel_requested = 1, updated_at = $1 WHERE id = $2")
            .bind(self.clock.now_text())
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.reap_cancelled().await?;
        self.job(id).await
    }

    /// Cancelled jobs whose running chunk (if any) has ended become キャンセル.
    async fn reap_cancelled(&self) -> Result<(), StoreError> {
        // Cheap when nothing is being cancelled (every chunk asks): no write.
        if sqlx::query(
            "SELECT id FROM jobs WHERE cancel_requested = 1 AND status IN ('queued', 'running') LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .is_none()
        {
            return Ok(());
        }
        let now = self.clock.now_text();
        // A chunk a worker is running (locked on PostgreSQL) is left to finish.
        let skip = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let mut tx = self.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE job_chunks SET status = 'cancelled' WHERE (job_id, chunk) IN \
             (SELECT c.job_id, c.chunk FROM job_chunks c JOIN jobs j ON j.id = c.job_id \
              WHERE c.status = 'pending' AND j.cancel_requested = 1 AND j.status IN ('queued', 'running'){})",
            skip.replace("FOR UPDATE", "FOR UPDATE OF c")
        )))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE jobs SET status = 'cancelled', finished_at = $1, updated_at = $1 \
             WHERE cancel_requested = 1 AND status IN ('queued', 'running') AND NOT EXISTS \
             (SELECT 1 FROM job_chunks c WHERE c.job_id = jobs.id AND c.status = 'running' AND c.lease_until >= $1)",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Items of a job in order, from `after_seq`, with the order number.
    pub async fn job_items(
        &self,
        id: i64,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<JobItem>, StoreError> {
        let rows = sqlx::query(
            // A CSV export writes its file as a whole (a worker that dies
            // starts it again), so its items are not marked one by one: once
            // the file is complete, every item without a note of its own is ok.
            sqlx::AssertSqlSafe(format!(
                "SELECT ji.seq, o.order_number, \
                 CASE WHEN ji.status = 'pending' AND j.status = 'completed' AND j.kind IN ({}) THEN 'ok' ELSE ji.status END AS status, \
                 ji.message FROM job_items ji JOIN jobs j ON j.id = ji.job_id \
                 LEFT JOIN orders o ON o.id = ji.order_id WHERE ji.job_id = $1 AND ji.seq > $2 ORDER BY ji.seq LIMIT $3",
                kinds::sql_list(kinds::unmarked_kind_codes())
            )),
        )
        .bind(id)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobItem {
                    seq: get_i64(r, "seq")?,
                    order_number: get_opt_str(r, "order_number")?.unwrap_or_default(),
                    status: get_str(r, "status")?,
                    message: get_str(r, "message")?,
                })
            })
            .collect()
    }

    /// 保存期間: deletes the items, targets and result file of jobs that
    /// finished before `cutoff` (RFC 3339), a few jobs per call and one job per
    /// transaction. The job row and its counts stay, so ジョブ管理 still lists
    /// it; its download then answers that the result is gone. Returns the jobs
    /// purged.
    pub async fn purge_finished_jobs(&self, cutoff: &str) -> Result<usize, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM jobs WHERE status IN ('completed', 'failed', 'cancelled') \
             AND purged_at IS NULL AND finished_at < $1 ORDER BY id LIMIT 20",
        )
        .bind(cutoff.to_string())
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let id = get_i64(r, "id")?;
            let mut tx = self.begin().await?;
            for table in ["job_items", "job_targets", "job_files", "job_inputs"] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE job_id = $1"
                )))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            let now = self.clock.now_text();
            sqlx::query("UPDATE jobs SET purged_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(rows.len())
    }

    /// A part of a job's stored file (an export), if there is one.
    pub async fn job_file_part(&self, id: i64, part: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT data FROM job_files WHERE job_id = $1 AND part = $2")
            .bind(id)
            .bind(part)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            use sqlx::Row;
            r.try_get::<Vec<u8>, _>("data").map_err(StoreError::from)
        })
        .transpose()
    }

    /// Runs jobs until none has work left (or `max_chunks` ran). Returns the
    /// number of chunks run.
    pub async fn run_jobs(&self, max_chunks: usize) -> Result<usize, StoreError> {
        let mut ran = 0;
        while ran < max_chunks {
            if !self.run_next_chunk().await? {
                break;
            }
            ran += 1;
        }
        Ok(ran)
    }

    /// Claims and runs one chunk of some job. `false` when there was none.
    pub async fn run_next_chunk(&self) -> Result<bool, StoreError> {
        self.reap_cancelled().await?;
        if self.run_export_chunk().await? {
            return Ok(true);
        }
        let now = self.clock.now_text();
        let lock = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE OF c SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let files = kinds::sql_list(kinds::file_kind_codes());
        let mut tx = self.begin().await?;
        let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c.job_id, c.chunk, c.attempts, j.kind FROM job_chunks c JOIN jobs j ON j.id = c.job_id \
             WHERE c.status = 'pending' AND j.status IN ('queued', 'running') AND j.cancel_requested = 0 \
             AND j.kind NOT IN ({files}) \
             ORDER BY c.job_id, c.chunk LIMIT 1{lock}"
        )))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(claimed) = claimed else {
            tx.commit().await?;
            self.finish_stranded().await?;
            return Ok(false);
        };
        let job_id = get_i64(&claimed, "job_id")?;
        let chunk = get_i64(&claimed, "chunk")?;
        let attempts = get_i64(&claimed, "attempts")?;
        // The chunks right after it too, when the kind runs several per
        // transaction and none of them failed before (a retried chunk runs
        // alone, order by order).
        let per_tx = match JobKind::parse(&get_str(&claimed, "kind")?) {
            Some(k) if attempts == 0 => kinds::of(k)?.chunks_per_transaction(),
            _ => 1,
        };
        let mut chunks = vec![chunk];
        if per_tx > 1 {
            let more = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT c.chunk FROM job_chunks c WHERE c.job_id = $1 AND c.chunk > $2 AND c.chunk < $3 \
                 AND c.status = 'pending' AND c.attempts = 0 ORDER BY c.chunk{lock}"
            )))
            .bind(job_id)
            .bind(chunk)
            .bind(chunk + per_tx)
            .fetch_all(&mut *tx)
            .await?;
            for r in &more {
                // Consecutive only: the items are read as one range of seq.
                let next = get_i64(r, "chunk")?;
                if next != chunks[chunks.len() - 1] + 1 {
                    break;
                }
                chunks.push(next);
            }
        }
        sqlx::query(
            // Only the first chunk changes the job row: workers sharing a job
            // do not queue on it.
            "UPDATE jobs SET status = 'running', started_at = $1, updated_at = $1 WHERE id = $2 AND status = 'queued'",
        )
        .bind(now.clone())
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        if let Err(e) = self.run_claimed(tx, job_id, &chunks, attempts > 0).await {
            // The chunks' transaction is gone: nothing of them was written.
            // Each is retried on its own.
            for c in chunks {
                self.chunk_failed(job_id, c, attempts, &e).await?;
            }
        }
        Ok(true)
    }

    /// Runs claimed consecutive chunks in the claim's transaction and commits
    /// it.
    async fn run_claimed(
        &self,
        mut tx: Tx,
        job_id: i64,
        chunks: &[i64],
        isolate: bool,
    ) -> Result<(), StoreError> {
        let job = {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
            )))
            .bind(job_id)
            .fetch_one(&mut *tx)
            .await?;
            job_from_row(&row)?
        };
        let params = match JobParams::parse(job.kind, &job.params) {
            Ok(p) => p,
            Err(e) => {
                // Parameters checked at registration no longer parse (an
                // upgrade changed them): the job fails, visibly.
                drop(tx);
                self.fail_job(job_id, &format!("パラメータを読めません: {e}"))
                    .await?;
                return Ok(());
            }
        };
        let (Some(&first_chunk), Some(&last_chunk)) = (chunks.first(), chunks.last()) else {
            return Ok(());
        };
        let (first, last) = (chunk_seqs(first_chunk).0, chunk_seqs(last_chunk).1);
        let items = sqlx::query(
            "SELECT seq, order_id FROM job_items WHERE job_id = $1 AND seq >= $2 AND seq <= $3 AND status = 'pending' ORDER BY seq",
        )
        .bind(job_id)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await?;
        let items: Vec<(i64, i64)> = items
            .iter()
            .map(|r| Ok((get_i64(r, "seq")?, get_i64(r, "order_id")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let actor = job.actor();
        let outcomes = kinds::of(job.kind)?
            .run_chunk(kind::Chunk {
                store: self,
                tx: &mut tx,
                job: &job,
                params: &params,
                items: &items,
                actor: &actor,
                isolate,
            })
            .await?;
        // Counts per chunk: progress is counted where the items belong.
        let mut counts: std::collections::BTreeMap<i64, [i64; 3]> =
            chunks.iter().map(|c| (*c, [0; 3])).collect();
        // Items with the same outcome and message are marked in one statement
        // (a bulk update mostly says the same for every order).
        let mut same: std::collections::BTreeMap<(&str, &str), Vec<i64>> = Default::default();
        for (seq, outcome, message) in &outcomes {
            let count = counts.entry(chunk_of(*seq)).or_default();
            count[0] += 1;
            match outcome {
                ItemOutcome::Failed => count[1] += 1,
                ItemOutcome::Skipped => count[2] += 1,
                ItemOutcome::Ok => {}
            }
            same.entry((outcome.code(), message.as_str()))
                .or_default()
                .push(*seq);
        }
        // When every item has an outcome, the largest group is marked last by
        // the range (what is still pending in it), not by a list of seqs.
        let by_range = if outcomes.len() == items.len() {
            same.iter()
                .max_by_key(|(_, seqs)| seqs.len())
                .map(|(key, _)| *key)
        } else {
            None
        };
        for ((status, message), seqs) in &same {
            if by_range == Some((status, message)) {
                continue;
            }
            for chunk in seqs.chunks(400) {
                let mut args: Vec<Arg> = vec![(*status).into(), (*message).into(), job_id.into()];
                args.extend(chunk.iter().map(|s| Arg::from(*s)));
                query_with(
                    format!(
                        "UPDATE job_items SET status = $1, message = $2 WHERE job_id = $3 AND seq IN ({})",
                        in_list(chunk.len(), 4)
                    ),
                    args,
                )
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some((status, message)) = by_range {
            sqlx::query(
                "UPDATE job_items SET status = $1, message = $2 WHERE job_id = $3 AND seq >= $4 AND seq <= $5 AND status = 'pending'",
            )
            .bind(status)
            .bind(message)
            .bind(job_id)
            .bind(first)
            .bind(last)
            .execute(&mut *tx)
            .await?;
        }
        for (chunk, [done, failed, skipped]) in counts {
            sqlx::query(
                "UPDATE job_chunks SET status = 'done', done = done + $1, failed = failed + $2, skipped = skipped + $3 WHERE job_id = $4 AND chunk = $5",
            )
            .bind(done)
            .bind(failed)
            .bind(skipped)
            .bind(job_id)
            .bind(chunk)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.finish_if_done(job_id).await?;
        Ok(())
    }

    /// A chunk whose run failed as a whole (a store error, not an order's
    /// own): it is retried order by order; after three failed runs its orders
    /// are reported failed with the error, so the jobs behind it go on.
    async fn chunk_failed(
        &self,
        job_id: i64,
        chunk: i64,
        attempts_before: i64,
        e: &StoreError,
    ) -> Result<(), StoreError> {
        let attempts = attempts_before + 1;
        tracing::warn!(job = job_id, chunk, attempts, error = %e, "job chunk failed");
        if attempts < 3 {
            sqlx::query("UPDATE job_chunks SET attempts = $1 WHERE job_id = $2 AND chunk = $3")
                .bind(attempts)
                .bind(job_id)
                .bind(chunk)
                .execute(&self.pool)
                .await?;
            return Ok(());
        }
        let mut tx = self.begin().await?;
        let (first, last) = chunk_seqs(chunk);
        let n = sqlx::query(
            "UPDATE job_items SET status = 'failed', message = $1 WHERE job_id = $2 AND seq >= $3 AND seq <= $4 AND status = 'pending'",
        )
        .bind(format!("処理できませんでした（3回失敗）: {}", item_error(e)))
        .bind(job_id)
        .bind(first)
        .bind(last)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
        sqlx::query(
            "UPDATE job_chunks SET status = 'done', attempts = $1, done = done + $2, failed = failed + $2 WHERE job_id = $3 AND chunk = $4",
        )
        .bind(attempts)
        .bind(n)
        .bind(job_id)
        .bind(chunk)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.finish_if_done(job_id).await
    }

    /// Jobs whose every chunk is done but which were not marked 完了 (the
    /// worker stopped between the last chunk's commit and that step).
    async fn finish_stranded(&self) -> Result<(), StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM jobs WHERE status = 'running' AND NOT EXISTS \
             (SELECT 1 FROM job_chunks c WHERE c.job_id = jobs.id AND c.status <> 'done') LIMIT 10",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            self.finish_if_done(get_i64(r, "id")?).await?;
        }
        Ok(())
    }

    /// A job whose every chunk is done is 完了.
    /// It publishes `job.completed` in the same transaction.
    pub(crate) async fn finish_if_done(&self, job_id: i64) -> Result<(), StoreError> {
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE jobs SET status = 'completed', finished_at = $1, updated_at = $1 WHERE id = $2 AND status = 'running' \
             AND NOT EXISTS (SELECT 1 FROM job_chunks WHERE job_id = $2 AND status <> 'done')",
        )
        .bind(now.clone())
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            let row = sqlx::query(
                "SELECT j.kind, j.total, j.result_name, j.created_at, \
                 CAST(COALESCE(SUM(c.done), 0) AS BIGINT) AS done, CAST(COALESCE(SUM(c.failed), 0) AS BIGINT) AS failed, \
                 CAST(COALESCE(SUM(c.skipped), 0) AS BIGINT) AS skipped \
                 FROM jobs j LEFT JOIN job_chunks c ON c.job_id = j.id WHERE j.id = $1 GROUP BY j.kind, j.total, j.result_name, j.created_at",
            )
            .bind(job_id)
            .fetch_one(&mut *tx)
            .await?;
            let event = juchu_domain::webhook::Outbound {
                event_type: "job.completed",
                subject: format!("job:{job_id}"),
                data: serde_json::json!({ "job": {
                    "id": job_id,
                    "kind": get_str(&row, "kind")?,
                    "status": "completed",
                    "total": get_i64(&row, "total")?,
                    "done": get_i64(&row, "done")?,
                    "failed": get_i64(&row, "failed")?,
                    "skipped": get_i64(&row, "skipped")?,
                    "result_name": get_str(&row, "result_name")?,
                    "created_at": get_str(&row, "created_at")?,
                    "finished_at": now,
                }}),
            };
            crate::db::write_rows(
                &mut tx,
                self.backend,
                vec![crate::webhooks::event_rows(&[event], &now)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A job that cannot go on: 失敗, with why.
    pub(crate) async fn fail_job(&self, job_id: i64, why: &str) -> Result<(), StoreError> {
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE job_chunks SET status = 'cancelled' WHERE job_id = $1 AND status <> 'done'",
        )
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE jobs SET status = 'failed', error = $1, finished_at = $2, updated_at = $2 WHERE id = $3",
        )
        .bind(why.to_string())
        .bind(now)
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The order history row a job writes for what is not a field change (a
    /// dunning record, a mail).
    pub(crate) async fn job_note(
        &self,
        tx: &mut Tx,
        order_id: i64,
        actor: &Actor,
        field: &str,
        after: String,
    ) -> Result<(), StoreError> {
        crate::db::write_rows(
            tx,
            self.backend,
            vec![history_rows(
                &[HistoryRow::by(actor, order_id, field, "", after, "")],
                &self.clock.now_text(),
            )],
        )
        .await
    }
}

/// The subscription an order belongs to: the one it was created for, or the
/// one it started.
pub(crate) async fn subscription_of(
    tx: &mut Tx,
    order: &juchu_domain::order::Order,
) -> Result<Option<i64>, StoreError> {
    if let Some(id) = order.subscription_id {
        return Ok(Some(id));
    }
    let row =
        sqlx::query("SELECT id FROM subscriptions WHERE parent_order_id = $1 ORDER BY id LIMIT 1")
            .bind(order.id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|r| get_opt_i64(&r, "id")).transpose()?.flatten())
}
