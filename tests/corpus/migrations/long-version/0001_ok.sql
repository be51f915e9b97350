CREATE TABLE long_version_ok (id int);
