# shellcheck shell=bash
# adopt: pgboot takes over a database that another migration tool kept. The tool applied a
# folder whose every file inserts a marker row into `markers`; pgboot then runs on the same
# folder and database and must apply nothing twice: exit 0, every marker still once, a new
# file applied once, `status --check` 0, and the tool's own table exactly as it was.
#
# dbmate, node-pg-migrate, drizzle-orm's migrator and alembic are the real tools
# (scripts/install-npm-tools.sh, scripts/install-deps.sh). golang-migrate, goose and Flyway
# cannot be installed here: their tables are built with the DDL and rows their sources write,
# cited at each test. Fixtures: tests/fixtures/adopt/.

_FIXTURES=$PGB_TESTS_DIR/fixtures/adopt

# _npm_tools: dbmate and node-pg-migrate (tests/lib.sh), and drizzle-orm's migrator
_npm_tools() {
	pgb_npm_tools
	[[ -f $PGB_NPM_DIR/node_modules/drizzle-orm/node-postgres/migrator.js ]] ||
		fail "drizzle-orm is missing after scripts/install-npm-tools.sh"
}

# _setup: an empty database, pgboot connected to it as the superuser (the tools were too)
_setup() {
	q postgres "CREATE DATABASE :\"d\"" -v d="$PGB_DB"
	use_conn postgres "$PGB_SUPERPASS" "$PGB_DB"
}

# _markers: "file|count" of every marker row, in order
_markers() {
	q "$PGB_DB" 'SELECT file, count(*) FROM markers GROUP BY file ORDER BY file'
}

# _dump TABLE: every row of another tool's table, in a stable order
_dump() {
	q "$PGB_DB" "SELECT to_jsonb(t)::text FROM $1 t ORDER BY 1"
}

# _assert_adopted TABLE BEFORE MARKERS...: after the other tool, pgboot ran `run` on the same
# folder (with one new file): exit 0, each of MARKERS exactly once and no other, the tool's
# table still BEFORE, `status --check` 0, and a second run applies nothing
_assert_adopted() {
	local table=$1 before=$2 want
	shift 2
	assert_exit 0
	want=$(printf '%s|1\n' "$@")
	assert_eq "$want" "$(_markers)" "markers after pgboot"
	assert_eq "$before" "$(_dump "$table")" "$table, untouched"
	pgb_run status --check
	assert_exit 0
	pgb_run run -- true
	assert_exit 0
	assert_not_contains "$PGB_ERR" "applying"
	assert_not_contains "$PGB_ERR" "adopted"
	assert_eq "$want" "$(_markers)" "markers after a second run"
}

