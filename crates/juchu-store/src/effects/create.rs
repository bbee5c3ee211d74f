//! Creating orders: one from the API or UI (with an inline customer, an
//! idempotency key and 与信 for methods with a provider), or many at once.

use crate::StoreError;
use crate::customers;
use crate::db::{Arg, Rows, Store, Tx, get_i64, get_str, query_with, write_rows};
use crate::history::{Actor, order_history_rows};
use crate::orders::{
    BuiltOrders, Created, IdempotencyKey, NewOrderRequest, PreparedOrders, attach_children,
    order_from_row, prefix_errors, select_order_sql,
};
use juchu_domain::FieldErrors;
use juchu_domain::automation::Action;
use juchu_domain::order::{NewOrder, Order, OrderContext, build_order};
use std::collections::HashSet;

impl Store {
    /// Prices an order the way creating it would, saving nothing: 受注登録's
    /// running totals. Errors name their fields as creation's do.
    pub async fn quote_order(&self, input: NewOrder) -> Result<Order, StoreError> {
        let codes: Vec<String> = input
            .items
            .iter()
            .map(|i| i.product_code.trim().to_string())
            .collect();
        let mut tx = self.begin_read().await?;
        let products = crate::masters::products_by_codes(&mut tx, &codes).await?;
        let snapshot = self.masters_in(&mut tx).await?;
        tx.commit().await?;
        let ctx = OrderContext {
            masters: &snapshot.masters,
            products: &products,
            rounding: snapshot.rounding,
        };
        Ok(build_order(input, &ctx, self.clock.now_second())?)
    }

    /// Creates one order (API, UI). With an idempotency key, a retry returns the
    /// first order instead of creating a second.
    pub async fn create_order(
        &self,
        req: NewOrderRequest,
        actor: &Actor,
        idem: Option<IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        for attempt in 0..2 {
            let mut tx = self.begin().await?;
            if let Some(k) = &idem
                && let Some(order) = self.replay(&mut tx, k).await?
            {
                tx.commit().await?;
                return Ok(Created {
                    order,
                    replayed: true,
                });
            }
            let mut req = req.clone();
            if let Some(c) = req.new_customer.take() {
                let c = c.validate().map_err(|e| prefix_errors(e, "customer"))?;
                let customer = customers::insert(&mut tx, &c, &self.clock).await?;
                req.order.customer_id = Some(customer.id);
                if !req.billing_given {
                    req.order.billing = customer.address.clone();
                }
            } else if let Some(id) = req.order.customer_id {
                match customers::get_in_tx(&mut tx, id).await? {
                    None => {
                        return Err(FieldErrors::single(
                            "customer_id",
                            "unknown_customer",
                            format!("顧客ID {id} は存在しません"),
                        )
                        .into());
                    }
                    Some(c) if !req.billing_given => req.order.billing = c.address,
                    Some(_) => {}
                }
            }
            let card_token = req.card_token.clone().filter(|t| !t.trim().is_empty());
            let mut created = self
                .create_in_tx(&mut tx, vec![req.order], actor, vec![card_token.clone()])
                .await?;
            let order = created.remove(0);
            self.keep_card_for_subscription(&mut tx, &order, card_token.as_deref(), actor)
                .await?;
            if let Some(k) = &idem {
                let r = sqlx::query("INSERT INTO idempotency_keys (token_id, idem_key, request_hash, order_id, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(k.token_id)
                    .bind(k.key.clone())
                    .bind(k.request_hash.clone())
                    .bind(order.id)
                    .bind(self.clock.now_text())
                    .execute(&mut *tx)
                    .await;
                if let Err(e) = r {
                    // A concurrent request with the same key won the race: roll back
                    // ours and return theirs.
                    if matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation())
                        && attempt == 0
                    {
                        tx.rollback().await?;
                        continue;
                    }
                    return Err(e.into());
                }
            }
            tx.commit().await?;
            return Ok(Created {
                order,
                replayed: false,
            });
        }
        Err(StoreError::Other(
            "idempotency key race did not settle".into(),
        ))
    }

