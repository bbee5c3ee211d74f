//! PDF一括出力 (帳票): 納品書, 請求書 or 領収書 for up to
//! [`MAX_PDF_ORDERS`] orders in one PDF, in the shop's layout (帳票管理).

use crate::StoreError;
use crate::db::Store;
use crate::jobs::Job;
use crate::jobs::export::Stop;
use crate::jobs::kind::*;
use juchu_domain::FieldErrors;
use juchu_domain::job::{JobKind, JobParams};
use std::future::Future;
use std::pin::Pin;

/// Orders one PDF一括出力 may hold: typst lays the whole document out in
/// memory, so larger selections are refused.
pub const MAX_PDF_ORDERS: i64 = 1000;

pub(crate) struct PdfExportKind;

impl Kind for PdfExportKind {
    fn kind(&self) -> JobKind {
        JobKind::PdfExport
    }

    fn writes_file(&self) -> bool {
        true
    }

    fn max_orders(&self) -> Option<i64> {
        Some(MAX_PDF_ORDERS)
    }

    fn check<'a>(&'a self, store: &'a Store, p: &'a JobParams) -> KindFuture<'a, ()> {
        Box::pin(async move {
            let JobParams::PdfExport(p) = p else {
                return mismatch(JobKind::PdfExport);
            };
            if let Err(why) = juchu_docs::DocumentFont::find() {
                return Err(FieldErrors::single("kind", "no_font", why).into());
            }
            if let Some(id) = p.format_id {
                let format = store.document_format(id).await.map_err(|e| match e {
                    StoreError::NotFound(_) => FieldErrors::single(
                        "params.format_id",
                        "unknown",
                        format!("帳票フォーマット {id} はありません"),
                    )
                    .into(),
                    e => e,
                })?;
                if format.kind != p.document {
                    return Err(FieldErrors::single(
                        "params.format_id",
                        "other_document",
                        format!(
                            "帳票フォーマット「{}」は{}用です（{}を選んでいます）",
                            format.name,
                            format.kind.label(),
                            p.document.label()
                        ),
                    )
                    .into());
                }
            }
            if p.document.is_qualified_invoice()
                && store.shop_settings().await?.registration_number.is_empty()
            {
                return Err(FieldErrors::single(
                    "params.document",
                    "no_registration_number",
                    format!(
                        "{}（適格請求書）には登録番号（T+13桁）が必要です。ショップ情報で設定してください",
                        p.document.label()
                    ),
                )
                .into());
            }
            Ok(())
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
            match params {
                JobParams::PdfExport(p) => store.export_pdf(job, p, token).await,
                _ => Err(Stop::Failed("PDF一括出力のパラメータではありません".into())),
            }
        })
    }
}
