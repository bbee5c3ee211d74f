//! The worker loops: background work that belongs to no request — the daily
//! subscription run (自動受注作成, at start and then every few minutes: cheap
//! when nothing is due, idempotent per day, so a restart or a second process
//! never creates an order twice), jobs, mail and payment requests. They run
//! under one [`Supervisor`], in `juchu serve` and in `juchu worker`.

use juchu_store::Store;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

type Loop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every worker loop of a process in one `JoinSet`: a loop that panics is
/// logged and started again after a pause instead of silently gone; a loop
/// that ends by itself (mail without SMTP) is logged and stays ended.
#[derive(Default)]
pub struct Supervisor {
    set: JoinSet<()>,
    names: HashMap<tokio::task::Id, &'static str>,
    starts: HashMap<&'static str, Arc<dyn Fn() -> Loop + Send + Sync>>,
}

/// How long a loop that panicked waits before it is started again.
const RESTART_AFTER: Duration = Duration::from_secs(5);

impl Supervisor {
    /// Starts the loop `start` makes, and makes it again whenever it panics.
    pub fn spawn<F>(&mut self, name: &'static str, start: impl Fn() -> F + Send + Sync + 'static)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let start: Arc<dyn Fn() -> Loop + Send + Sync> = Arc::new(move || Box::pin(start()));
        self.starts.insert(name, start.clone());
        self.start(name, &start);
    }

    fn start(&mut self, name: &'static str, start: &Arc<dyn Fn() -> Loop + Send + Sync>) {
        let handle = self.set.spawn(start());
        self.names.insert(handle.id(), name);
    }

    /// Runs until every loop has ended by itself.
    pub async fn run(mut self) {
        while let Some(done) = self.set.join_next_with_id().await {
            match done {
                Ok((id, ())) => {
                    let name = self.names.remove(&id).unwrap_or("?");
                    tracing::info!(worker = name, "worker loop ended");
                }
                Err(e) => {
                    let name = self.names.remove(&e.id()).unwrap_or("?");
                    if e.is_cancelled() {
                        continue;
                    }
                    tracing::error!(worker = name, error = %e, "worker loop panicked; starting it again");
                    tokio::time::sleep(RESTART_AFTER).await;
                    if let Some(start) = self.starts.get(name).cloned() {
                        self.start(name, &start);
                    }
                }
            }
        }
    }
}

const INTERVAL: Duration = Duration::from_secs(5 * 60);

/// 保存期間 in days (None: kept for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// A finished job's items and result file (`JUCHU_JOB_RETENTION_DAYS`).
    pub job_days: Option<i64>,
    /// Outbox events with their deliveries (`JUCHU_EVENT_RETENTION_DAYS`).
    pub event_days: Option<i64>,
}

pub async fn run_in_process(store: Store, retention: Retention) {
    loop {
        if let Some(days) = retention.job_days {
            purge_jobs(&store, days).await;
        }
        if let Some(days) = retention.event_days {
            purge_events(&store, days).await;
        }
        let today = store.clock.today();
        // Notices first: they tell of deliveries the run is about to order.
        match store.send_subscription_notices(today).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(date = %today, notices = n, "subscription notices queued"),
            Err(e) => tracing::error!(error = %e, "subscription notices failed"),
        }
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

/// 保存期間: the items and results of jobs finished more than `days` days ago
/// are deleted, some jobs per tick.
async fn purge_jobs(store: &Store, days: i64) {
    let cutoff = days_ago(store, days);
    match store
        .purge_finished_jobs(&juchu_domain::time::format_ts(cutoff))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            jobs = n,
            days,
            "job results past the retention period deleted"
        ),
        Err(e) => tracing::error!(error = %e, "purging old job results failed"),
    }
}

/// Events, with their deliveries and attempts, older than `days` days are
/// deleted, some batches per tick.
async fn purge_events(store: &Store, days: i64) {
    const BATCH: i64 = 5_000;
    let cutoff = juchu_domain::time::format_ts(days_ago(store, days));
    let mut purged = 0;
    for _ in 0..20 {
        match store.purge_webhook_events(&cutoff, BATCH).await {
            Ok(n) => {
                purged += n;
                if n < BATCH as usize {
                    break;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "purging old webhook events failed");
                break;
            }
        }
    }
    if purged > 0 {
        tracing::info!(
            events = purged,
            days,
            "webhook events past the retention period deleted"
        );
    }
}

