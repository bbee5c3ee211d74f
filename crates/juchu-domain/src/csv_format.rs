//! CSV管理: shop-defined CSV formats (columns picked from a catalogue of order,
//! item, customer, subscription and shipping fields, ordered and renamed; one
//! row per order or per item), how a cell is written, and the encodings Excel
//! opens (UTF-8, UTF-8 with BOM, Shift_JIS = CP932).
//!
//! CP932 cannot hold every character. Before encoding, the characters whose
//! usual Unicode form differs from what CP932 maps are folded (〜→～, −→－,
//! ¢£¬→￠￡￢, —→―, ‖→∥); what is still not representable is either refused
//! with its row and column, or replaced by 〓 (geta, the customary mark), as
//! the format says — never dropped silently.

use crate::FieldErrors;
use crate::masters::Masters;
use serde::{Deserialize, Serialize};

/// Which record a column reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnGroup {
    Order,
    Billing,
    Shipping,
    Item,
    Customer,
    Subscription,
}

impl ColumnGroup {
    pub fn label(self) -> &'static str {
        match self {
            ColumnGroup::Order => "受注",
            ColumnGroup::Billing => "請求先",
            ColumnGroup::Shipping => "お届け先",
            ColumnGroup::Item => "受注商品",
            ColumnGroup::Customer => "顧客",
            ColumnGroup::Subscription => "定期受注",
        }
    }
}

/// The column catalogue: (key, default header, group).
pub const CATALOGUE: &[(&str, &str, ColumnGroup)] = &[
    ("order_number", "受注番号", ColumnGroup::Order),
    ("ordered_at", "受注日時", ColumnGroup::Order),
    ("handling_status", "対応状況", ColumnGroup::Order),
    ("payment_status", "決済状況", ColumnGroup::Order),
    ("payment_method", "支払方法", ColumnGroup::Order),
    ("carrier", "配送業者", ColumnGroup::Order),
    ("items_total", "商品合計", ColumnGroup::Order),
    ("shipping_fee", "送料", ColumnGroup::Order),
    ("payment_fee", "手数料", ColumnGroup::Order),
    ("discount", "値引き", ColumnGroup::Order),
    ("points_used", "利用ポイント", ColumnGroup::Order),
    ("points_granted", "付与ポイント", ColumnGroup::Order),
    ("total", "合計金額", ColumnGroup::Order),
    ("taxable_standard", "10%対象金額", ColumnGroup::Order),
    ("tax_standard", "10%対象消費税", ColumnGroup::Order),
    ("taxable_reduced", "8%対象金額", ColumnGroup::Order),
    ("tax_reduced", "8%対象消費税", ColumnGroup::Order),
    ("tracking_number", "配送伝票番号", ColumnGroup::Order),
    ("shipment_status", "発送状況", ColumnGroup::Order),
    ("scheduled_ship_date", "発送予定日", ColumnGroup::Order),
    ("shipped_at", "発送完了日", ColumnGroup::Order),
    ("scheduled_delivery_date", "配送予定日", ColumnGroup::Order),
    ("delivery_time_slot", "配送時間帯", ColumnGroup::Order),
    ("delivered_at", "配送完了日", ColumnGroup::Order),
    ("paid_at", "入金日", ColumnGroup::Order),
    ("shipping_list_state", "出荷リスト", ColumnGroup::Order),
    (
        "shipping_list_exported_on",
        "出荷リスト出力日",
        ColumnGroup::Order,
    ),
    ("memo", "受注メモ", ColumnGroup::Order),
    ("labels", "受注ラベル", ColumnGroup::Order),
    ("needs_attention", "要対応", ColumnGroup::Order),
    ("needs_attention_reason", "要対応理由", ColumnGroup::Order),
    ("billing_name", "請求先氏名", ColumnGroup::Billing),
    ("billing_kana", "請求先氏名（カナ）", ColumnGroup::Billing),
    (
        "billing_postal_code",
        "請求先郵便番号",
        ColumnGroup::Billing,
    ),
    ("billing_prefecture", "請求先都道府県", ColumnGroup::Billing),
    ("billing_address1", "請求先住所1", ColumnGroup::Billing),
    ("billing_address2", "請求先住所2", ColumnGroup::Billing),
    ("billing_company_name", "請求先会社名", ColumnGroup::Billing),
    ("billing_department", "請求先部署", ColumnGroup::Billing),
    ("billing_phone", "請求先電話番号", ColumnGroup::Billing),
    (
        "billing_email",
        "請求先メールアドレス",
        ColumnGroup::Billing,
    ),
    ("shipping_name", "お届け先氏名", ColumnGroup::Shipping),
    (
        "shipping_kana",
        "お届け先氏名（カナ）",
        ColumnGroup::Shipping,
    ),
    (
        "shipping_postal_code",
        "お届け先郵便番号",
        ColumnGroup::Shipping,
    ),
    (
        "shipping_prefecture",
        "お届け先都道府県",
        ColumnGroup::Shipping,
    ),
    ("shipping_address1", "お届け先住所1", ColumnGroup::Shipping),
    ("shipping_address2", "お届け先住所2", ColumnGroup::Shipping),
    ("shipping_phone", "お届け先電話番号", ColumnGroup::Shipping),
    (
        "shipping_company_name",
        "お届け先会社名",
        ColumnGroup::Shipping,
    ),
    ("shipping_department", "お届け先部署", ColumnGroup::Shipping),
    ("item_product_code", "商品コード", ColumnGroup::Item),
    ("item_product_name", "商品名", ColumnGroup::Item),
    ("item_unit_price", "単価", ColumnGroup::Item),
    ("item_quantity", "数量", ColumnGroup::Item),
    ("item_tax_rate", "税率", ColumnGroup::Item),
    ("item_amount", "小計", ColumnGroup::Item),
    ("customer_id", "顧客ID", ColumnGroup::Customer),
    ("customer_points", "保有ポイント", ColumnGroup::Customer),
    ("customer_memo", "顧客メモ", ColumnGroup::Customer),
    (
        "customer_blacklisted",
        "ブラックリスト",
        ColumnGroup::Customer,
    ),
    ("subscription_id", "定期受注ID", ColumnGroup::Subscription),
    (
        "subscription_status",
        "定期ステータス",
        ColumnGroup::Subscription,
    ),
    ("subscription_count", "定期回数", ColumnGroup::Subscription),
    (
        "subscription_next_delivery",
        "次回配送予定日",
        ColumnGroup::Subscription,
    ),
    (
        "subscription_next_ship",
        "次回発送予定日",
        ColumnGroup::Subscription,
    ),
];

