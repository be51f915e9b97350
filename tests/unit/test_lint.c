#include <stdlib.h>

#include "lint.h"
#include "unit.h"

/*
 * Lints files as one set (named a.sql, b.sql, ... in order; NULL ends the list) and checks
 * the findings, each "FILE:LINE:COL:S:RULE" (S: E error, W warning, I info), joined by "|".
 */
static void check_set(bool strict, const char *const *files, const char *want)
{
	struct lint l;
	char got[4096] = "";

	lint_init(&l, strict);
	for (int i = 0; files[i]; i++) {
		char name[8];

		snprintf(name, sizeof(name), "%c.sql", 'a' + i);
		CHECK(lint_file(&l, name, files[i], strlen(files[i])) == 0);
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct lint_finding *f = &l.findings[i];
		size_t n = strlen(got);

		snprintf(got + n, sizeof(got) - n, "%s%s:%d:%d:%c:%s", n ? "|" : "", f->file, f->line,
			 f->column, "IWE"[f->severity], f->rule);
		CHECK(f->message && f->message[0] && f->hint && f->hint[0]);
	}
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "  linting \"%s\"%s:\n    got  \"%s\"\n    want \"%s\"\n", files[0],
			files[1] ? " and more" : "", got, want);
		unit_failures++;
	}
	lint_release(&l);
}

/* One file, strict (a protected environment); the findings without the file name. */
static void check_one(const char *sql, const char *want)
{
	const char *files[] = { sql, NULL };
	char prefixed[4096] = "";
	const char *p = want;

	/* "1:1:E:x|2:1:E:y" -> "a.sql:1:1:E:x|a.sql:2:1:E:y" */
	while (*p) {
		size_t n = strcspn(p, "|"), len = strlen(prefixed);

		snprintf(prefixed + len, sizeof(prefixed) - len, "%sa.sql:%.*s", len ? "|" : "", (int)n,
			 p);
		p += n + (p[n] == '|');
	}
	check_set(true, files, prefixed);
}

/* The message of the only finding of sql. */
static void check_message(const char *sql, const char *want)
{
	struct lint l;

	lint_init(&l, true);
	CHECK(lint_file(&l, "m.sql", sql, strlen(sql)) == 0);
	CHECK(l.n == 1);
	if (l.n == 1)
		CHECK_STR(l.findings[0].message, want);
	lint_release(&l);
}

