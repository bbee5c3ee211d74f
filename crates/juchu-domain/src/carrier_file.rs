//! 送り状データ: the carriers' label-printing files (../shared/CARRIERS.md).
//!
//! One line per package not yet shipped, in the carrier's own layout: ヤマト
//! B2クラウド 外部データ取込 (95 columns), 佐川 e飛伝Ⅲ 標準_飛脚宅急便_CSV_ヘッダ有り
//! (74 columns), and for 日本郵便 ゆうプリR juchu's own layout (ゆうプリR reads
//! what the shop's import filter says; [`YUPRI_FILTER_GUIDE`] is what to set
//! in it once). Shift_JIS (CP932), CRLF, the carrier's date format and
//! time-slot codes; 送り状種類 / 代引 from the payment method (代金引換 →
//! コレクト with the amount and its tax); お客様管理番号 = the package's id
//! (`1001-2`), which joins the carrier's result file back.
//!
//! Carriers print what they get: cells are never formula-escaped with `'`;
//! dangerous leading characters (`=`, `+`, `-`, `@`) of text are stripped.
//! Characters outside JIS X 0208 (level 1–2) are replaced ([`REPLACEMENTS`],
//! then NFKC, else 〓) and fields longer than the carrier's limit are cut at a
//! character boundary; both are reported per order.

use crate::error::FieldErrors;
use crate::job::CarrierFormat;
use crate::order::Order;
use crate::shipment::{Shipment, public_id};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// 出荷設定: the sender printed on labels and the carriers' customer codes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShippingSettings {
    /// ご依頼主 (the shop's name when empty).
    pub sender_name: String,
    pub sender_phone: String,
    pub sender_postal_code: String,
    pub sender_address1: String,
    pub sender_address2: String,
    /// ヤマト 請求先顧客コード (10–12 digits).
    pub yamato_customer_code: String,
    /// ヤマト 請求先分類コード (blank or 3 digits).
    pub yamato_class_code: String,
    /// ヤマト 運賃管理番号 (2 digits).
    pub yamato_freight_number: String,
    /// 佐川 お客様コード (12 digits).
    pub sagawa_customer_code: String,
    /// 品名 printed when an order has no item name (e.g. 食品).
    pub default_item_name: String,
}

fn digits(s: &str, range: std::ops::RangeInclusive<usize>) -> bool {
    range.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

impl ShippingSettings {
    /// Checks the fields as saved (each may still be empty).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        for (field, value, range, what) in [
            (
                "yamato_customer_code",
                &self.yamato_customer_code,
                10..=12,
                "10〜12桁の数字",
            ),
            (
                "yamato_class_code",
                &self.yamato_class_code,
                3..=3,
                "3桁の数字",
            ),
            (
                "yamato_freight_number",
                &self.yamato_freight_number,
                2..=2,
                "2桁の数字",
            ),
            (
                "sagawa_customer_code",
                &self.sagawa_customer_code,
                12..=12,
                "12桁の数字",
            ),
        ] {
            if !value.is_empty() && !digits(value, range) {
                e.add(field, "invalid", format!("{what}で入力してください"));
            }
        }
        let postal: String = self
            .sender_postal_code
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if !self.sender_postal_code.is_empty() && postal.len() != 7 {
            e.add(
                "sender_postal_code",
                "invalid",
                "郵便番号は7桁で入力してください",
            );
        }
        for (field, value) in [
            ("sender_name", &self.sender_name),
            ("sender_phone", &self.sender_phone),
            ("sender_address1", &self.sender_address1),
            ("sender_address2", &self.sender_address2),
            ("default_item_name", &self.default_item_name),
        ] {
            crate::text::check_len(&mut e, field, value, 100);
        }
        e.into_result()
    }

    /// What `format` needs before a file can be made (the carrier refuses a
    /// file without it): the missing settings, named.
    pub fn check_for(&self, format: CarrierFormat) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        for (field, value, label) in [
            ("sender_phone", &self.sender_phone, "ご依頼主電話番号"),
            (
                "sender_postal_code",
                &self.sender_postal_code,
                "ご依頼主郵便番号",
            ),
            ("sender_address1", &self.sender_address1, "ご依頼主住所"),
        ] {
            if value.trim().is_empty() {
                e.add(
                    format!("shipping_settings.{field}"),
                    "required",
                    format!("出荷設定の「{label}」を入力してください"),
                );
            }
        }
        let need: &[(&str, &String, &str)] = match format {
            CarrierFormat::YamatoB2 => &[
                (
                    "yamato_customer_code",
                    &self.yamato_customer_code,
                    "請求先顧客コード",
                ),
                (
                    "yamato_freight_number",
                    &self.yamato_freight_number,
                    "運賃管理番号",
                ),
            ],
            CarrierFormat::SagawaEhiden3 => &[(
                "sagawa_customer_code",
                &self.sagawa_customer_code,
                "佐川 お客様コード",
            )],
            CarrierFormat::JapanpostYupri => &[],
        };
        for (field, value, label) in need {
            if value.trim().is_empty() {
                e.add(
                    format!("shipping_settings.{field}"),
                    "required",
                    format!(
                        "{}の出力には出荷設定の「{label}」が必要です",
                        format.label()
                    ),
                );
            }
        }
        e.into_result()
    }
}

