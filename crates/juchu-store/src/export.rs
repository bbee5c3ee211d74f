//! CSV一括出力 as a job: the frozen items are read in batches and written as
//! one file in parts of about a megabyte (stored with the job, so any machine
//! can serve the download), so memory stays flat however many orders. The
//! export runs as one chunk under a lease it renews as it goes; a worker that
//! dies leaves the lease to expire, and the next one starts the file again —
//! orders it had already marked 出力済 are not changed twice.

use crate::StoreError;
use crate::db::{Store, Tx, get_i64, get_opt_i64, get_str, in_list, now_text, query_with};
use crate::jobs::{Job, item_error};
use juchu_domain::csv_format::{
    ColumnGroup, CsvFormat, Encoding, RowPer, RowSource, cell, encode, neutralise, preamble,
    record_line, records_text,
};
use juchu_domain::job::{CsvExport, JobKind, JobParams};
use std::collections::HashMap;

const LEASE_SECS: i64 = 120;
const BATCH: i64 = 2000;
const PART_BYTES: usize = 1 << 20;

/// Why an export stopped.
enum Stop {
    /// Another worker holds the job now (our lease ran out).
    Lost,
    /// The operator cancelled the job.
    Cancelled,
    /// The job cannot be done: 失敗 with this reason.
    Failed(String),
    Store(StoreError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Stop::Store(e.into())
    }
}

fn lease_until() -> String {
    let t = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(LEASE_SECS))
        .unwrap_or(jiff::Timestamp::now());
    juchu_domain::time::format_ts(t)
}

/// Renews the lease in `tx`; `Stop::Lost` when the chunk is no longer ours,
/// `Stop::Cancelled` when the job was cancelled.
async fn renew(tx: &mut Tx, job_id: i64, token: &str) -> Result<(), Stop> {
    let cancelled = sqlx::query("SELECT id FROM jobs WHERE id = $1 AND cancel_requested = 1")
        .bind(job_id)
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
    if cancelled {
        return Err(Stop::Cancelled);
    }
    let n = sqlx::query(
        "UPDATE job_chunks SET lease_until = $1 WHERE job_id = $2 AND chunk = 0 AND claim_token = $3 AND status = 'running'",
    )
    .bind(lease_until())
    .bind(job_id)
    .bind(token.to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 1 { Ok(()) } else { Err(Stop::Lost) }
}

/// The file being written, a part at a time.
struct Parts {
    job_id: i64,
    next: i64,
    buf: Vec<u8>,
}

impl Parts {
    async fn flush(&mut self, store: &Store, token: &str) -> Result<(), Stop> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut tx = store.begin().await?;
        renew(&mut tx, self.job_id, token).await?;
        sqlx::query("INSERT INTO job_files (job_id, part, data) VALUES ($1, $2, $3)")
            .bind(self.job_id)
            .bind(self.next)
            .bind(std::mem::take(&mut self.buf))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.next += 1;
        Ok(())
    }
}

