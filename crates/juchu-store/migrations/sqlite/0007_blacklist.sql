-- ブラックリスト and 要対応受注: the blacklist flag on customers, with partial
-- indexes so that screening a new order is two indexed lookups (by name key and
-- by phone key: a postal code alone can never make two of three), the shop's
-- blacklist conditions, and what matched for each flagged order.
ALTER TABLE customers ADD COLUMN blacklisted BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN blacklist_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX customers_blacklisted_name ON customers (name_key) WHERE blacklisted = 1;
CREATE INDEX customers_blacklisted_phone ON customers (phone_key) WHERE blacklisted = 1;

CREATE TABLE blacklist_conditions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    clauses_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE order_attention_matches (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    customer_id BIGINT,
    condition_id BIGINT,
    fields_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX order_attention_matches_order ON order_attention_matches (order_id);