/// Characters carriers do not accept, and what is printed instead (the
/// yamato_b2_cloud gem's table and the usual 機種依存文字). Anything else
/// outside JIS X 0208 goes through NFKC, and 〓 when even that does not fit.
pub const REPLACEMENTS: &[(char, &str)] = &[
    ('𠮷', "吉"),
    ('𠷡', "百合"),
    ('髙', "高"),
    ('﨑', "崎"),
    ('德', "徳"),
    ('栁', "柳"),
    ('濵', "浜"),
    ('淸', "清"),
    ('瀨', "瀬"),
    ('塚', "塚"),
    ('隆', "隆"),
    ('神', "神"),
    ('祥', "祥"),
    ('\u{00A0}', " "),
    ('～', "〜"),
    ('①', "(1)"),
    ('②', "(2)"),
    ('③', "(3)"),
    ('④', "(4)"),
    ('⑤', "(5)"),
    ('⑥', "(6)"),
    ('⑦', "(7)"),
    ('⑧', "(8)"),
    ('⑨', "(9)"),
    ('⑩', "(10)"),
    ('㈱', "(株)"),
    ('㈲', "(有)"),
    ('㈹', "(代)"),
    ('№', "No."),
    ('℡', "TEL"),
    ('♡', "〓"),
];

/// Whether `c` is printable by the carriers: ASCII, half-width katakana
/// (JIS X 0201) or JIS X 0208 rows 1–8 and 16–84 (no NEC / IBM extensions).
pub fn carrier_accepts(c: char) -> bool {
    let mut bytes = Vec::with_capacity(2);
    crate::cp932::push_char(c, &mut bytes) && all_accepted(&bytes)
}

/// Whether every character of CP932 `bytes` is one carriers accept (see
/// [`carrier_accepts`]; control characters are not).
fn all_accepted(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if b < 0x20 || b == 0x7F {
                return false;
            }
            i += 1;
            continue;
        }
        if (0xA1..=0xDF).contains(&b) {
            i += 1;
            continue;
        }
        let Some(&trail) = bytes.get(i + 1) else {
            return false;
        };
        let row_ok = match b {
            0x81..=0x84 | 0x89..=0x9F | 0xE0..=0xE9 => true,
            0x88 => trail >= 0x9F,
            0xEA => trail <= 0xA4,
            _ => false,
        };
        if !row_ok {
            return false;
        }
        i += 2;
    }
    true
}

/// A cell's value made printable: replaced characters, and what was replaced.
pub fn printable(s: &str) -> (String, Vec<(char, String)>) {
    if s.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return (s.to_string(), Vec::new());
    }
    // Most text encodes whole; only then is it looked at character by character.
    let mut bytes = Vec::with_capacity(s.len());
    let whole = crate::cp932::encode_into(s, &mut bytes, |_, _| Err(())).is_ok();
    if whole && all_accepted(&bytes) {
        return (s.to_string(), Vec::new());
    }
    let mut out = String::with_capacity(s.len());
    let mut replaced = Vec::new();
    for c in s.chars() {
        if matches!(c, '\t' | '\r' | '\n') {
            out.push(' ');
            continue;
        }
        if carrier_accepts(c) {
            out.push(c);
            continue;
        }
        let with = REPLACEMENTS
            .iter()
            .find(|(from, _)| *from == c)
            .map(|(_, to)| to.to_string())
            .or_else(|| {
                let n = crate::normalize::nfkc(&c.to_string());
                n.chars().all(carrier_accepts).then_some(n)
            })
            .unwrap_or_else(|| "〓".to_string());
        out.push_str(&with);
        replaced.push((c, with));
    }
    (out, replaced)
}

/// Width as carriers count it: a full-width character is 2, half-width 1.
pub fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if c.is_ascii() || ('｡'..='ﾟ').contains(&c) {
                1
            } else {
                2
            }
        })
        .sum()
}

