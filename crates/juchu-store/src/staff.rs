//! Staff users, login sessions and API tokens.
//!
//! Passwords are argon2id hashes. Session and API tokens are random 32-byte values
//! handed out once; only their SHA-256 is stored, so a database leak does not
//! leak usable tokens.

use crate::StoreError;
pub use crate::db::random_token;
use crate::db::{Store, get_bool, get_i64, get_opt_str, get_str};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use juchu_domain::FieldErrors;
use juchu_domain::access::Role;
use juchu_domain::text::Email;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// A logged-in session.
#[derive(Debug, Clone)]
pub struct Session {
    pub staff: StaffUser,
    pub csrf_token: String,
}

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
}

/// An API token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenInfo {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

impl ApiTokenInfo {
    /// 有効 / 期限切れ / 無効, as the list shows it.
    pub fn state_label(&self, now: &str) -> &'static str {
        if self.revoked {
            "無効"
        } else if self.expires_at.as_deref().is_some_and(|e| e < now) {
            "期限切れ"
        } else {
            "有効"
        }
    }
}

/// A staff member as listed in スタッフ管理.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
}

/// What an owner changes on a member.
#[derive(Debug, Clone, Default)]
pub struct StaffPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// How many failed logins lock what, within [`LOGIN_WINDOW_MINUTES`].
pub const LOGIN_WINDOW_MINUTES: i64 = 15;
/// One account from one client.
pub const PAIR_LIMIT: i64 = 5;
/// One account from clients it was never logged in from (a distributed guess).
pub const ACCOUNT_LIMIT: i64 = 20;
/// One client over all accounts (password spraying).
pub const CLIENT_LIMIT: i64 = 30;

/// One login attempt's identity for the limiter.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    pub email: String,
    pub client: Option<String>,
    /// The device cookie the browser sent, if any.
    pub device: Option<String>,
}

impl LoginAttempt {
    /// A customer's attempt (マイページ): counted apart from staff accounts
    /// of the same address, under the same limits.
    pub fn customer(email: &str, client: Option<String>) -> LoginAttempt {
        LoginAttempt {
            email: format!("customer:{}", email.trim().to_lowercase()),
            client,
            device: None,
        }
    }
    fn account_key(&self) -> String {
        format!("acct:{}", self.email.trim().to_lowercase())
    }
    fn pair_key(&self) -> Option<String> {
        self.client
            .as_ref()
            .map(|c| format!("pair:{}|{c}", self.email.trim().to_lowercase()))
    }
    fn client_key(&self) -> Option<String> {
        self.client.as_ref().map(|c| format!("ip:{c}"))
    }
}

pub const SESSION_HOURS: i64 = 12;
pub const MIN_PASSWORD_LEN: usize = 8;

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hashes off the async threads (argon2 is slow on purpose).
pub(crate) async fn hash_password_blocking(password: &str) -> Result<String, StoreError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| StoreError::Other(e.to_string()))?
}

/// Checks a password off the async threads; with no hash, spends the time of
/// a real check and answers false (timing tells nobody which accounts exist).
pub(crate) async fn verify_password_blocking(
    password: &str,
    hash: Option<String>,
) -> Result<bool, StoreError> {
    let password = password.to_string();
    let real = hash.is_some();
    let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| StoreError::Other(e.to_string()))?;
    Ok(real && ok)
}

const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";

