CREATE TABLE bad_string (id int);
INSERT INTO bad_string VALUES ('abc);