/// `s` cut to `max` width at a character boundary, and whether it was cut.
pub fn cut(s: &str, max: usize) -> (String, bool) {
    if width(s) <= max {
        return (s.to_string(), false);
    }
    let mut w = 0;
    let out: String = s
        .chars()
        .take_while(|c| {
            w += width(c.encode_utf8(&mut [0u8; 4]));
            w <= max
        })
        .collect();
    (out, true)
}

/// Text a carrier would read as a formula loses its leading `=`, `+`, `-`,
/// `@` (printed labels must not show a `'`).
fn strip_dangerous(s: &str) -> &str {
    s.trim_start_matches(['=', '+', '-', '@', ' ', '　'])
}

/// The header of `format`'s file (ゆうプリR's is juchu's own).
pub fn header(format: CarrierFormat) -> &'static [&'static str] {
    match format {
        CarrierFormat::YamatoB2 => B2_HEADER,
        CarrierFormat::SagawaEhiden3 => EHIDEN3_HEADER,
        CarrierFormat::JapanpostYupri => YUPRI_HEADER,
    }
}

/// What one package's line is made from.
pub struct Parcel<'a> {
    pub order: &'a Order,
    pub shipment: &'a Shipment,
    /// 代金引換: the line is a コレクト / 代引 of the order's total.
    pub cash_on_delivery: bool,
}

/// Something changed so the carrier accepts the line (listed per order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adjustment {
    Replaced {
        column: &'static str,
        from: char,
        to: String,
    },
    Cut {
        column: &'static str,
        max: usize,
    },
    /// お客様管理番号 longer than the carrier keeps: not cut (it is the key).
    LongKey {
        max: usize,
    },
}

impl Adjustment {
    pub fn describe(&self) -> String {
        match self {
            Adjustment::Replaced { column, from, to } => {
                format!("{column}の「{from}」を「{to}」に置き換えました")
            }
            Adjustment::Cut { column, max } => {
                format!("{column}を{max}バイト（全角{}文字）で切りました", max / 2)
            }
            Adjustment::LongKey { max } => format!(
                "お客様管理番号が{max}文字を超えています（送り状ソフトで取り込めない場合があります）"
            ),
        }
    }
}

/// 配達時間帯 as the carrier codes it ("" when none or not the carrier's).
pub fn time_code(format: CarrierFormat, slot: Option<&str>) -> &'static str {
    let Some(slot) = slot else { return "" };
    match (format, slot) {
        (CarrierFormat::YamatoB2, "午前中") => "0812",
        (CarrierFormat::YamatoB2, "14-16") => "1416",
        (CarrierFormat::YamatoB2, "16-18") => "1618",
        (CarrierFormat::YamatoB2, "18-20") => "1820",
        (CarrierFormat::YamatoB2, "19-21") => "1921",
        (CarrierFormat::SagawaEhiden3, "午前中") => "01",
        (CarrierFormat::SagawaEhiden3, "12-14") => "12",
        (CarrierFormat::SagawaEhiden3, "14-16") => "14",
        (CarrierFormat::SagawaEhiden3, "16-18") => "16",
        (CarrierFormat::SagawaEhiden3, "18-20") => "18",
        (CarrierFormat::SagawaEhiden3, "19-21") => "19",
        (CarrierFormat::SagawaEhiden3, "18-21") => "04",
        // ⚠️ ゆうパック: 52 = 12–14 is documented by carts; the rest follow
        // the same series. Checked in the filter guide, not by the carrier.
        (CarrierFormat::JapanpostYupri, "午前中") => "51",
        (CarrierFormat::JapanpostYupri, "12-14") => "52",
        (CarrierFormat::JapanpostYupri, "14-16") => "53",
        (CarrierFormat::JapanpostYupri, "16-18") => "54",
        (CarrierFormat::JapanpostYupri, "18-20") => "55",
        (CarrierFormat::JapanpostYupri, "19-21") => "56",
        _ => "",
    }
}

fn ymd(format: CarrierFormat, d: Date) -> String {
    match format {
        CarrierFormat::SagawaEhiden3 => d.strftime("%Y%m%d").to_string(),
        _ => d.strftime("%Y/%m/%d").to_string(),
    }
}

fn postal(s: &str) -> String {
    let d: String = crate::normalize::nfkc(s)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if d.len() == 7 {
        format!("{}-{}", &d[..3], &d[3..])
    } else {
        s.to_string()
    }
}

fn phone(s: &str) -> String {
    crate::normalize::nfkc(s)
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '-')
        .collect()
}

/// A line being built: (column name, value, max width or 0 = no limit).
struct Line {
    cells: Vec<String>,
    adjustments: Vec<Adjustment>,
}

impl Line {
    fn new(n: usize) -> Line {
        Line {
            cells: vec![String::new(); n],
            adjustments: Vec::new(),
        }
    }

