//! 決済処理: what a payment process asks of a provider, when it may be asked, and
//! how the provider's answer changes the order. Pure: the store queues requests in
//! its outbox and a worker talks to the gateway; this module only decides.

use crate::order::Order;
use crate::patch::OrderPatch;
use crate::status::PaymentStatus;
use serde::{Deserialize, Serialize};

/// Which kind of provider a payment method is settled through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    /// クレジットカード: 仮売上 (authorise) → 売上 (capture) / 取消.
    Card,
    /// NP後払い-style deferred payment: 取引登録 → 与信 result later → 出荷報告 (売上).
    Deferred,
    /// 代金引換: the carrier collects; 入金待ち until the collection is reported.
    CashOnDelivery,
    /// 銀行振込 / コンビニ決済: 入金待ち until the provider notifies the payment.
    Transfer,
}

impl GatewayKind {
    /// The provider behind one of the shop's payment methods, by its code. A
    /// method the shop added with its own code has no provider: its 決済状況 is
    /// kept by hand.
    pub fn for_method_code(code: &str) -> Option<GatewayKind> {
        match code {
            "credit_card" => Some(GatewayKind::Card),
            "np_atobarai" => Some(GatewayKind::Deferred),
            "cod" => Some(GatewayKind::CashOnDelivery),
            "bank_transfer" | "convenience_store" => Some(GatewayKind::Transfer),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            GatewayKind::Card => "card",
            GatewayKind::Deferred => "deferred",
            GatewayKind::CashOnDelivery => "cod",
            GatewayKind::Transfer => "transfer",
        }
    }

    pub fn from_code(s: &str) -> Option<GatewayKind> {
        [
            GatewayKind::Card,
            GatewayKind::Deferred,
            GatewayKind::CashOnDelivery,
            GatewayKind::Transfer,
        ]
        .into_iter()
        .find(|k| k.code() == s)
    }
}

macro_rules! processes {
    ($($variant:ident => $code:literal, $label:literal;)+) => {
        /// 決済処理: what an operator, a bulk job or a rule asks the provider to do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum PaymentProcess { $($variant,)+ }

        impl PaymentProcess {
            pub const ALL: &'static [PaymentProcess] = &[$(PaymentProcess::$variant,)+];
            pub fn code(self) -> &'static str { match self { $(PaymentProcess::$variant => $code,)+ } }
            pub fn label(self) -> &'static str { match self { $(PaymentProcess::$variant => $label,)+ } }
            /// Accepts the code or the Japanese label.
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|p| p.code() == s || p.label() == s)
            }
        }
    };
}

processes! {
    // 与信 / 仮売上 / 取引登録: the first request for an order.
    Authorize => "authorize", "与信処理";
    Capture => "capture", "売上処理";
    Cancel => "cancel", "取消処理";
    Reauthorize => "reauthorize", "再オーソリ処理";
    // Internal: ask a deferred-payment provider for the credit result it owes.
    FetchCreditResult => "fetch_credit_result", "与信結果照会";
}

/// Whether `process` may be asked for `order` now; the error says why not, in
/// the words an operator reads.
pub fn check_request(
    kind: Option<GatewayKind>,
    process: PaymentProcess,
    order: &Order,
) -> Result<GatewayKind, String> {
    use PaymentStatus::*;
    let Some(kind) = kind else {
        return Err(
            "この支払方法は決済サービスと連携していません（決済状況は手動で変更してください）"
                .into(),
        );
    };
    let s = order.payment_status;
    let refuse = |why: &str| Err(format!("決済状況「{}」の受注は{why}", s.label()));
    match process {
        PaymentProcess::Authorize if s != Unpaid => {
            refuse("与信処理できません（再オーソリ処理を使ってください）")
        }
        PaymentProcess::Capture => match (kind, s) {
            (GatewayKind::Card, Authorized) => Ok(kind),
            (GatewayKind::Deferred, CreditCheckApproved) => {
                if order.tracking_number.as_deref().is_none_or(str::is_empty) {
                    Err("後払いの売上処理（出荷報告）には配送伝票番号が必要です".into())
                } else {
                    Ok(kind)
                }
            }
            (GatewayKind::CashOnDelivery | GatewayKind::Transfer, Paid) => Ok(kind),
            _ => refuse("売上処理できません"),
        },
        PaymentProcess::Cancel if matches!(s, Unpaid | Cancelled) => refuse("取消処理できません"),
        PaymentProcess::Reauthorize if matches!(s, Captured | Paid) => {
            refuse("再オーソリ処理できません（先に取消処理をしてください）")
        }
        PaymentProcess::FetchCreditResult if s != CreditCheckPending => {
            refuse("与信結果を照会できません")
        }
        _ => Ok(kind),
    }
}

