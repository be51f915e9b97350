CREATE TABLE bad_u8_string (id int);
-- the next statement holds the bytes C3 28, which are not UTF-8
SELECT 'ab√(';
