-- A chunk of a job is a range of its items' seq (chunk k: seq k·200+1 ..= (k+1)·200),
-- so items need no chunk column and no second index: freezing a million
-- orders writes one index instead of two.
DROP INDEX job_items_chunk;
ALTER TABLE job_items DROP COLUMN chunk;
-- (SQLite stores blobs as they are: nothing to say about job_files.)
