# shellcheck shell=bash
# environments: overlays, ${VAR} expansion, protected environments, drop and reset, secret
# files, and a hot standby refused or waited for until its promotion.

# _ini TEXT: writes entrypoint.ini in the current directory (the test's app directory)
_ini() {
	printf '%s\n' "$1" >entrypoint.ini
}

test_environments_overlay_applies_in_its_environment() {
	app_role
	unset PGBOOT_WAIT_TIMEOUT # the environment would beat the file's [wait.production]
	# (production is protected: TLS would be required, and the test server has none)
	_ini $'[database]\nsslmode = disable\n[create]\nmode = auto\n[create.production]\nmode = never\n[wait.production]\ntimeout = 1s'
	PGBOOT_ENVIRONMENT=production pgb_run create
	assert_exit 69
	assert_contains "$PGB_ERR" "database \"$PGB_DB\" does not exist"
	assert_contains "$PGB_ERR" 'hint: create the database, or let pgboot create it (create.mode = auto'
	assert_eq 0 "$(db_exists "$PGB_DB")" "database created in production"
	APP_ENV=production pgb_run config
	assert_match "$PGB_OUT" '^create\.mode = never  \(entrypoint\.ini:6 \[create\.production\]\)$'
	assert_match "$PGB_OUT" '^pgboot\.environment = production  \(env APP_ENV\)$'
	# a flag still beats the overlay; another environment does not see it
	PGBOOT_ENVIRONMENT=production pgb_run create --create-mode auto
	assert_exit 0
	q postgres "DROP DATABASE \"$PGB_DB\"" >/dev/null
	PGBOOT_ENVIRONMENT=staging pgb_run create
	assert_exit 0
	assert_eq 1 "$(db_exists "$PGB_DB")" "database created in staging"
}

test_environments_protected_defaults() {
	_ini $'[pgboot]\nenvironment = prod\nprotect = prod'
	pgb_run config
	assert_exit 0
	assert_match "$PGB_OUT" '^create\.mode = never  \(default in protected environment "prod"\)$'
	assert_match "$PGB_OUT" '^database\.sslmode = require  \(default in protected environment "prod"\)$'
	PGSSLMODE=verify-full pgb_run config
	assert_match "$PGB_OUT" '^database\.sslmode = verify-full  \(env PGSSLMODE\)$'
}

test_environments_branch_database_from_variables() {
	app_role
	# a template others may copy, as preview setups keep one
	q postgres "CREATE DATABASE template_preview IS_TEMPLATE true" >/dev/null
	q template_preview "CREATE TABLE seeded (id int); INSERT INTO seeded VALUES (42)" >/dev/null
	mkrole preview_owner unused
	q postgres "GRANT preview_owner TO \"$PGB_ROLE\"" >/dev/null
	unset PGBOOT_DATABASE_DBNAME
	_ini $'[database]\nsslmode = disable\n[database.preview]\ndbname = ${GIT_BRANCH:ident}_app\n[create]\ntemplate = ${PREVIEW_TEMPLATE:-template_preview}\nowner = preview_owner'
	# another environment never expands the preview section's variables
	pgb_run create --wait-timeout 3s
	assert_exit 0
	export PGBOOT_ENVIRONMENT=preview
	GIT_BRANCH='feature/Add-Login' pgb_run create
	assert_exit 0
	assert_contains "$PGB_ERR" 'created database "feature_add_login_app"'
	assert_eq 42 "$(q feature_add_login_app 'SELECT id FROM seeded')" "row copied from the template"
	assert_eq preview_owner "$(q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'feature_add_login_app'")" "owner"
	pgb_run create
	assert_exit 78
	assert_contains "$PGB_ERR" 'entrypoint.ini:4 [database.preview]: "database.dbname": environment variable "GIT_BRANCH" is not set'
	q postgres 'DROP DATABASE feature_add_login_app' >/dev/null
}

