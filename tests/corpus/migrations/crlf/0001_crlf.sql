CREATE TABLE crlf_t (id int);
INSERT INTO crlf_t VALUES (1);
