-- Handling requests natively (seed 004): 受信BOX, automation rules (RPA設定),
-- usage and analytics, LINE messages.

-- What handling adds to a request: the operator, a memo, when it was done and
-- by what, and the answers analytics groups by (kept as columns so counting a
-- million requests does not read JSON).
ALTER TABLE requests ADD COLUMN operator_id BIGINT;
ALTER TABLE requests ADD COLUMN memo TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN completed_at TEXT;
-- 'auto' (a rule acted), 'manual' (an operator did), '' (not yet).
ALTER TABLE requests ADD COLUMN handled_by TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN rule_id BIGINT;
-- Whether the automation still has to look at it ('pending') or has ('done'):
-- a request that waits for a person stays 未対応 without being picked again.
ALTER TABLE requests ADD COLUMN auto_state TEXT NOT NULL DEFAULT 'pending';
-- Requests received before the automation existed are not replayed against
-- today's subscriptions on its first start: they wait for a person.
UPDATE requests SET auto_state = 'done';
-- col_4 as sent.
ALTER TABLE requests ADD COLUMN product TEXT NOT NULL DEFAULT '';
-- col_2 for 休止, col_3 for サイクル変更, as read (「2ヶ月」) or as sent.
ALTER TABLE requests ADD COLUMN period TEXT NOT NULL DEFAULT '';
-- 定期回数 when the request was carried out (outcomes count cycles from it).
ALTER TABLE requests ADD COLUMN count_at_completion BIGINT;
CREATE INDEX requests_auto ON requests (auto_state, status, id);
CREATE INDEX requests_completed ON requests (completed_at, id);
CREATE INDEX requests_subscription ON requests (subscription_id, id);
CREATE INDEX requests_product ON requests (product, received_at);

-- Each answer on its own row, for per-answer breakdowns (col_5 満足度, any
-- choice question).
CREATE TABLE request_answers (
    request_id BIGINT NOT NULL REFERENCES requests (id),
    name TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX request_answers_name ON request_answers (name, value, request_id);
CREATE INDEX request_answers_request ON request_answers (request_id);

-- The tag master.
CREATE TABLE request_tags (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);

-- Automation rules (the seed's RPA設定): the rule as JSON, its form and type
-- as columns to find it.
CREATE TABLE request_rules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    form_id BIGINT REFERENCES request_forms (id),
    rule_type TEXT NOT NULL,
    definition TEXT NOT NULL,
    position BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- LINE push messages waiting to be sent (like mail_outbox). retry_key is the
-- X-Line-Retry-Key: the same key on every attempt, so LINE sends it once.
CREATE TABLE line_outbox (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    request_id BIGINT,
    line_user_id TEXT NOT NULL,
    messages TEXT NOT NULL,
    retry_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    next_attempt_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX line_outbox_due ON line_outbox (status, next_attempt_at);
CREATE INDEX line_outbox_customer ON line_outbox (customer_id, id);
