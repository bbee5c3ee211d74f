//! A payment provider's answers, and payments that arrived, applied to orders
//! through the order pipeline, so 履歴, events and rules (決済NG on 仮売上失敗 …)
//! follow as for any change.

use crate::StoreError;
use crate::db::{Store, Tx, get_i64, get_str, write_rows};
use crate::history::{Actor, HistoryRow};
use crate::payments::{
    CALL_TIMEOUT, Claimed, GatewayRequest, MAX_ATTEMPTS, POLL_SECONDS, PaymentGateway, PaymentRun,
    gateway_of, insert_request, payment_history,
};
use crate::settings::{settings_from, settings_map};
use juchu_domain::FieldErrors;
use juchu_domain::order::Order;
use juchu_domain::patch::OrderPatch;
use juchu_domain::payment::check_request;
use juchu_domain::payment::{
    GatewayKind, GatewayOutcome, PaymentProcess, clears_link, outcome_patch,
};
use juchu_domain::status::PaymentStatus;
use juchu_domain::subscription::{SubscriptionCommand, attention};

/// One provider answer on its way into the order.
struct Answered<'a> {
    id: i64,
    token: &'a str,
    order: &'a Order,
    kind: GatewayKind,
    process: PaymentProcess,
    before: PaymentStatus,
    req: &'a GatewayRequest,
    outcome: &'a GatewayOutcome,
}

