//! Multi-row INSERTs: the one way the store writes many rows at once.

use super::{Arg, Backend, Tx, query_with, rows_per_statement, values_placeholders};
use crate::StoreError;

/// Rows for one table, ready for a multi-row INSERT.
pub(crate) struct Rows {
    pub table: &'static str,
    pub columns: String,
    pub width: usize,
    pub args: Vec<Arg>,
}

impl Rows {
    pub fn new(table: &'static str, columns: &[&str]) -> Rows {
        Rows {
            table,
            columns: columns.join(", "),
            width: columns.len(),
            args: Vec::new(),
        }
    }
    pub fn len(&self) -> usize {
        self.args.len() / self.width
    }
}

/// From this many rows on, SQLite gets a set as one JSON parameter: sqlx-sqlite
/// resolves every `$n` by walking the statement's parameter list, so binding
/// many values is quadratic (a tenth of a bulk update's CPU, measured).
const JSON_FROM_ROWS: usize = 8;

/// Writes row sets. On PostgreSQL, when everything fits one statement, all sets go
/// in one round trip as data-modifying CTEs (ids are allocated beforehand, so no
/// set depends on another's output; foreign keys are checked at the end of the
/// statement). Otherwise, and on SQLite (no INSERT in CTEs), each set is written
/// in statements of at most [`super::max_binds`] values.
pub(crate) async fn write_rows(
    tx: &mut Tx,
    backend: Backend,
    sets: Vec<Rows>,
) -> Result<(), StoreError> {
    let sets: Vec<Rows> = sets.into_iter().filter(|r| !r.args.is_empty()).collect();
    let total: usize = sets.iter().map(|r| r.args.len()).sum();
    if backend == Backend::Postgres && sets.len() > 1 && total <= super::max_binds(backend) {
        let mut sql = String::from("WITH ");
        let mut args = Vec::with_capacity(total);
        let last = sets.len() - 1;
        for (k, set) in sets.into_iter().enumerate() {
            let insert = format!(
                "INSERT INTO {} ({}) VALUES {}",
                set.table,
                set.columns,
                values_placeholders(set.len(), set.width, args.len() + 1)
            );
            if k == last {
                sql.truncate(sql.len() - 2);
                sql.push(' ');
                sql.push_str(&insert);
            } else {
                sql.push_str(&format!("w{k} AS ({insert}), "));
            }
            args.extend(set.args);
        }
        query_with(sql, args).execute(&mut **tx).await?;
        return Ok(());
    }
    for set in sets {
        if backend == Backend::Sqlite && set.len() > JSON_FROM_ROWS {
            write_rows_as_json(tx, &set).await?;
            continue;
        }
        let per = rows_per_statement(backend, set.width);
        for chunk in set.args.chunks(per * set.width) {
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {}",
                set.table,
                set.columns,
                values_placeholders(chunk.len() / set.width, set.width, 1)
            );
            query_with(sql, chunk.to_vec()).execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// A set's rows on SQLite as one JSON array of arrays, inserted in order by
/// `jsonb_each` (JSON numbers arrive as INTEGER, strings as TEXT, null as NULL:
/// what the bound values would have been). `jsonb_each` hands each row on as
/// binary JSON: with `json_each` every `json_extract` parsed the row's text
/// again (a seventh of the daily run's CPU on wide order rows, measured).
async fn write_rows_as_json(tx: &mut Tx, set: &Rows) -> Result<(), StoreError> {
    let picks: Vec<String> = (0..set.width)
        .map(|i| format!("json_extract(value, '$[{i}]')"))
        .collect();
    let sql = format!(
        "INSERT INTO {} ({}) SELECT {} FROM jsonb_each($1) ORDER BY key",
        set.table,
        set.columns,
        picks.join(", ")
    );
    for chunk in set.args.chunks(5000 * set.width) {
        let rows: Vec<serde_json::Value> = chunk
            .chunks(set.width)
            .map(|row| serde_json::Value::Array(row.iter().map(Arg::to_json).collect()))
            .collect();
        let json = serde_json::to_string(&rows)
            .map_err(|e| StoreError::Other(format!("rows as JSON: {e}")))?;
        query_with(sql.clone(), vec![json.into()])
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