fn hash_password(password: &str) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Other(format!("password hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn role_of(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Other(format!("unknown role {s:?} in database")))
}

impl Store {
    pub async fn staff_count(&self) -> Result<i64, StoreError> {
        Ok(get_i64(
            &sqlx::query("SELECT COUNT(*) AS n FROM staff_users")
                .fetch_one(&self.pool)
                .await?,
            "n",
        )?)
    }

    pub async fn create_staff(
        &self,
        email: &str,
        name: &str,
        password: &str,
        role: Role,
    ) -> Result<StaffUser, StoreError> {
        let mut e = FieldErrors::default();
        let email = match Email::parse(email) {
            Ok(m) => m.as_str().to_lowercase(),
            Err(m) => {
                e.add("email", "invalid_email", m);
                String::new()
            }
        };
        if password.chars().count() < MIN_PASSWORD_LEN {
            e.add(
                "password",
                "too_short",
                format!("パスワードは{MIN_PASSWORD_LEN}文字以上にしてください"),
            );
        }
        e.into_result()?;
        let name = if name.trim().is_empty() {
            email.clone()
        } else {
            name.trim().to_string()
        };
        let hash = hash_password(password)?;
        let row = sqlx::query("INSERT INTO staff_users (email, name, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(email.clone())
            .bind(name.clone())
            .bind(hash)
            .bind(role.code())
            .bind(self.clock.now_text())
            .fetch_one(&self.pool)
            .await
            .map_err(|err| StoreError::unique_as_conflict(err, "email", format!("{email} は既に登録されています")))?;
        Ok(StaffUser {
            id: get_i64(&row, "id")?,
            email,
            name,
            role,
        })
    }

    /// Checks a password; `None` for an unknown email or a wrong password alike.
    pub async fn authenticate(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<StaffUser>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, name, role, password_hash FROM staff_users WHERE email = $1 AND disabled = 0",
        )
        .bind(email.trim().to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            // Spend the same time as a real check so response time does not reveal
            // which emails exist.
            let password = password.to_string();
            tokio::task::spawn_blocking(move || {
                verify_password(
                    &password,
                    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
                )
            })
            .await
            .map_err(|e| StoreError::Other(e.to_string()))?;
            return Ok(None);
        };
        let hash = get_str(&row, "password_hash")?;
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| StoreError::Other(e.to_string()))?;
        if !ok {
            return Ok(None);
        }
        Ok(Some(StaffUser {
            id: get_i64(&row, "id")?,
            email: get_str(&row, "email")?,
            name: get_str(&row, "name")?,
            role: role_of(&get_str(&row, "role")?)?,
        }))
    }

    /// Starts a session; returns the cookie value and the session.
    pub async fn create_session(&self, staff: &StaffUser) -> Result<(String, Session), StoreError> {
        // Expired sessions are only ever read as "no session"; drop them here so the
        // table does not grow without bound.
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(self.clock.now_text())
            .execute(&self.pool)
            .await?;
        let token = random_token("s_");
        let csrf = random_token("");
        let now = self.clock.now();
        let expires = now + jiff::SignedDuration::from_hours(SESSION_HOURS);
        sqlx::query("INSERT INTO sessions (token_hash, staff_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash(&token))
            .bind(staff.id)
            .bind(csrf.clone())
            .bind(juchu_domain::time::format_ts(now))
            .bind(juchu_domain::time::format_ts(expires))
            .execute(&self.pool)
            .await?;
        Ok((
            token,
            Session {
                staff: staff.clone(),
                csrf_token: csrf,
            },
        ))
    }

    pub async fn session(&self, token: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT s.csrf_token, s.expires_at, u.id, u.email, u.name, u.role FROM sessions s JOIN staff_users u ON u.id = s.staff_id WHERE s.token_hash = $1 AND u.disabled = 0",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        if get_str(&row, "expires_at")? < self.clock.now_text() {
            return Ok(None);
        }
        Ok(Some(Session {
            csrf_token: get_str(&row, "csrf_token")?,
            staff: StaffUser {
                id: get_i64(&row, "id")?,
                email: get_str(&row, "email")?,
                name: get_str(&row, "name")?,
                role: role_of(&get_str(&row, "role")?)?,
            },
        }))
    }

    pub async fn delete_session(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Creates an API token and returns its secret (shown once) with its record.
    pub async fn create_api_token(
        &self,
        name: &str,
        role: Role,
    ) -> Result<(String, ApiToken), StoreError> {
        self.create_api_token_until(name, role, None).await
    }

    /// [`Store::create_api_token`] with an optional expiry (a date, the end of
    /// which the token stops working).
    pub async fn create_api_token_until(
        &self,
        name: &str,
        role: Role,
        expires_on: Option<jiff::civil::Date>,
    ) -> Result<(String, ApiToken), StoreError> {
        let today = self.clock.today();
        if let Some(d) = expires_on
            && d < today
        {
            return Err(FieldErrors::single(
                "expires_on",
                "in_the_past",
                "有効期限は今日以降の日付にしてください",
            )
            .into());
        }
        // The end of that day in Japan (UTC+9, no daylight saving), stored in
        // UTC like every timestamp so that text comparison orders them.
        let expires_at = expires_on.map(|d| format!("{d}T14:59:59Z"));
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(FieldErrors::single(
                "name",
                "required",
                "トークン名を100文字以内で入力してください",
            )
            .into());
        }
        let token = random_token("jc_");
        let row = sqlx::query("INSERT INTO api_tokens (name, token_hash, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(name.trim().to_string())
            .bind(token_hash(&token))
            .bind(role.code())
            .bind(self.clock.now_text())
            .bind(expires_at)
            .fetch_one(&self.pool)
            .await?;
        Ok((
            token,
            ApiToken {
                id: get_i64(&row, "id")?,
                name: name.trim().to_string(),
                role,
            },
        ))
    }

    pub async fn api_token(&self, token: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, expires_at, last_used_at FROM api_tokens WHERE token_hash = $1 AND revoked = 0",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let now = self.clock.now();
        let now_text = juchu_domain::time::format_ts(now);
        if get_opt_str(&row, "expires_at")?.is_some_and(|exp| exp < now_text) {
            return Ok(None);
        }
        // 最終利用: written at most once a minute per token, so a busy
        // integration does not turn every read into a write.
        let stale = get_opt_str(&row, "last_used_at")?
            .and_then(|t| juchu_domain::time::parse_ts(&t))
            .is_none_or(|t| now.duration_since(t) > jiff::SignedDuration::from_secs(60));
        if stale {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now_text)
                .bind(get_i64(&row, "id")?)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(ApiToken {
            id: get_i64(&row, "id")?,
            name: get_str(&row, "name")?,
            role: role_of(&get_str(&row, "role")?)?,
        }))
    }

    /// Every API token, newest first (never the secrets).
    pub async fn list_api_tokens(&self) -> Result<Vec<ApiTokenInfo>, StoreError> {
        let rows = sqlx::query("SELECT id, name, role, created_at, expires_at, last_used_at, revoked FROM api_tokens ORDER BY id DESC")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiTokenInfo {
                    id: get_i64(r, "id")?,
                    name: get_str(r, "name")?,
                    role: role_of(&get_str(r, "role")?)?,
                    created_at: get_str(r, "created_at")?,
                    expires_at: get_opt_str(r, "expires_at")?,
                    last_used_at: get_opt_str(r, "last_used_at")?,
                    revoked: get_bool(r, "revoked")?,
                })
            })
            .collect()
    }

    /// Revokes a token at once; the next request with it gets 401.
    pub async fn revoke_api_token(&self, id: i64) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("APIトークン"));
        }
        Ok(())
    }

    /// Every staff member, owners first.
    pub async fn list_staff(&self) -> Result<Vec<StaffMember>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, email, name, role, disabled, created_at FROM staff_users ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(member_from_row).collect()
    }

    pub async fn staff_member(&self, id: i64) -> Result<StaffMember, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, name, role, disabled, created_at FROM staff_users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound("スタッフ"))?;
        member_from_row(&row)
    }

    /// Changes a member's name, role or 無効; a disabled member's sessions end
    /// at once. The last enabled owner can be neither demoted nor disabled:
    /// someone must be able to manage staff.
    pub async fn update_staff(
        &self,
        id: i64,
        patch: &StaffPatch,
    ) -> Result<StaffMember, StoreError> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "SELECT id, email, name, role, disabled, created_at FROM staff_users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound("スタッフ"))?;
        let mut m = member_from_row(&row)?;
        if let Some(name) = &patch.name {
            if name.trim().is_empty() || name.chars().count() > 100 {
                return Err(FieldErrors::single(
                    "name",
                    "required",
                    "名前を100文字以内で入力してください",
                )
                .into());
            }
            m.name = name.trim().to_string();
        }
        if let Some(r) = patch.role {
            m.role = r;
        }
        if let Some(d) = patch.disabled {
            m.disabled = d;
        }
        if m.role != Role::Owner || m.disabled {
            let others = get_i64(
                &sqlx::query("SELECT COUNT(*) AS n FROM staff_users WHERE role = 'owner' AND disabled = 0 AND id <> $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?,
                "n",
            )?;
            if others == 0 {
                return Err(StoreError::Conflict {
                    field: Some(if m.disabled { "disabled" } else { "role" }.into()),
                    message:
                        "有効なオーナーが他にいないため、このスタッフのオーナー権限は外せません"
                            .into(),
                });
            }
        }
        sqlx::query("UPDATE staff_users SET name = $1, role = $2, disabled = $3 WHERE id = $4")
            .bind(m.name.clone())
            .bind(m.role.code())
            .bind(i64::from(m.disabled))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if m.disabled {
            sqlx::query("DELETE FROM sessions WHERE staff_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(m)
    }

    /// Sets a new password; every session of the member ends (a reset after a
    /// leak must lock the old holder out), except `keep_session` (the member's
    /// own, when they change their own password).
    pub async fn set_password(
        &self,
        id: i64,
        password: &str,
        keep_session: Option<&str>,
    ) -> Result<(), StoreError> {
        check_password(password)?;
        let hash = hash_password(password)?;
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE staff_users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("スタッフ"));
        }
        sqlx::query("DELETE FROM sessions WHERE staff_id = $1 AND token_hash <> $2")
            .bind(id)
            .bind(keep_session.map(token_hash).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A member changes their own password: the current one is asked first.
    pub async fn change_own_password(
        &self,
        staff: &StaffUser,
        current: &str,
        new: &str,
        session_token: &str,
    ) -> Result<(), StoreError> {
        if self.authenticate(&staff.email, current).await?.is_none() {
            return Err(FieldErrors::single(
                "current_password",
                "wrong_password",
                "現在のパスワードが正しくありません",
            )
            .into());
        }
        self.set_password(staff.id, new, Some(session_token)).await
    }

    /// `juchu admin reset-password`: a new random password for the member with
    /// this email (enabled again if disabled), returned to print once.
    pub async fn reset_password_by_email(&self, email: &str) -> Result<String, StoreError> {
        let row = sqlx::query("SELECT id FROM staff_users WHERE email = $1")
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("そのメールアドレスのスタッフ"))?;
        let id = get_i64(&row, "id")?;
        let password = random_token("");
        let password: String = password.chars().take(20).collect();
        self.set_password(id, &password, None).await?;
        sqlx::query("UPDATE staff_users SET disabled = 0 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(password)
    }

    /// Why this attempt may not even be checked, if it may not: the limits of
    /// [`LoginAttempt`]'s keys. A browser the account has logged in from before
    /// (its device cookie) is held only by its own pair limit, so failures of
    /// others — behind the same office address, or guessing this account from
    /// elsewhere — never lock it out.
    pub async fn login_blocked(&self, a: &LoginAttempt) -> Result<bool, StoreError> {
        let trusted = match &a.device {
            Some(d) => self.device_belongs_to(d, &a.email).await?,
            None => false,
        };
        let mut checks: Vec<(String, i64)> = Vec::new();
        if let Some(k) = a.pair_key() {
            checks.push((k, PAIR_LIMIT));
        }
        if !trusted {
            checks.push((a.account_key(), ACCOUNT_LIMIT));
            if let Some(k) = a.client_key() {
                checks.push((k, CLIENT_LIMIT));
            }
        }
        let since = self.login_window_start();
        for (key, limit) in checks {
            let row = sqlx::query(
                "SELECT failures FROM login_failures WHERE key = $1 AND window_start >= $2",
            )
            .bind(key)
            .bind(since.clone())
            .fetch_optional(&self.pool)
            .await?;
            if let Some(r) = row
                && get_i64(&r, "failures")? >= limit
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn login_window_start(&self) -> String {
        juchu_domain::time::format_ts(
            self.clock.now() - jiff::SignedDuration::from_mins(LOGIN_WINDOW_MINUTES),
        )
    }

    /// Counts a failed attempt on each of its keys (a window starts at the
    /// first failure and ends [`LOGIN_WINDOW_MINUTES`] later).
    pub async fn record_login_failure(&self, a: &LoginAttempt) -> Result<(), StoreError> {
        let now = self.clock.now_text();
        let since = self.login_window_start();
        let keys = [Some(a.account_key()), a.pair_key(), a.client_key()];
        let mut tx = self.begin().await?;
        // Forget ended windows so the table stays small.
        sqlx::query("DELETE FROM login_failures WHERE window_start < $1")
            .bind(since.clone())
            .execute(&mut *tx)
            .await?;
        for key in keys.into_iter().flatten() {
            sqlx::query(
                "INSERT INTO login_failures (key, failures, window_start) VALUES ($1, 1, $2) \
                 ON CONFLICT (key) DO UPDATE SET failures = login_failures.failures + 1",
            )
            .bind(key)
            .bind(now.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A successful login clears its account's and pair's counts (not the
    /// client's: one right password must not reset a spraying client) and
    /// returns a new device cookie value for the browser.
    pub async fn record_login_success(
        &self,
        a: &LoginAttempt,
        staff: &StaffUser,
    ) -> Result<String, StoreError> {
        let mut tx = self.begin().await?;
        for key in [Some(a.account_key()), a.pair_key()].into_iter().flatten() {
            sqlx::query("DELETE FROM login_failures WHERE key = $1")
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        let device = match &a.device {
            Some(d) if self.device_belongs_to(d, &a.email).await? => d.clone(),
            _ => {
                let d = random_token("d_");
                sqlx::query("INSERT INTO login_devices (token_hash, staff_id, created_at) VALUES ($1, $2, $3)")
                    .bind(token_hash(&d))
                    .bind(staff.id)
                    .bind(self.clock.now_text())
                    .execute(&mut *tx)
                    .await?;
                d
            }
        };
        tx.commit().await?;
        Ok(device)
    }

    /// Clears an attempt's account and pair counts (a successful login).
    pub(crate) async fn clear_login_failures(&self, a: &LoginAttempt) -> Result<(), StoreError> {
        for key in [Some(a.account_key()), a.pair_key()].into_iter().flatten() {
            sqlx::query("DELETE FROM login_failures WHERE key = $1")
                .bind(key)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn device_belongs_to(&self, device: &str, email: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 AS one FROM login_devices d JOIN staff_users u ON u.id = d.staff_id WHERE d.token_hash = $1 AND u.email = $2")
            .bind(token_hash(device))
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }
}

pub(crate) fn check_password(password: &str) -> Result<(), StoreError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(FieldErrors::single(
            "password",
            "too_short",
            format!("パスワードは{MIN_PASSWORD_LEN}文字以上にしてください"),
        )
        .into());
    }
    Ok(())
}

fn member_from_row(r: &sqlx::any::AnyRow) -> Result<StaffMember, StoreError> {
    Ok(StaffMember {
        id: get_i64(r, "id")?,
        email: get_str(r, "email")?,
        name: get_str(r, "name")?,
        role: role_of(&get_str(r, "role")?)?,
        disabled: get_bool(r, "disabled")?,
        created_at: get_str(r, "created_at")?,
    })
}
