-- migrate:up


-- migrate:down

