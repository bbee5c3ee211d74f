//! 出荷実績インポート (the standard format) against the orders: a preview that
//! changes nothing, and the run, which applies each row through the order
//! pipeline in its own transaction (rules fire: 発送完了メール on a first
//! number). What a row does is decided by the pure
//! [`juchu_domain::shipment_import::plan_row`], on the order as it is then.

use crate::StoreError;
use crate::db::Store;
use crate::history::Actor;
use crate::orders::ChangeTarget;
use juchu_domain::shipment_import::{FileEncoding, RowPlan, decode, plan_row, read_standard};

/// One row's result, as the preview and the result CSV show it (行, 受注番号,
/// 結果, 内容).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportRowResult {
    pub row: usize,
    pub order_number: String,
    /// 変更 / 変更なし / エラー
    pub outcome: String,
    pub message: String,
}

fn result(row: usize, number: &str, plan: &RowPlan) -> ImportRowResult {
    ImportRowResult {
        row,
        order_number: number.to_string(),
        outcome: plan.outcome().into(),
        message: plan.message().to_string(),
    }
}

impl Store {
    /// What the file would do, row by row; nothing changes. A file that cannot
    /// be read at all is an error naming the line.
    pub async fn preview_shipment_import(
        &self,
        bytes: &[u8],
        encoding: FileEncoding,
    ) -> Result<Vec<ImportRowResult>, StoreError> {
        let rows = read_standard(&decode(bytes, encoding)?)?;
        let masters = self.masters().await?;
        let numbers: Vec<String> = rows.iter().map(|r| r.order_number.clone()).collect();
        let orders = self.orders_by_numbers(&numbers).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let plan = plan_row(row, orders.get(&row.order_number), &masters);
                result(row.line, &row.order_number, &plan)
            })
            .collect())
    }

    /// Applies the file: each row in its own transaction, on the order locked
    /// and planned again (it may have changed since the preview). A row the
    /// pipeline refuses is reported with why; the others still apply. The same
    /// file again reports every row 変更なし.
    pub async fn run_shipment_import(
        &self,
        bytes: &[u8],
        encoding: FileEncoding,
        actor: &Actor,
    ) -> Result<Vec<ImportRowResult>, StoreError> {
        let rows = read_standard(&decode(bytes, encoding)?)?;
        let masters = self.masters().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut tx = self.begin().await?;
            let order = match self.lock_order(&mut tx, &row.order_number).await {
                Ok(o) => Some(o),
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e),
            };
            let plan = plan_row(row, order.as_ref(), &masters);
            let plan = match plan {
                RowPlan::Change(patch, said) => {
                    let target = ChangeTarget::new(&row.order_number, &patch);
                    match self
                        .change_in_tx(&mut tx, target, actor, "出荷実績インポート")
                        .await
                    {
                        Ok(_) => RowPlan::Change(patch, said),
                        Err(StoreError::Invalid(e)) => RowPlan::Refused(e.messages()),
                        Err(e) => return Err(e),
                    }
                }
                other => other,
            };
            if matches!(plan, RowPlan::Refused(_)) {
                tx.rollback().await?;
            } else {
                tx.commit().await?;
            }
            out.push(result(row.line, &row.order_number, &plan));
        }
        Ok(out)
    }
}
