-- 配送状況の確認: when a 発送済 order's parcel was last asked about at its
-- carrier, and what the carrier said (the order row itself is the pipeline's).
CREATE TABLE delivery_checks (
    order_id BIGINT PRIMARY KEY,
    checked_at TEXT NOT NULL,
    status TEXT NOT NULL,
    checks BIGINT NOT NULL DEFAULT 0
);