impl Store {
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
            let Some(Claimed {
                id,
                order_id,
                process: process_code,
                attempts,
                token,
                retry_number,
            }) = claimed.pop_front()
            else {
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
            // A subscription's child order is authorised with the subscription's
            // card as it is now: a card the customer replaced after a decline
            // counts for the 再オーソリ. (The parent order keeps the card it was
            // bought with.)
            let subscription_card = match order.as_ref().ok().and_then(|o| o.subscription_id) {
                Some(sid)
                    if matches!(
                        process,
                        PaymentProcess::Authorize | PaymentProcess::Reauthorize
                    ) =>
                {
                    sqlx::query("SELECT card_token FROM subscriptions WHERE id = $1 AND (parent_order_id IS NULL OR parent_order_id <> $2)")
                        .bind(sid)
                        .bind(order_id)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|r| get_str(&r, "card_token"))
                        .transpose()?
                        .filter(|t| !t.is_empty())
                }
                _ => None,
            };
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
            let (mut transaction_id, mut card_token) = match &link {
                Some(r) => (get_str(r, "transaction_id")?, get_str(r, "card_token")?),
                None => (String::new(), String::new()),
            };
            if kind == GatewayKind::Card
                && let Some(t) = subscription_card
            {
                card_token = t;
            }
            let handling = snapshot
                .masters
                .handling_status(order.handling_status_id)
                .map(|h| h.name.as_str());
            if retry_number > 0 && matches!(handling, Some("キャンセル" | "返品")) {
                let why = "受注がキャンセルされたため再オーソリしません";
                self.finish_request(id, "declined", "", why).await?;
                self.note_on_order(order_id, &actor, why.to_string())
                    .await?;
                run.declined += 1;
                continue;
            }
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
            let answer = match tokio::time::timeout(CALL_TIMEOUT, gateway.call(&req)).await {
                Ok(a) => a,
                Err(_) => Err(crate::payments::GatewayUnavailable(format!(
                    "決済サービスが{}秒以内に応答しませんでした",
                    CALL_TIMEOUT.as_secs()
                ))),
            };
            let outcome = match answer {
                Ok(o) => o,
                Err(e) => {
                    let attempts = attempts + 1;
                    let why = e.to_string();
                    if attempts >= MAX_ATTEMPTS {
                        sqlx::query("UPDATE payment_requests SET status = 'failed', attempts = $1, last_error = $2, finished_at = $3 WHERE id = $4")
                            .bind(attempts)
                            .bind(why.clone())
                            .bind(self.clock.now_text())
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
                            .bind(self.clock.in_seconds(10 << (attempts - 1).min(8)))
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
                    .bind(self.clock.in_seconds(POLL_SECONDS))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                continue;
            }
            let answered = Answered {
                id,
                token: &token,
                order: &order,
                kind,
                process,
                before,
                req: &req,
                outcome: &outcome,
            };
            match self.apply_outcome(&answered, &actor).await {
                Ok(true) => match outcome {
                    GatewayOutcome::Declined { .. } => run.declined += 1,
                    _ => run.done += 1,
                },
                // Another worker took the request over after the lease ran out.
                Ok(false) => {}
                // The answer does not fit the order any more (the pipeline refused
                // it): recorded, never half-applied, the provider's transaction kept.
                Err(StoreError::Invalid(e)) => {
                    let why = e.to_string();
                    self.keep_link(order_id, &outcome).await?;
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

    /// Applies one answer in one transaction: the request is closed first (under
    /// its claim — `false` when another worker took it over), then the order
    /// changes through the pipeline, unless its 決済状況 moved on since the call
    /// (e.g. a 強制取消 meanwhile), which is recorded instead.
    async fn apply_outcome(&self, a: &Answered<'_>, actor: &Actor) -> Result<bool, StoreError> {
        let (status, result, reason) = match a.outcome {
            GatewayOutcome::Accepted { status, .. } => (
                "done",
                format!("「{}」", status.label()),
                format!("決済処理「{}」", a.process.label()),
            ),
            GatewayOutcome::Declined { reason, .. } => (
                "declined",
                reason.clone(),
                format!("決済処理「{}」: {reason}", a.process.label()),
            ),
            GatewayOutcome::Pending => return Ok(true),
        };
        let mut tx = self.begin().await?;
        let at = self.clock.now_text();
        // Closed before the order changes, so a rule reacting to the answer may
        // ask for the next process at once.
        let closed = sqlx::query("UPDATE payment_requests SET status = $1, result = $2, finished_at = $3 WHERE id = $4 AND claim_token = $5 AND status = 'running'")
            .bind(status)
            .bind(result)
            .bind(at.clone())
            .bind(a.id)
            .bind(a.token.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if closed != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let now_status = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT payment_status FROM orders WHERE id = $1{}",
            self.lock_suffix()
        )))
        .bind(a.order.id)
        .fetch_one(&mut *tx)
        .await?;
        let now_status = get_str(&now_status, "payment_status")?;
        let mut notes = Vec::new();
        let applied = now_status == a.before.code();
        if !applied {
            let label =
                PaymentStatus::from_code(&now_status).map_or(now_status.as_str(), |s| s.label());
            notes.push(format!(
                "{reason} — 決済状況が依頼後に「{label}」に変わったため反映しません"
            ));
        } else {
            let patch: OrderPatch = outcome_patch(a.kind, a.process, a.before, a.outcome);
            let changed = self
                .change_in_tx(
                    &mut tx,
                    crate::orders::ChangeTarget::new(&a.order.order_number, &patch),
                    actor,
                    &reason,
                )
                .await?;
            if changed.changes.is_empty() {
                // A decline without a status of its own (売上 refused): say so.
                notes.push(reason.clone());
            }
        }
        if !notes.is_empty() {
            let rows: Vec<HistoryRow> = notes
                .into_iter()
                .map(|n| payment_history(a.order.id, actor, n, ""))
                .collect();
            write_rows(
                &mut tx,
                self.backend,
                vec![crate::history::order_history_rows(&rows, &at)],
            )
            .await?;
        }
        let new_transaction = match a.outcome {
            GatewayOutcome::Accepted { transaction_id, .. } => Some(transaction_id.clone()),
            _ if a.req.transaction_id.is_empty() => Some(String::new()),
            _ => None,
        };
        // Only a decline that was applied plans a retry: after a 強制 change
        // meanwhile, nobody should authorise the card again by policy.
        if let GatewayOutcome::Declined { reason, .. } = a.outcome
            && applied
            && a.kind == GatewayKind::Card
            && matches!(
                a.process,
                PaymentProcess::Authorize | PaymentProcess::Reauthorize
            )
            && let Some(sid) = a.order.subscription_id
        {
            self.plan_reauthorization(&mut tx, a, sid, reason, actor)
                .await?;
        }
        if let Some(t) = new_transaction {
            sqlx::query(
                "UPDATE payment_links SET transaction_id = $1, updated_at = $2 WHERE order_id = $3",
            )
            .bind(t)
            .bind(at.clone())
            .bind(a.order.id)
            .execute(&mut *tx)
            .await?;
        }
        // A registration accepted for credit check: ask for the result later.
        if matches!(
            a.outcome,
            GatewayOutcome::Accepted {
                status: PaymentStatus::CreditCheckPending,
                ..
            }
        ) {
            insert_request(
                &mut tx,
                a.order.id,
                PaymentProcess::FetchCreditResult,
                actor.name(),
                &at,
                &self.clock.now_text(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// 再オーソリ policy for a declined recurring authorisation: the next retry
    /// is queued in the transaction that records the decline (so it exists
    /// exactly once: the table's unique `retry_of` says so too), `interval` days
    /// later; after the last one the subscription is flagged 要対応 with why.
    async fn plan_reauthorization(
        &self,
        tx: &mut Tx,
        a: &Answered<'_>,
        subscription_id: i64,
        reason: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let settings = settings_from(&settings_map(tx).await?);
        let max = i64::from(settings.reauth_retries);
        if max == 0 {
            return Ok(());
        }
        let row = sqlx::query("SELECT retry_number FROM payment_requests WHERE id = $1")
            .bind(a.id)
            .fetch_one(&mut **tx)
            .await?;
        let done = get_i64(&row, "retry_number")?;
        let at = self.clock.now_text();
        let note = if done < max {
            let next = done + 1;
            let due = self
                .clock
                .in_seconds(i64::from(settings.reauth_interval_days) * 86_400);
            let by = format!("再オーソリ設定（{next}/{max}回目）");
            sqlx::query("INSERT INTO payment_requests (order_id, process, status, requested_by, next_attempt_at, created_at, retry_of, retry_number) VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7)")
                .bind(a.order.id)
                .bind(PaymentProcess::Reauthorize.code())
                .bind(by.clone())
                .bind(due.clone())
                .bind(at.clone())
                .bind(a.id)
                .bind(next)
                .execute(&mut **tx)
                .await?;
            format!(
                "再オーソリを予定しました（{next}/{max}回目、{}以降）",
                due.get(..16).unwrap_or(&due)
            )
        } else {
            let why = format!(
                "{}（{max}回再試行）: 受注 {} — {reason}",
                attention::REAUTH_GAVE_UP,
                a.order.order_number
            );
            self.change_subscription_in_tx(
                tx,
                subscription_id,
                None,
                &[SubscriptionCommand::Flag { reason: why }],
                actor,
                "再オーソリ設定",
            )
            .await?;
            format!(
                "再オーソリを{max}回試みましたが承認されませんでした。定期受注 #{subscription_id} を要対応にしました"
            )
        };
        write_rows(
            tx,
            self.backend,
            vec![crate::history::order_history_rows(
                &[payment_history(a.order.id, actor, note, "")],
                &at,
            )],
        )
        .await?;
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
    ) -> Result<crate::orders::Changed, StoreError> {
        let mut tx = self.begin().await?;
        let order = self.lock_order(&mut tx, order_number).await?;
        let snapshot = self.masters_in(&mut tx).await?;
        // A provider that sends the same notification again gets the same answer.
        if order.payment_status == PaymentStatus::Paid
            && amount == order.totals.total
            && (paid_on.is_none() || paid_on == order.paid_at)
        {
            tx.commit().await?;
            return Ok(crate::orders::Changed {
                order,
                changes: vec![],
                events: vec![],
                cascade_steps: 0,
                outside: vec![],
            });
        }
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
        let day = paid_on.unwrap_or_else(|| self.clock.today());
        let patch = OrderPatch {
            payment_status: Some(PaymentStatus::Paid.code().into()),
            paid_at: Some(Some(day.to_string())),
            ..Default::default()
        };
        let actor = Actor::System {
            name: "決済サービス（入金通知）".into(),
        };
        let changed = self
            .change_in_tx(
                &mut tx,
                crate::orders::ChangeTarget::new(order_number, &patch),
                &actor,
                "入金通知",
            )
            .await?;
        tx.commit().await?;
        Ok(changed)
    }
}
