//! Files of jobs, shared by the API and the admin UI: a job's result as a
//! streamed download, a CSV format read from a definition file, and what an
//! uploaded import file may be (its size, its encoding).

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use juchu_domain::FieldErrors;
use juchu_domain::csv_format::{CsvFormat, Encoding, RowPer, Unmappable};
use juchu_domain::shipment_import::FileEncoding;
use juchu_store::{Store, StoreError};
use std::collections::HashMap;

/// The result file of a finished job as a streamed response: an export's file,
/// or the per-order result (CSV, UTF-8 with BOM: 受注番号,結果,内容).
pub(crate) async fn result_response(store: &Store, id: i64) -> Result<Response, StoreError> {
    let job = store.job(id).await?;
    if job.purged_at.is_some() {
        return Err(StoreError::Gone(format!(
            "ジョブ #{id} の結果は保存期間を過ぎたため削除されました"
        )));
    }
    if !job.status.is_finished() {
        return Err(StoreError::Conflict {
            field: None,
            message: format!(
                "ジョブ #{id} は{}です。終わってからダウンロードしてください",
                job.status.label()
            ),
        });
    }
    let exported =
        !job.result_name.is_empty() && job.status == juchu_domain::job::JobStatus::Completed;
    let (name, content_type) = if exported {
        (job.result_name.clone(), job.result_type.clone())
    } else {
        (
            format!("job_{id}_result.csv"),
            "text/csv; charset=UTF-8".to_string(),
        )
    };
    let store = store.clone();
    // (part or last seq, whether the header is written, done)
    let stream =
        futures_util::stream::unfold((0i64, false, false), move |(cursor, started, done)| {
            let store = store.clone();
            async move {
                if done {
                    return None;
                }
                if exported {
                    return match store.job_file_part(id, cursor).await {
                        Ok(Some(bytes)) => Some((
                            Ok::<_, std::io::Error>(Bytes::from(bytes)),
                            (cursor + 1, true, false),
                        )),
                        Ok(None) => None,
                        Err(e) => Some((
                            Err(std::io::Error::other(e.to_string())),
                            (cursor, true, true),
                        )),
                    };
                }
                let mut out = Vec::new();
                if !started {
                    out.extend_from_slice(b"\xef\xbb\xbf");
                    out.extend(
                        juchu_domain::csv_format::record_line(&[
                            "受注番号".into(),
                            "結果".into(),
                            "内容".into(),
                        ])
                        .into_bytes(),
                    );
                }
                match store.job_items(id, cursor, 2000).await {
                    Ok(items) if items.is_empty() && started => None,
                    Ok(items) => {
                        let next = items.last().map_or(cursor, |i| i.seq);
                        let finished = items.is_empty();
                        for i in items {
                            let outcome = match i.status.as_str() {
                                "ok" => "成功",
                                "failed" => "失敗",
                                "skipped" => "対象外",
                                _ => "未実行",
                            };
                            let cells = [
                                juchu_domain::csv_format::neutralise(i.order_number),
                                outcome.to_string(),
                                juchu_domain::csv_format::neutralise(i.message),
                            ];
                            out.extend(juchu_domain::csv_format::record_line(&cells).into_bytes());
                        }
                        Some((Ok(Bytes::from(out)), (next, true, finished)))
                    }
                    Err(e) => Some((
                        Err(std::io::Error::other(e.to_string())),
                        (cursor, true, true),
                    )),
                }
            }
        });
    let extension = name.rsplit_once('.').map_or("csv", |(_, e)| e);
    let extension = if extension.chars().all(|c| c.is_ascii_alphanumeric()) {
        extension
    } else {
        "csv"
    };
    let disposition = format!(
        "attachment; filename=\"job_{id}.{extension}\"; filename*=UTF-8''{}",
        percent_encode(&name)
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// A format from its options (`name`, `row_per`, `encoding`, `unmappable`)
/// and a definition file.
pub(crate) fn format_from_definition(
    q: &HashMap<String, String>,
    body: &[u8],
) -> Result<CsvFormat, StoreError> {
    let option = |k: &str| -> Result<serde_json::Value, StoreError> {
        Ok(match q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            Some(v) => serde_json::Value::String(v.to_string()),
            None => serde_json::Value::Null,
        })
    };
    let parse = |k: &'static str| -> Result<serde_json::Value, StoreError> { option(k) };
    let mut e = FieldErrors::default();
    let row_per: RowPer = match parse("row_per")? {
        serde_json::Value::Null => RowPer::default(),
        v => serde_json::from_value(v).unwrap_or_else(|_| {
            e.add("row_per", "unknown", "row_per は order か item です");
            RowPer::default()
        }),
    };
    let encoding: Encoding = match parse("encoding")? {
        serde_json::Value::Null => Encoding::default(),
        v => serde_json::from_value(v).unwrap_or_else(|_| {
            e.add(
                "encoding",
                "unknown",
                "encoding は utf8, utf8_bom, cp932 のいずれかです",
            );
            Encoding::default()
        }),
    };
    let unmappable: Unmappable = match parse("unmappable")? {
        serde_json::Value::Null => Unmappable::default(),
        v => serde_json::from_value(v).unwrap_or_else(|_| {
            e.add(
                "unmappable",
                "unknown",
                "unmappable は error か replace です",
            );
            Unmappable::default()
        }),
    };
    e.into_result()?;
    let columns = juchu_domain::csv_format::columns_from_definition(&definition_text(body)?)?;
    Ok(CsvFormat {
        id: 0,
        name: q.get("name").cloned().unwrap_or_default(),
        row_per,
        encoding,
        unmappable,
        columns,
    })
}

/// A definition file's text: UTF-8 (with or without BOM), else CP932 as
/// Excel saves it. Bytes that are neither are refused with their line, never
/// stored as U+FFFD.
pub(crate) fn definition_text(bytes: &[u8]) -> Result<String, FieldErrors> {
    juchu_domain::shipment_import::decode(bytes, FileEncoding::Detect)
}

/// RFC 5987 encoding of a file name.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The largest import file accepted (a 100,000-row carrier file is ~20 MB).
pub const MAX_UPLOAD_BYTES: usize = 64 << 20;

/// The encoding a form names.
pub(crate) fn encoding_of(v: &str) -> Result<FileEncoding, FieldErrors> {
    match v {
        "auto" | "" => Ok(FileEncoding::Detect),
        "utf-8" | "utf8" => Ok(FileEncoding::Utf8),
        "shift_jis" | "sjis" | "cp932" => Ok(FileEncoding::Cp932),
        other => Err(FieldErrors::single(
            "encoding",
            "invalid",
            format!("文字コード「{other}」はありません（auto / utf-8 / shift_jis）"),
        )),
    }
}
