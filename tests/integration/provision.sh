# shellcheck shell=bash
# provision: with an admin connection ([admin]), pgboot makes the application's role, a
# read-only role, the database, extensions, schemas and grants ([provision]), idempotently,
# serialized between runners, with passwords sent only as SCRAM verifiers.

# Passwords with a "-", "_" or "." in every 4 characters: no piece of them can appear in a
# SCRAM verifier (base64) or in anything else pgboot or the server prints by chance.
_APP_PW="Zq7-Xk2_Pw9.Rt4-Vb8_"
_RO_PW="Hm3.Jd6-Ls1_Cn5.Gf0-"
_ADMIN_PW="Wy4_Tb7.Qe2-Nu9_Ka3."
pgb_guard_secrets "$_APP_PW" "$_RO_PW" "$_ADMIN_PW"
pgb_guard_secret_fragments "$_APP_PW" "$_RO_PW" "$_ADMIN_PW"

# _setup ADMIN: every statement logged by the server; the target is $PGB_ROLE / $PGB_DB,
# which do not exist; the admin is the superuser (super) or a CREATEROLE CREATEDB role.
_setup() {
	psql_super -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
	use_conn "$PGB_ROLE" "$_APP_PW" "$PGB_DB"
	export PGBOOT_PROVISION_READONLY_ROLE="${PGB_ROLE}_ro" PGBOOT_PROVISION_READONLY_PASSWORD="$_RO_PW"
	export PGBOOT_PROVISION_EXTENSIONS=pgcrypto PGBOOT_PROVISION_SCHEMAS=app_data
	if [[ $1 == super ]]; then
		export PGBOOT_ADMIN_USER=postgres PGBOOT_ADMIN_PASSWORD=$PGB_SUPERPASS
	else
		mkrole "${PGB_ROLE}_admin" "$_ADMIN_PW" CREATEROLE CREATEDB
		export PGBOOT_ADMIN_USER="${PGB_ROLE}_admin" PGBOOT_ADMIN_PASSWORD=$_ADMIN_PW
	fi
}

# _as ROLE PASSWORD SQL: run SQL in $PGB_DB as ROLE; prints the result, fails like psql
_as() {
	PGPASSWORD=$2 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h "$PGB_HOST" -p "$PGB_PORT" \
		-U "$1" -d "$PGB_DB" -c "$3"
}

# _check_provisioned: roles, database, extension, schema and grants as configured
_check_provisioned() {
	local ro="${PGB_ROLE}_ro"
	assert_eq "t|f|f|f|f" "$(q postgres "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication
		FROM pg_roles WHERE rolname = :'r'" -v r="$PGB_ROLE")" "login|super|createdb|createrole|replication of the app role"
	assert_eq "t|f" "$(q postgres "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = :'r'" -v r="$ro")" \
		"login|super of the read-only role"
	assert_eq "$PGB_ROLE" "$(q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'d'" -v d="$PGB_DB")" \
		"owner of the database"
	assert_eq "pgcrypto" "$(q "$PGB_DB" "SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'")" "extension"
	assert_eq "$PGB_ROLE" "$(q "$PGB_DB" "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'app_data'")" \
		"owner of the schema"
	assert_eq "$PGB_ROLE" "$(q "$PGB_DB" "SELECT tableowner FROM pg_tables WHERE tablename = 't1'")" \
		"owner of the migration's table (migrations run as the app role)"
	# the passwords work: the server got their verifiers
	assert_eq 1 "$(_as "$ro" "$_RO_PW" "SELECT count(*) FROM app_data.t1")" "rows the read-only role reads"
	assert_eq "$PGB_ROLE" "$(_as "$PGB_ROLE" "$_APP_PW" "SELECT current_user")" "app role logs in"
	if _as "$ro" "$_RO_PW" "INSERT INTO app_data.t1 VALUES (2)" 2>"$PGB_WORK/denied"; then
		fail "the read-only role could write"
	fi
	assert_contains "$PGB_WORK/denied" "permission denied"
}

