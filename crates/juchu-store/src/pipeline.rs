//! The change pipeline: the only code path that creates or changes orders.
//!
//! In one transaction: load and lock (version check) → apply the patch (pure) →
//! list the changes → derive events → run automation rules (pure, bounded) →
//! write the order, one history row per changed field, the rule firings, and the
//! events. UI, API, imports, bulk jobs and the demo generator all come here.

use crate::StoreError;
use crate::customers;
use crate::db::{Arg, Store, Tx, get_i64, get_opt_i64, get_opt_str, get_str, now_text, query_with};
use crate::masters::{load_masters, load_rounding, product_from_row, products_by_codes};
use crate::orders::{
    Rows, WRITE_COLUMNS, attach_children, item_rows, label_rows, new_order_rows, order_from_row,
    select_order_sql, write_args, write_rows,
};
use jiff::Timestamp;
use juchu_domain::FieldErrors;
use juchu_domain::automation::{Cascade, CustomerFacts, Rule, cascade};
use juchu_domain::customer::CustomerInput;
use juchu_domain::event::{OrderEvent, derive_events};
use juchu_domain::masters::Masters;
use juchu_domain::masters::Product;
use juchu_domain::order::{NewOrder, Order, OrderContext, build_order};
use juchu_domain::patch::{FieldChange, OrderPatch, apply_patch, diff};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// Who made a change; written to 履歴.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Staff {
        id: i64,
        name: String,
    },
    ApiToken {
        id: i64,
        name: String,
    },
    /// The system itself: demo generator, migrations, CLI.
    System {
        name: String,
    },
    /// A job (一括処理) carrying out what `name` (who registered it) asked.
    Job {
        id: i64,
        name: String,
    },
}

impl Actor {
    pub fn system(name: &str) -> Self {
        Actor::System {
            name: name.to_string(),
        }
    }
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Actor::Staff { .. } => "staff",
            Actor::ApiToken { .. } => "api_token",
            Actor::System { .. } => "system",
            Actor::Job { .. } => "job",
        }
    }
    pub(crate) fn id(&self) -> Option<i64> {
        match self {
            Actor::Staff { id, .. } | Actor::ApiToken { id, .. } | Actor::Job { id, .. } => {
                Some(*id)
            }
            Actor::System { .. } => None,
        }
    }
    pub(crate) fn name(&self) -> &str {
        match self {
            Actor::Staff { name, .. }
            | Actor::ApiToken { name, .. }
            | Actor::System { name }
            | Actor::Job { name, .. } => name,
        }
    }
}

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

/// What a change did.
#[derive(Debug, Clone)]
pub struct Changed {
    pub order: Order,
    pub changes: Vec<FieldChange>,
    pub events: Vec<OrderEvent>,
    pub cascade_steps: usize,
}

/// One row of 履歴, for an order (`order_history`) or a subscription
/// (`subscription_history`).
pub(crate) struct HistoryRow {
    /// The order's or the subscription's id.
    pub owner_id: i64,
    pub actor_kind: &'static str,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub field: String,
    pub before: String,
    pub after: String,
    pub reason: String,
}

struct EventRow {
    order_id: i64,
    event: OrderEvent,
    depth: usize,
}

pub(crate) fn history_rows(rows: &[HistoryRow], at: &str) -> Rows {
    history_rows_into("order_history", "order_id", rows, at)
}

/// 履歴 rows for `table`, whose owner column is `owner_column`.
pub(crate) fn history_rows_into(
    table: &'static str,
    owner_column: &str,
    rows: &[HistoryRow],
    at: &str,
) -> Rows {
    let mut out = Rows::new(
        table,
        &[
            owner_column,
            "at",
            "actor_kind",
            "actor_id",
            "actor_name",
            "field",
            "before_value",
            "after_value",
            "reason",
        ],
    );
    for h in rows {
        out.args.push(Arg::from(h.owner_id));
        out.args.push(at.into());
        out.args.push(h.actor_kind.into());
        out.args.push(h.actor_id.into());
        out.args.push(h.actor_name.clone().into());
        out.args.push(h.field.clone().into());
        out.args.push(h.before.clone().into());
        out.args.push(h.after.clone().into());
        out.args.push(h.reason.clone().into());
    }
    out
}

