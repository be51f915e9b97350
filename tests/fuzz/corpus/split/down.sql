CREATE TABLE users (id bigint PRIMARY KEY);
-- pgboot:down
DROP TABLE users;
