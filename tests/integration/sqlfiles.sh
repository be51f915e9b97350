# shellcheck shell=bash
# sqlfiles: real-world SQL files apply as psql applies them; wrappers, COPY data, refusals,
# no-transaction files that resume, session state that does not leak between files.

# _dump DB: schema and data of DB without pgboot's own schema, owners or privileges
_dump() {
	PGPASSWORD=$PGB_SUPERPASS "$PG_BIN/pg_dump" -h "$PGB_HOST" -p "$PGB_PORT" -U postgres \
		--no-owner --no-privileges --exclude-schema=pgboot "$1" | grep -v -e '^--' -e '^\\restrict ' -e '^\\unrestrict '
}

# The hard cases of psql's lexer in one file, as real projects write them.
_REAL_WORLD_SQL=$(
	cat <<'EOF'
-- Semicolons in comments; /* and in /* nested */ block comments; */
CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, note text);
CREATE TABLE audit (at text DEFAULT 'then', what text);
INSERT INTO people VALUES (1, 'O''Brien; Jr.', E'tab\there;\\ and \'quote\'');
INSERT INTO people VALUES (2, U&'d\0061t\+000061;', $$dollar; 'quoted'$$);
INSERT INTO people VALUES (3, $tag$ a $$ nested; $$ b $tag$, "left"('x;y', 1));
CREATE FUNCTION shout(t text) RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
	-- a tab at the start of these lines is no psql meta-command
	IF t = ';' THEN
		RETURN 'semicolon';
	END IF;
	RETURN upper(t) || '!';
END;
$fn$;
CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
	SELECT i + 1;
END;
CREATE RULE people_audit AS ON UPDATE TO people DO ALSO (
	INSERT INTO audit (what) VALUES ('update; 1');
	INSERT INTO audit (what) VALUES ('update; 2')
);
UPDATE people SET name = shout(name) WHERE id = add_one(0);
COPY people (id, name, note) FROM stdin;
4	copied; row	\N
5	tab\there	x\\y
\.
CREATE VIEW "odd;view" AS SELECT id, name AS "na;me" FROM people;
EOF
)

test_sqlfiles_real_world_file_applies_as_psql_does() {
	app_role
	migdir migrations 0001_real_world.sql "$_REAL_WORLD_SQL"
	pgb_run migrate
	assert_exit 0
	q postgres "CREATE DATABASE \"${PGB_DB}_psql\""
	psql_db "${PGB_DB}_psql" -1 -f migrations/0001_real_world.sql >/dev/null
	_dump "$PGB_DB" >"$PGB_WORK/pgboot.sql"
	_dump "${PGB_DB}_psql" >"$PGB_WORK/psql.sql"
	diff -u "$PGB_WORK/psql.sql" "$PGB_WORK/pgboot.sql" || fail "pgboot's result differs from psql's"
	assert_eq 5 "$(q "$PGB_DB" 'SELECT count(*) FROM people')" "rows in people"
	assert_eq 2 "$(q "$PGB_DB" 'SELECT count(*) FROM audit')" "rows written by the rule"
	assert_contains "$PGB_ERR" "applied 0001_real_world.sql"
	# 2 tables, 3 inserts, 2 functions, the rule, the update, the COPY, the view
	assert_contains "$PGB_ERR" "(11 statements)"
}

test_sqlfiles_wrapped_begin_commit_is_accepted_and_atomic() {
	app_role
	migdir migrations \
		0001_wrapped.sql $'BEGIN;\nCREATE TABLE w1 (id int);\nCOMMIT;' \
		0002_wrapped_fails.sql $'START TRANSACTION;\nCREATE TABLE w2 (id int);\nSELECT 1/0;\nCOMMIT;'
	pgb_run migrate
	assert_exit 65
	# no server position for a runtime error: the statement's own place
	assert_contains "$PGB_ERR" 'migrations/0002_wrapped_fails.sql:3:1: ERROR: division by zero (SQLSTATE 22012)'
	assert_eq t "$(table_exists "$PGB_DB" w1)" "table of the wrapped migration"
	assert_eq f "$(table_exists "$PGB_DB" w2)" "table of the failed wrapped migration"
	assert_eq "1|0001_wrapped.sql|$(sha migrations/0001_wrapped.sql)" "$(history "$PGB_DB")" "history"
}