static void test_destructive(void)
{
	check_one("DROP TABLE users;", "1:12:E:drop-table");
	check_one("drop table if exists app.users, posts cascade;",
		  "1:22:E:drop-table|1:33:E:drop-table");
	check_one("DROP VIEW v; DROP FUNCTION f(); DROP TYPE t; DROP SEQUENCE s;", "");
	check_one("DROP SCHEMA old CASCADE;", "1:13:E:drop-schema");
	check_one("DROP DATABASE other;", "1:1:E:drop-database");
	check_one("DROP MATERIALIZED VIEW totals;", "1:24:E:drop-materialized-view");
	check_one("ALTER TABLE users DROP COLUMN email;",
		  "1:19:E:drop-column|1:19:W:drop-column-in-use");
	check_one("ALTER TABLE users DROP IF EXISTS email, DROP CONSTRAINT users_email_key;",
		  "1:19:E:drop-column|1:19:W:drop-column-in-use");
	check_one("ALTER TABLE users ALTER COLUMN email DROP NOT NULL, "
		  "ALTER email DROP DEFAULT;", "");
	check_one("TRUNCATE users;", "1:10:E:truncate");
	check_one("TRUNCATE TABLE ONLY a, b * RESTART IDENTITY;", "1:21:E:truncate|1:24:E:truncate");
	check_one("DELETE FROM users;", "1:1:E:delete-without-where");
	check_one("DELETE FROM users WHERE id = 1;", "");
	check_one("DELETE FROM users USING old WHERE users.id = old.id;", "");
	check_one("DELETE FROM users WHERE id IN (SELECT id FROM x WHERE true);", "");
	check_one("DELETE FROM users u WHERE u.id IN (SELECT id FROM gone);", "");
	check_one("UPDATE users SET active = false;", "1:1:E:update-without-where");
	check_one("UPDATE users SET n = (SELECT max(n) FROM t WHERE t.a = 1);",
		  "1:1:E:update-without-where");
	check_one("update users set active = false where id < 10;", "");
	check_one("WITH gone AS (DELETE FROM users RETURNING *) INSERT INTO archive SELECT * FROM gone;",
		  "1:15:E:delete-without-where");
	check_one("WITH x AS (SELECT 1) UPDATE users SET a = 1;", "1:22:E:update-without-where");
	check_one("WITH x AS (SELECT 1) UPDATE users SET a = 1 WHERE a = 2;", "");
	check_one("INSERT INTO users SELECT * FROM old; SELECT * FROM users;", "");
	check_one("ALTER TABLE users ALTER COLUMN id TYPE bigint;", "1:19:E:alter-column-type");
	check_one("ALTER TABLE users ALTER id SET DATA TYPE numeric(10, 2) USING id::numeric;",
		  "1:19:E:alter-column-type");
	check_one("ALTER TABLE users ALTER COLUMN name TYPE text, "
		  "ALTER COLUMN note TYPE varchar COLLATE \"C\", "
		  "ALTER COLUMN x TYPE character varying;", "");
	check_one("ALTER TABLE users ALTER COLUMN name TYPE varchar(20);",
		  "1:19:E:alter-column-type");
	check_message("DROP TABLE App.Users;", "dropping table \"app.users\" deletes its data");
	check_message("DELETE FROM users;", "DELETE without WHERE deletes every row of \"users\"");
}

static void test_locking(void)
{
	check_one("CREATE INDEX users_email ON users (email);", "1:1:E:create-index");
	check_one("CREATE UNIQUE INDEX IF NOT EXISTS users_email ON ONLY users (email);", "");
	check_one("CREATE INDEX CONCURRENTLY users_email ON users (email);", "");
	check_one("create unique index on users using btree (lower(email));", "1:1:E:create-index");
	check_one("DROP INDEX users_email;", "1:12:E:drop-index");
	check_one("DROP INDEX CONCURRENTLY IF EXISTS users_email;", "");
	check_one("REINDEX TABLE users;", "1:1:E:reindex");
	check_one("REINDEX INDEX CONCURRENTLY users_email;", "");
	check_one("REINDEX (VERBOSE) TABLE CONCURRENTLY users;", "");
	check_one("REINDEX (CONCURRENTLY) SCHEMA app;", "");
	check_one("REINDEX (CONCURRENTLY false) SCHEMA app;", "1:1:E:reindex");
	check_one("REINDEX DATABASE app;", "1:1:E:reindex");
	check_one("ALTER TABLE posts ADD CONSTRAINT posts_user FOREIGN KEY (user_id) "
		  "REFERENCES users (id);", "1:19:E:add-foreign-key");
	check_one("ALTER TABLE posts ADD FOREIGN KEY (user_id) REFERENCES users NOT VALID;", "");
	check_one("ALTER TABLE posts ADD CONSTRAINT c CHECK (n > 0);", "1:19:E:add-check");
	check_one("ALTER TABLE posts ADD CONSTRAINT c CHECK (n > 0) NOT VALID;", "");
	check_one("ALTER TABLE posts VALIDATE CONSTRAINT c;", "");
	check_one("ALTER TABLE users ALTER COLUMN email SET NOT NULL;", "1:19:E:set-not-null");
	/* A CHECK validated first lets PostgreSQL 12+ skip the scan. */
	check_one("ALTER TABLE users VALIDATE CONSTRAINT email_nn;\n"
		  "ALTER TABLE users ALTER COLUMN email SET NOT NULL;", "");
	check_one("ALTER TABLE users ADD PRIMARY KEY (id);", "1:19:E:add-primary-key");
	check_one("ALTER TABLE users ADD CONSTRAINT pk PRIMARY KEY USING INDEX users_id;", "");
	check_one("ALTER TABLE users ADD CONSTRAINT u UNIQUE (email);", "1:19:E:add-unique");
	check_one("ALTER TABLE users ADD COLUMN code text UNIQUE, ADD n int PRIMARY KEY;",
		  "1:19:E:add-unique|1:48:E:add-primary-key");
	check_one("ALTER TABLE users ADD COLUMN code text DEFAULT unique_code();", "");
	check_one("ALTER TABLE users ADD UNIQUE USING INDEX users_email;", "");
	check_one("ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
		  "1:19:E:add-column-volatile-default");
	check_one("ALTER TABLE users ADD COLUMN n bigserial;", "1:19:E:add-column-volatile-default");
	check_one("ALTER TABLE users ADD COLUMN n int GENERATED ALWAYS AS IDENTITY;",
		  "1:19:E:add-column-volatile-default");
	check_one("ALTER TABLE users ADD COLUMN at timestamptz NOT NULL DEFAULT now(), "
		  "ADD COLUMN flag boolean DEFAULT false, ADD COLUMN random int;", "");
	check_one("VACUUM FULL users;", "1:1:E:vacuum-full");
	check_one("VACUUM (FULL, ANALYZE) users;", "1:1:E:vacuum-full");
	check_one("VACUUM FULL;", "1:1:E:vacuum-full");
	check_one("VACUUM (FULL false) users; VACUUM ANALYZE users; VACUUM;", "");
	check_one("CLUSTER users USING users_pkey;", "1:1:E:cluster");
	check_one("CLUSTER;", "1:1:E:cluster");
	check_one("LOCK TABLE users;", "1:1:E:lock-table");
	check_one("LOCK users IN SHARE ROW EXCLUSIVE MODE NOWAIT;", "1:1:E:lock-table");
	check_one("LOCK TABLE users IN ACCESS SHARE MODE; LOCK users IN ROW EXCLUSIVE MODE; "
		  "LOCK users IN SHARE UPDATE EXCLUSIVE MODE;", "");
}

