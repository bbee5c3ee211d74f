//! メールテンプレート and the mail outbox. A rule's mail is rendered and queued
//! in the transaction of the change that fired it (so a rolled-back change sends
//! nothing); [`Store::deliver_mail`] hands what is due to a [`MailSender`]
//! (SMTP, in `juchu-adapters`) with retries.

use crate::StoreError;
use crate::db::{Store, Tx, get_i64, get_str};
use juchu_domain::FieldErrors;
use juchu_domain::mail::{MailContext, MailTemplate, ShopInfo, default_templates, render};
use juchu_domain::masters::Masters;
use juchu_domain::order::Order;

/// How many times delivery is tried before a mail is given up as failed.
pub const MAX_ATTEMPTS: i64 = 5;

/// One mail as handed to a [`MailSender`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Stable over retries: the sender derives the `Message-ID` from it.
    pub message_key: String,
    /// The sender's display name (ショップ名); the address is the server's.
    pub from_name: String,
    pub to: String,
    /// Space-separated addresses, as stored.
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
}

/// Why a mail was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// It cannot be sent as it is (a bad address): failed for good.
    Undeliverable(String),
    /// The server refused it or could not be reached: retried later.
    Failed(String),
}

pub type SendFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), SendFailure>> + Send + 'a>>;

/// Where the worker hands mails over (SMTP, in `juchu-adapters`).
pub trait MailSender: Send + Sync {
    fn send<'a>(&'a self, mail: &'a OutgoingMail) -> SendFuture<'a>;
}

/// What one delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub sent: usize,
    /// (outbox id, error) of attempts that failed this round.
    pub failed: Vec<(i64, String)>,
}

