//! CSV一括出力 and PDF一括出力 as jobs. A CSV export streams the frozen items
//! through one statement that reads only the format's values
//! ([`crate::export_projection`]); rows are rendered, encoded and stored at
//! the same time, as one file in parts of a few megabytes (stored with the
//! job, so any machine can serve the download), so memory stays flat however
//! many orders. The export runs as one chunk under a lease it renews with
//! every part; a worker that dies leaves the lease to expire, and the next one
//! starts the file again — orders it had already marked 出力済 are not
//! changed twice.

use super::copy_binary::{BinaryTuples, binary_int};
use super::export_projection::{Projection, Ty, row_values};
use crate::StoreError;
use crate::db::{Store, Tx, get_i64, get_str, query_with};
use crate::jobs::{Job, item_error};
use juchu_domain::csv_format::{
    CsvFormat, Encoding, Raw, encode, encode_into, find_char, needs_neutralising, preamble,
    record_line, record_writer, records_with, render_cell,
};
use juchu_domain::job::{CsvExport, JobParams};
use std::collections::HashMap;

const LEASE_SECS: i64 = 120;
/// Orders per transaction when the 出荷リスト is marked, and per read of a PDF.
const BATCH: i64 = 2000;
/// CSV text encoded at a time.
const BATCH_BYTES: usize = 256 << 10;
/// A stored part of the file. Fewer, larger parts: each costs a transaction
/// with its lease check (1 MB parts cost the 1M-order export 1.5 s more).
const PART_BYTES: usize = 4 << 20;

