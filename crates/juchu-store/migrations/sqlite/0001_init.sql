-- juchu schema (SQLite). Kept line-for-line parallel to ../postgres/0001_init.sql.
-- Integers are BIGINT and booleans are 0/1 BIGINT so that sqlx::Any reads them the
-- same way on both stores. Timestamps are RFC 3339 UTC text; dates are YYYY-MM-DD text.

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE handling_statuses (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    position BIGINT NOT NULL,
    color TEXT NOT NULL,
    is_default BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE payment_methods (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    fee BIGINT NOT NULL DEFAULT 0,
    position BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE carriers (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    tracking_url_template TEXT NOT NULL DEFAULT '',
    shipping_fee BIGINT NOT NULL DEFAULT 0,
    position BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE order_labels (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    color TEXT NOT NULL
);

CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    unit_price BIGINT NOT NULL,
    tax_rate BIGINT NOT NULL,
    shipping_fee BIGINT,
    payment_fee BIGINT,
    is_bundled_item BIGINT NOT NULL DEFAULT 0,
    is_subscription BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_kana TEXT NOT NULL,
    given_kana TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    prefecture TEXT NOT NULL,
    address1 TEXT NOT NULL,
    address2 TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    mail_opt_out BIGINT NOT NULL DEFAULT 0,
    points BIGINT NOT NULL DEFAULT 0,
    memo TEXT NOT NULL DEFAULT '',
    name_key TEXT NOT NULL,
    kana_key TEXT NOT NULL,
    phone_key TEXT NOT NULL,
    email_key TEXT NOT NULL,
    postal_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX customers_phone_key ON customers (phone_key);
CREATE INDEX customers_email_key ON customers (email_key);
CREATE INDEX customers_kana_key ON customers (kana_key);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    order_number TEXT NOT NULL UNIQUE,
    customer_id BIGINT REFERENCES customers (id),
    ordered_at TEXT NOT NULL,
    billing_family_name TEXT NOT NULL,
    billing_given_name TEXT NOT NULL,
    billing_family_kana TEXT NOT NULL,
    billing_given_kana TEXT NOT NULL,
    billing_postal_code TEXT NOT NULL,
    billing_prefecture TEXT NOT NULL,
    billing_address1 TEXT NOT NULL,
    billing_address2 TEXT NOT NULL,
    billing_phone TEXT NOT NULL,
    billing_email TEXT NOT NULL,
    shipping_family_name TEXT NOT NULL,
    shipping_given_name TEXT NOT NULL,
    shipping_family_kana TEXT NOT NULL,
    shipping_given_kana TEXT NOT NULL,
    shipping_postal_code TEXT NOT NULL,
    shipping_prefecture TEXT NOT NULL,
    shipping_address1 TEXT NOT NULL,
    shipping_address2 TEXT NOT NULL,
    shipping_phone TEXT NOT NULL,
    shipping_email TEXT NOT NULL,
    items_standard BIGINT NOT NULL,
    items_reduced BIGINT NOT NULL,
    shipping_fee BIGINT NOT NULL,
    payment_fee BIGINT NOT NULL,
    discount BIGINT NOT NULL,
    taxable_standard BIGINT NOT NULL,
    taxable_reduced BIGINT NOT NULL,
    tax_standard BIGINT NOT NULL,
    tax_reduced BIGINT NOT NULL,
    points_used BIGINT NOT NULL,
    points_granted BIGINT NOT NULL,
    total BIGINT NOT NULL,
    payment_method_id BIGINT REFERENCES payment_methods (id),
    carrier_id BIGINT REFERENCES carriers (id),
    handling_status_id BIGINT NOT NULL REFERENCES handling_statuses (id),
    payment_status TEXT NOT NULL,
    shipping_list_state TEXT NOT NULL,
    shipping_list_exported_on TEXT,
    shipment_status TEXT NOT NULL,
    tracking_number TEXT,
    tracking_key TEXT,
    scheduled_ship_date TEXT,
    scheduled_delivery_date TEXT,
    shipped_at TEXT,
    delivered_at TEXT,
    paid_at TEXT,
    delivery_time_slot TEXT,
    memo TEXT NOT NULL,
    needs_attention BIGINT NOT NULL DEFAULT 0,
    needs_attention_reason TEXT NOT NULL DEFAULT '',
    billing_name_key TEXT NOT NULL,
    billing_kana_key TEXT NOT NULL,
    billing_phone_key TEXT NOT NULL,
    billing_email_key TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- Newest first is (ordered_at DESC, id DESC); each filter index ends in ordered_at
-- so a filtered page is read in order without a sort.
CREATE INDEX orders_ordered_at ON orders (ordered_at, id);
CREATE INDEX orders_status_ordered_at ON orders (handling_status_id, ordered_at);
CREATE INDEX orders_payment_status ON orders (payment_status, ordered_at);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_phone_key ON orders (billing_phone_key);
CREATE INDEX orders_email_key ON orders (billing_email_key);
CREATE INDEX orders_tracking_key ON orders (tracking_key);
CREATE INDEX orders_kana_key ON orders (billing_kana_key);
CREATE INDEX orders_name_key ON orders (billing_name_key);
CREATE INDEX orders_needs_attention ON orders (needs_attention, ordered_at);

CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    position BIGINT NOT NULL,
    product_id BIGINT REFERENCES products (id),
    product_code TEXT NOT NULL,
    product_name TEXT NOT NULL,
    unit_price BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    tax_rate BIGINT NOT NULL,
    is_bundled_item BIGINT NOT NULL,
    product_shipping_fee BIGINT,
    product_payment_fee BIGINT
);
CREATE INDEX order_items_order ON order_items (order_id);
CREATE INDEX order_items_product_code ON order_items (product_code, order_id);

CREATE TABLE order_label_links (
    order_id BIGINT NOT NULL REFERENCES orders (id),
    label_id BIGINT NOT NULL REFERENCES order_labels (id),
    PRIMARY KEY (order_id, label_id)
);
CREATE INDEX order_label_links_label ON order_label_links (label_id, order_id);

-- 履歴: one row per changed field; actor and reason say who and why.
CREATE TABLE order_history (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    at TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id BIGINT,
    actor_name TEXT NOT NULL,
    field TEXT NOT NULL,
    before_value TEXT NOT NULL,
    after_value TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX order_history_order ON order_history (order_id, id);

-- Events derived by the pipeline, kept in the same transaction as the change:
-- the log automation ran on, and the outbox later workers (mail, webhooks) read.
CREATE TABLE order_events (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    chain_depth BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX order_events_order ON order_events (order_id, id);

CREATE TABLE automation_rules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    trigger_json TEXT NOT NULL,
    action_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE staff_users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id BIGINT NOT NULL REFERENCES staff_users (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Idempotency-Key of order creation: the first response is stored in the same
-- transaction as the order, and a retry gets it back.
CREATE TABLE idempotency_keys (
    token_id BIGINT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (token_id, idem_key)
);
