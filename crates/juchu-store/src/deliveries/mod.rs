//! The carrier-tracker interface ([`CarrierTracker`]): asking a carrier where a
//! 発送済 parcel is. Implementations live in `juchu-adapters` (a sandbox that
//! answers as carriers do; a real carrier is one more implementation). The
//! worker asks with no transaction open; a delivery is applied to the order
//! through the pipeline (`effects`), so 配送完了日 fires its rules.

use juchu_domain::tracking::{KnownCarrier, ParcelStatus};
use std::future::Future;
use std::pin::Pin;

/// What we ask the carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRequest {
    /// `None`: a shop's own carrier (nobody to ask).
    pub carrier: Option<KnownCarrier>,
    pub tracking_number: String,
    pub shipped_at: Option<jiff::civil::Date>,
}

/// The carrier could not be reached: asked again on a later round.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrackerUnavailable(pub String);

pub type TrackFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ParcelStatus, TrackerUnavailable>> + Send + 'a>>;

/// A carrier's tracking service.
pub trait CarrierTracker: Send + Sync {
    /// Shown in 履歴 as who answered.
    fn name(&self) -> &str;
    fn track<'a>(&'a self, req: &'a TrackRequest) -> TrackFuture<'a>;
}

/// What one round of [`crate::Store::track_deliveries`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackRun {
    pub delivered: usize,
    pub in_transit: usize,
    pub absent: usize,
    pub unknown: usize,
    pub unavailable: usize,
}

/// How long after a look a parcel that is not delivered yet is asked about again.
pub const RECHECK_SECONDS: i64 = 6 * 3600;
