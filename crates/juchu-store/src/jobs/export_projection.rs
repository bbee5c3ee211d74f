//! What a CSV export reads: for each column of the format only the values its
//! cell is made from ([`juchu_domain::csv_format::Render`]), selected by one
//! statement that joins the job's frozen items with the orders (`o`), their
//! items (`i`, one row per item), customers (`c`) and subscriptions (`s`),
//! in the job's order. Nothing else of an order is read or decoded: an export
//! of a million orders costs about what the same join costs in `COPY`.

use crate::db::Arg;
use crate::{Backend, StoreError};
use juchu_domain::csv_format::{
    ATTRIBUTE_PREFIX, ColumnGroup, CsvFormat, Raw, Render, RowPer, render_of,
};

/// The type of a selected value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Int,
    Text,
}

use Ty::{Int, Text};

/// The SQL of the values the column `key` is rendered from (see [`render_of`]).
fn values_of(key: &str) -> &'static [(&'static str, Ty)] {
    match key {
        "order_number" => &[("o.order_number", Text)],
        "ordered_at" => &[("o.ordered_at", Text)],
        "handling_status" => &[("o.handling_status_id", Int)],
        "payment_status" => &[("o.payment_status", Text)],
        "payment_method" => &[("o.payment_method_id", Int)],
        "carrier" => &[("o.carrier_id", Int)],
        "items_total" => &[("o.items_standard + o.items_reduced", Int)],
        "shipping_fee" => &[("o.shipping_fee", Int)],
        "payment_fee" => &[("o.payment_fee", Int)],
        "discount" => &[("o.discount", Int)],
        "points_used" => &[("o.points_used", Int)],
        "points_granted" => &[("o.points_granted", Int)],
        "total" => &[("o.total", Int)],
        "taxable_standard" => &[("o.taxable_standard", Int)],
        "tax_standard" => &[("o.tax_standard", Int)],
        "taxable_reduced" => &[("o.taxable_reduced", Int)],
        "tax_reduced" => &[("o.tax_reduced", Int)],
        "tracking_number" => &[("o.tracking_number", Text)],
        "shipment_status" => &[("o.shipment_status", Text)],
        "scheduled_ship_date" => &[("o.scheduled_ship_date", Text)],
        "shipped_at" => &[("o.shipped_at", Text)],
        "scheduled_delivery_date" => &[("o.scheduled_delivery_date", Text)],
        "delivery_time_slot" => &[("o.delivery_time_slot", Text)],
        "delivered_at" => &[("o.delivered_at", Text)],
        "paid_at" => &[("o.paid_at", Text)],
        "shipping_list_state" => &[("o.shipping_list_state", Text)],
        "shipping_list_exported_on" => &[("o.shipping_list_exported_on", Text)],
        "memo" => &[("o.memo", Text)],
        // The dialect's aggregate is put in by `expression`.
        "labels" => &[(LABELS, Text)],
        "needs_attention" => &[("o.needs_attention", Int)],
        "needs_attention_reason" => &[("o.needs_attention_reason", Text)],
        "billing_name" => &[
            ("o.billing_family_name", Text),
            ("o.billing_given_name", Text),
        ],
        "billing_kana" => &[
            ("o.billing_family_kana", Text),
            ("o.billing_given_kana", Text),
        ],
        "billing_postal_code" => &[("o.billing_postal_code", Text)],
        "billing_prefecture" => &[("o.billing_prefecture", Text)],
        "billing_address1" => &[("o.billing_address1", Text)],
        "billing_address2" => &[("o.billing_address2", Text)],
        "billing_phone" => &[("o.billing_phone", Text)],
        "billing_email" => &[("o.billing_email", Text)],
        "billing_company_name" => &[("o.billing_company_name", Text)],
        "billing_department" => &[("o.billing_department", Text)],
        "shipping_name" => &[
            ("o.shipping_family_name", Text),
            ("o.shipping_given_name", Text),
        ],
        "shipping_kana" => &[
            ("o.shipping_family_kana", Text),
            ("o.shipping_given_kana", Text),
        ],
        "shipping_postal_code" => &[("o.shipping_postal_code", Text)],
        "shipping_prefecture" => &[("o.shipping_prefecture", Text)],
        "shipping_address1" => &[("o.shipping_address1", Text)],
        "shipping_address2" => &[("o.shipping_address2", Text)],
        "shipping_phone" => &[("o.shipping_phone", Text)],
        "shipping_company_name" => &[("o.shipping_company_name", Text)],
        "shipping_department" => &[("o.shipping_department", Text)],
        "item_product_code" => &[("i.product_code", Text)],
        "item_product_name" => &[("i.product_name", Text)],
        "item_unit_price" => &[("i.unit_price", Int)],
        "item_quantity" => &[("i.quantity", Int)],
        "item_tax_rate" => &[("i.tax_rate", Int)],
        "item_amount" => &[("i.unit_price * i.quantity", Int)],
        "customer_id" => &[("o.customer_id", Int)],
        "customer_points" => &[("c.points", Int)],
        "customer_memo" => &[("c.memo", Text)],
        "customer_blacklisted" => &[("c.blacklisted", Int)],
        "subscription_id" => &[("o.subscription_id", Int)],
        "subscription_status" => &[("s.status", Text)],
        "subscription_count" => &[("s.count", Int)],
        "subscription_next_delivery" => &[("s.next_delivery_date", Text)],
        "subscription_next_ship" => &[("s.next_ship_date", Text)],
        _ => &[],
    }
}

