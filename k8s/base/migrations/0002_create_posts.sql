CREATE TABLE posts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title      text NOT NULL,
    body       text NOT NULL DEFAULT ''
);
CREATE INDEX posts_account_id ON posts (account_id);