test_sqlfiles_transaction_control_inside_is_refused() {
	app_role
	migdir migrations 0001_commit.sql $'CREATE TABLE c1 (id int);\n  COMMIT;\nCREATE TABLE c2 (id int);'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0001_commit.sql:2:3: COMMIT is not allowed here'
	assert_contains "$PGB_ERR" '"-- pgboot:no-transaction"'
	assert_eq f "$(table_exists "$PGB_DB" c1)" "table before the COMMIT"
	assert_eq "" "$(history "$PGB_DB")" "history"
}

test_sqlfiles_every_pending_file_is_checked_before_the_first_runs() {
	app_role
	migdir migrations \
		0001_ok.sql 'CREATE TABLE pc1 (id int);' \
		0002_commit.sql $'CREATE TABLE pc2 (id int);\nCOMMIT;'
	pgb_run run -- touch "$PGB_WORK/app-ran"
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0002_commit.sql:2:1: COMMIT is not allowed here'
	assert_not_contains "$PGB_ERR" 'applying 0001_ok.sql'
	assert_eq f "$(table_exists "$PGB_DB" pc1)" "table of the first pending file"
	assert_eq "" "$(history "$PGB_DB")" "history"
	[[ ! -e $PGB_WORK/app-ran ]] || fail "the application ran"
	migdir migrations \
		0001_ok.sql 'CREATE TABLE pc1 (id int);' \
		0002_connect.sql $'CREATE TABLE pc2 (id int);\n\\connect other'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0002_connect.sql:2: psql meta-command "\connect" is not supported'
	assert_eq f "$(table_exists "$PGB_DB" pc1)" "table of the first pending file"
}

test_sqlfiles_directive_below_the_first_line_is_refused() {
	app_role
	migdir migrations \
		0001_ok.sql 'CREATE TABLE dl0 (id int);' \
		0002_late.sql $'-- builds the index without locking writes\n-- pgboot:no-transaction\nCREATE INDEX CONCURRENTLY dl_idx ON dl0 (id);'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0002_late.sql:2: "-- pgboot:no-transaction" is not on the first line, so pgboot would take it for a comment'
	assert_contains "$PGB_ERR" 'hint: directives are read on the first line only'
	assert_eq f "$(table_exists "$PGB_DB" dl0)" "table of the file before"
	migdir migrations 0001_down.sql $'CREATE TABLE dl1 (id int);\n-- pgboot:down\nDROP TABLE dl1;\n  --pgboot:no-transaction'
	pgb_run migrate
	assert_exit 0
	pgb_run rollback
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0001_down.sql:4: "-- pgboot:no-transaction" is not on the first line'
	assert_eq t "$(table_exists "$PGB_DB" dl1)" "table the down part would drop"
}

test_sqlfiles_meta_command_is_refused() {
	app_role
	migdir migrations \
		0001_ok.sql 'CREATE TABLE m0 (id int);' \
		0002_meta.sql $'CREATE TABLE m1 (id int);\n\\set ON_ERROR_STOP on\nCREATE TABLE m2 (id int);'
	pgb_run run -- touch "$PGB_WORK/app-ran"
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0002_meta.sql:2: psql meta-command "\set" is not supported'
	# every pending file is checked before the first one is applied: nothing ran
	assert_eq f "$(table_exists "$PGB_DB" m0)" "table of the pending file before the refused one"
	assert_eq f "$(table_exists "$PGB_DB" m1)" "table of the refused migration"
	[[ ! -e $PGB_WORK/app-ran ]] || fail "the application ran"
}

test_sqlfiles_comment_only_file_is_an_empty_migration() {
	app_role
	migdir migrations 0001_nothing.sql $'-- nothing to do yet; /* really */\n/* ; */'
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" '(0 statements)'
	assert_eq "1|0001_nothing.sql|$(sha migrations/0001_nothing.sql)" "$(history "$PGB_DB")" "history"
}