# _check_server_log: no password, nor any 4-character piece of one, reached the server's log
_check_server_log() {
	local s
	assert_contains "$PGB_LOG" "CREATE ROLE \"$PGB_ROLE\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD 'SCRAM-SHA-256\$"
	for s in "$_APP_PW" "$_RO_PW"; do
		_pgb_fragments "$s" >"$PGB_WORK/.server-fragments"
		if grep -F -f "$PGB_WORK/.server-fragments" "$PGB_LOG"; then
			fail "the server log holds (a piece of) the password $s"
		fi
	done
}

# _full_run ADMIN: a fresh target provisioned and migrated; then a later migration's table
# is readable by the read-only role through the default privileges, and a rerun changes nothing
_full_run() {
	_setup "$1"
	# the admin's sessions (not the replication launcher's: it has no database) while the
	# migration runs: none (a closed one's backend may take a moment to exit; one still
	# there after 5 s was not closed)
	migdir migrations 0001_t1.sql "CREATE TABLE app_data.t1 (id int); INSERT INTO app_data.t1 VALUES (1);
DO \$\$ BEGIN FOR i IN 1..50 LOOP EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity
WHERE usename = '$PGBOOT_ADMIN_USER' AND datname IS NOT NULL); PERFORM pg_sleep(0.1);
PERFORM pg_stat_clear_snapshot(); END LOOP; END \$\$;
CREATE TABLE admin_sessions AS SELECT count(*) AS n FROM pg_stat_activity WHERE usename = '$PGBOOT_ADMIN_USER'
AND datname IS NOT NULL;"
	pgb_run migrate
	assert_exit 0
	assert_eq 0 "$(q "$PGB_DB" 'SELECT n FROM admin_sessions')" "admin sessions open during the migration"
	assert_contains "$PGB_ERR" "provisioned database \"$PGB_DB\": created role \"$PGB_ROLE\", created role \"${PGB_ROLE}_ro\""
	assert_contains "$PGB_ERR" "created extension \"pgcrypto\", created schema \"app_data\", granted read access to role \"${PGB_ROLE}_ro\""
	_check_provisioned
	printf 'CREATE TABLE app_data.t2 (id int);\nINSERT INTO app_data.t2 VALUES (7);\nCREATE TABLE t3 (id int);\n' \
		>migrations/0002_t2.sql
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" "provisioned already: roles, database \"$PGB_DB\", extensions, schemas and grants are in place; nothing changed"
	assert_eq 1 "$(count_matches "$PGB_ERR" provision)" "provisioning lines in the rerun"
	assert_eq 7 "$(_as "${PGB_ROLE}_ro" "$_RO_PW" "SELECT id FROM app_data.t2")" "later table read by the read-only role"
	assert_eq 0 "$(_as "${PGB_ROLE}_ro" "$_RO_PW" "SELECT count(*) FROM t3")" "later table in public"
	if _as "${PGB_ROLE}_ro" "$_RO_PW" "INSERT INTO app_data.t2 VALUES (8)" 2>/dev/null; then
		fail "the read-only role could write to a later table"
	fi
	_check_server_log
}

test_provision_superuser_admin_fresh_then_rerun() {
	_full_run super
	pgb_run provision --dry-run
	assert_exit 0
	assert_eq "" "$(cat "$PGB_OUT")" "SQL a dry run prints when everything is in place"
	assert_contains "$PGB_ERR" "dry run: provisioned already, nothing would change"
}

test_provision_createrole_createdb_admin_fresh_then_rerun() {
	_full_run createrole
	assert_eq "t" "$(q postgres "SELECT pg_has_role(:'a', :'r', 'MEMBER')" -v a="${PGB_ROLE}_admin" -v r="$PGB_ROLE")" \
		"the admin is a member of the app role"
	assert_eq "f|t|t" "$(q postgres "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = :'a'" \
		-v a="${PGB_ROLE}_admin")" "the admin's own attributes"
}