test_adopt_dbmate_real() {
	local before
	_npm_tools
	_setup
	cp "$_FIXTURES"/dbmate/*.sql migrations/
	pgb_tool dbmate.log "$PGB_DBMATE" --url "$(pgb_superuser_url "$PGB_DB")" --migrations-dir migrations \
		--no-dump-schema up
	before=$(_dump schema_migrations)
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM schema_migrations')" "dbmate's history rows"
	printf -- "-- migrate:up\nINSERT INTO markers VALUES ('20240101000004_four');\n\n-- migrate:down\nDELETE FROM markers;\n" \
		>migrations/20240101000004_four.sql
	pgb_run run -- true
	assert_contains "$PGB_ERR" 'adopted 3 migrations from dbmate ("public"."schema_migrations")'
	assert_eq 1 "$(count_matches "$PGB_ERR" 'applying')" "files applied"
	_assert_adopted schema_migrations "$before" 20240101000001_one 20240101000002_two \
		20240101000003_three 20240101000004_four
	assert_eq "20240101000001|dbmate (adopted by postgres)" \
		"$(q "$PGB_DB" 'SELECT version, applied_by FROM pgboot.migrations ORDER BY version LIMIT 1')" "an adopted row"
}

test_adopt_node_pg_migrate_real() {
	local before
	_npm_tools
	_setup
	cp "$_FIXTURES"/node-pg-migrate/*.sql migrations/
	DATABASE_URL=$(pgb_superuser_url "$PGB_DB") pgb_tool npm.log node "$PGB_NODE_PG_MIGRATE" up -m migrations
	before=$(_dump pgmigrations)
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM pgmigrations')" "node-pg-migrate's history rows"
	printf -- "-- Up Migration\nINSERT INTO markers VALUES ('1700000000004_four');\n\n-- Down Migration\nDELETE FROM markers;\n" \
		>migrations/1700000000004_four.sql
	pgb_run run -- true
	assert_contains "$PGB_ERR" 'adopted 3 migrations from node-pg-migrate ("public"."pgmigrations")'
	_assert_adopted pgmigrations "$before" 1700000000001_one 1700000000002_two 1700000000003_three \
		1700000000004_four
	# applied_at is node-pg-migrate's run_on
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pgboot.migrations m JOIN pgmigrations p
		ON m.name = p.name || '.sql' WHERE m.applied_at <> p.run_on AT TIME ZONE current_setting('TimeZone')")" \
		"adopted rows whose applied_at is not run_on"
}

# _drizzle DIR: drizzle-orm's own migrator applies DIR (fixtures/adopt/drizzle-migrate.cjs)
_drizzle() {
	DRIZZLE_URL=$(pgb_superuser_url "$PGB_DB") NODE_PATH=$PGB_NPM_DIR/node_modules \
		pgb_tool drizzle.log node "$_FIXTURES/drizzle-migrate.cjs" "$PWD/$1"
}

# _drizzle_add TAG WHEN: a new journal entry and its file, as drizzle-kit generate writes them
_drizzle_add() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
p = "migrations/meta/_journal.json"
j = json.load(open(p))
j["entries"].append({"idx": len(j["entries"]), "version": "7", "when": int(sys.argv[2]),
                     "tag": sys.argv[1], "breakpoints": True})
json.dump(j, open(p, "w"), indent=2)
EOF
	printf "INSERT INTO \"markers\" VALUES ('%s');\n" "$1" >"migrations/$1.sql"
}

# _drizzle_applied: the drizzle fixture in migrations/, applied by drizzle-orm's migrator
_drizzle_applied() {
	_npm_tools
	_setup
	cp -r "$_FIXTURES"/drizzle/. migrations/
	_drizzle migrations
}

test_adopt_drizzle_real() {
	local before
	_drizzle_applied
	before=$(_dump drizzle.__drizzle_migrations)
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM drizzle.__drizzle_migrations')" "drizzle's history rows"
	_drizzle_add 0003_four 1700000000004
	pgb_run run -- true
	assert_contains "$PGB_ERR" 'adopted 3 migrations from drizzle ("drizzle"."__drizzle_migrations")'
	_assert_adopted drizzle.__drizzle_migrations "$before" 0000_one 0001_two 0002_three 0003_four
	# applied_at is drizzle's created_at (the journal's when, in milliseconds)
	assert_eq "2023-11-14 22:13:20.001+00" \
		"$(q "$PGB_DB" "SELECT applied_at FROM pgboot.migrations WHERE name LIKE '0000_one%'")" "applied_at of 0000_one"
}

# A file edited after the other tool applied it is reported as changed, not run again: drizzle
# keeps each file's SHA-256, so the edit is seen even before pgboot recorded anything
test_adopt_edited_after_the_tool_applied_it_is_reported() {
	local before
	_drizzle_applied
	before=$(_dump drizzle.__drizzle_migrations)
	printf "INSERT INTO \"markers\" VALUES ('0001_two');\n-- edited\n" >migrations/0001_two.sql
	pgb_run run -- touch "$PGB_WORK/started"
	assert_exit 65
	assert_contains "$PGB_ERR" "0001_two"
	assert_contains "$PGB_ERR" "changed"
	[[ ! -e $PGB_WORK/started ]] || fail "the application started"
	assert_eq "$(printf '%s|1\n' 0000_one 0001_two 0002_three)" "$(_markers)" "markers"
	assert_eq "$before" "$(_dump drizzle.__drizzle_migrations)" "drizzle's table, untouched"
}

# alembic is Debian's python3-alembic: run by /usr/bin/python3, whatever python3 comes first in PATH
# _alembic ARGS...: alembic itself, with the fixture's env.py and revisions
_alembic() {
	ALEMBIC_URL=postgresql://postgres:$PGB_SUPERPASS@$PGB_HOST:$PGB_PORT/$PGB_DB \
		pgb_tool alembic.log /usr/bin/python3 -m alembic -c "$_FIXTURES/alembic/alembic.ini" "$@"
}

test_adopt_alembic_real() {
	local before
	_setup
	/usr/bin/python3 -c 'import alembic, psycopg2' 2>/dev/null || "$PGB_TOP/scripts/install-deps.sh" ||
		fail "could not install alembic"
	/usr/bin/python3 -c 'import alembic, psycopg2' || fail "alembic or psycopg2 is missing after scripts/install-deps.sh"
	_alembic upgrade head
	before=$(_dump alembic_version)
	assert_eq c3d4e5f6a1b2 "$(q "$PGB_DB" 'SELECT version_num FROM alembic_version')" "alembic's head"
	# the team continues in SQL: the head maps to a comment-only file, then new files follow
	migdir migrations 0003_from_alembic.sql '-- alembic revisions up to c3d4e5f6a1b2 (Python, in the application)' \
		0004_four.sql "INSERT INTO markers VALUES ('0004_four');"
	# without the mapping pgboot would run every file on a database it does not know: refused
	pgb_run run -- touch "$PGB_WORK/started"
	assert_exit 65
	assert_contains "$PGB_ERR" "alembic's history \"public\".\"alembic_version\" is at revision \"c3d4e5f6a1b2\""
	assert_contains "$PGB_ERR" "migrate.adopt_alembic = c3d4e5f6a1b2=<version>"
	[[ ! -e $PGB_WORK/started ]] || fail "the application started"
	# a mapping of another revision is refused: the database is not where the team thinks
	PGBOOT_MIGRATE_ADOPT_ALEMBIC=b2c3d4e5f6a1=3 pgb_run run -- true
	assert_exit 65
	assert_contains "$PGB_ERR" 'is at revision "c3d4e5f6a1b2", not "b2c3d4e5f6a1"'
	assert_eq "" "$(history "$PGB_DB")" "pgboot history"
	export PGBOOT_MIGRATE_ADOPT_ALEMBIC=c3d4e5f6a1b2=3
	pgb_run run -- true
	assert_contains "$PGB_ERR" 'adopted 1 migration from alembic ("public"."alembic_version")'
	_assert_adopted alembic_version "$before" 0004_four a1b2c3d4e5f6 b2c3d4e5f6a1 c3d4e5f6a1b2
}

# golang-migrate's postgres driver (golang-migrate/migrate, database/postgres/postgres.go):
# ensureVersionTable creates "(version bigint not null primary key, dirty boolean not null)";
# SetVersion truncates the table and inserts ONE row (version, dirty): dirty = true while a
# file runs, false once it is done.
_golang_migrate_table() {
	q "$PGB_DB" "CREATE TABLE public.schema_migrations (version bigint not null primary key, dirty boolean not null);
		CREATE TABLE markers (file text NOT NULL);
		INSERT INTO markers VALUES ('1_one'), ('2_two');
		INSERT INTO public.schema_migrations (version, dirty) VALUES (2, $1)"
	migdir migrations 1_one.up.sql "CREATE TABLE markers (file text NOT NULL); INSERT INTO markers VALUES ('1_one');" \
		1_one.down.sql "DROP TABLE markers;" \
		2_two.up.sql "INSERT INTO markers VALUES ('2_two');" 2_two.down.sql "DELETE FROM markers;" \
		3_three.up.sql "INSERT INTO markers VALUES ('3_three');" 3_three.down.sql "DELETE FROM markers;"
}

test_adopt_golang_migrate_table() {
	local before
	_setup
	_golang_migrate_table false
	before=$(_dump schema_migrations)
	pgb_run run -- true
	assert_contains "$PGB_ERR" 'adopted 2 migrations from golang-migrate ("public"."schema_migrations")'
	_assert_adopted schema_migrations "$before" 1_one 2_two 3_three
}

test_adopt_golang_migrate_dirty_is_refused() {
	local before
	_setup
	_golang_migrate_table true
	before=$(_dump schema_migrations)
	for cmd in adopt migrate; do
		pgb_run "$cmd"
		assert_exit 65
		assert_contains "$PGB_ERR" "golang-migrate's history \"public\".\"schema_migrations\" says version 2 is dirty"
		assert_contains "$PGB_ERR" 'pgboot: hint: '
		assert_contains "$PGB_ERR" 'migrate force'
		assert_not_contains "$PGB_ERR" "applying"
	done
	assert_eq "$(printf '%s|1\n' 1_one 2_two)" "$(_markers)" "markers"
	assert_eq "$before" "$(_dump schema_migrations)" "golang-migrate's table, untouched"
	assert_eq f "$(table_exists "$PGB_DB" pgboot.migrations)" "pgboot's history exists"
}

# goose (pressly/goose, internal/dialect/dialectquery/postgres.go): CreateTable makes
# "(id serial NOT NULL, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp
# NULL default now(), PRIMARY KEY(id))" and goose inserts the row (0, true) at creation;
# InsertVersion adds (version_id, is_applied) for each up, and a down either deletes the rows of
# the version or (older goose) adds (version_id, false); ListMigrations reads "ORDER BY id DESC":
# the newest row of a version says whether it is applied.
test_adopt_goose_table() {
	local before
	_setup
	q "$PGB_DB" "CREATE TABLE public.goose_db_version (id serial NOT NULL, version_id bigint NOT NULL,
			is_applied boolean NOT NULL, tstamp timestamp NULL default now(), PRIMARY KEY(id));
		INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true),
			(3, true), (3, false);
		CREATE TABLE markers (file text NOT NULL);
		INSERT INTO markers VALUES ('00001_one'), ('00002_two')"
	migdir migrations 00001_one.sql $'-- +goose Up\nCREATE TABLE markers (file text NOT NULL);\nINSERT INTO markers VALUES (\'00001_one\');\n-- +goose Down\nDROP TABLE markers;' \
		00002_two.sql $'-- +goose Up\nINSERT INTO markers VALUES (\'00002_two\');\n-- +goose Down\nDELETE FROM markers;' \
		00003_three.sql $'-- +goose Up\nINSERT INTO markers VALUES (\'00003_three\');\n-- +goose Down\nDELETE FROM markers;' \
		00004_four.sql $'-- +goose Up\nINSERT INTO markers VALUES (\'00004_four\');\n-- +goose Down\nDELETE FROM markers;'
	before=$(_dump goose_db_version)
	pgb_run run -- true
	assert_contains "$PGB_ERR" 'adopted 2 migrations from goose ("public"."goose_db_version")'
	# version 3 was rolled back (its newest row says is_applied = false): it runs again, once
	_assert_adopted goose_db_version "$before" 00001_one 00002_two 00003_three 00004_four
}

# Flyway (flyway/flyway, flyway-database/flyway-database-postgresql/.../PostgreSQLDatabase.java,
# getRawCreateScript): the table below, primary key installed_rank and an index on success.
# A versioned file adds a row of type SQL with its version; a repeatable one a row with a null
# version; a failed file (mixed or non-transactional statements) a row with success = false.
# checksum is flyway-core's ChecksumCalculator: CRC-32 of the UTF-8 bytes of every line
# without its line break, a BOM removed, as a signed int (computed here with Python's zlib).
_flyway_table() {
	q "$PGB_DB" 'CREATE TABLE "public"."flyway_schema_history" (
		"installed_rank" INT NOT NULL, "version" VARCHAR(50), "description" VARCHAR(200) NOT NULL,
		"type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" INTEGER,
		"installed_by" VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
		"execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT NULL);
		ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
		CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");
		CREATE TABLE markers (file text NOT NULL); CREATE TABLE runs (file text NOT NULL)'
	migdir migrations V1__one.sql "INSERT INTO markers VALUES ('V1__one');" \
		V1_1__two.sql $'INSERT INTO markers\r\nVALUES (\'V1_1__two\');' \
		V2__three.sql "INSERT INTO markers VALUES ('V2__three');" \
		R__views.sql $'CREATE OR REPLACE VIEW marker_files AS SELECT file FROM markers;\nINSERT INTO runs VALUES (\'R__views\');'
}

# _flyway_crc FILE: Flyway's checksum of FILE
_flyway_crc() {
	python3 -c 'import sys, zlib
d = open(sys.argv[1], "rb").read()
d = d[3:] if d.startswith(b"\xef\xbb\xbf") else d
c = zlib.crc32(b"".join(d.splitlines()))
print(c - (1 << 32) if c >= 1 << 31 else c)' "$1"
}

# _flyway_ran RANK VERSION SCRIPT [SUCCESS]: the row Flyway writes after running SCRIPT
_flyway_ran() {
	q "$PGB_DB" "INSERT INTO flyway_schema_history VALUES (:rank, NULLIF(:'v', ''), 'x', 'SQL', :'s',
		:crc, 'alice', ('2024-01-0' || :rank || ' 10:00:00')::timestamp, 5, :ok)" -v rank="$1" -v v="$2" -v s="$3" \
		-v crc="$(_flyway_crc "migrations/$3")" -v ok="${4:-true}"
}

test_adopt_flyway_table() {
	local before
	_setup
	_flyway_table
	_flyway_ran 1 1 V1__one.sql
	_flyway_ran 2 1.1 V1_1__two.sql
	_flyway_ran 3 "" R__views.sql
	q "$PGB_DB" "INSERT INTO markers VALUES ('V1__one'), ('V1_1__two');
		CREATE VIEW marker_files AS SELECT file FROM markers; INSERT INTO runs VALUES ('R__views')"
	before=$(_dump flyway_schema_history)
	pgb_run run -- true
	assert_contains "$PGB_ERR" 'adopted 3 migrations from flyway ("public"."flyway_schema_history")'
	_assert_adopted flyway_schema_history "$before" V1_1__two V1__one V2__three
	assert_eq "R__views|1" "$(q "$PGB_DB" 'SELECT file, count(*) FROM runs GROUP BY file')" \
		"runs of the repeatable file, unchanged since Flyway ran it"
	assert_eq "2024-01-02 10:00:00+00|flyway (adopted by postgres)" \
		"$(q "$PGB_DB" "SELECT applied_at, applied_by FROM pgboot.migrations WHERE name = 'V1_1__two.sql'")" \
		"applied_at is Flyway's installed_on"
}

# Flyway's checksum shows what was edited since it ran: a versioned file is reported changed
# (not run), a repeatable one runs again, as Flyway would do
test_adopt_flyway_edited_files() {
	_setup
	_flyway_table
	_flyway_ran 1 1 V1__one.sql
	_flyway_ran 2 "" R__views.sql
	q "$PGB_DB" "INSERT INTO markers VALUES ('V1__one');
		CREATE VIEW marker_files AS SELECT file FROM markers; INSERT INTO runs VALUES ('R__views')"
	rm migrations/V1_1__two.sql migrations/V2__three.sql
	printf '\n-- a comment since\n' >>migrations/R__views.sql
	pgb_run migrate
	assert_exit 0
	assert_eq "R__views|2" "$(q "$PGB_DB" 'SELECT file, count(*) FROM runs GROUP BY file')" \
		"runs of the repeatable file edited since Flyway ran it"
	# a versioned file edited before pgboot recorded it
	q "$PGB_DB" 'DROP TABLE pgboot.migrations'
	printf -- '-- edited\n' >>migrations/V1__one.sql
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" "V1__one.sql"
	assert_contains "$PGB_ERR" "changed"
	assert_eq "V1__one|1" "$(_markers)" "markers: the edited file did not run again"
}

test_adopt_flyway_failed_row_is_refused() {
	local before
	_setup
	_flyway_table
	_flyway_ran 1 1 V1__one.sql
	_flyway_ran 2 1.1 V1_1__two.sql false
	q "$PGB_DB" "INSERT INTO markers VALUES ('V1__one')"
	before=$(_dump flyway_schema_history)
	pgb_run run -- touch "$PGB_WORK/started"
	assert_exit 65
	assert_contains "$PGB_ERR" "flyway's history \"public\".\"flyway_schema_history\" says version 1.1 (\"V1_1__two.sql\") failed"
	assert_contains "$PGB_ERR" 'flyway repair'
	assert_not_contains "$PGB_ERR" "applying"
	[[ ! -e $PGB_WORK/started ]] || fail "the application started"
	assert_eq "V1__one|1" "$(_markers)" "markers"
	assert_eq "$before" "$(_dump flyway_schema_history)" "Flyway's table, untouched"
	assert_eq f "$(table_exists "$PGB_DB" pgboot.migrations)" "pgboot's history exists"
}

# _ten_runners_adopt: 10 replicas starting together on golang-migrate's history adopt it
# once, under the migration lock, and apply the file it lacks once (pgb_runners checks that
# every one exited 0).
_ten_runners_adopt() {
	local before
	_setup
	_golang_migrate_table false
	before=$(_dump schema_migrations)
	pgb_runners 10 run -- true
	# shellcheck disable=SC2034 # read by _assert_adopted: pgb_runners checked every exit
	PGB_RC=0
	cat "$PGB_WORK"/err.* >"$PGB_WORK/all-err"
	assert_eq 1 "$(count_matches "$PGB_WORK/all-err" 'adopted 2 migrations')" "runners that adopted"
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "pgboot history rows"
	_assert_adopted schema_migrations "$before" 1_one 2_two 3_three
}

test_adopt_ten_runners_adopt_once() {
	_ten_runners_adopt
	assert_eq 1 "$(count_matches "$PGB_WORK/all-err" 'applying 3_three')" "runners that applied 3_three"
}

# The same with the lock taken in each transaction (migrate.lock = transaction, for poolers)
test_adopt_ten_runners_adopt_once_transaction_lock() {
	export PGBOOT_MIGRATE_LOCK=transaction
	_ten_runners_adopt
}

test_adopt_never_refuses_to_start() {
	_setup
	_golang_migrate_table false
	PGBOOT_MIGRATE_ADOPT=never pgb_run run -- touch "$PGB_WORK/started"
	assert_exit 65
	assert_contains "$PGB_ERR" 'found golang-migrate'"'"'s history "public"."schema_migrations" and no pgboot history, and migrate.adopt = never'
	assert_contains "$PGB_ERR" 'pgboot: hint: '
	[[ ! -e $PGB_WORK/started ]] || fail "the application started"
	assert_eq f "$(table_exists "$PGB_DB" pgboot.migrations)" "pgboot's history exists"
	assert_eq "$(printf '%s|1\n' 1_one 2_two)" "$(_markers)" "markers"
}

# A version the tool applied whose file is gone: pgboot refuses rather than guess (the folder
# may be another service's, or the wrong checkout), and says which
test_adopt_row_without_a_file_is_refused() {
	_setup
	_golang_migrate_table false
	rm migrations/2_two.up.sql migrations/2_two.down.sql
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'golang-migrate applied version 2, and no file in "migrations" has it'
	assert_eq f "$(table_exists "$PGB_DB" pgboot.migrations)" "pgboot's history exists"
	assert_eq "$(printf '%s|1\n' 1_one 2_two)" "$(_markers)" "markers"
}

# Two tools' tables: the one of the tool whose layout the files are in is adopted, the other
# left with a warning; with files in pgboot's own layout, which one is current is not
# pgboot's guess
test_adopt_two_tools_tables() {
	_setup
	_golang_migrate_table false
	q "$PGB_DB" "CREATE TABLE public.pgmigrations (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)"
	pgb_run migrate --dry-run
	assert_exit 0
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'warning: node-pg-migrate'"'"'s history "public"."pgmigrations" is not adopted: the files are in golang-migrate'"'"'s layout'
	assert_contains "$PGB_ERR" 'adopted 2 migrations from golang-migrate'
	assert_eq "$(printf '%s|1\n' 1_one 2_two 3_three)" "$(_markers)" "markers"
	# the same files converted to pgboot's layout, on a database with both tables
	q "$PGB_DB" "DROP TABLE pgboot.migrations; DELETE FROM markers WHERE file = '3_three'"
	migdir migrations 1_one.sql "CREATE TABLE markers (file text NOT NULL); INSERT INTO markers VALUES ('1_one');" \
		2_two.sql "INSERT INTO markers VALUES ('2_two');" 3_three.sql "INSERT INTO markers VALUES ('3_three');"
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'found two other tools'"'"' histories: golang-migrate'"'"'s "public"."schema_migrations" and node-pg-migrate'"'"'s "public"."pgmigrations"'
	assert_contains "$PGB_ERR" 'migrate.adopt_table'
	assert_eq f "$(table_exists "$PGB_DB" pgboot.migrations)" "pgboot's history exists"
	# naming the current one settles it
	PGBOOT_MIGRATE_ADOPT_TABLE=public.schema_migrations pgb_run migrate
	assert_exit 0
	assert_eq "$(printf '%s|1\n' 1_one 2_two 3_three)" "$(_markers)" "markers"
}

# A tool's table beside files in another tool's layout: another folder, or another database
test_adopt_table_of_another_layout_is_refused() {
	_setup
	q "$PGB_DB" "CREATE TABLE public.goose_db_version (id serial NOT NULL, version_id bigint NOT NULL,
			is_applied boolean NOT NULL, tstamp timestamp NULL default now(), PRIMARY KEY(id));
		INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (20240101000001, true)"
	cp "$_FIXTURES"/dbmate/*.sql migrations/
	pgb_run run -- touch "$PGB_WORK/started"
	assert_exit 65
	assert_contains "$PGB_ERR" 'found goose'"'"'s history "public"."goose_db_version", but the files in "migrations" are in dbmate'"'"'s layout'
	[[ ! -e $PGB_WORK/started ]] || fail "the application started"
	assert_eq f "$(table_exists "$PGB_DB" public.markers)" "a file ran"
	assert_eq f "$(table_exists "$PGB_DB" pgboot.migrations)" "pgboot's history exists"
}

# `pgboot adopt` records what the other tool applied, applies nothing, and says what it did;
# the tool's table may live under another name (migrate.adopt_table)
test_adopt_command_alone() {
	_setup
	q "$PGB_DB" "CREATE SCHEMA ops; CREATE TABLE ops.versions (version varchar(255) primary key);
		INSERT INTO ops.versions VALUES ('20240101000001');
		CREATE TABLE markers (file text NOT NULL); INSERT INTO markers VALUES ('20240101000001_one')"
	cp "$_FIXTURES"/dbmate/*.sql migrations/
	# a table that no tool would have made is not adopted
	PGBOOT_MIGRATE_ADOPT_TABLE=public.markers pgb_run adopt
	assert_exit 78
	assert_contains "$PGB_ERR" '"public"."markers" (migrate.adopt_table) is not a history table of a tool pgboot reads: its columns are file'
	PGBOOT_MIGRATE_ADOPT_TABLE=ops.versions pgb_run adopt
	assert_exit 0
	assert_contains "$PGB_ERR" 'adopted 1 migration from dbmate ("ops"."versions")'
	assert_contains "$PGB_OUT" "20240101000001_one.sql"
	assert_eq "20240101000001_one|1" "$(_markers)" "markers: adopt applies nothing"
	pgb_run adopt
	assert_exit 0
	assert_contains "$PGB_ERR" "nothing to adopt"
	pgb_run migrate
	assert_exit 0
	assert_eq "$(printf '%s|1\n' 20240101000001_one 20240101000002_two 20240101000003_three)" "$(_markers)" "markers"
}

# The role pgboot runs as may not read the tool's table: refused (77), never taken as "none"
test_adopt_unreadable_table_is_refused() {
	mkrole "$PGB_ROLE" app-pw
	q postgres "CREATE DATABASE :\"d\" OWNER :\"r\"" -v d="$PGB_DB" -v r="$PGB_ROLE"
	_golang_migrate_table false
	use_conn "$PGB_ROLE" app-pw "$PGB_DB"
	pgb_run migrate
	assert_exit 77
	assert_contains "$PGB_ERR" "could not read golang-migrate's history \"public\".\"schema_migrations\": permission denied"
	assert_contains "$PGB_ERR" "pgboot: hint: grant SELECT on \"public\".\"schema_migrations\" to the role pgboot runs as"
	assert_eq f "$(table_exists "$PGB_DB" pgboot.migrations)" "pgboot's history exists"
}

# A tool's table is told by its columns: one with a column more (a newer version of the tool,
# or one added by hand) is still that tool's; one that lacks a tool's columns is no tool's,
# which is said, and everything applies
test_adopt_table_columns_decide() {
	_setup
	q "$PGB_DB" "CREATE TABLE schema_migrations (version varchar(255) primary key, inserted_at timestamp);
		INSERT INTO schema_migrations VALUES ('20240101000001', now());
		CREATE TABLE markers (file text NOT NULL); INSERT INTO markers VALUES ('20240101000001_one');
		CREATE TABLE pgmigrations (id serial, filename text)"
	cp "$_FIXTURES"/dbmate/*.sql migrations/
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'adopted 1 migration from dbmate ("public"."schema_migrations")'
	assert_contains "$PGB_ERR" 'warning: "public"."pgmigrations" is not adopted: its columns (filename,id) are no migration tool'"'"'s that pgboot reads'
	assert_eq "$(printf '%s|1\n' 20240101000001_one 20240101000002_two 20240101000003_three)" "$(_markers)" "markers"
}