# A 0-byte file (or one holding only a byte-order mark) is an empty migration in every build:
# its buffer was once left unterminated, so applying it depended on what the heap held.
test_sqlfiles_zero_byte_file_is_an_empty_migration() {
	local empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
	app_role
	migdir migrations 0003_after.sql 'CREATE TABLE after_empty (id int);'
	: >migrations/0001_empty.sql
	printf '\xef\xbb\xbf' >migrations/0002_bom_only.sql
	pgb_run run -- touch "$PGB_WORK/app-ran"
	assert_exit 0
	assert_contains "$PGB_ERR" 'applied 0001_empty.sql in '
	assert_contains "$PGB_ERR" 'applied 0002_bom_only.sql in '
	assert_eq 2 "$(grep -c '(0 statements)$' "$PGB_ERR")" "migrations applied with 0 statements"
	assert_eq "1|0001_empty.sql|$empty
2|0002_bom_only.sql|$empty
3|0003_after.sql|$(sha migrations/0003_after.sql)" "$(history "$PGB_DB")" "history"
	assert_eq t "$(table_exists "$PGB_DB" after_empty)" "table of the migration after them"
	[[ -e $PGB_WORK/app-ran ]] || fail "the application did not run"
}

test_sqlfiles_copy_error_applies_nothing() {
	app_role
	migdir migrations 0001_copy.sql \
		$'CREATE TABLE cp (id int PRIMARY KEY, t text);\nCOPY cp FROM stdin;\n1\ta\nnot-a-number\tb\n\\.\nCREATE TABLE after_copy (id int);'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0001_copy.sql:2:1: ERROR: invalid input syntax for type integer: "not-a-number" (SQLSTATE 22P02)'
	assert_contains "$PGB_ERR" 'COPY cp, line 2'
	assert_eq f "$(table_exists "$PGB_DB" cp)" "table of the failed migration"
	assert_eq "" "$(history "$PGB_DB")" "history"
}

test_sqlfiles_runtime_error_points_at_its_statement() {
	app_role
	migdir migrations 0001_runtime.sql \
		$'CREATE TABLE r (id int PRIMARY KEY);\nINSERT INTO r VALUES (1);\n\n   INSERT INTO r\n   VALUES (1);'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0001_runtime.sql:4:4: ERROR: duplicate key value violates unique constraint "r_pkey" (SQLSTATE 23505)'
	assert_contains "$PGB_ERR" 'pgboot: detail: Key (id)=(1) already exists.'
}

test_sqlfiles_unknown_directive_is_refused() {
	app_role
	migdir migrations 0001_typo.sql $'-- pgboot:no-transactoin\nCREATE TABLE d (id int);'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0001_typo.sql:1: unknown directive "pgboot:no-transactoin"'
	assert_eq f "$(table_exists "$PGB_DB" d)" "table"
}

test_sqlfiles_session_state_does_not_leak_between_files() {
	app_role
	migdir migrations \
		0001_search_path.sql $'SELECT pg_catalog.set_config(\'search_path\', \'\', false);\nCREATE TABLE public.s1 (id int);\nCREATE TEMP TABLE scratch (x int);' \
		0002_unqualified.sql $'CREATE TABLE s2 (id int);\nCREATE TEMP TABLE scratch (x int);'
	pgb_run migrate
	assert_exit 0
	assert_eq t "$(table_exists "$PGB_DB" public.s2)" "unqualified table of the second file in public"
}

