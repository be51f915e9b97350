# shellcheck shell=bash
# formats: with migrate.format = pgboot, other tools' migration files and folders are refused
# before anything runs. A file with dbmate's, goose's or node-pg-migrate's up and down markers
# would run whole, its down part included; a folder in Flyway's, golang-migrate's or
# drizzle-kit's layout would apply nothing (or the wrong thing) and start the application.
# (With migrate.format = auto, the default, such files are read as their tool reads them:
# layouts.sh.) dbmate and node-pg-migrate are the real tools (scripts/install-npm-tools.sh);
# goose cannot be installed here, so its file is written by hand.

# _users_with_rows: the database owned by the app role, with a table users of 3 rows
_users_with_rows() {
	q postgres "CREATE DATABASE :\"d\" OWNER :\"r\"" -v d="$PGB_DB" -v r="$PGB_ROLE"
	q "$PGB_DB" "CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, name text);
		ALTER TABLE users OWNER TO :\"r\";
		INSERT INTO users VALUES (1, 'ada'), (2, 'grace'), (3, 'edsger');" -v r="$PGB_ROLE"
}

# _assert_kept: users still has its 3 rows, and pgboot recorded nothing
_assert_kept() {
	assert_eq t "$(table_exists "$PGB_DB" users)" "table users is still there"
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM users')" "rows of users"
	assert_eq "" "$(history "$PGB_DB")" "pgboot history rows"
}

# _assert_refused_everywhere FILE LINE TOOL MARKER: migrate, plan and run refuse the file,
# naming FILE:LINE, the tool and its marker, before anything runs; the application never starts
_assert_refused_everywhere() {
	local cmd
	for cmd in migrate plan; do
		pgb_run "$cmd" --migrate-format pgboot
		assert_exit 65
		assert_contains "$PGB_ERR" "$1:$2: \"$4\" is a $3 marker, but migrate.format is pgboot"
		assert_contains "$PGB_ERR" "pgboot: hint: set migrate.format = $3 (or auto, which detects it) to read the file as $3 does"
		assert_not_contains "$PGB_ERR" "applying"
	done
	pgb_run run --migrate-format pgboot -- touch "$PGB_WORK/started"
	assert_exit 65
	[[ ! -e $PGB_WORK/started ]] || fail "the application started"
	_assert_kept
}

test_formats_dbmate_file_is_refused_and_its_table_kept() {
	local f
	pgb_npm_tools
	app_role
	_users_with_rows
	# the file as `dbmate new` writes it, filled in; dbmate itself applies it (IF NOT EXISTS)
	pgb_tool dbmate.log "$PGB_DBMATE" --migrations-dir migrations new create_users
	f=$(cd migrations && echo *_create_users.sql)
	sed -i -e '/^-- migrate:up$/a CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, name text);' \
		-e '/^-- migrate:down$/a DROP TABLE users;' "migrations/$f"
	pgb_tool dbmate.log "$PGB_DBMATE" --url "$(pgb_superuser_url "$PGB_DB")" --migrations-dir migrations \
		--no-dump-schema up
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM schema_migrations')" "dbmate's history rows"
	_assert_refused_everywhere "migrations/$f" 1 dbmate "-- migrate:up"
	assert_contains "$PGB_ERR" 'pgboot: detail: its down part starts at line 5 ("-- migrate:down"), and pgboot would run it on the way up'
	# `status` reads only applied files: it reports the file pending, not applied
	pgb_run status --check --migrate-format pgboot
	assert_exit 1
	# What the hint says: the down part after "-- pgboot:down", the markers deleted
	sed -i -e '/^-- migrate:up/d' -e 's/^-- migrate:down$/-- pgboot:down/' "migrations/$f"
	# pgboot adopts dbmate's history (adopt.sh), which its role must be able to read
	q "$PGB_DB" "GRANT SELECT ON schema_migrations TO :\"r\"" -v r="$PGB_ROLE"
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'adopted 1 migration from dbmate'
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM users')" "rows of users after the converted file"
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "pgboot history rows"
	# applied files are read for their checksums at every start: a marker there is refused too
	sed -i '1i -- migrate:up' "migrations/$f"
	pgb_run status --migrate-format pgboot
	assert_exit 65
	assert_contains "$PGB_ERR" "migrations/$f:1: \"-- migrate:up\" is a dbmate marker"
	assert_not_contains "$PGB_ERR" "pgboot: detail:"
}