/// Columns of an order's custom attributes (アンケート結果 and the like) are
/// `attribute:<name>`.
pub const ATTRIBUTE_PREFIX: &str = "attribute:";

/// The catalogue entry of `key`, or for an attribute column its name.
fn known(key: &str) -> Option<(&'static str, ColumnGroup)> {
    CATALOGUE
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, h, g)| (*h, *g))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowPer {
    /// 受注ごと
    #[default]
    Order,
    /// 受注商品ごと
    Item,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Utf8,
    /// UTF-8 with a byte-order mark: Excel then reads UTF-8.
    #[default]
    Utf8Bom,
    /// Shift_JIS as Windows writes it (CP932).
    Cp932,
}

impl Encoding {
    pub fn label(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8（BOM付き）",
            Encoding::Cp932 => "Shift_JIS（CP932）",
        }
    }
}

/// What to do with a character CP932 cannot hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmappable {
    /// Stop with the row and column.
    #[default]
    Error,
    /// Write 〓 instead, and list where in the job's result.
    Replace,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub key: String,
    /// The header written; the catalogue's when empty.
    #[serde(default)]
    pub header: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvFormat {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub row_per: RowPer,
    #[serde(default)]
    pub encoding: Encoding,
    #[serde(default)]
    pub unmappable: Unmappable,
    pub columns: Vec<Column>,
}