    /// Sets column `no` (1-based) to user text: printable, stripped, cut.
    fn text(&mut self, header: &[&'static str], no: usize, value: &str, max: usize) {
        let column = header[no - 1];
        let (v, replaced) = printable(strip_dangerous(value.trim()));
        self.adjustments
            .extend(replaced.into_iter().map(|(from, to)| Adjustment::Replaced {
                column,
                from,
                to,
            }));
        let (v, was_cut) = if max > 0 { cut(&v, max) } else { (v, false) };
        if was_cut {
            self.adjustments.push(Adjustment::Cut { column, max });
        }
        self.cells[no - 1] = v;
    }

    /// Sets column `no` to a value juchu made (codes, numbers, dates).
    fn raw(&mut self, no: usize, value: impl Into<String>) {
        self.cells[no - 1] = value.into();
    }
}

/// Splits an address over lines of `max` width (e飛伝 and ゆうプリR print
/// three lines of 16 full-width characters).
fn address_lines(first: &str, rest: &str, max: usize) -> [String; 3] {
    let (l1, cut1) = cut(first, max);
    let overflow: String = if cut1 {
        first.chars().skip(l1.chars().count()).collect()
    } else {
        String::new()
    };
    if overflow.is_empty() {
        [l1, rest.to_string(), String::new()]
    } else {
        [l1, overflow, rest.to_string()]
    }
}

/// The line of one package in `format`, and what was changed to fit.
pub fn line(
    format: CarrierFormat,
    p: &Parcel<'_>,
    settings: &ShippingSettings,
    shop_name: &str,
    today: Date,
) -> (Vec<String>, Vec<Adjustment>) {
    let header = header(format);
    let mut l = Line::new(header.len());
    let o = p.order;
    let s = p.shipment;
    let key = public_id(&o.order_number, s.number);
    let to = &o.shipping;
    let name = format!("{} {}", to.family_name, to.given_name)
        .trim()
        .to_string();
    // 会社名 / 部署 (a business customer): B2 has their own columns; e飛伝's
    // 名称１ takes the company and 名称２ the department and person; ゆうプリR,
    // with one name column, puts the company before the person.
    let company = to.company_name.trim();
    let department = to.department.trim();
    let sender = if settings.sender_name.trim().is_empty() {
        shop_name
    } else {
        settings.sender_name.as_str()
    };
    let items: Vec<&str> = s
        .items
        .iter()
        .filter_map(|it| o.items.get(it.line))
        .filter(|i| !i.is_bundled_item)
        .map(|i| i.product_name.as_str())
        .collect();
    let item_name = |k: usize| -> String {
        match (items.get(k), k) {
            (Some(n), _) => n.to_string(),
            (None, 0) => settings.default_item_name.clone(),
            _ => String::new(),
        }
    };
    let ship_on = s.scheduled_ship_date.unwrap_or(today).max(today);
    let tax = o.totals.tax_standard + o.totals.tax_reduced;
    let slot = time_code(format, s.delivery_time_slot.as_deref());
    match format {
        CarrierFormat::YamatoB2 => {
            l.raw(1, key.clone());
            if key.len() > 50 {
                l.adjustments.push(Adjustment::LongKey { max: 50 });
            }
            l.raw(2, if p.cash_on_delivery { "2" } else { "0" });
            l.raw(3, "0");
            l.raw(5, ymd(format, ship_on));
            if let Some(d) = s.scheduled_delivery_date {
                l.raw(6, ymd(format, d));
            }
            l.raw(7, slot);
            l.text(header, 9, &phone(&to.phone), 15);
            l.raw(11, postal(&to.postal_code));
            l.text(header, 12, &format!("{}{}", to.prefecture, to.address1), 64);
            l.text(header, 13, &to.address2, 32);
            l.text(header, 14, company, 50);
            l.text(header, 15, department, 50);
            l.text(header, 16, &name, 32);
            l.text(header, 20, &phone(&settings.sender_phone), 15);
            l.raw(22, postal(&settings.sender_postal_code));
            l.text(header, 23, &settings.sender_address1, 64);
            l.text(header, 24, &settings.sender_address2, 32);
            l.text(header, 25, sender, 32);
            l.text(header, 28, &item_name(0), 50);
            l.text(header, 30, &item_name(1), 50);
            if p.cash_on_delivery {
                l.raw(34, o.totals.total.to_string());
                l.raw(35, tax.to_string());
            }
            l.raw(36, "0");
            l.raw(40, settings.yamato_customer_code.clone());
            l.raw(41, settings.yamato_class_code.clone());
            l.raw(42, settings.yamato_freight_number.clone());
        }
        CarrierFormat::SagawaEhiden3 => {
            l.text(header, 3, &phone(&to.phone), 14);
            l.raw(4, postal(&to.postal_code).replace('-', ""));
            let [a1, a2, a3] = address_lines(
                &format!("{}{}", to.prefecture, to.address1),
                &to.address2,
                32,
            );
            l.text(header, 5, &a1, 32);
            l.text(header, 6, &a2, 32);
            l.text(header, 7, &a3, 32);
            if company.is_empty() {
                l.text(header, 8, &name, 32);
            } else {
                l.text(header, 8, company, 32);
                l.text(header, 9, format!("{department} {name}").trim(), 32);
            }
            l.raw(10, key.clone());
            if key.len() > 16 {
                l.adjustments.push(Adjustment::LongKey { max: 16 });
            }
            l.raw(11, settings.sagawa_customer_code.clone());
            l.text(header, 18, &phone(&settings.sender_phone), 14);
            l.raw(19, postal(&settings.sender_postal_code).replace('-', ""));
            l.text(header, 20, &settings.sender_address1, 32);
            l.text(header, 21, &settings.sender_address2, 32);
            l.text(header, 22, sender, 32);
            for k in 0..5 {
                l.text(header, 25 + k, &item_name(k), 32);
            }
            l.raw(42, "1");
            if let Some(d) = s.scheduled_delivery_date {
                l.raw(45, ymd(format, d));
            }
            l.raw(46, slot);
            if p.cash_on_delivery {
                l.raw(48, o.totals.total.to_string());
                l.raw(49, tax.to_string());
            }
            l.raw(61, ymd(format, ship_on));
        }
        CarrierFormat::JapanpostYupri => {
            l.raw(1, key.clone());
            l.raw(2, if p.cash_on_delivery { "2" } else { "0" });
            l.raw(3, postal(&to.postal_code));
            let [a1, a2, a3] = address_lines(
                &format!("{}{}", to.prefecture, to.address1),
                &to.address2,
                40,
            );
            l.text(header, 4, &a1, 40);
            l.text(header, 5, &a2, 40);
            l.text(header, 6, &a3, 40);
            l.text(header, 7, format!("{company} {name}").trim(), 40);
            l.raw(8, "様");
            l.text(header, 9, &phone(&to.phone), 15);
            l.raw(10, postal(&settings.sender_postal_code));
            l.text(header, 11, &settings.sender_address1, 40);
            l.text(header, 12, &settings.sender_address2, 40);
            l.text(header, 13, sender, 40);
            l.text(header, 14, &phone(&settings.sender_phone), 15);
            l.text(header, 15, &item_name(0), 30);
            l.raw(16, ymd(format, ship_on));
            if let Some(d) = s.scheduled_delivery_date {
                l.raw(17, ymd(format, d));
            }
            l.raw(18, slot);
            if p.cash_on_delivery {
                l.raw(19, o.totals.total.to_string());
                l.raw(20, tax.to_string());
            }
        }
    }
    (l.cells, l.adjustments)
}

/// One line as CSV for the carrier: quoted only where needed, CRLF.
pub fn csv_line(cells: &[String]) -> String {
    let mut out = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if c.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&c.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(c);
        }
    }
    out.push_str("\r\n");
    out
}

