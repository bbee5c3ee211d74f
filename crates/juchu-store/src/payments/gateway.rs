//! The payment-provider interface ([`PaymentGateway`]). Implementations live in
//! `juchu-adapters` (the built-in sandbox provider; real providers speak their
//! HTTP APIs there). The worker calls a gateway with no database transaction
//! of ours open; what it answers comes back through the order pipeline.

use juchu_domain::payment::{GatewayKind, GatewayOutcome, PaymentProcess};
use std::future::Future;
use std::pin::Pin;

/// What we ask the provider, with the data it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRequest {
    pub kind: GatewayKind,
    pub process: PaymentProcess,
    pub order_number: String,
    /// Amount to authorise / register / capture, tax-included yen.
    pub amount: i64,
    /// The provider's transaction id from our link data ("" when none).
    pub transaction_id: String,
    /// The card token the storefront obtained (the sandbox takes test card numbers).
    pub card_token: String,
    /// For 出荷報告 of deferred payment.
    pub tracking_number: String,
    /// The same key on a retry gets the first answer (no second authorisation).
    pub idempotency_key: String,
}

/// The provider could not be reached or did not answer: retried later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GatewayUnavailable(pub String);

pub type GatewayFuture<'a> =
    Pin<Box<dyn Future<Output = Result<GatewayOutcome, GatewayUnavailable>> + Send + 'a>>;

/// A payment provider. Implementations for real providers speak their HTTP APIs;
/// none can be reached from here, so the sandbox is the one shipped.
pub trait PaymentGateway: Send + Sync {
    /// Shown in 履歴 as who answered.
    fn name(&self) -> &str;
    fn call<'a>(&'a self, req: &'a GatewayRequest) -> GatewayFuture<'a>;
}
