CREATE TABLE bad_dollar (id int);
DO $body$ BEGIN NULL; END;
