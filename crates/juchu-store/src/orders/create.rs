//! Creating orders: numbers, screening, 履歴, events and rules for orders the
//! domain built, and writing them. Callers enter through the effects module
//! (which starts the subscriptions parent orders begin and carries out rule
//! actions outside the orders).

use super::change::{EventRow, cascade_rows, event_rows, outside_steps};
use super::new_order_rows;
use crate::StoreError;
use crate::automation::{customer_facts, facts_of};
use crate::db::{Arg, Rows, Store, Tx, get_str, write_rows};
use crate::history::{Actor, HistoryRow, order_history_rows};
use crate::snapshot::{Allocated, Snapshot};
use jiff::Timestamp;
use juchu_domain::FieldErrors;
use juchu_domain::automation::{Step, cascade};
use juchu_domain::customer::CustomerInput;
use juchu_domain::event::derive_events;
use juchu_domain::masters::Product;
use juchu_domain::order::{NewOrder, Order, OrderContext};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// A new order, possibly with a new customer given inline (the order's billing
/// data then defaults to the customer's).
#[derive(Debug, Clone, Default)]
pub struct NewOrderRequest {
    pub order: NewOrder,
    pub billing_given: bool,
    pub new_customer: Option<CustomerInput>,
    /// The card token the storefront obtained (クレジットカード). With it — and
    /// for every order paid by a method with a provider (後払い, 代金引換, 振込)
    /// — the order is sent for 与信処理 as soon as it is created 未決済.
    pub card_token: Option<String>,
}

/// An `Idempotency-Key` scoped to the API token that sent it.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub token_id: i64,
    pub key: String,
    /// Hash of the request body: the same key with another body is refused.
    pub request_hash: String,
}

