//! The built-in sandbox payment provider. It behaves like the real providers,
//! failures included, and keeps its own ledger (`sandbox_transactions`) the way
//! a provider would, so our record and the provider's can disagree exactly as
//! they do in life (after a 強制取消, the provider still holds a live
//! transaction).

use juchu_domain::payment::{GatewayKind, GatewayOutcome, PaymentProcess};
use juchu_domain::status::PaymentStatus;
use juchu_store::Store;
use juchu_store::db::{get_i64, get_str};
use juchu_store::payments::{GatewayFuture, GatewayRequest, GatewayUnavailable, PaymentGateway};
use sqlx::AnyPool;
use std::time::Duration;

/// Test card numbers of the sandbox (any other valid card number succeeds).
pub mod test_cards {
    /// Authorises and captures.
    pub const OK: &str = "4111111111111111";
    /// The card company refuses the credit check: 与信審査エラー.
    pub const CREDIT_CHECK_ERROR: &str = "4000000000000002";
    /// The authorisation (仮売上) fails: 仮売上失敗.
    pub const AUTHORIZATION_FAILED: &str = "4000000000000119";
    /// The provider times out on every call (the request is retried, then fails).
    pub const TIMEOUT: &str = "4000000000000259";
}

/// Deferred payment (後払い) refuses orders above this amount, as NP後払い does.
pub const DEFERRED_LIMIT: i64 = 55_000;
/// 代金引換 and コンビニ決済 refuse orders above this amount.
pub const COLLECTION_LIMIT: i64 = 300_000;

/// The built-in sandbox provider.
#[derive(Clone)]
pub struct SandboxGateway {
    pool: AnyPool,
    /// How long a deferred provider takes to decide its credit check.
    credit_delay: Duration,
    clock: juchu_store::db::Clock,
}

impl SandboxGateway {
    pub fn new(store: &Store, credit_delay: Duration) -> Self {
        SandboxGateway {
            pool: store.pool().clone(),
            credit_delay,
            clock: store.clock.clone(),
        }
    }
}

