//! Points of a cancelled order: given back, and taken again if it resumes.

use crate::StoreError;
use crate::db::{Store, Tx, get_i64};
use crate::history::HistoryRow;
use juchu_domain::order::Order;

impl Store {
    /// 取消完了: the customer gets the order's used points back and loses the
    /// points it granted; a later 再オーソリ out of 取消完了 undoes that. Each
    /// move is a 履歴 row (`customer_points`), so an order's points go back at
    /// most once however often it is cancelled and re-authorised; the balance
    /// never goes below 0.
    pub(super) async fn return_points_on_cancel(
        &self,
        tx: &mut Tx,
        before: &Order,
        after: &Order,
        history: &mut Vec<HistoryRow>,
    ) -> Result<(), StoreError> {
        use juchu_domain::status::PaymentStatus::Cancelled;
        let entering = before.payment_status != Cancelled && after.payment_status == Cancelled;
        let leaving = before.payment_status == Cancelled && after.payment_status != Cancelled;
        let Some(customer) = after.customer_id else {
            return Ok(());
        };
        let delta = juchu_domain::payment::points_returned_on_cancel(after);
        if !(entering || leaving) || delta == 0 {
            return Ok(());
        }
        let moves = sqlx::query(
            "SELECT COUNT(*) AS n FROM order_history WHERE order_id = $1 AND field = 'customer_points'",
        )
        .bind(after.id)
        .fetch_one(&mut **tx)
        .await?;
        let returned = get_i64(&moves, "n")? % 2 == 1;
        let change = match (entering, returned) {
            (true, false) => delta,
            (false, true) => -delta,
            _ => return Ok(()),
        };
        let row = sqlx::query("SELECT points FROM customers WHERE id = $1")
            .bind(customer)
            .fetch_optional(&mut **tx)
            .await?;
        let Some(row) = row else { return Ok(()) };
        let was = get_i64(&row, "points")?;
        let now = (was + change).max(0);
        sqlx::query("UPDATE customers SET points = $1 WHERE id = $2")
            .bind(now)
            .bind(customer)
            .execute(&mut **tx)
            .await?;
        history.push(HistoryRow {
            owner_id: after.id,
            actor_kind: "system",
            actor_id: None,
            actor_name: "ポイント".into(),
            field: "customer_points".into(),
            before: was.to_string(),
            after: now.to_string(),
            reason: if entering {
                format!(
                    "取消完了: 利用ポイント {} を返却、付与ポイント {} を回収",
                    after.totals.points_used, after.points_granted
                )
            } else {
                format!(
                    "取消完了から再開: 利用ポイント {} を再び利用、付与ポイント {} を再付与",
                    after.totals.points_used, after.points_granted
                )
            },
        });
        Ok(())
    }
}
