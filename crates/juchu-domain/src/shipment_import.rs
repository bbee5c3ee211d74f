//! 出荷実績インポート: reading the shop's file (the standard format, a
//! carrier's result file, or a shop's own header mapping) and deciding, per
//! package, what it would change — before anything changes. Rows naming one
//! package (by 出荷ID / お客様管理番号, or one order of one package) are its
//! parcels (個数口): every number is kept.
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
use crate::shipment_change::ShipmentPatch;
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
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ShipmentRow {
    pub line: usize,
    pub order_number: String,
    /// 出荷ID / お客様管理番号: a shipment id (`1001-2`) or an order number.
    #[serde(default)]
    pub shipment_id: String,
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
/// decode are an error naming the line, never replaced silently; a NUL
/// character is refused with its line and column.
pub fn decode(bytes: &[u8], encoding: FileEncoding) -> Result<String, FieldErrors> {
    let text = decode_text(bytes, encoding)?;
    match crate::text::nul_position(&text) {
        None => Ok(text),
        Some((line, column)) => Err(FieldErrors::single(
            "file",
            "nul_character",
            format!(
                "{line}行目 {column}文字目に NUL 文字（U+0000）があります。ファイルを確認してください"
            ),
        )),
    }
}

fn decode_text(bytes: &[u8], encoding: FileEncoding) -> Result<String, FieldErrors> {
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

/// One row's result, as the preview and the result CSV show it (行, 受注番号,
/// 結果, 内容).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportRowResult {
    pub row: usize,
    pub order_number: String,
    /// 変更 / 変更なし / エラー
    pub outcome: String,
    pub message: String,
}

/// The per-row result as CSV (UTF-8 with BOM, CRLF: Excel opens it as is;
/// cells a spreadsheet would run as formulas are neutralised).
pub fn result_csv(rows: &[ImportRowResult]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    let _ = w.write_record(["行", "受注番号", "結果", "内容"]);
    for r in rows {
        let _ = w.write_record([
            r.row.to_string(),
            crate::csv_format::neutralise(r.order_number.clone()),
            r.outcome.clone(),
            crate::csv_format::neutralise(r.message.clone()),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// Which columns of a file mean what, by header name (several names a
/// carrier's software is known to write for one column are all accepted).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Layout {
    pub order_number: Vec<String>,
    pub shipment_id: Vec<String>,
    pub tracking_number: Vec<String>,
    pub carrier: Vec<String>,
    pub shipment_status: Vec<String>,
    pub shipped_at: Vec<String>,
    /// The carrier every row of the file is from (a carrier's own file), by
    /// carrier master code; "" when a column says so or the order's is used.
    pub carrier_code: String,
    /// Positions (from 0) of key, tracking number and ship date for the
    /// carrier's file written without a header row.
    #[serde(default)]
    pub headerless: Option<(usize, usize, usize)>,
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The built-in import formats, by the name the API takes.
pub const FORMATS: &[(&str, &str)] = &[
    ("standard", "標準（受注番号・配送伝票番号）"),
    ("yamato_b2", "ヤマト B2クラウド 発行済データ"),
    ("sagawa_ehiden3", "佐川 e飛伝Ⅲ 出荷実績"),
    ("japanpost_yupri", "日本郵便 ゆうプリR 発送済データ"),
];

impl Layout {
    /// A built-in format by name.
    pub fn builtin(name: &str) -> Option<Layout> {
        match name {
            "standard" => Some(Layout {
                order_number: names(&[ORDER_NUMBER]),
                shipment_id: names(&[SHIPMENT_ID]),
                tracking_number: names(&[TRACKING]),
                carrier: names(&[CARRIER]),
                shipment_status: names(&[STATUS]),
                shipped_at: names(&[SHIPPED_AT]),
                ..Default::default()
            }),
            // B2クラウド's 発行済データ is its 入出力 layout with 伝票番号 (col 4)
            // filled; お客様管理番号 (col 1) is what our carrier file put there.
            "yamato_b2" => Some(Layout {
                shipment_id: names(&["お客様管理番号"]),
                tracking_number: names(&["伝票番号", "送り状番号"]),
                shipped_at: names(&["出荷予定日", "出荷日"]),
                carrier_code: "yamato".into(),
                headerless: Some((0, 3, 4)),
                ..Default::default()
            }),
            // e飛伝Ⅲ's 出荷実績: the layout is not public (CARRIERS.md), so it is
            // read by the header names its files are known to carry.
            "sagawa_ehiden3" => Some(Layout {
                shipment_id: names(&["お客様管理番号", "お客様管理ナンバー"]),
                tracking_number: names(&[
                    "お問い合せ送り状No.",
                    "お問い合せ送り状No",
                    "お問合せ送り状No.",
                    "お問い合わせ送り状No.",
                    "送り状番号",
                ]),
                shipped_at: names(&["出荷日"]),
                carrier_code: "sagawa".into(),
                ..Default::default()
            }),
            // ゆうプリR writes what the shop's export filter says; the filter juchu
            // ships names these columns.
            "japanpost_yupri" => Some(Layout {
                shipment_id: names(&["お客様管理番号", "お客様側管理番号"]),
                tracking_number: names(&[
                    "お問い合わせ番号",
                    "お問合せ番号",
                    "問い合わせ番号",
                    "追跡番号",
                ]),
                shipped_at: names(&["発送予定日", "差出予定日", "発送日"]),
                carrier_code: "japanpost".into(),
                ..Default::default()
            }),
            _ => None,
        }
    }
}

/// Header names of the standard format (受注番号 and 配送伝票番号 required).
const ORDER_NUMBER: &str = "受注番号";
const SHIPMENT_ID: &str = "出荷ID";
const TRACKING: &str = "配送伝票番号";
const CARRIER: &str = "配送業者";
const STATUS: &str = "発送状況";
const SHIPPED_AT: &str = "発送完了日";

/// Reads the standard format.
pub fn read_standard(text: &str) -> Result<Vec<ShipmentRow>, FieldErrors> {
    read(text, &Layout::builtin("standard").unwrap_or_default())
}

/// Reads a file by `layout`. A missing required column is an error naming
/// it; a row with a different number of cells names its line.
pub fn read(text: &str, layout: &Layout) -> Result<Vec<ShipmentRow>, FieldErrors> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let first: Vec<String> = match records.next() {
        None => return Err(FieldErrors::single("file", "empty", "ファイルが空です")),
        Some(r) => r
            .map_err(|e| FieldErrors::single("file", "invalid_csv", format!("1行目: {e}")))?
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect(),
    };
    let col = |alternatives: &[String]| {
        alternatives
            .iter()
            .find_map(|name| first.iter().position(|h| h == name))
    };
    let (mut key_order, mut key_ship, mut tracking) = (
        col(&layout.order_number),
        col(&layout.shipment_id),
        col(&layout.tracking_number),
    );
    let (carrier, status, mut shipped) = (
        col(&layout.carrier),
        col(&layout.shipment_status),
        col(&layout.shipped_at),
    );
    // A carrier's file without a header row: the first line is data.
    let mut data_from_first = false;
    if key_order.is_none()
        && key_ship.is_none()
        && tracking.is_none()
        && let Some((k, t, d)) = layout.headerless
        && first.len() > t.max(d)
    {
        (key_order, key_ship, tracking, shipped) = (None, Some(k), Some(t), Some(d));
        data_from_first = true;
    }
    let mut e = FieldErrors::default();
    if key_order.is_none() && key_ship.is_none() {
        let mut wanted = layout.order_number.clone();
        wanted.extend(layout.shipment_id.iter().cloned());
        e.add(
            "file",
            "missing_column",
            format!("1行目に「{}」の列がありません", wanted.join("」か「")),
        );
    }
    if tracking.is_none() {
        e.add(
            "file",
            "missing_column",
            format!(
                "1行目に「{}」の列がありません",
                layout.tracking_number.join("」か「")
            ),
        );
    }
    e.into_result()?;
    let width = first.len();
    let mut rows = Vec::new();
    let mut push = |line: usize, cells: &[String]| -> Result<(), FieldErrors> {
        if !data_from_first && cells.len() != width {
            return Err(FieldErrors::single(
                "file",
                "invalid_csv",
                format!(
                    "{line}行目: 列の数が{}です（見出しは{width}列）",
                    cells.len()
                ),
            ));
        }
        let cell = |c: Option<usize>| {
            c.and_then(|c| cells.get(c))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let row = ShipmentRow {
            line,
            order_number: cell(key_order),
            shipment_id: cell(key_ship),
            tracking_number: cell(tracking),
            carrier: cell(carrier),
            shipment_status: cell(status),
            shipped_at: cell(shipped),
        };
        // Blank lines at the end of an Excel file are no rows.
        if [
            &row.order_number,
            &row.shipment_id,
            &row.tracking_number,
            &row.carrier,
        ]
        .iter()
        .all(|v| v.is_empty())
        {
            return Ok(());
        }
        rows.push(row);
        Ok(())
    };
    if data_from_first {
        push(1, &first)?;
    }
    let mut lines = LineCounter::new(text);
    for (i, record) in records.enumerate() {
        let record = record.map_err(|err| {
            let line = err.position().map_or(i + 2, |p| lines.at(p.byte()));
            FieldErrors::single("file", "invalid_csv", format!("{line}行目: {err}"))
        })?;
        // The file's own line (blank lines and quoted line breaks counted).
        let line = record.position().map_or(i + 2, |p| lines.at(p.byte()));
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        push(line, &cells)?;
    }
    Ok(rows)
}

/// Line numbers of byte offsets in a file read front to back (blank lines
/// and line breaks inside quoted cells counted, as the file shows them).
pub(crate) struct LineCounter<'a> {
    text: &'a [u8],
    byte: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        LineCounter {
            text: text.as_bytes(),
            byte: 0,
            line: 1,
        }
    }

    /// The line of `byte` (offsets only grow).
    pub(crate) fn at(&mut self, byte: u64) -> usize {
        let mut to = (byte as usize).min(self.text.len());
        // A record's position is where reading resumed: blank lines before
        // it belong to it.
        while to < self.text.len() && matches!(self.text[to], b'\r' | b'\n') {
            to += 1;
        }
        if to > self.byte {
            self.line += self.text[self.byte..to]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.byte = to;
        }
        self.line
    }
}

/// The key rows are grouped by: rows naming one shipment (or one order) are
/// one package's parcels (個数口).
pub fn group_key(row: &ShipmentRow) -> String {
    if row.shipment_id.is_empty() {
        format!("o:{}", row.order_number)
    } else {
        format!("s:{}", row.shipment_id)
    }
}

/// Rows grouped by [`group_key`], groups in the order of their first row.
pub fn group_rows(rows: Vec<ShipmentRow>) -> Vec<Vec<ShipmentRow>> {
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    let mut groups: Vec<Vec<ShipmentRow>> = Vec::new();
    for row in rows {
        let key = group_key(&row);
        match index.get(&key) {
            Some(&i) => groups[i].push(row),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![row]);
            }
        }
    }
    groups
}

/// Order numbers a row may name (to load before planning).
pub fn lookup_numbers(row: &ShipmentRow) -> Vec<String> {
    let mut out = Vec::new();
    if !row.order_number.is_empty() {
        out.push(row.order_number.clone());
    }
    if !row.shipment_id.is_empty() {
        out.push(row.shipment_id.clone());
        if let Some((n, _)) = crate::shipment::parse_public_id(&row.shipment_id) {
            out.push(n.to_string());
        }
    }
    out
}

/// The order (and package, when named) a row is about: an 出荷ID /
/// お客様管理番号 that is an order number names that order; `1001-2` names
/// package 2 of order 1001.
pub fn resolve<'a>(
    row: &ShipmentRow,
    orders: &'a std::collections::HashMap<String, Order>,
) -> Result<(&'a Order, Option<u32>), String> {
    if row.shipment_id.is_empty() {
        return match orders.get(&row.order_number) {
            Some(o) => Ok((o, None)),
            None if row.order_number.is_empty() => Err("受注番号が空です".into()),
            None => Err(format!(
                "受注番号「{}」の受注はありません",
                row.order_number
            )),
        };
    }
    let as_package = crate::shipment::parse_public_id(&row.shipment_id)
        .and_then(|(n, k)| orders.get(n).map(|o| (o, k)))
        .filter(|(o, k)| o.effective_shipments().iter().any(|p| p.number == *k));
    let as_order = orders
        .get(&row.shipment_id)
        .filter(|_| row.order_number.is_empty() || row.order_number == row.shipment_id);
    match (as_order, as_package) {
        (Some(o), None) => return Ok((o, None)),
        // The row's 受注番号 says which.
        (Some(o), Some(_)) if !row.order_number.is_empty() => return Ok((o, None)),
        (Some(_), Some((o, k))) => {
            return Err(format!(
                "「{}」は受注 {} の出荷{k}とも受注 {} とも読めます。受注番号の列で指定してください",
                row.shipment_id, o.order_number, row.shipment_id
            ));
        }
        _ => {}
    }
    match crate::shipment::parse_public_id(&row.shipment_id)
        .and_then(|(n, k)| orders.get(n).map(|o| (o, k)))
    {
        Some((o, _)) if !row.order_number.is_empty() && row.order_number != o.order_number => {
            Err(format!(
                "受注番号「{}」と出荷ID「{}」が合いません",
                row.order_number, row.shipment_id
            ))
        }
        Some((o, k)) => Ok((o, Some(k))),
        None => Err(format!(
            "出荷ID（お客様管理番号）「{}」の受注はありません",
            row.shipment_id
        )),
    }
}

