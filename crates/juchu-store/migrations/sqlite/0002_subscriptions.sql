-- Subscriptions (定期受注), SQLite. Kept line-for-line parallel to ../postgres/0002_subscriptions.sql.

-- Reason masters for 停止 / キャンセル.
CREATE TABLE subscription_reasons (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    UNIQUE (kind, name)
);

CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT REFERENCES customers (id),
    -- No foreign key: the subscription row is written before its parent order in
    -- the same transaction (the parent order points back to it).
    parent_order_id BIGINT,
    status TEXT NOT NULL,
    stop_reason TEXT NOT NULL DEFAULT '',
    cancel_reason TEXT NOT NULL DEFAULT '',
    cycle TEXT NOT NULL,
    next_delivery_date TEXT NOT NULL,
    next_ship_date TEXT NOT NULL,
    previous_delivery_date TEXT,
    count BIGINT NOT NULL,
    -- The date of the last daily run that created an order for it: a run creates at
    -- most one order per subscription, so the same run again creates nothing.
    last_run_on TEXT,
    payment_method_id BIGINT REFERENCES payment_methods (id),
    carrier_id BIGINT REFERENCES carriers (id),
    billing TEXT NOT NULL,
    shipping TEXT NOT NULL,
    delivery_time_slot TEXT,
    memo TEXT NOT NULL DEFAULT '',
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
-- The daily run reads 有効 subscriptions by the date their order is due.
CREATE INDEX subscriptions_due_delivery ON subscriptions (status, next_delivery_date, id);
CREATE INDEX subscriptions_due_ship ON subscriptions (status, next_ship_date, id);
CREATE INDEX subscriptions_customer ON subscriptions (customer_id);
CREATE INDEX subscriptions_parent ON subscriptions (parent_order_id);
CREATE INDEX subscriptions_phone_key ON subscriptions (billing_phone_key);
CREATE INDEX subscriptions_kana_key ON subscriptions (billing_kana_key);
CREATE INDEX subscriptions_needs_attention ON subscriptions (needs_attention, id);

CREATE TABLE subscription_items (
    id INTEGER PRIMARY KEY,
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id),
    position BIGINT NOT NULL,
    product_id BIGINT REFERENCES products (id),
    product_code TEXT NOT NULL,
    product_name TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    tax_rate BIGINT NOT NULL,
    is_bundled_item BIGINT NOT NULL,
    prices TEXT NOT NULL,
    first_count BIGINT NOT NULL,
    last_count BIGINT
);
CREATE INDEX subscription_items_subscription ON subscription_items (subscription_id);
CREATE INDEX subscription_items_product_code ON subscription_items (product_code, subscription_id);

CREATE TABLE subscription_label_links (
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id),
    label_id BIGINT NOT NULL REFERENCES order_labels (id),
    PRIMARY KEY (subscription_id, label_id)
);

CREATE TABLE subscription_history (
    id INTEGER PRIMARY KEY,
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id),
    at TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id BIGINT,
    actor_name TEXT NOT NULL,
    field TEXT NOT NULL,
    before_value TEXT NOT NULL,
    after_value TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX subscription_history_subscription ON subscription_history (subscription_id, id);

-- 受注(子): the subscription and the delivery date an order was created for. The
-- unique index makes the daily run idempotent per (subscription, delivery date).
ALTER TABLE orders ADD COLUMN subscription_id BIGINT REFERENCES subscriptions (id);
ALTER TABLE orders ADD COLUMN subscription_delivery_date TEXT;
CREATE UNIQUE INDEX orders_subscription_delivery ON orders (subscription_id, subscription_delivery_date);

-- 発送しない日: dates the shop does not ship (weekdays are a setting).
CREATE TABLE shop_holidays (
    day TEXT PRIMARY KEY
);