test_environments_drop_and_reset_are_guarded_where_protected() {
	app_role
	migdir migrations 0001_a.sql 'CREATE TABLE er (id int);'
	pgb_run migrate
	assert_exit 0
	_ini $'[pgboot]\nprotect = production\n[database]\nsslmode = disable'
	PGBOOT_ENVIRONMENT=production pgb_run drop
	assert_exit 77
	assert_contains "$PGB_ERR" "refusing to drop database \"$PGB_DB\" in protected environment \"production\""
	assert_contains "$PGB_ERR" "hint: if you mean it, add --force --confirm $PGB_DB"
	PGBOOT_ENVIRONMENT=production pgb_run reset --force --confirm not_this_one
	assert_exit 77
	PGBOOT_ENVIRONMENT=production pgb_run rollback
	assert_exit 77
	assert_eq 1 "$(db_exists "$PGB_DB")" "database after the refusals"
	q "$PGB_DB" "INSERT INTO er VALUES (1)" >/dev/null
	pgb_run reset
	assert_exit 0
	assert_eq 0 "$(q "$PGB_DB" 'SELECT count(*) FROM er')" "rows after reset (a new database)"
	PGBOOT_ENVIRONMENT=production pgb_run drop --force --confirm "$PGB_DB"
	assert_exit 0
	assert_eq 0 "$(db_exists "$PGB_DB")" "database after drop --force --confirm"
	pgb_run drop
	assert_exit 0
	assert_contains "$PGB_ERR" "database \"$PGB_DB\" does not exist: nothing to drop"
}

# Environment names compare without regard to case: pgboot.protect, the overlays, duplicates.
test_environments_names_ignore_case() {
	app_role
	pgb_run create
	assert_exit 0
	_ini $'[pgboot]\nprotect = staging, production\n[database]\nsslmode = disable'
	local env
	for env in Production PRODUCTION; do
		ENVIRONMENT=$env pgb_run drop
		assert_exit 77
		assert_contains "$PGB_ERR" "refusing to drop database \"$PGB_DB\" in protected environment \"$env\""
	done
	assert_eq 1 "$(db_exists "$PGB_DB")" "database after the refusals"
	# the overlay [create.production] applies to Production; protect's defaults too
	_ini $'[database]\nsslmode = disable\n[create.production]\nowner = nobody_here'
	APP_ENV=Production pgb_run config
	assert_exit 0
	assert_match "$PGB_OUT" '^create\.owner = nobody_here  \(entrypoint\.ini:4 \[create\.production\]\)$'
	assert_match "$PGB_OUT" '^create\.mode = never  \(default in protected environment "Production"\)$'
	# two overlay sections that differ only in case are one: a key in both is a duplicate
	_ini $'[create.production]\nmode = never\n[create.Production]\nmode = auto'
	pgb_run config
	assert_exit 78
	assert_contains "$PGB_ERR" 'entrypoint.ini:4: duplicate key "create.Production.mode" (first set on line 2)'
}

