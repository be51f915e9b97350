CREATE TABLE c (id int, name text);
COPY c (id, name) FROM STDIN;
1	one;
2	\N
\.
SELECT count(*) FROM c;
COPY c FROM stdin WITH (FORMAT csv);
3,"x"
\.
