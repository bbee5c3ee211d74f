//! What an automation rule would have done over a past period: the event log
//! read back and the rule's conditions checked on the orders as they are now.

use crate::StoreError;
use crate::automation::DryRun;
use crate::db::{Store, get_i64, get_str};
use juchu_domain::FieldErrors;
use juchu_domain::automation::Rule;

impl Store {
    /// How many orders of the last `days` days had an event this rule listens
    /// for, with a sample — read from the event log, nothing is changed.
    pub async fn dry_run_rule(&self, rule: &Rule, days: i64) -> Result<DryRun, StoreError> {
        if !(1..=365).contains(&days) {
            return Err(
                FieldErrors::single("days", "out_of_range", "1〜365日で指定してください").into(),
            );
        }
        let kind = match &rule.trigger {
            juchu_domain::automation::Trigger::EventKind { event } => event.clone(),
            juchu_domain::automation::Trigger::Exact { event } => event.kind().to_string(),
        };
        let since = self
            .clock
            .now()
            .checked_sub(jiff::SignedDuration::from_hours(24 * days))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let rows = sqlx::query(
            "SELECT e.payload, o.order_number, e.order_id FROM order_events e JOIN orders o ON o.id = e.order_id \
             WHERE e.kind = $1 AND e.at >= $2 ORDER BY e.at DESC, e.id DESC",
        )
        .bind(kind)
        .bind(juchu_domain::time::format_ts(since))
        .fetch_all(&self.pool)
        .await?;
        let mut seen = std::collections::HashSet::new();
        let mut matched: Vec<(i64, String)> = Vec::new();
        for r in &rows {
            let event: juchu_domain::event::OrderEvent =
                match serde_json::from_str(&get_str(r, "payload")?) {
                    Ok(e) => e,
                    Err(_) => continue,
                };
            let id = get_i64(r, "order_id")?;
            if rule.trigger.matches(&event) && seen.insert(id) {
                matched.push((id, get_str(r, "order_number")?));
            }
        }
        if !rule.conditions.is_empty() {
            // Conditions are checked on the orders as they are now (the event log
            // does not keep the order's state at the time).
            let masters = self.masters().await?;
            let mut keep = std::collections::HashSet::new();
            let mut conn = self.pool.acquire().await?;
            for chunk in matched.chunks(crate::db::max_binds(self.backend)) {
                let sql = format!(
                    "{} WHERE id IN ({})",
                    super::select_order_sql(),
                    crate::db::in_list(chunk.len(), 1)
                );
                let args = chunk
                    .iter()
                    .map(|(id, _)| crate::db::Arg::from(*id))
                    .collect();
                let rows = crate::db::query_with(sql, args)
                    .fetch_all(&mut *conn)
                    .await?;
                let mut orders = rows
                    .iter()
                    .map(super::order_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                super::attach_children(&mut conn, &mut orders).await?;
                let customers: Vec<i64> = orders.iter().filter_map(|o| o.customer_id).collect();
                let facts = crate::automation::customer_facts(
                    &mut conn,
                    std::slice::from_ref(rule),
                    &customers,
                )
                .await?;
                for o in &orders {
                    let customer = crate::automation::facts_of(&facts, o.customer_id);
                    if rule
                        .conditions
                        .iter()
                        .all(|c| c.holds(o, &masters, &customer))
                    {
                        keep.insert(o.id);
                    }
                }
            }
            matched.retain(|(id, _)| keep.contains(id));
        }
        Ok(DryRun {
            days,
            orders: matched.len() as i64,
            sample: matched.into_iter().take(20).map(|(_, n)| n).collect(),
        })
    }
}
