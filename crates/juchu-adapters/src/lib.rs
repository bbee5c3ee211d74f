//! Everything that talks to the outside: mail over SMTP and the payment
//! providers (today the built-in sandbox). The store never touches the
//! network; the worker calls these with no transaction open and feeds the
//! answers back through the store's pipelines. A LINE or carrier adapter lands
//! here too.
//!
//! Floors: `smtp` and `payment_sandbox` stand side by side on the store's
//! interfaces (`juchu_store::mail::MailSender`,
//! `juchu_store::payments::PaymentGateway`) and never import each other.

pub mod payment_sandbox;
pub mod smtp;

pub use payment_sandbox::SandboxGateway;
pub use smtp::{SmtpConfig, SmtpSender};
