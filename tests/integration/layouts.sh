# shellcheck shell=bash
# layouts: versions as text, and other tools' layouts read as they are (migrate.format).
# History tables made by an earlier pgboot (version bigint) keep working unchanged.

# _old_tables: the database owned by the app role, with pgboot's history and progress tables
# made by the DDL of pgboot before versions were text (src/history.c at 2803706, copied as it was)
_old_tables() {
	q postgres "CREATE DATABASE :\"d\" OWNER :\"r\"" -v d="$PGB_DB" -v r="$PGB_ROLE"
	q "$PGB_DB" "CREATE SCHEMA pgboot AUTHORIZATION :\"r\"; SET ROLE :\"r\";
		CREATE TABLE IF NOT EXISTS \"pgboot\".\"migrations\" (version bigint PRIMARY KEY,
			name text NOT NULL, checksum text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now(),
			duration_ms bigint NOT NULL, applied_by text NOT NULL);
		CREATE TABLE IF NOT EXISTS \"pgboot\".\"migrations_progress\" (version bigint NOT NULL,
			statement integer NOT NULL, checksum text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (version, statement))" -v r="$PGB_ROLE"
}

# _column_type TABLE: the type of TABLE's version column
_column_type() {
	q "$PGB_DB" "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = :'t'::regclass AND attname = 'version'" -v t="$1"
}

test_layouts_new_history_tables_hold_versions_as_text() {
	app_role
	migdir migrations 0001_a.sql 'CREATE TABLE a (id int);' \
		0002_nt.sql $'-- pgboot:no-transaction\nCREATE TABLE nt1 (id int);\nCREATE TABLE nt2 (id int);'
	pgb_run migrate
	assert_exit 0
	assert_eq text "$(_column_type pgboot.migrations)" "history version column"
	assert_eq text "$(_column_type pgboot.migrations_progress)" "progress version column"
	assert_eq "1 2" "$(q "$PGB_DB" "SELECT string_agg(version, ' ' ORDER BY version) FROM pgboot.migrations")" \
		"versions recorded (0001 -> 1)"
}

test_layouts_history_of_an_earlier_pgboot_keeps_working() {
	app_role
	_old_tables
	migdir migrations 0001_a.sql 'CREATE TABLE a (id int);' \
		0002_nt.sql $'-- pgboot:no-transaction\nCREATE TABLE nt1 (id int);\nCREATE TABLE nt2 (id int);' \
		0003_c.sql $'CREATE TABLE c (id int);\n-- pgboot:down\nDROP TABLE c;' \
		0010_d.sql $'CREATE TABLE d (id int);\n-- pgboot:down\nDROP TABLE d;'
	pgb_run migrate
	assert_exit 0
	assert_eq bigint "$(_column_type pgboot.migrations)" "history version column kept"
	assert_eq bigint "$(_column_type pgboot.migrations_progress)" "progress version column kept"
	assert_eq "1 2 3 10" "$(q "$PGB_DB" "SELECT string_agg(version::text, ' ' ORDER BY version) FROM pgboot.migrations")" \
		"versions recorded"
	assert_eq 0 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations_progress')" "progress rows left"
	pgb_run status --check
	assert_exit 0
	pgb_run status --json
	assert_exit 0
	python3 - "$PGB_OUT" <<'PY' || fail "status --json is not the expected document"
import json, sys
doc = json.load(open(sys.argv[1]))
assert [m["version"] for m in doc["migrations"]] == [1, 2, 3, 10], doc
assert all(m["state"] == "applied" for m in doc["migrations"]), doc
PY
	# rollback by steps and to a version, then forward again
	pgb_run rollback
	assert_exit 0
	assert_eq f "$(table_exists "$PGB_DB" d)" "table d after rollback"
	pgb_run rollback --to 2
	assert_exit 0
	assert_eq f "$(table_exists "$PGB_DB" c)" "table c after rollback --to 2"
	assert_eq "1 2" "$(q "$PGB_DB" "SELECT string_agg(version::text, ' ' ORDER BY version) FROM pgboot.migrations")" \
		"versions after rollback"
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" "applied 2 migrations"
	# a version that a bigint cannot hold is refused before anything runs, naming the file
	printf 'CREATE TABLE big (id int);\n' >migrations/99999999999999999999_big.sql
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migration "99999999999999999999_big.sql": version "99999999999999999999" cannot be recorded in "pgboot"."migrations", whose version column is bigint'
	assert_contains "$PGB_ERR" 'hint: an earlier pgboot made that table; to record such versions, run ALTER TABLE "pgboot"."migrations" ALTER COLUMN version TYPE text'
	assert_eq f "$(table_exists "$PGB_DB" big)" "table big"
	# as the hint says: the same history, now as text, takes it
	q "$PGB_DB" 'ALTER TABLE pgboot.migrations ALTER COLUMN version TYPE text;
		ALTER TABLE pgboot.migrations_progress ALTER COLUMN version TYPE text'
	pgb_run migrate
	assert_exit 0
	assert_eq t "$(table_exists "$PGB_DB" big)" "table big"
	pgb_run status --check
	assert_exit 0
}