impl CsvFormat {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        if self.name.trim().is_empty() {
            e.add("name", "required", "フォーマット名を入力してください");
        }
        crate::text::check_len(&mut e, "name", &self.name, 100);
        if self.columns.is_empty() {
            e.add("columns", "required", "出力項目を1つ以上選んでください");
        }
        // A one-row-per-order file has no one item to take an item column
        // from: it would export empty cells without a word.
        if self.row_per == RowPer::Order {
            for (i, c) in self.columns.iter().enumerate() {
                if known(c.key.trim()).is_some_and(|(_, g)| g == ColumnGroup::Item) {
                    e.add(
                        format!("columns[{i}].key"),
                        "item_column_per_order",
                        format!(
                            "{}番目の項目「{}」は商品ごとの項目です。「1行1受注」では出力できないので、出力単位を「1行1商品」にするか項目を外してください",
                            i + 1,
                            c.key.trim()
                        ),
                    );
                }
            }
        }
        for (i, c) in self.columns.iter().enumerate() {
            let key = c.key.trim();
            if let Some(name) = key.strip_prefix(ATTRIBUTE_PREFIX) {
                if name.trim().is_empty() {
                    e.add(
                        format!("columns[{i}].key"),
                        "required",
                        "カスタム属性の名前を指定してください（attribute:名前）",
                    );
                }
            } else if known(key).is_none() {
                e.add(
                    format!("columns[{i}].key"),
                    "unknown_column",
                    format!("{}番目の項目「{key}」はありません", i + 1),
                );
            }
            crate::text::check_len(&mut e, &format!("columns[{i}].header"), &c.header, 100);
        }
        e.into_result()
    }

    /// The header row.
    pub fn headers(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|c| {
                if !c.header.trim().is_empty() {
                    c.header.trim().to_string()
                } else if let Some(name) = c.key.strip_prefix(ATTRIBUTE_PREFIX) {
                    name.to_string()
                } else {
                    known(&c.key).map_or(c.key.clone(), |(h, _)| h.to_string())
                }
            })
            .collect()
    }

    /// Whether a column needs the order's customer / subscription loaded.
    pub fn needs(&self, group: ColumnGroup) -> bool {
        self.columns
            .iter()
            .any(|c| known(&c.key).is_some_and(|(_, g)| g == group))
    }

    pub fn needs_attributes(&self) -> bool {
        self.columns
            .iter()
            .any(|c| c.key.starts_with(ATTRIBUTE_PREFIX))
    }
}

/// Reads a format definition from a CSV file of `項目,見出し` rows (a header
/// row first; 見出し may be empty), as shops keep them in a spreadsheet.
/// Unknown items are refused with their line.
pub fn columns_from_definition(text: &str) -> Result<Vec<Column>, FieldErrors> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The header row `項目,見出し` is optional: a definition typed into the
    // form often starts with its first item, which must not be dropped.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut e = FieldErrors::default();
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = rec
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(i + 1, |p| p.line() as usize);
        if i == 0
            && let Ok(r) = &rec
            && is_definition_header(r.get(0).unwrap_or(""))
        {
            continue;
        }
        let rec = match rec {
            Ok(r) => r,
            Err(err) => {
                e.add(
                    format!("line {line}"),
                    "bad_csv",
                    format!("{line}行目を読めません: {err}"),
                );
                continue;
            }
        };
        let key = rec.get(0).unwrap_or("").trim().to_string();
        if key.is_empty() {
            continue;
        }
        let header = rec.get(1).unwrap_or("").trim().to_string();
        // Shops write the Japanese header as often as the key.
        let key = CATALOGUE
            .iter()
            .find(|(k, h, _)| *k == key || *h == key)
            .map_or(key, |(k, _, _)| k.to_string());
        if known(&key).is_none() && !key.starts_with(ATTRIBUTE_PREFIX) {
            e.add(
                format!("line {line}"),
                "unknown_column",
                format!("{line}行目1列目: 項目「{key}」はありません"),
            );
            continue;
        }
        out.push(Column { key, header });
    }
    if out.is_empty() && e.is_empty() {
        e.add(
            "file",
            "empty",
            "項目が1つもありません（1列目に項目名を書いてください）",
        );
    }
    e.into_result()?;
    Ok(out)
}

