-- ブラックリスト理由: the reasons a shop blacklists customers for, offered when
-- blacklisting (the customer keeps the reason's text, so renaming or deleting
-- a reason never rewrites why someone was listed).
CREATE TABLE blacklist_reasons (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
INSERT INTO blacklist_reasons (name, created_at) VALUES
    ('代金未払い', '2026-01-01T00:00:00Z'),
    ('受取拒否', '2026-01-01T00:00:00Z'),
    ('転売目的の購入', '2026-01-01T00:00:00Z'),
    ('いたずら・架空注文', '2026-01-01T00:00:00Z'),
    ('不正利用の疑い', '2026-01-01T00:00:00Z');