impl IdempotencyKey {
    pub fn new(token_id: i64, key: &str, body: &[u8]) -> Self {
        Self {
            token_id,
            key: key.to_string(),
            request_hash: hex::encode(Sha256::digest(body)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Created {
    pub order: Order,
    /// True when an earlier request with the same Idempotency-Key created it.
    pub replayed: bool,
}

/// Orders that passed [`build_order`], with what writing them needs.
pub(crate) struct BuiltOrders<'a> {
    pub orders: Vec<Order>,
    /// Per order: the cycle requested for the subscription it starts, if any.
    pub cycles: Vec<Option<juchu_domain::calendar::Cycle>>,
    /// Per order: its custom attributes (アンケート結果 and the like).
    pub attributes: Vec<Vec<(String, String)>>,
    pub snapshot: &'a Snapshot,
    pub products: &'a HashMap<String, Product>,
    pub now: Timestamp,
    /// Ids allocated beforehand (PostgreSQL, with the context), if any.
    pub allocated: Option<Allocated>,
}

/// New orders ready to be written ([`Store::prepare_new_orders`]).
pub(crate) struct PreparedOrders {
    /// The orders as the rules left them, with ids and numbers.
    pub orders: Vec<Order>,
    /// Per order: the cycle requested for the subscription it starts, if any.
    pub cycles: Vec<Option<juchu_domain::calendar::Cycle>>,
    attributes: Vec<Vec<(String, String)>>,
    /// Per order: rule steps acting outside it, for the effects module.
    pub outside: Vec<Vec<Step>>,
    history: Vec<HistoryRow>,
    events: Vec<EventRow>,
    attention: Vec<(i64, Vec<juchu_domain::blacklist::AttentionMatch>)>,
    /// Per order: its 対応状況's name, for the `order.created` event.
    handling: Vec<String>,
    /// When they were created, as stored.
    pub at: String,
}

impl Store {
    /// Everything of creating orders [`build_order`] accepted but the writing:
    /// ids and numbers, blacklist screening, 履歴, events and automation.
    pub(crate) async fn prepare_new_orders(
        &self,
        tx: &mut Tx,
        parts: BuiltOrders<'_>,
        actor: &Actor,
    ) -> Result<PreparedOrders, StoreError> {
        let BuiltOrders {
            orders: mut built,
            cycles,
            attributes,
            snapshot: prep,
            products,
            now,
            allocated,
        } = parts;
        let ctx = OrderContext {
            masters: &prep.masters,
            products,
            rounding: prep.rounding,
        };
        let day = self.clock.today();
        let (ids, checked, prefetched) = match allocated {
            Some(a) if a.ids.len() >= built.len() => {
                (a.ids[..built.len()].to_vec(), Some(a.taken), a.screening)
            }
            _ => {
                let (ids, checked) = self.allocate_order_ids(tx, built.len()).await?;
                (ids, checked, None)
            }
        };
        assign_order_numbers(tx, self.backend, &mut built, &ids, checked).await?;
        // ブラックリスト: flagged before rules run, so conditions on 要対応 see it.
        let screened = crate::blacklist::screen_orders(
            tx,
            self.backend,
            &prep.blacklist,
            &prep.masters,
            &built,
            prefetched,
        )
        .await?;
        let mut attention = Vec::new();
        for ((order, matches), id) in built.iter_mut().zip(screened).zip(&ids) {
            if matches.is_empty() {
                continue;
            }
            order.needs_attention = true;
            if order.needs_attention_reason.is_empty() {
                order.needs_attention_reason =
                    juchu_domain::blacklist::reasons(&matches).join("、");
            }
            attention.push((*id, matches));
        }
        let customers: Vec<i64> = built.iter().filter_map(|o| o.customer_id).collect();
        let facts = customer_facts(tx, &prep.rules, &customers).await?;
        let mut history = Vec::with_capacity(built.len());
        let mut events = Vec::with_capacity(built.len());
        let mut finals = Vec::with_capacity(built.len());
        let mut outside = Vec::with_capacity(built.len());
        let mut handling = Vec::with_capacity(built.len());
        for (mut order, id) in built.into_iter().zip(ids) {
            order.id = id;
            let created_events = derive_events(None, &order, &prep.masters);
            history.push(HistoryRow::by(
                actor,
                id,
                "order",
                "",
                match order.subscription_id {
                    Some(sid) if order.subscription_delivery_date.is_some() => {
                        format!("作成（定期受注 #{sid} から）")
                    }
                    _ => "作成".into(),
                },
                "",
            ));
            let customer = facts_of(&facts, order.customer_id);
            let c = cascade(order, &created_events, &prep.rules, &ctx, day, &customer);
            events.extend(created_events.into_iter().map(|event| EventRow {
                order_id: id,
                event,
                depth: 0,
            }));
            cascade_rows(&c, id, &mut history, &mut events);
            // Mail, payment and subscription actions act outside the order:
            // they run once the rows exist (rare, so intake stays one write).
            outside.push(outside_steps(&c));
            handling.push(
                prep.masters
                    .handling_status(c.order.handling_status_id)
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
            );
            finals.push(c.order);
        }
        Ok(PreparedOrders {
            orders: finals,
            cycles,
            attributes,
            outside,
            history,
            events,
            attention,
            handling,
            at: juchu_domain::time::format_ts(now),
        })
    }

    /// Writes prepared orders in one go: `before` first (the subscriptions the
    /// orders start: their parent orders point to them), then the orders with
    /// their items, labels, 履歴, events, blacklist matches and attributes, then
    /// `extra` (the subscription run's updates).
    pub(crate) async fn write_new_orders(
        &self,
        tx: &mut Tx,
        p: &PreparedOrders,
        before: Vec<Rows>,
        extra: Vec<Rows>,
    ) -> Result<(), StoreError> {
        let PreparedOrders {
            orders: finals,
            attributes,
            history,
            events,
            attention,
            handling,
            at,
            ..
        } = p;
        let mut sets = before;
        sets.extend(new_order_rows(finals, at));
        sets.push(order_history_rows(history, at));
        sets.push(event_rows(events, at));
        let outbound: Vec<_> = finals
            .iter()
            .zip(handling)
            .flat_map(|(o, h)| juchu_domain::webhook::order_created(o, h))
            .collect();
        sets.push(crate::webhooks::event_rows(&outbound, at));
        if !attention.is_empty() {
            sets.push(crate::blacklist::match_rows(attention, at));
        }
        if attributes.iter().any(|a| !a.is_empty()) {
            let mut rows = Rows::new("order_attributes", &["order_id", "name", "value"]);
            for (order, attrs) in finals.iter().zip(attributes) {
                for (name, value) in attrs {
                    rows.args.push(order.id.into());
                    rows.args.push(name.trim().into());
                    rows.args.push(value.clone().into());
                }
            }
            sets.push(rows);
        }
        sets.extend(extra);
        write_rows(tx, self.backend, sets)
            .await
            .map_err(|e| e.unique_to_conflict("order_number", "この受注番号は既に使われています"))
    }
}

pub(crate) fn prefix_errors(mut e: FieldErrors, prefix: &str) -> FieldErrors {
    for f in &mut e.0 {
        f.field = if f.field.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", f.field)
        };
    }
    e
}

/// Gives each order without a chosen number one derived from its id. A shop may
/// have imported numeric numbers of its own (`"1024"`), so a derived number that is
/// already taken, in the store or in this batch, gets a suffix (`"1024-2"`) instead
/// of failing every later creation on the unique index.
async fn assign_order_numbers(
    tx: &mut Tx,
    backend: crate::db::Backend,
    orders: &mut [Order],
    ids: &[i64],
    checked: Option<std::collections::HashSet<String>>,
) -> Result<(), StoreError> {
    let wanted: Vec<String> = orders
        .iter()
        .zip(ids)
        .filter(|(o, _)| o.order_number.is_empty())
        .map(|(_, id)| id.to_string())
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut taken: std::collections::HashSet<String> = orders
        .iter()
        .filter(|o| !o.order_number.is_empty())
        .map(|o| o.order_number.clone())
        .collect();
    let to_check: &[String] = match checked {
        Some(c) => {
            taken.extend(c);
            &[]
        }
        None => &wanted,
    };
    for chunk in to_check.chunks(crate::db::max_binds(backend)) {
        let sql = format!(
            "SELECT order_number FROM orders WHERE order_number IN ({})",
            crate::db::in_list(chunk.len(), 1)
        );
        let args = chunk.iter().map(|n| Arg::from(n.clone())).collect();
        for row in crate::db::query_with(sql, args)
            .fetch_all(&mut **tx)
            .await?
        {
            taken.insert(get_str(&row, "order_number")?);
        }
    }
    for (order, id) in orders.iter_mut().zip(ids) {
        if !order.order_number.is_empty() {
            continue;
        }
        let mut number = id.to_string();
        let mut k = 2;
        while taken.contains(&number) {
            number = format!("{id}-{k}");
            k += 1;
        }
        // A suffixed number could itself have been imported; the unique index
        // still guards that rare case with a clear conflict error.
        taken.insert(number.clone());
        order.order_number = number;
    }
    Ok(())
}