/// The formats a new shop starts with (CSV管理), so that the first export
/// works: 受注一覧, 出荷リスト (one row per order) and 受注明細 (one per item),
/// UTF-8 with BOM so that Excel opens them as they are.
pub fn ready_made() -> Vec<CsvFormat> {
    let format = |name: &str, row_per: RowPer, keys: &[&str]| CsvFormat {
        id: 0,
        name: name.into(),
        row_per,
        encoding: Encoding::Utf8Bom,
        unmappable: Unmappable::default(),
        columns: keys
            .iter()
            .map(|k| Column {
                key: k.to_string(),
                header: String::new(),
            })
            .collect(),
    };
    vec![
        format(
            "受注一覧",
            RowPer::Order,
            &[
                "order_number",
                "ordered_at",
                "handling_status",
                "payment_status",
                "payment_method",
                "billing_name",
                "billing_phone",
                "total",
                "shipment_status",
                "tracking_number",
            ],
        ),
        format(
            "出荷リスト",
            RowPer::Order,
            &[
                "order_number",
                "shipping_name",
                "shipping_company_name",
                "shipping_department",
                "shipping_postal_code",
                "shipping_prefecture",
                "shipping_address1",
                "shipping_address2",
                "shipping_phone",
                "carrier",
                "scheduled_delivery_date",
                "delivery_time_slot",
                "payment_method",
                "total",
            ],
        ),
        format(
            "受注明細",
            RowPer::Item,
            &[
                "order_number",
                "ordered_at",
                "billing_name",
                "item_product_code",
                "item_product_name",
                "item_unit_price",
                "item_quantity",
                "item_tax_rate",
                "item_amount",
            ],
        ),
    ]
}

/// The first cell of a definition's optional header row.
fn is_definition_header(cell: &str) -> bool {
    let c = cell.trim().trim_start_matches('\u{feff}').to_lowercase();
    matches!(c.as_str(), "項目" | "項目名" | "key" | "column" | "列")
}

/// One value the store read for a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raw<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

/// How a column's cell is made from the values the store reads for it. The
/// store reads only the values of the format's columns (its export
/// projection lists them per key), so an export never decodes whole orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// The one value as it is (text or number); nothing when absent.
    Plain,
    /// A stored timestamp, in Japan time as the screens show it.
    Timestamp,
    /// Master ids, shown by name.
    HandlingStatus,
    PaymentMethod,
    Carrier,
    /// Ids separated by spaces, shown by name in id order.
    Labels,
    /// Stored codes, shown by their Japanese label.
    PaymentStatus,
    ShipmentStatus,
    ShippingListState,
    SubscriptionStatus,
    /// 0 / 1.
    Flag,
    /// A tax rate in percent: `10%`.
    TaxRate,
    /// Family and given name (or kana) joined as on screen.
    FullName,
}

/// How the column `key` is rendered (attribute columns as they are).
pub fn render_of(key: &str) -> Render {
    match key {
        "ordered_at" => Render::Timestamp,
        "handling_status" => Render::HandlingStatus,
        "payment_method" => Render::PaymentMethod,
        "carrier" => Render::Carrier,
        "labels" => Render::Labels,
        "payment_status" => Render::PaymentStatus,
        "shipment_status" => Render::ShipmentStatus,
        "shipping_list_state" => Render::ShippingListState,
        "subscription_status" => Render::SubscriptionStatus,
        "needs_attention" | "customer_blacklisted" => Render::Flag,
        "item_tax_rate" => Render::TaxRate,
        "billing_name" | "billing_kana" | "shipping_name" | "shipping_kana" => Render::FullName,
        _ => Render::Plain,
    }
}

impl Render {
    /// How many values the store reads for a column rendered this way.
    pub fn arity(self) -> usize {
        match self {
            Render::FullName => 2,
            _ => 1,
        }
    }
}

fn text<'a>(v: Option<&Raw<'a>>) -> &'a str {
    match v {
        Some(Raw::Text(t)) => t,
        _ => "",
    }
}