/// Adds the default templates a shop does not have yet (new defaults reach
/// existing shops; a shop's edits are never overwritten) and a shop name.
pub(crate) async fn seed_templates(tx: &mut Tx) -> Result<(), StoreError> {
    let have: Vec<String> = sqlx::query("SELECT code FROM mail_templates")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| get_str(r, "code"))
        .collect::<Result<_, _>>()?;
    for (i, t) in default_templates().iter().enumerate() {
        if have.contains(&t.code) {
            continue;
        }
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
    let named = sqlx::query("SELECT value FROM settings WHERE key = 'shop_name'")
        .fetch_optional(&mut **tx)
        .await?;
    if named.is_none() {
        sqlx::query("INSERT INTO settings (key, value) VALUES ('shop_name', 'juchu ショップ')")
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

const SHOP_KEYS: [&str; 7] = [
    "shop_name",
    "shop_email",
    "shop_phone",
    "shop_address",
    "shop_registration_number",
    "shop_bank_account",
    "shop_payment_due_days",
];

pub(crate) async fn shop_info(conn: &mut sqlx::AnyConnection) -> Result<ShopInfo, StoreError> {
    let rows = sqlx::query(
        "SELECT key, value FROM settings WHERE key IN ('shop_name', 'shop_email', 'shop_phone', 'shop_address', 'shop_registration_number', 'shop_bank_account', 'shop_payment_due_days')",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut shop = ShopInfo::default();
    for r in &rows {
        let v = get_str(r, "value")?;
        match get_str(r, "key")?.as_str() {
            "shop_name" => shop.name = v,
            "shop_email" => shop.email = v,
            "shop_phone" => shop.phone = v,
            "shop_address" => shop.address = v,
            "shop_registration_number" => shop.registration_number = v,
            "shop_bank_account" => shop.bank_account = v,
            "shop_payment_due_days" => shop.payment_due_days = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    Ok(shop)
}

/// Copies a mail goes to besides the customer (メール一括通知's CC / BCC).
#[derive(Debug, Clone, Default)]
pub(crate) struct Copies {
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
}

/// One row of the mail outbox.
#[derive(Clone, Copy)]
struct OutboxRow<'a> {
    order_id: i64,
    code: &'a str,
    to: &'a str,
    subject: &'a str,
    body: &'a str,
    /// `pending`, or `skipped` with the reason in `note`.
    status: &'a str,
    note: &'a str,
    copies: &'a Copies,
    at: &'a str,
}

async fn insert_outbox(tx: &mut Tx, r: OutboxRow<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mail_outbox (order_id, template_code, to_address, subject, body, status, last_error, next_attempt_at, created_at, cc, bcc) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(r.order_id)
    .bind(r.code.to_string())
    .bind(r.to.to_string())
    .bind(r.subject.to_string())
    .bind(r.body.to_string())
    .bind(r.status.to_string())
    .bind(r.note.to_string())
    .bind(r.at.to_string())
    .bind(r.at.to_string())
    .bind(r.copies.cc.join(" "))
    .bind(r.copies.bcc.join(" "))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues a mail written (or edited) by staff as it is: no rendering, no
/// opt-out check (a person chose to send it), in the caller's transaction.
pub(crate) async fn queue_written(
    tx: &mut Tx,
    order_id: i64,
    code: &str,
    to: &str,
    subject: &str,
    body: &str,
    now: &str,
) -> Result<(), StoreError> {
    insert_outbox(
        tx,
        OutboxRow {
            order_id,
            code,
            to,
            subject,
            body,
            status: "pending",
            note: "",
            copies: &Copies::default(),
            at: now,
        },
    )
    .await
}

/// Queues a mail that belongs to no order (マイページ's invitation and
/// links), in the caller's transaction.
pub(crate) async fn queue_account_mail(
    tx: &mut Tx,
    code: &str,
    to: &str,
    subject: &str,
    body: &str,
    now: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mail_outbox (order_id, template_code, to_address, subject, body, status, last_error, next_attempt_at, created_at, cc, bcc) \
         VALUES (NULL, $1, $2, $3, $4, 'pending', '', $5, $5, '', '')",
    )
    .bind(code.to_string())
    .bind(to.trim().to_string())
    .bind(subject.to_string())
    .bind(body.to_string())
    .bind(now.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// 欠品のお知らせ names what is missing: the shortage is looked up only for
/// a template that uses `missing_items`.
async fn with_shortage(
    conn: &mut sqlx::AnyConnection,
    t: &MailTemplate,
    ctx: MailContext,
    masters: &Masters,
    order_id: i64,
) -> Result<MailContext, StoreError> {
    if !(t.subject.contains("missing_items") || t.body.contains("missing_items")) {
        return Ok(ctx);
    }
    let short = crate::stock::short_lines_of(conn, masters, order_id).await?;
    Ok(ctx.with_missing(&short))
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
    now: &str,
) -> Result<Result<String, String>, StoreError> {
    let Some(t) = template(tx, code).await? else {
        return Ok(Err(format!("メールテンプレート「{code}」がありません")));
    };
    queue_template(tx, &t, order, masters, &Copies::default(), now).await
}

/// Renders `t` (stored, or typed for メール一括通知) for `order` and queues it;
/// see [`queue_for_order`].
pub(crate) async fn queue_template(
    tx: &mut Tx,
    t: &MailTemplate,
    order: &Order,
    masters: &Masters,
    copies: &Copies,
    now: &str,
) -> Result<Result<String, String>, StoreError> {
    let to = order.billing.email.trim().to_string();
    let base = OutboxRow {
        order_id: order.id,
        code: &t.code,
        to: &to,
        subject: &t.name,
        body: "",
        status: "pending",
        note: "",
        copies,
        at: now,
    };
    // Mails not sent are listed with the order too, with the reason (and
    // without copies: nobody was sent anything).
    let no_copies = Copies::default();
    let skip = async |tx: &mut Tx, why: String| -> Result<Result<String, String>, StoreError> {
        let skipped = OutboxRow {
            status: "skipped",
            note: &why,
            copies: &no_copies,
            ..base
        };
        insert_outbox(tx, skipped).await?;
        Ok(Err(why))
    };
    if let Some(customer) = order.customer_id {
        let row = sqlx::query("SELECT mail_opt_out FROM customers WHERE id = $1")
            .bind(customer)
            .fetch_optional(&mut **tx)
            .await?;
        if row.is_some_and(|r| get_i64(&r, "mail_opt_out").unwrap_or(0) != 0) {
            let why = format!(
                "「{}」は送信しない設定（メール設定: 送信しない）の顧客のため送っていません",
                t.name
            );
            return skip(tx, why).await;
        }
    }
    if to.is_empty() {
        return skip(
            tx,
            format!("「{}」: 請求者のメールアドレスがありません", t.name),
        )
        .await;
    }
    let shop = shop_info(tx).await?;
    let public_url = crate::settings::public_url(tx).await?;
    let ctx = with_shortage(
        tx,
        t,
        MailContext::of(order, masters, &shop).with_mypage_url(&public_url),
        masters,
        order.id,
    )
    .await?;
    let (subject, body) = match render(t, &ctx) {
        Ok(r) => r,
        Err(e) => return skip(tx, format!("「{}」を作れません: {e}", t.name)).await,
    };
    let mail = OutboxRow {
        subject: &subject,
        body: &body,
        ..base
    };
    insert_outbox(tx, mail).await?;
    // 注文受付メール also goes to the shop (its copy), when the shop has an address.
    let copy = t.code == "order_received" && !shop.email.trim().is_empty();
    if copy {
        let subject = format!("【ショップ控え】{subject}");
        let shop_copy = OutboxRow {
            to: shop.email.trim(),
            subject: &subject,
            copies: &no_copies,
            ..mail
        };
        insert_outbox(tx, shop_copy).await?;
    }
    Ok(Ok(if copy {
        format!(
            "「{}」を {to} とショップ（{}）宛てに送信待ちにしました",
            t.name,
            shop.email.trim()
        )
    } else {
        format!("「{}」を {to} 宛てに送信待ちにしました", t.name)
    }))
}

/// One queued mail, as the API and the order page show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: i64,
    pub template_code: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// pending / sending (claimed by a worker) / sent / failed / skipped
    /// (not sent: opted out, no address, the template does not render — the
    /// reason is in `last_error`)
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    /// When it was queued (UTC, RFC 3339).
    pub created_at: String,
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

    /// Renders a template (or an edited subject/body not saved yet) with a real
    /// order, for the editor's preview.
    pub async fn preview_mail(
        &self,
        code: &str,
        order_number: &str,
        edited: Option<(&str, &str)>,
    ) -> Result<(String, String), StoreError> {
        let order = self.order_by_number(order_number).await?;
        let masters = self.masters().await?;
        let mut conn = self.pool.acquire().await?;
        let mut t = template(&mut conn, code)
            .await?
            .ok_or(StoreError::NotFound("メールテンプレート"))?;
        if let Some((subject, body)) = edited {
            t.subject = subject.to_string();
            t.body = body.to_string();
        }
        let shop = shop_info(&mut conn).await?;
        let public_url = crate::settings::public_url(&mut conn).await?;
        let ctx = with_shortage(
            &mut conn,
            &t,
            MailContext::of(&order, &masters, &shop).with_mypage_url(&public_url),
            &masters,
            order.id,
        )
        .await?;
        render(&t, &ctx).map_err(|e| FieldErrors::single("template", "invalid_template", e).into())
    }

    /// ショップ情報 used in mails (name, address for the shop's copy, phone, address).
    /// The shop's logo for 帳票: PNG or JPEG, at most 512 KB. Returns its type.
    pub async fn set_shop_logo(&self, bytes: &[u8]) -> Result<&'static str, StoreError> {
        if bytes.len() > 512 * 1024 {
            return Err(
                FieldErrors::single("logo", "too_large", "ロゴは512KBまでにしてください").into(),
            );
        }
        // Decoded in full (a corrupt PNG must not reach the 帳票 jobs).
        let content_type = juchu_docs::check_logo(bytes)
            .map_err(|why| FieldErrors::single("logo", "bad_image", why))?;
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM shop_files WHERE name = 'logo'")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO shop_files (name, content_type, data) VALUES ('logo', $1, $2)")
            .bind(content_type)
            .bind(bytes.to_vec())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(content_type)
    }

    /// The logo and its type, if the shop has one.
    pub async fn shop_logo(&self) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        use sqlx::Row;
        let row = sqlx::query("SELECT content_type, data FROM shop_files WHERE name = 'logo'")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok((
                get_str(&r, "content_type")?,
                r.try_get::<Vec<u8>, _>("data")?,
            ))
        })
        .transpose()
    }

    pub async fn delete_shop_logo(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM shop_files WHERE name = 'logo'")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn shop_settings(&self) -> Result<ShopInfo, StoreError> {
        let mut conn = self.pool.acquire().await?;
        shop_info(&mut conn).await
    }

    pub async fn update_shop_settings(&self, shop: &ShopInfo) -> Result<ShopInfo, StoreError> {
        let mut e = FieldErrors::default();
        let shop = ShopInfo {
            name: shop.name.trim().to_string(),
            email: shop.email.trim().to_string(),
            phone: shop.phone.trim().to_string(),
            address: shop.address.trim().to_string(),
            registration_number: if shop.registration_number.trim().is_empty() {
                String::new()
            } else {
                match juchu_domain::document::registration_number(&shop.registration_number) {
                    Ok(n) => n,
                    Err(why) => {
                        e.add("registration_number", "invalid", why);
                        shop.registration_number.clone()
                    }
                }
            },
            bank_account: shop.bank_account.trim().to_string(),
            payment_due_days: shop.payment_due_days,
        };
        if !(0..=365).contains(&shop.payment_due_days) {
            e.add(
                "payment_due_days",
                "out_of_range",
                "支払期限は0〜365日で入力してください（0: なし）",
            );
        }
        juchu_domain::text::check_len(&mut e, "bank_account", &shop.bank_account, 300);
        if shop.name.is_empty() {
            e.add("name", "required", "ショップ名を入力してください");
        }
        juchu_domain::text::check_len(&mut e, "name", &shop.name, 100);
        juchu_domain::text::check_len(&mut e, "phone", &shop.phone, 24);
        juchu_domain::text::check_len(&mut e, "address", &shop.address, 200);
        if !shop.email.is_empty() && juchu_domain::text::Email::parse(&shop.email).is_err() {
            e.add(
                "email",
                "invalid_email",
                format!("メールアドレス「{}」の形式が正しくありません", shop.email),
            );
        }
        e.into_result()?;
        let mut tx = self.begin().await?;
        let due = shop.payment_due_days.to_string();
        for (key, value) in SHOP_KEYS.iter().zip([
            &shop.name,
            &shop.email,
            &shop.phone,
            &shop.address,
            &shop.registration_number,
            &shop.bank_account,
            &due,
        ]) {
            sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .bind(key.to_string())
                .bind(value.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(shop)
    }

    /// The mails queued for an order, oldest first.
    pub async fn order_mails(&self, order_id: i64) -> Result<Vec<QueuedMail>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, template_code, to_address, subject, body, status, attempts, last_error, created_at FROM mail_outbox WHERE order_id = $1 ORDER BY id",
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
                    created_at: get_str(r, "created_at")?,
                })
            })
            .collect()
    }

    /// Sends up to `limit` due mails through `sender`. Mails are claimed in batches of
    /// up to 50 in a short transaction (PostgreSQL `SKIP LOCKED`; a 10-minute
    /// lease), sent with no transaction open — on SQLite a slow SMTP server must
    /// not hold the write lock — over one pooled SMTP connection, then recorded
    /// in one transaction per batch. A failure is retried later (1, 2, 4, 8
    /// minutes) and marked failed after [`MAX_ATTEMPTS`]; a worker that dies
    /// mid-batch leaves leases that expire, so those mails are sent again (at
    /// least once).
    pub async fn deliver_mail(
        &self,
        sender: &dyn MailSender,
        limit: i64,
    ) -> Result<Delivery, StoreError> {
        const BATCH: i64 = 50;
        let lock = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let mut report = Delivery::default();
        let mut left = limit.max(1);
        while left > 0 {
            let mut tx = self.begin().await?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, to_address, cc, bcc, subject, body, attempts, created_at FROM mail_outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1 ORDER BY id LIMIT $2{lock}"
            )))
            .bind(self.clock.now_text())
            .bind(left.min(BATCH))
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                tx.commit().await?;
                break;
            }
            let lease = self
                .clock
                .now()
                .checked_add(jiff::SignedDuration::from_secs(600))
                .unwrap_or(self.clock.now());
            let ids: Vec<i64> = rows
                .iter()
                .map(|r| get_i64(r, "id"))
                .collect::<Result<_, _>>()?;
            let mut args: Vec<crate::Arg> = vec![juchu_domain::time::format_ts(lease).into()];
            args.extend(ids.iter().map(|id| crate::Arg::from(*id)));
            crate::db::query_with(
                format!(
                    "UPDATE mail_outbox SET status = 'sending', next_attempt_at = $1 WHERE id IN ({})",
                    crate::db::in_list(ids.len(), 2)
                ),
                args,
            )
            .execute(&mut *tx)
            .await?;
            let from_name = shop_info(&mut tx).await?.name;
            tx.commit().await?;
            left -= rows.len() as i64;
            let mut sent = Vec::new();
            let mut failed = Vec::new();
            // After a failure to send, the rest of the batch is released untried:
            // the server is likely down, and 50 timeouts in a row would outlast
            // the lease. A mail that cannot even be built (a bad address) fails
            // for good and does not stop the batch.
            let mut released = Vec::new();
            let mut undeliverable = Vec::new();
            for row in &rows {
                let id = get_i64(row, "id")?;
                if !failed.is_empty() {
                    released.push(id);
                    continue;
                }
                let attempts = get_i64(row, "attempts")? + 1;
                let created: String = get_str(row, "created_at")?
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                let mail = OutgoingMail {
                    message_key: format!("{id}.{created}"),
                    from_name: from_name.clone(),
                    to: get_str(row, "to_address")?,
                    cc: get_str(row, "cc")?,
                    bcc: get_str(row, "bcc")?,
                    subject: get_str(row, "subject")?,
                    body: get_str(row, "body")?,
                };
                match sender.send(&mail).await {
                    Ok(()) => sent.push((id, attempts)),
                    Err(SendFailure::Undeliverable(e)) => undeliverable.push((id, attempts, e)),
                    Err(SendFailure::Failed(e)) => failed.push((id, attempts, e)),
                }
            }
            let mut tx = self.begin().await?;
            let now = self.clock.now_text();
            for (id, attempts) in &sent {
                sqlx::query("UPDATE mail_outbox SET status = 'sent', attempts = $1, sent_at = $2, last_error = '' WHERE id = $3")
                    .bind(*attempts)
                    .bind(now.clone())
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            for (id, attempts, e) in &failed {
                let status = if *attempts >= MAX_ATTEMPTS {
                    "failed"
                } else {
                    "pending"
                };
                let next = self
                    .clock
                    .now()
                    .checked_add(jiff::SignedDuration::from_secs(
                        60 << (attempts - 1).min(10),
                    ))
                    .unwrap_or(self.clock.now());
                sqlx::query("UPDATE mail_outbox SET status = $1, attempts = $2, last_error = $3, next_attempt_at = $4 WHERE id = $5")
                    .bind(status)
                    .bind(*attempts)
                    .bind(e.clone())
                    .bind(juchu_domain::time::format_ts(next))
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            for (id, attempts, e) in &undeliverable {
                sqlx::query("UPDATE mail_outbox SET status = 'failed', attempts = $1, last_error = $2 WHERE id = $3")
                    .bind(*attempts)
                    .bind(e.clone())
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            for id in &released {
                sqlx::query(
                    "UPDATE mail_outbox SET status = 'pending', next_attempt_at = $1 WHERE id = $2",
                )
                .bind(now.clone())
                .bind(*id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            report.sent += sent.len();
            report.failed.extend(
                failed
                    .into_iter()
                    .chain(undeliverable)
                    .map(|(id, _, e)| (id, e)),
            );
            if !released.is_empty() {
                // The server is down: the next round (in 30 s) tries again.
                break;
            }
        }
        Ok(report)
    }
}
