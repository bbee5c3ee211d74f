//! 出荷実績インポート (the standard format) against the orders: a preview that
//! changes nothing, and the run, which applies the rows through the order
//! pipeline in chunks (rules fire: 発送完了メール on a first number). What a row does is decided by the pure
//! [`juchu_domain::shipment_import::plan_row`], on the order as it is then.

use crate::StoreError;
use crate::db::Store;
use crate::history::Actor;
use crate::orders::ChangeTarget;
use juchu_domain::patch::OrderPatch;
use juchu_domain::shipment_import::{
    FileEncoding, RowPlan, ShipmentRow, decode, plan_row, read_standard,
};

/// Rows applied per transaction.
const CHUNK: usize = 500;

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

    /// Applies the file in chunks of rows, each chunk one transaction: its
    /// orders are locked and planned again (they may have changed since the
    /// preview), and the changes go through the batch pipeline, where an order
    /// the pipeline refuses gets its error and the others still apply. A chunk
    /// naming one order twice goes row by row, so the second row sees the
    /// first. The same file again reports every row 変更なし.
    pub async fn run_shipment_import(
        &self,
        bytes: &[u8],
        encoding: FileEncoding,
        actor: &Actor,
    ) -> Result<Vec<ImportRowResult>, StoreError> {
        let rows = read_standard(&decode(bytes, encoding)?)?;
        let masters = self.masters().await?;
        let mut out = Vec::with_capacity(rows.len());
        let no_change = OrderPatch::default();
        for chunk in rows.chunks(CHUNK) {
            let mut seen = std::collections::HashSet::new();
            let twice = chunk.iter().any(|r| !seen.insert(r.order_number.as_str()));
            let parts: Vec<&[ShipmentRow]> = if twice {
                chunk.chunks(1).collect()
            } else {
                vec![chunk]
            };
            for part in parts {
                let mut tx = self.begin().await?;
                let lock: Vec<ChangeTarget> = part
                    .iter()
                    .map(|r| ChangeTarget::new(&r.order_number, &no_change))
                    .collect();
                let loaded = self.lock_orders_by_number(&mut tx, &lock).await?;
                let plans: Vec<RowPlan> = part
                    .iter()
                    .map(|r| plan_row(r, loaded.get(&r.order_number), &masters))
                    .collect();
                let targets: Vec<ChangeTarget> = part
                    .iter()
                    .zip(&plans)
                    .filter_map(|(r, p)| match p {
                        RowPlan::Change(patch, _) => {
                            Some(ChangeTarget::new(&r.order_number, patch))
                        }
                        _ => None,
                    })
                    .collect();
                let mut applied = self
                    .change_loaded_in_tx(&mut tx, loaded, &targets, actor, "出荷実績インポート")
                    .await?
                    .into_iter();
                tx.commit().await?;
                for (row, plan) in part.iter().zip(plans) {
                    let plan = match plan {
                        RowPlan::Change(patch, said) => match applied.next() {
                            Some(Ok(_)) => RowPlan::Change(patch, said),
                            Some(Err(StoreError::Invalid(e))) => RowPlan::Refused(e.messages()),
                            Some(Err(e)) => RowPlan::Refused(e.to_string()),
                            None => RowPlan::Refused("適用されませんでした".into()),
                        },
                        other => other,
                    };
                    out.push(result(row.line, &row.order_number, &plan));
                }
            }
        }
        Ok(out)
    }
}
