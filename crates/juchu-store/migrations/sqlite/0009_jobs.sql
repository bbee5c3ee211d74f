-- 一括処理 as jobs. A job's selection is frozen into job_items when it is
-- registered; items are grouped in chunks that workers claim (PostgreSQL:
-- FOR UPDATE SKIP LOCKED, so several `juchu worker` processes share a job),
-- and an item is marked done in the same transaction as the change it made,
-- so a job resumes after a crash and applies each order exactly once.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    params_json TEXT NOT NULL,
    status TEXT NOT NULL,
    total BIGINT NOT NULL DEFAULT 0,
    actor_kind TEXT NOT NULL,
    actor_id BIGINT,
    actor_name TEXT NOT NULL,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    result_name TEXT NOT NULL DEFAULT '',
    result_type TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX jobs_updated ON jobs (updated_at);

CREATE TABLE job_items (
    job_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    order_id BIGINT NOT NULL,
    chunk BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    message TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX job_items_chunk ON job_items (job_id, chunk, seq);

CREATE TABLE job_chunks (
    job_id BIGINT NOT NULL,
    chunk BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    claim_token TEXT NOT NULL DEFAULT '',
    lease_until TEXT NOT NULL DEFAULT '',
    -- Progress is counted per chunk, so workers sharing a job never wait on
    -- one counter row; a job's progress is their sum.
    done BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0,
    -- Runs that failed: a retry goes order by order, and after three the
    -- chunk's orders are reported failed so the queue moves on.
    attempts BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, chunk)
);

-- Customers and subscriptions a job has already changed: several selected
-- orders of one customer change the customer once.
CREATE TABLE job_targets (
    job_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    PRIMARY KEY (job_id, kind, target_id)
);
CREATE INDEX job_chunks_open ON job_chunks (status, lease_until);

-- A job's result file (an export, or the per-order result), in parts of about
-- a megabyte: no shared directory is needed however many machines run.
CREATE TABLE job_files (
    job_id BIGINT NOT NULL,
    part BIGINT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (job_id, part)
);

-- 一括督促: a record on the order, nothing is sent.
CREATE TABLE order_dunnings (
    id INTEGER PRIMARY KEY,
    order_id BIGINT NOT NULL,
    memo TEXT NOT NULL,
    due_date TEXT,
    job_id BIGINT,
    actor_name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX order_dunnings_order ON order_dunnings (order_id);

-- CSV管理.
CREATE TABLE csv_formats (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    definition_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- メール一括通知 may copy others in (space-separated addresses).
ALTER TABLE mail_outbox ADD COLUMN cc TEXT NOT NULL DEFAULT '';
ALTER TABLE mail_outbox ADD COLUMN bcc TEXT NOT NULL DEFAULT '';

-- Custom order attributes (アンケート結果 and the like), given when the order
-- is created; CSV formats export them as `attribute:<name>` columns.
CREATE TABLE order_attributes (
    order_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (order_id, name)
);

-- The shop's logo for 帳票 (PNG or JPEG).
CREATE TABLE shop_files (
    name TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL
);
