//! 決済処理 through a transactional outbox. A request (from an operator, the API,
//! a rule or a new order) is queued in the transaction of whatever asked for it;
//! [`Store::process_payments`] claims due requests, calls the gateway with no
//! transaction open, and applies the answer through the change pipeline, so
//! 履歴, events and rules (決済NG on 仮売上失敗 …) follow as for any change.

pub mod gateway;

pub use gateway::{GatewayFuture, GatewayRequest, GatewayUnavailable, PaymentGateway};

use crate::StoreError;
use crate::db::write_rows;
use crate::db::{Arg, Rows, Store, Tx, get_i64, get_opt_str, get_str};
use crate::history::{Actor, HistoryRow};
use crate::orders::{attach_children, order_from_row, select_order_sql};
use juchu_domain::FieldErrors;
use juchu_domain::masters::Masters;
use juchu_domain::order::Order;
use juchu_domain::payment::{GatewayKind, GatewayOutcome, PaymentProcess, check_request};
use juchu_domain::status::PaymentStatus;

/// Attempts before a request whose provider does not answer is given up.
pub const MAX_ATTEMPTS: i64 = 5;
/// How soon a deferred provider's pending credit check is asked again.
pub(crate) const POLL_SECONDS: i64 = 10;
/// How long one call to the provider may take before it counts as unanswered.
pub(crate) const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Payment requests 自動化設定 may raise per order.
pub const MAX_RULE_REQUESTS: i64 = 3;
/// How rules name themselves as requesters (`自動化設定「…」`).
pub(crate) const RULE_PREFIX: &str = "自動化設定";

/// One payment request, as the order page and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PaymentRequestInfo {
    pub id: i64,
    pub process: String,
    /// pending / running / done / declined / failed / superseded
    pub status: String,
    pub attempts: i64,
    pub result: String,
    pub last_error: String,
    pub requested_by: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

/// What one round of [`Store::process_payments`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentRun {
    pub done: usize,
    pub declined: usize,
    /// Provider unreachable this time (retried later) or given up.
    pub unavailable: Vec<(i64, String)>,
}

/// A request a worker holds under its claim token.
pub(crate) struct Claimed {
    pub(crate) id: i64,
    pub(crate) order_id: i64,
    pub(crate) process: String,
    pub(crate) attempts: i64,
    pub(crate) token: String,
    /// 0, or which 再オーソリ retry of the policy this request is.
    pub(crate) retry_number: i64,
}

/// The provider behind the order's payment method (none for the shop's own methods).
pub fn gateway_of(order: &Order, m: &Masters) -> Option<GatewayKind> {
    order
        .payment_method_id
        .and_then(|id| m.payment_method(id))
        .and_then(|p| GatewayKind::for_method_code(&p.code))
}

/// Queues `process` for `order` in the caller's transaction. `Ok(Err(why))` when
/// it may not be asked now (the reason is for 履歴 or the operator).
pub(crate) async fn queue(
    tx: &mut Tx,
    order: &Order,
    masters: &Masters,
    process: PaymentProcess,
    requested_by: &str,
    card_token: Option<&str>,
    now: &str,
) -> Result<Result<String, String>, StoreError> {
    let kind = match check_request(gateway_of(order, masters), process, order) {
        Ok(k) => k,
        Err(why) => return Ok(Err(why)),
    };
    // A rule that answers a provider's answer with another request (エラー →
    // 再オーソリ) would go on for ever: rules may ask a few times per order.
    if requested_by.starts_with(RULE_PREFIX) {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM payment_requests WHERE order_id = $1 AND requested_by LIKE '自動化設定%'",
        )
        .bind(order.id)
        .fetch_one(&mut **tx)
        .await?;
        if get_i64(&row, "n")? >= MAX_RULE_REQUESTS {
            return Ok(Err(format!(
                "自動化設定からの決済処理は1受注{MAX_RULE_REQUESTS}回までです（手動で依頼してください）"
            )));
        }
    }
    // A 再オーソリ the policy planned for later gives way to whatever is asked
    // now (a new card, a 取消): it would otherwise block the order for days.
    sqlx::query("UPDATE payment_requests SET status = 'superseded', finished_at = $1 WHERE order_id = $2 AND status = 'pending' AND retry_number > 0")
        .bind(now)
        .bind(order.id)
        .execute(&mut **tx)
        .await?;
    let open = sqlx::query(
        "SELECT id, process FROM payment_requests WHERE order_id = $1 AND status IN ('pending', 'running')",
    )
    .bind(order.id)
    .fetch_all(&mut **tx)
    .await?;
    for r in &open {
        let p = get_str(r, "process")?;
        if p == PaymentProcess::FetchCreditResult.code() {
            continue;
        }
        let label = PaymentProcess::parse(&p).map_or(p.as_str(), |p| p.label());
        return Ok(Err(format!(
            "決済処理「{label}」が処理待ちです。終わってから依頼してください"
        )));
    }
    // A new request replaces a credit check still being waited for.
    sqlx::query("UPDATE payment_requests SET status = 'superseded', finished_at = $1 WHERE order_id = $2 AND status = 'pending' AND process = $3")
        .bind(now)
        .bind(order.id)
        .bind(PaymentProcess::FetchCreditResult.code())
        .execute(&mut **tx)
        .await?;
    insert_request(tx, order.id, process, requested_by, now, now).await?;
    sqlx::query(
        "INSERT INTO payment_links (order_id, gateway, card_token, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (order_id) DO UPDATE SET gateway = excluded.gateway, \
         card_token = CASE WHEN excluded.card_token = '' THEN payment_links.card_token ELSE excluded.card_token END, \
         updated_at = excluded.updated_at",
    )
    .bind(order.id)
    .bind(kind.code())
    .bind(card_token.unwrap_or("").trim().to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Ok(format!(
        "決済処理「{}」を依頼しました（{requested_by}）",
        process.label()
    )))
}

