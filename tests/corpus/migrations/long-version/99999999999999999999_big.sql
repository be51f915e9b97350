CREATE TABLE long_version_big (id int);
