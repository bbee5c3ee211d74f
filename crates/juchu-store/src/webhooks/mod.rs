//! Outbound webhooks: the event outbox, the pull feed, endpoints and their
//! deliveries.
//!
//! Every change that publishes an event writes it with `event_rows` into
//! `webhook_events` in the change's own transaction: a rolled-back change
//! publishes nothing. Workers then fan events out to the endpoints that want
//! them (one delivery row per endpoint and event) and send them through a
//! [`WebhookSender`] with no transaction open. Delivery is at least once: a
//! worker that dies after sending and before recording sends again, with the
//! same event id.
//!
//! Order: the feed and the fan-out read events in `(txid, id)` order and, on
//! PostgreSQL, only events whose transaction is older than every transaction
//! still running. An event committed late (a long transaction that took a
//! lower id) is therefore read after, never skipped. SQLite has one writer,
//! so ids are already in commit order there (`txid` is 0).
//!
//! Per subject (`order:<id>`, `subscription:<id>`, …) an endpoint receives
//! events in order: a delivery is not tried while an earlier one of the same
//! subject to the same endpoint is still pending or being retried.

mod delivery;
mod endpoints;
mod feed;
mod retention;

pub use delivery::{
    SendFuture, WebhookDeliveryReport, WebhookRequest, WebhookResponse, WebhookSender,
    WebhookSettings, sign,
};
pub use endpoints::{
    Attempt, CheckFuture, Delivery, EndpointInput, ReplayInput, UrlGuard, WebhookEndpoint,
    generate_secret,
};
pub use feed::FeedEvent;

use crate::db::{Arg, Rows};
use juchu_domain::webhook::Outbound;

/// The outbox rows of `events`, for the caller's [`crate::db::write_rows`]
/// in the transaction of the change.
pub(crate) fn event_rows(events: &[Outbound], at: &str) -> Rows {
    let mut rows = Rows::new(
        "webhook_events",
        &["event_id", "type", "subject", "data", "created_at"],
    );
    for e in events {
        rows.args.push(Arg::from(crate::db::uuid_v4()));
        rows.args.push(e.event_type.into());
        rows.args.push(e.subject.clone().into());
        rows.args.push(e.data.to_string().into());
        rows.args.push(at.into());
    }
    rows
}

/// The feed's condition: events after the cursor `($1, $2)` = (txid, id),
/// tests left out, and on PostgreSQL only events whose writing transaction
/// is older than the oldest one still running (see the module comment).
/// Read them `ORDER BY txid, id`.
fn after_cursor(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Postgres => {
            "(txid > $1 OR (txid = $1 AND id > $2)) AND is_test = 0 \
             AND txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        }
        crate::Backend::Sqlite => "(txid > $1 OR (txid = $1 AND id > $2)) AND is_test = 0",
    }
}

/// Rows of new deliveries, due now.
fn delivery_rows() -> Rows {
    Rows::new(
        "webhook_deliveries",
        &[
            "endpoint_id",
            "event_id",
            "subject",
            "status",
            "next_attempt_at",
            "replay",
            "created_at",
        ],
    )
}

/// Adds one pending delivery of event row `event` to `rows`.
fn push_delivery(
    rows: &mut Rows,
    endpoint: i64,
    event: i64,
    subject: String,
    replay: bool,
    now: &str,
) {
    rows.args.push(endpoint.into());
    rows.args.push(event.into());
    rows.args.push(subject.into());
    rows.args.push("pending".into());
    rows.args.push(now.into());
    rows.args.push(replay.into());
    rows.args.push(now.into());
}
