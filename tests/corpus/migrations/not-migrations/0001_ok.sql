CREATE TABLE nm_ok (id int);