impl Store {
    /// Claims an export whose chunk is free (or whose lease ran out) and runs
    /// it to the end. `false` when there was none.
    pub(crate) async fn run_export_chunk(&self) -> Result<bool, StoreError> {
        let now = now_text();
        let lock = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE OF c SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        // Most of the time there is no export: find out without a write transaction.
        if sqlx::query(
            "SELECT id FROM jobs WHERE kind IN ('csv_export', 'pdf_export') AND status IN ('queued', 'running') LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .is_none()
        {
            return Ok(false);
        }
        let mut tx = self.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c.job_id FROM job_chunks c JOIN jobs j ON j.id = c.job_id \
             WHERE j.kind IN ('csv_export', 'pdf_export') AND j.status IN ('queued', 'running') AND j.cancel_requested = 0 \
             AND (c.status = 'pending' OR (c.status = 'running' AND c.lease_until < $1)) \
             ORDER BY c.job_id LIMIT 1{lock}"
        )))
        .bind(now.clone())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(false);
        };
        let job_id = get_i64(&row, "job_id")?;
        let token = crate::staff::random_token("")[..16].to_string();
        sqlx::query(
            "UPDATE job_chunks SET status = 'running', claim_token = $1, lease_until = $2 WHERE job_id = $3",
        )
        .bind(token.clone())
        .bind(lease_until())
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, $1), updated_at = $1 WHERE id = $2 AND status = 'queued'",
        )
        .bind(now)
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let job = self.job(job_id).await?;
        let result = match JobParams::parse(job.kind, &job.params) {
            Ok(JobParams::CsvExport(p)) => self.export_csv(&job, &p, &token).await,
            Ok(JobParams::PdfExport(p)) => self.export_pdf(&job, &p, &token).await,
            Ok(_) => Err(Stop::Failed(format!(
                "{}はこのバージョンでは実行できません",
                job.kind.label()
            ))),
            Err(e) => Err(Stop::Failed(format!("パラメータを読めません: {e}"))),
        };
        match result {
            Ok(()) => self.finish_if_done(job_id).await?,
            Err(Stop::Cancelled) => {
                let now = now_text();
                let mut tx = self.begin().await?;
                sqlx::query("UPDATE job_chunks SET status = 'cancelled' WHERE job_id = $1")
                    .bind(job_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE jobs SET status = 'cancelled', finished_at = $1, updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
            Err(Stop::Lost) => {
                tracing::warn!(
                    job = job_id,
                    "export lease lost; another worker took it over"
                )
            }
            Err(Stop::Failed(why)) => self.fail_job(job_id, &why).await?,
            Err(Stop::Store(e)) => return Err(e),
        }
        Ok(true)
    }

    async fn export_csv(&self, job: &Job, p: &CsvExport, token: &str) -> Result<(), Stop> {
        let format = match self.csv_format(p.format_id).await {
            Ok(f) => f,
            Err(StoreError::NotFound(_)) => {
                return Err(Stop::Failed(format!(
                    "CSVフォーマット {} が削除されています",
                    p.format_id
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let enc = p.encoding.unwrap_or(format.encoding);
        // A file begun by a worker that died is started again.
        sqlx::query("DELETE FROM job_files WHERE job_id = $1")
            .bind(job.id)
            .execute(&self.pool)
            .await?;
        let mut parts = Parts {
            job_id: job.id,
            next: 0,
            buf: preamble(enc).to_vec(),
        };
        let headers = format.headers();
        let header_line = record_line(&headers);
        match encode(&header_line, enc, format.unmappable) {
            Ok((bytes, _)) => parts.buf.extend(bytes),
            Err(u) => {
                return Err(Stop::Failed(format!(
                    "見出しの「{}」は {} で表せません",
                    u.ch,
                    enc.label()
                )));
            }
        }
        let mut line = 1usize;
        let mut after = 0i64;
        let today = crate::pipeline::today().to_string();
        loop {
            let mut tx = self.begin_read().await?;
            let rows = crate::orders::load_job_orders(&mut tx, job.id, after, BATCH).await?;
            if rows.is_empty() {
                tx.commit().await?;
                break;
            }
            let related =
                Related::load(&mut tx, &format, rows.iter().filter_map(|r| r.2.as_ref())).await?;
            let snapshot = self.masters_in(&mut tx).await?;
            tx.commit().await?;
            let mut notes: Vec<(i64, String)> = Vec::new();
            // (seq, order number, cells) per CSV record of the batch.
            let mut records: Vec<(i64, &str, Vec<String>)> = Vec::new();
            for (seq, _, order) in &rows {
                let Some(order) = order else {
                    notes.push((*seq, "受注が削除されています（出力していません）".into()));
                    continue;
                };
                let lines: Vec<Option<&juchu_domain::order::OrderItem>> = match format.row_per {
                    RowPer::Item if !order.items.is_empty() => {
                        order.items.iter().map(Some).collect()
                    }
                    _ => vec![None],
                };
                for item in lines {
                    let src = RowSource {
                        order,
                        item,
                        customer: order.customer_id.and_then(|c| related.customers.get(&c)),
                        subscription: related.subscriptions.get(&order.id),
                        attributes: related
                            .attributes
                            .get(&order.id)
                            .map(Vec::as_slice)
                            .unwrap_or(&[]),
                        masters: &snapshot.masters,
                    };
                    let cells: Vec<String> = format
                        .columns
                        .iter()
                        .map(|c| neutralise(cell(&c.key, &src)))
                        .collect();
                    records.push((*seq, order.order_number.as_str(), cells));
                }
            }
            let text = records_text(records.iter().map(|(_, _, c)| c.as_slice()));
            match encode(&text, enc, format.unmappable) {
                Ok((bytes, replaced)) => {
                    parts.buf.extend(bytes);
                    if !replaced.is_empty() {
                        let mut by_seq: std::collections::BTreeMap<i64, String> =
                            Default::default();
                        for (seq, _, cells) in &records {
                            for ch in cells.iter().flat_map(|c| c.chars()) {
                                if replaced.contains(&ch) {
                                    let chars = by_seq.entry(*seq).or_default();
                                    if !chars.contains(ch) {
                                        chars.push(ch);
                                    }
                                }
                            }
                        }
                        notes.extend(by_seq.into_iter().map(|(seq, chars)| {
                            (
                                seq,
                                format!("{} で表せない文字「{chars}」を〓にしました", enc.label()),
                            )
                        }));
                    }
                }
                Err(u) => {
                    // Which record and column: the row and column Excel would show.
                    let at = records.iter().enumerate().find_map(|(i, (_, n, cells))| {
                        cells
                            .iter()
                            .position(|c| c.contains(u.ch))
                            .map(|col| (i, *n, col))
                    });
                    let (i, number, col) = at.unwrap_or((0, "", 0));
                    return Err(Stop::Failed(format!(
                        "{}行目（受注番号 {number}）{}列目「{}」の文字「{}」は {} で表せません。UTF-8 で出力するか、CSVフォーマットで「〓に置き換える」を選んでください",
                        line + i + 1,
                        col + 1,
                        headers.get(col).map(String::as_str).unwrap_or(""),
                        u.ch,
                        enc.label()
                    )));
                }
            }
            line += records.len();
            if parts.buf.len() >= PART_BYTES {
                parts.flush(self, token).await?;
            }
            let items: Vec<(i64, i64, String)> = rows
                .iter()
                .map(|(seq, status, o)| (*seq, o.as_ref().map_or(0, |o| o.id), status.clone()))
                .collect();
            if p.shipping_list {
                // Marked 出力済 only once the whole file is stored: an export
                // that fails half-way leaves every order 未出力.
                self.note_items(job, token, &notes).await?;
            } else {
                self.mark_exported(job, false, token, &items, &notes, &today)
                    .await?;
            }
            after = items.last().map_or(after, |(seq, _, _)| *seq);
        }
        parts.flush(self, token).await?;
        if p.shipping_list {
            let mut after = 0i64;
            loop {
                let rows = sqlx::query(
                    "SELECT seq, order_id, status FROM job_items WHERE job_id = $1 AND seq > $2 AND status = 'pending' ORDER BY seq LIMIT $3",
                )
                .bind(job.id)
                .bind(after)
                .bind(BATCH)
                .fetch_all(&self.pool)
                .await?;
                if rows.is_empty() {
                    break;
                }
                let items: Vec<(i64, i64, String)> = rows
                    .iter()
                    .map(|r| {
                        Ok((
                            get_i64(r, "seq")?,
                            get_i64(r, "order_id")?,
                            get_str(r, "status")?,
                        ))
                    })
                    .collect::<Result<_, sqlx::Error>>()?;
                after = items.last().map_or(after, |(seq, _, _)| *seq);
                self.mark_exported(job, true, token, &items, &[], &today)
                    .await?;
            }
        }
        let name = format!(
            "orders_{}_{}.csv",
            job.id,
            crate::pipeline::today().strftime("%Y%m%d")
        );
        let content_type = match enc {
            Encoding::Cp932 => "text/csv; charset=Shift_JIS",
            _ => "text/csv; charset=UTF-8",
        };
        self.finish_export(job, token, &name, content_type).await
    }

    /// The export's file is complete: its name and type, and the chunk done.
    async fn finish_export(
        &self,
        job: &Job,
        token: &str,
        name: &str,
        content_type: &str,
    ) -> Result<(), Stop> {
        let mut tx = self.begin().await?;
        renew(&mut tx, job.id, token).await?;
        sqlx::query(
            "UPDATE jobs SET result_name = $1, result_type = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(name.to_string())
        .bind(content_type.to_string())
        .bind(now_text())
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE job_chunks SET status = 'done' WHERE job_id = $1 AND claim_token = $2")
            .bind(job.id)
            .bind(token.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// PDF一括出力: every order's 帳票 in one PDF (Japanese text in an embedded
    /// font), stored with the job like an export.
    async fn export_pdf(
        &self,
        job: &Job,
        p: &juchu_domain::document::PdfExport,
        token: &str,
    ) -> Result<(), Stop> {
        let font = juchu_docs::DocumentFont::find().map_err(Stop::Failed)?;
        let shop = self.shop_settings().await?;
        if p.document.is_qualified_invoice() && shop.registration_number.is_empty() {
            return Err(Stop::Failed(format!(
                "{}（適格請求書）には登録番号（T+13桁）が必要です。ショップ情報で設定してください",
                p.document.label()
            )));
        }
        let issuer = juchu_domain::document::Issuer {
            shop_name: shop.name,
            address: shop.address,
            phone: shop.phone,
            registration_number: shop.registration_number,
        };
        sqlx::query("DELETE FROM job_files WHERE job_id = $1")
            .bind(job.id)
            .execute(&self.pool)
            .await?;
        let mut docs = Vec::new();
        let mut items: Vec<(i64, i64, String)> = Vec::new();
        let mut notes: Vec<(i64, String)> = Vec::new();
        let mut after = 0i64;
        loop {
            let mut tx = self.begin_read().await?;
            let rows = crate::orders::load_job_orders(&mut tx, job.id, after, BATCH).await?;
            let snapshot = self.masters_in(&mut tx).await?;
            tx.commit().await?;
            if rows.is_empty() {
                break;
            }
            for (seq, status, order) in rows {
                match &order {
                    Some(o) => docs.push(juchu_domain::document::document_of(
                        o,
                        &snapshot.masters,
                        p.document,
                        &p.issue_date,
                    )),
                    None => notes.push((seq, "受注が削除されています（出力していません）".into())),
                }
                after = seq;
                items.push((seq, order.map_or(0, |o| o.id), status));
            }
        }
        // Layout is CPU work: off the async threads.
        let logo = self.shop_logo().await?.map(|(_, bytes)| bytes);
        let pdf = tokio::task::spawn_blocking(move || {
            juchu_docs::Renderer::with_logo(&font, logo.as_deref()).render(&issuer, &docs)
        })
        .await
        .map_err(|e| Stop::Failed(format!("帳票の作成が中断されました: {e}")))?
        .map_err(Stop::Failed)?;
        let mut parts = Parts {
            job_id: job.id,
            next: 0,
            buf: Vec::new(),
        };
        for chunk in pdf.chunks(PART_BYTES) {
            parts.buf = chunk.to_vec();
            parts.flush(self, token).await?;
        }
        let today = crate::pipeline::today().to_string();
        for batch in items.chunks(BATCH as usize) {
            self.mark_exported(job, false, token, batch, &notes, &today)
                .await?;
        }
        let name = format!(
            "{}_{}_{}.pdf",
            match p.document {
                juchu_domain::document::DocumentKind::DeliveryNote => "delivery_notes",
                juchu_domain::document::DocumentKind::Invoice => "invoices",
                juchu_domain::document::DocumentKind::Receipt => "receipts",
            },
            job.id,
            p.issue_date.replace('-', "")
        );
        self.finish_export(job, token, &name, "application/pdf")
            .await
    }

    /// Notes on items (characters replaced by 〓) while the file is written.
    async fn note_items(
        &self,
        job: &Job,
        token: &str,
        notes: &[(i64, String)],
    ) -> Result<(), Stop> {
        if notes.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        renew(&mut tx, job.id, token).await?;
        for (seq, note) in notes {
            sqlx::query("UPDATE job_items SET message = $1 WHERE job_id = $2 AND seq = $3")
                .bind(note.clone())
                .bind(job.id)
                .bind(*seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a batch as exported; with 出荷リスト出力用, each order not yet
    /// marked becomes 出力済 with today's date through the pipeline.
    async fn mark_exported(
        &self,
        job: &Job,
        shipping_list: bool,
        token: &str,
        items: &[(i64, i64, String)],
        notes: &[(i64, String)],
        today: &str,
    ) -> Result<(), Stop> {
        let actor = job.actor();
        let mut tx = self.begin().await?;
        renew(&mut tx, job.id, token).await?;
        let note_of: HashMap<i64, &str> = notes.iter().map(|(s, n)| (*s, n.as_str())).collect();
        let (mut newly, mut failed) = (0i64, 0i64);
        if !shipping_list {
            // Nothing changes on the orders: the batch is marked in one statement,
            // and the few with a note one by one.
            let (Some(from), Some(to)) = (items.first(), items.last()) else {
                return Ok(());
            };
            newly = sqlx::query(
                "UPDATE job_items SET status = 'ok' WHERE job_id = $1 AND seq >= $2 AND seq <= $3 AND status = 'pending'",
            )
            .bind(job.id)
            .bind(from.0)
            .bind(to.0)
            .execute(&mut *tx)
            .await?
            .rows_affected() as i64;
            for (seq, note) in notes {
                sqlx::query("UPDATE job_items SET message = $1 WHERE job_id = $2 AND seq = $3")
                    .bind(note.clone())
                    .bind(job.id)
                    .bind(*seq)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if shipping_list {
            // 出荷リスト出力用: the batch's pending orders become 出力済 through
            // the pipeline, as one batch (rules fire for each).
            let todo: Vec<&(i64, i64, String)> =
                items.iter().filter(|(_, _, s)| s == "pending").collect();
            let ids: Vec<i64> = todo.iter().map(|(_, id, _)| *id).collect();
            let loaded = self.lock_orders_by_id(&mut tx, &ids).await?;
            let number_of: HashMap<i64, String> = loaded
                .values()
                .map(|o| (o.id, o.order_number.clone()))
                .collect();
            let patch = juchu_domain::patch::OrderPatch {
                shipping_list_state: Some("出力済".into()),
                shipping_list_exported_on: Some(Some(today.to_string())),
                ..Default::default()
            };
            let marked: Vec<(i64, &str)> = todo
                .iter()
                .filter_map(|(seq, id, _)| number_of.get(id).map(|n| (*seq, n.as_str())))
                .collect();
            let targets: Vec<crate::pipeline::ChangeTarget<'_>> = marked
                .iter()
                .map(|(_, n)| crate::pipeline::ChangeTarget {
                    order_number: n,
                    expected_version: None,
                    patch: &patch,
                    outside_events: &[],
                })
                .collect();
            let results = self
                .change_loaded_in_tx(
                    &mut tx,
                    loaded,
                    &targets,
                    &actor,
                    JobKind::CsvExport.label(),
                )
                .await?;
            let mut outcome_of: HashMap<i64, (&str, String)> = HashMap::new();
            for ((seq, _), r) in marked.iter().zip(results) {
                let note = note_of.get(seq).copied().unwrap_or("").to_string();
                outcome_of.insert(
                    *seq,
                    match r {
                        Ok(_) => ("ok", note),
                        Err(e) => (
                            "failed",
                            format!(
                                "出力しましたが出荷リストを更新できません: {}",
                                item_error(&e)
                            ),
                        ),
                    },
                );
            }
            for (seq, _, _) in &todo {
                let (outcome, message) = outcome_of
                    .remove(seq)
                    .unwrap_or(("ok", note_of.get(seq).copied().unwrap_or("").to_string()));
                if outcome == "failed" {
                    failed += 1;
                }
                newly += 1;
                // A note written while exporting (〓) stays unless there is news.
                sqlx::query(
                    "UPDATE job_items SET status = $1, message = CASE WHEN $2 = '' THEN message ELSE $2 END WHERE job_id = $3 AND seq = $4",
                )
                .bind(outcome)
                .bind(message)
                .bind(job.id)
                .bind(*seq)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query(
            "UPDATE job_chunks SET done = done + $1, failed = failed + $2 WHERE job_id = $3 AND chunk = 0",
        )
        .bind(newly)
        .bind(failed)
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What a format reads besides the orders, loaded per batch only when a
/// column needs it.
#[derive(Default)]
struct Related {
    customers: HashMap<i64, juchu_domain::customer::Customer>,
    /// By order id.
    subscriptions: HashMap<i64, juchu_domain::subscription::Subscription>,
    attributes: HashMap<i64, Vec<(String, String)>>,
}

impl Related {
    async fn load<'a>(
        tx: &mut Tx,
        format: &CsvFormat,
        orders: impl Iterator<Item = &'a juchu_domain::order::Order> + Clone,
    ) -> Result<Related, StoreError> {
        let mut out = Related::default();
        if format.needs(ColumnGroup::Customer) {
            let mut ids: Vec<i64> = orders.clone().filter_map(|o| o.customer_id).collect();
            ids.sort_unstable();
            ids.dedup();
            for chunk in ids.chunks(500) {
                let sql = format!(
                    "SELECT {} FROM customers WHERE id IN ({})",
                    crate::customers::COLUMNS,
                    in_list(chunk.len(), 1)
                );
                let args = chunk.iter().map(|id| crate::Arg::from(*id)).collect();
                for r in query_with(sql, args).fetch_all(&mut **tx).await? {
                    let c = crate::customers::from_row(&r)?;
                    out.customers.insert(c.id, c);
                }
            }
        }
        if format.needs(ColumnGroup::Subscription) {
            let list: Vec<&juchu_domain::order::Order> = orders.clone().collect();
            out.subscriptions = crate::subscriptions::subscriptions_of_orders(tx, &list).await?;
        }
        if format.needs_attributes() {
            let ids: Vec<i64> = orders.map(|o| o.id).collect();
            for chunk in ids.chunks(500) {
                let sql = format!(
                    "SELECT order_id, name, value FROM order_attributes WHERE order_id IN ({}) ORDER BY order_id, name",
                    in_list(chunk.len(), 1)
                );
                let args = chunk.iter().map(|id| crate::Arg::from(*id)).collect();
                for r in query_with(sql, args).fetch_all(&mut **tx).await? {
                    out.attributes
                        .entry(get_opt_i64(&r, "order_id")?.unwrap_or(0))
                        .or_default()
                        .push((get_str(&r, "name")?, get_str(&r, "value")?));
                }
            }
        }
        Ok(out)
    }
}
