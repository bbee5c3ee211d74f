//! The kinds of job (一括処理), one file each, and the registry the queue
//! looks them up in. A new kind: its file here, and one line in [`KINDS`].

mod blacklist_rescan;
mod bulk_mail;
mod bulk_update;
mod carrier_export;
mod csv_export;
mod dunning;
mod file_import;
mod payment_change;
mod pdf_export;

pub use blacklist_rescan::Rescan;
pub use pdf_export::MAX_PDF_ORDERS;

use super::kind::Kind;
use crate::StoreError;
use juchu_domain::job::JobKind;

/// Every kind the queue runs.
static KINDS: &[&dyn Kind] = &[
    &bulk_update::BulkUpdateKind,
    &csv_export::CsvExportKind,
    &pdf_export::PdfExportKind,
    &dunning::DunningKind,
    &bulk_mail::BulkMailKind,
    &payment_change::PaymentChangeKind,
    &blacklist_rescan::BlacklistRescanKind,
    &file_import::ShipmentImportKind,
    &file_import::PaymentImportKind,
    &carrier_export::CarrierExportKind,
];

/// What `kind` does; an error (not a panic) for a kind this version does not run.
pub(crate) fn of(kind: JobKind) -> Result<&'static dyn Kind, StoreError> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.kind() == kind)
        .ok_or_else(|| {
            StoreError::Other(format!(
                "{}はこのバージョンでは実行できません",
                kind.label()
            ))
        })
}

/// The stored codes of the kinds that write a file (their one chunk is claimed
/// under a lease by the export runner, never by the chunk runner).
pub(crate) fn file_kind_codes() -> Vec<&'static str> {
    KINDS
        .iter()
        .filter(|k| k.writes_file())
        .map(|k| k.kind().code())
        .collect()
}

/// The stored codes of the kinds whose items are not marked one by one: once
/// the job is complete, an item without a note of its own is ok (a CSV export
/// writes its file as a whole; marking a million items would double its time).
pub(crate) fn unmarked_kind_codes() -> Vec<&'static str> {
    KINDS
        .iter()
        .filter(|k| !k.marks_items())
        .map(|k| k.kind().code())
        .collect()
}

/// `'a', 'b'` for an `IN (…)` of stored codes (our own constants, never user
/// text); `NULL` when there are none, which matches nothing.
pub(crate) fn sql_list(codes: Vec<&'static str>) -> String {
    if codes.is_empty() {
        return "NULL".into();
    }
    codes
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once() {
        for kind in JobKind::ALL {
            assert_eq!(
                KINDS.iter().filter(|k| k.kind() == kind).count(),
                1,
                "{kind:?}"
            );
        }
    }
}