test_layouts_versions_compare_as_numbers_of_any_length() {
	app_role
	# 20 and 21 digits: past 64 bits; 9 before 10, whatever the width of their digits
	migdir migrations 9_a.sql 'CREATE TABLE t9 (id int);' \
		10_b.sql 'CREATE TABLE t10 (id int);' \
		99999999999999999999_c.sql 'CREATE TABLE t20 (id int);' \
		100000000000000000000_d.sql 'CREATE TABLE t21 (id int);'
	pgb_run migrate
	assert_exit 0
	assert_eq "9_a.sql 10_b.sql 99999999999999999999_c.sql 100000000000000000000_d.sql" \
		"$(awk '$3 == "applying" { printf "%s%s", sep, $4; sep = " " }' "$PGB_ERR")" "order applied"
	pgb_run status --json
	assert_exit 0
	python3 - "$PGB_OUT" <<'PY' || fail "status --json is not the expected document"
import json, sys
doc = json.load(open(sys.argv[1]))
assert [m["version"] for m in doc["migrations"]] == [9, 10, 99999999999999999999, 100000000000000000000], doc
PY
	pgb_run rollback --to 00010
	assert_exit 65
	assert_contains "$PGB_ERR" 'has no down part'
}

# Every layout's files insert their name into runs when they run: order and count show there.
_runs_table() {
	q postgres "CREATE DATABASE :\"d\" OWNER :\"r\"" -v d="$PGB_DB" -v r="$PGB_ROLE"
	q "$PGB_DB" "SET ROLE :\"r\"; CREATE TABLE runs (seq serial PRIMARY KEY, name text NOT NULL)" \
		-v r="$PGB_ROLE"
}

_runs() {
	q "$PGB_DB" "SELECT coalesce(string_agg(name, ' ' ORDER BY seq), '') FROM runs"
}

# _index_valid NAME: t when the index exists and is valid
_index_valid() {
	q "$PGB_DB" "SELECT coalesce((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:'i')), false)" \
		-v i="$1"
}

test_layouts_dbmate() {
	local f g
	pgb_npm_tools
	app_role
	_runs_table
	# the file as `dbmate new` writes it, filled in; the second one from the same template
	pgb_tool dbmate.log "$PGB_DBMATE" --migrations-dir migrations new create_items
	f=$(cd migrations && echo *_create_items.sql)
	assert_eq "$(printf '%s\n' '-- migrate:up' '' '' '-- migrate:down')" "$(cat "migrations/$f")" "dbmate new's template"
	g=$((${f%%_*} + 1))_index_items.sql
	sed -e 's/^-- migrate:up$/& transaction:false/' -e 's/^-- migrate:down$/& transaction:false/' \
		-e "/^-- migrate:up/a INSERT INTO runs (name) VALUES ('index');\nCREATE INDEX CONCURRENTLY items_id ON items (id);" \
		-e '/^-- migrate:down/a DROP INDEX CONCURRENTLY items_id;' "migrations/$f" >"migrations/$g"
	sed -i -e "/^-- migrate:up$/a CREATE TABLE items (id int);\nINSERT INTO runs (name) VALUES ('items');" \
		-e '/^-- migrate:down$/a DROP TABLE items;' "migrations/$f"
	pgb_run migrate
	assert_exit 0
	assert_eq "items index" "$(_runs)" "what ran, in order"
	assert_eq t "$(_index_valid items_id)" "index built concurrently (transaction:false honoured)"
	assert_eq "${f%%_*} ${g%%_*}" "$(q "$PGB_DB" "SELECT string_agg(version, ' ' ORDER BY version) FROM pgboot.migrations")" "versions"
	pgb_run status --check
	assert_exit 0
	pgb_run migrate
	assert_exit 0
	assert_eq "items index" "$(_runs)" "nothing ran twice"
	# the down parts: the index (without a transaction), then the table
	pgb_run rollback
	assert_exit 0
	assert_eq f "$(_index_valid items_id)" "index after the first rollback"
	assert_eq t "$(table_exists "$PGB_DB" items)" "table after the first rollback"
	pgb_run rollback
	assert_exit 0
	assert_eq f "$(table_exists "$PGB_DB" items)" "table after the second rollback"
	# a dbmate file without its up marker never ran in dbmate: refused
	printf 'CREATE TABLE nope (id int);\n' >migrations/99999999999999_nope.sql
	pgb_run migrate --migrate-format dbmate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migration "migrations/99999999999999_nope.sql" has no "-- migrate:up" line, which dbmate requires'
	assert_eq f "$(table_exists "$PGB_DB" items)" "nothing applied"
}

