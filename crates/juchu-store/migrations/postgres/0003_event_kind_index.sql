-- 自動化設定 dry run: "which orders had event X in the last N days" reads the
-- event log by kind and time.
CREATE INDEX order_events_kind_at ON order_events (kind, at);
