-- pgboot:allow drop-table, locking
--pgboot:allow
SELECT 1;
-- pgboot:allow drop-column
-- why: archived
ALTER TABLE t DROP COLUMN c;
-- pgboot:allow nonsense, truncate

TRUNCATE t; -- pgboot:allow truncate
ALTER TABLE t
  -- pgboot:allow drop-column
  DROP COLUMN d;
/* -- pgboot:allow drop-table */ DROP TABLE x;
-- pgboot:allow destructive
