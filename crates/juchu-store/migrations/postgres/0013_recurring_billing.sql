-- Recurring billing: a subscription keeps the card token of its parent order
-- (the provider's token, never a card number) for its child orders' 与信.
ALTER TABLE subscriptions ADD COLUMN card_token TEXT NOT NULL DEFAULT '';
-- 再オーソリ policy: a retry of a declined recurring authorisation names the
-- request whose decline caused it. The unique index makes "a retry is never
-- queued twice for the same attempt" a property of the table.
ALTER TABLE payment_requests ADD COLUMN retry_of BIGINT;
ALTER TABLE payment_requests ADD COLUMN retry_number BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX payment_requests_retry_of ON payment_requests (retry_of);
-- 事前お知らせ: one notice per subscription and ship date, however often the
-- worker looks.
CREATE TABLE subscription_notices (
    subscription_id BIGINT NOT NULL,
    ship_date TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (subscription_id, ship_date)
);
