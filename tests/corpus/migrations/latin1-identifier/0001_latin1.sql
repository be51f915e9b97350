CREATE TABLE bad_latin1_ok (id int);
CREATE TABLE café (id int);
