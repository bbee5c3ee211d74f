-- 保存期間 of the outbox: the purge finds an event's deliveries by event.
-- Expand-only (a new index): old serves and workers keep running.
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