/// What the provider answered to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GatewayOutcome {
    /// Done; the order's 決済状況 becomes `status`. `transaction_id` is the
    /// provider's id for the (new) transaction.
    Accepted {
        status: PaymentStatus,
        transaction_id: String,
    },
    /// Refused for a reason of the payment itself (card declined, 与信 NG, a live
    /// transaction already exists): the order gets the failure `status`, when
    /// the process has one, and the reason is recorded.
    Declined {
        status: Option<PaymentStatus>,
        reason: String,
    },
    /// A deferred provider has not decided yet; ask again later.
    Pending,
}

/// The change an answer makes to the order. A re-registration of deferred
/// payment after a cancellation starts a new transaction, so the old one's
/// shipment report (配送伝票番号, 発送完了日) is cleared with it, whatever the
/// answer (the seed's NP後払い 再オーソリ).
pub fn outcome_patch(
    kind: GatewayKind,
    process: PaymentProcess,
    before: PaymentStatus,
    outcome: &GatewayOutcome,
) -> OrderPatch {
    let status = match outcome {
        GatewayOutcome::Accepted { status, .. } => Some(*status),
        GatewayOutcome::Declined { status, .. } => *status,
        GatewayOutcome::Pending => None,
    };
    let mut patch = OrderPatch {
        payment_status: status.map(|s| s.code().to_string()),
        ..Default::default()
    };
    if kind == GatewayKind::Deferred
        && process == PaymentProcess::Reauthorize
        && before == PaymentStatus::Cancelled
        && outcome != &GatewayOutcome::Pending
    {
        patch.tracking_number = Some(None);
        patch.shipped_at = Some(None);
    }
    patch
}

/// Whether our link data to the provider (transaction id) is dropped before
/// the request: a deferred re-registration after a cancellation starts afresh.
pub fn clears_link(kind: GatewayKind, process: PaymentProcess, before: PaymentStatus) -> bool {
    kind == GatewayKind::Deferred
        && process == PaymentProcess::Reauthorize
        && before == PaymentStatus::Cancelled
}

