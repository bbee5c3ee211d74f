//! 在庫: stock per product, derived so that no change can miss it.
//!
//! A product under stock control keeps one number, `stock_received` (everything
//! that came in). From the orders:
//! - 出荷済 (shipped) = the items of shipped orders (発送済; not キャンセル);
//! - 在庫数 (on hand) = received − shipped;
//! - 引当数 (allocated) = the items of orders that are confirmed and not yet
//!   shipped: any 対応状況 but 新規受付 / キャンセル / 返品 — an order is allocated
//!   when it is confirmed and released when it is cancelled, whatever changed it
//!   (UI, API, import, bulk job, subscription run), since nothing is written;
//! - 引当可能数 = on hand − allocated;
//! - 欠品: allocation goes to orders first come, first served (受注日時 order);
//!   the orders whose lines are past the stock on hand are short, by how much.
//!
//! Setting 在庫数 after a count records `received = counted + shipped`. A split
//! order counts as shipped once every package is (its 発送状況).

use crate::StoreError;
use crate::db::{Store, get_i64, get_str};
use juchu_domain::FieldErrors;
use juchu_domain::masters::Masters;

/// One product under stock control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockLine {
    pub code: String,
    pub name: String,
    pub on_hand: i64,
    pub allocated: i64,
    pub available: i64,
    /// Items short over every order (0: none).
    pub short: i64,
    /// Orders short of this product.
    pub short_orders: i64,
}

/// What an order is short of: (product code, name, quantity short).
pub type Shortage = Vec<(String, String, i64)>;

fn ids(ids: &[i64]) -> String {
    if ids.is_empty() {
        "0".into()
    } else {
        ids.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `handling_status_id IN (…)` of the statuses that hold stock, and of the
/// ones that give it back (ids come from the masters, never from input).
fn status_sets(m: &Masters) -> (String, String) {
    let released = ["キャンセル", "返品"];
    let unconfirmed = ["新規受付"];
    let holding: Vec<i64> = m
        .handling_statuses
        .iter()
        .filter(|h| !released.contains(&h.name.as_str()) && !unconfirmed.contains(&h.name.as_str()))
        .map(|h| h.id)
        .collect();
    let gone: Vec<i64> = m
        .handling_statuses
        .iter()
        .filter(|h| released.contains(&h.name.as_str()))
        .map(|h| h.id)
        .collect();
    (ids(&holding), ids(&gone))
}

/// On hand and allocated per managed product (CTEs `moved` and `on_hand`:
/// code, on_hand, allocated), in one pass over the items of managed products.
fn on_hand_cte(holding: &str, gone: &str) -> String {
    format!(
        "moved AS (SELECT i.product_code AS code, \
         CAST(SUM(CASE WHEN o.shipment_status = 'shipped' AND o.handling_status_id NOT IN ({gone}) THEN i.quantity ELSE 0 END) AS BIGINT) AS shipped, \
         CAST(SUM(CASE WHEN o.shipment_status <> 'shipped' AND o.handling_status_id IN ({holding}) THEN i.quantity ELSE 0 END) AS BIGINT) AS allocated \
         FROM order_items i JOIN products p ON p.code = i.product_code AND p.stock_managed = 1 \
         JOIN orders o ON o.id = i.order_id GROUP BY i.product_code), \
         on_hand AS (SELECT p.code, p.stock_received - COALESCE(m.shipped, 0) AS on_hand, COALESCE(m.allocated, 0) AS allocated \
         FROM products p LEFT JOIN moved m ON m.code = p.code WHERE p.stock_managed = 1)"
    )
}

/// The order lines past the stock on hand: order_id, product_code, quantity,
/// cum (allocated up to and including this line), on_hand.
pub(crate) fn short_lines_sql(m: &Masters) -> String {
    let (holding, gone) = status_sets(m);
    format!(
        "WITH {}, alloc AS (SELECT i.order_id, i.product_code, i.quantity, \
         CAST(SUM(i.quantity) OVER (PARTITION BY i.product_code ORDER BY o.ordered_at, o.id, i.id \
         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS cum \
         FROM order_items i JOIN orders o ON o.id = i.order_id JOIN on_hand h ON h.code = i.product_code \
         WHERE o.shipment_status <> 'shipped' AND o.handling_status_id IN ({holding})) \
         SELECT a.order_id, a.product_code, a.quantity, a.cum, h.on_hand FROM alloc a \
         JOIN on_hand h ON h.code = a.product_code WHERE a.cum > h.on_hand",
        on_hand_cte(&holding, &gone)
    )
}

/// (product code, quantity short) of one order's lines, in the caller's
/// connection (a mail rendered in the transaction of its change).
pub(crate) async fn short_lines_of(
    conn: &mut sqlx::AnyConnection,
    masters: &Masters,
    order_id: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let sql = format!(
        "SELECT s.product_code, s.quantity, s.cum, s.on_hand FROM ({}) s WHERE s.order_id = $1 ORDER BY s.product_code",
        short_lines_sql(masters)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(order_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                get_str(r, "product_code")?,
                short_of(
                    get_i64(r, "quantity")?,
                    get_i64(r, "cum")?,
                    get_i64(r, "on_hand")?,
                ),
            ))
        })
        .collect()
}

