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
/// 32,766 keeps a statement's program at a few hundred kilobytes.
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
            if set.width == 0 || set.args.len() % set.width != 0 {
                return Err(StoreError::Other(format!(
                    "{}: {} values do not make rows of {}",
                    set.table,
                    set.args.len(),
                    set.width
                )));
            }
            let mut rest = &set.args[..];
            while !rest.is_empty() {
                let rows = statement_rows(rest.len() / set.width, per);
                let (chunk, next) = rest.split_at(rows * set.width);
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES {}",
                    set.table,
                    set.columns,
                    anonymous_placeholders(rows, set.width)
                );
                query_with(sql, chunk.to_vec()).execute(&mut **tx).await?;
                rest = next;
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

/// Rows for the next statement of `left` rows: `per` while that many are
/// left, then the largest power of two. Each statement's text stays in the
/// connection's statement cache (prepared once), so the row counts are kept
/// to a few: at most `per` and log2(`per`) others per table, instead of every
/// count from 1 to `per`, each a program of up to thousands of values.
fn statement_rows(left: usize, per: usize) -> usize {
    match left.checked_ilog2() {
        _ if left >= per => per,
        Some(log) => 1 << log,
        None => 0,
    }
}

/// `(?, ?, …), (?, …)` for `rows` rows of `cols` columns: SQLite numbers them
/// in order; the statement must have no other placeholders.
fn anonymous_placeholders(rows: usize, cols: usize) -> String {
    let row = format!("({})", vec!["?"; cols].join(", "));
    vec![row; rows].join(", ")
}

#[cfg(test)]
mod tests {
    use super::statement_rows;

    #[test]
    fn statements_take_full_chunks_then_powers_of_two() {
        let split = |mut left: usize, per: usize| {
            let mut sizes = Vec::new();
            while left > 0 {
                let n = statement_rows(left, per);
                sizes.push(n);
                left -= n;
            }
            sizes
        };
        assert_eq!(split(1, 142), vec![1]);
        assert_eq!(split(500, 142), vec![142, 142, 142, 64, 8, 2]);
        assert_eq!(split(300, 1000), vec![256, 32, 8, 4]);
        assert_eq!(split(7, 3), vec![3, 3, 1]);
        // Every row is written once, whatever the counts.
        for left in 1..600 {
            for per in [1, 2, 3, 71, 142, 500] {
                let sizes = split(left, per);
                assert_eq!(sizes.iter().sum::<usize>(), left);
                assert!(sizes.iter().all(|&n| n == per || n.is_power_of_two()));
            }
        }
    }
}
