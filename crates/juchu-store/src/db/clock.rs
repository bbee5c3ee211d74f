//! The clock: the one place that reads the time. Everything else asks the
//! store's [`Clock`], so tests can set the time (a year of deliveries in a
//! second) and `clippy.toml` forbids reading it anywhere else.

use jiff::Timestamp;
use jiff::civil::Date;
use std::sync::{Arc, Mutex};

/// The time as the store sees it: the system clock, or (tests, the bench) a
/// fixed time that moves only when set.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Mutex<Timestamp>>>);

impl Clock {
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stays at `at` until [`Clock::set`].
    pub fn fixed(at: Timestamp) -> Clock {
        Clock(Some(Arc::new(Mutex::new(at))))
    }

    /// Moves a fixed clock; a system clock cannot be moved and says so.
    pub fn set(&self, at: Timestamp) -> Result<(), &'static str> {
        match &self.0 {
            Some(t) => {
                *t.lock().unwrap_or_else(|p| p.into_inner()) = at;
                Ok(())
            }
            None => Err("the system clock cannot be set"),
        }
    }

    #[allow(clippy::disallowed_methods)]
    pub fn now(&self) -> Timestamp {
        match &self.0 {
            Some(t) => *t.lock().unwrap_or_else(|p| p.into_inner()),
            None => Timestamp::now(),
        }
    }

    /// Now, at the second precision the store keeps (so an in-memory order
    /// equals its row).
    pub fn now_second(&self) -> Timestamp {
        Timestamp::from_second(self.now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// Now as stored (RFC 3339, UTC).
    pub fn now_text(&self) -> String {
        juchu_domain::time::format_ts(self.now())
    }

    /// Today in Japan.
    pub fn today(&self) -> Date {
        juchu_domain::time::japan_date(self.now())
    }

    /// `seconds` from now, as stored (leases, retries); negative for the past.
    pub fn in_seconds(&self, seconds: i64) -> String {
        let now = self.now();
        juchu_domain::time::format_ts(
            now.checked_add(jiff::SignedDuration::from_secs(seconds))
                .unwrap_or(now),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_set() {
        let at: Timestamp = "2026-12-25T15:30:00Z".parse().unwrap();
        let c = Clock::fixed(at);
        assert_eq!(c.now(), at);
        // 15:30 UTC is already the 26th in Japan.
        assert_eq!(c.today().to_string(), "2026-12-26");
        assert_eq!(c.in_seconds(60), "2026-12-25T15:31:00Z");
        c.set("2027-01-01T00:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(c.now_text(), "2027-01-01T00:00:00Z");
        assert!(Clock::system().set(at).is_err());
    }
}