# A variable set but empty where the file needs a value is an error naming the file, the
# line and the variable; it used to leave the setting unset, so libpq took the user's name
# as the database's and pgboot created and migrated that one.
test_environments_variable_set_but_empty_is_78() {
	app_role
	unset PGBOOT_DATABASE_DBNAME
	migdir migrations 0001_a.sql 'CREATE TABLE ev (id int);'
	_ini $'[database]\ndbname = ${DB_NAME}\n[migrate]\ndir = ${MIG_DIR:-migrations}'
	DB_NAME='' pgb_run migrate
	assert_exit 78
	# shellcheck disable=SC2016 # pgboot's message quotes the ${...} syntax
	assert_contains "$PGB_ERR" 'entrypoint.ini:2: "database.dbname": environment variable "DB_NAME" is set but empty (set it, or write ${DB_NAME:-default})'
	assert_eq 0 "$(db_exists "$PGB_ROLE")" "database named after the user"
	# every key: those with a default too, and _file keys
	local key
	for key in 'database]\nuser' 'database]\nhost' 'database]\nmaintenance_db' 'create]\nowner' \
		'create]\ntemplate' 'migrate]\ndir' 'database]\npassword_file' 'pgboot]\nenvironment'; do
		_ini "$(printf '%b' "[$key") = \${EMPTY_ONE}"
		EMPTY_ONE='' pgb_run config
		assert_exit 78
		assert_contains "$PGB_ERR" 'entrypoint.ini:2: "'
		assert_contains "$PGB_ERR" 'environment variable "EMPTY_ONE" is set but empty'
		[[ ! -s $PGB_OUT ]] || fail "config printed settings"
	done
	# an empty line in the file is refused as well; ${VAR:-} leaves the setting unset on purpose
	_ini $'[create]\nowner ='
	pgb_run config
	assert_exit 78
	assert_contains "$PGB_ERR" 'entrypoint.ini:2: invalid value for "create.owner": "" (empty; remove the line to leave it unset)'
	_ini $'[create]\nowner = ${OWNER:-}'
	OWNER='' pgb_run config
	assert_exit 0
	assert_match "$PGB_OUT" '^create\.owner = \(unset\)'
	# in the environment an empty variable stays "unset", as documented
	_ini $'[database]\ndbname = '"$PGB_DB"
	PGBOOT_DATABASE_DBNAME='' pgb_run migrate
	assert_exit 0
	assert_eq 1 "$(db_exists "$PGB_DB")" "database named in the file"
	# a JSON secret with an empty dbname is refused too
	printf '{"username": "%s", "password": "app-pw", "dbname": ""}\n' "$PGB_ROLE" >"$PGB_WORK/secret.json"
	chmod 600 "$PGB_WORK/secret.json"
	pgb_run config --database-secret-file "$PGB_WORK/secret.json"
	assert_exit 78
	assert_contains "$PGB_ERR" "secret file \"$PGB_WORK/secret.json\": \"dbname\" is empty"
}

test_environments_drop_without_force_refuses_connected_sessions() {
	app_role
	pgb_run create
	# the app's own session (a role may end only its peers' sessions, not a superuser's),
	# longer than the 5 s DROP DATABASE waits for other sessions to leave; --force ends it
	PGDATABASE=$PGB_DB PGPASSWORD=app-pw "$PG_BIN/psql" -X -h "$PGB_HOST" -p "$PGB_PORT" \
		-U "$PGB_ROLE" -c 'SELECT pg_sleep(60)' >/dev/null 2>&1 &
	local t0
	t0=$(ms_now)
	# that session itself: pgboot's own backend may still be listed a moment after it exits
	until [[ $(q postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = :'d' AND query LIKE 'SELECT pg_sleep(60)%'" -v d="$PGB_DB") -ge 1 ]]; do
		(($(ms_now) - t0 < 5000)) || fail "the other session never connected"
		sleep 0.05
	done
	pgb_run drop
	assert_exit 65
	assert_contains "$PGB_ERR" 'hint: stop the sessions using it, or add --force to end them'
	pgb_run drop --force
	assert_exit 0
	assert_eq 0 "$(db_exists "$PGB_DB")" "database"
}

test_environments_json_secret_file() {
	mkrole "$PGB_ROLE" 'json-S3cret' CREATEDB
	clear_conn
	printf '{"engine": "postgres", "host": "127.0.0.1", "port": %s, "username": "%s",\n "password": "json-S3cret", "dbname": "%s"}\n' \
		"$PGB_PORT" "$PGB_ROLE" "$PGB_DB" >"$PGB_WORK/secret.json"
	chmod 600 "$PGB_WORK/secret.json"
	PGBOOT_DATABASE_SECRET_FILE=$PGB_WORK/secret.json pgb_run create --wait-timeout 5s
	assert_exit 0
	assert_eq 1 "$(db_exists "$PGB_DB")" "database"
	assert_not_contains "$PGB_ERR" 'json-S3cret'
	PGBOOT_DATABASE_SECRET_FILE=$PGB_WORK/secret.json pgb_run config
	assert_match "$PGB_OUT" '^database\.password = \*\*\*\*\*\*\*\*  \(database\.secret_file, env PGBOOT_DATABASE_SECRET_FILE\)$'
	assert_not_contains "$PGB_OUT" 'json-S3cret'
	# an explicit setting of the same tier wins over the secret's
	PGBOOT_DATABASE_SECRET_FILE=$PGB_WORK/secret.json PGBOOT_DATABASE_DBNAME=other pgb_run config
	assert_match "$PGB_OUT" '^database\.dbname = other  \(env PGBOOT_DATABASE_DBNAME\)$'
	printf '{"username": "u",\n "password": "json-S3cret",,\n}\n' >"$PGB_WORK/bad.json"
	PGBOOT_DATABASE_SECRET_FILE=$PGB_WORK/bad.json pgb_run wait
	assert_exit 78
	assert_contains "$PGB_ERR" "secret file \"$PGB_WORK/bad.json\" is not a JSON object (line 2)"
	assert_not_contains "$PGB_ERR" 'json-S3cret'
	printf '{"engine": "mysql", "username": "u"}\n' >"$PGB_WORK/mysql.json"
	PGBOOT_DATABASE_SECRET_FILE=$PGB_WORK/mysql.json pgb_run wait
	assert_exit 78
	assert_contains "$PGB_ERR" 'is for engine "mysql", not PostgreSQL'
}

test_environments_secret_file_permissions_are_warned_about() {
	app_role
	unset PGBOOT_DATABASE_PASSWORD
	printf 'app-pw\n' >"$PGB_WORK/pw"
	chmod 644 "$PGB_WORK/pw"
	PGBOOT_DATABASE_PASSWORD_FILE=$PGB_WORK/pw pgb_run create
	assert_exit 0
	assert_contains "$PGB_ERR" "warning: secret file \"$PGB_WORK/pw\" is readable by other users (mode 0644"
	# readable by the process's own group is fine (a Kubernetes secret with fsGroup)
	chmod 640 "$PGB_WORK/pw"
	chgrp "$(id -g)" "$PGB_WORK/pw"
	PGBOOT_DATABASE_PASSWORD_FILE=$PGB_WORK/pw pgb_run wait
	assert_not_contains "$PGB_ERR" 'readable by other users'
}

# _standby_start: a streaming replica of the current cluster (pg_basebackup), hot standby, on
# a port of its own; sets PGB_STANDBY_PORT and PGB_STANDBY_DATA. Stopped when the test ends.
_standby_start() {
	local dir
	need_tools pg_basebackup
	dir=$(mktemp -d "${TMPDIR:-/tmp}/pgboot-standby.XXXXXX")
	_pgb_register_dir "$dir"
	if ((EUID == 0)); then
		chown postgres: "$dir"
		chmod 700 "$dir"
	fi
	PGB_STANDBY_PORT=$(free_port)
	PGB_STANDBY_DATA=$dir/data
	PGPASSWORD=$PGB_SUPERPASS _pg_as "$PG_BIN/pg_basebackup" -h "$PGB_HOST" -p "$PGB_PORT" \
		-U postgres -D "$PGB_STANDBY_DATA" -R -X stream --checkpoint=fast >"$dir/basebackup.log" 2>&1 ||
		{ cat "$dir/basebackup.log"; fail "pg_basebackup failed"; }
	printf "port = %s\nunix_socket_directories = '%s'\n" "$PGB_STANDBY_PORT" "$dir" |
		_pg_as tee -a "$PGB_STANDBY_DATA/postgresql.conf" >/dev/null
	_pg_as "$PG_BIN/pg_ctl" -D "$PGB_STANDBY_DATA" -l "$dir/server.log" -w -t 60 start \
		>"$dir/pg_ctl.log" 2>&1 || { cat "$dir/pg_ctl.log" "$dir/server.log"; fail "the standby did not start"; }
}

test_environments_standby_is_refused_or_waited_for() {
	app_role
	migdir migrations 0001_a.sql 'CREATE TABLE sb1 (id int);'
	pgb_run migrate
	assert_exit 0
	printf '%s\n' 'CREATE TABLE sb2 (id int);' >migrations/0002_b.sql
	_standby_start
	assert_eq t "$(PGB_PORT=$PGB_STANDBY_PORT q "$PGB_DB" 'SELECT pg_is_in_recovery()')" "standby in recovery"
	pgb_run migrate --database-port "$PGB_STANDBY_PORT"
	assert_exit 69
	assert_contains "$PGB_ERR" "database \"$PGB_DB\" is on a read-only standby (in recovery): migrations need the primary"
	assert_contains "$PGB_ERR" 'wait.for_primary = true'
	# nothing pending: a standby is fine for a read-only start
	pgb_run status --database-port "$PGB_STANDBY_PORT"
	assert_exit 0
	pgb_bg migrate --database-port "$PGB_STANDBY_PORT" --wait-for-primary true --wait-timeout 30s
	sleep 1.5
	kill -0 "$PGB_PID" 2>/dev/null || { pgb_wait_pid 1; fail "pgboot did not wait for the promotion"; }
	_pg_as "$PG_BIN/pg_ctl" -D "$PGB_STANDBY_DATA" -w promote >/dev/null
	pgb_wait_pid 30
	assert_exit 0
	assert_contains "$PGB_ERR" 'is on a standby: waiting for it to be promoted'
	assert_eq t "$(PGB_PORT=$PGB_STANDBY_PORT table_exists "$PGB_DB" sb2)" "table on the promoted server"
}
