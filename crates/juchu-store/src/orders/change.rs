//! The order change pipeline: the only code that changes orders.
//!
//! In the caller's transaction: load and lock (version check) → apply the patch
//! (pure) → list the changes → derive events → run automation rules (pure,
//! bounded) → write the order, one history row per changed field, the rule
//! firings, and the events. Rule actions that reach outside the order (a mail, a
//! payment request, the subscription) are returned in [`Changed::outside`] and
//! carried out by the effects module, which is also where every caller enters
//! (UI, API, imports, jobs, payment answers, the subscription run).

use crate::StoreError;
use crate::automation::{customer_facts, facts_of};
use crate::db::{Arg, Store, Tx, query_with};
use crate::db::{Rows, write_rows};
use crate::history::{Actor, HistoryRow, order_history_rows as history_rows};
use crate::orders::{WRITE_COLUMNS, item_rows, label_rows, write_args};
use juchu_domain::automation::Step;
use juchu_domain::automation::{Cascade, cascade};
use juchu_domain::event::{OrderEvent, derive_events};
use juchu_domain::order::{Order, OrderContext};
use juchu_domain::patch::{FieldChange, OrderPatch, apply_patch, diff};
use std::collections::HashMap;

/// What a change did.
#[derive(Debug, Clone)]
pub struct Changed {
    pub order: Order,
    pub changes: Vec<FieldChange>,
    pub events: Vec<OrderEvent>,
    pub cascade_steps: usize,
    /// Rule steps whose actions reach outside the order, for the effects module.
    pub(crate) outside: Vec<Step>,
}

pub(super) struct EventRow {
    pub order_id: i64,
    pub event: OrderEvent,
    pub depth: usize,
}

pub(super) fn event_rows(rows: &[EventRow], at: &str) -> Rows {
    let mut out = Rows::new(
        "order_events",
        &["order_id", "at", "kind", "payload", "chain_depth"],
    );
    for e in rows {
        out.args.push(Arg::from(e.order_id));
        out.args.push(at.into());
        out.args.push(e.event.kind().into());
        out.args
            .push(serde_json::to_string(&e.event).unwrap_or_default().into());
        out.args.push((e.depth as i64).into());
    }
    out
}

/// Turns a cascade's steps into history and event rows.
pub(super) fn cascade_rows(
    c: &Cascade,
    order_id: i64,
    history: &mut Vec<HistoryRow>,
    events: &mut Vec<EventRow>,
) {
    for step in &c.steps {
        let reason = format!(
            "自動化設定「{}」: {} → {}",
            step.firing.rule_name,
            step.firing.event.describe(),
            step.firing.action.describe()
        );
        let rule_row = |field: &str, before: String, after: String, reason: String| HistoryRow {
            owner_id: order_id,
            actor_kind: "rule",
            actor_id: Some(step.firing.rule_id),
            actor_name: step.firing.rule_name.clone(),
            field: field.to_string(),
            before,
            after,
            reason,
        };
        if let Some(err) = &step.error {
            history.push(rule_row(
                "automation",
                String::new(),
                format!("失敗: {err}"),
                reason,
            ));
            continue;
        }
        // A rule that changed nothing leaves no 履歴 row (the rule fired, but
        // a row saying 「変更なし」 is noise an operator must read past); an
        // action outside the order (subscription, mail, payment) gets its own
        // row from the store (see `apply_outside_actions`).
        for ch in &step.changes {
            history.push(rule_row(
                ch.field,
                ch.before.clone(),
                ch.after.clone(),
                reason.clone(),
            ));
        }
        for e in &step.events {
            events.push(EventRow {
                order_id,
                event: e.clone(),
                depth: step.depth,
            });
        }
    }
    if c.limit_reached {
        history.push(HistoryRow {
            owner_id: order_id,
            actor_kind: "system",
            actor_id: None,
            actor_name: "自動化".into(),
            field: "automation".into(),
            before: String::new(),
            after: format!(
                "連鎖の上限（{}段）に達したため、以降の自動化を停止しました",
                juchu_domain::automation::MAX_CHAIN
            ),
            reason: String::new(),
        });
    }
}