test_layouts_node_pg_migrate() {
	local f
	pgb_npm_tools
	app_role
	_runs_table
	pgb_node_pg_migrate_file items "CREATE TABLE items (id int);\\nINSERT INTO runs (name) VALUES ('items');" \
		'DROP TABLE items;'
	f=$PGB_NPM_FILE
	# a file without markers is all up migration, as node-pg-migrate reads it
	printf "INSERT INTO runs (name) VALUES ('plain');\n" >"migrations/$((${f%%_*} + 1))_plain.sql"
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'applied 2 migrations'
	assert_eq "items plain" "$(_runs)" "what ran, in order"
	pgb_run rollback --to "${f%%_*}"
	assert_exit 65
	assert_contains "$PGB_ERR" 'has no down part'
	rm "migrations/$((${f%%_*} + 1))_plain.sql"
	q "$PGB_DB" "DELETE FROM pgboot.migrations WHERE version <> '${f%%_*}'"
	pgb_run rollback
	assert_exit 0
	assert_eq f "$(table_exists "$PGB_DB" items)" "table after the rollback"
}

# golang-migrate cannot be installed here (a Go program). Its file names follow its parser:
# golang-migrate/migrate, source/parse.go (DefaultParse: ^([0-9]+)_(.*)\.(down|up)\.(.*)$).
test_layouts_golang_migrate() {
	app_role
	_runs_table
	migdir migrations 1_items.up.sql $'CREATE TABLE items (id int);\nINSERT INTO runs (name) VALUES (\'items\');' \
		1_items.down.sql 'DROP TABLE items;' \
		2_names.up.sql $'ALTER TABLE items ADD name text;\nINSERT INTO runs (name) VALUES (\'names\');' \
		2_names.down.sql 'ALTER TABLE items DROP name;' \
		10_ten.up.sql "INSERT INTO runs (name) VALUES ('ten');"
	pgb_run migrate
	assert_exit 0
	assert_eq "items names ten" "$(_runs)" "what ran, in order"
	assert_eq "$(printf '%s\n' 1_items.up.sql 2_names.up.sql 10_ten.up.sql)" \
		"$(q "$PGB_DB" "SELECT name FROM pgboot.migrations ORDER BY version::int")" "history names"
	pgb_run rollback --to 1
	assert_exit 65
	assert_contains "$PGB_ERR" '"migrations/10_ten.up.sql" has no down part'
	rm migrations/10_ten.up.sql
	q "$PGB_DB" "DELETE FROM pgboot.migrations WHERE version = '10'"
	pgb_run rollback --to 1
	assert_exit 0
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'name'")" "column dropped by 2_names.down.sql"
	assert_eq t "$(table_exists "$PGB_DB" items)" "table items kept"
}