static void test_compatibility(void)
{
	check_one("ALTER TABLE users RENAME TO members;", "1:19:W:rename-table");
	check_one("ALTER TABLE users RENAME COLUMN email TO mail;", "1:19:W:rename-column");
	check_one("ALTER TABLE users RENAME email TO mail;", "1:19:W:rename-column");
	check_one("ALTER TABLE users RENAME CONSTRAINT a TO b;", "");
	check_one("ALTER TABLE users ADD COLUMN born date NOT NULL;", "1:19:W:add-column-not-null");
	check_one("ALTER TABLE users ADD born date NOT NULL DEFAULT '2000-01-01', ADD note text;",
		  "");
	check_one("ALTER TABLE users ADD COLUMN id2 bigint NOT NULL GENERATED ALWAYS AS IDENTITY;",
		  "1:19:E:add-column-volatile-default");
	/* Compatibility findings are warnings even in protected environments; the others not. */
	{
		const char *files[] = { "ALTER TABLE users RENAME TO members; DROP TABLE x;", NULL };

		check_set(false, files, "a.sql:1:19:W:rename-table|a.sql:1:49:W:drop-table");
	}
}

/* What the set created is new: no finding for it, in the same file or a later one. */
static void test_new_tables(void)
{
	const char *created[] = { "CREATE TABLE app.users (id int);",
				  "CREATE INDEX users_id ON users (id);\n"
				  "ALTER TABLE users ADD COLUMN n int NOT NULL, ADD FOREIGN KEY (n) "
				  "REFERENCES x, ALTER COLUMN id TYPE bigint;\n"
				  "DROP INDEX users_id; TRUNCATE users; DELETE FROM app.users;\n"
				  "VACUUM FULL users; LOCK users; ALTER TABLE users RENAME TO members;\n"
				  "CREATE INDEX ON members (id); DROP TABLE members, users;",
				  NULL };
	const char *schema[] = { "CREATE SCHEMA IF NOT EXISTS billing;",
				 "CREATE INDEX ON billing.invoices (id); DROP SCHEMA billing;", NULL };
	const char *other_schema[] = { "CREATE TABLE a.t (id int);", "CREATE INDEX ON b.t (id);",
				       NULL };
	const char *columns[] = { "ALTER TABLE users ADD COLUMN tmp int;",
				  "ALTER TABLE users DROP COLUMN tmp, DROP COLUMN old;", NULL };
	const char *later[] = { "CREATE INDEX ON users (id);", "CREATE TABLE users (id int);",
				NULL };
	const char *kinds[] = { "CREATE UNLOGGED TABLE IF NOT EXISTS u (id int);\n"
				"CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x;\n"
				"CREATE TEMP TABLE tt AS SELECT 1;\n"
				"CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1);\n"
				"CREATE INDEX ON u (id); CREATE INDEX ON mv (x); CREATE INDEX ON tt (x);\n"
				"CREATE INDEX ON p1 (id); DROP MATERIALIZED VIEW mv;",
				NULL };

	check_set(true, created, "");
	check_set(true, schema, "");
	check_set(true, other_schema, "b.sql:1:1:E:create-index");
	check_set(true, columns, "b.sql:1:36:E:drop-column|b.sql:1:36:W:drop-column-in-use");
	check_set(true, later, "a.sql:1:1:E:create-index");
	check_set(true, kinds, "");
	{
		const char *concurrent[] = { "CREATE TABLE t (id int);",
					     "CREATE INDEX CONCURRENTLY i ON t (id); DROP INDEX i;",
					     NULL };

		check_set(true, concurrent, "");
	}
}