fn int(v: Option<&Raw<'_>>) -> Option<i64> {
    match v {
        Some(Raw::Int(n)) => Some(*n),
        Some(Raw::Text(t)) => t.trim().parse().ok(),
        _ => None,
    }
}

/// Appends one cell's text to `out` from the values read for it. Absent
/// values (an order without customer, subscription or items) give an empty
/// cell.
pub fn render_cell(render: Render, values: &[Raw<'_>], masters: &Masters, out: &mut String) {
    use std::fmt::Write;
    let first = values.first();
    match render {
        Render::Plain => match first {
            Some(Raw::Int(n)) => {
                let _ = write!(out, "{n}");
            }
            Some(Raw::Text(t)) => out.push_str(t),
            _ => {}
        },
        Render::Timestamp => {
            let t = text(first);
            match t.parse::<jiff::Timestamp>() {
                Ok(ts) => out.push_str(&crate::time::display_ts(ts)),
                Err(_) => out.push_str(t),
            }
        }
        Render::HandlingStatus => {
            if let Some(h) = int(first).and_then(|id| masters.handling_status(id)) {
                out.push_str(&h.name);
            }
        }
        Render::PaymentMethod => {
            if let Some(p) = int(first).and_then(|id| masters.payment_method(id)) {
                out.push_str(&p.name);
            }
        }
        Render::Carrier => {
            if let Some(c) = int(first).and_then(|id| masters.carrier(id)) {
                out.push_str(&c.name);
            }
        }
        Render::Labels => {
            let mut ids: Vec<i64> = text(first)
                .split([' ', ','])
                .filter_map(|id| id.trim().parse().ok())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            for (k, label) in ids.iter().filter_map(|id| masters.label(*id)).enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                out.push_str(&label.name);
            }
        }
        Render::PaymentStatus => out.push_str(
            crate::status::PaymentStatus::from_code(text(first)).map_or("", |s| s.label()),
        ),
        Render::ShipmentStatus => out.push_str(
            crate::status::ShipmentStatus::from_code(text(first)).map_or("", |s| s.label()),
        ),
        Render::ShippingListState => out.push_str(
            crate::status::ShippingListState::from_code(text(first)).map_or("", |s| s.label()),
        ),
        Render::SubscriptionStatus => out.push_str(
            crate::status::SubscriptionStatus::from_code(text(first)).map_or("", |s| s.label()),
        ),
        Render::Flag => {
            if let Some(n) = int(first) {
                out.push_str(if n != 0 { "1" } else { "0" });
            }
        }
        Render::TaxRate => {
            if let Some(n) = int(first) {
                let _ = write!(out, "{n}%");
            }
        }
        Render::FullName => {
            let joined = format!("{} {}", text(first), text(values.get(1)));
            out.push_str(joined.trim());
        }
    }
}

/// A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, and
/// tab / carriage return at the start) gets a leading `'`. Plain numbers such
/// as `-500` stay numbers.
pub fn neutralise(cell: String) -> String {
    if needs_neutralising(&cell) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// Whether [`neutralise`] would prefix `cell`.
pub fn needs_neutralising(cell: &str) -> bool {
    let starts_risky = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    starts_risky && cell.parse::<i64>().is_err()
}

/// Characters whose common Unicode form differs from the one CP932 maps.
fn fold_for_cp932(c: char) -> char {
    match c {
        '〜' => '～',
        '−' => '－',
        '¢' => '￠',
        '£' => '￡',
        '¬' => '￢',
        '—' => '―',
        '‖' => '∥',
        other => other,
    }
}

/// A character CP932 could not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unencodable {
    pub ch: char,
}

/// Encodes one line (a whole CSV record) for `enc`. For CP932, unmappable
/// characters are refused (`Err` with the first one) or replaced by 〓, and
/// the replaced ones are returned.
pub fn encode(
    line: &str,
    enc: Encoding,
    unmappable: Unmappable,
) -> Result<(Vec<u8>, Vec<char>), Unencodable> {
    let mut out = Vec::new();
    let mut replaced = Vec::new();
    encode_into(line, enc, unmappable, &mut out, &mut replaced)?;
    Ok((out, replaced))
}