# goose cannot be installed here (a Go program). The files follow its parser: pressly/goose,
# internal/sqlparser/parser.go (ParseSQLMigration: "-- +goose Up"/"Down"; a StatementBegin ...
# StatementEnd block is one statement; "-- +goose NO TRANSACTION" runs the file without one).
test_layouts_goose() {
	app_role
	_runs_table
	migdir migrations 00001_items.sql "-- +goose Up
CREATE TABLE items (id int, n int);
-- +goose StatementBegin
CREATE FUNCTION items_bump() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  NEW.n := coalesce(NEW.n, 0) + 1;
  RETURN NEW;
END;
\$\$;
-- +goose StatementEnd
CREATE TRIGGER items_bump BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION items_bump();
-- +goose StatementBegin
INSERT INTO runs (name) VALUES ('items'); INSERT INTO runs (name) VALUES ('items 2')
-- +goose StatementEnd

-- +goose Down
DROP TABLE items;
DROP FUNCTION items_bump();" \
		00002_index.sql "-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY items_id ON items (id);
INSERT INTO runs (name) VALUES ('index');
-- +goose Down
DROP INDEX CONCURRENTLY items_id;"
	# plan (and the checks and lint behind it) sees the statements that will run
	pgb_run plan
	assert_exit 0
	assert_eq "$(printf '%s\n' 'apply 00001_items.sql (one transaction, 4 statements)' \
		'apply 00002_index.sql (no transaction, 2 statements)')" "$(cat "$PGB_OUT")" "plan"
	pgb_run migrate
	assert_exit 0
	assert_eq "items items 2 index" "$(_runs)" "what ran, in order: the up parts only"
	# a StatementBegin block is one statement whatever its semicolons (the last one lacks
	# its own): table, function, trigger, the two INSERTs as one
	assert_match "$PGB_ERR" 'applied 00001_items.sql in [0-9]+ms \(4 statements\)'
	assert_eq t "$(_index_valid items_id)" "index built concurrently (NO TRANSACTION honoured)"
	q "$PGB_DB" 'INSERT INTO items (id) VALUES (1)'
	assert_eq 1 "$(q "$PGB_DB" 'SELECT n FROM items')" "the function ran as one statement"
	pgb_run rollback --to 0
	assert_exit 0
	assert_eq f "$(table_exists "$PGB_DB" items)" "table after the rollback"
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pg_proc WHERE proname = 'items_bump'")" "function after the rollback"
}

# Flyway cannot be installed here (a JVM program). Its names and order follow its docs and
# flyway-core's MigrationVersion.java: V<version>__<description>.sql, version segments split
# at '.' or '_' and compared as numbers; U<version>__ undoes V<version>; R__ files run after
# the versioned ones, whenever their checksum changed, in description order ("a first"
# before "aB": '_' reads as a space); B files stand
# for the versioned files up to them (pgboot runs those).
test_layouts_flyway() {
	app_role
	_runs_table
	migdir migrations V1__items.sql $'CREATE TABLE items (id int);\nINSERT INTO runs (name) VALUES (\'1\');' \
		V1_9__nine.sql "INSERT INTO runs (name) VALUES ('1.9');" \
		V1.10__ten.sql $'ALTER TABLE items ADD ten int;\nINSERT INTO runs (name) VALUES (\'1.10\');' \
		U1_10__ten.sql 'ALTER TABLE items DROP ten;' \
		V2__two.sql "INSERT INTO runs (name) VALUES ('2');" \
		R__views.sql $'CREATE OR REPLACE VIEW item_ids AS SELECT id FROM items;\nINSERT INTO runs (name) VALUES (\'R views\');' \
		R__a_first.sql "INSERT INTO runs (name) VALUES ('R a first');" \
		R__aB.sql "INSERT INTO runs (name) VALUES ('R aB');" \
		B1_9__base.sql "INSERT INTO runs (name) VALUES ('baseline');"
	pgb_run migrate
	assert_exit 0
	assert_eq "1 1.9 1.10 2 R a first R aB R views" "$(_runs)" "what ran, in order"
	assert_eq "1 1.9 1.10 2 R__a_first.sql R__aB.sql R__views.sql" \
		"$(q "$PGB_DB" "SELECT string_agg(version, ' ' ORDER BY applied_at, version) FROM pgboot.migrations")" \
		"history keys"
	pgb_run status --json
	assert_exit 0
	python3 - "$PGB_OUT" <<'PY' || fail "status --json is not the expected document"
import json, sys
doc = json.load(open(sys.argv[1]))
assert [m["version"] for m in doc["migrations"]] == [1, "1.9", "1.10", 2, None, None, None], doc
assert all(m["state"] == "applied" for m in doc["migrations"]), doc
PY
	# unchanged repeatable files do not run again; a changed one does, once, after the rest
	pgb_run migrate
	assert_exit 0
	assert_eq "1 1.9 1.10 2 R a first R aB R views" "$(_runs)" "nothing ran twice"
	printf '%s\n' 'CREATE OR REPLACE VIEW item_ids AS SELECT id, ten FROM items;' \
		"INSERT INTO runs (name) VALUES ('R views 2');" >migrations/R__views.sql
	printf "INSERT INTO runs (name) VALUES ('3');\n" >migrations/V3__three.sql
	pgb_run status --check
	assert_exit 1
	assert_contains "$PGB_OUT" 'pending R__views.sql'
	pgb_run migrate
	assert_exit 0
	assert_eq "1 1.9 1.10 2 R a first R aB R views 3 R views 2" "$(_runs)" "the changed repeatable ran once, last"
	pgb_run status --check
	assert_exit 0
	# with the lock taken in each file's transaction, the history is checked again under it:
	# a changed repeatable file still runs
	printf "INSERT INTO runs (name) VALUES ('R aB 2');\n" >migrations/R__aB.sql
	pgb_run migrate --migrate-lock transaction
	assert_exit 0
	assert_eq "1 1.9 1.10 2 R a first R aB R views 3 R views 2 R aB 2" "$(_runs)" "under migrate.lock = transaction"
	# rollback: the newest versioned migration has no undo file; 1.10 has one
	pgb_run rollback
	assert_exit 65
	assert_contains "$PGB_ERR" '"migrations/V3__three.sql" has no down part'
	rm migrations/V3__three.sql migrations/V2__two.sql
	q "$PGB_DB" "DELETE FROM pgboot.migrations WHERE version IN ('2', '3');
		DROP VIEW item_ids"
	pgb_run rollback
	assert_exit 0
	assert_contains "$PGB_ERR" 'V1.10__ten.sql'
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'ten'")" "column dropped by U1_10__ten.sql"
	# 1 and 1.0 are one version to Flyway
	printf 'SELECT 1;\n' >migrations/V1.0__again.sql
	pgb_run status
	assert_exit 65
	assert_contains "$PGB_ERR" 'have the same version 1'
}

