//! What proves who is asking when nobody is signed in: a signed link (a mail
//! or a LINE message bound to one customer and subscription, like a LIFF URL),
//! an external form tool's HMAC over the raw body, and a LINE ID token
//! verified through a [`LineLogin`] (the real LINE, or its sandbox).

use crate::StoreError;
use crate::db::Store;
const LINK_SECRET: &str = "requests.link_secret";
const WEBHOOK_SECRET: &str = "requests.webhook_secret";

pub use crate::db::{hmac_sha256_hex, hmac_sha256_verify};

/// Who a signed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClaims {
    pub customer_id: i64,
    pub subscription_id: i64,
    pub form_id: i64,
    /// Unix seconds after which the link no longer works.
    pub expires: i64,
}

/// Why a signed link does not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// Not a link juchu made, or altered.
    Forged,
    Expired,
}

impl LinkProblem {
    pub fn message(self) -> &'static str {
        match self {
            LinkProblem::Forged => {
                "このリンクは無効です。ショップから届いたメッセージのリンクをそのまま開いてください。"
            }
            LinkProblem::Expired => {
                "このリンクは有効期限が切れています。お手数ですがショップにお問い合わせいただくか、マイページからお申し込みください。"
            }
        }
    }
}

fn link_payload(c: &LinkClaims) -> String {
    format!(
        "{}.{}.{}.{}",
        c.customer_id, c.subscription_id, c.form_id, c.expires
    )
}

/// What a LINE ID token says about its user (`sub`, `name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIdentity {
    pub user_id: String,
    pub name: String,
}

/// Why LINE did not accept a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineVerifyError {
    /// LINE's answer (400 `invalid_request`, e.g. 「IdToken expired.」).
    Rejected(String),
    /// LINE could not be asked (network, 5xx): try again later.
    Unavailable(String),
}

pub type LineFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<LineIdentity, LineVerifyError>> + Send + 'a>,
>;

/// Verifies LIFF ID tokens as `POST https://api.line.me/oauth2/v2.1/verify`
/// does (signature, `iss`, `aud` = the LINE Login channel, `exp`).
pub trait LineLogin: Send + Sync {
    fn verify_id_token<'a>(&'a self, id_token: &'a str) -> LineFuture<'a>;
}

impl Store {
    /// A link bound to `customer_id`'s subscription on `form_id`, valid for
    /// `valid_days`: `{customer}.{subscription}.{form}.{expires}.{hmac}`.
    pub async fn request_link_token(
        &self,
        customer_id: i64,
        subscription_id: i64,
        form_id: i64,
        valid_days: i64,
    ) -> Result<String, StoreError> {
        let sub = self.subscription(subscription_id).await?;
        if sub.customer_id != Some(customer_id) {
            return Err(StoreError::NotFound("定期受注"));
        }
        self.request_form(form_id).await?;
        let claims = LinkClaims {
            customer_id,
            subscription_id,
            form_id,
            expires: self.clock.now().as_second() + valid_days.clamp(1, 365) * 86_400,
        };
        let mut conn = self.pool.acquire().await?;
        let key = crate::settings::secret(&mut conn, LINK_SECRET).await?;
        let payload = link_payload(&claims);
        let sig = hmac_sha256_hex(key.as_bytes(), payload.as_bytes())?;
        Ok(format!("{payload}.{sig}"))
    }

    /// Reads a signed link: forged or altered links and expired ones are
    /// told apart (the message differs), nothing else is revealed.
    pub async fn verify_request_link(
        &self,
        token: &str,
    ) -> Result<Result<LinkClaims, LinkProblem>, StoreError> {
        let parts: Vec<&str> = token.trim().split('.').collect();
        let [c, s, f, e, sig] = parts.as_slice() else {
            return Ok(Err(LinkProblem::Forged));
        };
        let (Ok(customer_id), Ok(subscription_id), Ok(form_id), Ok(expires)) =
            (c.parse(), s.parse(), f.parse(), e.parse())
        else {
            return Ok(Err(LinkProblem::Forged));
        };
        let claims = LinkClaims {
            customer_id,
            subscription_id,
            form_id,
            expires,
        };
        let mut conn = self.pool.acquire().await?;
        let key = crate::settings::secret(&mut conn, LINK_SECRET).await?;
        // The payload is rebuilt from the parsed numbers: "007" and "7" are
        // not the same link.
        if link_payload(&claims) != format!("{c}.{s}.{f}.{e}")
            || !hmac_sha256_verify(key.as_bytes(), link_payload(&claims).as_bytes(), sig)
        {
            return Ok(Err(LinkProblem::Forged));
        }
        if self.clock.now().as_second() > expires {
            return Ok(Err(LinkProblem::Expired));
        }
        Ok(Ok(claims))
    }

    /// The secret external form tools sign their webhook bodies with.
    pub async fn request_webhook_secret(&self) -> Result<String, StoreError> {
        let mut conn = self.pool.acquire().await?;
        crate::settings::secret(&mut conn, WEBHOOK_SECRET).await
    }

    /// Makes a new webhook secret (the old one stops working at once).
    pub async fn rotate_request_webhook_secret(&self) -> Result<String, StoreError> {
        let mut conn = self.pool.acquire().await?;
        crate::settings::set_setting(
            &mut conn,
            WEBHOOK_SECRET,
            &crate::db::random_token("whsec_"),
        )
        .await?;
        crate::settings::secret(&mut conn, WEBHOOK_SECRET).await
    }

    /// Whether `signature` (`sha256=<hex>`, or the hex alone) is the HMAC of
    /// the raw `body` under the webhook secret.
    pub async fn verify_request_webhook(
        &self,
        body: &[u8],
        signature: &str,
    ) -> Result<bool, StoreError> {
        let secret = self.request_webhook_secret().await?;
        let hex_sig = signature.trim();
        let hex_sig = hex_sig.strip_prefix("sha256=").unwrap_or(hex_sig);
        Ok(hmac_sha256_verify(secret.as_bytes(), body, hex_sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?").unwrap(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(hmac_sha256_verify(
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ));
        assert!(!hmac_sha256_verify(
            b"Jefe",
            b"what do ya want for nothing!",
            "5bdc"
        ));
        assert!(!hmac_sha256_verify(b"Jefe", b"x", "not hex"));
    }
}
