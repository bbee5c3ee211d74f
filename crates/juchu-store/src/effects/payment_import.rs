//! 入金消込 against the orders: a preview that changes nothing, and the run,
//! which applies each matched row through the order pipeline (入金済み + 入金日;
//! rules fire on the new 決済状況) in chunks. A bank's transfer row is matched
//! to the one 入金待ち order whose 請求者 kana and total are the row's; none
//! or several is a person's decision, said per row.

use crate::StoreError;
use crate::db::{Arg, Store, get_str, query_with};
use crate::effects::shipment_import::{CHUNK_ROWS, ImportRowResult, settled};
use crate::history::Actor;
use crate::orders::ChangeTarget;
use juchu_domain::normalize::name_key;
use juchu_domain::order::Order;
use juchu_domain::patch::OrderPatch;
use juchu_domain::payment_import::{PaymentRow, match_transfer, parse_amount, plan, read};
use juchu_domain::shipment_import::{FileEncoding, RowPlan, decode};
use std::collections::HashMap;

/// A payments file read by its format.
pub fn read_payment_file(
    bytes: &[u8],
    encoding: FileEncoding,
    format: &str,
) -> Result<Vec<PaymentRow>, StoreError> {
    Ok(read(&decode(bytes, encoding)?, format)?)
}

fn result(row: &PaymentRow, number: Option<&str>, plan: &RowPlan) -> ImportRowResult {
    ImportRowResult {
        row: row.line,
        order_number: number
            .map(str::to_string)
            .unwrap_or_else(|| row.order_number.clone()),
        outcome: plan.outcome().into(),
        message: plan.message().to_string(),
    }
}

impl Store {
    /// The order number each row names: its own, or for a bank's row the one
    /// 入金待ち order its transfer name and amount fit (else why not).
    async fn match_payment_rows(
        &self,
        rows: &[PaymentRow],
    ) -> Result<Vec<Result<String, String>>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if !row.order_number.is_empty() || row.transfer_name.is_empty() {
                out.push(if row.order_number.is_empty() {
                    Err("受注番号が空です".to_string())
                } else {
                    Ok(row.order_number.clone())
                });
                continue;
            }
            let Some(amount) = parse_amount(&row.amount) else {
                out.push(Err(format!(
                    "入金額「{}」は金額として読めません",
                    row.amount
                )));
                continue;
            };
            let found = query_with(
                "SELECT order_number FROM orders WHERE payment_status = 'awaiting_payment' AND total = $1 AND billing_kana_key = $2 ORDER BY id LIMIT 5".to_string(),
                vec![Arg::from(amount), Arg::from(name_key(&row.transfer_name))],
            )
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| get_str(r, "order_number"))
            .collect::<Result<Vec<_>, _>>()?;
            // Already paid on the row's date (the same file again, or a job
            // run again): the order it was matched to says 変更なし.
            let paid_on = juchu_domain::time::parse_date(&row.paid_on)
                .map(|d| d.to_string())
                .unwrap_or_else(|_| self.clock.today().to_string());
            let found = if found.is_empty() {
                query_with(
                    "SELECT order_number FROM orders WHERE payment_status = 'paid' AND total = $1 AND billing_kana_key = $2 AND paid_at = $3 ORDER BY id LIMIT 5".to_string(),
                    vec![
                        Arg::from(amount),
                        Arg::from(name_key(&row.transfer_name)),
                        Arg::from(paid_on),
                    ],
                )
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| get_str(r, "order_number"))
                .collect::<Result<Vec<_>, _>>()?
            } else {
                found
            };
            out.push(match_transfer(row, &found));
        }
        Ok(out)
    }

    /// What the payments file would do, row by row; nothing changes.
    pub async fn preview_payment_import(
        &self,
        bytes: &[u8],
        encoding: FileEncoding,
        format: &str,
    ) -> Result<Vec<ImportRowResult>, StoreError> {
        let rows = read_payment_file(bytes, encoding, format)?;
        self.preview_payment_rows(&rows).await
    }

    async fn preview_payment_rows(
        &self,
        rows: &[PaymentRow],
    ) -> Result<Vec<ImportRowResult>, StoreError> {
        let matched = self.match_payment_rows(rows).await?;
        let numbers: Vec<String> = matched.iter().filter_map(|m| m.clone().ok()).collect();
        let orders = self.orders_by_numbers(&numbers).await?;
        let today = self.clock.today();
        Ok(rows
            .iter()
            .zip(&matched)
            .map(|(row, m)| {
                let target = target(m, &orders);
                let number = target.as_ref().ok().map(|o| o.order_number.clone());
                result(row, number.as_deref(), &plan(row, target, today))
            })
            .collect())
    }

    /// Applies the whole payments file (chunk after chunk, as the job does).
    pub async fn run_payment_import(
        &self,
        bytes: &[u8],
        encoding: FileEncoding,
        format: &str,
        actor: &Actor,
    ) -> Result<Vec<ImportRowResult>, StoreError> {
        let rows = read_payment_file(bytes, encoding, format)?;
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(CHUNK_ROWS) {
            out.extend(self.apply_payment_chunk(chunk, actor).await?);
        }
        Ok(out)
    }

    /// One chunk of payment rows: matched, locked, planned again and applied
    /// through the batch pipeline in one transaction (row by row when an order
    /// is named twice, so the second row sees the first).
    pub(crate) async fn apply_payment_chunk(
        &self,
        chunk: &[PaymentRow],
        actor: &Actor,
    ) -> Result<Vec<ImportRowResult>, StoreError> {
        let matched = self.match_payment_rows(chunk).await?;
        let mut seen = std::collections::HashSet::new();
        let twice = matched
            .iter()
            .filter_map(|m| m.as_ref().ok())
            .any(|n| !seen.insert(n.clone()));
        let indexes: Vec<Vec<usize>> = if twice {
            (0..chunk.len()).map(|i| vec![i]).collect()
        } else {
            vec![(0..chunk.len()).collect()]
        };
        let no_change = OrderPatch::default();
        let today = self.clock.today();
        let mut out = Vec::with_capacity(chunk.len());
        for part in indexes {
            let mut tx = self.begin().await?;
            let lock: Vec<ChangeTarget> = part
                .iter()
                .filter_map(|i| matched[*i].as_ref().ok())
                .map(|n| ChangeTarget::new(n, &no_change))
                .collect();
            let loaded = self.lock_orders_by_number(&mut tx, &lock).await?;
            let planned: Vec<(Option<String>, RowPlan)> = part
                .iter()
                .map(|i| {
                    let t = target(&matched[*i], &loaded);
                    let number = t.as_ref().ok().map(|o| o.order_number.clone());
                    (number, plan(&chunk[*i], t, today))
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
                .change_loaded_in_tx(&mut tx, loaded, &targets, actor, "入金消込")
                .await?
                .into_iter();
            tx.commit().await?;
            for (i, (number, plan)) in part.iter().zip(planned) {
                let plan = settled(plan, number.is_some(), &mut applied);
                out.push(result(&chunk[*i], number.as_deref(), &plan));
            }
        }
        Ok(out)
    }
}

fn target<'a>(
    matched: &Result<String, String>,
    orders: &'a HashMap<String, Order>,
) -> Result<&'a Order, String> {
    match matched {
        Ok(n) => orders
            .get(n)
            .ok_or_else(|| format!("受注番号「{n}」の受注はありません")),
        Err(why) => Err(why.clone()),
    }
}