/// Stands for the label aggregate in [`values_of`].
const LABELS: &str = "labels";

/// One column: how it is rendered and where its values are in a row.
pub(crate) struct ProjectedColumn {
    pub render: Render,
    /// Indexes into the selected values (after `seq` and `order_id`).
    pub values: Vec<usize>,
}

/// The statement of an export and how to read its rows.
pub(crate) struct Projection {
    pub sql: String,
    /// Bound after the job id: the attribute names.
    pub args: Vec<Arg>,
    pub types: Vec<Ty>,
    pub columns: Vec<ProjectedColumn>,
}

impl Projection {
    /// The statement reading `format`'s values for every item of `job_id`:
    /// `seq`, the order id (NULL when the order was deleted) and the values.
    pub(crate) fn of(format: &CsvFormat, backend: Backend, job_id: i64) -> Projection {
        Self::build(format, backend, job_id, false)
    }

    /// The same rows as `COPY (…) TO STDOUT (FORMAT binary)` on PostgreSQL
    /// ([`super::copy_binary`]). COPY takes no parameters: the job id and the
    /// attribute names are written in as escape string literals, and every
    /// value is cast to
    /// `BIGINT` or `TEXT`, the binary forms the reader knows.
    /// `Err` says why the format cannot be exported (the job fails with it).
    pub(crate) fn inline(format: &CsvFormat, job_id: i64) -> Result<Projection, String> {
        if let Some(c) = format.columns.iter().find(|c| c.key.contains('\0')) {
            return Err(format!(
                "CSVフォーマットの項目「{}」に NUL 文字があります",
                c.key.replace('\0', "")
            ));
        }
        let mut p = Self::build(format, Backend::Postgres, job_id, true);
        p.sql = format!("COPY ({}) TO STDOUT (FORMAT binary)", p.sql);
        Ok(p)
    }

    fn build(format: &CsvFormat, backend: Backend, job_id: i64, inline: bool) -> Projection {
        let per_item = format.row_per == RowPer::Item;
        let mut exprs: Vec<String> = Vec::new();
        let mut types: Vec<Ty> = Vec::new();
        let mut args: Vec<Arg> = vec![Arg::from(job_id)];
        let mut columns = Vec::with_capacity(format.columns.len());
        let mut index_of = |expr: String, ty: Ty, exprs: &mut Vec<String>| {
            if let Some(k) = exprs.iter().position(|e| *e == expr) {
                return k;
            }
            exprs.push(expr);
            types.push(ty);
            exprs.len() - 1
        };
        for c in &format.columns {
            let key = c.key.trim();
            if let Some(name) = key.strip_prefix(ATTRIBUTE_PREFIX) {
                let name = if inline {
                    sql_literal(name)
                } else {
                    args.push(Arg::from(name));
                    format!("${}", args.len())
                };
                let expr = format!(
                    "(SELECT a.value FROM order_attributes a WHERE a.order_id = o.id AND a.name = {name})"
                );
                columns.push(ProjectedColumn {
                    render: Render::Plain,
                    values: vec![index_of(expr, Text, &mut exprs)],
                });
                continue;
            }
            let values = values_of(key)
                .iter()
                .map(|(sql, ty)| {
                    let expr = if *sql == LABELS {
                        labels_expression(backend).to_string()
                    } else if sql.starts_with("i.") && !per_item {
                        // One row per order: item columns stay empty.
                        null_of(*ty).to_string()
                    } else {
                        sql.to_string()
                    };
                    index_of(expr, *ty, &mut exprs)
                })
                .collect();
            columns.push(ProjectedColumn {
                render: render_of(key),
                values,
            });
        }
        let mut joins = String::new();
        if per_item {
            joins.push_str(" LEFT JOIN order_items i ON i.order_id = o.id");
        }
        if format.needs(ColumnGroup::Customer) {
            joins.push_str(" LEFT JOIN customers c ON c.id = o.customer_id");
        }
        if exprs.iter().any(|e| e.starts_with("s.")) {
            // An order's subscription, or for a parent order the first one it
            // started, as the order's own page shows.
            joins.push_str(
                " LEFT JOIN subscriptions s ON s.id = COALESCE(o.subscription_id, \
                 (SELECT MIN(x.id) FROM subscriptions x WHERE x.parent_order_id = o.id))",
            );
        }
        if inline {
            for (expr, ty) in exprs.iter_mut().zip(&types) {
                let to = match ty {
                    Int => "BIGINT",
                    Text => "TEXT",
                };
                *expr = format!("CAST({expr} AS {to})");
            }
        }
        let select = if exprs.is_empty() {
            String::new()
        } else {
            format!(", {}", exprs.join(", "))
        };
        let order = if per_item {
            "ji.seq, i.position"
        } else {
            "ji.seq"
        };
        let (key, job) = if inline {
            args.clear();
            (
                "CAST(ji.seq AS BIGINT), CAST(o.id AS BIGINT)",
                job_id.to_string(),
            )
        } else {
            ("ji.seq, o.id", "$1".to_string())
        };
        let sql = format!(
            "SELECT {key} AS order_id{select} FROM job_items ji \
             LEFT JOIN orders o ON o.id = ji.order_id{joins} \
             WHERE ji.job_id = {job} ORDER BY {order}"
        );
        Projection {
            sql,
            args,
            types,
            columns,
        }
    }
}

