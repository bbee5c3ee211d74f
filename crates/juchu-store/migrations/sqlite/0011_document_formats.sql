-- 帳票管理: the shop's layouts of 納品書 / 請求書 / 領収書, kept as their JSON
-- definition like the CSV formats.
CREATE TABLE document_formats (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    definition_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