/// 与信 for orders just created (one from the API, a bulk import, the daily
/// run's child orders), as rows to write with them: one request per order whose
/// method has a provider (a card only with a token: `card_tokens[i]`), its link
/// with the token, and a 履歴 row. New orders have no open request, so the
/// per-order checks of [`queue`] are not needed; `skip` names orders a rule
/// already asked for.
pub(crate) fn new_order_requests(
    orders: &[Order],
    card_tokens: &[Option<String>],
    masters: &Masters,
    actor: &Actor,
    skip: &std::collections::HashSet<i64>,
    now: &str,
) -> (Vec<Rows>, Vec<HistoryRow>) {
    let mut requests = Rows::new(
        "payment_requests",
        &[
            "order_id",
            "process",
            "status",
            "requested_by",
            "next_attempt_at",
            "created_at",
        ],
    );
    let mut links = Rows::new(
        "payment_links",
        &["order_id", "gateway", "card_token", "updated_at"],
    );
    let mut history = Vec::new();
    let process = PaymentProcess::Authorize;
    for (i, order) in orders.iter().enumerate() {
        if skip.contains(&order.id) || order.payment_status != PaymentStatus::Unpaid {
            continue;
        }
        let token = card_tokens
            .get(i)
            .cloned()
            .flatten()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        let kind = match gateway_of(order, masters) {
            None => continue,
            Some(GatewayKind::Card) if token.is_none() => continue,
            Some(k) => k,
        };
        let after = match check_request(Some(kind), process, order) {
            Ok(_) => {
                requests.args.extend([
                    Arg::from(order.id),
                    process.code().into(),
                    "pending".into(),
                    actor.name().into(),
                    now.into(),
                    now.into(),
                ]);
                links.args.extend([
                    Arg::from(order.id),
                    kind.code().into(),
                    token.unwrap_or_default().into(),
                    now.into(),
                ]);
                format!(
                    "決済処理「{}」を依頼しました（{}）",
                    process.label(),
                    actor.name()
                )
            }
            Err(why) => format!("与信処理を依頼しません: {why}"),
        };
        history.push(payment_history(order.id, actor, after, ""));
    }
    (vec![requests, links], history)
}

