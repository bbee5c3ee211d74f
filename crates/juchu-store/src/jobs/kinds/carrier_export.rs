//! 送り状データ出力 (`carrier_export`): the carrier's label file over any
//! selection, one line per package not yet shipped, in the carrier's layout
//! ([`juchu_domain::carrier_file`]), CP932 with CRLF, stored with the job like
//! an export. What was replaced or cut to fit, and the orders left out (発送済,
//! another carrier), are noted per order in the job's result. With
//! 出荷リスト出力用 the exported orders become 出力済 like a CSV export.

use crate::StoreError;
use crate::db::Store;
use crate::jobs::Job;
use crate::jobs::export::{Parts, Stop};
use crate::jobs::kind::*;
use crate::snapshot::Snapshot;
use jiff::civil::Date;
use juchu_domain::carrier_file::ShippingSettings;
use juchu_domain::carrier_file::{Parcel, csv_line, encode_cp932, header, line};
use juchu_domain::job::{CarrierExport, CarrierFormat, JobKind, JobParams};
use juchu_domain::masters::Masters;
use juchu_domain::order::Order;
use juchu_domain::status::ShipmentStatus;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) struct CarrierExportKind;

/// Orders read per batch, and the file part size.
const BATCH: i64 = 10_000;
const PART_BYTES: usize = 4 << 20;

impl Kind for CarrierExportKind {
    fn kind(&self) -> JobKind {
        JobKind::CarrierExport
    }
    fn writes_file(&self) -> bool {
        true
    }
    fn marks_items(&self) -> bool {
        false
    }
    fn check<'a>(&'a self, store: &'a Store, p: &'a JobParams) -> KindFuture<'a, ()> {
        Box::pin(async move {
            let JobParams::CarrierExport(p) = p else {
                return mismatch(JobKind::CarrierExport);
            };
            store
                .shipping_settings()
                .await?
                .check_for(p.carrier_format)?;
            Ok(())
        })
    }
    fn reminders(&self, params: &JobParams) -> Vec<String> {
        match params {
            JobParams::CarrierExport(p) => vec![format!(
                "{}の送り状データを出力します（発送済の荷物と他の配送業者の荷物は出力しません）",
                p.carrier_format.label()
            )],
            _ => vec![],
        }
    }
    fn write_file<'a>(
        &'a self,
        store: &'a Store,
        job: &'a Job,
        params: &'a JobParams,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Stop>> + Send + 'a>> {
        Box::pin(async move {
            match params {
                JobParams::CarrierExport(p) => store.export_carrier_file(job, p, token).await,
                _ => Err(Stop::Failed(
                    "送り状データ出力のパラメータではありません".into(),
                )),
            }
        })
    }
}

/// A batch of the job's orders, as labels need them.
type LabelBatch = Vec<(i64, String, Option<Order>)>;

/// What a batch became: its lines in CP932, the items a line was written
/// for (seq, order id, status), how many had none, and the notes (seq, what
/// was changed or left out).
struct Built {
    bytes: Vec<u8>,
    items: Vec<(i64, i64, String)>,
    unwritten: i64,
    notes: Vec<(i64, String)>,
}

/// What every line needs besides its order.
struct LabelContext {
    format: CarrierFormat,
    settings: ShippingSettings,
    shop_name: String,
    today: Date,
}

/// The lines of a batch (CPU work: run off the async threads).
fn build(rows: LabelBatch, m: &Masters, cx: &LabelContext) -> Built {
    let carrier_code = cx.format.carrier_code();
    let mut text = String::with_capacity(rows.len() * 256);
    let mut items = Vec::with_capacity(rows.len());
    let mut notes = Vec::new();
    let mut unwritten = 0;
    for (seq, status, order) in rows {
        let Some(o) = order else {
            notes.push((seq, "受注が削除されています（出力していません）".into()));
            unwritten += 1;
            continue;
        };
        let cod = o
            .payment_method_id
            .and_then(|id| m.payment_method(id))
            .is_some_and(|pm| pm.code == "cod");
        let mut said: Vec<String> = Vec::new();
        let mut written = 0;
        // 代引 is collected once: on the first package written.
        let mut collect = cod;
        for s in o.effective_shipments() {
            if s.status == ShipmentStatus::Shipped {
                continue;
            }
            let carrier = o.shipment_carrier_id(&s).and_then(|id| m.carrier(id));
            if let Some(c) = carrier
                && c.code != carrier_code
            {
                said.push(format!(
                    "出荷{}は配送業者が{}のため出力していません",
                    s.number, c.name
                ));
                continue;
            }
            let parcel = Parcel {
                order: &o,
                shipment: &s,
                cash_on_delivery: collect,
            };
            if cod && !collect {
                said.push(format!(
                    "出荷{}は発払い（代引は最初の荷物で集金します）",
                    s.number
                ));
            }
            collect = false;
            let (cells, adjustments) =
                line(cx.format, &parcel, &cx.settings, &cx.shop_name, cx.today);
            said.extend(adjustments.iter().map(|a| a.describe()));
            text.push_str(&csv_line(&cells));
            written += 1;
        }
        if written == 0 && said.is_empty() {
            said.push("発送済のため出力していません".into());
        }
        if !said.is_empty() {
            notes.push((seq, said.join("。")));
        }
        if written > 0 {
            items.push((seq, o.id, status));
        } else {
            unwritten += 1;
        }
    }
    Built {
        bytes: encode_cp932(&text),
        items,
        unwritten,
        notes,
    }
}