/// Why an export stopped.
pub(crate) enum Stop {
    /// Another worker holds the job now (our lease ran out).
    Lost,
    /// The operator cancelled the job.
    Cancelled,
    /// The job cannot be done: 失敗 with this reason.
    Failed(String),
    /// A character the encoding cannot hold, and where (失敗).
    Unencodable(Box<Unencodable>),
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

/// Where an export met a character its encoding cannot hold.
pub(crate) struct Unencodable {
    seq: i64,
    line: usize,
    column: usize,
    header: String,
    ch: char,
    encoding: Encoding,
}

fn csv_failed(e: impl std::fmt::Display) -> Stop {
    Stop::Failed(format!("CSVを書けません: {e}"))
}

/// Renews the lease in `tx`; `Stop::Lost` when the chunk is no longer ours,
/// `Stop::Cancelled` when the job was cancelled.
pub(crate) async fn renew(
    tx: &mut Tx,
    job_id: i64,
    token: &str,
    clock: &crate::db::Clock,
) -> Result<(), Stop> {
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
    .bind(clock.in_seconds(LEASE_SECS))
    .bind(job_id)
    .bind(token.to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 1 { Ok(()) } else { Err(Stop::Lost) }
}

/// The file being written, a part at a time.
pub(crate) struct Parts {
    pub(crate) job_id: i64,
    pub(crate) next: i64,
    pub(crate) buf: Vec<u8>,
}

/// How far a CSV export is, stored with each part (absolute counts, so a
/// file started again counts again from zero).
#[derive(Default, Clone, Copy)]
struct Progress {
    done: i64,
    skipped: i64,
}

/// What a stored part says of the export's progress.
#[derive(Clone, Copy)]
enum Counting<'a> {
    /// Nothing (a PDF's parts).
    None,
    /// Written orders are done.
    Written(&'a Progress),
    /// Only the skipped: with the 出荷リスト, marking counts the orders done
    /// (a file started again leaves the count of those already marked).
    SkippedOnly(&'a Progress),
}

/// What the result says about one item (a deleted order, a 〓).
struct Note {
    seq: i64,
    /// The item's new status, or `None` to keep it.
    status: Option<&'static str>,
    message: String,
}

impl Parts {
    pub(crate) async fn flush(&mut self, store: &Store, token: &str) -> Result<(), Stop> {
        self.flush_with(store, token, Counting::None, &mut Vec::new())
            .await
    }

    /// Stores the part with the export's progress and notes, in one
    /// transaction under the lease.
    async fn flush_with(
        &mut self,
        store: &Store,
        token: &str,
        progress: Counting<'_>,
        notes: &mut Vec<Note>,
    ) -> Result<(), Stop> {
        if self.buf.is_empty() && notes.is_empty() {
            return Ok(());
        }
        let mut tx = store.begin().await?;
        if store.backend == crate::Backend::Postgres {
            // A part need not wait for its own disk flush: until the export's
            // last transaction (which waits, and with it every earlier one)
            // the file is not complete, and a file cut short by a crash is
            // written again from the start.
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        renew(&mut tx, self.job_id, token, &store.clock).await?;
        if !self.buf.is_empty() {
            sqlx::query("INSERT INTO job_files (job_id, part, data) VALUES ($1, $2, $3)")
                .bind(self.job_id)
                .bind(self.next)
                .bind(std::mem::take(&mut self.buf))
                .execute(&mut *tx)
                .await?;
            self.next += 1;
        }
        for note in notes.drain(..) {
            sqlx::query(
                "UPDATE job_items SET status = COALESCE($1, status), message = $2 WHERE job_id = $3 AND seq = $4",
            )
            .bind(note.status)
            .bind(note.message)
            .bind(self.job_id)
            .bind(note.seq)
            .execute(&mut *tx)
            .await?;
        }
        match progress {
            Counting::Written(p) => {
                sqlx::query(
                    "UPDATE job_chunks SET done = $1, skipped = $2 WHERE job_id = $3 AND chunk = 0",
                )
                .bind(p.done)
                .bind(p.skipped)
                .bind(self.job_id)
                .execute(&mut *tx)
                .await?;
            }
            Counting::SkippedOnly(p) => {
                sqlx::query("UPDATE job_chunks SET skipped = $1 WHERE job_id = $2 AND chunk = 0")
                    .bind(p.skipped)
                    .bind(self.job_id)
                    .execute(&mut *tx)
                    .await?;
            }
            Counting::None => {}
        }
        tx.commit().await?;
        Ok(())
    }
}

/// CSV text of some records on its way to the encoder, with the item (seq)
/// of each record, the notes and the progress up to its last record.
#[derive(Default)]
struct TextBatch {
    text: Vec<u8>,
    seqs: Vec<i64>,
    notes: Vec<Note>,
    progress: Progress,
}

/// Renders the export's rows into CSV text and hands it on in batches of
/// about [`BATCH_BYTES`], whichever way the rows are read.
struct RowRenderer<'m> {
    masters: &'m juchu_domain::masters::Masters,
    output: tokio::sync::mpsc::Sender<TextBatch>,
    batch: TextBatch,
    writer: juchu_domain::csv_format::RecordWriter,
    cell: String,
    progress: Progress,
    last_seq: i64,
}

impl<'m> RowRenderer<'m> {
    fn new(
        masters: &'m juchu_domain::masters::Masters,
        output: tokio::sync::mpsc::Sender<TextBatch>,
    ) -> Self {
        RowRenderer {
            masters,
            output,
            batch: TextBatch::default(),
            writer: record_writer(),
            cell: String::new(),
            progress: Progress::default(),
            last_seq: 0,
        }
    }

    /// One row of the projection: `seq`, the order (none when it was
    /// deleted) and the values. `false` when the encoder has stopped (a
    /// character, or the store's side): the reading stops quietly.
    async fn row(
        &mut self,
        projection: &Projection,
        seq: i64,
        order_id: Option<i64>,
        values: &[Raw<'_>],
    ) -> Result<bool, Stop> {
        if self.output.is_closed() {
            return Ok(false);
        }
        let first_row_of_item = seq != self.last_seq;
        self.last_seq = seq;
        if order_id.is_none() {
            self.progress.skipped += 1;
            self.batch.notes.push(Note {
                seq,
                status: Some("skipped"),
                message: "受注が削除されています（出力していません）".into(),
            });
            return Ok(true);
        }
        if first_row_of_item {
            self.progress.done += 1;
        }
        for column in &projection.columns {
            self.cell.clear();
            // A column reads one or two values ([`Render::arity`]).
            let mut picked = [Raw::Null; 2];
            for (slot, k) in picked.iter_mut().zip(&column.values) {
                *slot = values[*k];
            }
            render_cell(
                column.render,
                &picked[..column.values.len().min(2)],
                self.masters,
                &mut self.cell,
            );
            if needs_neutralising(&self.cell) {
                self.cell.insert(0, '\'');
            }
            self.writer.write_field(&self.cell).map_err(csv_failed)?;
        }
        self.writer
            .write_record(None::<&[u8]>)
            .map_err(csv_failed)?;
        self.batch.seqs.push(seq);
        if self.writer.get_ref().len() >= BATCH_BYTES {
            self.batch.text = std::mem::replace(&mut self.writer, record_writer())
                .into_inner()
                .map_err(|e| csv_failed(e.error()))?;
            self.batch.progress = self.progress;
            let batch = std::mem::take(&mut self.batch);
            if self.output.send(batch).await.is_err() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The last batch, however small: it carries the final progress.
    async fn finish(self) -> Result<(), Stop> {
        let mut batch = self.batch;
        batch.text = self
            .writer
            .into_inner()
            .map_err(|e| csv_failed(e.error()))?;
        batch.progress = self.progress;
        let _ = self.output.send(batch).await;
        Ok(())
    }
}

/// Encoded bytes on their way to the store.
struct EncodedPart {
    bytes: Vec<u8>,
    notes: Vec<Note>,
    progress: Progress,
}

/// How the encoder writes the file.
struct FileEncoding {
    encoding: Encoding,
    unmappable: juchu_domain::csv_format::Unmappable,
    headers: Vec<String>,
}

impl FileEncoding {
    /// The encoder's side of an export (a blocking thread): encodes the CSV
    /// text as it comes and hands on parts of about [`PART_BYTES`], starting
    /// with `start` (preamble and header). Characters CP932 cannot hold stop
    /// the export with their row and column, or become 〓 with a note on the
    /// item, as the format says. When the store's side has stopped, it stops
    /// too (the store's side says why).
    fn run(
        &self,
        start: Vec<u8>,
        mut input: tokio::sync::mpsc::Receiver<TextBatch>,
        output: tokio::sync::mpsc::Sender<EncodedPart>,
    ) -> Result<(), Stop> {
        let mut part = EncodedPart {
            bytes: start,
            notes: Vec::new(),
            progress: Progress::default(),
        };
        // Records (and the header) in the file before the batch.
        let mut lines_before = 1usize;
        // The characters replaced so far per item: an order's records may
        // span batches and parts, and its note lists them all.
        let mut replaced_of: HashMap<i64, String> = HashMap::new();
        while let Some(batch) = input.blocking_recv() {
            if output.is_closed() {
                // The store's side has stopped (and says why).
                return Ok(());
            }
            let text = String::from_utf8(batch.text).map_err(csv_failed)?;
            // Encoded straight into the part: no copy of the batch between.
            let mut replaced = Vec::new();
            match encode_into(
                &text,
                self.encoding,
                self.unmappable,
                &mut part.bytes,
                &mut replaced,
            ) {
                Ok(()) => {
                    // Only a batch with a 〓 is read again, to say where.
                    let replaced_in = if replaced.is_empty() {
                        Vec::new()
                    } else {
                        records_with(&text, &replaced)
                    };
                    for (i, chars) in replaced_in {
                        let seq = batch.seqs.get(i).copied().unwrap_or(0);
                        let all = replaced_of.entry(seq).or_default();
                        for c in chars.chars() {
                            if !all.contains(c) {
                                all.push(c);
                            }
                        }
                        let message = format!(
                            "{} で表せない文字「{all}」を〓にしました",
                            self.encoding.label()
                        );
                        // An order's item rows are consecutive: one note
                        // per order and part, not one per row.
                        match part.notes.last_mut() {
                            Some(last) if last.seq == seq => last.message = message,
                            _ => part.notes.push(Note {
                                seq,
                                status: None,
                                message,
                            }),
                        }
                    }
                }
                Err(u) => {
                    // The row and column Excel would show.
                    let (i, col) = find_char(&text, u.ch).unwrap_or((0, 0));
                    return Err(Stop::Unencodable(Box::new(Unencodable {
                        seq: batch.seqs.get(i).copied().unwrap_or(0),
                        line: lines_before + i + 1,
                        column: col + 1,
                        header: self.headers.get(col).cloned().unwrap_or_default(),
                        ch: u.ch,
                        encoding: self.encoding,
                    })));
                }
            }
            lines_before += batch.seqs.len();
            part.notes.extend(batch.notes);
            part.progress = batch.progress;
            if part.bytes.len() >= PART_BYTES {
                let next = EncodedPart {
                    bytes: Vec::with_capacity(PART_BYTES + BATCH_BYTES),
                    notes: Vec::new(),
                    progress: part.progress,
                };
                if output
                    .blocking_send(std::mem::replace(&mut part, next))
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
        // The last part, however small: it carries the final progress.
        let _ = output.blocking_send(part);
        Ok(())
    }
}

impl Store {
    /// Claims an export whose chunk is free (or whose lease ran out) and runs
    /// it to the end. `false` when there was none.
    pub(crate) async fn run_export_chunk(&self) -> Result<bool, StoreError> {
        let now = self.clock.now_text();
        let lock = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE OF c SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        // Most of the time there is no export: find out without a write transaction.
        let files = super::kinds::sql_list(super::kinds::file_kind_codes());
        if sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM jobs WHERE kind IN ({files}) AND status IN ('queued', 'running') LIMIT 1"
        )))
        .fetch_optional(&self.pool)
        .await?
        .is_none()
        {
            return Ok(false);
        }
        let mut tx = self.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c.job_id FROM job_chunks c JOIN jobs j ON j.id = c.job_id \
             WHERE j.kind IN ({files}) AND j.status IN ('queued', 'running') AND j.cancel_requested = 0 \
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
        let token = crate::db::random_token("")[..16].to_string();
        sqlx::query(
            "UPDATE job_chunks SET status = 'running', claim_token = $1, lease_until = $2 WHERE job_id = $3",
        )
        .bind(token.clone())
        .bind(self.clock.in_seconds(LEASE_SECS))
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
        let result = match (
            super::kinds::of(job.kind),
            JobParams::parse(job.kind, &job.params),
        ) {
            (Ok(kind), Ok(params)) => kind.write_file(self, &job, &params, &token).await,
            (Err(e), _) => Err(Stop::Failed(e.to_string())),
            (_, Err(e)) => Err(Stop::Failed(format!("パラメータを読めません: {e}"))),
        };
        match result {
            Ok(()) => self.finish_if_done(job_id).await?,
            Err(Stop::Cancelled) => {
                let now = self.clock.now_text();
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
            Err(Stop::Unencodable(u)) => {
                let number = sqlx::query(
                    "SELECT o.order_number FROM job_items ji JOIN orders o ON o.id = ji.order_id WHERE ji.job_id = $1 AND ji.seq = $2",
                )
                .bind(job_id)
                .bind(u.seq)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| get_str(&r, "order_number"))
                .transpose()?
                .unwrap_or_default();
                let why = format!(
                    "{}行目（受注番号 {number}）{}列目「{}」の文字「{}」は {} で表せません。UTF-8 で出力するか、CSVフォーマットで「〓に置き換える」を選んでください",
                    u.line,
                    u.column,
                    u.header,
                    u.ch,
                    u.encoding.label()
                );
                self.fail_job(job_id, &why).await?
            }
            Err(Stop::Store(e)) => return Err(e),
        }
        Ok(true)
    }

    pub(crate) async fn export_csv(
        &self,
        job: &Job,
        p: &CsvExport,
        token: &str,
    ) -> Result<(), Stop> {
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
        let headers = format.headers();
        let mut start = preamble(enc).to_vec();
        match encode(&record_line(&headers), enc, format.unmappable) {
            Ok((bytes, _)) => start.extend(bytes),
            Err(u) => {
                return Err(Stop::Failed(format!(
                    "見出しの「{}」は {} で表せません",
                    u.ch,
                    enc.label()
                )));
            }
        }
        // Three stages at once, so reading, encoding (CP932 is slow to
        // encode) and storing overlap: rows are rendered into CSV text here,
        // a blocking thread encodes it, and the parts are stored as they come.
        // The channels are short: memory stays flat however many orders.
        let (text_tx, text_rx) = tokio::sync::mpsc::channel::<TextBatch>(4);
        let (part_tx, part_rx) = tokio::sync::mpsc::channel::<EncodedPart>(2);
        let encoding = FileEncoding {
            encoding: enc,
            unmappable: format.unmappable,
            headers,
        };
        let encoder = tokio::task::spawn_blocking(move || encoding.run(start, text_rx, part_tx));
        let (rendered, stored) = tokio::join!(
            self.render_rows(job.id, &format, text_tx),
            self.store_parts(job.id, token, !p.shipping_list, part_rx)
        );
        let encoded = encoder
            .await
            .map_err(|e| Stop::Failed(format!("CSVの書き出しが中断されました: {e}")))?;
        // The store's side says why first (lease lost, cancelled), then the
        // encoder's (a character), then the reader's.
        stored?;
        encoded?;
        rendered?;
        if p.shipping_list {
            let today = self.clock.today().to_string();
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
            self.clock.today().strftime("%Y%m%d")
        );
        let content_type = match enc {
            Encoding::Cp932 => "text/csv; charset=Shift_JIS",
            _ => "text/csv; charset=UTF-8",
        };
        self.finish_export(job, token, &name, content_type).await
    }

    /// The reader's side of a CSV export: one statement streams the job's
    /// rows in order ([`Projection`]), rendered into CSV text in batches of
    /// about [`BATCH_BYTES`]. Stops quietly when the encoder has stopped.
    /// PostgreSQL sends them by `COPY … (FORMAT binary)` on a connection of
    /// the export's own: no row is converted into the pool's generic rows
    /// (that conversion was a third of the export's CPU).
    async fn render_rows(
        &self,
        job_id: i64,
        format: &CsvFormat,
        output: tokio::sync::mpsc::Sender<TextBatch>,
    ) -> Result<(), Stop> {
        let masters = self.masters().await?;
        let mut renderer = RowRenderer::new(&masters, output);
        match &self.pg_url {
            Some(url) => {
                let projection = Projection::inline(format, job_id).map_err(Stop::Failed)?;
                self.render_copied(url, &projection, &mut renderer).await?;
                renderer.finish().await
            }
            None => {
                let projection = Projection::of(format, self.backend, job_id);
                self.render_fetched(&projection, &mut renderer).await?;
                renderer.finish().await
            }
        }
    }

    /// Rows through the pool (SQLite).
    async fn render_fetched(
        &self,
        projection: &Projection,
        renderer: &mut RowRenderer<'_>,
    ) -> Result<(), Stop> {
        use futures_util::TryStreamExt;
        use sqlx::Row;
        let mut conn = self.pool.acquire().await?;
        let mut rows =
            query_with(projection.sql.clone(), projection.args.clone()).fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            let seq: i64 = row.try_get(0)?;
            let order_id: Option<i64> = row.try_get(1)?;
            let mut values = Vec::with_capacity(projection.types.len());
            row_values(&row, &projection.types, &mut values)?;
            if !renderer.row(projection, seq, order_id, &values).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Rows by `COPY … TO STDOUT (FORMAT binary)` (PostgreSQL).
    async fn render_copied(
        &self,
        url: &str,
        projection: &Projection,
        renderer: &mut RowRenderer<'_>,
    ) -> Result<(), Stop> {
        use futures_util::TryStreamExt;
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(url).await?;
        // One big statement: compiling it (JIT) costs more than it saves.
        sqlx::Executor::execute(&mut conn, "SET jit = off").await?;
        let mut copy = conn.copy_out_raw(&projection.sql).await?;
        let mut tuples = BinaryTuples::default();
        let mut fields = Vec::with_capacity(projection.types.len() + 2);
        let failed = |e: String| Stop::Failed(format!("出力する受注を読めません: {e}"));
        while let Some(chunk) = copy.try_next().await? {
            tuples.extend(&chunk);
            while tuples.next(&mut fields).map_err(failed)?.is_some() {
                if fields.len() != projection.types.len() + 2 {
                    return Err(failed(format!(
                        "列の数が {} です（{} のはず）",
                        fields.len(),
                        projection.types.len() + 2
                    )));
                }
                let field = |k: usize| tuples.field(fields.get(k).and_then(Option::as_ref));
                let seq = binary_int(field(0)).map_err(failed)?.unwrap_or(0);
                let order_id = binary_int(field(1)).map_err(failed)?;
                let mut values = Vec::with_capacity(projection.types.len());
                for (k, ty) in projection.types.iter().enumerate() {
                    values.push(match (ty, field(k + 2)) {
                        (_, None) => Raw::Null,
                        (Ty::Int, bytes) => binary_int(bytes)
                            .map_err(failed)?
                            .map_or(Raw::Null, Raw::Int),
                        (Ty::Text, Some(bytes)) => Raw::Text(
                            std::str::from_utf8(bytes).map_err(|e| failed(e.to_string()))?,
                        ),
                    });
                }
                if !renderer.row(projection, seq, order_id, &values).await? {
                    return Ok(());
                }
            }
            tuples.compact();
        }
        if !tuples.complete() {
            return Err(failed("COPY が途中で終わりました".into()));
        }
        Ok(())
    }

    /// The store's side of a CSV export: each part with the progress and
    /// notes it carries, under the lease.
    async fn store_parts(
        &self,
        job_id: i64,
        token: &str,
        count_done: bool,
        mut input: tokio::sync::mpsc::Receiver<EncodedPart>,
    ) -> Result<(), Stop> {
        let mut parts = Parts {
            job_id,
            next: 0,
            buf: Vec::new(),
        };
        loop {
            // A part may be long in coming (the database sorts a big job's
            // rows before the first one): the lease is renewed meanwhile, so
            // no other worker takes the export over.
            match tokio::time::timeout(
                std::time::Duration::from_secs(LEASE_SECS as u64 / 4),
                input.recv(),
            )
            .await
            {
                Ok(Some(mut part)) => {
                    parts.buf = part.bytes;
                    let counting = if count_done {
                        Counting::Written(&part.progress)
                    } else {
                        Counting::SkippedOnly(&part.progress)
                    };
                    parts
                        .flush_with(self, token, counting, &mut part.notes)
                        .await?;
                }
                Ok(None) => return Ok(()),
                Err(_) => {
                    let mut tx = self.begin().await?;
                    renew(&mut tx, job_id, token, &self.clock).await?;
                    tx.commit().await?;
                }
            }
        }
    }

    /// The export's file is complete: its name and type, and the chunk done.
    pub(crate) async fn finish_export(
        &self,
        job: &Job,
        token: &str,
        name: &str,
        content_type: &str,
    ) -> Result<(), Stop> {
        let mut tx = self.begin().await?;
        renew(&mut tx, job.id, token, &self.clock).await?;
        sqlx::query(
            "UPDATE jobs SET result_name = $1, result_type = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(name.to_string())
        .bind(content_type.to_string())
        .bind(self.clock.now_text())
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
    pub(crate) async fn export_pdf(
        &self,
        job: &Job,
        p: &juchu_domain::document::PdfExport,
        token: &str,
    ) -> Result<(), Stop> {
        let font = juchu_docs::DocumentFont::find().map_err(Stop::Failed)?;
        let (issuer, format) = match self.document_setup(p.document, p.format_id).await {
            Ok(x) => x,
            Err(StoreError::Invalid(why)) => return Err(Stop::Failed(why.messages())),
            Err(e) => return Err(e.into()),
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
                        &format,
                        &p.issue_date,
                        &issuer,
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
        let today = self.clock.today().to_string();
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

    /// Progress of a file whose items are ok unless noted ([`super::kind::Kind::marks_items`]
    /// false): the batch counted done, its notes written, under the lease.
    pub(crate) async fn note_exported(
        &self,
        job: &Job,
        token: &str,
        done: i64,
        notes: &[(i64, String)],
    ) -> Result<(), Stop> {
        let mut tx = self.begin().await?;
        renew(&mut tx, job.id, token, &self.clock).await?;
        for (seq, note) in notes {
            sqlx::query("UPDATE job_items SET message = $1 WHERE job_id = $2 AND seq = $3")
                .bind(note.clone())
                .bind(job.id)
                .bind(*seq)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE job_chunks SET done = done + $1 WHERE job_id = $2 AND chunk = 0")
            .bind(done)
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a batch as exported; with 出荷リスト出力用, each order not yet
    /// marked becomes 出力済 with today's date through the pipeline.
    pub(crate) async fn mark_exported(
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
        renew(&mut tx, job.id, token, &self.clock).await?;
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
            let targets: Vec<crate::orders::ChangeTarget<'_>> = marked
                .iter()
                .map(|(_, n)| crate::orders::ChangeTarget {
                    order_number: n,
                    expected_version: None,
                    patch: &patch,
                    outside_events: &[],
                })
                .collect();
            let results = self
                .change_loaded_in_tx(&mut tx, loaded, &targets, &actor, job.kind.label())
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