/// Lines in CP932; every character was made printable before, so nothing is
/// lost here.
pub fn encode_cp932(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    // Cannot happen after `printable`; were it to, a `?` marks the place.
    let _ = crate::cp932::encode_into(text, &mut out, |_, out| {
        out.push(b'?');
        Ok::<_, ()>(())
    });
    out
}

/// ヤマト B2クラウド 外部データ取込 / 発行済データ (入出力用), 95 columns.
pub const B2_HEADER: &[&str] = &[
    "お客様管理番号",
    "送り状種類",
    "クール区分",
    "伝票番号",
    "出荷予定日",
    "お届け予定日",
    "配達時間帯",
    "お届け先コード",
    "お届け先電話番号",
    "お届け先電話番号枝番",
    "お届け先郵便番号",
    "お届け先住所",
    "お届け先アパートマンション名",
    "お届け先会社・部門１",
    "お届け先会社・部門２",
    "お届け先名",
    "お届け先名(ｶﾅ)",
    "敬称",
    "ご依頼主コード",
    "ご依頼主電話番号",
    "ご依頼主電話番号枝番",
    "ご依頼主郵便番号",
    "ご依頼主住所",
    "ご依頼主アパートマンション",
    "ご依頼主名",
    "ご依頼主名(ｶﾅ)",
    "品名コード１",
    "品名１",
    "品名コード２",
    "品名２",
    "荷扱い１",
    "荷扱い２",
    "記事",
    "ｺﾚｸﾄ代金引換額（税込)",
    "内消費税額等",
    "止置き",
    "営業所コード",
    "発行枚数",
    "個数口表示フラグ",
    "請求先顧客コード",
    "請求先分類コード",
    "運賃管理番号",
    "クロネコwebコレクトデータ登録",
    "クロネコwebコレクト加盟店番号",
    "クロネコwebコレクト申込受付番号１",
    "クロネコwebコレクト申込受付番号２",
    "クロネコwebコレクト申込受付番号３",
    "お届け予定ｅメール利用区分",
    "お届け予定ｅメールe-mailアドレス",
    "入力機種",
    "お届け予定ｅメールメッセージ",
    "お届け完了ｅメール利用区分",
    "お届け完了ｅメールe-mailアドレス",
    "お届け完了ｅメールメッセージ",
    "クロネコ収納代行利用区分",
    "予備",
    "収納代行請求金額(税込)",
    "収納代行内消費税額等",
    "収納代行請求先郵便番号",
    "収納代行請求先住所",
    "収納代行請求先住所（アパートマンション名）",
    "収納代行請求先会社・部門名１",
    "収納代行請求先会社・部門名２",
    "収納代行請求先名(漢字)",
    "収納代行請求先名(カナ)",
    "収納代行問合せ先名(漢字)",
    "収納代行問合せ先郵便番号",
    "収納代行問合せ先住所",
    "収納代行問合せ先住所（アパートマンション名）",
    "収納代行問合せ先電話番号",
    "収納代行管理番号",
    "収納代行品名",
    "収納代行備考",
    "複数口くくりキー",
    "検索キータイトル1",
    "検索キー1",
    "検索キータイトル2",
    "検索キー2",
    "検索キータイトル3",
    "検索キー3",
    "検索キータイトル4",
    "検索キー4",
    "検索キータイトル5",
    "検索キー5",
    "予備",
    "予備",
    "投函予定メール利用区分",
    "投函予定メールe-mailアドレス",
    "投函予定メールメッセージ",
    "投函完了メール（お届け先宛）利用区分",
    "投函完了メール（お届け先宛）e-mailアドレス",
    "投函完了メール（お届け先宛）メールメッセージ",
    "投函完了メール（ご依頼主宛）利用区分",
    "投函完了メール（ご依頼主宛）e-mailアドレス",
    "投函完了メール（ご依頼主宛）メールメッセージ",
];

