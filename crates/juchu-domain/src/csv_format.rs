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
use crate::customer::Customer;
use crate::masters::Masters;
use crate::order::{Order, OrderItem};
use crate::subscription::Subscription;
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
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut e = FieldErrors::default();
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
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

/// Everything a row can read.
pub struct RowSource<'a> {
    pub order: &'a Order,
    pub item: Option<&'a OrderItem>,
    pub customer: Option<&'a Customer>,
    pub subscription: Option<&'a Subscription>,
    pub attributes: &'a [(String, String)],
    pub masters: &'a Masters,
}

fn date(d: Option<jiff::civil::Date>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// One cell's text.
pub fn cell(key: &str, s: &RowSource<'_>) -> String {
    let o = s.order;
    let m = s.masters;
    if let Some(name) = key.strip_prefix(ATTRIBUTE_PREFIX) {
        return s
            .attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
    }
    let b = &o.billing;
    let sh = &o.shipping;
    match key {
        "order_number" => o.order_number.clone(),
        "ordered_at" => crate::time::display_ts(o.ordered_at),
        "handling_status" => m
            .handling_status(o.handling_status_id)
            .map(|h| h.name.clone())
            .unwrap_or_default(),
        "payment_status" => o.payment_status.label().to_string(),
        "payment_method" => o
            .payment_method_id
            .and_then(|id| m.payment_method(id))
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        "carrier" => o
            .carrier_id
            .and_then(|id| m.carrier(id))
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        "items_total" => (o.totals.items_standard + o.totals.items_reduced).to_string(),
        "shipping_fee" => o.totals.shipping_fee.to_string(),
        "payment_fee" => o.totals.payment_fee.to_string(),
        "discount" => o.totals.discount.to_string(),
        "points_used" => o.totals.points_used.to_string(),
        "points_granted" => o.points_granted.to_string(),
        "total" => o.totals.total.to_string(),
        "taxable_standard" => o.totals.taxable_standard.to_string(),
        "tax_standard" => o.totals.tax_standard.to_string(),
        "taxable_reduced" => o.totals.taxable_reduced.to_string(),
        "tax_reduced" => o.totals.tax_reduced.to_string(),
        "tracking_number" => o.tracking_number.clone().unwrap_or_default(),
        "shipment_status" => o.shipment_status.label().to_string(),
        "scheduled_ship_date" => date(o.scheduled_ship_date),
        "shipped_at" => date(o.shipped_at),
        "scheduled_delivery_date" => date(o.scheduled_delivery_date),
        "delivery_time_slot" => o.delivery_time_slot.clone().unwrap_or_default(),
        "delivered_at" => date(o.delivered_at),
        "paid_at" => date(o.paid_at),
        "shipping_list_state" => o.shipping_list_state.label().to_string(),
        "shipping_list_exported_on" => date(o.shipping_list_exported_on),
        "memo" => o.memo.clone(),
        "labels" => o
            .label_ids
            .iter()
            .filter_map(|id| m.label(*id))
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        "needs_attention" => if o.needs_attention { "1" } else { "0" }.into(),
        "needs_attention_reason" => o.needs_attention_reason.clone(),
        "billing_name" => b.full_name(),
        "billing_kana" => b.full_kana(),
        "billing_postal_code" => b.postal_code.clone(),
        "billing_prefecture" => b.prefecture.clone(),
        "billing_address1" => b.address1.clone(),
        "billing_address2" => b.address2.clone(),
        "billing_phone" => b.phone.clone(),
        "billing_email" => b.email.clone(),
        "shipping_name" => sh.full_name(),
        "shipping_kana" => sh.full_kana(),
        "shipping_postal_code" => sh.postal_code.clone(),
        "shipping_prefecture" => sh.prefecture.clone(),
        "shipping_address1" => sh.address1.clone(),
        "shipping_address2" => sh.address2.clone(),
        "shipping_phone" => sh.phone.clone(),
        "item_product_code" => s.item.map(|i| i.product_code.clone()).unwrap_or_default(),
        "item_product_name" => s.item.map(|i| i.product_name.clone()).unwrap_or_default(),
        "item_unit_price" => s.item.map(|i| i.unit_price.to_string()).unwrap_or_default(),
        "item_quantity" => s.item.map(|i| i.quantity.to_string()).unwrap_or_default(),
        "item_tax_rate" => s
            .item
            .map(|i| format!("{}%", i.tax_rate.percent()))
            .unwrap_or_default(),
        "item_amount" => s.item.map(|i| i.amount().to_string()).unwrap_or_default(),
        "customer_id" => o.customer_id.map(|id| id.to_string()).unwrap_or_default(),
        "customer_points" => s.customer.map(|c| c.points.to_string()).unwrap_or_default(),
        "customer_memo" => s.customer.map(|c| c.memo.clone()).unwrap_or_default(),
        "customer_blacklisted" => s
            .customer
            .map(|c| if c.blacklisted { "1" } else { "0" }.to_string())
            .unwrap_or_default(),
        "subscription_id" => o
            .subscription_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        "subscription_status" => s
            .subscription
            .map(|x| x.status.label().to_string())
            .unwrap_or_default(),
        "subscription_count" => s
            .subscription
            .map(|x| x.count.to_string())
            .unwrap_or_default(),
        "subscription_next_delivery" => s
            .subscription
            .map(|x| x.schedule.next_delivery.to_string())
            .unwrap_or_default(),
        "subscription_next_ship" => s
            .subscription
            .map(|x| x.schedule.next_ship.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, and
/// tab / carriage return at the start) gets a leading `'`. Plain numbers such
/// as `-500` stay numbers.
pub fn neutralise(cell: String) -> String {
    let starts_risky = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if starts_risky && cell.parse::<i64>().is_err() {
        format!("'{cell}")
    } else {
        cell
    }
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
    if enc != Encoding::Cp932 {
        return Ok((line.as_bytes().to_vec(), Vec::new()));
    }
    // Folding allocates only when there is something to fold.
    let folded: std::borrow::Cow<'_, str> = if line.chars().any(|c| fold_for_cp932(c) != c) {
        line.chars().map(fold_for_cp932).collect::<String>().into()
    } else {
        line.into()
    };
    let mut out = Vec::with_capacity(folded.len());
    let mut replaced = Vec::new();
    let mut encoder = encoding_rs::SHIFT_JIS.new_encoder();
    let mut rest: &str = &folded;
    // Shift_JIS never takes more bytes than UTF-8 for the same text.
    let mut buf = vec![0u8; folded.len() + 16];
    loop {
        let (result, read, written) =
            encoder.encode_from_utf8_without_replacement(rest, &mut buf, true);
        out.extend_from_slice(&buf[..written]);
        rest = &rest[read..];
        match result {
            encoding_rs::EncoderResult::InputEmpty => break,
            encoding_rs::EncoderResult::OutputFull => {
                buf.resize(buf.len() * 2, 0);
            }
            encoding_rs::EncoderResult::Unmappable(ch) => match unmappable {
                Unmappable::Error => return Err(Unencodable { ch }),
                Unmappable::Replace => {
                    replaced.push(ch);
                    // 〓 in CP932.
                    out.extend_from_slice(&[0x81, 0xac]);
                }
            },
        }
    }
    Ok((out, replaced))
}

/// The bytes a file starts with.
pub fn preamble(enc: Encoding) -> &'static [u8] {
    match enc {
        Encoding::Utf8Bom => b"\xef\xbb\xbf",
        _ => b"",
    }
}

/// Writes records as CSV lines (RFC 4180 quoting, CRLF as Excel expects).
pub fn records_text<'a>(records: impl Iterator<Item = &'a [String]>) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for r in records {
        // Writing to a Vec cannot fail.
        let _ = w.write_record(r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
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
    fn records_quote_as_excel_expects() {
        assert_eq!(
            record_line(&["a,b".into(), "改\n行".into(), "\"q\"".into()]),
            "\"a,b\",\"改\n行\",\"\"\"q\"\"\"\r\n"
        );
    }
}
