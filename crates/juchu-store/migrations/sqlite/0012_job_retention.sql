-- 保存期間: a finished job's items, targets and file are deleted after the
-- retention period (JUCHU_JOB_RETENTION_DAYS); the job row and its counts stay.
ALTER TABLE jobs ADD COLUMN purged_at TEXT;
