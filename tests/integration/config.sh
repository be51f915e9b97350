# shellcheck shell=bash
# config: precedence, ini files and their errors, secrets, connection settings, log format.

# _setting KEY: "VALUE|SOURCE" from the `section.key = value  (source)` line of the last
# `pgboot config` output (padding before "=" tolerated here; test_config_line_format is strict);
# fails the test when the line is missing or malformed
_setting() {
	local line
	line=$(grep -E "^$1 +=" "$PGB_OUT" | head -n 1) || true
	[[ -n $line ]] || fail "no line for $1 in the output of pgboot config"
	[[ $line =~ ^[a-z_.]+\ +=\ (.*)\ \ \((.*)\)$ ]] || fail "malformed config line: $line"
	echo "${BASH_REMATCH[1]}|${BASH_REMATCH[2]}"
}

# _assert_setting KEY VALUE SOURCE-ERE
_assert_setting() {
	local got
	got=$(_setting "$1")
	assert_eq "$2" "${got%%|*}" "value of $1"
	[[ ${got#*|} =~ $3 ]] || fail "source of $1 is \"${got#*|}\", expected one matching /$3/"
}

test_config_defaults() {
	clear_conn
	pgb_run config
	assert_exit 0
	_assert_setting database.connect_timeout 10s default
	_assert_setting database.application_name pgboot default
	_assert_setting database.maintenance_db postgres default
	_assert_setting wait.timeout 60s default
	_assert_setting wait.initial_delay 50ms default
	_assert_setting wait.max_delay 250ms default
	_assert_setting create.mode auto default
	_assert_setting migrate.dir migrations default
	_assert_setting migrate.table pgboot.migrations default
	_assert_setting migrate.lock_wait 10m default
	_assert_setting log.level info default
	_assert_setting log.format text default
}

test_config_line_format() {
	clear_conn
	export PGBOOT_WAIT_TIMEOUT=12s
	pgb_run config --log-level warn
	assert_exit 0
	# Every setting line is exactly `section.key = value  (source)`; "#" lines are tolerated.
	grep -v '^#' "$PGB_OUT" >"$PGB_WORK/settings" || true
	grep -vE '^[a-z_]+\.[a-z_]+ = [^ ].*  \([^()]+\)$' "$PGB_WORK/settings" >"$PGB_WORK/bad-lines" || true
	[[ ! -s $PGB_WORK/bad-lines ]] || {
		sed 's/^/    | /' "$PGB_WORK/bad-lines"
		fail "lines not of the form \`section.key = value  (source)\`"
	}
	assert_eq 61 "$(wc -l <"$PGB_WORK/settings")" "number of settings (README lists 61)"
	# entrypoint.ini documents every setting, in its section, set or commented out
	local key section name
	while read -r key _; do
		section=${key%%.*} name=${key#*.}
		awk -v s="[$section]" -v k="$name" '
			/^\[/ { in_s = ($0 == s) }
			in_s && $0 ~ "^;?" k " =" { found = 1 }
			END { exit !found }' "$PGB_TOP/entrypoint.ini" ||
			fail "entrypoint.ini does not document $key"
	done <"$PGB_WORK/settings"
	assert_match "$PGB_OUT" '^wait\.timeout = 12s  \(.*\)$'
	assert_match "$PGB_OUT" '^log\.level = warn  \(.*\)$'
}

test_config_precedence_flags_env_ini_defaults() {
	clear_conn
	cat >entrypoint.ini <<-'EOF'
		; set in the ini file
		[wait]
		timeout = 11s
		max_delay = 300ms
		initial_delay = 70ms

		[log]
		level = warn
	EOF
	export PGBOOT_WAIT_TIMEOUT=12s PGBOOT_WAIT_MAX_DELAY=400ms
	pgb_run config --wait-timeout 13s
	assert_exit 0
	_assert_setting wait.timeout 13s 'flag|--wait-timeout|command'
	_assert_setting wait.max_delay 400ms 'PGBOOT_WAIT_MAX_DELAY|env'
	_assert_setting wait.initial_delay 70ms 'entrypoint\.ini'
	_assert_setting log.level warn 'entrypoint\.ini'
	_assert_setting create.mode auto default
	pgb_run config --wait-timeout=14s
	assert_exit 0
	_assert_setting wait.timeout 14s 'flag|--wait-timeout|command'
}

test_config_file_selection() {
	clear_conn
	mkdir conf
	printf '[wait]\ntimeout = 21s\n' >entrypoint.ini
	printf '[wait]\ntimeout = 22s\n' >conf/from-env.ini
	printf '[wait]\ntimeout = 23s\n' >conf/from-flag.ini
	pgb_run config
	assert_exit 0
	_assert_setting wait.timeout 21s 'entrypoint\.ini'
	export PGBOOT_CONFIG=$PWD/conf/from-env.ini
	pgb_run config
	assert_exit 0
	_assert_setting wait.timeout 22s 'from-env\.ini'
	pgb_run config --config conf/from-flag.ini
	assert_exit 0
	_assert_setting wait.timeout 23s 'from-flag\.ini'
	pgb_run -c conf/from-flag.ini config
	assert_exit 0
	_assert_setting wait.timeout 23s 'from-flag\.ini'
}

test_config_missing_config_file_is_78() {
	clear_conn
	pgb_run config --config "$PGB_WORK/no-such.ini"
	assert_exit 78
	assert_contains "$PGB_ERR" "$PGB_WORK/no-such.ini"
}

test_config_unknown_key_is_78_with_file_and_line() {
	clear_conn
	printf '; comment\n[wait]\ntimeout = 5s\n\nbogus = 1\n' >"$PGB_WORK/bad.ini"
	pgb_run config --config "$PGB_WORK/bad.ini"
	assert_exit 78
	assert_contains "$PGB_ERR" "$PGB_WORK/bad.ini:5: unknown key \"wait.bogus\""
	use_conn "$PGB_ROLE" app-pw "$PGB_DB"
	pgb_run wait --config "$PGB_WORK/bad.ini" --wait-timeout 30s
	assert_exit 78
	assert_contains "$PGB_ERR" "$PGB_WORK/bad.ini:5: unknown key \"wait.bogus\""
	assert_lt "$PGB_ELAPSED_MS" 3000 "ms before failing"
}

test_config_unknown_section_is_78_with_file_and_line() {
	clear_conn
	printf '[wait]\ntimeout = 5s\n[nope]\nx = 1\n' >"$PGB_WORK/bad.ini"
	pgb_run config --config "$PGB_WORK/bad.ini"
	assert_exit 78
	assert_contains "$PGB_ERR" "$PGB_WORK/bad.ini:3: unknown section \"[nope]\""
}

test_config_bad_duration_in_ini_is_78_with_file_and_line() {
	clear_conn
	local bad
	for bad in 10 abc 5parsecs -1s; do
		printf '[database]\nhost = 127.0.0.1\n[wait]\ntimeout = %s\n' "$bad" >"$PGB_WORK/bad.ini"
		pgb_run config --config "$PGB_WORK/bad.ini"
		assert_exit 78
		assert_contains "$PGB_ERR" "$PGB_WORK/bad.ini:4: invalid value for \"wait.timeout\""
	done
}

test_config_bad_duration_in_flag_and_env_is_78() {
	clear_conn
	pgb_run config --wait-timeout 10
	assert_exit 78
	assert_contains "$PGB_ERR" 'invalid value for "wait.timeout"'
	export PGBOOT_WAIT_TIMEOUT=abc
	pgb_run config
	assert_exit 78
	assert_contains "$PGB_ERR" 'invalid value for "wait.timeout"'
}

test_config_valid_durations() {
	clear_conn
	local d
	for d in 250ms 30s 5m 1h 1m30s 0; do
		pgb_run config --wait-timeout "$d"
		assert_exit 0
	done
}

test_config_bad_enumerations_are_78() {
	clear_conn
	pgb_run config --create-mode sometimes
	assert_exit 78
	pgb_run config --log-level loud
	assert_exit 78
	pgb_run config --log-format xml
	assert_exit 78
	pgb_run config --database-sslmode bogus
	assert_exit 78
}

# _assert_secret_hidden SECRET: the secret appears in neither stdout nor stderr of the last run
_assert_secret_hidden() {
	assert_not_contains "$PGB_OUT" "$1"
	assert_not_contains "$PGB_ERR" "$1"
}

test_config_never_prints_passwords() {
	clear_conn
	local level
	for level in info debug; do
		export PGBOOT_LOG_LEVEL=$level
		PGBOOT_DATABASE_URL='postgres://u:UrlS3cret-a1@127.0.0.1:5432/db' pgb_run config
		assert_exit 0
		_assert_secret_hidden UrlS3cret-a1
		assert_contains "$PGB_OUT" 'postgres://u:********@127.0.0.1:5432/db'

		DATABASE_URL='postgresql://u:DbUrlS3cret-d4@127.0.0.1/db?sslmode=disable' pgb_run config
		assert_exit 0
		_assert_secret_hidden DbUrlS3cret-d4

		PGBOOT_DATABASE_URL='host=127.0.0.1 user=u password=KvS3cret-f6 dbname=db' pgb_run config
		assert_exit 0
		_assert_secret_hidden KvS3cret-f6

		printf '[database]\npassword = IniS3cret-b2\n' >"$PGB_WORK/pw.ini"
		pgb_run config --config "$PGB_WORK/pw.ini"
		assert_exit 0
		_assert_secret_hidden IniS3cret-b2
		_assert_setting database.password '********' 'pw\.ini'

		PGBOOT_DATABASE_PASSWORD=EnvS3cret-c3 pgb_run config
		assert_exit 0
		_assert_secret_hidden EnvS3cret-c3
		_assert_setting database.password '********' 'PGBOOT_DATABASE_PASSWORD|env'

		pgb_run config --database-password FlagS3cret-e5
		assert_exit 0
		_assert_secret_hidden FlagS3cret-e5

		printf 'FileS3cret-g7\n' >"$PGB_WORK/pwfile"
		pgb_run config --database-password-file "$PGB_WORK/pwfile"
		assert_exit 0
		_assert_secret_hidden FileS3cret-g7
	done
}

test_config_passwords_not_logged_while_connecting() {
	clear_conn
	local port fmt
	port=$(free_port)
	for fmt in text json; do
		pgb_run wait --log-level debug --log-format "$fmt" --wait-timeout 1s \
			--database-url "postgres://u:UrlS3cret-h8@127.0.0.1:$port/db"
		assert_exit 69
		_assert_secret_hidden UrlS3cret-h8
		PGBOOT_DATABASE_PASSWORD=EnvS3cret-i9 pgb_run wait --log-level debug --log-format "$fmt" \
			--wait-timeout 1s --database-host 127.0.0.1 --database-port "$port"
		assert_exit 69
		_assert_secret_hidden EnvS3cret-i9
	done
}

test_config_database_url_is_used() {
	clear_conn
	local pw='p@ss:w/rd%?&'
	mkrole "$PGB_ROLE" "$pw" CREATEDB
	export DATABASE_URL="postgres://$PGB_ROLE:p%40ss%3Aw%2Frd%25%3F%26@127.0.0.1:$PGB_PORT/${PGB_DB}_a"
	pgb_run create --wait-timeout 5s
	assert_exit 0
	assert_contains "$PGB_ERR" "created database \"${PGB_DB}_a\""
	assert_eq 1 "$(db_exists "${PGB_DB}_a")" "database from DATABASE_URL exists"
	_assert_secret_hidden "$pw"
	# PGBOOT_DATABASE_URL wins over DATABASE_URL (which now points nowhere).
	local nowhere
	nowhere=$(free_port)
	export DATABASE_URL="postgres://$PGB_ROLE:wrong@127.0.0.1:$nowhere/${PGB_DB}_x"
	export PGBOOT_DATABASE_URL="postgresql://$PGB_ROLE:p%40ss%3Aw%2Frd%25%3F%26@127.0.0.1:$PGB_PORT/${PGB_DB}_b"
	pgb_run create --wait-timeout 5s
	assert_exit 0
	assert_eq 1 "$(db_exists "${PGB_DB}_b")" "database from PGBOOT_DATABASE_URL exists"
	assert_eq 0 "$(db_exists "${PGB_DB}_x")" "database from DATABASE_URL exists"
	# A key=value conninfo works too.
	unset DATABASE_URL PGBOOT_DATABASE_URL
	pgb_run create --wait-timeout 5s --database-url \
		"host=127.0.0.1 port=$PGB_PORT user=$PGB_ROLE password='p@ss:w/rd%?&' dbname=${PGB_DB}_c"
	assert_exit 0
	assert_eq 1 "$(db_exists "${PGB_DB}_c")" "database from the conninfo string exists"
}

test_config_libpq_environment_is_used() {
	clear_conn
	mkrole "$PGB_ROLE" libpq-pw CREATEDB
	export PGHOST=127.0.0.1 PGPORT=$PGB_PORT PGUSER=$PGB_ROLE PGPASSWORD=libpq-pw PGDATABASE=$PGB_DB
	pgb_run create --wait-timeout 5s
	assert_exit 0
	assert_eq 1 "$(db_exists "$PGB_DB")" "database exists"
}

test_config_password_file_is_used() {
	mkrole "$PGB_ROLE" 'file pw' CREATEDB
	use_conn "$PGB_ROLE" unused "${PGB_DB}_a"
	unset PGBOOT_DATABASE_PASSWORD
	printf 'file pw\n' >"$PGB_WORK/pwfile"
	pgb_run create --database-password-file "$PGB_WORK/pwfile" --wait-timeout 5s
	assert_exit 0
	assert_eq 1 "$(db_exists "${PGB_DB}_a")" "database exists"
	export PGBOOT_DATABASE_PASSWORD_FILE=$PGB_WORK/pwfile PGBOOT_DATABASE_DBNAME=${PGB_DB}_b
	pgb_run create --wait-timeout 5s
	assert_exit 0
	assert_eq 1 "$(db_exists "${PGB_DB}_b")" "database exists"
	printf '[database]\npassword_file = %s\n' "$PGB_WORK/pwfile" >entrypoint.ini
	unset PGBOOT_DATABASE_PASSWORD_FILE
	export PGBOOT_DATABASE_DBNAME=${PGB_DB}_c
	pgb_run create --wait-timeout 5s
	assert_exit 0
	assert_eq 1 "$(db_exists "${PGB_DB}_c")" "database exists"
}

test_config_application_name_reaches_the_server() {
	app_role
	migdir migrations 0001_name.sql "CREATE TABLE seen AS SELECT current_setting('application_name') AS name;"
	pgb_run migrate
	assert_exit 0
	assert_eq pgboot "$(q "$PGB_DB" 'SELECT name FROM seen')" "application_name seen by the server (default)"
	pgb_run migrate --database-dbname "${PGB_DB}_b" --database-application-name custom-app
	assert_exit 0
	assert_eq custom-app "$(q "${PGB_DB}_b" 'SELECT name FROM seen')" "application_name seen by the server"
}

test_log_level_error_is_quiet_on_success() {
	mkrole "$PGB_ROLE" app-pw
	use_conn "$PGB_ROLE" app-pw postgres
	pgb_run wait --log-level error
	assert_exit 0
	[[ ! -s $PGB_ERR ]] || fail "log.level=error printed something on success"
	PGBOOT_LOG_LEVEL=warn pgb_run wait
	assert_exit 0
	[[ ! -s $PGB_ERR ]] || fail "log.level=warn printed something on success"
}

test_log_text_lines_have_the_contract_shape() {
	app_role
	migdir migrations \
		0001_ok.sql 'CREATE TABLE t_ok (id int);' \
		0002_bad.sql 'INSERT INTO nowhere VALUES (1);'
	pgb_run migrate --log-level debug
	assert_exit 65
	assert_match "$PGB_ERR" '^pgboot: info: '
	assert_match "$PGB_ERR" '^pgboot: error: '
	grep -vE '^pgboot: (debug|info|warning|error|detail|hint): ' "$PGB_ERR" >"$PGB_WORK/odd" || true
	[[ ! -s $PGB_WORK/odd ]] || {
		sed 's/^/    | /' "$PGB_WORK/odd"
		fail "stderr lines not of the form \`pgboot: LEVEL: message\`"
	}
}

# _assert_json_lines FILE [KEY=VALUE...]: every line of FILE is a JSON object with time, level
# and msg; with KEY=VALUE arguments, some line must have all of them (values compared as text,
# "msg" by substring)
_assert_json_lines() {
	local file=$1
	shift
	python3 -c '
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[1:])
lines = sys.stdin.read().splitlines()
if not lines:
    sys.exit("no log lines")
objs = [json.loads(l) for l in lines]
for o in objs:
    if not isinstance(o, dict):
        sys.exit("not an object: %r" % (o,))
    for k in ("time", "level", "msg"):
        if k not in o:
            sys.exit("missing %r in %r" % (k, o))
def ok(o):
    for k, v in want.items():
        if k not in o:
            return False
        if k == "msg":
            if v not in str(o[k]):
                return False
        elif str(o[k]) != v:
            return False
    return True
if want and not any(ok(o) for o in objs):
    sys.exit("no line has %r" % (want,))
' "$@" <"$file" || fail "stderr is not the expected JSON lines"
}

test_config_json_log_lines_parse() {
	mkrole "$PGB_ROLE" app-pw
	use_conn "$PGB_ROLE" app-pw postgres
	pgb_run wait --log-format json
	assert_exit 0
	python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <"$PGB_ERR" ||
		fail "stderr is not one JSON object per line"
	_assert_json_lines "$PGB_ERR" 'msg=database "postgres" is ready'
}

test_config_json_log_for_a_failed_migration() {
	app_role
	migdir migrations \
		0001_ok.sql 'CREATE TABLE j_ok (id int);' \
		0002_bad.sql $'CREATE TABLE j_bad (id int);\nINSERT INTO j_bad VALUES (1);\nINSERT INTO j_bad VALUS (2);'
	PGBOOT_LOG_FORMAT=json pgb_run migrate
	assert_exit 65
	_assert_json_lines "$PGB_ERR" sqlstate=42601 line=3 column=19
	_assert_json_lines "$PGB_ERR" level=error 'msg=syntax error at or near "VALUS"'
	grep -F '0002_bad.sql' "$PGB_ERR" >/dev/null || fail "no JSON line names 0002_bad.sql"
}