test_provision_command_alone_then_run_without_admin() {
	_setup super
	pgb_run provision
	assert_exit 0
	assert_contains "$PGB_ERR" "created database \"$PGB_DB\""
	assert_not_contains "$PGB_ERR" "migrat"
	unset PGBOOT_ADMIN_USER PGBOOT_ADMIN_PASSWORD
	migdir migrations 0001_t1.sql "CREATE TABLE app_data.t1 (id int); INSERT INTO app_data.t1 VALUES (1);"
	pgb_run run -- true
	assert_exit 0
	assert_not_contains "$PGB_ERR" "provision"
	_check_provisioned
}

test_provision_ten_runners_at_once() {
	_setup createrole
	migdir migrations 0001_t1.sql "CREATE TABLE app_data.t1 (id int); INSERT INTO app_data.t1 VALUES (1);"
	pgb_runners 10 migrate
	local what
	for what in "created role \"$PGB_ROLE\"" "created role \"${PGB_ROLE}_ro\"" "created database \"$PGB_DB\"" \
		'created extension "pgcrypto"' 'created schema "app_data"' "granted read access"; do
		assert_eq 1 "$(cat "$PGB_WORK"/err.* | grep -F "provisioned database" | grep -cF "$what")" "runners that $what"
	done
	assert_eq 9 "$(cat "$PGB_WORK"/err.* | grep -cF 'nothing changed')" "runners that found everything in place"
	_check_provisioned
}

test_provision_dry_run_prints_sql_without_passwords() {
	_setup super
	pgb_run migrate --dry-run
	assert_exit 0
	assert_contains "$PGB_OUT" "CREATE ROLE \"$PGB_ROLE\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD '********';"
	assert_contains "$PGB_OUT" "CREATE DATABASE \"$PGB_DB\" OWNER \"$PGB_ROLE\";"
	assert_contains "$PGB_OUT" "CREATE EXTENSION IF NOT EXISTS \"pgcrypto\";"
	assert_contains "$PGB_OUT" "CREATE SCHEMA IF NOT EXISTS \"app_data\" AUTHORIZATION \"$PGB_ROLE\";"
	assert_contains "$PGB_OUT" "ALTER DEFAULT PRIVILEGES FOR ROLE \"$PGB_ROLE\" IN SCHEMA \"app_data\" GRANT SELECT ON TABLES TO \"${PGB_ROLE}_ro\";"
	assert_contains "$PGB_ERR" "every migration would be applied"
	assert_eq 0 "$(db_exists "$PGB_DB")" "database exists after the dry run"
	assert_eq 0 "$(q postgres "SELECT count(*) FROM pg_roles WHERE rolname = :'r'" -v r="$PGB_ROLE")" "role exists after the dry run"
	pgb_run config
	assert_contains "$PGB_OUT" "admin.password = ********"
	assert_contains "$PGB_OUT" "provision.readonly_password = ********"
}

test_provision_create_owner_overrides_the_owner() {
	_setup createrole
	mkrole "${PGB_ROLE}_owner" "$_ADMIN_PW"
	unset PGBOOT_PROVISION_SCHEMAS PGBOOT_PROVISION_READONLY_ROLE PGBOOT_PROVISION_EXTENSIONS
	pgb_run provision --create-owner "${PGB_ROLE}_owner" --create-template template0 --create-encoding LATIN1
	assert_exit 0
	assert_eq "${PGB_ROLE}_owner|LATIN1" "$(q postgres "SELECT pg_get_userbyid(datdba) || '|' || pg_encoding_to_char(encoding)
		FROM pg_database WHERE datname = :'d'" -v d="$PGB_DB")" "owner|encoding of the database"
	assert_contains "$PGB_ERR" "made the admin a member of role \"${PGB_ROLE}_owner\""
}

