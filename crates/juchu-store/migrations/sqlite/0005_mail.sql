-- メールテンプレート and the mail outbox: a rule's mail is rendered and queued in
-- the same transaction as the change; the worker delivers it over SMTP.
CREATE TABLE mail_templates (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    position BIGINT NOT NULL
);

CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    order_id BIGINT,
    template_code TEXT NOT NULL,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    next_attempt_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_order ON mail_outbox (order_id);