test_sqlfiles_no_transaction_file_resumes_after_a_failure() {
	app_role
	migdir migrations 0001_data.sql \
		$'CREATE TABLE nt (id int PRIMARY KEY, code text);\nINSERT INTO nt SELECT g, \'dup\' FROM generate_series(1, 1000) g;'
	pgb_run migrate
	assert_exit 0
	# Statement 1 fails if it runs twice; statement 2 fails on the duplicates.
	printf '%s\n' '-- pgboot:no-transaction' 'CREATE TABLE nt_log (id int);' \
		'CREATE UNIQUE INDEX CONCURRENTLY nt_code ON nt (code);' \
		'CREATE INDEX CONCURRENTLY nt_log_id ON nt_log (id);' >migrations/0002_index.sql
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0002_index.sql:3:1: ERROR: could not create unique index "nt_code"'
	assert_contains "$PGB_ERR" 'index public.nt_code is left INVALID'
	assert_eq "1" "$(q "$PGB_DB" "SELECT string_agg(statement::text, ',') FROM pgboot.migrations_progress WHERE version = '2'")" \
		"statements recorded as done"
	assert_eq f "$(q "$PGB_DB" "SELECT indisvalid FROM pg_index WHERE indexrelid = 'nt_code'::regclass")" "nt_code valid"
	q "$PGB_DB" "UPDATE nt SET code = 'c' || id" >/dev/null
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'resuming 0002_index.sql at statement 2 of 3'
	assert_contains "$PGB_ERR" 'dropping index public.nt_code'
	assert_eq t "$(q "$PGB_DB" "SELECT indisvalid FROM pg_index WHERE indexrelid = 'nt_code'::regclass")" "nt_code valid"
	assert_eq t "$(table_exists "$PGB_DB" nt_log_id)" "index of statement 3"
	assert_eq 0 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations_progress')" "progress rows left"
	assert_eq "$(printf '%s\n' "1|0001_data.sql|$(sha migrations/0001_data.sql)" "2|0002_index.sql|$(sha migrations/0002_index.sql)")" \
		"$(history "$PGB_DB")" "history"
}

test_sqlfiles_no_transaction_file_edited_after_partial_apply_stops() {
	app_role
	printf '%s\n' '-- pgboot:no-transaction' 'CREATE TABLE e1 (id int);' 'SELECT 1/0;' >migrations/0001_nt.sql
	pgb_run migrate
	assert_exit 65
	printf '%s\n' '-- pgboot:no-transaction' 'CREATE TABLE e1 (id bigint);' 'SELECT 1;' >migrations/0001_nt.sql
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" '"migrations/0001_nt.sql" was partly applied (1 statement) and has changed since: statement 1'
	assert_eq "" "$(history "$PGB_DB")" "history"
}

test_sqlfiles_no_transaction_file_may_hold_its_own_transactions() {
	app_role
	printf '%s\n' '-- pgboot:no-transaction' 'CREATE TYPE mood AS ENUM (\x27sad\x27);' \
		'ALTER TYPE mood ADD VALUE \x27happy\x27;' 'BEGIN;' 'CREATE TABLE moods (m mood);' \
		"INSERT INTO moods VALUES ('happy');" 'COMMIT;' | sed "s/\\\\x27/'/g" >migrations/0001_enum.sql
	pgb_run migrate
	assert_exit 0
	assert_eq happy "$(q "$PGB_DB" 'SELECT m FROM moods')" "row inserted with the new enum value"
}

test_sqlfiles_large_file_streams() {
	need_tools python3
	app_role
	# About 20 MB of multi-row INSERTs, 200 statements.
	python3 - >migrations/0001_big.sql <<'EOF'
print("CREATE TABLE big (id int PRIMARY KEY, payload text);")
row = 0
for stmt in range(200):
    values = []
    for _ in range(1000):
        row += 1
        values.append("(%d, '%s')" % (row, "x" * 90))
    print("INSERT INTO big VALUES " + ",\n".join(values) + ";")
EOF
	local size rss
	size=$(stat -c %s migrations/0001_big.sql)
	pgb_run migrate --log-level debug
	assert_exit 0
	assert_eq 200000 "$(q "$PGB_DB" 'SELECT count(*) FROM big')" "rows"
	[[ -x /usr/bin/time ]] || fail "/usr/bin/time is missing (Debian package time)"
	q "$PGB_DB" 'DROP TABLE big; TRUNCATE pgboot.migrations' >/dev/null
	/usr/bin/time -f '%M' -o "$PGB_WORK/rss" "$PGBOOT" migrate >/dev/null 2>&1 || fail "second apply failed"
	rss=$(($(cat "$PGB_WORK/rss") * 1024))
	echo "file $size bytes, peak RSS $rss bytes"
	assert_lt "$rss" $((size * 2)) "peak RSS (bytes) against twice the file's size"
}
