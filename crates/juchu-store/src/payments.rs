//! 決済処理 through a transactional outbox. A request (from an operator, the API,
//! a rule or a new order) is queued in the transaction of whatever asked for it;
//! [`Store::process_payments`] claims due requests, calls the gateway with no
//! transaction open, and applies the answer through the change pipeline, so
//! 履歴, events and rules (決済NG on 仮売上失敗 …) follow as for any change.

use crate::StoreError;
use crate::db::{Store, Tx, get_i64, get_opt_str, get_str, now_text};
use crate::orders::{attach_children, order_from_row, select_order_sql, write_rows};
use crate::payment_gateway::{GatewayRequest, PaymentGateway};
use crate::pipeline::{Actor, HistoryRow};
use juchu_domain::FieldErrors;
use juchu_domain::masters::Masters;
use juchu_domain::order::Order;
use juchu_domain::patch::OrderPatch;
use juchu_domain::payment::{
    GatewayKind, GatewayOutcome, PaymentProcess, check_request, clears_link, outcome_patch,
};
use juchu_domain::status::PaymentStatus;

/// Attempts before a request whose provider does not answer is given up.
pub const MAX_ATTEMPTS: i64 = 5;
/// How soon a deferred provider's pending credit check is asked again.
const POLL_SECONDS: i64 = 10;

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

/// The provider behind the order's payment method (none for the shop's own methods).
pub fn gateway_of(order: &Order, m: &Masters) -> Option<GatewayKind> {
    order
        .payment_method_id
        .and_then(|id| m.payment_method(id))
        .and_then(|p| GatewayKind::for_method_code(&p.code))
}

fn later(seconds: i64) -> String {
    let t = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap_or(jiff::Timestamp::now());
    juchu_domain::time::format_ts(t)
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
) -> Result<Result<String, String>, StoreError> {
    let kind = match check_request(gateway_of(order, masters), process, order) {
        Ok(k) => k,
        Err(why) => return Ok(Err(why)),
    };
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
        .bind(now_text())
        .bind(order.id)
        .bind(PaymentProcess::FetchCreditResult.code())
        .execute(&mut **tx)
        .await?;
    insert_request(tx, order.id, process, requested_by, &now_text()).await?;
    sqlx::query(
        "INSERT INTO payment_links (order_id, gateway, card_token, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (order_id) DO UPDATE SET gateway = excluded.gateway, \
         card_token = CASE WHEN excluded.card_token = '' THEN payment_links.card_token ELSE excluded.card_token END, \
         updated_at = excluded.updated_at",
    )
    .bind(order.id)
    .bind(kind.code())
    .bind(card_token.unwrap_or("").trim().to_string())
    .bind(now_text())
    .execute(&mut **tx)
    .await?;
    Ok(Ok(format!(
        "決済処理「{}」を依頼しました（{requested_by}）",
        process.label()
    )))
}

