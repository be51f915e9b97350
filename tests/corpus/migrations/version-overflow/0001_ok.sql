CREATE TABLE bad_big_ok (id int);
