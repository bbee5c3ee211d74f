//! 出荷実績インポート, the standard format: reading the shop's file and
//! deciding, row by row, what it would change — before anything changes.
//!
//! Forgiving where shops need it: UTF-8 (with or without BOM) or CP932,
//! detected; CRLF or LF; header names rather than positions; a blank cell means
//! "unchanged", never "erase". Strict where customers would suffer: a number
//! that is not the carrier's (mistyped, or damaged by Excel), an order shipped
//! with another number, an unknown order — refused per row, with the reason.
//! The same file twice changes nothing the second time (every row 変更なし).

use crate::error::FieldErrors;
use crate::masters::Masters;
use crate::order::Order;
use crate::patch::OrderPatch;
use crate::status::ShipmentStatus;
use crate::tracking::{KnownCarrier, validate};

/// How the file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEncoding {
    /// UTF-8 when the bytes are valid UTF-8, else CP932 (Shift_JIS as Excel writes it).
    Detect,
    Utf8,
    Cp932,
}

/// One data row of the file (`line`: the file's line number, the header is 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentRow {
    pub line: usize,
    pub order_number: String,
    pub tracking_number: String,
    pub carrier: String,
    pub shipment_status: String,
    pub shipped_at: String,
}

/// What a row would do.
#[derive(Debug, Clone)]
pub enum RowPlan {
    /// The change to apply through the pipeline, and what it says.
    Change(Box<OrderPatch>, String),
    /// Everything in the row is already so.
    Unchanged,
    /// Not applied, and why.
    Refused(String),
}

impl RowPlan {
    /// 結果 in the preview and the result CSV.
    pub fn outcome(&self) -> &'static str {
        match self {
            RowPlan::Change(..) => "変更",
            RowPlan::Unchanged => "変更なし",
            RowPlan::Refused(_) => "エラー",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            RowPlan::Change(_, m) | RowPlan::Refused(m) => m,
            RowPlan::Unchanged => "",
        }
    }
}

/// The file as text: BOM removed, decoded as asked. CP932 bytes that do not
/// decode are an error naming the line, never replaced silently.
pub fn decode(bytes: &[u8], encoding: FileEncoding) -> Result<String, FieldErrors> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let utf8 = std::str::from_utf8(bytes);
    match (encoding, utf8) {
        (FileEncoding::Utf8 | FileEncoding::Detect, Ok(s)) => Ok(s.to_string()),
        (FileEncoding::Utf8, Err(e)) => Err(FieldErrors::single(
            "file",
            "invalid_encoding",
            format!(
                "UTF-8 として読めません（{}行目）。文字コードに Shift_JIS を選んでください",
                line_of(bytes, e.valid_up_to())
            ),
        )),
        (FileEncoding::Cp932 | FileEncoding::Detect, _) => {
            let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(bytes);
            if bad {
                let first_bad = text.find('\u{FFFD}').unwrap_or(0);
                let line = text[..first_bad].matches('\n').count() + 1;
                return Err(FieldErrors::single(
                    "file",
                    "invalid_encoding",
                    format!("Shift_JIS としても UTF-8 としても読めません（{line}行目）"),
                ));
            }
            Ok(text.into_owned())
        }
    }
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Header names of the standard format (受注番号 and 配送伝票番号 required).
const ORDER_NUMBER: &str = "受注番号";
const TRACKING: &str = "配送伝票番号";
const CARRIER: &str = "配送業者";
const STATUS: &str = "発送状況";
const SHIPPED_AT: &str = "発送完了日";

