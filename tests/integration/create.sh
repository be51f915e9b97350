# shellcheck shell=bash
# create: the database is created when missing (if allowed), left alone when present.

# _dbinfo DB: "owner|encoding|oid" from pg_database, empty when missing
_dbinfo() {
	q "${PGB_ADMIN_DB:-postgres}" "SELECT pg_get_userbyid(datdba) || '|' || pg_encoding_to_char(encoding) || '|' || oid
		FROM pg_database WHERE datname = :'d'" -v d="$1"
}

test_create_missing_database_with_createdb_role() {
	app_role
	assert_eq 0 "$(db_exists "$PGB_DB")" "database exists before the test"
	pgb_run create
	assert_exit 0
	assert_contains "$PGB_ERR" "created database \"$PGB_DB\""
	assert_eq 1 "$(db_exists "$PGB_DB")" "database exists"
	assert_eq "$PGB_ROLE|UTF8" "$(_dbinfo "$PGB_DB" | cut -d'|' -f1,2)" "owner|encoding"
}

test_create_without_createdb_is_77_with_admin_sql() {
	mkrole "$PGB_ROLE" app-pw # no CREATEDB
	use_conn "$PGB_ROLE" app-pw "$PGB_DB"
	pgb_run create --wait-timeout 5s
	assert_exit 77
	assert_contains "$PGB_ERR" "role \"$PGB_ROLE\" may not create database \"$PGB_DB\""
	grep -E '^pgboot: hint:' "$PGB_ERR" >"$PGB_WORK/hints" || true
	assert_contains "$PGB_WORK/hints" "CREATE DATABASE \"$PGB_DB\" OWNER \"$PGB_ROLE\";"
	assert_contains "$PGB_WORK/hints" "ALTER ROLE \"$PGB_ROLE\" CREATEDB;"
	assert_not_contains "$PGB_ERR" 'created database'
	assert_eq 0 "$(db_exists "$PGB_DB")" "database exists"
	assert_lt "$PGB_ELAPSED_MS" 4000 "ms before failing (permission is not waited on)"
}

test_create_existing_database_left_alone() {
	mkrole "${PGB_ROLE}_owner" owner-pw
	app_role
	psql_super -v d="$PGB_DB" -v o="${PGB_ROLE}_owner" \
		<<<"CREATE DATABASE :\"d\" OWNER :\"o\" TEMPLATE template0 ENCODING 'LATIN1';"
	local before
	before=$(_dbinfo "$PGB_DB")
	pgb_run create --create-owner "$PGB_ROLE" --create-encoding UTF8 --create-template template0
	assert_exit 0
	assert_not_contains "$PGB_ERR" 'created database'
	assert_eq "$before" "$(_dbinfo "$PGB_DB")" "owner|encoding|oid of the existing database"
	assert_eq "${PGB_ROLE}_owner|LATIN1" "$(_dbinfo "$PGB_DB" | cut -d'|' -f1,2)" "owner|encoding"
}

test_create_mode_never_does_not_create() {
	app_role
	pgb_run create --create-mode never --wait-timeout 2s
	assert_exit 69
	assert_not_contains "$PGB_ERR" 'created database'
	# the last attempt may be cut short by the deadline; the error still names the cause
	assert_contains "$PGB_ERR" "database \"$PGB_DB\" does not exist"
	assert_contains "$PGB_ERR" 'hint: create the database, or let pgboot create it (create.mode = auto'
	assert_eq 0 "$(db_exists "$PGB_DB")" "database exists"
}

test_create_mode_never_from_env_with_run() {
	app_role
	export PGBOOT_CREATE_MODE=never
	pgb_run run --wait-timeout 2s -- sh -c 'touch app-ran'
	assert_exit 69
	assert_eq 0 "$(db_exists "$PGB_DB")" "database exists"
	[[ ! -e app-ran ]] || fail "the application ran although the database never became available"
}

test_create_owner_template_encoding_applied() {
	mkrole "${PGB_ROLE}_x" x-pw
	use_conn postgres "$PGB_SUPERPASS" "$PGB_DB"
	local enc db
	for enc in LATIN1 SQL_ASCII; do
		db="${PGB_DB}_${enc,,}"
		pgb_run create --database-dbname "$db" --create-owner "${PGB_ROLE}_x" \
			--create-template template0 --create-encoding "$enc"
		assert_exit 0
		assert_contains "$PGB_ERR" "created database \"$db\""
		assert_eq "${PGB_ROLE}_x|$enc" "$(_dbinfo "$db" | cut -d'|' -f1,2)" "owner|encoding of $db"
	done
}

