//! 出荷実績インポート and 入金消込 as jobs: the uploaded file is kept with the
//! job (`job_inputs`), a worker applies it chunk by chunk through the order
//! pipeline (the same chunks the synchronous run uses), counting progress as
//! it goes, and the job's result file is the per-row CSV (行, 受注番号, 結果,
//! 内容). A worker that dies mid-file leaves the lease to another, which runs
//! the file again from the top: the import is idempotent, so rows already
//! applied then report 変更なし.

use crate::StoreError;
use crate::db::{Store, get_i64, get_str};
use crate::effects::shipment_import::{CHUNK_ROWS, ImportRowResult, chunks};
use crate::history::Actor;
use crate::jobs::Job;
use crate::jobs::export::{Parts, Stop, renew};
use crate::jobs::kind::*;
use juchu_domain::FieldErrors;
use juchu_domain::job::{FileImport, JobKind, JobParams};
use juchu_domain::shipment_import::group_rows;
use std::future::Future;
use std::pin::Pin;

pub(crate) struct ShipmentImportKind;
pub(crate) struct PaymentImportKind;

fn not_from_selection(kind: JobKind, path: &str) -> StoreError {
    FieldErrors::single(
        "kind",
        "file_job",
        format!("{}はファイルから登録します（POST {path}）", kind.label()),
    )
    .into()
}

impl Kind for ShipmentImportKind {
    fn kind(&self) -> JobKind {
        JobKind::ShipmentImport
    }
    fn writes_file(&self) -> bool {
        true
    }
    fn marks_items(&self) -> bool {
        false
    }
    fn check<'a>(&'a self, _store: &'a Store, _p: &'a JobParams) -> KindFuture<'a, ()> {
        Box::pin(async {
            Err(not_from_selection(
                JobKind::ShipmentImport,
                "/api/v1/shipment-imports",
            ))
        })
    }
    fn write_file<'a>(
        &'a self,
        store: &'a Store,
        job: &'a Job,
        params: &'a JobParams,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Stop>> + Send + 'a>> {
        Box::pin(async move {
            let JobParams::ShipmentImport(p) = params else {
                return Err(Stop::Failed(
                    "出荷実績インポートのパラメータではありません".into(),
                ));
            };
            store.run_file_import(job, p, token).await
        })
    }
}

impl Kind for PaymentImportKind {
    fn kind(&self) -> JobKind {
        JobKind::PaymentImport
    }
    fn writes_file(&self) -> bool {
        true
    }
    fn marks_items(&self) -> bool {
        false
    }
    fn check<'a>(&'a self, _store: &'a Store, _p: &'a JobParams) -> KindFuture<'a, ()> {
        Box::pin(async {
            Err(not_from_selection(
                JobKind::PaymentImport,
                "/api/v1/payment-imports",
            ))
        })
    }
    fn write_file<'a>(
        &'a self,
        store: &'a Store,
        job: &'a Job,
        params: &'a JobParams,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Stop>> + Send + 'a>> {
        Box::pin(async move {
            let JobParams::PaymentImport(p) = params else {
                return Err(Stop::Failed("入金消込のパラメータではありません".into()));
            };
            store.run_file_import(job, p, token).await
        })
    }
}

impl Store {
    /// Registers an import job over a file already read and checked: the
    /// text is kept with the job, one chunk for a worker to claim.
    pub async fn register_file_job(
        &self,
        kind: JobKind,
        params: &FileImport,
        text: String,
        rows: i64,
        actor: &Actor,
    ) -> Result<Job, StoreError> {
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO jobs (kind, params_json, status, total, actor_kind, actor_id, actor_name, created_at, updated_at) \
             VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(kind.code())
        .bind(serde_json::to_string(params).map_err(|e| StoreError::Other(e.to_string()))?)
        .bind(rows)
        .bind(actor.kind())
        .bind(actor.id())
        .bind(actor.name().to_string())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id = get_i64(&row, "id")?;
        sqlx::query("INSERT INTO job_inputs (job_id, content) VALUES ($1, $2)")
            .bind(id)
            .bind(text)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO job_chunks (job_id, chunk) VALUES ($1, 0)")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.job(id).await
    }

    /// Runs an import job's file under the lease `token`.
    async fn run_file_import(&self, job: &Job, p: &FileImport, token: &str) -> Result<(), Stop> {
        let text = sqlx::query("SELECT content FROM job_inputs WHERE job_id = $1")
            .bind(job.id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| get_str(&r, "content"))
            .transpose()?
            .ok_or_else(|| Stop::Failed("取り込むファイルが残っていません".into()))?;
        let actor = job.actor();
        sqlx::query("DELETE FROM job_files WHERE job_id = $1")
            .bind(job.id)
            .execute(&self.pool)
            .await?;
        let mut out: Vec<ImportRowResult> = Vec::new();
        let bad = |e: FieldErrors| Stop::Failed(e.messages());
        match job.kind {
            JobKind::ShipmentImport => {
                let layout = p
                    .layout
                    .clone()
                    .ok_or_else(|| Stop::Failed("取り込み形式がありません".into()))?;
                let groups =
                    group_rows(juchu_domain::shipment_import::read(&text, &layout).map_err(bad)?);
                for chunk in chunks(&groups) {
                    out.extend(self.apply_shipment_chunk(chunk, &layout, &actor).await?);
                    self.import_progress(job.id, token, &out).await?;
                }
            }
            JobKind::PaymentImport => {
                let rows = juchu_domain::payment_import::read(&text, &p.format).map_err(bad)?;
                for chunk in rows.chunks(CHUNK_ROWS) {
                    out.extend(self.apply_payment_chunk(chunk, &actor).await?);
                    self.import_progress(job.id, token, &out).await?;
                }
            }
            other => {
                return Err(Stop::Failed(format!(
                    "{}はファイルを取り込みません",
                    other.label()
                )));
            }
        }
        let bytes = juchu_domain::shipment_import::result_csv(&out);
        let mut parts = Parts {
            job_id: job.id,
            next: 0,
            buf: bytes,
        };
        parts.flush(self, token).await?;
        self.finish_export(
            job,
            token,
            &format!("{}_{}_result.csv", job.kind.code(), job.id),
            "text/csv; charset=UTF-8",
        )
        .await
    }

    /// Progress so far (changed = done, 変更なし = skipped, refused = failed),
    /// written with the lease renewed; a cancelled job stops here.
    async fn import_progress(
        &self,
        job_id: i64,
        token: &str,
        out: &[ImportRowResult],
    ) -> Result<(), Stop> {
        let count = |o: &str| out.iter().filter(|r| r.outcome == o).count() as i64;
        let mut tx = self.begin().await?;
        renew(&mut tx, job_id, token, &self.clock).await?;
        sqlx::query(
            "UPDATE job_chunks SET done = $1, skipped = $2, failed = $3 WHERE job_id = $4 AND chunk = 0",
        )
        .bind(out.len() as i64)
        .bind(count("変更なし"))
        .bind(count("エラー"))
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
