//! Random tokens: session and API tokens, lease tokens, revisions.

use rand::Rng as _;

/// 32 random bytes in hex after `prefix`.
pub fn random_token(prefix: &str) -> String {
    let mut buf = [0u8; 32];
    rand::rng().fill_bytes(&mut buf);
    format!("{prefix}{}", hex::encode(buf))
}
