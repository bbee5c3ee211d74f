//! 出荷実績インポート against the orders: a preview that changes nothing, and
//! the run, which applies the file's packages through the order pipeline in
//! chunks (rules fire: 発送完了メール on a first number). What a package's rows
//! do is decided by the pure [`juchu_domain::shipment_import::plan_group`],
//! on the order as it is then. The job (`shipment_import`) runs the same
//! chunks ([`Store::apply_shipment_chunk`]).

use crate::StoreError;
use crate::db::Store;
use crate::history::Actor;
use crate::orders::ChangeTarget;
use juchu_domain::order::Order;
use juchu_domain::patch::OrderPatch;
pub use juchu_domain::shipment_import::ImportRowResult;
use juchu_domain::shipment_import::{
    FileEncoding, Layout, RowPlan, ShipmentRow, decode, group_rows, lookup_numbers, plan_group,
    read, resolve,
};
use std::collections::HashMap;

/// Rows applied per transaction (about: a package's rows stay together).
pub(crate) const CHUNK_ROWS: usize = 500;

/// Every row of a package gets the package's result; the order number is the
/// order the row was matched to (else what the row said).
fn results(group: &[ShipmentRow], order: Option<&str>, plan: &RowPlan) -> Vec<ImportRowResult> {
    group
        .iter()
        .map(|row| ImportRowResult {
            row: row.line,
            order_number: order.map(str::to_string).unwrap_or_else(|| {
                match row.order_number.as_str() {
                    "" => row.shipment_id.clone(),
                    n => n.to_string(),
                }
            }),
            outcome: plan.outcome().into(),
            message: plan.message().to_string(),
        })
        .collect()
}

/// A planned row after the pipeline ran its change: kept, or refused with
/// the pipeline's reason (the changes were sent in plan order).
pub(crate) fn settled(
    plan: RowPlan,
    sent: bool,
    applied: &mut impl Iterator<Item = Result<crate::orders::Changed, StoreError>>,
) -> RowPlan {
    match plan {
        RowPlan::Change(patch, said) if sent => match applied.next() {
            Some(Ok(_)) => RowPlan::Change(patch, said),
            Some(Err(StoreError::Invalid(e))) => RowPlan::Refused(e.messages()),
            Some(Err(e)) => RowPlan::Refused(e.to_string()),
            None => RowPlan::Refused("適用されませんでした".into()),
        },
        other => other,
    }
}

/// A file read by its layout, its rows grouped into packages.
pub fn read_shipment_file(
    bytes: &[u8],
    encoding: FileEncoding,
    layout: &Layout,
) -> Result<Vec<Vec<ShipmentRow>>, StoreError> {
    Ok(group_rows(read(&decode(bytes, encoding)?, layout)?))
}

/// Chunks of about [`CHUNK_ROWS`] rows, never splitting a package.
pub(crate) fn chunks(groups: &[Vec<ShipmentRow>]) -> Vec<&[Vec<ShipmentRow>]> {
    let mut out = Vec::new();
    let (mut start, mut rows) = (0, 0);
    for (i, g) in groups.iter().enumerate() {
        if rows > 0 && rows + g.len() > CHUNK_ROWS {
            out.push(&groups[start..i]);
            (start, rows) = (i, 0);
        }
        rows += g.len();
    }
    if start < groups.len() {
        out.push(&groups[start..]);
    }
    out
}

impl Store {
    /// What the file would do, row by row; nothing changes. A file that cannot
    /// be read at all is an error naming the line.
    pub async fn preview_shipment_import(
        &self,
        bytes: &[u8],
        encoding: FileEncoding,
        layout: &Layout,
    ) -> Result<Vec<ImportRowResult>, StoreError> {
        let groups = read_shipment_file(bytes, encoding, layout)?;
        let masters = self.masters().await?;
        let numbers: Vec<String> = groups.iter().flatten().flat_map(lookup_numbers).collect();
        let orders = self.orders_by_numbers(&numbers).await?;
        let mut out = Vec::new();
        for g in &groups {
            let target = resolve(&g[0], &orders);
            let number = target.as_ref().ok().map(|(o, _)| o.order_number.clone());
            let plan = plan_group(g, target, &layout.carrier_code, &masters);
            out.extend(results(g, number.as_deref(), &plan));
        }
        Ok(out)
    }

