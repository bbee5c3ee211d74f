-- 受注一覧's saved searches (保存した検索条件): a name and the list's query
-- string (filters, sort, page size, columns), shared by the shop's staff.
CREATE TABLE saved_searches (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