fn short_of(quantity: i64, cum: i64, on_hand: i64) -> i64 {
    (cum - on_hand.max(0)).clamp(0, quantity)
}

impl Store {
    /// Every product under stock control, by code.
    pub async fn stock_levels(&self) -> Result<Vec<StockLine>, StoreError> {
        let m = self.masters().await?;
        let (holding, gone) = status_sets(&m);
        let sql = format!(
            "WITH {} SELECT p.code, p.name, h.on_hand, h.allocated FROM products p \
             JOIN on_hand h ON h.code = p.code ORDER BY p.code",
            on_hand_cte(&holding, &gone)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        let short = sqlx::query(sqlx::AssertSqlSafe(short_lines_sql(&m)))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let code = get_str(r, "code")?;
            let on_hand = get_i64(r, "on_hand")?;
            let allocated = get_i64(r, "allocated")?;
            let mut line = StockLine {
                name: get_str(r, "name")?,
                on_hand,
                allocated,
                available: on_hand - allocated,
                short: 0,
                short_orders: 0,
                code,
            };
            for s in &short {
                if get_str(s, "product_code")? == line.code {
                    line.short += short_of(
                        get_i64(s, "quantity")?,
                        get_i64(s, "cum")?,
                        get_i64(s, "on_hand")?,
                    );
                    line.short_orders += 1;
                }
            }
            out.push(line);
        }
        Ok(out)
    }

    /// What one order is short of (empty: nothing, or not allocated).
    pub async fn order_shortage(&self, order_id: i64) -> Result<Shortage, StoreError> {
        let m = self.masters().await?;
        let sql = format!(
            "SELECT s.product_code, s.quantity, s.cum, s.on_hand, p.name FROM ({}) s JOIN products p ON p.code = s.product_code WHERE s.order_id = $1 ORDER BY s.product_code",
            short_lines_sql(&m)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get_str(r, "product_code")?,
                    get_str(r, "name")?,
                    short_of(
                        get_i64(r, "quantity")?,
                        get_i64(r, "cum")?,
                        get_i64(r, "on_hand")?,
                    ),
                ))
            })
            .collect()
    }

    /// How many orders are short of something (ホーム's 欠品).
    pub async fn short_order_count(&self) -> Result<i64, StoreError> {
        let m = self.masters().await?;
        let sql = format!(
            "SELECT COUNT(DISTINCT s.order_id) AS n FROM ({}) s",
            short_lines_sql(&m)
        );
        Ok(get_i64(
            &sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_one(&self.pool)
                .await?,
            "n",
        )?)
    }

    /// Sets 在庫数 after a count (puts the product under stock control), or
    /// takes it out of stock control (`None`).
    pub async fn set_stock(&self, code: &str, on_hand: Option<i64>) -> Result<(), StoreError> {
        if let Some(n) = on_hand
            && !(0..=10_000_000).contains(&n)
        {
            return Err(FieldErrors::single(
                "on_hand",
                "out_of_range",
                "在庫数は0〜10,000,000で入力してください",
            )
            .into());
        }
        let m = self.masters().await?;
        let (_, gone) = status_sets(&m);
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT id FROM products WHERE code = $1")
            .bind(code.trim().to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound("商品"));
        }
        match on_hand {
            None => {
                sqlx::query("UPDATE products SET stock_managed = 0 WHERE code = $1")
                    .bind(code.trim().to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            Some(n) => {
                let shipped = get_i64(
                    &sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT CAST(COALESCE(SUM(i.quantity), 0) AS BIGINT) AS n FROM order_items i JOIN orders o ON o.id = i.order_id \
                         WHERE i.product_code = $1 AND o.shipment_status = 'shipped' AND o.handling_status_id NOT IN ({gone})"
                    )))
                    .bind(code.trim().to_string())
                    .fetch_one(&mut *tx)
                    .await?,
                    "n",
                )?;
                sqlx::query(
                    "UPDATE products SET stock_managed = 1, stock_received = $1 WHERE code = $2",
                )
                .bind(n + shipped)
                .bind(code.trim().to_string())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_short_by_what_passes_the_stock() {
        // 5 on hand: lines of 3 (cum 3), 2 (cum 5) are covered, 4 (cum 9) is 4 short.
        assert_eq!(short_of(3, 3, 5), 0);
        assert_eq!(short_of(2, 5, 5), 0);
        assert_eq!(short_of(4, 9, 5), 4);
        // Partly covered: 2 of 4 missing.
        assert_eq!(short_of(4, 7, 5), 2);
        // Stock below zero (more shipped than counted) leaves every line short.
        assert_eq!(short_of(1, 1, -3), 1);
    }
}