impl Store {
    /// Reads and locks the targets' orders (in id order on PostgreSQL, so two
    /// batches never wait on each other in a circle).
    pub(crate) async fn lock_orders_by_number(
        &self,
        tx: &mut Tx,
        targets: &[ChangeTarget<'_>],
    ) -> Result<HashMap<String, Order>, StoreError> {
        let mut numbers: Vec<&str> = targets.iter().map(|t| t.order_number).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let keys: Vec<Arg> = numbers.iter().map(|n| Arg::from(*n)).collect();
        self.lock_orders_where(tx, "order_number", keys).await
    }

    /// Reads and locks the orders whose `column` is one of `keys`, keyed by
    /// order number.
    async fn lock_orders_where(
        &self,
        tx: &mut Tx,
        column: &str,
        keys: Vec<Arg>,
    ) -> Result<HashMap<String, Order>, StoreError> {
        let orders =
            crate::orders::select_orders_where(tx, column, &keys, self.lock_suffix()).await?;
        Ok(orders
            .into_iter()
            .map(|o| (o.order_number.clone(), o))
            .collect())
    }

    /// Orders by id with their items and labels, locked for the transaction
    /// (in id order), keyed by order number: for [`Store::change_loaded_in_tx`].
    pub(crate) async fn lock_orders_by_id(
        &self,
        tx: &mut Tx,
        ids: &[i64],
    ) -> Result<HashMap<String, Order>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let keys: Vec<Arg> = ids.into_iter().map(Arg::from).collect();
        self.lock_orders_where(tx, "id", keys).await
    }