/* Identifiers compare as PostgreSQL folds them. */
static void test_identifiers(void)
{
	const char *folded[] = { "CREATE TABLE Users (id int);",
				 "CREATE INDEX ON \"users\" (id); CREATE INDEX ON USERS (id);", NULL };
	const char *quoted[] = { "CREATE TABLE \"Users\" (id int);",
				 "CREATE INDEX ON \"Users\" (id); CREATE INDEX ON Users (id);", NULL };
	const char *doubled[] = { "CREATE TABLE \"a\"\"b\" (id int);",
				  "CREATE INDEX ON \"a\"\"b\" (id); CREATE INDEX ON \"a\" (id);", NULL };
	const char *qualified[] = { "CREATE TABLE Public.\"T\" (id int);",
				    "CREATE INDEX ON public.\"T\" (id); CREATE INDEX ON \"T\" (id);\n"
				    "CREATE INDEX ON \"Public\".\"T\" (id);", NULL };
	/* Identifiers longer than 63 bytes are cut, as the server does. */
	const char *truncated[] = { "CREATE TABLE "
				    "a23456789012345678901234567890123456789012345678901234567890123xyz"
				    " (id int);",
				    "CREATE INDEX ON "
				    "a23456789012345678901234567890123456789012345678901234567890123"
				    " (id);", NULL };

	check_set(true, folded, "");
	check_set(true, quoted, "b.sql:1:31:E:create-index");
	check_set(true, doubled, "b.sql:1:30:E:create-index");
	check_set(true, qualified, "b.sql:2:1:E:create-index");
	check_set(true, truncated, "");
	check_message("DROP TABLE \"My \"\"Table\"\"\";",
		      "dropping table \"My \"Table\"\" deletes its data");
}

