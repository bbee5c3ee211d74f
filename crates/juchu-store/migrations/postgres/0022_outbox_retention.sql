-- no-transaction
-- 保存期間 of the outbox: the purge finds an event's deliveries by event.
-- Expand-only (a new index), built CONCURRENTLY so deliveries and fan-out
-- keep writing while it builds (webhook_deliveries had no retention before).
-- One statement only: several would run as one implicit transaction.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_event ON webhook_deliveries (event_id);
