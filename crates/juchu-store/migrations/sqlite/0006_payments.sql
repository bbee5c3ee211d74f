-- 決済処理: requests to payment providers go through a transactional outbox (queued
-- in the change's transaction, executed by a worker outside it, the answer applied
-- through the change pipeline). payment_links is our link data to the provider
-- (its transaction id and the card token); sandbox_transactions is the built-in
-- sandbox provider's own ledger, kept apart from ours as a real provider's would be.
CREATE TABLE payment_links (
    order_id BIGINT PRIMARY KEY,
    gateway TEXT NOT NULL,
    transaction_id TEXT NOT NULL DEFAULT '',
    card_token TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
);

CREATE TABLE payment_requests (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL,
    process TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL,
    -- The claim a worker holds; its answer is applied only under the same claim.
    claim_token TEXT NOT NULL DEFAULT '',
    next_attempt_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX payment_requests_due ON payment_requests (status, next_attempt_at);
CREATE INDEX payment_requests_order ON payment_requests (order_id);

CREATE TABLE sandbox_transactions (
    id TEXT PRIMARY KEY,
    gateway TEXT NOT NULL,
    order_number TEXT NOT NULL,
    amount BIGINT NOT NULL,
    state TEXT NOT NULL,
    card_token TEXT NOT NULL DEFAULT '',
    tracking_number TEXT NOT NULL DEFAULT '',
    decision_at TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX sandbox_transactions_order ON sandbox_transactions (order_number);

-- The sandbox answers a retried request (same idempotency key) with its first
-- answer, as real providers do, so a worker that died after the call but before
-- recording it never authorises twice.
CREATE TABLE sandbox_replies (
    idempotency_key TEXT PRIMARY KEY,
    outcome_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);
