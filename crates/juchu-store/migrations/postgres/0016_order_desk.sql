-- 会社名 / 部署 (Bカート shops sell to businesses) on customers and on an
-- order's 請求先 and お届け先; a subscription keeps its addresses as JSON.
ALTER TABLE customers ADD COLUMN company_name TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN department TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN billing_company_name TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN billing_department TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN shipping_company_name TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN shipping_department TEXT NOT NULL DEFAULT '';

-- Staff management: a disabled member cannot log in and loses their sessions.
ALTER TABLE staff_users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;

-- API tokens: an optional expiry, when each was last used, and who made it.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;

-- Failed logins per account and per client, in the database so that every
-- `juchu serve` process sees the same count.
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start TEXT NOT NULL
);

-- A browser a staff member has logged in from (a device cookie): failures of
-- others behind the same address never lock it out.
CREATE TABLE login_devices (
    token_hash TEXT PRIMARY KEY,
    staff_id BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