test_provision_non_superuser_admin_without_createdb_is_77() {
	_setup super
	mkrole "${PGB_ROLE}_weak" "$_ADMIN_PW" CREATEROLE
	export PGBOOT_ADMIN_USER="${PGB_ROLE}_weak" PGBOOT_ADMIN_PASSWORD=$_ADMIN_PW
	pgb_run provision
	assert_exit 77
	assert_contains "$PGB_ERR" "admin role \"${PGB_ROLE}_weak\" may not create database \"$PGB_DB\": it needs CREATEDB (or superuser)"
	# checked before anything is made: nothing half-done
	assert_eq 0 "$(db_exists "$PGB_DB")" "database exists"
	assert_eq 0 "$(q postgres "SELECT count(*) FROM pg_roles WHERE rolname IN (:'r', :'r' || '_ro')" -v r="$PGB_ROLE")" "roles made"
	mkrole "${PGB_ROLE}_dbonly" "$_ADMIN_PW" CREATEDB
	export PGBOOT_ADMIN_USER="${PGB_ROLE}_dbonly"
	pgb_run provision
	assert_exit 77
	assert_contains "$PGB_ERR" "admin role \"${PGB_ROLE}_dbonly\" may not create role \"$PGB_ROLE\": it needs CREATEROLE (or superuser)"
	assert_eq 0 "$(q postgres "SELECT count(*) FROM pg_roles WHERE rolname = :'r'" -v r="$PGB_ROLE")" "role exists"
}

test_provision_role_none_and_unavailable_extension() {
	_setup super
	pgb_run provision --provision-role none
	assert_exit 78
	assert_contains "$PGB_ERR" "role \"$PGB_ROLE\" does not exist and \"provision.role\" is none"
	export PGBOOT_PROVISION_EXTENSIONS=pgcrypto,postgis
	pgb_run provision
	assert_exit 78
	assert_contains "$PGB_ERR" 'extension "postgis" is not available'
	# what was made before stays, and a run with what the server has completes it
	export PGBOOT_PROVISION_EXTENSIONS=pgcrypto
	pgb_run provision
	assert_exit 0
	assert_contains "$PGB_ERR" 'provisioned database'
	assert_contains "$PGB_ERR" 'granted read access'
	assert_not_contains "$PGB_ERR" 'created role'
}

test_provision_existing_role_warned_not_changed() {
	_setup super
	mkrole "$PGB_ROLE" other-pw CREATEDB
	pgb_run provision
	assert_exit 0
	assert_contains "$PGB_ERR" "role \"$PGB_ROLE\" exists with CREATEDB, not as \"provision.role_attributes\" says: left unchanged"
	assert_eq "t" "$(q postgres "SELECT rolcreatedb FROM pg_roles WHERE rolname = :'r'" -v r="$PGB_ROLE")" "CREATEDB kept"
	# password_update = never (the default): the old password still works, the configured one not
	assert_eq "$PGB_ROLE" "$(_as "$PGB_ROLE" other-pw "SELECT current_user")" "old password"
	pgb_run provision --provision-password-update always
	assert_exit 0
	assert_contains "$PGB_ERR" "set the password of role \"$PGB_ROLE\""
	assert_eq "$PGB_ROLE" "$(_as "$PGB_ROLE" "$_APP_PW" "SELECT current_user")" "new password"
}

test_provision_app_environment_holds_no_admin_secret() {
	_setup super
	printf '%s\n' "$PGB_SUPERPASS" >"$PGB_WORK/admin-pw"
	chmod 600 "$PGB_WORK/admin-pw"
	unset PGBOOT_ADMIN_PASSWORD
	export PGBOOT_ADMIN_PASSWORD_FILE=$PGB_WORK/admin-pw KEEP_ME=yes
	# the names only: the values hold other tests' secrets
	pgb_run run -- sh -c 'env | cut -d= -f1'
	assert_exit 0
	assert_not_contains "$PGB_OUT" "PGBOOT_ADMIN_"
	assert_not_contains "$PGB_OUT" "PGBOOT_PROVISION_READONLY_PASSWORD"
	assert_contains "$PGB_OUT" "KEEP_ME"
	assert_contains "$PGB_OUT" "PGBOOT_DATABASE_PASSWORD"
	# the same as the container's init
	pgb_run run --exec-init on -- sh -c 'env | cut -d= -f1'
	assert_contains "$PGB_OUT" "KEEP_ME"
	assert_exit 0
	assert_not_contains "$PGB_OUT" "PGBOOT_ADMIN_"
}