/// [`encode`], appending to `out` and `replaced`.
pub fn encode_into(
    text: &str,
    enc: Encoding,
    unmappable: Unmappable,
    out: &mut Vec<u8>,
    replaced: &mut Vec<char>,
) -> Result<(), Unencodable> {
    if enc != Encoding::Cp932 {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    crate::cp932::encode_into(text, out, |c, out| {
        let folded = fold_for_cp932(c);
        if folded != c && crate::cp932::push_char(folded, out) {
            return Ok(());
        }
        match unmappable {
            Unmappable::Error => Err(Unencodable { ch: c }),
            Unmappable::Replace => {
                replaced.push(c);
                // 〓 in CP932.
                out.extend_from_slice(&[0x81, 0xac]);
                Ok(())
            }
        }
    })
}

/// The bytes a file starts with.
pub fn preamble(enc: Encoding) -> &'static [u8] {
    match enc {
        Encoding::Utf8Bom => b"\xef\xbb\xbf",
        _ => b"",
    }
}

/// CSV written into memory.
pub type RecordWriter = csv::Writer<Vec<u8>>;

/// A CSV writer as Excel expects it (RFC 4180 quoting, CRLF), into memory.
pub fn record_writer() -> RecordWriter {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

/// Where `ch` first occurs in CSV `text`: (record index, column index).
pub fn find_char(text: &str, ch: char) -> Option<(usize, usize)> {
    records_of(text).enumerate().find_map(|(i, cells)| {
        cells
            .iter()
            .position(|c| c.contains(ch))
            .map(|col| (i, col))
    })
}

/// For each record of CSV `text` holding any of `chars`: its index and
/// which of them it holds, in the order they occur.
pub fn records_with(text: &str, chars: &[char]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, cells) in records_of(text).enumerate() {
        let mut found = String::new();
        for c in cells.iter().flat_map(|c| c.chars()) {
            if chars.contains(&c) && !found.contains(c) {
                found.push(c);
            }
        }
        if !found.is_empty() {
            out.push((i, found));
        }
    }
    out
}

fn records_of(text: &str) -> impl Iterator<Item = Vec<String>> + '_ {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .into_records()
        .filter_map(Result::ok)
        .map(|r| r.iter().map(str::to_string).collect())
}