/// Points when an order is cancelled: used points go back to the customer and
/// granted points are taken back. The customer's balance change.
pub fn points_returned_on_cancel(order: &Order) -> i64 {
    order.totals.points_used - order.points_granted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{masters, order_with, products};

    fn sample_order() -> Order {
        order_with(&masters(), &products(), &[("TEA-01", 1, None)])
    }

    fn with(status: PaymentStatus, tracking: Option<&str>) -> Order {
        let mut o = sample_order();
        o.payment_status = status;
        o.tracking_number = tracking.map(Into::into);
        o
    }

    #[test]
    fn kinds_by_method_code() {
        assert_eq!(
            GatewayKind::for_method_code("credit_card"),
            Some(GatewayKind::Card)
        );
        assert_eq!(
            GatewayKind::for_method_code("np_atobarai"),
            Some(GatewayKind::Deferred)
        );
        assert_eq!(GatewayKind::for_method_code("shop_points"), None);
        for k in [
            GatewayKind::Card,
            GatewayKind::Deferred,
            GatewayKind::CashOnDelivery,
            GatewayKind::Transfer,
        ] {
            assert_eq!(GatewayKind::from_code(k.code()), Some(k));
        }
        assert_eq!(
            PaymentProcess::parse("再オーソリ処理"),
            Some(PaymentProcess::Reauthorize)
        );
        assert_eq!(
            PaymentProcess::parse("capture"),
            Some(PaymentProcess::Capture)
        );
        assert_eq!(PaymentProcess::parse("売上"), None);
    }

    #[test]
    fn deferred_capture_needs_a_tracking_number() {
        use PaymentStatus::*;
        let k = Some(GatewayKind::Deferred);
        let err = check_request(k, PaymentProcess::Capture, &with(CreditCheckApproved, None))
            .unwrap_err();
        assert!(err.contains("配送伝票番号"), "{err}");
        assert!(
            check_request(
                k,
                PaymentProcess::Capture,
                &with(CreditCheckApproved, Some(""))
            )
            .is_err()
        );
        assert_eq!(
            check_request(
                k,
                PaymentProcess::Capture,
                &with(CreditCheckApproved, Some("1234"))
            ),
            Ok(GatewayKind::Deferred)
        );
        // Not before the credit check passed.
        assert!(
            check_request(
                k,
                PaymentProcess::Capture,
                &with(CreditCheckPending, Some("1"))
            )
            .is_err()
        );
    }

    #[test]
    fn which_process_when() {
        use PaymentStatus::*;
        let card = Some(GatewayKind::Card);
        assert!(check_request(card, PaymentProcess::Authorize, &with(Unpaid, None)).is_ok());
        assert!(check_request(card, PaymentProcess::Authorize, &with(Authorized, None)).is_err());
        assert!(check_request(card, PaymentProcess::Capture, &with(Authorized, None)).is_ok());
        assert!(
            check_request(
                card,
                PaymentProcess::Capture,
                &with(AuthorizationFailed, None)
            )
            .is_err()
        );
        assert!(check_request(card, PaymentProcess::Cancel, &with(Captured, None)).is_ok());
        assert!(check_request(card, PaymentProcess::Cancel, &with(Cancelled, None)).is_err());
        assert!(
            check_request(
                card,
                PaymentProcess::Reauthorize,
                &with(AuthorizationFailed, None)
            )
            .is_ok()
        );
        assert!(check_request(card, PaymentProcess::Reauthorize, &with(Captured, None)).is_err());
        let transfer = Some(GatewayKind::Transfer);
        assert!(
            check_request(
                transfer,
                PaymentProcess::Capture,
                &with(AwaitingPayment, None)
            )
            .is_err()
        );
        assert!(check_request(transfer, PaymentProcess::Capture, &with(Paid, None)).is_ok());
        let none = check_request(None, PaymentProcess::Capture, &with(Authorized, None));
        assert!(none.unwrap_err().contains("連携していません"));
    }

    #[test]
    fn deferred_reregistration_clears_the_shipment_report() {
        use PaymentStatus::*;
        let failed = GatewayOutcome::Declined {
            status: Some(RegistrationFailed),
            reason: "取引が残っています".into(),
        };
        let p = outcome_patch(
            GatewayKind::Deferred,
            PaymentProcess::Reauthorize,
            Cancelled,
            &failed,
        );
        assert_eq!(p.payment_status.as_deref(), Some("registration_failed"));
        assert_eq!(p.tracking_number, Some(None));
        assert_eq!(p.shipped_at, Some(None));
        assert!(clears_link(
            GatewayKind::Deferred,
            PaymentProcess::Reauthorize,
            Cancelled
        ));
        // A card re-authorisation keeps the shipment data.
        let ok = GatewayOutcome::Accepted {
            status: Authorized,
            transaction_id: "t".into(),
        };
        let p = outcome_patch(
            GatewayKind::Card,
            PaymentProcess::Reauthorize,
            Cancelled,
            &ok,
        );
        assert_eq!(p.tracking_number, None);
        assert!(!clears_link(
            GatewayKind::Card,
            PaymentProcess::Reauthorize,
            Cancelled
        ));
        // Pending changes nothing.
        let p = outcome_patch(
            GatewayKind::Deferred,
            PaymentProcess::FetchCreditResult,
            CreditCheckPending,
            &GatewayOutcome::Pending,
        );
        assert_eq!(p.payment_status, None);
    }

    #[test]
    fn points_on_cancel() {
        let mut o = sample_order();
        o.totals.points_used = 300;
        o.points_granted = 50;
        assert_eq!(points_returned_on_cancel(&o), 250);
    }
}
