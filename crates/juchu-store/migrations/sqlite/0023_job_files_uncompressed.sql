-- PostgreSQL's 0023 stops compressing 出力ファイル parts; SQLite never
-- compresses. Kept so both stores count their migrations alike.
SELECT 1;
