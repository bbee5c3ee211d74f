//! Staff users, login sessions and API tokens.
//!
//! Passwords are argon2id hashes. Session and API tokens are random 32-byte values
//! handed out once; only their SHA-256 is stored, so a database leak does not
//! leak usable tokens.

use crate::StoreError;
pub use crate::db::random_token;
use crate::db::{Store, get_i64, get_str};
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

pub const SESSION_HOURS: i64 = 12;
pub const MIN_PASSWORD_LEN: usize = 8;

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

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
            "SELECT id, email, name, role, password_hash FROM staff_users WHERE email = $1",
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
            "SELECT s.csrf_token, s.expires_at, u.id, u.email, u.name, u.role FROM sessions s JOIN staff_users u ON u.id = s.staff_id WHERE s.token_hash = $1",
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
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(FieldErrors::single(
                "name",
                "required",
                "トークン名を100文字以内で入力してください",
            )
            .into());
        }
        let token = random_token("jc_");
        let row = sqlx::query("INSERT INTO api_tokens (name, token_hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(name.trim().to_string())
            .bind(token_hash(&token))
            .bind(role.code())
            .bind(self.clock.now_text())
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
            "SELECT id, name, role FROM api_tokens WHERE token_hash = $1 AND revoked = 0",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ApiToken {
            id: get_i64(&row, "id")?,
            name: get_str(&row, "name")?,
            role: role_of(&get_str(&row, "role")?)?,
        }))
    }
}