/// The cutoff of a retention period: `days` days before the store's clock.
fn days_ago(store: &Store, days: i64) -> jiff::Timestamp {
    store
        .clock
        .now()
        .checked_sub(jiff::SignedDuration::from_hours(24 * days))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Sends queued mail every half minute when SMTP is configured
/// (`JUCHU_SMTP_URL`); without it mail stays queued, visible on the order.
pub async fn deliver_mail(store: Store, smtp: Option<juchu_adapters::SmtpConfig>) {
    let Some(smtp) = smtp else {
        tracing::info!("JUCHU_SMTP_URL is not set: rule mails are queued but not sent");
        return;
    };
    let sender = match smtp.sender() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "mail cannot be sent: mails stay queued");
            return;
        }
    };
    loop {
        match store.deliver_mail(&sender, 200).await {
            Ok(d) => {
                for (id, why) in &d.failed {
                    tracing::warn!(mail = id, error = %why, "mail not delivered (will retry)");
                }
                if d.sent > 0 {
                    tracing::info!(sent = d.sent, "mail delivered");
                }
            }
            Err(e) => tracing::error!(error = %e, "mail delivery failed"),
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

/// Executes queued 決済処理 every few seconds against the payment gateway: the
/// built-in sandbox provider (real providers cannot be reached from here). A
/// deferred provider's credit result is asked for until it arrives.
/// 配送状況の確認: asks the carriers (the sandbox here) about 発送済 parcels,
/// some at a time, every few minutes.
pub async fn track_deliveries(store: Store, tracker: juchu_adapters::SandboxTracker) {
    loop {
        match store.track_deliveries(&tracker, 500).await {
            Ok(r) if r.delivered + r.unknown + r.absent > 0 => tracing::info!(
                delivered = r.delivered,
                absent = r.absent,
                unknown = r.unknown,
                unavailable = r.unavailable,
                "delivery tracking"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "delivery tracking failed"),
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

pub async fn process_payments(store: Store, gateway: juchu_adapters::SandboxGateway) {
    loop {
        match store.process_payments(&gateway, 200).await {
            Ok(r) => {
                for (id, why) in &r.unavailable {
                    tracing::warn!(request = id, error = %why, "payment provider unavailable (will retry)");
                }
                if r.done + r.declined > 0 {
                    tracing::info!(
                        done = r.done,
                        declined = r.declined,
                        "payment requests processed"
                    );
                }
            }
            Err(e) => tracing::error!(error = %e, "payment processing failed"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// Runs jobs (一括処理) as they are registered: chunk after chunk while there
/// is work, then a look every second. On PostgreSQL any number of these loops
/// (in `juchu serve` and in `juchu worker` processes) share the work.
pub async fn run_jobs(store: Store) {
    loop {
        match store.run_jobs(20).await {
            Ok(0) => tokio::time::sleep(Duration::from_secs(1)).await,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "job chunk failed (will retry)");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// The request automation (RPA設定): while it runs, takes requests in
/// arrival order every few seconds. On PostgreSQL several processes share
/// the work; a request is applied once.
pub async fn process_requests(store: Store) {
    loop {
        match store.process_requests(1000).await {
            Ok(r) if r.total() > 0 => tracing::info!(
                completed = r.completed,
                refused = r.refused,
                errors = r.errors,
                no_rule = r.no_rule,
                manual = r.manual,
                "requests processed"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "request automation failed (will retry)"),
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

/// Pushes queued LINE messages every few seconds.
pub async fn deliver_line(store: Store, client: juchu_adapters::LineMessagingClient) {
    loop {
        match store.deliver_line(&client, 200).await {
            Ok(d) => {
                for (id, why) in &d.failed {
                    tracing::warn!(push = id, error = %why, "LINE push not delivered");
                }
                if d.sent > 0 {
                    tracing::info!(sent = d.sent, "LINE pushes delivered");
                }
            }
            Err(e) => tracing::error!(error = %e, "LINE delivery failed"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// Delivers webhooks: new events fanned out to the endpoints, due deliveries
/// sent and recorded; again at once while there is work, else every second.
pub async fn deliver_webhooks(
    store: Store,
    client: juchu_adapters::WebhookClient,
    settings: juchu_store::webhooks::WebhookSettings,
) {
    loop {
        match store.deliver_webhooks(&client, &settings, 200).await {
            Ok(r) => {
                for id in &r.disabled {
                    tracing::warn!(
                        endpoint = id,
                        "webhook endpoint disabled after failing {} times in a row",
                        settings.disable_after
                    );
                }
                if r.succeeded + r.failed > 0 {
                    tracing::info!(
                        succeeded = r.succeeded,
                        failed = r.failed,
                        "webhooks delivered"
                    );
                    continue;
                }
            }
            Err(e) => tracing::error!(error = %e, "webhook delivery failed (will retry)"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `host:pid:role`, how this process appears in /readyz.
pub fn process_name(role: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}:{role}", std::process::id())
}

/// Says every 15 seconds that this process's loops are alive (`/readyz`
/// needs one within a minute); forgets processes silent for a day.
pub async fn heartbeat(store: Store, name: String, loops: Vec<&'static str>, started: String) {
    loop {
        if let Err(e) = store.heartbeat(&name, &loops, &started).await {
            tracing::warn!(error = %e, "heartbeat not recorded");
        }
        let day_ago = juchu_domain::time::format_ts(
            store
                .clock
                .now()
                .checked_sub(jiff::SignedDuration::from_hours(24))
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        );
        if let Err(e) = store.forget_workers(&day_ago).await {
            tracing::warn!(error = %e, "old heartbeats not deleted");
        }
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
}
