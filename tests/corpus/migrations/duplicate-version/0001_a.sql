CREATE TABLE bad_dup_a (id int);
