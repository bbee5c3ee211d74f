-- The customer's side (マイページ) and subscription change requests (申請).

-- A customer's sign-in: a password once set (from the invitation mail), and
-- the LINE user id a LIFF form linked.
CREATE TABLE customer_accounts (
    customer_id BIGINT PRIMARY KEY REFERENCES customers (id),
    password_hash TEXT,
    line_user_id TEXT UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One-time links mailed to a customer (invitation, login link, password
-- reset): only the hash of the token is kept; a used link never works again.
CREATE TABLE customer_links (
    token_hash TEXT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    purpose TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX customer_links_customer ON customer_links (customer_id);

-- Customer sessions: their own table and cookie; no staff route reads them.
CREATE TABLE customer_sessions (
    token_hash TEXT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- 管理者用スペース: messages between the shop and the customer on an order.
CREATE TABLE order_messages (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    author TEXT NOT NULL,
    staff_name TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT
);
CREATE INDEX order_messages_order ON order_messages (order_id, id);
CREATE INDEX order_messages_unread ON order_messages (author, read_at, order_id);

-- The words a customer reads for each 対応状況 ('' = the default).
ALTER TABLE handling_statuses ADD COLUMN customer_label TEXT NOT NULL DEFAULT '';

-- The terms shown at checkout (特商法 §12の6), a JSON snapshot ('' for
-- subscriptions created before it was kept).
ALTER TABLE subscriptions ADD COLUMN terms TEXT NOT NULL DEFAULT '';

-- フォーム管理: the questions (JSON, in order), 解約抑止 offers.
CREATE TABLE request_forms (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    questions TEXT NOT NULL,
    offers TEXT NOT NULL,
    discount_text TEXT NOT NULL DEFAULT '',
    retention_tag TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- 申請: what came in, as the seed keeps it (answers JSON in display order).
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    form_id BIGINT REFERENCES request_forms (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    subscription_id BIGINT REFERENCES subscriptions (id),
    request_type TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    answers TEXT NOT NULL,
    -- The 解約抑止 offer the customer accepted ('' none).
    offer TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '',
    -- A form posted twice is one request.
    form_token TEXT UNIQUE,
    received_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX requests_customer ON requests (customer_id, id);
CREATE INDEX requests_received ON requests (received_at, id);
CREATE INDEX requests_status ON requests (status, id);

-- 履歴 of a request.
CREATE TABLE request_history (
    id INTEGER PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES requests (id),
    actor TEXT NOT NULL,
    what TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX request_history_request ON request_history (request_id, id);

-- Every intent a customer expressed, kept with its time (特商法 evidence): a
-- cancellation sent, an offer shown, an offer accepted, a cancellation
-- withdrawn.
CREATE TABLE request_intents (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    subscription_id BIGINT,
    request_id BIGINT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    channel TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX request_intents_customer ON request_intents (customer_id, id);
