//! The in-process worker of `juchu serve`: background work that belongs to no
//! request. Today that is the daily subscription run (自動受注作成); it runs at
//! start and then every few minutes, which is cheap when nothing is due (one
//! indexed query) and idempotent per day, so a restart or a second process never
//! creates an order twice.

use juchu_store::Store;
use std::time::Duration;

const INTERVAL: Duration = Duration::from_secs(5 * 60);

pub async fn run_in_process(store: Store) {
    loop {
        let today = juchu_domain::time::japan_date(jiff::Timestamp::now());
        match store.run_subscriptions(today, &Default::default()).await {
            Ok(r) if r.created > 0 || !r.failed.is_empty() => {
                for (id, why) in &r.failed {
                    tracing::warn!(subscription = id, reason = %why, "subscription order not created");
                }
                tracing::info!(
                date = %today,
                created = r.created,
                skipped_flagged = r.skipped_flagged,
                failed = r.failed.len(),
                    "subscription run"
                )
            }
            Ok(_) => {}
            // A store error is logged and retried on the next tick, not fatal.
            Err(e) => tracing::error!(error = %e, "subscription run failed"),
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