/* Only statements are linted: not function bodies, strings or comments. */
static void test_bodies(void)
{
	check_one("CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n"
		  "  DROP TABLE users;\n  DELETE FROM users;\nEND;\n$$;", "");
	check_one("CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $body$\n"
		  "BEGIN DELETE FROM t; $x$ nested $x$; END $body$;\nDELETE FROM t;",
		  "3:1:E:delete-without-where");
	check_one("CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC\n  DELETE FROM users;\n"
		  "  UPDATE users SET a = 1;\nEND;", "");
	check_one("DO $$ BEGIN EXECUTE 'DROP TABLE users'; END $$;", "");
	check_one("CREATE RULE r AS ON DELETE TO t DO INSTEAD (DELETE FROM u; UPDATE u SET a = 1);",
		  "");
	check_one("SELECT 'DROP TABLE users;'; SELECT $q$ TRUNCATE users $q$;", "");
	check_one("-- DROP TABLE users;\n/* TRUNCATE users; */ SELECT 1;", "");
	check_one("COMMENT ON TABLE users IS 'DELETE FROM users';", "");
	/* A WHERE inside a string, a comment or a subquery is not the statement's. */
	check_one("DELETE FROM users -- WHERE id = 1\n;", "1:1:E:delete-without-where");
	check_one("UPDATE users SET note = 'WHERE';", "1:1:E:update-without-where");
	check_one("COPY users FROM stdin;\nDROP TABLE x;\n\\.\nSELECT 1;", "");
}

/* line:column point at the statement's start or at the offending word. */
static void test_positions(void)
{
	check_one("SELECT 1;\n\n  CREATE INDEX i\n    ON users (a);", "3:3:E:create-index");
	check_one("ALTER TABLE users\n  ADD COLUMN a int,\n  DROP COLUMN b,\n"
		  "  ALTER COLUMN c SET NOT NULL;",
		  "3:3:E:drop-column|3:3:W:drop-column-in-use|4:3:E:set-not-null");
	check_one("DROP TABLE\n  a,\n  \"b\";", "2:3:E:drop-table|3:3:E:drop-table");
	/* Columns count characters, not bytes. */
	check_one("SELECT 'é'; DROP TABLE t;", "1:24:E:drop-table");
	check_one("SELECT 1;\r\nTRUNCATE t;\r\n", "2:10:E:truncate");
}

static void test_allow(void)
{
	/* Above the statement, by rule or by category. */
	check_one("SELECT 1;\n-- pgboot:allow drop-table\nDROP TABLE users;\nDROP TABLE posts;",
		  "3:12:I:drop-table|4:12:E:drop-table");
	check_one("SELECT 1;\n-- pgboot:allow destructive\nALTER TABLE users DROP COLUMN a;",
		  "3:19:I:drop-column|3:19:W:drop-column-in-use");
	check_one("SELECT 1;\n--pgboot:allow drop-column,drop-column-in-use\n"
		  "ALTER TABLE users DROP COLUMN a;", "3:19:I:drop-column|3:19:I:drop-column-in-use");
	check_one("SELECT 1;\n-- pgboot:allow locking, destructive\n-- archived in S3 first\n"
		  "DROP TABLE users;", "4:12:I:drop-table");
	/* Before the first statement: the whole file. */
	check_one("-- pgboot:no-transaction\n-- pgboot:allow create-index\n\n"
		  "CREATE INDEX ON a (x);\nCREATE INDEX ON b (x);\nDROP TABLE c;",
		  "4:1:I:create-index|5:1:I:create-index|6:12:E:drop-table");
	{
		/* A file's allow comments end with the file. */
		const char *files[] = { "-- pgboot:allow destructive\nDROP TABLE a;",
					"DROP TABLE b;", NULL };

		check_set(true, files, "a.sql:2:12:I:drop-table|b.sql:1:12:E:drop-table");
	}
	check_one("-- pgboot:allow compatibility\nALTER TABLE a RENAME TO b;\n"
		  "ALTER TABLE c RENAME x TO y;", "2:15:I:rename-table|3:15:I:rename-column");
	/* Mistakes are errors: a typo must not silently allow nothing. */
	check_one("SELECT 1;\n-- pgboot:allow drop-tabel\nDROP TABLE users;",
		  "2:17:E:allow-comment|3:12:E:drop-table");
	check_one("-- pgboot:allow\nSELECT 1;", "1:16:E:allow-comment");
	check_one("SELECT 1;\n-- pgboot:allow drop-table\n\nDROP TABLE users;",
		  "2:1:E:allow-comment|4:12:E:drop-table");
	check_one("DROP TABLE users; -- pgboot:allow drop-table\nSELECT 1;",
		  "1:12:E:drop-table|1:19:E:allow-comment");
	check_one("SELECT 1;\n-- pgboot:allow drop-table\n", "2:1:E:allow-comment");
	check_one("ALTER TABLE users\n  -- pgboot:allow drop-column\n  DROP COLUMN a;",
		  "2:3:E:allow-comment|3:3:E:drop-column|3:3:W:drop-column-in-use");
	check_one("SELECT 1;\n-- pgboot:allow allow-comment\nSELECT 2;", "2:17:E:allow-comment");
	/* Not allow comments: other words, strings, function bodies. */
	check_one("-- pgboot:allowed drop-table\nSELECT '-- pgboot:allow x';\n"
		  "CREATE FUNCTION f() RETURNS int AS $$\n-- pgboot:allow x\nSELECT 1$$ LANGUAGE sql;",
		  "");
	CHECK(lint_is_allow("pgboot:allow drop-table", 23));
	CHECK(lint_is_allow("pgboot:allow", 12));
	CHECK(lint_is_allow("pgboot:allow\tlocking", 20));
	CHECK(!lint_is_allow("pgboot:allowed", 14));
	CHECK(!lint_is_allow("pgboot:no-transaction", 21));
	CHECK(!lint_is_allow("pgboot:allo", 11));
}

