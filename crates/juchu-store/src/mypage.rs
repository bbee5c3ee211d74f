//! The customer's side (マイページ): accounts, one-time links by mail, sessions,
//! and what a customer may read — only their own orders and subscriptions,
//! and nothing that says whether another customer's exists.

use crate::StoreError;
use crate::db::{Store, Tx, get_i64, get_opt_str, get_str, random_token};
use crate::staff::{LoginAttempt, token_hash};
use juchu_domain::FieldErrors;
use juchu_domain::mypage::{AccountLink, SubscriptionTerms};
use juchu_domain::order::Order;
use juchu_domain::subscription::Subscription;
use std::collections::HashMap;

/// How long a customer stays signed in.
pub const CUSTOMER_SESSION_HOURS: i64 = 24 * 14;
/// Links of one kind a customer may be mailed per window (no mail flood).
pub const LINKS_PER_WINDOW: i64 = 3;

/// A signed-in customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerUser {
    pub customer_id: i64,
    pub name: String,
    pub email: String,
}

/// A customer session: who, and the token every form must carry.
#[derive(Debug, Clone)]
pub struct CustomerSession {
    pub customer: CustomerUser,
    pub csrf_token: String,
}

/// What a valid one-time link is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub customer: CustomerUser,
    pub purpose: AccountLink,
}

/// What an invitation of every customer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invitations {
    pub invited: usize,
    /// Customers left out: no address, メール設定 送信しない, or already
    /// signed up.
    pub skipped: usize,
}

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<CustomerUser, StoreError> {
    Ok(CustomerUser {
        customer_id: get_i64(r, "id")?,
        name: format!(
            "{} {}",
            get_str(r, "family_name")?,
            get_str(r, "given_name")?
        )
        .trim()
        .to_string(),
        email: get_str(r, "email")?,
    })
}

impl Store {
    /// Sets the address customers reach juchu at (for links in mails).
    pub async fn set_public_url(&self, url: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        crate::settings::set_setting(&mut conn, "public_url", url.trim_end_matches('/')).await
    }

    pub async fn public_url(&self) -> Result<String, StoreError> {
        let mut conn = self.pool.acquire().await?;
        crate::settings::public_url(&mut conn).await
    }

