//! Mail over SMTP (lettre, rustls): the [`MailSender`] the worker hands the
//! mail outbox to.

use juchu_store::mail::{MailSender, OutgoingMail, SendFailure, SendFuture};
use lettre::message::{Mailbox, header, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Where mail goes: `JUCHU_SMTP_URL`, `JUCHU_MAIL_FROM`.
///
/// `smtp://host:port` is plain SMTP (a local relay or a test sink);
/// `smtp://user:pass@host:587?tls=required` uses STARTTLS with authentication;
/// `smtps://user:pass@host:465` implicit TLS (lettre's URL scheme, rustls).
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    url: String,
    pub from: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print it.
        f.debug_struct("SmtpConfig")
            .field("url", &"<redacted>")
            .field("from", &self.from)
            .finish()
    }
}

impl SmtpConfig {
    pub fn parse(url: &str, from: &str) -> Result<SmtpConfig, String> {
        let url = url.trim();
        if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
            return Err("JUCHU_SMTP_URL must look like smtp://host:port, smtp://user:pass@host:587?tls=required or smtps://user:pass@host:465".into());
        }
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("JUCHU_SMTP_URL: {e}"))?;
        from.parse::<Mailbox>()
            .map_err(|e| format!("JUCHU_MAIL_FROM {from:?}: {e}"))?;
        Ok(SmtpConfig {
            url: url.to_string(),
            from: from.to_string(),
        })
    }

    /// A sender with one pooled connection to the server.
    pub fn sender(&self) -> Result<SmtpSender, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.url)
            .map_err(|e| format!("JUCHU_SMTP_URL: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = self
            .from
            .parse()
            .map_err(|e| format!("JUCHU_MAIL_FROM: {e}"))?;
        Ok(SmtpSender { transport, from })
    }
}

/// Sends over one pooled SMTP connection.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl MailSender for SmtpSender {
    fn send<'a>(&'a self, mail: &'a OutgoingMail) -> SendFuture<'a> {
        Box::pin(async move {
            let message = build_message(&self.from, mail).map_err(SendFailure::Undeliverable)?;
            self.transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| SendFailure::Failed(e.to_string()))
        })
    }
}

/// A message for SMTP; `Err` says why it cannot be built (a bad address).
/// `From` carries the shop's name (unless `JUCHU_MAIL_FROM` names one), and the
/// `Message-ID` is the same on every retry of one mail so that a receiver can
/// tell a resend from a new mail.
fn build_message(from: &Mailbox, mail: &OutgoingMail) -> Result<Message, String> {
    let parse = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| format!("宛先「{a}」が正しくありません: {e}"))
    };
    let from = match (&from.name, mail.from_name.trim()) {
        (None, name) if !name.is_empty() => {
            Mailbox::new(Some(name.to_string()), from.email.clone())
        }
        _ => from.clone(),
    };
    let domain = from.email.domain().to_string();
    let mut b = Message::builder()
        .message_id(Some(format!("<juchu.{}@{domain}>", mail.message_key)))
        .from(from)
        .to(parse(&mail.to)?);
    for a in mail.cc.split_whitespace() {
        b = b.cc(parse(a)?);
    }
    for a in mail.bcc.split_whitespace() {
        b = b.bcc(parse(a)?);
    }
    // `body` adds `MIME-Version: 1.0` only for MIME parts; a plain body is
    // still a MIME message (UTF-8, transfer-encoded), so say so.
    b.subject(mail.subject.as_str())
        .header(header::MIME_VERSION_1_0)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| e.to_string())
}
