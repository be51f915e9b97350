CREATE TABLE bom_t (id int);
INSERT INTO bom_t VALUES (1);