    /// Applies the whole file (chunk after chunk, as the job does): for tests,
    /// the bench and callers that want the result at once.
    pub async fn run_shipment_import(
        &self,
        bytes: &[u8],
        encoding: FileEncoding,
        layout: &Layout,
        actor: &Actor,
    ) -> Result<Vec<ImportRowResult>, StoreError> {
        let groups = read_shipment_file(bytes, encoding, layout)?;
        let mut out = Vec::with_capacity(groups.len());
        for chunk in chunks(&groups) {
            out.extend(self.apply_shipment_chunk(chunk, layout, actor).await?);
        }
        Ok(out)
    }

    /// One chunk of packages, in one transaction per part: the orders are
    /// locked and planned again (they may have changed since the preview), and
    /// the changes go through the batch pipeline, where an order the pipeline
    /// refuses gets its error and the others still apply. A chunk naming one
    /// order twice goes package by package, so the second sees the first. The
    /// same file again reports every row 変更なし.
    pub(crate) async fn apply_shipment_chunk(
        &self,
        chunk: &[Vec<ShipmentRow>],
        layout: &Layout,
        actor: &Actor,
    ) -> Result<Vec<ImportRowResult>, StoreError> {
        let masters = self.masters().await?;
        let mut out = Vec::new();
        let no_change = OrderPatch::default();
        // Orders named twice (two packages of one order, or a repeated
        // number) force package-by-package transactions.
        let mut seen = std::collections::HashSet::new();
        let twice = chunk
            .iter()
            .flat_map(|g| lookup_numbers(&g[0]))
            .any(|n| !seen.insert(n));
        let parts: Vec<&[Vec<ShipmentRow>]> = if twice {
            chunk.chunks(1).collect()
        } else {
            vec![chunk]
        };
        for part in parts {
            let mut tx = self.begin().await?;
            let numbers: Vec<String> = part.iter().flat_map(|g| lookup_numbers(&g[0])).collect();
            let lock: Vec<ChangeTarget> = numbers
                .iter()
                .map(|n| ChangeTarget::new(n, &no_change))
                .collect();
            let loaded: HashMap<String, Order> = self.lock_orders_by_number(&mut tx, &lock).await?;
            let planned: Vec<(Option<String>, RowPlan)> = part
                .iter()
                .map(|g| {
                    let target = resolve(&g[0], &loaded);
                    let number = target.as_ref().ok().map(|(o, _)| o.order_number.clone());
                    (
                        number,
                        plan_group(g, target, &layout.carrier_code, &masters),
                    )
                })
                .collect();
            let targets: Vec<ChangeTarget> = planned
                .iter()
                .filter_map(|(n, p)| match (n, p) {
                    (Some(n), RowPlan::Change(patch, _)) => Some(ChangeTarget::new(n, patch)),
                    _ => None,
                })
                .collect();
            let mut applied = self
                .change_loaded_in_tx(&mut tx, loaded, &targets, actor, "出荷実績インポート")
                .await?
                .into_iter();
            tx.commit().await?;
            for (g, (number, plan)) in part.iter().zip(planned) {
                let plan = settled(plan, number.is_some(), &mut applied);
                out.extend(results(g, number.as_deref(), &plan));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<ShipmentRow> {
        (0..n)
            .map(|i| ShipmentRow {
                line: i + 2,
                order_number: format!("{}", i / 2),
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn chunks_keep_a_package_together() {
        let groups = group_rows(rows(1001));
        let c = chunks(&groups);
        assert_eq!(c.len(), 3);
        assert!(
            c.iter()
                .all(|c| c.iter().map(Vec::len).sum::<usize>() <= CHUNK_ROWS)
        );
        assert_eq!(c.iter().map(|c| c.len()).sum::<usize>(), groups.len());
        assert!(chunks(&[]).is_empty());
    }
}
