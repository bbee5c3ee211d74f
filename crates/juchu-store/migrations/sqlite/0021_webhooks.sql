-- Outbound webhooks: the event outbox (also the pull feed), endpoints, their
-- deliveries and every attempt. Expand-only: nothing an older version reads
-- is changed or dropped, so old serves and workers keep running while this
-- applies (see docs/operations.md).

-- txid: always 0 here: SQLite has one writer, so ids are already in commit order.
CREATE TABLE webhook_events (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    txid BIGINT NOT NULL DEFAULT 0,
    is_test BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhook_events_feed ON webhook_events (txid, id);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    cursor_txid BIGINT NOT NULL DEFAULT 0,
    cursor_id BIGINT NOT NULL DEFAULT 0,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    disabled_reason TEXT NOT NULL DEFAULT '',
    disabled_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL REFERENCES webhook_events (id),
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_status_code BIGINT,
    last_error TEXT NOT NULL DEFAULT '',
    replay BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries (endpoint_id, subject, id);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at TEXT NOT NULL,
    request_headers TEXT NOT NULL,
    request_body TEXT NOT NULL,
    status_code BIGINT,
    response_excerpt TEXT NOT NULL DEFAULT '',
    duration_ms BIGINT NOT NULL,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- Each worker process says it is alive here (for /readyz and the admin).
CREATE TABLE worker_heartbeats (
    worker TEXT PRIMARY KEY,
    loops TEXT NOT NULL,
    started_at TEXT NOT NULL,
    seen_at TEXT NOT NULL
);

-- Keyset paging by updated_at for integrations (updated_since).
CREATE INDEX orders_updated ON orders (updated_at, id);
CREATE INDEX customers_updated ON customers (updated_at, id);
CREATE INDEX subscriptions_updated ON subscriptions (updated_at, id);
CREATE INDEX requests_updated ON requests (updated_at, id);