# drizzle-kit is not installed here; the journal is written as drizzle-kit writes it and read
# as drizzle-orm's migrator reads it (drizzle-orm/src/migrator.ts, readMigrationFiles: the
# journal's entries in order, <tag>.sql, statements split at "--> statement-breakpoint").
test_layouts_drizzle() {
	app_role
	_runs_table
	# each piece between breakpoints is a statement, with or without its semicolon
	migdir migrations 0000_bouncy_hulk.sql $'CREATE TABLE "items" (\n\t"id" integer\n)\n--> statement-breakpoint\nINSERT INTO runs (name) VALUES (\'0000\');' \
		0001_quiet_storm.sql $'ALTER TABLE "items" ADD COLUMN "name" text;--> statement-breakpoint\nINSERT INTO runs (name) VALUES (\'0001\');' \
		0002_not_in_journal.sql "INSERT INTO runs (name) VALUES ('stray');"
	mkdir migrations/meta
	cat >migrations/meta/_journal.json <<'JSON'
{
  "version": "7",
  "dialect": "postgresql",
  "entries": [
    {
      "idx": 0,
      "version": "7",
      "when": 1735689600000,
      "tag": "0000_bouncy_hulk",
      "breakpoints": true
    },
    {
      "idx": 1,
      "version": "7",
      "when": 1735776000000,
      "tag": "0001_quiet_storm",
      "breakpoints": true
    }
  ]
}
JSON
	echo '{}' >migrations/meta/0000_snapshot.json
	pgb_run migrate
	assert_exit 0
	assert_eq "0000 0001" "$(_runs)" "what ran: the journal's entries, in order"
	assert_contains "$PGB_ERR" 'ignoring "migrations/0002_not_in_journal.sql": not in drizzle-kit'"'"'s journal'
	assert_eq "0|0000_bouncy_hulk.sql 1|0001_quiet_storm.sql" \
		"$(q "$PGB_DB" "SELECT string_agg(version || '|' || name, ' ' ORDER BY version) FROM pgboot.migrations")" "history"
	# the newer layout: a folder per migration holding migration.sql, in name order
	migdir migrations
	mkdir migrations/20250102000000_second migrations/20250101000000_first
	echo "INSERT INTO runs (name) VALUES ('first');" >migrations/20250101000000_first/migration.sql
	echo "INSERT INTO runs (name) VALUES ('second');" >migrations/20250102000000_second/migration.sql
	echo '{}' >migrations/20250101000000_first/snapshot.json
	pgb_run migrate --migrate-table pgboot.drizzle_v1
	assert_exit 0
	assert_eq "0000 0001 first second" "$(_runs)" "what ran"
	assert_eq "20250101000000_first/migration.sql 20250102000000_second/migration.sql" \
		"$(q "$PGB_DB" "SELECT string_agg(name, ' ' ORDER BY version) FROM pgboot.drizzle_v1")" "history"
}