test_create_custom_template_is_used() {
	local tpl="${PGB_DB}_tpl"
	psql_super -v t="$tpl" <<<'CREATE DATABASE :"t";'
	q "$tpl" 'CREATE TABLE template_marker (id int); INSERT INTO template_marker VALUES (42);'
	# Only a template database may be copied by a role that neither owns it nor is superuser.
	psql_super -v t="$tpl" <<<'ALTER DATABASE :"t" IS_TEMPLATE true;'
	app_role
	pgb_run create --create-template "$tpl"
	assert_exit 0
	assert_contains "$PGB_ERR" "created database \"$PGB_DB\""
	assert_eq 42 "$(q "$PGB_DB" 'SELECT id FROM template_marker')" "row copied from the template"
}

# The maintenance connection is lost while CREATE DATABASE waits for its template (as in a
# server restart): pgboot connects again and creates the database within wait.timeout. It
# used to exit 69 (seen as test_faults_server_restarting_while_ten_runners_start failing).
test_create_connection_lost_while_creating_is_retried() {
	local tpl="${PGB_DB}_tpl" holder i
	psql_super -v t="$tpl" <<<'CREATE DATABASE :"t" IS_TEMPLATE true;'
	app_role
	# a session on the template makes CREATE DATABASE fail with 55006, which pgboot retries
	psql_db "$tpl" -c 'SELECT pg_sleep(60)' >/dev/null 2>&1 &
	holder=$!
	_pgb_register_pid "$holder"
	pgb_bg create --create-template "$tpl" --wait-timeout 30s
	for ((i = 0; i < 250; i++)); do
		grep -q 'waiting to create database' "$PGB_ERR" && break
		sleep 0.02
	done
	assert_contains "$PGB_ERR" "waiting to create database \"$PGB_DB\""
	assert_eq 1 "$(q postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'pgboot' AND datname = 'postgres'")" "pgboot's maintenance sessions ended"
	sleep 0.5
	q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$tpl'" >/dev/null
	wait "$holder" 2>/dev/null || true
	pgb_wait_pid 30
	assert_exit 0
	assert_contains "$PGB_ERR" "lost the connection while creating database \"$PGB_DB\""
	assert_contains "$PGB_ERR" "created database \"$PGB_DB\""
	assert_eq 1 "$(db_exists "$PGB_DB")" "database created"
}

test_create_name_needing_quotes() {
	local db='Pgb Db "quoted"; DROP'
	db="$db$PGB_DB"
	mkrole "$PGB_ROLE" app-pw CREATEDB
	use_conn "$PGB_ROLE" app-pw "$db"
	pgb_run create
	assert_exit 0
	assert_contains "$PGB_ERR" 'created database'
	assert_eq 1 "$(db_exists "$db")" "database named exactly $db exists"
}

test_create_maintenance_db_falls_back_to_template1() {
	pg_start # a cluster of our own: we drop its "postgres" database
	mkrole "$PGB_ROLE" app-pw CREATEDB
	psql_super -d template1 -c 'DROP DATABASE postgres'
	PGB_ADMIN_DB=template1
	assert_eq 0 "$(db_exists postgres)" "database postgres exists"
	use_conn "$PGB_ROLE" app-pw "$PGB_DB"
	pgb_run create
	assert_exit 0
	assert_contains "$PGB_ERR" "created database \"$PGB_DB\""
	assert_eq 1 "$(db_exists "$PGB_DB")" "database exists"
	pgb_run create --database-maintenance-db template1 --database-dbname "${PGB_DB}_2"
	assert_exit 0
	assert_eq 1 "$(db_exists "${PGB_DB}_2")" "database exists"
}

test_create_name_of_64_bytes_refused_63_created() {
	local n63 n64 n64mb
	n63=$(printf '%s_%s' "$PGB_DB" "$(printf 'x%.0s' {1..80})")
	n63=${n63:0:63}
	n64="${n63}y"
	n64mb="${n63:0:62}é" # 63 characters, 64 bytes
	app_role
	for name in "$n64" "$n64mb"; do
		pgb_run create --database-dbname "$name"
		assert_exit 78
		assert_lt "$PGB_ELAPSED_MS" 3000 "ms before refusing a 64-byte name"
		assert_not_contains "$PGB_ERR" 'created database'
	done
	assert_eq 0 "$(q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE :'p'" -v p="${PGB_DB}_%")" "databases created"
	pgb_run create --database-dbname "$n63"
	assert_exit 0
	assert_contains "$PGB_ERR" "created database \"$n63\""
	assert_eq 1 "$(db_exists "$n63")" "63-byte database exists"
}