fn luhn_ok(number: &str) -> bool {
    if !(13..=19).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = number
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn declined(status: Option<PaymentStatus>, reason: impl Into<String>) -> GatewayOutcome {
    GatewayOutcome::Declined {
        status,
        reason: reason.into(),
    }
}

/// Live states: the provider still holds money or a registration.
const LIVE: &[&str] = &["authorized", "captured", "pending", "approved", "awaiting"];

impl SandboxGateway {
    async fn state(&self, id: &str) -> Result<Option<(String, i64, String)>, sqlx::Error> {
        if id.is_empty() {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT state, amount, decision_at FROM sandbox_transactions WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok((
                get_str(&r, "state")?,
                get_i64(&r, "amount")?,
                get_str(&r, "decision_at")?,
            ))
        })
        .transpose()
    }

    async fn set_state(&self, id: &str, state: &str, tracking: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE sandbox_transactions SET state = $1, tracking_number = CASE WHEN $2 = '' THEN tracking_number ELSE $2 END WHERE id = $3")
            .bind(state.to_string())
            .bind(tracking.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn open(
        &self,
        req: &GatewayRequest,
        state: &str,
        decision_at: &str,
    ) -> Result<String, sqlx::Error> {
        let id = format!(
            "sbx_{}_{}",
            req.kind.code(),
            juchu_store::db::random_token("")[..16].to_lowercase()
        );
        sqlx::query("INSERT INTO sandbox_transactions (id, gateway, order_number, amount, state, card_token, decision_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(id.clone())
            .bind(req.kind.code())
            .bind(req.order_number.clone())
            .bind(req.amount)
            .bind(state.to_string())
            .bind(req.card_token.clone())
            .bind(decision_at.to_string())
            .bind(self.clock.now_text())
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// A live transaction the provider holds for this order number, if any.
    async fn live_for_order(&self, order_number: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM sandbox_transactions WHERE order_number = $1 AND state IN ({}) ORDER BY created_at DESC LIMIT 1",
            LIVE.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")
        )))
        .bind(order_number.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| get_str(&r, "id")).transpose()
    }

    async fn answer(&self, req: &GatewayRequest) -> Result<GatewayOutcome, sqlx::Error> {
        use GatewayKind::*;
        use PaymentProcess::*;
        use PaymentStatus as S;
        let current = self.state(&req.transaction_id).await?;
        let accepted = |status, id: &str| GatewayOutcome::Accepted {
            status,
            transaction_id: id.to_string(),
        };
        match (req.kind, req.process) {
            (_, Cancel) => {
                match current {
                    Some((state, _, _)) if LIVE.contains(&state.as_str()) => {
                        self.set_state(&req.transaction_id, "cancelled", "").await?;
                    }
                    // Nothing live at the provider (e.g. the authorisation failed):
                    // the cancellation is ours alone.
                    _ => {}
                }
                Ok(accepted(S::Cancelled, &req.transaction_id))
            }
            (Card, Authorize | Reauthorize) => {
                // 再オーソリ replaces the old authorisation: release it first.
                if let Some((state, _, _)) = &current
                    && state == "authorized"
                {
                    self.set_state(&req.transaction_id, "cancelled", "").await?;
                }
                let card = req.card_token.replace([' ', '-'], "");
                Ok(match card.as_str() {
                    "" => declined(
                        Some(S::AuthorizationFailed),
                        "カード情報が登録されていません",
                    ),
                    test_cards::CREDIT_CHECK_ERROR => declined(
                        Some(S::CreditCheckError),
                        "カード会社の与信審査で承認されませんでした（カード会社にお問い合わせください）",
                    ),
                    test_cards::AUTHORIZATION_FAILED => declined(
                        Some(S::AuthorizationFailed),
                        "仮売上に失敗しました（利用限度額超過）",
                    ),
                    c if !luhn_ok(c) => {
                        declined(Some(S::AuthorizationFailed), "カード番号が正しくありません")
                    }
                    _ => {
                        let id = self.open(req, "authorized", "").await?;
                        accepted(S::Authorized, &id)
                    }
                })
            }
            (Card, Capture) => Ok(match current {
                Some((state, amount, _)) if state == "authorized" && req.amount <= amount => {
                    self.set_state(&req.transaction_id, "captured", "").await?;
                    accepted(S::Captured, &req.transaction_id)
                }
                Some((state, amount, _)) if state == "authorized" => declined(
                    None,
                    format!(
                        "売上金額 {} 円が仮売上金額 {amount} 円を超えています（再オーソリ処理が必要です）",
                        req.amount
                    ),
                ),
                _ => declined(None, "売上できる仮売上がありません"),
            }),
            (Deferred, Authorize | Reauthorize) => {
                if let Some(live) = self.live_for_order(&req.order_number).await? {
                    return Ok(declined(
                        Some(S::RegistrationFailed),
                        format!(
                            "決済サービスに有効な取引（{live}）が残っているため登録できません。決済サービス側で取消してから再オーソリしてください"
                        ),
                    ));
                }
                let delay = i64::try_from(self.credit_delay.as_secs()).unwrap_or(i64::MAX);
                let decide = self.clock.in_seconds(delay);
                let id = self.open(req, "pending", &decide).await?;
                Ok(accepted(S::CreditCheckPending, &id))
            }
            (Deferred, FetchCreditResult) => Ok(match current {
                Some((state, amount, decision_at)) if state == "pending" => {
                    if self.clock.now_text() < decision_at {
                        GatewayOutcome::Pending
                    } else if amount > DEFERRED_LIMIT {
                        self.set_state(&req.transaction_id, "rejected", "").await?;
                        declined(
                            Some(S::CreditCheckError),
                            format!(
                                "後払いの与信審査で承認されませんでした（ご利用限度額 {DEFERRED_LIMIT} 円超過）"
                            ),
                        )
                    } else {
                        self.set_state(&req.transaction_id, "approved", "").await?;
                        accepted(S::CreditCheckApproved, &req.transaction_id)
                    }
                }
                Some((state, _, _)) if state == "approved" => {
                    accepted(S::CreditCheckApproved, &req.transaction_id)
                }
                _ => declined(None, "照会できる取引がありません"),
            }),
            (Deferred, Capture) => Ok(match current {
                _ if req.tracking_number.trim().is_empty() => {
                    declined(None, "出荷報告には配送伝票番号が必要です")
                }
                Some((state, _, _)) if state == "approved" => {
                    self.set_state(&req.transaction_id, "captured", &req.tracking_number)
                        .await?;
                    accepted(S::Captured, &req.transaction_id)
                }
                _ => declined(None, "与信審査が完了した取引がありません"),
            }),
            (CashOnDelivery | Transfer, Authorize | Reauthorize) => {
                // A switch from a card releases the card's authorisation.
                if let Some((state, _, _)) = &current
                    && LIVE.contains(&state.as_str())
                {
                    self.set_state(&req.transaction_id, "cancelled", "").await?;
                }
                if req.amount > COLLECTION_LIMIT {
                    return Ok(declined(
                        Some(S::RegistrationFailed),
                        format!("お支払い金額が上限（{COLLECTION_LIMIT} 円）を超えています"),
                    ));
                }
                let id = self.open(req, "awaiting", "").await?;
                Ok(accepted(S::AwaitingPayment, &id))
            }
            (CashOnDelivery | Transfer, Capture) => Ok(match current {
                Some((state, _, _)) if state == "awaiting" || state == "paid" => {
                    self.set_state(&req.transaction_id, "captured", "").await?;
                    accepted(S::Captured, &req.transaction_id)
                }
                _ => declined(None, "入金の確認された取引がありません"),
            }),
            (Card | CashOnDelivery | Transfer, FetchCreditResult) => {
                Ok(declined(None, "この支払方法に与信結果の照会はありません"))
            }
        }
    }
}

impl PaymentGateway for SandboxGateway {
    fn name(&self) -> &str {
        "決済サービス（サンドボックス）"
    }

    fn call<'a>(&'a self, req: &'a GatewayRequest) -> GatewayFuture<'a> {
        Box::pin(async move {
            if req.kind == GatewayKind::Card
                && req.card_token.replace([' ', '-'], "") == test_cards::TIMEOUT
            {
                return Err(GatewayUnavailable(
                    "決済サービスが応答しません（タイムアウト）".into(),
                ));
            }
            // The sandbox's own database trouble is, to us, an unreachable provider.
            let unavailable =
                |e: sqlx::Error| GatewayUnavailable(format!("決済サービスのエラー: {e}"));
            if let Some(row) =
                sqlx::query("SELECT outcome_json FROM sandbox_replies WHERE idempotency_key = $1")
                    .bind(req.idempotency_key.clone())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(unavailable)?
                && let Ok(first) =
                    serde_json::from_str(&get_str(&row, "outcome_json").unwrap_or_default())
            {
                return Ok(first);
            }
            let outcome = self.answer(req).await.map_err(unavailable)?;
            // A pending credit check is asked again with the same key: not kept.
            if outcome != GatewayOutcome::Pending && !req.idempotency_key.is_empty() {
                sqlx::query("INSERT INTO sandbox_replies (idempotency_key, outcome_json, created_at) VALUES ($1, $2, $3)")
                    .bind(req.idempotency_key.clone())
                    .bind(serde_json::to_string(&outcome).unwrap_or_default())
                    .bind(self.clock.now_text())
                    .execute(&self.pool)
                    .await
                    .map_err(unavailable)?;
            }
            Ok(outcome)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::luhn_ok;

    #[test]
    fn luhn() {
        assert!(luhn_ok(super::test_cards::OK));
        assert!(luhn_ok(super::test_cards::CREDIT_CHECK_ERROR));
        assert!(luhn_ok(super::test_cards::AUTHORIZATION_FAILED));
        assert!(luhn_ok(super::test_cards::TIMEOUT));
        assert!(!luhn_ok("4111111111111112"));
        assert!(!luhn_ok("41111"));
        assert!(!luhn_ok("4111-1111-1111-1111"));
    }
}