async fn insert_request(
    tx: &mut Tx,
    order_id: i64,
    process: PaymentProcess,
    requested_by: &str,
    due: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO payment_requests (order_id, process, status, requested_by, next_attempt_at, created_at) VALUES ($1, $2, 'pending', $3, $4, $5)")
        .bind(order_id)
        .bind(process.code())
        .bind(requested_by.to_string())
        .bind(due.to_string())
        .bind(now_text())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn payment_history(order_id: i64, actor: &Actor, after: String, reason: &str) -> HistoryRow {
    HistoryRow {
        owner_id: order_id,
        actor_kind: actor.kind(),
        actor_id: actor.id(),
        actor_name: actor.name().to_string(),
        field: "payment_process".into(),
        before: String::new(),
        after,
        reason: reason.to_string(),
    }
}

impl Store {
    async fn load_order_by_id(
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
        let id = sqlx::query("SELECT id FROM orders WHERE order_number = $1")
            .bind(order_number.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("受注"))?;
        let order = self
            .load_order_by_id(&mut tx, get_i64(&id, "id")?, true)
            .await?;
        let snapshot = self.masters_in(&mut tx).await?;
        let done = queue(
            &mut tx,
            &order,
            &snapshot.masters,
            process,
            actor.name(),
            card_token,
        )
        .await?
        .map_err(|why| FieldErrors::single("process", "not_allowed", why))?;
        let at = now_text();
        write_rows(
            &mut tx,
            self.backend,
            vec![crate::pipeline::history_rows(
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
    async fn claim_payments(&self, n: usize) -> Result<Vec<(i64, i64, String, i64)>, StoreError> {
        let lock = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let mut tx = self.begin().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, order_id, process, attempts FROM payment_requests WHERE status IN ('pending', 'running') AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2{lock}"
        )))
        .bind(now_text())
        .bind(n as i64)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = get_i64(row, "id")?;
            sqlx::query(
                "UPDATE payment_requests SET status = 'running', next_attempt_at = $1 WHERE id = $2",
            )
            .bind(later(300))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            out.push((
                id,
                get_i64(row, "order_id")?,
                get_str(row, "process")?,
                get_i64(row, "attempts")?,
            ));
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn finish_request(
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
            .bind(now_text())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records on the order that a request ended without changing it.
    async fn note_on_order(
        &self,
        order_id: i64,
        actor: &Actor,
        after: String,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let at = now_text();
        write_rows(
            &mut tx,
            self.backend,
            vec![crate::pipeline::history_rows(
                &[payment_history(order_id, actor, after, "")],
                &at,
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Executes up to `limit` due payment requests against `gateway`.
    pub async fn process_payments(
        &self,
        gateway: &dyn PaymentGateway,
        limit: usize,
    ) -> Result<PaymentRun, StoreError> {
        let mut run = PaymentRun::default();
        let actor = Actor::System {
            name: gateway.name().to_string(),
        };
        let mut claimed = std::collections::VecDeque::new();
        let mut left = limit.max(1);
        loop {
            if claimed.is_empty() {
                if left == 0 {
                    break;
                }
                claimed.extend(self.claim_payments(left.min(20)).await?);
                if claimed.is_empty() {
                    break;
                }
                left -= claimed.len();
            }
            let Some((id, order_id, process_code, attempts)) = claimed.pop_front() else {
                break;
            };
            let Some(process) = PaymentProcess::parse(&process_code) else {
                self.finish_request(id, "failed", "", "unknown process")
                    .await?;
                continue;
            };
            // The order as it is now (it may have changed since the request).
            let mut tx = self.begin_read().await?;
            let order = self.load_order_by_id(&mut tx, order_id, false).await;
            let snapshot = self.masters_in(&mut tx).await?;
            let link = sqlx::query(
                "SELECT transaction_id, card_token FROM payment_links WHERE order_id = $1",
            )
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            let order = match order {
                Ok(o) => o,
                Err(StoreError::NotFound(_)) => {
                    self.finish_request(id, "failed", "", "受注がありません")
                        .await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let kind = match check_request(gateway_of(&order, &snapshot.masters), process, &order) {
                Ok(k) => k,
                Err(why) => {
                    self.finish_request(id, "declined", "", &why).await?;
                    self.note_on_order(
                        order_id,
                        &actor,
                        format!("決済処理「{}」を中止: {why}", process.label()),
                    )
                    .await?;
                    run.declined += 1;
                    continue;
                }
            };
            let (mut transaction_id, card_token) = match &link {
                Some(r) => (get_str(r, "transaction_id")?, get_str(r, "card_token")?),
                None => (String::new(), String::new()),
            };
            let before = order.payment_status;
            if clears_link(kind, process, before) {
                transaction_id.clear();
            }
            let req = GatewayRequest {
                kind,
                process,
                order_number: order.order_number.clone(),
                amount: order.totals.total,
                transaction_id,
                card_token,
                tracking_number: order.tracking_number.clone().unwrap_or_default(),
                idempotency_key: format!("juchu-payment-request-{id}"),
            };
            let outcome = match gateway.call(&req).await {
                Ok(o) => o,
                Err(e) => {
                    let attempts = attempts + 1;
                    let why = e.to_string();
                    if attempts >= MAX_ATTEMPTS {
                        sqlx::query("UPDATE payment_requests SET status = 'failed', attempts = $1, last_error = $2, finished_at = $3 WHERE id = $4")
                            .bind(attempts)
                            .bind(why.clone())
                            .bind(now_text())
                            .bind(id)
                            .execute(&self.pool)
                            .await?;
                        self.note_on_order(
                            order_id,
                            &actor,
                            format!(
                                "決済処理「{}」失敗（{attempts}回試行）: {why}",
                                process.label()
                            ),
                        )
                        .await?;
                    } else {
                        sqlx::query("UPDATE payment_requests SET status = 'pending', attempts = $1, last_error = $2, next_attempt_at = $3 WHERE id = $4")
                            .bind(attempts)
                            .bind(why.clone())
                            .bind(later(10 << (attempts - 1).min(8)))
                            .bind(id)
                            .execute(&self.pool)
                            .await?;
                    }
                    run.unavailable.push((id, why));
                    continue;
                }
            };
            if outcome == GatewayOutcome::Pending {
                sqlx::query("UPDATE payment_requests SET status = 'pending', next_attempt_at = $1 WHERE id = $2")
                    .bind(later(POLL_SECONDS))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                continue;
            }
            match self
                .apply_outcome(id, &order, kind, process, before, &req, &outcome, &actor)
                .await
            {
                Ok(()) => match outcome {
                    GatewayOutcome::Declined { .. } => run.declined += 1,
                    _ => run.done += 1,
                },
                // The order moved on meanwhile (e.g. 強制取消): the answer no longer
                // fits. Recorded, never half-applied.
                Err(StoreError::Invalid(e)) => {
                    let why = e.to_string();
                    self.finish_request(id, "failed", "", &why).await?;
                    self.note_on_order(
                        order_id,
                        &actor,
                        format!(
                            "決済処理「{}」の結果を反映できません: {why}",
                            process.label()
                        ),
                    )
                    .await?;
                    run.declined += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(run)
    }

    #[allow(clippy::too_many_arguments)]
    async fn apply_outcome(
        &self,
        id: i64,
        order: &Order,
        kind: GatewayKind,
        process: PaymentProcess,
        before: PaymentStatus,
        req: &GatewayRequest,
        outcome: &GatewayOutcome,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let patch: OrderPatch = outcome_patch(kind, process, before, outcome);
        let (status, result, reason) = match outcome {
            GatewayOutcome::Accepted { status, .. } => (
                "done",
                format!("「{}」", status.label()),
                format!("決済処理「{}」", process.label()),
            ),
            GatewayOutcome::Declined { reason, .. } => (
                "declined",
                reason.clone(),
                format!("決済処理「{}」: {reason}", process.label()),
            ),
            GatewayOutcome::Pending => unreachable!("pending is rescheduled, not applied"),
        };
        let mut tx = self.begin().await?;
        let changed = self
            .change_in_tx(&mut tx, &order.order_number, None, &patch, actor, &reason)
            .await?;
        let at = now_text();
        if changed.changes.is_empty() {
            // A decline without a status of its own (売上 refused): say so on the order.
            write_rows(
                &mut tx,
                self.backend,
                vec![crate::pipeline::history_rows(
                    &[payment_history(order.id, actor, reason.clone(), "")],
                    &at,
                )],
            )
            .await?;
        }
        let new_transaction = match outcome {
            GatewayOutcome::Accepted { transaction_id, .. } => Some(transaction_id.clone()),
            _ if req.transaction_id.is_empty() => Some(String::new()),
            _ => None,
        };
        if let Some(t) = new_transaction {
            sqlx::query(
                "UPDATE payment_links SET transaction_id = $1, updated_at = $2 WHERE order_id = $3",
            )
            .bind(t)
            .bind(at.clone())
            .bind(order.id)
            .execute(&mut *tx)
            .await?;
        }
        // A registration accepted for credit check: ask for the result later.
        if matches!(
            outcome,
            GatewayOutcome::Accepted {
                status: PaymentStatus::CreditCheckPending,
                ..
            }
        ) {
            insert_request(
                &mut tx,
                order.id,
                PaymentProcess::FetchCreditResult,
                actor.name(),
                &at,
            )
            .await?;
        }
        sqlx::query("UPDATE payment_requests SET status = $1, result = $2, finished_at = $3 WHERE id = $4 AND status = 'running'")
            .bind(status)
            .bind(result)
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// 入金通知: the provider (bank transfer, convenience store, the carrier for
    /// 代金引換) reports that the money arrived. The amount must be the order's
    /// total; the order becomes 入金済み with its 入金日 through the pipeline.
    pub async fn record_payment_notification(
        &self,
        order_number: &str,
        amount: i64,
        paid_on: Option<jiff::civil::Date>,
    ) -> Result<crate::pipeline::Changed, StoreError> {
        let mut tx = self.begin().await?;
        let id = sqlx::query("SELECT id FROM orders WHERE order_number = $1")
            .bind(order_number.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("受注"))?;
        let order = self
            .load_order_by_id(&mut tx, get_i64(&id, "id")?, true)
            .await?;
        let snapshot = self.masters_in(&mut tx).await?;
        let mut errors = FieldErrors::default();
        if !matches!(
            gateway_of(&order, &snapshot.masters),
            Some(GatewayKind::Transfer | GatewayKind::CashOnDelivery)
        ) {
            errors.add(
                "order_number",
                "not_awaiting_payment",
                "入金通知を受け付けるのは銀行振込・コンビニ決済・代金引換の受注だけです",
            );
        } else if order.payment_status != PaymentStatus::AwaitingPayment {
            errors.add(
                "order_number",
                "not_awaiting_payment",
                format!(
                    "決済状況が「{}」のため入金を記録できません（入金待ちの受注だけです）",
                    order.payment_status.label()
                ),
            );
        }
        if amount != order.totals.total {
            errors.add(
                "amount",
                "amount_mismatch",
                format!(
                    "入金額 {amount} 円が請求額 {} 円と一致しません",
                    order.totals.total
                ),
            );
        }
        errors.into_result()?;
        let day = paid_on.unwrap_or_else(crate::pipeline::today);
        let patch = OrderPatch {
            payment_status: Some(PaymentStatus::Paid.code().into()),
            paid_at: Some(Some(day.to_string())),
            ..Default::default()
        };
        let actor = Actor::System {
            name: "決済サービス（入金通知）".into(),
        };
        let changed = self
            .change_in_tx(&mut tx, order_number, None, &patch, &actor, "入金通知")
            .await?;
        tx.commit().await?;
        Ok(changed)
    }
}
