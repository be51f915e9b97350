CREATE TABLE bad_dup_b (id int);
