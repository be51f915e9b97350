-- café
SELECT '€' AS "prïx", 1;
INSERT INTO t VALUES ('🐘');