impl Store {
    /// The job's orders after `after`, with the masters of the same snapshot.
    async fn label_batch(
        &self,
        job_id: i64,
        after: i64,
    ) -> Result<(LabelBatch, Arc<Snapshot>), StoreError> {
        let mut tx = self.begin_read().await?;
        let rows = crate::orders::load_job_orders_for_labels(&mut tx, job_id, after, BATCH).await?;
        let snapshot = self.masters_in(&mut tx).await?;
        tx.commit().await?;
        Ok((rows, snapshot))
    }

    /// Writes the file: while one batch's lines are built (on a blocking
    /// thread), the next batch is read, so the database and the encoder work
    /// at once.
    async fn export_carrier_file(
        &self,
        job: &Job,
        p: &CarrierExport,
        token: &str,
    ) -> Result<(), Stop> {
        let settings = self.shipping_settings().await?;
        // The settings may have been emptied since the job was registered.
        settings
            .check_for(p.carrier_format)
            .map_err(|e| Stop::Failed(e.messages()))?;
        let shop = self.shop_settings().await?;
        sqlx::query("DELETE FROM job_files WHERE job_id = $1")
            .bind(job.id)
            .execute(&self.pool)
            .await?;
        let mut parts = Parts {
            job_id: job.id,
            next: 0,
            buf: encode_cp932(&csv_line(
                &header(p.carrier_format)
                    .iter()
                    .map(|h| h.to_string())
                    .collect::<Vec<_>>(),
            )),
        };
        let today = self.clock.today();
        let cx = Arc::new(LabelContext {
            format: p.carrier_format,
            settings,
            shop_name: shop.name,
            today,
        });
        let prefetch = |after: i64| {
            let store = self.clone();
            let job_id = job.id;
            tokio::spawn(async move { store.label_batch(job_id, after).await })
        };
        // Two batches read ahead (items are numbered 1..=total).
        let mut ahead = std::collections::VecDeque::new();
        let mut next_after = 0i64;
        for _ in 0..2 {
            if next_after < job.total {
                ahead.push_back(prefetch(next_after));
                next_after += BATCH;
            }
        }
        while let Some(handle) = ahead.pop_front() {
            if next_after < job.total {
                ahead.push_back(prefetch(next_after));
                next_after += BATCH;
            }
            let (rows, snapshot) = handle.await.map_err(|e| {
                Stop::Failed(format!("送り状データの読み込みが中断されました: {e}"))
            })??;
            if rows.is_empty() {
                continue;
            }
            let cx = cx.clone();
            let built = tokio::task::spawn_blocking(move || build(rows, &snapshot.masters, &cx))
                .await
                .map_err(|e| Stop::Failed(format!("送り状データの作成が中断されました: {e}")))?;
            parts.buf.extend(built.bytes);
            if parts.buf.len() >= PART_BYTES {
                parts.flush(self, token).await?;
            }
            if p.shipping_list {
                // Only orders a line was written for become 出力済.
                self.mark_exported(
                    job,
                    true,
                    token,
                    &built.items,
                    &built.notes,
                    &today.to_string(),
                )
                .await?;
                let written: std::collections::HashSet<i64> =
                    built.items.iter().map(|(seq, _, _)| *seq).collect();
                let left_out: Vec<(i64, String)> = built
                    .notes
                    .into_iter()
                    .filter(|(seq, _)| !written.contains(seq))
                    .collect();
                self.note_exported(job, token, built.unwritten, &left_out)
                    .await?;
            } else {
                // Items without a note are ok once the job completes.
                self.note_exported(
                    job,
                    token,
                    built.items.len() as i64 + built.unwritten,
                    &built.notes,
                )
                .await?;
            }
        }
        parts.flush(self, token).await?;
        let name = format!(
            "{}_{}_{}.csv",
            p.carrier_format.code(),
            job.id,
            today.strftime("%Y%m%d")
        );
        self.finish_export(job, token, &name, "text/csv; charset=Shift_JIS")
            .await
    }
}