    /// The pipeline for many orders at once (a job's chunk) on orders the
    /// caller read and locked in this transaction ([`Store::lock_orders_by_id`],
    /// [`Store::lock_orders_by_number`]): each order is validated, diffed,
    /// recorded and run through the rules exactly as alone, but the orders are
    /// written together — one multi-row `UPDATE` per few dozen orders, one
    /// write of every 履歴 and event row. An order that fails (not found, stale
    /// version, invalid) gets its error and nothing of it is written; the
    /// others go on. `Err` is for the store itself failing: the caller's
    /// transaction is then to be dropped. Callers enter through
    /// the effects module, which carries out [`Changed::outside`].
    pub(crate) async fn apply_order_changes(
        &self,
        tx: &mut Tx,
        mut loaded: HashMap<String, Order>,
        targets: &[ChangeTarget<'_>],
        actor: &Actor,
        reason: &str,
    ) -> Result<Vec<Result<Changed, StoreError>>, StoreError> {
        let codes: Vec<String> = targets
            .iter()
            .flat_map(|t| t.patch.items.iter().flatten())
            .map(|i| i.product_code.trim().to_string())
            .collect();
        let (prep, products) = self.context(tx, &codes).await?;
        let ctx = OrderContext {
            masters: &prep.masters,
            products: &products,
            rounding: prep.rounding,
        };
        let day = self.clock.today();
        let customers: Vec<i64> = loaded.values().filter_map(|o| o.customer_id).collect();
        let facts = customer_facts(tx, &prep.rules, &customers).await?;

        /// An order whose change is to be written.
        struct Pending {
            index: usize,
            before_version: i64,
            /// The order's stored values (`WRITE_COLUMNS`), to write only
            /// what changed.
            before_args: Vec<Arg>,
            items_changed: bool,
            labels_changed: bool,
            order: Order,
            changes: Vec<FieldChange>,
            events: Vec<OrderEvent>,
            cascade_steps: usize,
            outside: Vec<Step>,
        }
        let mut results: Vec<Option<Result<Changed, StoreError>>> =
            (0..targets.len()).map(|_| None).collect();
        let mut pending: Vec<Pending> = Vec::new();
        let mut points_settings = None;
        let mut history: Vec<HistoryRow> = Vec::new();
        let mut event_rows_all: Vec<EventRow> = Vec::new();
        for (index, t) in targets.iter().enumerate() {
            // The same order twice in one batch: the second sees the first's
            // result only in a later batch, so it is refused here.
            let Some(before) = loaded.remove(t.order_number) else {
                results[index] = Some(Err(StoreError::NotFound("受注")));
                continue;
            };
            if let Some(v) = t.expected_version
                && v != before.version
            {
                results[index] = Some(Err(StoreError::Conflict {
                    field: Some("version".into()),
                    message: format!(
                        "受注 {} は他の操作で更新されています（送信されたバージョン {v}、現在 {}）。再読み込みしてから変更してください",
                        before.order_number, before.version
                    ),
                }));
                continue;
            }
            let after = match apply_patch(&before, t.patch, &ctx, day) {
                Ok(a) => a,
                Err(e) => {
                    results[index] = Some(Err(e.into()));
                    continue;
                }
            };
            let changes = diff(&before, &after, &prep.masters);
            if changes.is_empty() && t.outside_events.is_empty() {
                results[index] = Some(Ok(Changed {
                    order: before,
                    changes,
                    events: vec![],
                    cascade_steps: 0,
                    outside: vec![],
                }));
                continue;
            }
            let mut events = derive_events(Some(&before), &after, &prep.masters);
            events.extend(t.outside_events.iter().cloned());
            let customer = facts_of(&facts, before.customer_id);
            let c = cascade(after, &events, &prep.rules, &ctx, day, &customer);
            let id = before.id;
            if changes.is_empty() && c.steps.is_empty() {
                // Only an outside event no rule acts on: logged, the order is untouched.
                event_rows_all.extend(events.iter().map(|e| EventRow {
                    order_id: id,
                    event: e.clone(),
                    depth: 0,
                }));
                results[index] = Some(Ok(Changed {
                    order: before,
                    changes,
                    events,
                    cascade_steps: 0,
                    outside: vec![],
                }));
                continue;
            }
            // A forced payment status says so on its 履歴 row: our record changed,
            // the payment provider was not asked.
            let forced = t
                .patch
                .payment_override
                .as_deref()
                .and_then(juchu_domain::status::PaymentOverride::parse);
            let mut order_history: Vec<HistoryRow> = changes
                .iter()
                .map(|ch| {
                    HistoryRow::by(
                        actor,
                        id,
                        ch.field.to_string(),
                        ch.before.clone(),
                        ch.after.clone(),
                        match forced {
                            Some(f) if ch.field == "payment_status" => {
                                let note = format!("{}（決済サービスへの連絡なし）", f.label());
                                if reason.is_empty() {
                                    note
                                } else {
                                    format!("{note}: {reason}")
                                }
                            }
                            _ => reason.to_string(),
                        },
                    )
                })
                .collect();
            let mut order_events: Vec<EventRow> = events
                .iter()
                .map(|e| EventRow {
                    order_id: id,
                    event: e.clone(),
                    depth: 0,
                })
                .collect();
            cascade_rows(&c, id, &mut order_history, &mut order_events);
            let outside = outside_steps(&c);
            self.return_points_on_cancel(tx, &before, &c.order, &mut order_history)
                .await?;
            self.respend_points(tx, &before, &c.order, &mut order_history)
                .await?;
            let cascade_steps = c.steps.len();
            let mut order = c.order;
            self.award_points(
                tx,
                &before,
                &mut order,
                &prep.masters,
                &mut points_settings,
                &mut order_history,
            )
            .await?;
            order.version = before.version + 1;
            let mut all_events = events;
            all_events.extend(
                order_events
                    .iter()
                    .filter(|e| e.depth > 0)
                    .map(|e| e.event.clone()),
            );
            history.extend(order_history);
            event_rows_all.extend(order_events);
            pending.push(Pending {
                index,
                before_version: before.version,
                before_args: write_args(&before, ""),
                items_changed: order.items != before.items,
                labels_changed: order.label_ids != before.label_ids,
                order,
                changes,
                events: all_events,
                cascade_steps,
                outside,
            });
        }
        let now = self.clock.now_text();
        let conflict = || StoreError::Conflict {
            field: Some("version".into()),
            message: "受注が同時に更新されました。再読み込みしてください".into(),
        };
        let unique = |e: sqlx::Error| {
            StoreError::unique_as_conflict(
                e,
                "order_number",
                "この受注番号は既に使われています".into(),
            )
        };
        // Only the columns that changed in any order of a statement (with
        // version and updated_at, which always do): a bulk status change
        // sends 3 values per order instead of all 68.
        let changed_columns = |group: &[Pending]| -> (Vec<usize>, Vec<Vec<Arg>>) {
            let afters: Vec<Vec<Arg>> = group.iter().map(|p| write_args(&p.order, &now)).collect();
            let columns = (0..WRITE_COLUMNS.len())
                .filter(|&c| {
                    matches!(WRITE_COLUMNS[c], "version" | "updated_at")
                        || group
                            .iter()
                            .zip(&afters)
                            .any(|(p, after)| p.before_args[c] != after[c])
                })
                .collect();
            (columns, afters)
        };
        if pending.len() == 1 {
            let p = &pending[0];
            let (columns, mut afters) = changed_columns(&pending[..1]);
            let after = afters.remove(0);
            let mut args: Vec<Arg> = columns.iter().map(|&c| after[c].clone()).collect();
            let sets: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, &c)| format!("{} = ${}", WRITE_COLUMNS[c], i + 1))
                .collect();
            args.push(p.order.id.into());
            args.push(p.before_version.into());
            let sql = format!(
                "UPDATE orders SET {} WHERE id = ${} AND version = ${}",
                sets.join(", "),
                columns.len() + 1,
                columns.len() + 2
            );
            let done = query_with(sql, args)
                .execute(&mut **tx)
                .await
                .map_err(unique)?;
            if done.rows_affected() != 1 {
                return Err(conflict());
            }
        } else if !pending.is_empty() {
            // Many orders in one statement: their new values as one JSON
            // parameter, joined by id (and the version read, which the row
            // locks keep). A UNION of one SELECT per order took PostgreSQL
            // longer to plan than to write (9 ms bind + 10 ms execute per 200
            // orders, measured), and sqlx-sqlite binds many values in
            // quadratic time; one parameter does neither.
            for group in pending.chunks(1000) {
                let (columns, afters) = changed_columns(group);
                let rows: Vec<serde_json::Value> = group
                    .iter()
                    .zip(&afters)
                    .map(|(p, after)| {
                        let mut row = serde_json::Map::with_capacity(columns.len() + 2);
                        row.insert("v_id".into(), p.order.id.into());
                        row.insert("v_version".into(), p.before_version.into());
                        for &c in &columns {
                            row.insert(WRITE_COLUMNS[c].into(), after[c].to_json());
                        }
                        serde_json::Value::Object(row)
                    })
                    .collect();
                // The record's fields: (name, whether it is an integer).
                let fields: Vec<(&str, bool)> = [("v_id", true), ("v_version", true)]
                    .into_iter()
                    .chain(columns.iter().map(|&c| {
                        let int = matches!(afters.first().map(|a| &a[c]), Some(Arg::Int(_)));
                        (WRITE_COLUMNS[c], int)
                    }))
                    .collect();
                let from = match self.backend {
                    crate::db::Backend::Postgres => {
                        let record: Vec<String> = fields
                            .iter()
                            .map(|(n, int)| format!("{n} {}", if *int { "bigint" } else { "text" }))
                            .collect();
                        format!(
                            "json_to_recordset(CAST($1 AS json)) AS v({})",
                            record.join(", ")
                        )
                    }
                    crate::db::Backend::Sqlite => {
                        let picks: Vec<String> = fields
                            .iter()
                            .map(|(n, _)| format!("json_extract(value, '$.{n}') AS {n}"))
                            .collect();
                        format!("(SELECT {} FROM jsonb_each($1)) v", picks.join(", "))
                    }
                };
                let sets: Vec<String> = columns
                    .iter()
                    .map(|&c| format!("{0} = v.{0}", WRITE_COLUMNS[c]))
                    .collect();
                let sql = format!(
                    "UPDATE orders SET {} FROM {from} WHERE orders.id = v.v_id AND orders.version = v.v_version",
                    sets.join(", "),
                );
                let json = serde_json::to_string(&rows)
                    .map_err(|e| StoreError::Other(format!("order values as JSON: {e}")))?;
                let done = query_with(sql, vec![json.into()])
                    .execute(&mut **tx)
                    .await
                    .map_err(unique)?;
                if done.rows_affected() != group.len() as u64 {
                    return Err(conflict());
                }
            }
        }
        let handling = |id: i64| {
            prep.masters
                .handling_status(id)
                .map(|s| s.name.as_str())
                .unwrap_or_default()
        };
        let outbound: Vec<_> = pending
            .iter()
            .flat_map(|p| {
                juchu_domain::webhook::order_changed(
                    &p.order,
                    handling(p.order.handling_status_id),
                    &p.changes,
                    &p.events,
                )
            })
            .collect();
        let mut sets = vec![
            history_rows(&history, &now),
            self::event_rows(&event_rows_all, &now),
            crate::webhooks::event_rows(&outbound, &now),
        ];
        for p in pending.iter().filter(|p| p.items_changed) {
            sqlx::query("DELETE FROM order_items WHERE order_id = $1")
                .bind(p.order.id)
                .execute(&mut **tx)
                .await?;
            sets.push(item_rows(p.order.id, &p.order.items));
        }
        let relabelled: Vec<&Pending> = pending.iter().filter(|p| p.labels_changed).collect();
        for chunk in relabelled.chunks(500) {
            let sql = format!(
                "DELETE FROM order_label_links WHERE order_id IN ({})",
                crate::db::in_list(chunk.len(), 1)
            );
            query_with(sql, chunk.iter().map(|p| Arg::from(p.order.id)).collect())
                .execute(&mut **tx)
                .await?;
            for p in chunk {
                sets.push(label_rows(p.order.id, &p.order.label_ids));
            }
        }
        write_rows(tx, self.backend, sets).await?;
        for p in pending {
            results[p.index] = Some(Ok(Changed {
                order: p.order,
                changes: p.changes,
                events: p.events,
                cascade_steps: p.cascade_steps,
                outside: p.outside,
            }));
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(StoreError::NotFound("受注"))))
            .collect())
    }
}

/// One change of one order: the one request type of the order pipeline
/// ([`Store::apply_order_changes`]), alone or in a batch.
pub(crate) struct ChangeTarget<'a> {
    pub order_number: &'a str,
    /// When set, a change based on another version is refused (409).
    pub expected_version: Option<i64>,
    pub patch: &'a OrderPatch,
    /// Events that happened outside the order (its subscription's status):
    /// rules fire on them as on the order's own.
    pub outside_events: &'a [OrderEvent],
}

impl<'a> ChangeTarget<'a> {
    /// `patch` on `order_number`, whatever its version, with no outside events.
    pub fn new(order_number: &'a str, patch: &'a OrderPatch) -> Self {
        ChangeTarget {
            order_number,
            expected_version: None,
            patch,
            outside_events: &[],
        }
    }
}

/// The steps of a cascade that act outside the order and did not fail.
pub(super) fn outside_steps(c: &Cascade) -> Vec<Step> {
    c.steps
        .iter()
        .filter(|s| s.error.is_none() && s.firing.action.acts_outside())
        .cloned()
        .collect()
}
