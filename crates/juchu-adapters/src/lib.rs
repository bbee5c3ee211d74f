//! Everything that talks to the outside: mail over SMTP, the payment
//! providers and the carriers' tracking (today the built-in sandboxes). The store never touches the
//! network; the worker calls these with no transaction open and feeds the
//! answers back through the store's pipelines. A LINE or carrier adapter lands
//! here too; LINE Login's ID-token check is here as its sandbox (`line_sandbox`).
//!
//! Floors: `smtp`, `payment_sandbox` and `tracking_sandbox` stand side by side
//! on the store's interfaces (`juchu_store::mail::MailSender`,
//! `juchu_store::payments::PaymentGateway`,
//! `juchu_store::deliveries::CarrierTracker`) and never import each other.

pub mod line_sandbox;
pub mod payment_sandbox;
pub mod smtp;
pub mod tracking_sandbox;

pub use line_sandbox::LineSandbox;
pub use payment_sandbox::SandboxGateway;
pub use smtp::{SmtpConfig, SmtpSender};
pub use tracking_sandbox::SandboxTracker;
