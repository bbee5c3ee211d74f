//! LINE Login's ID tokens, as a sandbox that behaves like LINE: it issues
//! tokens the way a LIFF app's `liff.getIDToken()` gets them (a JWT signed
//! HS256 with the channel secret, `iss` `https://access.line.me`, `aud` the
//! channel id, `sub` the user id, `exp`) and verifies them as
//! `POST https://api.line.me/oauth2/v2.1/verify` does, with LINE's error
//! descriptions. It can be told to be unreachable, as LINE sometimes is.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use juchu_store::db::Clock;
use juchu_store::requests::links::{
    LineFuture, LineIdentity, LineLogin, LineVerifyError, hmac_sha256_hex, hmac_sha256_verify,
};
use std::sync::atomic::{AtomicBool, Ordering};

pub const ISSUER: &str = "https://access.line.me";

pub struct LineSandbox {
    channel_id: String,
    channel_secret: String,
    unreachable: AtomicBool,
    /// The store's clock: tokens expire in the same time as everything else.
    clock: Clock,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    #[serde(default)]
    name: String,
}

impl LineSandbox {
    pub fn new(channel_id: &str, channel_secret: &str, clock: Clock) -> Self {
        LineSandbox {
            channel_id: channel_id.to_string(),
            channel_secret: channel_secret.to_string(),
            unreachable: AtomicBool::new(false),
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().as_second()
    }

    /// What `JUCHU_LINE_CHANNEL_ID` / `JUCHU_LINE_CHANNEL_SECRET` say, or a
    /// development channel.
    pub fn from_env(clock: Clock) -> Self {
        let id = std::env::var("JUCHU_LINE_CHANNEL_ID").unwrap_or_else(|_| "1650000000".into());
        let secret = std::env::var("JUCHU_LINE_CHANNEL_SECRET")
            .unwrap_or_else(|_| "juchu-line-sandbox-secret".into());
        LineSandbox::new(&id, &secret, clock)
    }

    /// An ID token for `user_id` on channel `channel_id` (another channel's
    /// token is how a foreign token looks), valid `valid_secs` from now
    /// (negative: already expired).
    pub fn issue_id_token(
        &self,
        user_id: &str,
        name: &str,
        channel_id: &str,
        valid_secs: i64,
    ) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
        let claims = Claims {
            iss: ISSUER.into(),
            sub: user_id.into(),
            aud: channel_id.into(),
            exp: self.now() + valid_secs,
            iat: self.now(),
            name: name.into(),
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let sig = hmac_sha256_hex(self.channel_secret.as_bytes(), signing_input.as_bytes())
            .ok()
            .and_then(|h| hex::decode(h).ok())
            .unwrap_or_default();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// While set, every verification fails as a network error would.
    pub fn set_unreachable(&self, on: bool) {
        self.unreachable.store(on, Ordering::SeqCst);
    }

    fn verify(&self, token: &str) -> Result<LineIdentity, LineVerifyError> {
        let invalid = || LineVerifyError::Rejected("Invalid IdToken.".into());
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| invalid())?;
        if !hmac_sha256_verify(
            self.channel_secret.as_bytes(),
            format!("{h}.{p}").as_bytes(),
            &hex::encode(sig),
        ) {
            return Err(invalid());
        }
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        if claims.iss != ISSUER {
            return Err(LineVerifyError::Rejected("Invalid IdToken Issuer.".into()));
        }
        if claims.aud != self.channel_id {
            return Err(LineVerifyError::Rejected(
                "Invalid IdToken Audience.".into(),
            ));
        }
        if claims.exp < self.now() {
            return Err(LineVerifyError::Rejected("IdToken expired.".into()));
        }
        Ok(LineIdentity {
            user_id: claims.sub,
            name: claims.name,
        })
    }

    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }
}

impl LineLogin for LineSandbox {
    fn verify_id_token<'a>(&'a self, id_token: &'a str) -> LineFuture<'a> {
        Box::pin(async move {
            if self.unreachable.load(Ordering::SeqCst) {
                return Err(LineVerifyError::Unavailable(
                    "api.line.me: connection timed out".into(),
                ));
            }
            self.verify(id_token)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_verify_as_line_does() {
        let line = LineSandbox::new("1650000000", "secret", Clock::system());
        let t = line.issue_id_token("U1234", "山田", "1650000000", 600);
        let who = line.verify_id_token(&t).await.unwrap();
        assert_eq!(who.user_id, "U1234");
        let expired = line.issue_id_token("U1234", "山田", "1650000000", -1);
        assert_eq!(
            line.verify_id_token(&expired).await,
            Err(LineVerifyError::Rejected("IdToken expired.".into()))
        );
        let foreign = line.issue_id_token("U1234", "山田", "999", 600);
        assert_eq!(
            line.verify_id_token(&foreign).await,
            Err(LineVerifyError::Rejected(
                "Invalid IdToken Audience.".into()
            ))
        );
        let other_secret = LineSandbox::new("1650000000", "other", Clock::system()).issue_id_token(
            "U1",
            "",
            "1650000000",
            600,
        );
        assert_eq!(
            line.verify_id_token(&other_secret).await,
            Err(LineVerifyError::Rejected("Invalid IdToken.".into()))
        );
        assert!(line.verify_id_token("garbage").await.is_err());
        line.set_unreachable(true);
        assert!(matches!(
            line.verify_id_token(&t).await,
            Err(LineVerifyError::Unavailable(_))
        ));
    }
}
