//! 入金消込: a payments file (the standard format keyed by 受注番号, or a
//! bank's transfer list keyed by the transfer name and the amount) read and
//! planned row by row before anything changes. A row that matches becomes
//! 入金済み with its 入金日 through the order pipeline; an amount that is not
//! the order's is refused with both amounts shown; the same file twice
//! changes nothing the second time.

use crate::document::yen;
use crate::error::FieldErrors;
use crate::order::Order;
use crate::patch::OrderPatch;
use crate::shipment_import::RowPlan;
use crate::status::PaymentStatus;
use jiff::civil::Date;

/// One data row (`line`: the file's line number, the header is 1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PaymentRow {
    pub line: usize,
    pub order_number: String,
    /// 振込依頼人名 as the bank writes it (half-width katakana, usually).
    pub transfer_name: String,
    pub amount: String,
    pub paid_on: String,
}

/// The payment file formats, by the name the API takes.
pub const FORMATS: &[(&str, &str)] = &[
    ("standard", "標準（受注番号・入金額・入金日）"),
    (
        "bank_transfer",
        "銀行の入金明細（振込依頼人名・金額・日付）",
    ),
];

/// The columns of a format: (role, accepted header names, required).
fn columns(format: &str) -> Option<[(&'static str, &'static [&'static str], bool); 4]> {
    match format {
        "standard" => Some([
            ("order_number", &["受注番号"], true),
            ("transfer_name", &[], false),
            ("amount", &["入金額", "金額"], true),
            ("paid_on", &["入金日"], false),
        ]),
        "bank_transfer" => Some([
            ("order_number", &[], false),
            (
                "transfer_name",
                &["振込依頼人名", "依頼人名", "振込人名", "お振込人名", "摘要"],
                true,
            ),
            (
                "amount",
                &["金額", "入金額", "振込金額", "お取引金額"],
                true,
            ),
            ("paid_on", &["入金日", "取扱日", "勘定日", "日付"], false),
        ]),
        _ => None,
    }
}

/// Reads a payments file of `format`. A missing column is an error naming it;
/// a row with a different number of cells names its line.
pub fn read(text: &str, format: &str) -> Result<Vec<PaymentRow>, FieldErrors> {
    let Some(cols) = columns(format) else {
        return Err(FieldErrors::single(
            "format",
            "unknown_format",
            format!("入金ファイルの形式「{format}」はありません（standard・bank_transfer）"),
        ));
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let headers: Vec<String> = match records.next() {
        None => return Err(FieldErrors::single("file", "empty", "ファイルが空です")),
        Some(r) => r
            .map_err(|e| FieldErrors::single("file", "invalid_csv", format!("1行目: {e}")))?
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect(),
    };
    let mut e = FieldErrors::default();
    let mut at = [None; 4];
    for (k, (_, names, required)) in cols.iter().enumerate() {
        at[k] = names
            .iter()
            .find_map(|n| headers.iter().position(|h| h == n));
        if *required && at[k].is_none() {
            e.add(
                "file",
                "missing_column",
                format!("1行目に「{}」の列がありません", names.join("」か「")),
            );
        }
    }
    e.into_result()?;
    let mut rows = Vec::new();
    let mut lines = crate::shipment_import::LineCounter::new(text);
    for (i, record) in records.enumerate() {
        let record = record.map_err(|err| {
            let line = err.position().map_or(i + 2, |p| lines.at(p.byte()));
            FieldErrors::single("file", "invalid_csv", format!("{line}行目: {err}"))
        })?;
        // The file's own line (blank lines and quoted line breaks counted).
        let line = record.position().map_or(i + 2, |p| lines.at(p.byte()));
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
        let row = PaymentRow {
            line,
            order_number: cell(at[0]),
            transfer_name: cell(at[1]),
            amount: cell(at[2]),
            paid_on: cell(at[3]),
        };
        if row.order_number.is_empty() && row.transfer_name.is_empty() && row.amount.is_empty() {
            continue;
        }
        rows.push(row);
    }
    Ok(rows)
}

/// An amount as banks and spreadsheets write it: `3,980`, `￥3,980`, `3980円`.
pub fn parse_amount(s: &str) -> Option<i64> {
    let digits: String = crate::normalize::nfkc(s)
        .chars()
        .filter(|c| !matches!(c, ',' | '¥' | '￥' | '円' | ' '))
        .collect();
    digits.parse::<i64>().ok().filter(|a| *a > 0)
}

/// What `row` would do to `order` (`Err`: why no order was found). `today`
/// is the 入金日 of a row without one.
pub fn plan(row: &PaymentRow, order: Result<&Order, String>, today: Date) -> RowPlan {
    let order = match order {
        Ok(o) => o,
        Err(why) => return RowPlan::Refused(why),
    };
    let Some(amount) = parse_amount(&row.amount) else {
        return RowPlan::Refused(format!("入金額「{}」は金額として読めません", row.amount));
    };
    let paid_on = if row.paid_on.is_empty() {
        today
    } else {
        match crate::time::parse_date(&row.paid_on) {
            Ok(d) => d,
            Err(why) => return RowPlan::Refused(format!("入金日: {why}")),
        }
    };
    if amount != order.totals.total {
        return RowPlan::Refused(format!(
            "入金額 {} が受注 {} の請求額 {} と合いません",
            yen(amount),
            order.order_number,
            yen(order.totals.total)
        ));
    }
    if order.payment_status == PaymentStatus::Paid {
        return match order.paid_at {
            Some(d) if d == paid_on || row.paid_on.is_empty() => RowPlan::Unchanged,
            Some(d) => RowPlan::Refused(format!("既に入金済みです（入金日 {d}）")),
            None => RowPlan::Change(
                Box::new(OrderPatch {
                    paid_at: Some(Some(paid_on.to_string())),
                    ..Default::default()
                }),
                format!("入金日 {paid_on}"),
            ),
        };
    }
    if !order.payment_status.can_become(PaymentStatus::Paid) {
        return RowPlan::Refused(format!(
            "決済状況が「{}」のため入金済みにできません",
            order.payment_status.label()
        ));
    }
    RowPlan::Change(
        Box::new(OrderPatch {
            payment_status: Some(PaymentStatus::Paid.label().into()),
            paid_at: Some(Some(paid_on.to_string())),
            ..Default::default()
        }),
        format!("入金済み（{}、入金日 {paid_on}）", yen(amount)),
    )
}

/// Why a bank row found no order, or found several (then a person decides).
pub fn match_transfer(row: &PaymentRow, candidates: &[String]) -> Result<String, String> {
    match candidates {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "振込依頼人名「{}」・金額 {} に合う入金待ちの受注がありません",
            row.transfer_name, row.amount
        )),
        many => Err(format!(
            "振込依頼人名「{}」・金額 {} に合う受注が{}件あります（{}）。受注番号で消込してください",
            row.transfer_name,
            row.amount,
            many.len(),
            many.join("、")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{masters, order_with, products};

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn formats_read_by_header_and_name_what_is_missing() {
        let rows = read(
            "入金日,受注番号,入金額\r\n2026/12/05,1001,\"3,980\"\r\n,,\r\n",
            "standard",
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].line, rows[0].amount.as_str()), (2, "3,980"));
        let rows = read(
            "取扱日,振込依頼人名,金額\n20261205,ﾔﾏﾀﾞ ﾊﾅｺ,3980\n",
            "bank_transfer",
        )
        .unwrap();
        assert_eq!(rows[0].transfer_name, "ﾔﾏﾀﾞ ﾊﾅｺ");
        let e = read("受注番号\n1001\n", "standard").unwrap_err();
        assert!(e.0[0].message.contains("入金額"), "{e}");
        assert!(read("a\n", "mt940").is_err());
        let e = read("受注番号,入金額\n1001,1,2\n", "standard").unwrap_err();
        assert!(e.0[0].message.starts_with("2行目"), "{e}");
    }

    #[test]
    fn amounts_read_as_written() {
        assert_eq!(parse_amount("3,980"), Some(3980));
        assert_eq!(parse_amount("￥３，９８０"), Some(3980));
        assert_eq!(parse_amount("3980円"), Some(3980));
        assert_eq!(parse_amount("-5"), None);
        assert_eq!(parse_amount("abc"), None);
    }

    #[test]
    fn rows_plan_payment_refusals_and_no_change() {
        let (m, p) = (masters(), products());
        let mut o = order_with(&m, &p, &[("TEA-01", 1, Some(3000))]);
        o.order_number = "1001".into();
        o.payment_status = PaymentStatus::AwaitingPayment;
        let total = o.totals.total;
        let row = |amount: String, on: &str| PaymentRow {
            line: 2,
            order_number: "1001".into(),
            amount,
            paid_on: on.into(),
            ..Default::default()
        };
        let today = day("2026-12-06");
        let plan_ok = plan(&row(total.to_string(), "2026/12/05"), Ok(&o), today);
        let RowPlan::Change(patch, said) = &plan_ok else {
            panic!("{plan_ok:?}")
        };
        assert_eq!(patch.payment_status.as_deref(), Some("入金済み"));
        assert_eq!(patch.paid_at, Some(Some("2026-12-05".into())));
        assert!(said.contains("2026-12-05"));
        let wrong = plan(&row("100".into(), ""), Ok(&o), today);
        assert!(
            matches!(&wrong, RowPlan::Refused(m) if m.contains("¥100") && m.contains(&yen(total))),
            "{wrong:?}"
        );
        let mut paid = o.clone();
        paid.payment_status = PaymentStatus::Paid;
        paid.paid_at = Some(day("2026-12-05"));
        assert!(matches!(
            plan(&row(total.to_string(), "2026-12-05"), Ok(&paid), today),
            RowPlan::Unchanged
        ));
        assert!(matches!(
            plan(&row(total.to_string(), "2026-12-01"), Ok(&paid), today),
            RowPlan::Refused(_)
        ));
        let mut cancelled = o.clone();
        cancelled.payment_status = PaymentStatus::Captured;
        assert!(matches!(
            plan(&row(total.to_string(), ""), Ok(&cancelled), today),
            RowPlan::Refused(m) if m.contains("決済状況")
        ));
        assert!(matches!(
            plan(&row(total.to_string(), ""), Err("x".into()), today),
            RowPlan::Refused(m) if m == "x"
        ));
    }

    #[test]
    fn transfers_match_one_order_or_go_to_a_person() {
        let row = PaymentRow {
            transfer_name: "ﾔﾏﾀﾞ ﾊﾅｺ".into(),
            amount: "3980".into(),
            ..Default::default()
        };
        assert_eq!(match_transfer(&row, &["1001".into()]).unwrap(), "1001");
        assert!(
            match_transfer(&row, &[])
                .unwrap_err()
                .contains("ありません")
        );
        assert!(
            match_transfer(&row, &["1".into(), "2".into()])
                .unwrap_err()
                .contains("2件")
        );
    }
}
