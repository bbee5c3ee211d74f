//! Creating orders: one from the API or UI (with an inline customer, an
//! idempotency key and 与信 for methods with a provider), or many at once.

use crate::StoreError;
use crate::customers;
use crate::db::{Rows, Store, Tx, get_i64, get_str, write_rows};
use crate::history::{Actor, order_history_rows};
use crate::orders::{
    BuiltOrders, Created, IdempotencyKey, NewOrderRequest, attach_children, order_from_row,
    prefix_errors, select_order_sql,
};
use juchu_domain::FieldErrors;
use juchu_domain::order::{NewOrder, Order, OrderContext, build_order};

impl Store {
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
            let mut created = self.create_in_tx(&mut tx, vec![req.order], actor).await?;
            let order = created.remove(0);
            self.authorize_new_order(&mut tx, &order, card_token.as_deref(), actor)
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

    /// Queues 与信処理 for a new 未決済 order whose payment method has a provider
    /// (a card only with a token), recorded in its 履歴.
    async fn authorize_new_order(
        &self,
        tx: &mut Tx,
        order: &Order,
        card_token: Option<&str>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        use juchu_domain::payment::{GatewayKind, PaymentProcess};
        if order.payment_status != juchu_domain::status::PaymentStatus::Unpaid {
            return Ok(());
        }
        let snapshot = self.masters_in(tx).await?;
        match crate::payments::gateway_of(order, &snapshot.masters) {
            None => return Ok(()),
            Some(GatewayKind::Card) if card_token.is_none() => return Ok(()),
            Some(_) => {}
        }
        let result = crate::payments::queue(
            tx,
            order,
            &snapshot.masters,
            PaymentProcess::Authorize,
            actor.name(),
            card_token,
            &self.clock.now_text(),
        )
        .await?;
        let after = match result {
            Ok(done) => done,
            Err(why) => format!("与信処理を依頼しません: {why}"),
        };
        let row = crate::payments::payment_history(order.id, actor, after, "");
        write_rows(
            tx,
            self.backend,
            vec![order_history_rows(&[row], &self.clock.now_text())],
        )
        .await?;
        Ok(())
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
        let created = self.create_in_tx(&mut tx, orders, actor).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub(crate) async fn create_in_tx(
        &self,
        tx: &mut Tx,
        inputs: Vec<NewOrder>,
        actor: &Actor,
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
        self.insert_built(tx, parts, actor, Vec::new()).await
    }

    /// Creates orders [`juchu_domain::order::build_order`] accepted: the order
    /// pipeline prepares them, the subscriptions parent orders start are written
    /// first (their orders point to them), then the orders with `extra` (the
    /// subscription run's updates), then the rules' actions outside them.
    pub(crate) async fn insert_built(
        &self,
        tx: &mut Tx,
        parts: BuiltOrders<'_>,
        actor: &Actor,
        extra: Vec<Rows>,
    ) -> Result<Vec<Order>, StoreError> {
        let products = parts.products;
        let mut prepared = self.prepare_new_orders(tx, parts, actor).await?;
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
        let mut more = Vec::new();
        for (order, steps) in prepared.orders.iter().zip(&prepared.outside) {
            if !steps.is_empty() {
                self.apply_outside_actions(tx, order, steps, &mut more)
                    .await?;
            }
        }
        if !more.is_empty() {
            write_rows(
                tx,
                self.backend,
                vec![order_history_rows(&more, &prepared.at)],
            )
            .await?;
        }
        Ok(prepared.orders)
    }
}
