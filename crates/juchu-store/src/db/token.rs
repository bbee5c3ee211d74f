//! Random tokens (session and API tokens, lease tokens, revisions) and the
//! HMAC every signature uses (signed links, form webhooks, outbound webhooks).

use crate::StoreError;
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng as _;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// 32 random bytes in hex after `prefix`.
pub fn random_token(prefix: &str) -> String {
    let mut buf = [0u8; 32];
    rand::rng().fill_bytes(&mut buf);
    format!("{prefix}{}", hex::encode(buf))
}

/// A random UUID (version 4) in its usual text form: LINE's
/// `X-Line-Retry-Key` must be one.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// HMAC-SHA256 of `message` under `key`, in hex.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> Result<String, StoreError> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .map_err(|e| StoreError::Other(format!("HMAC key: {e}")))?;
    mac.update(message);
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Whether `signature_hex` is the HMAC of `message` (constant time).
pub fn hmac_sha256_verify(key: &[u8], message: &[u8], signature_hex: &str) -> bool {
    let Ok(sig) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return false;
    };
    mac.update(message);
    mac.verify_slice(&sig).is_ok()
}
