-- migrate: note
SELECT 1;
-- pgboot:down
-- migrate:down
SELECT 2;