/// Writes one record as a CSV line (RFC 4180 quoting, CRLF as Excel expects).
pub fn record_line(cells: &[String]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(cells);
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(keys: &[&str]) -> CsvFormat {
        CsvFormat {
            id: 1,
            name: "出荷用".into(),
            row_per: RowPer::Item,
            encoding: Encoding::Cp932,
            unmappable: Unmappable::Error,
            columns: keys
                .iter()
                .map(|k| Column {
                    key: k.to_string(),
                    header: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn formats_refuse_unknown_columns_with_their_position() {
        assert!(
            format(&["order_number", "attribute:好きな色"])
                .validate()
                .is_ok()
        );
        let e = format(&["order_number", "colour"]).validate().unwrap_err();
        assert_eq!(e.0[0].field, "columns[1].key");
        assert!(e.0[0].message.contains("colour"));
        let e = format(&[]).validate().unwrap_err();
        assert_eq!(e.0[0].field, "columns");
        let e = format(&["attribute:"]).validate().unwrap_err();
        assert_eq!(e.0[0].field, "columns[0].key");
    }

    #[test]
    fn headers_default_to_the_catalogue_and_may_be_renamed() {
        let mut f = format(&["order_number", "billing_name", "attribute:好きな色"]);
        f.columns[1].header = "お名前".into();
        assert_eq!(f.headers(), vec!["受注番号", "お名前", "好きな色"]);
        assert!(f.needs(ColumnGroup::Billing));
        assert!(!f.needs(ColumnGroup::Customer));
        assert!(f.needs_attributes());
    }

    #[test]
    fn definitions_read_keys_or_japanese_headers_and_name_bad_lines() {
        let cols =
            columns_from_definition("\u{feff}項目,見出し\norder_number,番号\n商品名,\n").unwrap();
        assert_eq!(cols[0].key, "order_number");
        assert_eq!(cols[0].header, "番号");
        assert_eq!(cols[1].key, "item_product_name");
        // Without the header row, the first line is an item, not a header.
        let typed = columns_from_definition("order_number,受注番号\nitem_quantity,\n").unwrap();
        for f in ready_made() {
            f.validate().unwrap_or_else(|e| panic!("{}: {e:?}", f.name));
        }
        let per_order_with_items = CsvFormat {
            row_per: RowPer::Order,
            ..ready_made().remove(2)
        };
        let e = per_order_with_items.validate().unwrap_err();
        assert_eq!(e.0[0].code, "item_column_per_order");
        assert!(e.0[0].message.contains("1行1商品"), "{e:?}");
        assert_eq!(typed.len(), 2);
        assert_eq!(typed[0].key, "order_number");
        assert_eq!(typed[0].header, "受注番号");
        let e = columns_from_definition("項目,見出し\norder_number,\nfavourite_colour,色\n")
            .unwrap_err();
        assert_eq!(e.0[0].field, "line 3");
        assert!(e.0[0].message.contains("3行目1列目"), "{e:?}");
        assert!(e.0[0].message.contains("favourite_colour"));
        assert!(columns_from_definition("項目,見出し\n").is_err());
    }

    #[test]
    fn formula_cells_are_neutralised_but_numbers_stay() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")".into()), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+81 90".into()), "'+81 90");
        assert_eq!(neutralise("@SUM(A1)".into()), "'@SUM(A1)");
        assert_eq!(neutralise("-500".into()), "-500");
        assert_eq!(neutralise("- 500".into()), "'- 500");
        assert_eq!(neutralise("山田".into()), "山田");
        assert_eq!(neutralise(String::new()), "");
    }

    #[test]
    fn folding_only_the_unmappable_is_folding_everything() {
        // `encode_into` folds a character only when CP932 cannot hold it as
        // it is: the same bytes as folding first, as long as no folded
        // character is itself mappable to something else.
        for c in ['〜', '−', '¢', '£', '¬', '—', '‖'] {
            let folded = fold_for_cp932(c);
            assert_ne!(folded, c);
            let mut as_is = Vec::new();
            let mut as_folded = Vec::new();
            assert!(crate::cp932::push_char(folded, &mut as_folded), "{folded}");
            if crate::cp932::push_char(c, &mut as_is) {
                assert_eq!(as_is, as_folded, "{c}");
            }
        }
    }

    #[test]
    fn cp932_folds_refuses_or_replaces_never_drops() {
        let (bytes, replaced) = encode("山田〜−", Encoding::Cp932, Unmappable::Error).unwrap();
        let (decoded, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
        assert!(!bad);
        assert_eq!(decoded, "山田～－");
        assert!(replaced.is_empty());
        // 髙 (the ladder-high) is in CP932 (an NEC/IBM extension); 𠮷 is not.
        let (bytes, _) = encode("髙橋", Encoding::Cp932, Unmappable::Error).unwrap();
        assert_eq!(encoding_rs::SHIFT_JIS.decode(&bytes).0, "髙橋");
        let err = encode("𠮷野家", Encoding::Cp932, Unmappable::Error).unwrap_err();
        assert_eq!(err.ch, '𠮷');
        let (bytes, replaced) = encode("𠮷野家😀", Encoding::Cp932, Unmappable::Replace).unwrap();
        assert_eq!(encoding_rs::SHIFT_JIS.decode(&bytes).0, "〓野家〓");
        assert_eq!(replaced, vec!['𠮷', '😀']);
        let (bytes, _) = encode("𠮷", Encoding::Utf8Bom, Unmappable::Error).unwrap();
        assert_eq!(bytes, "𠮷".as_bytes());
        assert_eq!(preamble(Encoding::Utf8Bom), b"\xef\xbb\xbf");
        assert_eq!(preamble(Encoding::Cp932), b"");
    }

    #[test]
    fn characters_are_found_by_record_and_column() {
        let mut w = record_writer();
        w.write_record(["1", "山田"]).unwrap();
        w.write_record(["2", "改\n行𠮷"]).unwrap();
        w.write_record(["3", "😀𠮷"]).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(find_char(&text, '𠮷'), Some((1, 1)));
        assert_eq!(find_char(&text, '鈴'), None);
        assert_eq!(
            records_with(&text, &['😀', '𠮷']),
            vec![(1, "𠮷".to_string()), (2, "😀𠮷".to_string())]
        );
    }

    fn masters() -> Masters {
        use crate::masters::{Carrier, HandlingStatus, OrderLabel, PaymentMethod};
        Masters {
            handling_statuses: vec![HandlingStatus {
                id: 3,
                name: "処理中".into(),
                position: 1,
                color: String::new(),
                is_default: false,
            }],
            payment_methods: vec![PaymentMethod {
                id: 4,
                code: "credit_card".into(),
                name: "クレジットカード".into(),
                fee: 0,
            }],
            carriers: vec![Carrier {
                id: 5,
                code: "yamato".into(),
                name: "ヤマト運輸".into(),
                tracking_url_template: String::new(),
                shipping_fee: 0,
            }],
            labels: vec![
                OrderLabel {
                    id: 2,
                    name: "ギフト".into(),
                    color: String::new(),
                },
                OrderLabel {
                    id: 9,
                    name: "至急".into(),
                    color: String::new(),
                },
            ],
        }
    }

    fn rendered(key: &str, values: &[Raw<'_>]) -> String {
        let mut out = String::new();
        render_cell(render_of(key), values, &masters(), &mut out);
        out
    }

    #[test]
    fn cells_render_from_the_values_read_for_them() {
        use Raw::{Int, Null, Text};
        assert_eq!(rendered("order_number", &[Text("1001")]), "1001");
        assert_eq!(rendered("total", &[Int(-500)]), "-500");
        assert_eq!(rendered("tracking_number", &[Null]), "");
        assert_eq!(
            rendered("ordered_at", &[Text("2026-12-01T01:30:00Z")]),
            "2026/12/01 10:30"
        );
        assert_eq!(rendered("handling_status", &[Int(3)]), "処理中");
        assert_eq!(rendered("handling_status", &[Int(99)]), "");
        assert_eq!(rendered("payment_method", &[Int(4)]), "クレジットカード");
        assert_eq!(rendered("payment_method", &[Null]), "");
        assert_eq!(rendered("carrier", &[Int(5)]), "ヤマト運輸");
        assert_eq!(rendered("labels", &[Text("9 2 77")]), "ギフト 至急");
        assert_eq!(rendered("labels", &[Null]), "");
        assert_eq!(
            rendered("payment_status", &[Text("authorized")]),
            "仮売上完了"
        );
        assert_eq!(rendered("shipment_status", &[Text("shipped")]), "発送済");
        assert_eq!(
            rendered("shipping_list_state", &[Text("exported")]),
            "出力済"
        );
        assert_eq!(rendered("subscription_status", &[Text("active")]), "有効");
        assert_eq!(rendered("subscription_status", &[Null]), "");
        assert_eq!(rendered("needs_attention", &[Int(1)]), "1");
        assert_eq!(rendered("customer_blacklisted", &[Int(0)]), "0");
        assert_eq!(rendered("customer_blacklisted", &[Null]), "");
        assert_eq!(rendered("item_tax_rate", &[Int(8)]), "8%");
        assert_eq!(
            rendered("billing_name", &[Text("山田"), Text("太郎")]),
            "山田 太郎"
        );
        assert_eq!(
            rendered("shipping_kana", &[Text("ヤマダ"), Text("")]),
            "ヤマダ"
        );
        assert_eq!(rendered("billing_name", &[Null, Null]), "");
        assert_eq!(rendered("attribute:好きな色", &[Text("青")]), "青");
        assert!(needs_neutralising("=1+1"));
        assert!(!needs_neutralising("-500"));
    }

    #[test]
    fn records_quote_as_excel_expects() {
        assert_eq!(
            record_line(&["a,b".into(), "改\n行".into(), "\"q\"".into()]),
            "\"a,b\",\"改\n行\",\"\"\"q\"\"\"\r\n"
        );
    }
}
