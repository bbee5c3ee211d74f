-- 在庫: a product under stock control keeps what came in; on hand, allocated
-- (引当) and short (欠品) are derived from the orders (see store::stock).
ALTER TABLE products ADD COLUMN stock_managed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN stock_received BIGINT NOT NULL DEFAULT 0;
