-- 出力ファイル parts are stored as they are. The server tried to compress
-- every 4 MB part of a CSV export with pglz and then kept it uncompressed:
-- half a second of the server's CPU per 50 MB export, spent while the export
-- itself was reading. Expand-only (a storage setting; old processes read and
-- write the column as before; parts already stored stay as they are).
ALTER TABLE job_files ALTER COLUMN data SET STORAGE EXTERNAL;
