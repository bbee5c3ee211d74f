//! Everything that talks to the outside: mail over SMTP, the payment
//! providers and the carriers' tracking (today the built-in sandboxes). The store never touches the
//! network; the worker calls these with no transaction open and feeds the
//! answers back through the store's pipelines. LINE Login's ID-token check is
//! here as its sandbox (`line_sandbox`); LINE pushes go through
//! `line_push` (HTTP, to LINE or to `line_push_sandbox` on loopback);
//! webhooks go out through `webhook_client` (signed by the store).
//!
//! Floors: `smtp`, `payment_sandbox` and `tracking_sandbox` stand side by side
//! on the store's interfaces (`juchu_store::mail::MailSender`,
//! `juchu_store::payments::PaymentGateway`,
//! `juchu_store::deliveries::CarrierTracker`, `juchu_store::line::LinePusher`,
//! `juchu_store::webhooks::WebhookSender`)
//! and never import each other — except the push sandbox's test, which drives
//! the push client against it.

pub mod line_push;
pub mod line_push_sandbox;
pub mod line_sandbox;
pub mod payment_sandbox;
pub mod smtp;
pub mod tracking_sandbox;
pub mod webhook_client;

pub use line_push::{LineMessagingClient, install_tls_provider};
pub use line_push_sandbox::{LinePushSandbox, SandboxFailure};
pub use line_sandbox::LineSandbox;
pub use payment_sandbox::SandboxGateway;
pub use smtp::{SmtpConfig, SmtpSender};
pub use tracking_sandbox::SandboxTracker;
pub use webhook_client::{
    PublicUrlGuard, WebhookClient, allow_private_from_env, check_endpoint_url,
};