/// 佐川 e飛伝Ⅲ 標準_飛脚宅急便_CSV_ヘッダ有り, 74 columns.
pub const EHIDEN3_HEADER: &[&str] = &[
    "お届け先コード取得区分",
    "お届け先コード",
    "お届け先電話番号",
    "お届け先郵便番号",
    "お届け先住所１",
    "お届け先住所２",
    "お届け先住所３",
    "お届け先名称１",
    "お届け先名称２",
    "お客様管理番号",
    "お客様コード",
    "部署ご担当者コード取得区分",
    "部署ご担当者コード",
    "部署ご担当者名称",
    "荷送人電話番号",
    "ご依頼主コード取得区分",
    "ご依頼主コード",
    "ご依頼主電話番号",
    "ご依頼主郵便番号",
    "ご依頼主住所１",
    "ご依頼主住所２",
    "ご依頼主名称１",
    "ご依頼主名称２",
    "荷姿",
    "品名１",
    "品名２",
    "品名３",
    "品名４",
    "品名５",
    "荷札荷姿",
    "荷札品名１",
    "荷札品名２",
    "荷札品名３",
    "荷札品名４",
    "荷札品名５",
    "荷札品名６",
    "荷札品名７",
    "荷札品名８",
    "荷札品名９",
    "荷札品名１０",
    "荷札品名１１",
    "出荷個数",
    "スピード指定",
    "クール便指定",
    "配達日",
    "配達指定時間帯",
    "配達指定時間（時分）",
    "代引金額",
    "消費税",
    "決済種別",
    "保険金額",
    "指定シール１",
    "指定シール２",
    "指定シール３",
    "営業所受取",
    "SRC区分",
    "営業所受取営業所コード",
    "元着区分",
    "メールアドレス",
    "ご不在時連絡先",
    "出荷日",
    "お問い合せ送り状No.",
    "出荷場印字区分",
    "集約解除指定",
    "編集０１",
    "編集０２",
    "編集０３",
    "編集０４",
    "編集０５",
    "編集０６",
    "編集０７",
    "編集０８",
    "編集０９",
    "編集１０",
];