    async fn customer_user(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: i64,
    ) -> Result<Option<CustomerUser>, StoreError> {
        let row =
            sqlx::query("SELECT id, family_name, given_name, email FROM customers WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Mails `customer_id` an invitation to マイページ (a link to set a
    /// password). Refused when the customer has no mail address.
    pub async fn invite_customer(&self, customer_id: i64) -> Result<String, StoreError> {
        let mut tx = self.begin().await?;
        let user = self
            .customer_user(&mut tx, customer_id)
            .await?
            .ok_or(StoreError::NotFound("顧客"))?;
        if user.email.trim().is_empty() {
            return Err(FieldErrors::single(
                "email",
                "no_address",
                "メールアドレスのない顧客は招待できません（顧客情報にメールアドレスを登録してください）",
            )
            .into());
        }
        self.mail_link(&mut tx, &user, AccountLink::Invitation)
            .await?;
        tx.commit().await?;
        Ok(user.email)
    }

    /// Invites every customer with a mail address who has not signed up and
    /// has not chosen メール設定 「送信しない」, in one transaction: the links
    /// and mails are written many rows per statement (a shop invites tens of
    /// thousands of customers at once). A customer mailed
    /// [`LINKS_PER_WINDOW`] invitations in the last 15 minutes is skipped.
    pub async fn invite_all_customers(&self) -> Result<Invitations, StoreError> {
        let now = self.clock.now();
        let now_text = juchu_domain::time::format_ts(now);
        let window = juchu_domain::time::format_ts(now - jiff::SignedDuration::from_mins(15));
        let expires = juchu_domain::time::format_ts(
            now + jiff::SignedDuration::from_hours(AccountLink::Invitation.valid_hours()),
        );
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "SELECT c.id, c.family_name, c.given_name, c.email, c.mail_opt_out, a.password_hash, \
             (SELECT COUNT(*) FROM customer_links l WHERE l.customer_id = c.id AND l.purpose = 'invitation' AND l.created_at >= $1) AS recent \
             FROM customers c LEFT JOIN customer_accounts a ON a.customer_id = c.id ORDER BY c.id",
        )
        .bind(window)
        .fetch_all(&mut *tx)
        .await?;
        let base = crate::settings::public_url(&mut tx).await?;
        let shop = crate::mail::shop_info(&mut tx).await?;
        let mut out = Invitations::default();
        let mut accounts = crate::db::Rows::new(
            "customer_accounts",
            &["customer_id", "created_at", "updated_at"],
        );
        let mut links = crate::db::Rows::new(
            "customer_links",
            &[
                "token_hash",
                "customer_id",
                "purpose",
                "created_at",
                "expires_at",
            ],
        );
        let mut mails = crate::db::Rows::new(
            "mail_outbox",
            &[
                "template_code",
                "to_address",
                "subject",
                "body",
                "status",
                "last_error",
                "next_attempt_at",
                "created_at",
                "cc",
                "bcc",
            ],
        );
        let have_account: std::collections::HashSet<i64> =
            sqlx::query("SELECT customer_id FROM customer_accounts")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| get_i64(r, "customer_id"))
                .collect::<Result<_, _>>()?;
        for r in &rows {
            let user = user_from_row(r)?;
            let signed_up = get_opt_str(r, "password_hash")?.is_some();
            if user.email.trim().is_empty()
                || get_i64(r, "mail_opt_out")? != 0
                || signed_up
                || get_i64(r, "recent")? >= LINKS_PER_WINDOW
            {
                out.skipped += 1;
                continue;
            }
            if !have_account.contains(&user.customer_id) {
                accounts.args.extend([
                    user.customer_id.into(),
                    now_text.as_str().into(),
                    now_text.as_str().into(),
                ]);
            }
            let token = random_token("");
            links.args.extend([
                token_hash(&token).into(),
                user.customer_id.into(),
                AccountLink::Invitation.code().into(),
                now_text.as_str().into(),
                expires.as_str().into(),
            ]);
            let (subject, body) = AccountLink::Invitation.mail(
                &shop.name,
                &user.name,
                &format!("{base}/mypage/password/{token}"),
            );
            mails.args.extend([
                AccountLink::Invitation.mail_code().into(),
                user.email.trim().into(),
                subject.into(),
                body.into(),
                "pending".into(),
                "".into(),
                now_text.as_str().into(),
                now_text.as_str().into(),
                "".into(),
                "".into(),
            ]);
            out.invited += 1;
        }
        crate::db::write_rows(&mut tx, self.backend, vec![accounts, links, mails]).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Mails a login link or a password-reset link to the customer with this
    /// address, if there is one with an account. The caller says the same
    /// thing either way (nobody learns which addresses are customers').
    pub async fn mail_customer_link(
        &self,
        email: &str,
        purpose: AccountLink,
    ) -> Result<(), StoreError> {
        let key = juchu_domain::normalize::email_key(email);
        if key.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "SELECT c.id, c.family_name, c.given_name, c.email FROM customers c \
             JOIN customer_accounts a ON a.customer_id = c.id WHERE c.email_key = $1 ORDER BY c.id",
        )
        .bind(key)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let user = user_from_row(r)?;
            self.mail_link(&mut tx, &user, purpose).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes a one-time link and queues its mail, unless this customer was
    /// mailed [`LINKS_PER_WINDOW`] links of the kind in the last 15 minutes.
    async fn mail_link(
        &self,
        tx: &mut Tx,
        user: &CustomerUser,
        purpose: AccountLink,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let now_text = juchu_domain::time::format_ts(now);
        let window = juchu_domain::time::format_ts(now - jiff::SignedDuration::from_mins(15));
        let recent = sqlx::query(
            "SELECT COUNT(*) AS n FROM customer_links WHERE customer_id = $1 AND purpose = $2 AND created_at >= $3",
        )
        .bind(user.customer_id)
        .bind(purpose.code())
        .bind(window)
        .fetch_one(&mut **tx)
        .await?;
        if get_i64(&recent, "n")? >= LINKS_PER_WINDOW {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO customer_accounts (customer_id, created_at, updated_at) VALUES ($1, $2, $2) ON CONFLICT (customer_id) DO NOTHING",
        )
        .bind(user.customer_id)
        .bind(now_text.clone())
        .execute(&mut **tx)
        .await?;
        let token = random_token("");
        let expires = now + jiff::SignedDuration::from_hours(purpose.valid_hours());
        sqlx::query(
            "INSERT INTO customer_links (token_hash, customer_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(user.customer_id)
        .bind(purpose.code())
        .bind(now_text.clone())
        .bind(juchu_domain::time::format_ts(expires))
        .execute(&mut **tx)
        .await?;
        let base = crate::settings::public_url(tx).await?;
        let path = match purpose {
            AccountLink::Login => "/mypage/link/",
            AccountLink::Invitation | AccountLink::PasswordReset => "/mypage/password/",
        };
        let url = format!("{base}{path}{token}");
        let shop = crate::mail::shop_info(tx).await?;
        let (subject, body) = purpose.mail(&shop.name, &user.name, &url);
        crate::mail::queue_account_mail(
            tx,
            purpose.mail_code(),
            &user.email,
            &subject,
            &body,
            &now_text,
        )
        .await
    }

    /// The link's customer and purpose, while it is unused and unexpired.
    pub async fn customer_link(&self, token: &str) -> Result<Option<LinkInfo>, StoreError> {
        let row = sqlx::query(
            "SELECT c.id, c.family_name, c.given_name, c.email, l.purpose FROM customer_links l \
             JOIN customers c ON c.id = l.customer_id WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(self.clock.now_text())
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let Some(purpose) = AccountLink::parse(&get_str(&r, "purpose")?) else {
            return Ok(None);
        };
        Ok(Some(LinkInfo {
            customer: user_from_row(&r)?,
            purpose,
        }))
    }

    /// Uses a link once: marks it used if it still works. Two clicks at
    /// once: one wins.
    async fn use_link(
        &self,
        tx: &mut Tx,
        token: &str,
        allowed: &[AccountLink],
    ) -> Result<Option<LinkInfo>, StoreError> {
        let Some(info) = self.customer_link(token).await? else {
            return Ok(None);
        };
        if !allowed.contains(&info.purpose) {
            return Ok(None);
        }
        let done = sqlx::query(
            "UPDATE customer_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
        )
        .bind(self.clock.now_text())
        .bind(token_hash(token))
        .execute(&mut **tx)
        .await?;
        Ok((done.rows_affected() == 1).then_some(info))
    }

    /// Sets the password from an invitation or reset link and signs in.
    /// `Ok(None)`: the link is unknown, used or expired.
    pub async fn set_customer_password(
        &self,
        token: &str,
        password: &str,
    ) -> Result<Option<CustomerUser>, StoreError> {
        crate::staff::check_password(password)?;
        let hash = crate::staff::hash_password_blocking(password).await?;
        let mut tx = self.begin().await?;
        let Some(info) = self
            .use_link(
                &mut tx,
                token,
                &[AccountLink::Invitation, AccountLink::PasswordReset],
            )
            .await?
        else {
            return Ok(None);
        };
        sqlx::query("UPDATE customer_accounts SET password_hash = $1, updated_at = $2 WHERE customer_id = $3")
            .bind(hash)
            .bind(self.clock.now_text())
            .bind(info.customer.customer_id)
            .execute(&mut *tx)
            .await?;
        // A new password ends every other session of this customer.
        sqlx::query("DELETE FROM customer_sessions WHERE customer_id = $1")
            .bind(info.customer.customer_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(info.customer))
    }

    /// Signs in with a one-time login link. `Ok(None)`: unknown, used or expired.
    pub async fn use_login_link(&self, token: &str) -> Result<Option<CustomerUser>, StoreError> {
        let mut tx = self.begin().await?;
        let info = self.use_link(&mut tx, token, &[AccountLink::Login]).await?;
        tx.commit().await?;
        Ok(info.map(|i| i.customer))
    }

    /// The customer whose address and password these are. Several customers
    /// may share an address: each of their accounts is tried.
    pub async fn authenticate_customer(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<CustomerUser>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, c.family_name, c.given_name, c.email, a.password_hash FROM customers c \
             JOIN customer_accounts a ON a.customer_id = c.id WHERE c.email_key = $1 AND a.password_hash IS NOT NULL ORDER BY c.id",
        )
        .bind(juchu_domain::normalize::email_key(email))
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            // As long as a real check: timing does not tell which addresses exist.
            crate::staff::verify_password_blocking(password, None).await?;
            return Ok(None);
        }
        for r in &rows {
            let hash = get_opt_str(r, "password_hash")?;
            if crate::staff::verify_password_blocking(password, hash).await? {
                return Ok(Some(user_from_row(r)?));
            }
        }
        Ok(None)
    }

    /// A successful customer login clears its account's and pair's counts.
    pub async fn record_customer_login_success(&self, a: &LoginAttempt) -> Result<(), StoreError> {
        self.clear_login_failures(a).await
    }

    pub async fn create_customer_session(
        &self,
        customer: &CustomerUser,
    ) -> Result<(String, CustomerSession), StoreError> {
        sqlx::query("DELETE FROM customer_sessions WHERE expires_at < $1")
            .bind(self.clock.now_text())
            .execute(&self.pool)
            .await?;
        let token = random_token("c_");
        let csrf = random_token("");
        let now = self.clock.now();
        let expires = now + jiff::SignedDuration::from_hours(CUSTOMER_SESSION_HOURS);
        sqlx::query("INSERT INTO customer_sessions (token_hash, customer_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash(&token))
            .bind(customer.customer_id)
            .bind(csrf.clone())
            .bind(juchu_domain::time::format_ts(now))
            .bind(juchu_domain::time::format_ts(expires))
            .execute(&self.pool)
            .await?;
        Ok((
            token,
            CustomerSession {
                customer: customer.clone(),
                csrf_token: csrf,
            },
        ))
    }

    pub async fn customer_session(
        &self,
        token: &str,
    ) -> Result<Option<CustomerSession>, StoreError> {
        let row = sqlx::query(
            "SELECT s.csrf_token, c.id, c.family_name, c.given_name, c.email FROM customer_sessions s \
             JOIN customers c ON c.id = s.customer_id WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash(token))
        .bind(self.clock.now_text())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(CustomerSession {
                csrf_token: get_str(&r, "csrf_token")?,
                customer: user_from_row(&r)?,
            })
        })
        .transpose()
    }

    pub async fn delete_customer_session(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM customer_sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether the customer has set a password (マイページ登録済み).
    pub async fn customer_signed_up(&self, customer_id: i64) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT password_hash FROM customer_accounts WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => get_opt_str(&r, "password_hash")?.is_some(),
            None => false,
        })
    }

    /// The customer's orders, newest first.
    pub async fn customer_orders(&self, customer_id: i64) -> Result<Vec<Order>, StoreError> {
        let rows = sqlx::query(
            "SELECT order_number FROM orders WHERE customer_id = $1 ORDER BY ordered_at DESC, id DESC LIMIT 500",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        let numbers: Vec<String> = rows
            .iter()
            .map(|r| get_str(r, "order_number"))
            .collect::<Result<_, _>>()?;
        let mut by_number = self.orders_by_numbers(&numbers).await?;
        Ok(numbers.iter().filter_map(|n| by_number.remove(n)).collect())
    }

    /// One of the customer's orders; another customer's is "not found", as
    /// one that does not exist.
    pub async fn customer_order(
        &self,
        customer_id: i64,
        order_number: &str,
    ) -> Result<Order, StoreError> {
        match self.order_by_number(order_number).await {
            Ok(o) if o.customer_id == Some(customer_id) => Ok(o),
            Ok(_) | Err(StoreError::NotFound(_)) => Err(StoreError::NotFound("ご注文")),
            Err(e) => Err(e),
        }
    }

    /// The customer's subscriptions, newest first.
    pub async fn customer_subscriptions(
        &self,
        customer_id: i64,
    ) -> Result<Vec<Subscription>, StoreError> {
        let q = crate::subscriptions::SubscriptionQuery {
            customer_id: Some(customer_id),
            page: 1,
            per_page: 200,
            ..Default::default()
        };
        Ok(self.search_subscriptions(&q).await?.subscriptions)
    }

    /// One of the customer's subscriptions (another's is "not found").
    pub async fn customer_subscription(
        &self,
        customer_id: i64,
        id: i64,
    ) -> Result<Subscription, StoreError> {
        match self.subscription(id).await {
            Ok(s) if s.customer_id == Some(customer_id) => Ok(s),
            Ok(_) | Err(StoreError::NotFound(_)) => Err(StoreError::NotFound("定期便")),
            Err(e) => Err(e),
        }
    }

    /// The terms kept from checkout, when they were kept.
    pub async fn subscription_terms(
        &self,
        id: i64,
    ) -> Result<Option<SubscriptionTerms>, StoreError> {
        let row = sqlx::query("SELECT terms FROM subscriptions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("定期受注"))?;
        let text = get_str(&row, "terms")?;
        if text.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::Other(format!("subscription {id} terms: {e}")))
    }

    /// The words customers read per 対応状況 id (only those the shop set).
    pub async fn customer_status_labels(&self) -> Result<HashMap<i64, String>, StoreError> {
        let rows = sqlx::query("SELECT id, customer_label FROM handling_statuses")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((get_i64(r, "id")?, get_str(r, "customer_label")?)))
            .filter(|r: &Result<(i64, String), StoreError>| {
                r.as_ref().map(|(_, l)| !l.is_empty()).unwrap_or(true)
            })
            .collect()
    }

    /// Sets the customers' words for 対応状況 (id → label; empty: the default).
    pub async fn set_customer_status_labels(
        &self,
        labels: &[(i64, String)],
    ) -> Result<(), StoreError> {
        let mut e = FieldErrors::default();
        for (id, l) in labels {
            juchu_domain::text::check_len(&mut e, &format!("label_{id}"), l, 30);
        }
        e.into_result()?;
        let mut tx = self.begin().await?;
        for (id, l) in labels {
            sqlx::query("UPDATE handling_statuses SET customer_label = $1 WHERE id = $2")
                .bind(l.trim().to_string())
                .bind(*id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// How to cancel, as new subscriptions' terms will say it (マイページ設定);
    /// the default wording when the shop has set none.
    pub async fn cancellation_terms(&self) -> Result<String, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(
            crate::settings::setting(&mut conn, crate::subscriptions::CANCELLATION_TERMS_SETTING)
                .await?
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| juchu_domain::mypage::DEFAULT_CANCELLATION_TERMS.to_string()),
        )
    }

    /// Sets how to cancel for subscriptions created from now on (existing
    /// ones keep the terms they were sold with).
    pub async fn set_cancellation_terms(&self, text: &str) -> Result<(), StoreError> {
        let mut e = FieldErrors::default();
        juchu_domain::text::check_len(&mut e, "cancellation", text, 1000);
        e.into_result()?;
        let mut conn = self.pool.acquire().await?;
        crate::settings::set_setting(
            &mut conn,
            crate::subscriptions::CANCELLATION_TERMS_SETTING,
            text.trim(),
        )
        .await
    }
}

impl Store {
    /// Sets a customer's マイページ password without a mailed link (the
    /// demo's customer; an operator on the phone with the customer uses the
    /// invitation instead).
    pub async fn set_customer_password_for(
        &self,
        customer_id: i64,
        password: &str,
    ) -> Result<CustomerUser, StoreError> {
        crate::staff::check_password(password)?;
        let hash = crate::staff::hash_password_blocking(password).await?;
        let mut tx = self.begin().await?;
        let user = self
            .customer_user(&mut tx, customer_id)
            .await?
            .ok_or(StoreError::NotFound("顧客"))?;
        let now = self.clock.now_text();
        sqlx::query(
            "INSERT INTO customer_accounts (customer_id, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (customer_id) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
        )
        .bind(customer_id)
        .bind(hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(user)
    }
}