test_layouts_auto_detection_and_its_errors() {
	local port
	app_role
	_runs_table
	port=$PGBOOT_DATABASE_PORT
	# no server needed: the directory is judged before anything is waited for
	export PGBOOT_DATABASE_PORT
	PGBOOT_DATABASE_PORT=$(free_port)
	migdir migrations V1__init.sql 'SELECT 1;' 20250101000000_users.sql $'-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations directory "migrations" matches two layouts: dbmate (its markers: "20250101000000_users.sql") and flyway (V<version>__<description>.sql, U, B and R__ files: "V1__init.sql")'
	assert_contains "$PGB_ERR" 'hint: set migrate.format to the layout to read'
	assert_not_contains "$PGB_ERR" "waiting"
	# pgboot's plain files beside a dbmate file: two layouts too
	migdir migrations 0001_plain.sql 'SELECT 1;' 0002_dbmate.sql $'-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'matches two layouts: pgboot (<version>_<name>.sql files without markers: "0001_plain.sql") and dbmate (its markers: "0002_dbmate.sql")'
	# .sql files of no layout
	migdir migrations schema.sql 'SELECT 1;'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'holds .sql files ("schema.sql") but no migration pgboot would run, in no layout pgboot knows'
	# with the format set, the other layout's files are refused
	migdir migrations V1__init.sql 'SELECT 1;' 1_a.up.sql 'SELECT 1;'
	pgb_run migrate --migrate-format golang-migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations directory "migrations" holds "V1__init.sql", a file of flyway'"'"'s layout, but migrate.format is golang-migrate'
	# pgboot new writes pgboot's layout only
	migdir migrations V1__init.sql 'SELECT 1;'
	pgb_run new add_users
	assert_exit 78
	assert_contains "$PGB_ERR" 'migrations directory "migrations" is in flyway'"'"'s layout: create the file with flyway; pgboot new writes pgboot'"'"'s layout only'
	assert_eq "V1__init.sql" "$(ls migrations)" "files"
	PGBOOT_DATABASE_PORT=$port
	# the format detected is the one read: a goose folder applies as goose
	migdir migrations 1_a.sql $'-- +goose Up\nINSERT INTO runs (name) VALUES (\'a\');\n-- +goose Down\nINSERT INTO runs (name) VALUES (\'down\');'
	PGBOOT_LOG_LEVEL=debug pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" "migrations directory \"migrations\": goose's layout"
	assert_eq "a" "$(_runs)" "the up part only"
}

test_layouts_another_tools_marker_is_refused() {
	app_role
	_runs_table
	# a dbmate folder (detected) with one file that also holds goose's down marker: its down
	# part would run on the way up
	migdir migrations 1_a.sql $'-- migrate:up\nINSERT INTO runs (name) VALUES (\'a\');\n-- migrate:down\nSELECT 1;' \
		2_b.sql $'-- migrate:up\nINSERT INTO runs (name) VALUES (\'b\');\n-- +goose Down\nINSERT INTO runs (name) VALUES (\'down\');'
	pgb_run migrate --migrate-format dbmate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/2_b.sql:3: "-- +goose Down" is a goose marker, but migrate.format is dbmate'
	assert_eq "" "$(_runs)" "nothing ran"
	# pgboot's own down marker in another layout's file is refused the same way
	migdir migrations V1__a.sql $'INSERT INTO runs (name) VALUES (\'a\');\n-- pgboot:down\nINSERT INTO runs (name) VALUES (\'down\');'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/V1__a.sql:2: "-- pgboot:down" is a pgboot marker, but migrate.format is flyway'
	assert_eq "" "$(_runs)" "nothing ran"
	# and a file written for dbmate, read as pgboot's, is refused (formats.sh has the rest)
	migdir migrations 1_a.sql $'-- migrate:up\nINSERT INTO runs (name) VALUES (\'a\');\n-- migrate:down\nSELECT 1;'
	pgb_run migrate --migrate-format pgboot
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/1_a.sql:1: "-- migrate:up" is a dbmate marker, but migrate.format is pgboot'
	assert_eq "" "$(_runs)" "nothing ran"
}