/* Outside protected environments destructive and locking findings are warnings. */
static void test_severity(void)
{
	const char *files[] = { "DROP TABLE a; CREATE INDEX ON b (x);\n-- pgboot:allow x\nSELECT 1;",
				NULL };
	struct lint l;
	struct buf json;
	const char *sql = "-- pgboot:allow truncate\nTRUNCATE t; DROP TABLE \"q\"\"\";";

	check_set(false, files, "a.sql:1:12:W:drop-table|a.sql:1:15:W:create-index|"
		  "a.sql:2:17:E:allow-comment");
	lint_init(&l, true);
	buf_init(&json);
	CHECK(lint_file(&l, "m.sql", sql, strlen(sql)) == 0);
	CHECK(lint_count(&l, LINT_ERROR) == 1 && lint_count(&l, LINT_INFO) == 1 &&
	      lint_count(&l, LINT_WARNING) == 0);
	CHECK(l.findings[0].allowed_by == 1 && l.findings[1].allowed_by == 0);
	lint_print_json(&l, &json);
	CHECK(strstr(json.data, "{\"findings\":[{\"file\":\"m.sql\",\"line\":2,\"column\":10,"
			       "\"severity\":\"info\",\"rule\":\"truncate\",\"category\":"
			       "\"destructive\",") == json.data);
	CHECK(strstr(json.data, "\"allowed\":true,\"allowed_by\":1}"));
	CHECK(strstr(json.data, "\"message\":\"dropping table \\\"q\\\"\\\" deletes its data\""));
	CHECK(strstr(json.data, "],\"files\":1,\"errors\":1,\"warnings\":0,\"allowed\":1}\n"));
	buf_release(&json);
	lint_release(&l);
}

/* A meta-command stops the file: the caller is told, as the splitter tells it. */
static void test_meta_command(void)
{
	struct lint l;
	const char *sql = "DROP TABLE a;\n\\i other.sql\nDROP TABLE b;";

	lint_init(&l, true);
	CHECK(lint_file(&l, "m.sql", sql, strlen(sql)) == -1);
	CHECK(l.n == 1);
	CHECK_STR(l.error,
		  "m.sql:2: psql meta-command \"\\i\" is not supported: pgboot runs SQL only");
	lint_release(&l);
}

void test_lint(void)
{
	test_destructive();
	test_locking();
	test_compatibility();
	test_new_tables();
	test_identifiers();
	test_bodies();
	test_positions();
	test_allow();
	test_severity();
	test_meta_command();
}