fn event_rows(rows: &[EventRow], at: &str) -> Rows {
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

pub(crate) async fn load_rules(tx: &mut Tx) -> Result<Vec<Rule>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM automation_rules WHERE enabled = 1",
        crate::automation::RULE_COLUMNS
    )))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(crate::automation::rule_from_row).collect()
}

/// Turns a cascade's steps into history and event rows.
fn cascade_rows(
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
        // An action outside the order (subscription, mail, payment) gets its own
        // row from the store (see `apply_outside_actions`).
        if step.changes.is_empty() && !acts_outside(&step.firing.action) {
            history.push(rule_row(
                "automation",
                String::new(),
                "変更なし".into(),
                reason.clone(),
            ));
        }
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

/// The customer flags rules test, for these customers — loaded only when an
/// enabled rule has a customer condition, so intake pays nothing otherwise.
pub(crate) async fn customer_facts(
    conn: &mut sqlx::AnyConnection,
    rules: &[Rule],
    ids: &[i64],
) -> Result<HashMap<i64, CustomerFacts>, StoreError> {
    let mut out = HashMap::new();
    if ids.is_empty() || !rules.iter().any(|r| r.enabled && r.tests_customer()) {
        return Ok(out);
    }
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(400) {
        let sql = format!(
            "SELECT id, mail_opt_out FROM customers WHERE id IN ({})",
            crate::db::in_list(chunk.len(), 1)
        );
        let rows = query_with(sql, chunk.iter().map(|id| Arg::from(*id)).collect())
            .fetch_all(&mut *conn)
            .await?;
        for r in &rows {
            out.insert(
                get_i64(r, "id")?,
                CustomerFacts {
                    mail_opt_out: get_i64(r, "mail_opt_out")? != 0,
                },
            );
        }
    }
    Ok(out)
}

pub(crate) fn facts_of(map: &HashMap<i64, CustomerFacts>, customer: Option<i64>) -> CustomerFacts {
    customer
        .and_then(|id| map.get(&id).copied())
        .unwrap_or_default()
}

pub(crate) fn today() -> jiff::civil::Date {
    juchu_domain::time::japan_date(Timestamp::now())
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

/// Order ids allocated ahead, and which of their derived numbers are taken.
pub(crate) struct Allocated {
    pub ids: Vec<i64>,
    pub taken: std::collections::HashSet<String>,
    /// The blacklist candidates of the new orders, fetched in the same round
    /// trip when asked for.
    pub screening: Option<crate::blacklist::Candidates>,
}

/// Now, at the second precision the store keeps (so the in-memory order equals
/// its row).
pub(crate) fn now_second() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// What every change needs besides the order: masters, enabled rules, settings.
/// Cached per process and keyed by the `masters_revision` setting, which every
/// master, rule or setting write replaces in its own transaction; the pipeline
/// reads that one row instead of six queries' worth of masters on each change.
pub(crate) struct Snapshot {
    pub masters: Masters,
    pub rules: Vec<Rule>,
    pub rounding: juchu_domain::status::RoundingMode,
    pub blacklist: crate::blacklist::BlacklistSnapshot,
}

async fn load_snapshot(tx: &mut Tx) -> Result<Snapshot, StoreError> {
    let masters = load_masters(tx).await?;
    let rules = load_rules(tx).await?;
    let rounding = load_rounding(tx).await?;
    let blacklist = crate::blacklist::load_snapshot(tx).await?;
    Ok(Snapshot {
        masters,
        rules,
        rounding,
        blacklist,
    })
}

impl Store {
    /// The snapshot and the products `codes` name, in one round trip when there are
    /// few codes: the revision row joined with the products.
    pub(crate) async fn context(
        &self,
        tx: &mut Tx,
        codes: &[String],
    ) -> Result<(Arc<Snapshot>, HashMap<String, Product>), StoreError> {
        let (snapshot, products, _) = self.context_with_ids(tx, codes, 0, None).await?;
        Ok((snapshot, products))
    }

    /// [`Store::context`], and on PostgreSQL `new_ids` fresh order ids with the
    /// derived numbers imported orders already use, in the same round trip
    /// (single-order intake is round-trip bound: this is one of its three).
    /// With `screen`, the blacklist candidates of those keys come along too.
    async fn context_with_ids(
        &self,
        tx: &mut Tx,
        codes: &[String],
        new_ids: usize,
        screen: Option<&crate::blacklist::ScreenKeys>,
    ) -> Result<(Arc<Snapshot>, HashMap<String, Product>, Option<Allocated>), StoreError> {
        let postgres = self.backend == crate::db::Backend::Postgres;
        let new_ids = if postgres { new_ids } else { 0 };
        let screen = screen.filter(|_| postgres);
        let mut unique: Vec<&str> = codes.iter().map(|c| c.trim()).collect();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() > 100 {
            let revision =
                sqlx::query("SELECT value AS rev FROM settings WHERE key = 'masters_revision'")
                    .fetch_optional(&mut **tx)
                    .await?
                    .map(|r| get_str(&r, "rev"))
                    .transpose()?;
            let snapshot = self.snapshot_at(tx, revision).await?;
            return Ok((snapshot, products_by_codes(tx, codes).await?, None));
        }
        let placeholders: Vec<String> = (1..=unique.len()).map(|i| format!("${i}")).collect();
        let join = if unique.is_empty() {
            "1 = 0".to_string()
        } else {
            format!("p.code IN ({})", placeholders.join(", "))
        };
        // An uncorrelated scalar subquery runs once (an InitPlan), however many
        // product rows there are: "12,13!,14" where ! marks a taken number.
        let ids_column = if new_ids > 0 {
            format!(
                ", (SELECT string_agg(CAST(x.id AS TEXT) || CASE WHEN EXISTS (SELECT 1 FROM orders o WHERE o.order_number = CAST(x.id AS TEXT)) THEN '!' ELSE '' END, ',' ORDER BY x.id) \
                 FROM (SELECT nextval(pg_get_serial_sequence('orders', 'id')) AS id FROM generate_series(1, {new_ids})) x) AS new_ids"
            )
        } else {
            String::new()
        };
        let mut args: Vec<Arg> = unique.iter().map(|c| Arg::from(*c)).collect();
        let screen_column = match screen {
            Some(keys) => {
                let (sub, more) = crate::blacklist::candidates_subquery(keys, args.len() + 1);
                args.extend(more);
                format!(", {sub} AS blacklist_candidates")
            }
            None => String::new(),
        };
        let sql = format!(
            "SELECT s.value AS rev, p.id, p.code, p.name, p.unit_price, p.tax_rate, p.shipping_fee, p.payment_fee, p.is_bundled_item, p.is_subscription{ids_column}{screen_column} \
             FROM settings s LEFT JOIN products p ON {join} WHERE s.key = 'masters_revision'"
        );
        let rows = query_with(sql, args).fetch_all(&mut **tx).await?;
        let allocated = match rows.first() {
            Some(r) if new_ids > 0 => {
                let text = get_opt_str(r, "new_ids")?.unwrap_or_default();
                let mut ids = Vec::with_capacity(new_ids);
                let mut taken = std::collections::HashSet::new();
                for part in text.split(',').filter(|p| !p.is_empty()) {
                    let (num, is_taken) = match part.strip_suffix('!') {
                        Some(n) => (n, true),
                        None => (part, false),
                    };
                    let id: i64 = num
                        .parse()
                        .map_err(|_| StoreError::Other(format!("bad allocated id {part:?}")))?;
                    if is_taken {
                        taken.insert(num.to_string());
                    }
                    ids.push(id);
                }
                let screening = match screen {
                    Some(keys) => Some(crate::blacklist::candidates_from_json(
                        keys,
                        get_opt_str(r, "blacklist_candidates")?.as_deref(),
                    )?),
                    None => None,
                };
                Some(Allocated {
                    ids,
                    taken,
                    screening,
                })
            }
            _ => None,
        };
        let revision = rows
            .first()
            .map(|r| get_opt_str(r, "rev"))
            .transpose()?
            .flatten();
        let mut products = HashMap::new();
        for r in &rows {
            if get_opt_i64(r, "id")?.is_some() {
                let p = product_from_row(r)?;
                products.insert(p.code.clone(), p);
            }
        }
        if rows.is_empty() {
            // No revision row (a store seeded before revisions existed): no cache.
            return Ok((
                Arc::new(load_snapshot(tx).await?),
                products_by_codes(tx, codes).await?,
                None,
            ));
        }
        Ok((self.snapshot_at(tx, revision).await?, products, allocated))
    }

    async fn snapshot_at(
        &self,
        tx: &mut Tx,
        revision: Option<String>,
    ) -> Result<Arc<Snapshot>, StoreError> {
        let Some(revision) = revision else {
            return Ok(Arc::new(load_snapshot(tx).await?));
        };
        let cached = self
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some((rev, snap)) = cached
            && rev == revision
        {
            return Ok(snap);
        }
        let snap = Arc::new(load_snapshot(tx).await?);
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some((revision, snap.clone()));
        Ok(snap)
    }
}

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
                let customer = customers::insert(&mut tx, &c).await?;
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
                    .bind(now_text())
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
        )
        .await?;
        let after = match result {
            Ok(done) => done,
            Err(why) => format!("与信処理を依頼しません: {why}"),
        };
        let row = crate::payments::payment_history(order.id, actor, after, "");
        write_rows(tx, self.backend, vec![history_rows(&[row], &now_text())]).await?;
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
        let now = now_second();
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

    /// Writes orders [`build_order`] accepted: numbers, 履歴, events, automation,
    /// and the subscriptions parent orders start; `extra` row sets go in the same
    /// write (the subscription run's updates).
    pub(crate) async fn insert_built(
        &self,
        tx: &mut Tx,
        parts: BuiltOrders<'_>,
        actor: &Actor,
        extra: Vec<Rows>,
    ) -> Result<Vec<Order>, StoreError> {
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
        let day = today();
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
        let mut effects = Vec::new();
        for (mut order, id) in built.into_iter().zip(ids) {
            order.id = id;
            let created_events = derive_events(None, &order, &prep.masters);
            history.push(HistoryRow {
                owner_id: id,
                actor_kind: actor.kind(),
                actor_id: actor.id(),
                actor_name: actor.name().to_string(),
                field: "order".into(),
                before: String::new(),
                after: match order.subscription_id {
                    Some(sid) if order.subscription_delivery_date.is_some() => {
                        format!("作成（定期受注 #{sid} から）")
                    }
                    _ => "作成".into(),
                },
                reason: String::new(),
            });
            let customer = facts_of(&facts, order.customer_id);
            let c = cascade(order, &created_events, &prep.rules, &ctx, day, &customer);
            events.extend(created_events.into_iter().map(|event| EventRow {
                order_id: id,
                event,
                depth: 0,
            }));
            cascade_rows(&c, id, &mut history, &mut events);
            // Mail and subscription actions act outside the order: they run once
            // the rows exist (rare, so the intake path stays one write).
            if c.steps.iter().any(|s| acts_outside(&s.firing.action)) {
                effects.push((finals.len(), c.steps.clone()));
            }
            finals.push(c.order);
        }
        let at = juchu_domain::time::format_ts(now);
        // Subscriptions go first: their parent orders point to them.
        let mut sets = crate::subscriptions::start_subscriptions(
            self,
            tx,
            &mut finals,
            &cycles,
            products,
            actor,
            &at,
        )
        .await?;
        sets.extend(new_order_rows(&finals, &at));
        sets.push(history_rows(&history, &at));
        sets.push(event_rows(&events, &at));
        if !attention.is_empty() {
            sets.push(crate::blacklist::match_rows(&attention, &at));
        }
        if attributes.iter().any(|a| !a.is_empty()) {
            let mut rows = Rows::new("order_attributes", &["order_id", "name", "value"]);
            for (order, attrs) in finals.iter().zip(&attributes) {
                for (name, value) in attrs {
                    rows.args.push(order.id.into());
                    rows.args.push(name.trim().into());
                    rows.args.push(value.clone().into());
                }
            }
            sets.push(rows);
        }
        sets.extend(extra);
        write_rows(tx, self.backend, sets).await.map_err(|e| {
            e.unique_to_conflict("order_number", "この受注番号は既に使われています")
        })?;
        if !effects.is_empty() {
            let mut more = Vec::new();
            for (i, steps) in effects {
                let c = Cascade {
                    order: finals[i].clone(),
                    steps,
                    limit_reached: false,
                };
                self.apply_outside_actions(tx, &c, &mut more).await?;
            }
            write_rows(tx, self.backend, vec![history_rows(&more, &at)]).await?;
        }
        Ok(finals)
    }

    /// Changes an order. With `expected_version`, an edit based on a stale copy is
    /// refused (409) instead of overwriting someone else's change.
    pub async fn change_order(
        &self,
        order_number: &str,
        expected_version: Option<i64>,
        patch: &OrderPatch,
        actor: &Actor,
        reason: &str,
    ) -> Result<Changed, StoreError> {
        let mut tx = self.begin().await?;
        let out = self
            .change_in_tx(
                &mut tx,
                order_number,
                expected_version,
                patch,
                actor,
                reason,
            )
            .await?;
        tx.commit().await?;
        Ok(out)
    }

    pub(crate) async fn change_in_tx(
        &self,
        tx: &mut Tx,
        order_number: &str,
        expected_version: Option<i64>,
        patch: &OrderPatch,
        actor: &Actor,
        reason: &str,
    ) -> Result<Changed, StoreError> {
        self.change_in_tx_with_events(
            tx,
            order_number,
            expected_version,
            patch,
            actor,
            reason,
            &[],
        )
        .await
    }

    /// [`Store::change_in_tx`] with events that happened outside the order (its
    /// subscription's status changed): rules fire on them as on the order's own.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn change_in_tx_with_events(
        &self,
        tx: &mut Tx,
        order_number: &str,
        expected_version: Option<i64>,
        patch: &OrderPatch,
        actor: &Actor,
        reason: &str,
        outside_events: &[OrderEvent],
    ) -> Result<Changed, StoreError> {
        let target = ChangeTarget {
            order_number,
            expected_version,
            patch,
            outside_events,
        };
        self.change_batch_in_tx(tx, &[target], actor, reason)
            .await?
            .pop()
            .unwrap_or(Err(StoreError::NotFound("受注")))
    }

    /// The change pipeline for many orders at once (a job's chunk): each
    /// order is validated, diffed, recorded and run through the rules exactly
    /// as alone, but the orders are read, locked and written together — one
    /// read, one multi-row `UPDATE` per few hundred orders, one write of every
    /// 履歴 and event row. An order that fails (not found, stale version,
    /// invalid) gets its error and nothing of it is written; the others go
    /// on. `Err` is for the store itself failing: the caller's transaction is
    /// then to be dropped.
    pub(crate) async fn change_batch_in_tx(
        &self,
        tx: &mut Tx,
        targets: &[ChangeTarget<'_>],
        actor: &Actor,
        reason: &str,
    ) -> Result<Vec<Result<Changed, StoreError>>, StoreError> {
        let mut reason_errors = FieldErrors::default();
        juchu_domain::text::check_len(&mut reason_errors, "reason", reason, 500);
        reason_errors.into_result()?;
        let loaded = self.lock_orders_by_number(tx, targets).await?;
        self.change_loaded_in_tx(tx, loaded, targets, actor, reason)
            .await
    }

    /// Reads and locks the targets' orders (in id order on PostgreSQL, so two
    /// batches never wait on each other in a circle).
    async fn lock_orders_by_number(
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

    /// [`Store::change_batch_in_tx`] on orders the caller read and locked in
    /// this transaction ([`Store::lock_orders_by_id`]).
    pub(crate) async fn change_loaded_in_tx(
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
        let day = today();
        let customers: Vec<i64> = loaded.values().filter_map(|o| o.customer_id).collect();
        let facts = customer_facts(tx, &prep.rules, &customers).await?;

        /// An order whose change is to be written.
        struct Pending {
            index: usize,
            before_version: i64,
            items_changed: bool,
            labels_changed: bool,
            order: Order,
            changes: Vec<FieldChange>,
            events: Vec<OrderEvent>,
            cascade_steps: usize,
        }
        let mut results: Vec<Option<Result<Changed, StoreError>>> =
            (0..targets.len()).map(|_| None).collect();
        let mut pending: Vec<Pending> = Vec::new();
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
                .map(|ch| HistoryRow {
                    owner_id: id,
                    actor_kind: actor.kind(),
                    actor_id: actor.id(),
                    actor_name: actor.name().to_string(),
                    field: ch.field.to_string(),
                    before: ch.before.clone(),
                    after: ch.after.clone(),
                    reason: match forced {
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
            self.apply_outside_actions(tx, &c, &mut order_history)
                .await?;
            self.return_points_on_cancel(tx, &before, &c.order, &mut order_history)
                .await?;
            let cascade_steps = c.steps.len();
            let mut order = c.order;
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
                items_changed: order.items != before.items,
                labels_changed: order.label_ids != before.label_ids,
                order,
                changes,
                events: all_events,
                cascade_steps,
            });
        }
        let now = now_text();
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
        if pending.len() == 1 {
            let p = &pending[0];
            let mut args = write_args(&p.order, &now);
            let sets: Vec<String> = WRITE_COLUMNS
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = ${}", i + 1))
                .collect();
            args.push(p.order.id.into());
            args.push(p.before_version.into());
            let sql = format!(
                "UPDATE orders SET {} WHERE id = ${} AND version = ${}",
                sets.join(", "),
                WRITE_COLUMNS.len() + 1,
                WRITE_COLUMNS.len() + 2
            );
            let done = query_with(sql, args)
                .execute(&mut **tx)
                .await
                .map_err(unique)?;
            if done.rows_affected() != 1 {
                return Err(conflict());
            }
        } else if !pending.is_empty() {
            // Many rows in one statement: the new values joined by id (and the
            // version read, which the row locks keep).
            // A UNION of a few dozen rows plans fast; hundreds made PostgreSQL
            // plan longer than it wrote.
            let per = crate::db::rows_per_statement(self.backend, WRITE_COLUMNS.len() + 2).min(50);
            for group in pending.chunks(per) {
                let mut args: Vec<Arg> =
                    Vec::with_capacity(group.len() * (WRITE_COLUMNS.len() + 2));
                let mut selects = Vec::with_capacity(group.len());
                for p in group {
                    let base = args.len();
                    args.push(p.order.id.into());
                    args.push(p.before_version.into());
                    args.extend(write_args(&p.order, &now));
                    let cols: Vec<String> = std::iter::once(format!("${} AS v_id", base + 1))
                        .chain(std::iter::once(format!("${} AS v_version", base + 2)))
                        .chain(
                            WRITE_COLUMNS
                                .iter()
                                .enumerate()
                                .map(|(i, c)| format!("${} AS {c}", base + 3 + i)),
                        )
                        .collect();
                    selects.push(format!("SELECT {}", cols.join(", ")));
                }
                let sets: Vec<String> = WRITE_COLUMNS
                    .iter()
                    .map(|c| format!("{c} = v.{c}"))
                    .collect();
                let sql = format!(
                    "UPDATE orders SET {} FROM ({}) v WHERE orders.id = v.v_id AND orders.version = v.v_version",
                    sets.join(", "),
                    selects.join(" UNION ALL ")
                );
                let done = query_with(sql, args)
                    .execute(&mut **tx)
                    .await
                    .map_err(unique)?;
                if done.rows_affected() != group.len() as u64 {
                    return Err(conflict());
                }
            }
        }
        let mut sets = vec![
            history_rows(&history, &now),
            self::event_rows(&event_rows_all, &now),
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
            }));
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(StoreError::NotFound("受注"))))
            .collect())
    }
}

