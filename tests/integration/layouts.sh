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