test_provision_protected_environment_without_admin_unchanged() {
	mkrole "$PGB_ROLE" "$_APP_PW"
	psql_super -v d="$PGB_DB" -v o="$PGB_ROLE" <<<'CREATE DATABASE :"d" OWNER :"o";'
	use_conn "$PGB_ROLE" "$_APP_PW" "$PGB_DB"
	export PGBOOT_ENVIRONMENT=production PGBOOT_DATABASE_SSLMODE=disable
	export PGBOOT_PROVISION_READONLY_ROLE="${PGB_ROLE}_ro" PGBOOT_PROVISION_SCHEMAS=app_data
	migdir migrations 0001_t.sql "CREATE TABLE t (id int);"
	pgb_run run -- true
	assert_exit 0
	assert_not_contains "$PGB_ERR" "provision"
	assert_eq t "$(table_exists "$PGB_DB" public.t)" "migrated"
	assert_eq 0 "$(q postgres "SELECT count(*) FROM pg_roles WHERE rolname = :'r'" -v r="${PGB_ROLE}_ro")" "read-only role"
	pgb_run provision
	assert_exit 78
	assert_contains "$PGB_ERR" 'no admin connection to provision with'
}

# The preview recipe of docs/deployment.md with k8s/overlays/preview/entrypoint.ini: once,
# the admin makes the shared preview role (CREATEDB) and the template database, which is
# migrated as that role; then each branch's pods create their database from the template
# without any admin setting.
test_provision_preview_recipe_shared_role_and_template() {
	local ini=$PGB_TOP/k8s/overlays/preview/entrypoint.ini
	clear_conn
	export PGBOOT_CONFIG=$ini PGBOOT_ENVIRONMENT=preview GIT_BRANCH=feature/Provision-1
	export PGBOOT_DATABASE_HOST=$PGB_HOST PGBOOT_DATABASE_PORT=$PGB_PORT PGBOOT_DATABASE_USER=app
	export PGBOOT_DATABASE_PASSWORD=$_APP_PW PGBOOT_MIGRATE_DIR=$PGB_TOP/migrations PGBOOT_WAIT_TIMEOUT=10s
	pgb_run provision --admin-user postgres --admin-password-file <(printf '%s\n' "$PGB_SUPERPASS") \
		--database-dbname app_template --create-template template1
	assert_exit 0
	assert_contains "$PGB_ERR" 'created role "app", created database "app_template"'
	assert_eq "t|f" "$(q postgres "SELECT rolcreatedb, rolsuper FROM pg_roles WHERE rolname = 'app'")" "createdb|super of the preview role"
	pgb_run migrate --database-dbname app_template --create-template template1
	assert_exit 0
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'created database "feature_provision_1_app"'
	assert_eq "app" "$(q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'feature_provision_1_app'")" \
		"owner of the branch's database"
	assert_eq "$(history app_template)" "$(history feature_provision_1_app)" "history copied from the template"
	[[ -n $(history feature_provision_1_app) ]] || fail "no migrations in the template"
}

test_provision_admin_settings_refused_naming_the_admin_key() {
	_setup super
	unset PGBOOT_ADMIN_USER PGBOOT_ADMIN_PASSWORD
	pgb_run provision --admin-host "$PGB_HOST"
	assert_exit 78
	assert_contains "$PGB_ERR" '"admin.user" is not set: the admin connection needs a user'
	export PGBOOT_ADMIN_URL="postgres://postgres:$_ADMIN_PW@x@$PGB_HOST:$PGB_PORT/postgres"
	pgb_run provision
	assert_exit 78
	assert_contains "$PGB_ERR" 'env PGBOOT_ADMIN_URL: invalid value for "admin.url": the part before the host holds more than one "@"'
	unset PGBOOT_ADMIN_URL
	pgb_run provision --admin-user postgres --admin-sslrootcert /nonexistent/ca.crt
	assert_exit 78
	assert_contains "$PGB_ERR" '"admin.sslrootcert" file "/nonexistent/ca.crt" cannot be read'
	assert_eq 0 "$(db_exists "$PGB_DB")" "database exists"
}
