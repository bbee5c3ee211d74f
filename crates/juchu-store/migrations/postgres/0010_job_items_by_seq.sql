-- A chunk of a job is a range of its items' seq (chunk k: seq k·200+1 ..= (k+1)·200),
-- so items need no chunk column and no second index: freezing a million
-- orders writes one index instead of two.
DROP INDEX job_items_chunk;
ALTER TABLE job_items DROP COLUMN chunk;
-- Export files are stored as they are downloaded: compressing a megabyte
-- part on every write cost the export about 3 s per million orders.
ALTER TABLE job_files ALTER COLUMN data SET STORAGE EXTERNAL;