pub(crate) async fn insert_request(
    tx: &mut Tx,
    order_id: i64,
    process: PaymentProcess,
    requested_by: &str,
    due: &str,
    now: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO payment_requests (order_id, process, status, requested_by, next_attempt_at, created_at) VALUES ($1, $2, 'pending', $3, $4, $5)")
        .bind(order_id)
        .bind(process.code())
        .bind(requested_by.to_string())
        .bind(due.to_string())
        .bind(now.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The 履歴 row of a payment request or answer on its order.
pub(crate) fn payment_history(
    order_id: i64,
    actor: &Actor,
    after: String,
    reason: &str,
) -> HistoryRow {
    HistoryRow::by(actor, order_id, "payment_process", "", after, reason)
}

impl Store {
    /// The order by its number, locked for the transaction.
    pub(crate) async fn lock_order(
        &self,
        tx: &mut Tx,
        order_number: &str,
    ) -> Result<Order, StoreError> {
        let id = sqlx::query("SELECT id FROM orders WHERE order_number = $1")
            .bind(order_number.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound("受注"))?;
        self.load_order_by_id(tx, get_i64(&id, "id")?, true).await
    }

    pub(crate) async fn load_order_by_id(
        &self,
        tx: &mut Tx,
        id: i64,
        lock: bool,
    ) -> Result<Order, StoreError> {
        let suffix = if lock { self.lock_suffix() } else { "" };
        let sql = format!("{} WHERE id = $1{suffix}", select_order_sql());
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound("受注"))?;
        let mut v = vec![order_from_row(&row)?];
        attach_children(tx, &mut v).await?;
        Ok(v.remove(0))
    }

    /// Asks for a payment process on one order (operator, API, bulk job). The
    /// request is queued and recorded in 履歴; the provider is asked by the worker.
    /// `card_token` replaces the stored one (a new card for 再オーソリ).
    pub async fn request_payment(
        &self,
        order_number: &str,
        process: PaymentProcess,
        card_token: Option<&str>,
        actor: &Actor,
        reason: &str,
    ) -> Result<String, StoreError> {
        if process == PaymentProcess::FetchCreditResult {
            return Err(FieldErrors::single(
                "process",
                "not_allowed",
                "与信結果照会は決済サービスの結果待ちの間に自動で行われます",
            )
            .into());
        }
        let mut tx = self.begin().await?;
        let order = self.lock_order(&mut tx, order_number).await?;
        let snapshot = self.masters_in(&mut tx).await?;
        let done = queue(
            &mut tx,
            &order,
            &snapshot.masters,
            process,
            actor.name(),
            card_token,
            &self.clock.now_text(),
        )
        .await?
        .map_err(|why| FieldErrors::single("process", "not_allowed", why))?;
        let at = self.clock.now_text();
        write_rows(
            &mut tx,
            self.backend,
            vec![crate::history::order_history_rows(
                &[payment_history(order.id, actor, done.clone(), reason)],
                &at,
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(done)
    }

    /// An order's payment requests, newest first.
    pub async fn payment_requests(
        &self,
        order_id: i64,
    ) -> Result<Vec<PaymentRequestInfo>, StoreError> {
        let rows = sqlx::query("SELECT id, process, status, attempts, result, last_error, requested_by, created_at, finished_at FROM payment_requests WHERE order_id = $1 ORDER BY id DESC")
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let p = get_str(r, "process")?;
                Ok(PaymentRequestInfo {
                    id: get_i64(r, "id")?,
                    process: PaymentProcess::parse(&p).map_or(p, |p| p.label().to_string()),
                    status: get_str(r, "status")?,
                    attempts: get_i64(r, "attempts")?,
                    result: get_str(r, "result")?,
                    last_error: get_str(r, "last_error")?,
                    requested_by: get_str(r, "requested_by")?,
                    created_at: get_str(r, "created_at")?,
                    finished_at: get_opt_str(r, "finished_at")?,
                })
            })
            .collect()
    }

    /// Claims up to `n` due requests in one short transaction (PostgreSQL
    /// `SKIP LOCKED`; a 5-minute lease, so a worker that dies mid-call lets
    /// another take them over).
    pub(crate) async fn claim_payments(&self, n: usize) -> Result<Vec<Claimed>, StoreError> {
        let lock = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let mut tx = self.begin().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, order_id, process, attempts, retry_number FROM payment_requests WHERE status IN ('pending', 'running') AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2{lock}"
        )))
        .bind(self.clock.now_text())
        .bind(n as i64)
        .fetch_all(&mut *tx)
        .await?;
        let token = crate::db::random_token("")[..16].to_string();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = get_i64(row, "id")?;
            sqlx::query(
                "UPDATE payment_requests SET status = 'running', next_attempt_at = $1, claim_token = $2 WHERE id = $3",
            )
            .bind(self.clock.in_seconds(300))
            .bind(token.clone())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            out.push(Claimed {
                id,
                order_id: get_i64(row, "order_id")?,
                process: get_str(row, "process")?,
                attempts: get_i64(row, "attempts")?,
                token: token.clone(),
                retry_number: get_i64(row, "retry_number")?,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    pub(crate) async fn finish_request(
        &self,
        id: i64,
        status: &str,
        result: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE payment_requests SET status = $1, result = $2, last_error = $3, finished_at = $4 WHERE id = $5")
            .bind(status.to_string())
            .bind(result.to_string())
            .bind(error.to_string())
            .bind(self.clock.now_text())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records on the order that a request ended without changing it.
    pub(crate) async fn note_on_order(
        &self,
        order_id: i64,
        actor: &Actor,
        after: String,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let at = self.clock.now_text();
        write_rows(
            &mut tx,
            self.backend,
            vec![crate::history::order_history_rows(
                &[payment_history(order_id, actor, after, "")],
                &at,
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Saves the provider's new transaction id when its answer could not be
    /// applied, so a live authorisation is never left without our link to it.
    pub(crate) async fn keep_link(
        &self,
        order_id: i64,
        outcome: &GatewayOutcome,
    ) -> Result<(), StoreError> {
        if let GatewayOutcome::Accepted { transaction_id, .. } = outcome {
            sqlx::query(
                "UPDATE payment_links SET transaction_id = $1, updated_at = $2 WHERE order_id = $3",
            )
            .bind(transaction_id.clone())
            .bind(self.clock.now_text())
            .bind(order_id)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }
}
