//! The clock.

use jiff::Timestamp;

pub(crate) fn today() -> jiff::civil::Date {
    juchu_domain::time::japan_date(Timestamp::now())
}

/// Now, at the second precision the store keeps (so the in-memory order equals
/// its row).
pub(crate) fn now_second() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)
}
