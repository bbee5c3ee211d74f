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

/// Values per multi-row INSERT on SQLite. Its placeholders are anonymous
/// (`?`): sqlx-sqlite resolves a named one (`$n`) by walking the statement's
/// parameter list, so binding many `$n` is quadratic (a tenth of a bulk
/// update's CPU, measured), while `?` binds in order. 10,000 of SQLite's
/// 32,766 keeps the prepared program small enough to stay cached.
const SQLITE_VALUES_PER_INSERT: usize = 10_000;

/// Writes row sets. On PostgreSQL, when everything fits one statement, all sets go
/// in one round trip as data-modifying CTEs (ids are allocated beforehand, so no
/// set depends on another's output; foreign keys are checked at the end of the
/// statement). Otherwise each set is written in statements of at most
/// [`super::max_binds`] values; on SQLite (no INSERT in CTEs) of at most
/// [`SQLITE_VALUES_PER_INSERT`], with anonymous placeholders.
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
        if backend == Backend::Sqlite {
            let per = (SQLITE_VALUES_PER_INSERT / set.width).max(1);
            for chunk in set.args.chunks(per * set.width) {
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES {}",
                    set.table,
                    set.columns,
                    anonymous_placeholders(chunk.len() / set.width, set.width)
                );
                query_with(sql, chunk.to_vec()).execute(&mut **tx).await?;
            }
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

/// `(?, ?, …), (?, …)` for `rows` rows of `cols` columns: SQLite numbers them
/// in order; the statement must have no other placeholders.
fn anonymous_placeholders(rows: usize, cols: usize) -> String {
    let row = format!("({})", vec!["?"; cols].join(", "));
    vec![row; rows].join(", ")
}
