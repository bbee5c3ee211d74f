//! メールテンプレート and the mail outbox. A rule's mail is rendered and queued
//! in the transaction of the change that fired it (so a rolled-back change sends
//! nothing); [`Store::deliver_mail`] sends what is due over SMTP with retries.

use crate::StoreError;
use crate::db::{Store, Tx, get_i64, get_str, now_text};
use juchu_domain::FieldErrors;
use juchu_domain::mail::{MailContext, MailTemplate, default_templates, render};
use juchu_domain::masters::Masters;
use juchu_domain::order::Order;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How many times delivery is tried before a mail is given up as failed.
pub const MAX_ATTEMPTS: i64 = 5;

/// Where mail goes: `JUCHU_SMTP_URL=smtp://host:port`, `JUCHU_MAIL_FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub from: String,
}

impl SmtpConfig {
    /// From `smtp://host:port` (plain SMTP, as to a local relay or a test sink).
    pub fn parse(url: &str, from: &str) -> Result<SmtpConfig, String> {
        let rest = url.strip_prefix("smtp://").ok_or_else(|| {
            format!("JUCHU_SMTP_URL must look like smtp://host:port (got {url:?})")
        })?;
        let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "25"));
        let port = port
            .trim_end_matches('/')
            .parse()
            .map_err(|_| format!("JUCHU_SMTP_URL: bad port in {url:?}"))?;
        from.parse::<Mailbox>()
            .map_err(|e| format!("JUCHU_MAIL_FROM {from:?}: {e}"))?;
        Ok(SmtpConfig {
            host: host.to_string(),
            port,
            from: from.to_string(),
        })
    }
}

/// What one delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub sent: usize,
    /// (outbox id, error) of attempts that failed this round.
    pub failed: Vec<(i64, String)>,
}

pub(crate) async fn seed_templates(tx: &mut Tx) -> Result<(), StoreError> {
    let done = sqlx::query("SELECT value FROM settings WHERE key = 'seeded_mail'")
        .fetch_optional(&mut **tx)
        .await?;
    if done.is_some() {
        return Ok(());
    }
    for (i, t) in default_templates().iter().enumerate() {
        sqlx::query(
            "INSERT INTO mail_templates (code, name, subject, body, position) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(t.code.clone())
        .bind(t.name.clone())
        .bind(t.subject.clone())
        .bind(t.body.clone())
        .bind(i as i64 + 1)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("INSERT INTO settings (key, value) VALUES ('seeded_mail', '1')")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(crate) async fn template(
    conn: &mut sqlx::AnyConnection,
    code: &str,
) -> Result<Option<MailTemplate>, StoreError> {
    let row = sqlx::query("SELECT code, name, subject, body FROM mail_templates WHERE code = $1")
        .bind(code.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok(MailTemplate {
            code: get_str(&r, "code")?,
            name: get_str(&r, "name")?,
            subject: get_str(&r, "subject")?,
            body: get_str(&r, "body")?,
        })
    })
    .transpose()
}

/// Renders `code` for `order` and queues it, in the caller's transaction.
/// `Ok(Err(why))` when it is not sent for a reason the shop should see (opted
/// out, no address, template missing or broken).
pub(crate) async fn queue_for_order(
    tx: &mut Tx,
    code: &str,
    order: &Order,
    masters: &Masters,
) -> Result<Result<String, String>, StoreError> {
    let Some(t) = template(tx, code).await? else {
        return Ok(Err(format!("メールテンプレート「{code}」がありません")));
    };
    if let Some(customer) = order.customer_id {
        let row = sqlx::query("SELECT mail_opt_out FROM customers WHERE id = $1")
            .bind(customer)
            .fetch_optional(&mut **tx)
            .await?;
        if row.is_some_and(|r| get_i64(&r, "mail_opt_out").unwrap_or(0) != 0) {
            return Ok(Err(format!(
                "「{}」は送信しない設定（メール設定: 送信しない）の顧客のため送っていません",
                t.name
            )));
        }
    }
    let to = order.billing.email.trim().to_string();
    if to.is_empty() {
        return Ok(Err(format!(
            "「{}」: 請求者のメールアドレスがありません",
            t.name
        )));
    }
    let (subject, body) = match render(&t, &MailContext::of(order, masters)) {
        Ok(r) => r,
        Err(e) => return Ok(Err(format!("「{}」を作れません: {e}", t.name))),
    };
    let now = now_text();
    sqlx::query(
        "INSERT INTO mail_outbox (order_id, template_code, to_address, subject, body, status, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)",
    )
    .bind(order.id)
    .bind(t.code.clone())
    .bind(to.clone())
    .bind(subject)
    .bind(body)
    .bind(now.clone())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Ok(format!(
        "「{}」を {to} 宛てに送信待ちにしました",
        t.name
    )))
}

/// One queued mail, as the API and the order page show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: i64,
    pub template_code: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// pending / sending (claimed by a worker) / sent / failed
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
}

