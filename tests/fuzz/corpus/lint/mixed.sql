-- pgboot:allow truncate
CREATE TABLE t (id int);
CREATE INDEX ON t (id);
CREATE INDEX i2 ON users (email);
ALTER TABLE users ADD COLUMN x int NOT NULL, DROP COLUMN y, ALTER COLUMN z TYPE bigint;
-- pgboot:allow drop-tabel, locking
DROP TABLE users, t;
DELETE FROM "Users";
update users set a = 1 where true;
TRUNCATE accounts;
CREATE FUNCTION f() RETURNS void AS $$ BEGIN DROP TABLE x; DELETE FROM y; END $$ LANGUAGE plpgsql;
VACUUM (FULL) users;
LOCK TABLE users IN ACCESS SHARE MODE;
LOCK users;
ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES b (id) NOT VALID;
ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES b (id);

-- pgboot:allow drop-table

SELECT 1; -- pgboot:allow cluster