test_formats_dbmate_options_are_markers_too() {
	app_role
	_users_with_rows
	migdir migrations 20250101000000_users.sql $'-- a comment first\n--migrate:up transaction:false\nCREATE TABLE IF NOT EXISTS users (id int);\n\n-- migrate:down transaction:false\nDROP TABLE users;'
	_assert_refused_everywhere migrations/20250101000000_users.sql 2 dbmate "-- migrate:up"
	assert_contains "$PGB_ERR" 'its down part starts at line 5 ("-- migrate:down")'
}

test_formats_node_pg_migrate_file_is_refused_and_its_table_kept() {
	local f
	pgb_npm_tools
	app_role
	_users_with_rows
	# the file as `node-pg-migrate create --migration-file-language sql` writes it, filled in;
	# node-pg-migrate itself applies it
	pgb_node_pg_migrate_file users 'CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, name text);' \
		'DROP TABLE users;'
	f=$PGB_NPM_FILE
	DATABASE_URL=$(pgb_superuser_url "$PGB_DB") pgb_tool npm.log node "$PGB_NODE_PG_MIGRATE" up -m migrations
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM pgmigrations')" "node-pg-migrate's history rows"
	_assert_refused_everywhere "migrations/$f" 1 node-pg-migrate "-- Up Migration"
	assert_contains "$PGB_ERR" 'its down part starts at line 4 ("-- Down Migration")'
}

# goose cannot be installed here (a Go program, not on npm or Debian). The files follow the
# format its parser reads: pressly/goose, internal/sqlparser/parser.go (ParseSQLMigration and
# extractAnnotation: annotations in any case, "--" and "+goose" removed, then trimmed).
test_formats_goose_file_is_refused_and_its_table_kept() {
	app_role
	_users_with_rows
	migdir migrations 00001_users.sql '-- +goose Up
-- +goose StatementBegin
CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, name text);
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE users;
-- +goose StatementEnd'
	_assert_refused_everywhere migrations/00001_users.sql 1 goose "-- +goose Up"
	assert_contains "$PGB_ERR" 'its down part starts at line 6 ("-- +goose Down")'
	# goose's annotations are case-insensitive
	migdir migrations 00001_users.sql $'-- Creates users.\n\n--  +goose up\nCREATE TABLE IF NOT EXISTS users (id int);\n-- +goose down\nDROP TABLE users;'
	_assert_refused_everywhere migrations/00001_users.sql 3 goose "-- +goose Up"
	assert_contains "$PGB_ERR" 'its down part starts at line 5 ("-- +goose Down")'
}

test_formats_ordinary_comments_are_not_markers() {
	app_role
	_users_with_rows
	migdir migrations 0001_notes.sql '-- migrate: note, this replaces the dbmate setup
-- see the +goose docs for what came before; the up migration is below
CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, name text);
--> statement-breakpoint
CREATE TABLE audit (id int);
  -- migrate:down is what dbmate would read in column 1 only
-- pgboot:down
-- Down Migration
DROP TABLE audit;'
	pgb_run migrate
	assert_exit 0
	assert_eq t "$(table_exists "$PGB_DB" audit)" "table audit"
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM users')" "rows of users"
	pgb_run rollback
	assert_exit 0
	assert_eq f "$(table_exists "$PGB_DB" audit)" "table audit after the rollback"
}

# _assert_layout_refused LAYOUT EXAMPLE: migrate and status --check refuse the directory at once
# (no server listens: nothing is waited for), naming the layout and an entry that shows it
_assert_layout_refused() {
	local cmd
	for cmd in "migrate" "status --check" "run -- touch $PGB_WORK/started"; do
		# shellcheck disable=SC2086 # cmd is words
		pgb_run $cmd
		assert_exit 65
		assert_contains "$PGB_ERR" "migrations directory \"migrations\" looks like $1's layout"
		assert_contains "$PGB_ERR" "\"$2\"), but migrate.format is pgboot"
		assert_contains "$PGB_ERR" 'pgboot: hint: set migrate.format to the tool'"'"'s layout (or auto, which detects it)'
		assert_not_contains "$PGB_ERR" "waiting"
		((PGB_ELAPSED_MS < 2000)) || fail "took $PGB_ELAPSED_MS ms: the refusal must come before any waiting"
	done
	[[ ! -e $PGB_WORK/started ]] || fail "the application started"
}

