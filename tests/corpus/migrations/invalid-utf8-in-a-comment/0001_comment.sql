CREATE TABLE u8_comment (id int);
-- café: a comment between statements is not sent (as with psql)
SELECT 1;