impl Store {
    /// Every template, in position order.
    pub async fn mail_templates(&self) -> Result<Vec<MailTemplate>, StoreError> {
        let rows = sqlx::query(
            "SELECT code, name, subject, body FROM mail_templates ORDER BY position, code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MailTemplate {
                    code: get_str(r, "code")?,
                    name: get_str(r, "name")?,
                    subject: get_str(r, "subject")?,
                    body: get_str(r, "body")?,
                })
            })
            .collect()
    }

    /// Changes a template's subject and body; a template that does not render
    /// (unknown variable, syntax) is refused with the reason.
    pub async fn update_mail_template(
        &self,
        code: &str,
        subject: &str,
        body: &str,
    ) -> Result<MailTemplate, StoreError> {
        let mut tx = self.begin().await?;
        let mut t = template(&mut tx, code)
            .await?
            .ok_or(StoreError::NotFound("メールテンプレート"))?;
        t.subject = subject.to_string();
        t.body = body.to_string();
        // Rendered once against a sample order so mistakes show at save time.
        let sample = juchu_domain::mail::sample_context();
        if let Err(e) = render(&t, &sample) {
            return Err(FieldErrors::single("template", "invalid_template", e).into());
        }
        sqlx::query("UPDATE mail_templates SET subject = $1, body = $2 WHERE code = $3")
            .bind(subject.to_string())
            .bind(body.to_string())
            .bind(code.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(t)
    }

    /// The mails queued for an order, oldest first.
    pub async fn order_mails(&self, order_id: i64) -> Result<Vec<QueuedMail>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, template_code, to_address, subject, body, status, attempts, last_error FROM mail_outbox WHERE order_id = $1 ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QueuedMail {
                    id: get_i64(r, "id")?,
                    template_code: get_str(r, "template_code")?,
                    to: get_str(r, "to_address")?,
                    subject: get_str(r, "subject")?,
                    body: get_str(r, "body")?,
                    status: get_str(r, "status")?,
                    attempts: get_i64(r, "attempts")?,
                    last_error: get_str(r, "last_error")?,
                })
            })
            .collect()
    }

    /// Sends the due mails over SMTP. Each mail is first claimed in a short
    /// transaction (PostgreSQL `SKIP LOCKED`; a 10-minute lease), then sent with no
    /// transaction open — on SQLite a slow SMTP server must not hold the write
    /// lock — then recorded. A failure is retried later (1, 2, 4, 8 minutes) and
    /// marked failed after [`MAX_ATTEMPTS`]; a worker that dies mid-send leaves a
    /// lease that expires, so the mail is sent again (at least once).
    pub async fn deliver_mail(
        &self,
        smtp: &SmtpConfig,
        limit: i64,
    ) -> Result<Delivery, StoreError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|e| StoreError::Other(format!("JUCHU_MAIL_FROM: {e}")))?;
        let lock = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let mut report = Delivery::default();
        for _ in 0..limit.max(1) {
            let mut tx = self.begin().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, to_address, subject, body, attempts FROM mail_outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1 ORDER BY id LIMIT 1{lock}"
            )))
            .bind(now_text())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                tx.commit().await?;
                break;
            };
            let id = get_i64(&row, "id")?;
            let lease = jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_secs(600))
                .unwrap_or(jiff::Timestamp::now());
            sqlx::query(
                "UPDATE mail_outbox SET status = 'sending', next_attempt_at = $1 WHERE id = $2",
            )
            .bind(juchu_domain::time::format_ts(lease))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            let attempts = get_i64(&row, "attempts")? + 1;
            let message = get_str(&row, "to_address")?
                .parse::<Mailbox>()
                .map_err(|e| e.to_string())
                .and_then(|to| {
                    Message::builder()
                        .from(from.clone())
                        .to(to)
                        .subject(get_str(&row, "subject").unwrap_or_default())
                        .header(ContentType::TEXT_PLAIN)
                        .body(get_str(&row, "body").unwrap_or_default())
                        .map_err(|e| e.to_string())
                });
            let result = match message {
                Ok(m) => transport
                    .send(m)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    sqlx::query("UPDATE mail_outbox SET status = 'sent', attempts = $1, sent_at = $2, last_error = '' WHERE id = $3")
                        .bind(attempts)
                        .bind(now_text())
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    report.sent += 1;
                }
                Err(e) => {
                    let status = if attempts >= MAX_ATTEMPTS {
                        "failed"
                    } else {
                        "pending"
                    };
                    let next = jiff::Timestamp::now()
                        .checked_add(jiff::SignedDuration::from_secs(
                            60 << (attempts - 1).min(10),
                        ))
                        .unwrap_or(jiff::Timestamp::now());
                    sqlx::query("UPDATE mail_outbox SET status = $1, attempts = $2, last_error = $3, next_attempt_at = $4 WHERE id = $5")
                        .bind(status)
                        .bind(attempts)
                        .bind(e.clone())
                        .bind(juchu_domain::time::format_ts(next))
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    report.failed.push((id, e));
                }
            }
        }
        Ok(report)
    }
}