/// Reads the standard format. A missing required column is an error naming
/// it; a row with a different number of cells names its line.
pub fn read_standard(text: &str) -> Result<Vec<ShipmentRow>, FieldErrors> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| FieldErrors::single("file", "invalid_csv", format!("1行目: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let mut e = FieldErrors::default();
    for required in [ORDER_NUMBER, TRACKING] {
        if col(required).is_none() {
            e.add(
                "file",
                "missing_column",
                format!("1行目に「{required}」の列がありません"),
            );
        }
    }
    e.into_result()?;
    let (order, tracking) = (col(ORDER_NUMBER), col(TRACKING));
    let (carrier, status, shipped) = (col(CARRIER), col(STATUS), col(SHIPPED_AT));
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|err| {
            FieldErrors::single("file", "invalid_csv", format!("{line}行目: {err}"))
        })?;
        if record.len() != headers.len() {
            return Err(FieldErrors::single(
                "file",
                "invalid_csv",
                format!(
                    "{line}行目: 列の数が{}です（見出しは{}列）",
                    record.len(),
                    headers.len()
                ),
            ));
        }
        let cell = |c: Option<usize>| {
            c.and_then(|c| record.get(c))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let row = ShipmentRow {
            line,
            order_number: cell(order),
            tracking_number: cell(tracking),
            carrier: cell(carrier),
            shipment_status: cell(status),
            shipped_at: cell(shipped),
        };
        // Blank lines at the end of an Excel file are no rows.
        if [&row.order_number, &row.tracking_number, &row.carrier]
            .iter()
            .all(|v| v.is_empty())
        {
            continue;
        }
        rows.push(row);
    }
    Ok(rows)
}