/// One order to change in [`Store::change_batch_in_tx`].
pub(crate) struct ChangeTarget<'a> {
    pub order_number: &'a str,
    pub expected_version: Option<i64>,
    pub patch: &'a OrderPatch,
    /// Events that happened outside the order (its subscription's status).
    pub outside_events: &'a [OrderEvent],
}

/// Whether an action acts outside the order (a mail, the subscription).
fn acts_outside(a: &juchu_domain::automation::Action) -> bool {
    matches!(
        a,
        juchu_domain::automation::Action::SendMail { .. }
            | juchu_domain::automation::Action::SetSubscriptionStatus { .. }
            | juchu_domain::automation::Action::RunPaymentProcess { .. }
    )
}

impl Store {
    /// Carries out the rules' actions that reach outside the order — a mail to
    /// queue, the order's subscription to change — in the same transaction, and
    /// records on the order what happened (or why not — a failure here never undoes the order's change).
    async fn apply_outside_actions(
        &self,
        tx: &mut Tx,
        c: &Cascade,
        history: &mut Vec<HistoryRow>,
    ) -> Result<(), StoreError> {
        use juchu_domain::automation::Action;
        use juchu_domain::status::SubscriptionStatus;
        use juchu_domain::subscription::SubscriptionCommand;
        for step in &c.steps {
            if step.error.is_some() {
                continue;
            }
            let rule = &step.firing.rule_name;
            let why = format!(
                "自動化設定「{rule}」: {} → {}",
                step.firing.event.describe(),
                step.firing.action.describe()
            );
            // What the action did (or why not), for one 履歴 row on the order.
            let (field, after) = match &step.firing.action {
                Action::SendMail { template } => {
                    let snapshot = self.masters_in(tx).await?;
                    let result =
                        crate::mail::queue_for_order(tx, template, &c.order, &snapshot.masters)
                            .await?;
                    (
                        "mail",
                        result.unwrap_or_else(|why| format!("送信しません: {why}")),
                    )
                }
                Action::RunPaymentProcess { process } => {
                    let snapshot = self.masters_in(tx).await?;
                    let result = crate::payments::queue(
                        tx,
                        &c.order,
                        &snapshot.masters,
                        *process,
                        &format!("自動化設定「{rule}」"),
                        None,
                    )
                    .await?;
                    (
                        "payment_process",
                        result.unwrap_or_else(|why| format!("依頼しません: {why}")),
                    )
                }
                Action::SetSubscriptionStatus { status, reason } => {
                    let result = match c.order.subscription_id {
                        None => Err("この受注には定期受注がありません".to_string()),
                        Some(sid) => {
                            let cmd = match status {
                                SubscriptionStatus::Stopped => SubscriptionCommand::Stop {
                                    reason: reason.clone(),
                                },
                                SubscriptionStatus::Cancelled => SubscriptionCommand::Cancel {
                                    reason: reason.clone(),
                                },
                                SubscriptionStatus::Active => {
                                    SubscriptionCommand::Resume { confirm: true }
                                }
                            };
                            let actor = Actor::System {
                                name: format!("自動化設定「{rule}」"),
                            };
                            match self
                                .change_subscription_in_tx(tx, sid, None, &[cmd], &actor, &why)
                                .await
                            {
                                Ok(changed) if changed.changes.is_empty() => {
                                    Ok(format!("定期受注 #{sid}: 変更なし"))
                                }
                                Ok(_) => {
                                    Ok(format!("定期受注 #{sid} を「{}」に変更", status.label()))
                                }
                                Err(StoreError::Invalid(e)) => Err(e.to_string()),
                                Err(e) => return Err(e),
                            }
                        }
                    };
                    (
                        "subscription",
                        result.unwrap_or_else(|why| format!("失敗: {why}")),
                    )
                }
                _ => continue,
            };
            history.push(HistoryRow {
                owner_id: c.order.id,
                actor_kind: "rule",
                actor_id: Some(step.firing.rule_id),
                actor_name: rule.clone(),
                field: field.into(),
                before: String::new(),
                after,
                reason: why,
            });
        }
        Ok(())
    }
}

impl Store {
    /// 取消完了: the customer gets the order's used points back and loses the
    /// points it granted; a later 再オーソリ out of 取消完了 undoes that. Each
    /// move is a 履歴 row (`customer_points`), so an order's points go back at
    /// most once however often it is cancelled and re-authorised; the balance
    /// never goes below 0.
    async fn return_points_on_cancel(
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

    /// The masters inside a transaction (from the snapshot cache when current).
    pub(crate) async fn masters_in(&self, tx: &mut Tx) -> Result<Arc<Snapshot>, StoreError> {
        let (snapshot, _) = self.context(tx, &[]).await?;
        Ok(snapshot)
    }
}

fn prefix_errors(mut e: FieldErrors, prefix: &str) -> FieldErrors {
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