/// juchu's ゆうプリR layout (with a header row the import filter skips).
pub const YUPRI_HEADER: &[&str] = &[
    "お客様管理番号",
    "元払/代引",
    "お届け先郵便番号",
    "お届け先住所1",
    "お届け先住所2",
    "お届け先住所3",
    "お届け先名",
    "お届け先敬称",
    "お届け先電話番号",
    "ご依頼主郵便番号",
    "ご依頼主住所1",
    "ご依頼主住所2",
    "ご依頼主名",
    "ご依頼主電話番号",
    "品名",
    "発送予定日",
    "配達希望日",
    "配達希望時間帯",
    "代引金額",
    "代引消費税",
];

/// What to set once in ゆうプリR's import filter (フィルタ設定) for juchu's
/// layout: column → ゆうプリR field. ゆうプリR's own filter file format is not
/// published, so juchu gives the mapping instead of the file.
pub const YUPRI_FILTER_GUIDE: &str = "ゆうプリR 取込フィルタの設定（1回だけ）\r\n\
種別: 郵便・ゆうパック標準取込 / 文字コード: Shift_JIS / 1行目（見出し）: 読み飛ばす\r\n\
1列目 お客様管理番号 → お客様側管理番号（発送済データの出力フィルタにも入れてください。出荷実績インポートの照合に使います）\r\n\
2列目 元払/代引 → 元／着払／代引（0 元払、2 代引）\r\n\
3列目 お届け先郵便番号 → お届け先 郵便番号\r\n\
4〜6列目 お届け先住所1〜3 → お届け先 住所1〜3\r\n\
7列目 お届け先名 → お届け先 氏名\r\n\
8列目 お届け先敬称 → お届け先 敬称\r\n\
9列目 お届け先電話番号 → お届け先 電話番号\r\n\
10列目 ご依頼主郵便番号 → ご依頼主 郵便番号\r\n\
11〜12列目 ご依頼主住所1〜2 → ご依頼主 住所1〜2\r\n\
13列目 ご依頼主名 → ご依頼主 氏名\r\n\
14列目 ご依頼主電話番号 → ご依頼主 電話番号\r\n\
15列目 品名 → 品名\r\n\
16列目 発送予定日 → 発送予定日（YYYY/MM/DD）\r\n\
17列目 配達希望日 → 配達希望日（YYYY/MM/DD）\r\n\
18列目 配達希望時間帯 → 配達希望時間帯（51 午前中、52 12-14時、53 14-16時、54 16-18時、55 18-20時、56 19-21時: 時間帯コードはお使いのゆうプリRの表で確認してください）\r\n\
19列目 代引金額 → 代引金額\r\n\
20列目 代引消費税 → 代引金額のうち消費税\r\n\
発送済データの出力フィルタ: お客様側管理番号・お問い合わせ番号・発送予定日を見出し付きで出力すると、juchu の出荷実績インポート（日本郵便 ゆうプリR）でそのまま取り込めます。\r\n";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{masters, order_with, products};

    fn settings() -> ShippingSettings {
        ShippingSettings {
            sender_name: "juchu 茶舗".into(),
            sender_phone: "03-0000-0000".into(),
            sender_postal_code: "1500001".into(),
            sender_address1: "東京都渋谷区神宮前1-2-3".into(),
            yamato_customer_code: "012345678901".into(),
            yamato_freight_number: "01".into(),
            sagawa_customer_code: "123456789012".into(),
            ..Default::default()
        }
    }

    #[test]
    fn layouts_have_the_carriers_column_counts() {
        assert_eq!(B2_HEADER.len(), 95);
        assert_eq!(EHIDEN3_HEADER.len(), 74);
        assert_eq!(B2_HEADER[33], "ｺﾚｸﾄ代金引換額（税込)");
        assert_eq!(EHIDEN3_HEADER[61], "お問い合せ送り状No.");
    }

    #[test]
    fn jis_x_0208_only_with_a_documented_table() {
        for ok in ['あ', 'ア', 'ｱ', '漢', '〒', '－', 'A'] {
            assert!(carrier_accepts(ok), "{ok}");
        }
        for bad in ['𠮷', '髙', '①', '㈱', '😀', '﨑', '纊'] {
            assert!(!carrier_accepts(bad), "{bad}");
        }
        let (s, r) = printable("𠮷田 髙子 ①丁目 ㈱ 😀");
        assert_eq!(s, "吉田 高子 (1)丁目 (株) 〓");
        assert_eq!(r.len(), 5);
        assert_eq!(printable("plain").1, vec![]);
    }

    #[test]
    fn cutting_counts_full_width_as_two_and_keeps_characters_whole() {
        assert_eq!(width("あa"), 3);
        assert_eq!(cut("ああああ", 5), ("ああ".to_string(), true));
        assert_eq!(cut("abc", 5), ("abc".to_string(), false));
    }

    #[test]
    fn company_and_department_reach_every_carrier_file() {
        let (m, p) = (masters(), products());
        let mut o = order_with(&m, &p, &[("TEA-01", 1, None)]);
        o.order_number = "1002".into();
        o.shipping.company_name = "株式会社やまだ".into();
        o.shipping.department = "購買部".into();
        o.shipping.family_name = "山田".into();
        o.shipping.given_name = "花子".into();
        let ships = o.effective_shipments();
        let parcel = Parcel {
            order: &o,
            shipment: &ships[0],
            cash_on_delivery: false,
        };
        let today: Date = "2026-12-06".parse().unwrap();
        let (b2, _) = line(CarrierFormat::YamatoB2, &parcel, &settings(), "shop", today);
        let h = header(CarrierFormat::YamatoB2);
        assert_eq!(
            (h[13], b2[13].as_str()),
            ("お届け先会社・部門１", "株式会社やまだ")
        );
        assert_eq!((h[14], b2[14].as_str()), ("お届け先会社・部門２", "購買部"));
        assert_eq!(b2[15], "山田 花子");
        let (sagawa, _) = line(
            CarrierFormat::SagawaEhiden3,
            &parcel,
            &settings(),
            "shop",
            today,
        );
        let h = header(CarrierFormat::SagawaEhiden3);
        assert_eq!(
            (h[7], sagawa[7].as_str()),
            ("お届け先名称１", "株式会社やまだ")
        );
        assert_eq!(
            (h[8], sagawa[8].as_str()),
            ("お届け先名称２", "購買部 山田 花子")
        );
        let (yupri, _) = line(
            CarrierFormat::JapanpostYupri,
            &parcel,
            &settings(),
            "shop",
            today,
        );
        assert_eq!(yupri[6], "株式会社やまだ 山田 花子");
    }

    #[test]
    fn b2_line_joins_back_and_collects_cash_on_delivery() {
        let (m, p) = (masters(), products());
        let mut o = order_with(&m, &p, &[("TEA-01", 2, None)]);
        o.order_number = "1001".into();
        o.shipping.address1 = "渋谷区神宮前1-2-3 𠮷田ビル".into();
        o.shipping.family_name = "=山田".into();
        o.shipping.given_name = "花子".into();
        o.delivery_time_slot = Some("午前中".into());
        o.scheduled_delivery_date = Some("2026-12-09".parse().unwrap());
        let ships = o.effective_shipments();
        let parcel = Parcel {
            order: &o,
            shipment: &ships[0],
            cash_on_delivery: true,
        };
        let today: Date = "2026-12-06".parse().unwrap();
        let (cells, adj) = line(CarrierFormat::YamatoB2, &parcel, &settings(), "shop", today);
        assert_eq!(cells.len(), 95);
        assert_eq!(cells[0], "1001-1", "お客様管理番号 = the package id");
        assert_eq!(cells[1], "2", "コレクト");
        assert_eq!(cells[4], "2026/12/06");
        assert_eq!(cells[5], "2026/12/09");
        assert_eq!(cells[6], "0812");
        assert_eq!(cells[33], o.totals.total.to_string());
        assert_eq!(
            cells[34],
            (o.totals.tax_standard + o.totals.tax_reduced).to_string()
        );
        assert_eq!(cells[39], "012345678901");
        assert_eq!(cells[15], "山田 花子", "no formula, and no quote either");
        assert!(cells[11].contains("吉田ビル"));
        assert!(
            adj.iter()
                .any(|a| matches!(a, Adjustment::Replaced { from: '𠮷', .. }))
        );
        let text = csv_line(&cells);
        assert!(text.ends_with("\r\n"));
        assert!(!text.contains('\''));
        let (sagawa, _) = line(
            CarrierFormat::SagawaEhiden3,
            &parcel,
            &settings(),
            "shop",
            today,
        );
        assert_eq!(sagawa.len(), 74);
        assert_eq!(sagawa[9], "1001-1");
        assert_eq!(sagawa[44], "20261209");
        assert_eq!(sagawa[45], "01");
        assert_eq!(sagawa[60], "20261206");
    }

    #[test]
    fn settings_name_what_a_carrier_needs() {
        let e = ShippingSettings::default()
            .check_for(CarrierFormat::YamatoB2)
            .unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"shipping_settings.yamato_customer_code"));
        assert!(settings().check_for(CarrierFormat::SagawaEhiden3).is_ok());
        let bad = ShippingSettings {
            yamato_freight_number: "1".into(),
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().0[0].field,
            "yamato_freight_number"
        );
    }
}
