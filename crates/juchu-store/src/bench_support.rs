//! Raw-SQL baselines for `juchu bench`: the same rows written with bare INSERTs,
//! without validation, masters, history, events or automation. Only the bench
//! uses this; it is the yardstick, never a way to write orders.

use crate::StoreError;
use crate::db::{Arg, Store, get_i64, query_with, values_placeholders};
use crate::orders::{ITEM_COLUMNS, WRITE_COLUMNS, item_args, write_args};
use juchu_domain::order::Order;

impl Store {
    /// Inserts `order` (with a fresh id) and its items in one transaction.
    pub async fn bench_raw_insert(&self, order: &Order) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let now = crate::db::now_text();
        let mut args = write_args(order, &now);
        args.push(now.into());
        let sql = format!(
            "INSERT INTO orders ({}, created_at) VALUES {} RETURNING id",
            WRITE_COLUMNS.join(", "),
            values_placeholders(1, WRITE_COLUMNS.len() + 1, 1)
        );
        let id = get_i64(&query_with(sql, args).fetch_one(&mut *tx).await?, "id")?;
        let mut args: Vec<Arg> = Vec::new();
        for (p, i) in order.items.iter().enumerate() {
            item_args(id, p, i, &mut args);
        }
        let sql = format!(
            "INSERT INTO order_items ({}) VALUES {}",
            ITEM_COLUMNS.join(", "),
            values_placeholders(order.items.len(), ITEM_COLUMNS.len(), 1)
        );
        query_with(sql, args).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs a raw search (the same capped count + one page + the page's items), as the bench's
    /// baseline for the same filter. `where_sql` uses `$1…` for `args`.
    pub async fn bench_raw_search(
        &self,
        where_sql: &str,
        args: Vec<Arg>,
    ) -> Result<usize, StoreError> {
        let count = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM orders WHERE {where_sql} LIMIT {}) capped",
            crate::search::COUNT_CAP + 1
        );
        query_with(count, args.clone())
            .fetch_one(&self.pool)
            .await?;
        let page = format!(
            "SELECT * FROM orders WHERE {where_sql} ORDER BY ordered_at DESC, id DESC LIMIT 50"
        );
        let rows = query_with(page, args).fetch_all(&self.pool).await?;
        let ids: Vec<Arg> = rows
            .iter()
            .map(|r| get_i64(r, "id").map(Arg::from))
            .collect::<Result<_, _>>()?;
        if !ids.is_empty() {
            let ph: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            query_with(
                format!(
                    "SELECT * FROM order_items WHERE order_id IN ({})",
                    ph.join(", ")
                ),
                ids,
            )
            .fetch_all(&self.pool)
            .await?;
        }
        Ok(rows.len())
    }

    /// Picks sample values for the search benchmarks: (phone, tracking, product code).
    pub async fn bench_samples(&self, n: i64) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT billing_phone, tracking_number FROM orders WHERE id % 97 = 0 LIMIT $1",
        )
        .bind(n)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    crate::db::get_str(r, "billing_phone")?,
                    crate::db::get_opt_str(r, "tracking_number")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Refreshes planner statistics after a bulk load.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        // VACUUM sets the visibility map, as autovacuum would on a live store, so
        // counts can use index-only scans.
        let sql = match self.backend {
            crate::Backend::Postgres => "VACUUM ANALYZE",
            crate::Backend::Sqlite => "ANALYZE",
        };
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }
}
