//! CSV一括出力: one file in the job's order, in the shop's format (CSV管理).

use crate::StoreError;
use crate::db::Store;
use crate::jobs::Job;
use crate::jobs::export::Stop;
use crate::jobs::kind::*;
use juchu_domain::FieldErrors;
use juchu_domain::job::{JobKind, JobParams};
use std::future::Future;
use std::pin::Pin;

pub(crate) struct CsvExportKind;

impl Kind for CsvExportKind {
    fn kind(&self) -> JobKind {
        JobKind::CsvExport
    }

    fn writes_file(&self) -> bool {
        true
    }

    fn marks_items(&self) -> bool {
        false
    }

    fn check<'a>(&'a self, store: &'a Store, p: &'a JobParams) -> KindFuture<'a, ()> {
        Box::pin(async move {
            let JobParams::CsvExport(p) = p else {
                return mismatch(JobKind::CsvExport);
            };
            store.csv_format(p.format_id).await.map_err(|e| match e {
                StoreError::NotFound(_) => FieldErrors::single(
                    "params.format_id",
                    "unknown",
                    format!("CSVフォーマット {} はありません", p.format_id),
                )
                .into(),
                e => e,
            })?;
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
                JobParams::CsvExport(p) => store.export_csv(job, p, token).await,
                _ => Err(Stop::Failed("CSV一括出力のパラメータではありません".into())),
            }
        })
    }
}