_nowhere() {
	use_conn app app-pw "$PGB_DB"
	export PGBOOT_DATABASE_PORT PGBOOT_MIGRATE_FORMAT=pgboot
	PGBOOT_DATABASE_PORT=$(free_port)
}

test_formats_flyway_layout_is_refused() {
	local f
	_nowhere
	migdir migrations V1__init.sql 'CREATE TABLE users (id int);' \
		V1_2__x.sql 'ALTER TABLE users ADD name text;' \
		R__views.sql 'CREATE OR REPLACE VIEW v AS SELECT 1;' \
		U1__undo.sql 'DROP TABLE users;' \
		B1__base.sql 'CREATE TABLE users (id int, name text);' \
		README.md 'Flyway migrations'
	_assert_layout_refused Flyway B1__base.sql
	# each kind of Flyway file alone, and beside pgboot's own files
	for f in V1__init.sql V2024.01.15__x.sql R__views.sql U1__undo.sql B1__base.sql; do
		migdir migrations "$f" 'SELECT 1;' 0001_init.sql 'SELECT 1;'
		_assert_layout_refused Flyway "$f"
	done
}

test_formats_golang_migrate_layout_is_refused() {
	_nowhere
	migdir migrations 1_init.up.sql 'CREATE TABLE users (id int);' \
		1_init.down.sql 'DROP TABLE users;' \
		2_names.up.sql 'ALTER TABLE users ADD name text;' \
		2_names.down.sql 'ALTER TABLE users DROP name;'
	_assert_layout_refused golang-migrate 1_init.up.sql
}

test_formats_drizzle_layouts_are_refused() {
	_nowhere
	# drizzle-kit's names are pgboot's; its journal gives it away
	migdir migrations 0000_bouncy_hulk.sql $'CREATE TABLE users (id int);\n--> statement-breakpoint\nCREATE TABLE b (id int);'
	mkdir migrations/meta
	printf '{"version":"7","dialect":"postgresql","entries":[{"idx":0,"version":"7","when":1735689600000,"tag":"0000_bouncy_hulk","breakpoints":true}]}\n' \
		>migrations/meta/_journal.json
	echo '{}' >migrations/meta/0000_snapshot.json
	_assert_layout_refused drizzle-kit meta/_journal.json
	# the newer layout: a folder per migration holding migration.sql (Prisma's too)
	migdir migrations
	mkdir migrations/20250101120000_init
	echo 'CREATE TABLE users (id int);' >migrations/20250101120000_init/migration.sql
	_assert_layout_refused "drizzle-kit or Prisma" 20250101120000_init/migration.sql
}

test_formats_sql_files_none_of_which_run_are_refused() {
	_nowhere
	unset PGBOOT_MIGRATE_FORMAT # auto finds no layout either, and says the same
	migdir migrations schema.sql 'CREATE TABLE users (id int);' seed.sql 'SELECT 1;' README.md 'x'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations directory "migrations" holds .sql files ("schema.sql") but no migration pgboot would run, in no layout pgboot knows'
	assert_contains "$PGB_ERR" 'pgboot: hint: name them <version>_<name>.sql'
	((PGB_ELAPSED_MS < 2000)) || fail "took $PGB_ELAPSED_MS ms: the refusal must come before any waiting"
}

test_formats_pgboot_layout_with_companions_and_strays_is_fine() {
	app_role
	migdir migrations 0001_users.sql 'CREATE TABLE users (id int);' \
		0001_users.down.sql 'DROP TABLE users;' \
		0002_names.sql $'ALTER TABLE users ADD name text;\n-- pgboot:down\nALTER TABLE users DROP name;' \
		README.md '# migrations' .gitkeep '' notes.txt 'not sql' schema.json '{}'
	mkdir migrations/docs migrations/meta
	echo 'x' >migrations/docs/readme.txt
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" "applied 0002_names.sql"
	assert_eq 2 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
	pgb_run rollback --to 0
	assert_exit 0
	assert_eq f "$(table_exists "$PGB_DB" users)" "table users after rolling back both"
	# a directory with only a README and a .gitkeep: nothing to apply, and no error
	migdir migrations README.md '# migrations' .gitkeep ''
	pgb_run migrate
	assert_exit 0
	pgb_run status --check
	assert_exit 0
}