/// `text` as an escape string literal (`E'…'`): backslashes and quotes are
/// escaped, so it reads as written whatever the server's
/// `standard_conforming_strings`.
fn sql_literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

fn null_of(ty: Ty) -> &'static str {
    match ty {
        Int => "CAST(NULL AS BIGINT)",
        Text => "CAST(NULL AS TEXT)",
    }
}

/// The order's label ids separated by spaces (rendered in id order).
fn labels_expression(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "(SELECT string_agg(CAST(l.label_id AS TEXT), ' ') FROM order_label_links l WHERE l.order_id = o.id)"
        }
        Backend::Sqlite => {
            "(SELECT group_concat(l.label_id, ' ') FROM order_label_links l WHERE l.order_id = o.id)"
        }
    }
}

/// The values of one row, borrowed from it.
pub(crate) fn row_values<'r>(
    row: &'r sqlx::any::AnyRow,
    types: &[Ty],
    out: &mut Vec<Raw<'r>>,
) -> Result<(), StoreError> {
    use sqlx::Row;
    out.clear();
    for (k, ty) in types.iter().enumerate() {
        let at = k + 2;
        out.push(match ty {
            Int => row
                .try_get::<Option<i64>, _>(at)?
                .map_or(Raw::Null, Raw::Int),
            Text => row
                .try_get::<Option<&str>, _>(at)?
                .map_or(Raw::Null, Raw::Text),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use juchu_domain::csv_format::{CATALOGUE, Column, Encoding, Unmappable};

    /// A format of `keys` (the projection does not depend on the encoding).
    fn format(row_per: RowPer, keys: &[&str]) -> CsvFormat {
        CsvFormat {
            id: 1,
            name: "x".into(),
            row_per,
            encoding: Encoding::Utf8,
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
    fn every_catalogue_column_reads_as_many_values_as_it_renders() {
        for (key, _, _) in CATALOGUE {
            let values = values_of(key);
            assert_eq!(
                values.len(),
                render_of(key).arity(),
                "{key}: values {values:?}"
            );
        }
    }

    #[test]
    fn the_projection_joins_only_what_the_format_reads() {
        let p = Projection::of(
            &format(RowPer::Order, &["order_number", "item_product_code"]),
            Backend::Sqlite,
            7,
        );
        assert!(!p.sql.contains("order_items"), "{}", p.sql);
        assert!(p.sql.contains("CAST(NULL AS TEXT)"));
        let p = Projection::of(
            &format(
                RowPer::Item,
                &[
                    "billing_name",
                    "order_number",
                    "attribute:好きな色",
                    "customer_points",
                    "subscription_status",
                ],
            ),
            Backend::Postgres,
            7,
        );
        assert!(p.sql.contains("LEFT JOIN order_items i"));
        assert!(p.sql.contains("LEFT JOIN customers c"));
        assert!(p.sql.contains("LEFT JOIN subscriptions s"));
        assert!(p.sql.contains("a.name = $2"));
        assert_eq!(p.args.len(), 2);
        assert_eq!(p.columns[0].values, vec![0, 1]);
        assert_eq!(p.columns[1].values, vec![2]);
        assert_eq!(p.types.len(), 6);
    }

    #[test]
    fn the_copy_statement_writes_its_literals_in_and_casts_every_value() {
        let format = format(
            RowPer::Item,
            &["order_number", "item_quantity", "attribute:it's \\n"],
        );
        let p = Projection::inline(&format, 42).unwrap();
        assert!(p.args.is_empty());
        assert!(!p.sql.contains('$'), "{}", p.sql);
        assert!(p.sql.starts_with("COPY (SELECT CAST(ji.seq AS BIGINT), CAST(o.id AS BIGINT) AS order_id, CAST(o.order_number AS TEXT), CAST(i.quantity AS BIGINT)"), "{}", p.sql);
        assert!(p.sql.contains("a.name = E'it''s \\\\n'"), "{}", p.sql);
        assert!(p.sql.contains("WHERE ji.job_id = 42 ORDER BY"));
        assert!(p.sql.ends_with(") TO STDOUT (FORMAT binary)"));
        let mut bad = format.clone();
        bad.columns[0].key = "attribute:a\0b".into();
        assert!(Projection::inline(&bad, 42).is_err());
    }
}