/// What `row` would change on `order` (`None`: no such order). Without a
/// 発送状況 cell the shipment becomes 発送済 with today's date — that is what
/// the first number does in the pipeline anyway.
pub fn plan_row(row: &ShipmentRow, order: Option<&Order>, m: &Masters) -> RowPlan {
    let Some(order) = order else {
        return RowPlan::Refused(if row.order_number.is_empty() {
            "受注番号が空です".into()
        } else {
            format!("受注番号「{}」の受注はありません", row.order_number)
        });
    };
    let carrier_id = if row.carrier.is_empty() {
        order.carrier_id
    } else {
        match m.carrier_by_key(&row.carrier) {
            Some(c) => Some(c.id),
            None => return RowPlan::Refused(format!("配送業者「{}」はありません", row.carrier)),
        }
    };
    let known = carrier_id
        .and_then(|id| m.carrier(id))
        .and_then(|c| KnownCarrier::for_code(&c.code));
    let mut patch = OrderPatch::default();
    let mut said = Vec::new();
    if !row.tracking_number.is_empty() {
        let number = match validate(known, &row.tracking_number, TRACKING) {
            Ok(n) => n,
            Err(e) => {
                return RowPlan::Refused(
                    e.0.first().map(|f| f.message.clone()).unwrap_or_default(),
                );
            }
        };
        match order.tracking_number.as_deref() {
            Some(have) if have == number => {}
            Some(have) if order.shipment_status == ShipmentStatus::Shipped => {
                return RowPlan::Refused(format!(
                    "既に別の配送伝票番号（{have}）で発送済です（訂正は受注の画面から）"
                ));
            }
            _ => {
                patch.tracking_number = Some(Some(number.clone()));
                said.push(format!("配送伝票番号 {number}"));
            }
        }
    }
    if carrier_id != order.carrier_id && !row.carrier.is_empty() {
        patch.carrier = Some(Some(row.carrier.clone()));
        said.push(format!("配送業者 {}", row.carrier));
    }
    if !row.shipment_status.is_empty() {
        match ShipmentStatus::parse(&row.shipment_status) {
            Some(s) if s == order.shipment_status => {}
            Some(s) => {
                patch.shipment_status = Some(s.label().into());
                said.push(format!("発送状況 {}", s.label()));
            }
            None => {
                return RowPlan::Refused(format!(
                    "発送状況「{}」はありません（未発送・発送指示・発送済）",
                    row.shipment_status
                ));
            }
        }
    }
    if !row.shipped_at.is_empty() {
        match crate::time::parse_date(&row.shipped_at) {
            Ok(d) if order.shipped_at == Some(d) => {}
            Ok(d) => {
                patch.shipped_at = Some(Some(d.to_string()));
                said.push(format!("発送完了日 {d}"));
            }
            Err(why) => return RowPlan::Refused(format!("発送完了日: {why}")),
        }
    }
    if said.is_empty() {
        RowPlan::Unchanged
    } else {
        RowPlan::Change(Box::new(patch), said.join("、"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{masters, new_order, products};
    use crate::order::{OrderContext, build_order};
    use crate::status::RoundingMode;

    fn order() -> Order {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let mut o =
            build_order(new_order(), &ctx, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap();
        o.order_number = "1001".into();
        o
    }

    #[test]
    fn files_decode_from_utf8_bom_and_cp932() {
        let text = "受注番号,配送伝票番号\r\n1001,1234-5678-9013\r\n";
        let bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(decode(&bom, FileEncoding::Detect).unwrap(), text);
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        assert_eq!(decode(&sjis, FileEncoding::Detect).unwrap(), text);
        assert_eq!(decode(&sjis, FileEncoding::Cp932).unwrap(), text);
        let e = decode(&sjis, FileEncoding::Utf8).unwrap_err();
        assert!(e.0[0].message.contains("Shift_JIS"), "{e}");
    }

    #[test]
    fn the_standard_format_reads_by_header_and_names_lines() {
        let rows = read_standard(
            "配送業者,受注番号,配送伝票番号,メモ\n,1001,1234-5678-9013,x\nヤマト運輸,1002,,\n,,,\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2, "the blank line is no row");
        assert_eq!((rows[0].line, rows[0].order_number.as_str()), (2, "1001"));
        assert_eq!(rows[1].carrier, "ヤマト運輸");
        let e = read_standard("受注番号,伝票\n1001,1\n").unwrap_err();
        assert!(e.0[0].message.contains("配送伝票番号"), "{e}");
        let e = read_standard("受注番号,配送伝票番号\n1001,1,extra\n").unwrap_err();
        assert!(e.0[0].message.starts_with("2行目"), "{e}");
    }

    #[test]
    fn rows_plan_changes_refusals_and_no_change() {
        let m = masters();
        let o = order();
        let row = |t: &str| ShipmentRow {
            line: 2,
            order_number: "1001".into(),
            tracking_number: t.into(),
            carrier: String::new(),
            shipment_status: String::new(),
            shipped_at: String::new(),
        };
        let plan = plan_row(&row("1234-5678-9013"), Some(&o), &m);
        let RowPlan::Change(patch, said) = &plan else {
            panic!("{plan:?}")
        };
        assert_eq!(patch.tracking_number, Some(Some("123456789013".into())));
        assert!(said.contains("123456789013"));
        // A mistyped or Excel-damaged number, an unknown order: refused.
        for bad in ["1234-5678-9012", "1.23457E+11", "23456789013"] {
            assert!(
                matches!(plan_row(&row(bad), Some(&o), &m), RowPlan::Refused(_)),
                "{bad}"
            );
        }
        assert!(
            matches!(plan_row(&row("1234-5678-9013"), None, &m), RowPlan::Refused(m) if m.contains("1001"))
        );
        // The same file again: nothing to change. A blank cell changes nothing.
        let mut shipped = o.clone();
        shipped.tracking_number = Some("123456789013".into());
        shipped.shipment_status = ShipmentStatus::Shipped;
        let again = plan_row(&row("1234-5678-9013"), Some(&shipped), &m);
        assert!(matches!(again, RowPlan::Unchanged), "{again:?}");
        assert_eq!(again.outcome(), "変更なし");
        let blank = plan_row(&row(""), Some(&shipped), &m);
        assert!(matches!(blank, RowPlan::Unchanged), "{blank:?}");
        // Shipped with another number: refused, the number shown.
        let plan = plan_row(&row("4444-5555-6661"), Some(&shipped), &m);
        assert!(
            matches!(&plan, RowPlan::Refused(m) if m.contains("123456789013")),
            "{plan:?}"
        );
        assert_eq!(plan.outcome(), "エラー");
    }
}
