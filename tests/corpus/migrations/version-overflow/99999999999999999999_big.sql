CREATE TABLE bad_big (id int);