/// What a group of rows (one package; several rows: its parcels, 個数口)
/// would change. Without a 発送状況 cell the package becomes 発送済 with
/// today's date — what the first number does in the pipeline anyway.
/// `default_carrier`: the file's carrier (a carrier's own file).
pub fn plan_group(
    group: &[ShipmentRow],
    target: Result<(&Order, Option<u32>), String>,
    default_carrier: &str,
    m: &Masters,
) -> RowPlan {
    let (order, package) = match target {
        Ok(t) => t,
        Err(why) => return RowPlan::Refused(why),
    };
    let packages = order.effective_shipments();
    let pkg = match package {
        Some(n) => match packages.iter().find(|p| p.number == n) {
            Some(p) => p,
            None => {
                return RowPlan::Refused(format!(
                    "受注 {} に出荷{n}はありません",
                    order.order_number
                ));
            }
        },
        None if packages.len() == 1 => &packages[0],
        None => {
            return RowPlan::Refused(format!(
                "受注 {} は{}個に分納しています。出荷ID（{}）で出荷を指定してください",
                order.order_number,
                packages.len(),
                crate::shipment::public_id(&order.order_number, 2)
            ));
        }
    };
    let split = packages.len() > 1;
    // A package's rows may disagree: the later row is the later word.
    let last_of = |f: fn(&ShipmentRow) -> &String| {
        group
            .iter()
            .rev()
            .map(f)
            .find(|v| !v.is_empty())
            .cloned()
            .unwrap_or_default()
    };
    let carrier_cell = last_of(|r| &r.carrier);
    let carrier_key = if carrier_cell.is_empty() {
        default_carrier.to_string()
    } else {
        carrier_cell
    };
    let current_carrier = order.shipment_carrier_id(pkg);
    let carrier_id = if carrier_key.is_empty() {
        current_carrier
    } else {
        match m.carrier_by_key(&carrier_key) {
            Some(c) => Some(c.id),
            None => return RowPlan::Refused(format!("配送業者「{carrier_key}」はありません")),
        }
    };
    let known = carrier_id
        .and_then(|id| m.carrier(id))
        .and_then(|c| KnownCarrier::for_code(&c.code));
    let mut numbers: Vec<String> = Vec::new();
    for row in group.iter().filter(|r| !r.tracking_number.is_empty()) {
        match validate(known, &row.tracking_number, TRACKING) {
            Ok(n) => {
                if !numbers.contains(&n) {
                    numbers.push(n)
                }
            }
            Err(e) => {
                let why = e.0.first().map(|f| f.message.clone()).unwrap_or_default();
                return RowPlan::Refused(if group.len() > 1 {
                    format!("{}行目: {why}", row.line)
                } else {
                    why
                });
            }
        }
    }
    let mut change = ShipmentPatch {
        number: pkg.number,
        ..Default::default()
    };
    let mut patch = OrderPatch::default();
    let mut said = Vec::new();
    if carrier_id != current_carrier
        && let Some(c) = carrier_id.and_then(|id| m.carrier(id))
    {
        if split {
            change.carrier = Some(Some(c.code.clone()));
        } else {
            patch.carrier = Some(Some(c.code.clone()));
        }
        said.push(format!("配送業者 {}", c.name));
    }
    let have = &pkg.tracking_numbers;
    if !numbers.is_empty() && !numbers.iter().all(|n| have.contains(n)) {
        // A shipped package takes more parcels (the file repeats its
        // numbers and adds one), never other ones.
        if pkg.status == ShipmentStatus::Shipped
            && !have.is_empty()
            && !have.iter().all(|h| numbers.contains(h))
        {
            return RowPlan::Refused(format!(
                "既に別の配送伝票番号（{}）で発送済です（訂正は受注の画面から）",
                have.join("、")
            ));
        }
        said.push(if numbers.len() > 1 {
            format!(
                "個数口{}個: 配送伝票番号 {}",
                numbers.len(),
                numbers.join("、")
            )
        } else {
            format!("配送伝票番号 {}", numbers[0])
        });
        change.tracking_numbers = Some(numbers.clone());
    }
    let status_cell = last_of(|r| &r.shipment_status);
    // Without a 発送状況 cell the file says the package went out: a package
    // still 未発送 or 発送指示 (dated delivery) becomes 発送済.
    if status_cell.is_empty()
        && pkg.status != ShipmentStatus::Shipped
        && (!numbers.is_empty() || !have.is_empty())
    {
        change.status = Some(ShipmentStatus::Shipped.label().into());
        said.push("発送状況 発送済".into());
    }
    if !status_cell.is_empty() {
        match ShipmentStatus::parse(&status_cell) {
            Some(s) if s == pkg.status => {}
            Some(s) => {
                change.status = Some(s.label().into());
                said.push(format!("発送状況 {}", s.label()));
            }
            None => {
                return RowPlan::Refused(format!(
                    "発送状況「{status_cell}」はありません（未発送・発送指示・発送済）"
                ));
            }
        }
    }
    let shipped_cell = last_of(|r| &r.shipped_at);
    if !shipped_cell.is_empty() {
        match crate::time::parse_date(&shipped_cell) {
            Ok(d) if pkg.shipped_at == Some(d) => {}
            Ok(d) => {
                change.shipped_at = Some(Some(d.to_string()));
                said.push(format!("発送完了日 {d}"));
            }
            Err(why) => return RowPlan::Refused(format!("発送完了日: {why}")),
        }
    }
    if said.is_empty() {
        return RowPlan::Unchanged;
    }
    if split {
        said.insert(0, format!("出荷{}", pkg.number));
    }
    patch.shipments.shipments.push(change);
    RowPlan::Change(Box::new(patch), said.join("、"))
}

