//! The built-in sandbox carrier tracker. Real carriers' tracking cannot be
//! reached from here; this one answers as they do — in transit, delivered,
//! taken back (持戻り), a number it does not know, or no answer at all — so the
//! worker, the tests and `--demo` exercise every case. A real carrier is one
//! more [`CarrierTracker`].
//!
//! A parcel is delivered [`SandboxTracker::transit_days`] after it shipped.
//! The digits before a number's check digit choose the other answers:

use juchu_domain::tracking::{ParcelStatus, normalise};
use juchu_store::db::Clock;
use juchu_store::deliveries::{CarrierTracker, TrackFuture, TrackRequest, TrackerUnavailable};

/// Test numbers of the sandbox by the two digits before the check digit (a
/// number that passes the carriers' check, e.g. `123456799` + `9` + check).
pub mod test_numbers {
    /// …99x: taken back (ご不在 持戻り), never delivered.
    pub const ABSENT: &str = "99";
    /// …98x: the carrier does not know the number.
    pub const UNKNOWN: &str = "98";
    /// …97x: the tracking service does not answer.
    pub const UNAVAILABLE: &str = "97";
}

/// The built-in sandbox tracker.
#[derive(Clone)]
pub struct SandboxTracker {
    clock: Clock,
    /// Days from shipping to delivery.
    pub transit_days: i64,
}

impl SandboxTracker {
    pub fn new(clock: Clock) -> Self {
        SandboxTracker {
            clock,
            transit_days: 2,
        }
    }

    fn answer(&self, req: &TrackRequest) -> Result<ParcelStatus, TrackerUnavailable> {
        let digits: String = normalise(&req.tracking_number)
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if req.carrier.is_none() || digits.len() < 3 {
            return Ok(ParcelStatus::Unknown);
        }
        let code = &digits[digits.len() - 3..digits.len() - 1];
        match code {
            test_numbers::ABSENT => return Ok(ParcelStatus::Absent),
            test_numbers::UNKNOWN => return Ok(ParcelStatus::Unknown),
            test_numbers::UNAVAILABLE => {
                return Err(TrackerUnavailable(
                    "配送業者の追跡サービスが応答しません".into(),
                ));
            }
            _ => {}
        }
        let Some(shipped) = req.shipped_at else {
            return Ok(ParcelStatus::InTransit);
        };
        let arrives = shipped
            .checked_add(jiff::Span::new().days(self.transit_days))
            .unwrap_or(shipped);
        Ok(if arrives <= self.clock.today() {
            ParcelStatus::Delivered(arrives)
        } else {
            ParcelStatus::InTransit
        })
    }
}

impl CarrierTracker for SandboxTracker {
    fn name(&self) -> &str {
        "配送業者（サンドボックス）"
    }

    fn track<'a>(&'a self, req: &'a TrackRequest) -> TrackFuture<'a> {
        Box::pin(async move { self.answer(req) })
    }
}