    async fn replay(&self, tx: &mut Tx, k: &IdempotencyKey) -> Result<Option<Order>, StoreError> {
        let row = sqlx::query("SELECT order_id, request_hash FROM idempotency_keys WHERE token_id = $1 AND idem_key = $2")
            .bind(k.token_id)
            .bind(k.key.clone())
            .fetch_optional(&mut **tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        if get_str(&row, "request_hash")? != k.request_hash {
            return Err(StoreError::Conflict {
                field: Some("Idempotency-Key".into()),
                message: "この Idempotency-Key は別の内容のリクエストで使われています".into(),
            });
        }
        let id = get_i64(&row, "order_id")?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} WHERE id = $1",
            select_order_sql()
        )))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        let mut orders = vec![order_from_row(&row)?];
        attach_children(tx, &mut orders).await?;
        Ok(orders.pop())
    }

    /// Creates many orders in one transaction, all or none (demo data, imports,
    /// bench). Errors name the input's index: `orders[3].items[0].quantity`.
    pub async fn create_orders(
        &self,
        orders: Vec<NewOrder>,
        actor: &Actor,
    ) -> Result<Vec<Order>, StoreError> {
        let mut tx = self.begin().await?;
        let created = self
            .create_in_tx(&mut tx, orders, actor, Vec::new())
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// A card subscription the new order started keeps the order's card token
    /// for its child orders; without one it is flagged 要対応 now, long before
    /// its first child order would fail.
    async fn keep_card_for_subscription(
        &self,
        tx: &mut Tx,
        order: &Order,
        card_token: Option<&str>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        use juchu_domain::payment::GatewayKind;
        use juchu_domain::subscription::{SubscriptionCommand, attention};
        let Some(sid) = order.subscription_id else {
            return Ok(());
        };
        let snapshot = self.masters_in(tx).await?;
        if crate::payments::gateway_of(order, &snapshot.masters) != Some(GatewayKind::Card) {
            return Ok(());
        }
        let cmd = match card_token {
            Some(t) => SubscriptionCommand::ReplacePaymentToken { token: t.into() },
            None => SubscriptionCommand::Flag {
                reason: attention::NO_CARD_TOKEN.into(),
            },
        };
        self.change_subscription_in_tx(tx, sid, None, &[cmd], actor, "親受注の決済情報")
            .await?;
        Ok(())
    }

    /// `card_tokens[i]`: the card token for order `i`'s 与信 (none: a card
    /// order is not authorised; other methods with a provider are).
    pub(crate) async fn create_in_tx(
        &self,
        tx: &mut Tx,
        inputs: Vec<NewOrder>,
        actor: &Actor,
        card_tokens: Vec<Option<String>>,
    ) -> Result<Vec<Order>, StoreError> {
        let codes: Vec<String> = inputs
            .iter()
            .flat_map(|o| o.items.iter().map(|i| i.product_code.trim().to_string()))
            .collect();
        let n = inputs.len();
        // Single orders are round-trip bound: their blacklist lookup rides on
        // the context query. Batches look up in chunks later.
        let screen = (n == 1).then(|| {
            crate::blacklist::ScreenKeys::of(inputs.iter().map(|i| (&i.billing, i.customer_id)))
        });
        let (prep, products, allocated) = self
            .context_with_ids(tx, &codes, n, screen.as_ref())
            .await?;
        let ctx = OrderContext {
            masters: &prep.masters,
            products: &products,
            rounding: prep.rounding,
        };
        let now = self.clock.now_second();
        let cycles: Vec<_> = inputs.iter().map(|i| i.subscription_cycle).collect();
        let attributes: Vec<_> = inputs.iter().map(|i| i.attributes.clone()).collect();
        let mut built = Vec::with_capacity(n);
        let mut errors = FieldErrors::default();
        for (i, input) in inputs.into_iter().enumerate() {
            match build_order(input, &ctx, now) {
                Ok(o) => built.push(o),
                Err(e) if n == 1 => return Err(e.into()),
                Err(e) => errors.0.extend(prefix_errors(e, &format!("orders[{i}]")).0),
            }
        }
        errors.into_result()?;
        let parts = BuiltOrders {
            orders: built,
            cycles,
            attributes,
            snapshot: &prep,
            products: &products,
            now,
            allocated,
        };
        self.insert_built(tx, parts, actor, Vec::new(), &card_tokens)
            .await
    }

    /// Creates orders [`juchu_domain::order::build_order`] accepted: the order
    /// pipeline prepares them, the subscriptions parent orders start are written
    /// first (their orders point to them), then the orders with `extra` (the
    /// subscription run's updates), then the rules' actions outside them, then
    /// 与信 for every order whose method has a provider (`card_tokens[i]` for a
    /// card), through the payment outbox.
    pub(crate) async fn insert_built(
        &self,
        tx: &mut Tx,
        parts: BuiltOrders<'_>,
        actor: &Actor,
        extra: Vec<Rows>,
        card_tokens: &[Option<String>],
    ) -> Result<Vec<Order>, StoreError> {
        let products = parts.products;
        // The masters the orders were built with (no second read: single-order
        // intake is round-trip bound).
        let snapshot = parts.snapshot;
        let mut prepared = self.prepare_new_orders(tx, parts, actor).await?;
        let mut more = Vec::new();
        self.take_points(tx, &prepared.orders, &mut more).await?;
        let starts = crate::subscriptions::start_subscriptions(
            self,
            tx,
            &mut prepared.orders,
            &prepared.cycles,
            products,
            actor,
            &prepared.at,
        )
        .await?;
        self.write_new_orders(tx, &prepared, starts, extra).await?;
        for (order, steps) in prepared.orders.iter().zip(&prepared.outside) {
            if !steps.is_empty() {
                self.apply_outside_actions(tx, order, steps, &mut more)
                    .await?;
            }
        }
        let asked = self.asked_by_rules(tx, &prepared).await?;
        let (mut rows, history) = crate::payments::new_order_requests(
            &prepared.orders,
            card_tokens,
            &snapshot.masters,
            actor,
            &asked,
            &prepared.at,
        );
        more.extend(history);
        rows.push(order_history_rows(&more, &prepared.at));
        write_rows(tx, self.backend, rows).await?;
        Ok(prepared.orders)
    }

    /// New orders a rule already sent a payment request for (their 与信 waits
    /// for it, as an operator's request would).
    async fn asked_by_rules(
        &self,
        tx: &mut Tx,
        prepared: &PreparedOrders,
    ) -> Result<HashSet<i64>, StoreError> {
        let ids: Vec<Arg> = prepared
            .orders
            .iter()
            .zip(&prepared.outside)
            .filter(|(_, steps)| {
                steps
                    .iter()
                    .any(|s| matches!(s.firing.action, Action::RunPaymentProcess { .. }))
            })
            .map(|(o, _)| Arg::from(o.id))
            .collect();
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT DISTINCT order_id FROM payment_requests WHERE status IN ('pending', 'running') AND order_id IN ({})",
            crate::db::in_list(ids.len(), 1)
        );
        let rows = query_with(sql, ids).fetch_all(&mut **tx).await?;
        rows.iter().map(|r| Ok(get_i64(r, "order_id")?)).collect()
    }
}