/// [`plan_group`] for one row.
pub fn plan_row(row: &ShipmentRow, order: Option<&Order>, m: &Masters) -> RowPlan {
    let target = match order {
        Some(o) => Ok((o, None)),
        None if row.order_number.is_empty() => Err("受注番号が空です".to_string()),
        None => Err(format!(
            "受注番号「{}」の受注はありません",
            row.order_number
        )),
    };
    plan_group(std::slice::from_ref(row), target, "", m)
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
            shipment_id: String::new(),
            carrier: String::new(),
            shipment_status: String::new(),
            shipped_at: String::new(),
        };
        let plan = plan_row(&row("1234-5678-9013"), Some(&o), &m);
        let RowPlan::Change(patch, said) = &plan else {
            panic!("{plan:?}")
        };
        assert_eq!(
            patch.shipments.shipments[0].tracking_numbers,
            Some(vec!["123456789013".to_string()])
        );
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

    fn row_of(line: usize, id: &str, t: &str) -> ShipmentRow {
        ShipmentRow {
            line,
            shipment_id: id.into(),
            tracking_number: t.into(),
            ..Default::default()
        }
    }

    #[test]
    fn carrier_files_read_by_their_headers_or_positions() {
        let b2 = Layout::builtin("yamato_b2").unwrap();
        let rows = read(
            "お客様管理番号,送り状種類,クール区分,伝票番号,出荷予定日\r\n1001-1,0,,1234-5678-9013,2026/12/06\r\n",
            &b2,
        )
        .unwrap();
        assert_eq!(rows[0].shipment_id, "1001-1");
        assert_eq!(rows[0].tracking_number, "1234-5678-9013");
        assert_eq!(rows[0].shipped_at, "2026/12/06");
        // B2 written without its header row: by position.
        let rows = read(
            "1001-1,0,,123456789013,2026/12/06\r\n1002,0,,123456789024,2026/12/06\r\n",
            &b2,
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[1].shipment_id.as_str()), (1, "1002"));
        let sagawa = Layout::builtin("sagawa_ehiden3").unwrap();
        let rows = read(
            "出荷日,お客様管理番号,お問い合せ送り状No.\n20261206,1001,4000-1111-2225\n",
            &sagawa,
        )
        .unwrap();
        assert_eq!(rows[0].tracking_number, "4000-1111-2225");
        let e = read("番号,伝票\n1,2\n", &sagawa).unwrap_err();
        assert!(e.0[0].message.contains("お客様管理番号"), "{e}");
        assert_eq!(Layout::builtin("nope"), None);
    }

    #[test]
    fn rows_of_one_package_are_its_parcels() {
        let m = masters();
        let mut o = order();
        o.carrier_id = m.carrier_by_key("yamato").map(|c| c.id);
        let mut orders = std::collections::HashMap::new();
        orders.insert(o.order_number.clone(), o.clone());
        let groups = group_rows(vec![
            row_of(2, "1001-1", "1234-5678-9013"),
            row_of(3, "1002-1", "123456789024"),
            row_of(4, "1001-1", "123456789024"),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].len(), 2, "two parcels of 1001-1");
        let plan = plan_group(&groups[0], resolve(&groups[0][0], &orders), "yamato", &m);
        let RowPlan::Change(patch, said) = &plan else {
            panic!("{plan:?}")
        };
        assert_eq!(
            patch.shipments.shipments[0].tracking_numbers.as_deref(),
            Some(&["123456789013".to_string(), "123456789024".to_string()][..])
        );
        assert!(said.contains("個数口2個"), "{said}");
        // An unknown shipment, an order number used as お客様管理番号.
        assert!(resolve(&groups[1][0], &orders).is_err());
        assert_eq!(resolve(&row_of(2, "1001", "x"), &orders).unwrap().1, None);
        assert!(resolve(&row_of(2, "1001-x", "x"), &orders).is_err());
        // One bad parcel refuses the package, naming its line.
        let bad = vec![
            row_of(2, "1001-1", "123456789013"),
            row_of(3, "1001-1", "123456789012"),
        ];
        let plan = plan_group(&bad, resolve(&bad[0], &orders), "yamato", &m);
        assert!(
            matches!(&plan, RowPlan::Refused(m) if m.starts_with("3行目")),
            "{plan:?}"
        );
    }

    #[test]
    fn a_carrier_file_ships_a_package_waiting_as_instructed() {
        let m = masters();
        let mut o = order();
        o.tracking_number = Some("123456789013".into());
        o.shipment_status = ShipmentStatus::Instructed;
        let mut orders = std::collections::HashMap::new();
        orders.insert(o.order_number.clone(), o.clone());
        let rows = vec![row_of(2, "1001-1", "1234-5678-9013")];
        let plan = plan_group(&rows, resolve(&rows[0], &orders), "", &m);
        let RowPlan::Change(patch, said) = &plan else {
            panic!("{plan:?}")
        };
        assert_eq!(
            patch.shipments.shipments[0].status.as_deref(),
            Some("発送済")
        );
        assert!(said.contains("発送済"), "{said}");
        // A shipped package takes one more parcel, never another set.
        let mut shipped = o.clone();
        shipped.shipment_status = ShipmentStatus::Shipped;
        orders.insert(shipped.order_number.clone(), shipped);
        let more = vec![
            row_of(2, "1001-1", "123456789013"),
            row_of(3, "1001-1", "123456789024"),
        ];
        let plan = plan_group(&more, resolve(&more[0], &orders), "", &m);
        assert!(matches!(plan, RowPlan::Change(..)), "{plan:?}");
        let other = vec![row_of(2, "1001-1", "123456789024")];
        let plan = plan_group(&other, resolve(&other[0], &orders), "", &m);
        assert!(matches!(plan, RowPlan::Refused(_)), "{plan:?}");
    }

    #[test]
    fn an_id_that_reads_two_ways_is_refused() {
        let mut orders = std::collections::HashMap::new();
        let mut a = order();
        a.order_number = "1001".into();
        let mut b = order();
        b.order_number = "1001-1".into();
        orders.insert(a.order_number.clone(), a);
        orders.insert(b.order_number.clone(), b);
        let e = resolve(&row_of(2, "1001-1", "x"), &orders).unwrap_err();
        assert!(e.contains("受注番号の列"), "{e}");
        // With the order number given, the row says which.
        let mut r = row_of(2, "1001-1", "x");
        r.order_number = "1001-1".into();
        assert_eq!(resolve(&r, &orders).unwrap().0.order_number, "1001-1");
    }

    #[test]
    fn rows_are_numbered_as_the_file_is() {
        let rows =
            read_standard("受注番号,配送伝票番号\n\n1001,\"12345678\n9013\"\n1002,1\n").unwrap();
        assert_eq!(rows[0].line, 3, "after a blank line");
        assert_eq!(rows[1].line, 5, "after a quoted line break");
    }
}
