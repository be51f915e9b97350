# shellcheck shell=bash
# migrate: discovery, ordering, history with checksums, failures, concurrency, signals, status.

# _expected_history DIR FILE...: the history rows the files must produce, "version|name|checksum"
_expected_history() {
	local dir=$1 f
	shift
	for f in "$@"; do
		printf '%d|%s|%s\n' "$((10#${f%%_*}))" "$f" "$(sha "$dir/$f")"
	done
}

# _applying: the file names of the "applying ... NAME" lines of the last run, comma-separated
# (tolerant of words between "applying" and the name; the exact `applying NAME` substring of the
# contract is asserted by test_migrate_fresh_apply_with_history_and_checksums)
_applying() {
	{ grep -oE 'applying .*[^ ]+\.sql' "$PGB_ERR" || true; } | awk '{ print $NF }' | paste -sd, -
}

# _status_lines: "WORD NAME" of each status line of the last run, sorted by file name
_status_lines() {
	{ grep -E '^(applied|pending|changed|missing) ' "$PGB_OUT" || true; } | awk '{ print $1, $2 }' | sort -k2
}

test_migrate_fresh_apply_with_history_and_checksums() {
	app_role
	migdir migrations \
		0001_init.sql 'CREATE TABLE users (id int PRIMARY KEY, name text);' \
		0002_items.sql $'CREATE TABLE items (id int PRIMARY KEY);\nINSERT INTO items VALUES (1), (2);' \
		0003_index.sql $'-- an index\nCREATE INDEX users_name ON users (name);'
	pgb_run migrate
	assert_exit 0
	assert_eq t "$(table_exists "$PGB_DB" users)" "table users exists"
	assert_eq 2 "$(q "$PGB_DB" 'SELECT count(*) FROM items')" "rows in items"
	assert_eq t "$(table_exists "$PGB_DB" users_name)" "index users_name exists"
	assert_eq "$(_expected_history migrations 0001_init.sql 0002_items.sql 0003_index.sql)" \
		"$(history "$PGB_DB")" "history rows (version|name|sha-256 of the file)"
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations
		WHERE applied_at IS NOT NULL AND duration_ms >= 0 AND applied_by IS NOT NULL')" \
		"history rows with applied_at, duration_ms and applied_by"
	assert_eq "applied_at:timestamp with time zone,applied_by:text,checksum:text,duration_ms:bigint,name:text,version:text" \
		"$(q "$PGB_DB" "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY column_name)
			FROM information_schema.columns WHERE table_schema = 'pgboot' AND table_name = 'migrations'")" \
		"columns of pgboot.migrations"
	assert_eq version "$(q "$PGB_DB" "SELECT a.attname FROM pg_index i JOIN pg_attribute a
		ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = 'pgboot.migrations'::regclass AND i.indisprimary")" "primary key"
	assert_eq "0001_init.sql,0002_items.sql,0003_index.sql" "$(_applying)" "applying lines"
	# the message substrings of the contract
	assert_contains "$PGB_ERR" 'applied 3 migrations'
	assert_contains "$PGB_ERR" 'applying 0001_init.sql'
	assert_contains "$PGB_ERR" 'applying 0002_items.sql'
	assert_contains "$PGB_ERR" 'applying 0003_index.sql'
}

test_migrate_numeric_order() {
	app_role
	migdir migrations \
		1_log.sql 'CREATE TABLE run_log (seq serial PRIMARY KEY, name text NOT NULL);' \
		100_hundred.sql "INSERT INTO run_log (name) VALUES ('100');" \
		10_ten.sql "INSERT INTO run_log (name) VALUES ('10');" \
		20250101120000_stamp.sql "INSERT INTO run_log (name) VALUES ('20250101120000');" \
		2_two.sql "INSERT INTO run_log (name) VALUES ('2');"
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'applied 5 migrations'
	assert_eq "1_log.sql,2_two.sql,10_ten.sql,100_hundred.sql,20250101120000_stamp.sql" "$(_applying)" \
		"order of the applying lines"
	assert_eq "2,10,100,20250101120000" "$(q "$PGB_DB" "SELECT string_agg(name, ',' ORDER BY seq) FROM run_log")" \
		"order in which the migrations ran"
	assert_eq "1,2,10,100,20250101120000" "$(q "$PGB_DB" "SELECT string_agg(version, ','
		ORDER BY string_to_array(version, '.')::numeric[]) FROM pgboot.migrations")" "versions in the history"
}

test_migrate_ignores_non_matching_files() {
	app_role
	migdir migrations \
		0001_init.sql 'CREATE TABLE only_one (id int);' \
		README.md 'THIS IS NOT SQL;' \
		notes.txt 'THIS IS NOT SQL;' \
		x_0002.sql 'THIS IS NOT SQL;' \
		0003_backup.sql.bak 'THIS IS NOT SQL;' \
		'0004_editor.sql~' 'THIS IS NOT SQL;' \
		.0005_hidden.sql 'THIS IS NOT SQL;'
	mkdir migrations/sub
	printf 'THIS IS NOT SQL;\n' >migrations/sub/0006_nested.sql
	pgb_run migrate
	assert_exit 0
	assert_eq "0001_init.sql" "$(_applying)" "applied files"
	assert_eq "$(_expected_history migrations 0001_init.sql)" "$(history "$PGB_DB")" "history"
}

test_migrate_duplicate_versions_65_nothing_applied() {
	app_role
	migdir migrations \
		0001_a.sql 'CREATE TABLE dup_a (id int);' \
		1_b.sql 'CREATE TABLE dup_b (id int);' \
		0002_c.sql 'CREATE TABLE dup_c (id int);'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" '0001_a.sql'
	assert_contains "$PGB_ERR" '1_b.sql'
	assert_not_contains "$PGB_ERR" 'applying'
	assert_eq "" "$(history "$PGB_DB")" "history"
	if [[ $(db_exists "$PGB_DB") == 1 ]]; then
		assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'dup\_%'")" "tables dup_*"
	fi
}

test_migrate_second_run_applies_nothing() {
	app_role
	migdir migrations \
		0001_init.sql 'CREATE TABLE once (id int);' \
		0002_more.sql 'INSERT INTO once VALUES (1);'
	pgb_run migrate
	assert_exit 0
	local before
	before=$(q "$PGB_DB" "SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version) FROM pgboot.migrations")
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'no pending migrations'
	assert_not_contains "$PGB_ERR" 'applying'
	assert_eq "$before" "$(q "$PGB_DB" "SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version)
		FROM pgboot.migrations")" "history after the second run"
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM once')" "rows inserted"
}

test_migrate_failure_points_to_line_and_column() {
	app_role
	migdir migrations \
		0001_ok.sql 'CREATE TABLE ok_first (id int);' \
		0002_bad.sql $'CREATE TABLE bad_first (id int);\nINSERT INTO bad_first VALUES (1);\nINSERT INTO bad_first VALUS (2);\nCREATE TABLE bad_after (id int);' \
		0003_later.sql 'CREATE TABLE later (id int);'
	# shellcheck disable=SC2016 # $1 is the inner shell's
	pgb_run run -- sh -c 'touch "$1"' sh "$PGB_WORK/app-ran"
	assert_exit 65
	# "INSERT INTO bad_first " is 22 characters: VALUS is at line 3, column 23
	assert_contains "$PGB_ERR" 'migrations/0002_bad.sql:3:23: ERROR: syntax error at or near "VALUS"'
	assert_contains "$PGB_ERR" 'SQLSTATE 42601'
	[[ ! -e $PGB_WORK/app-ran ]] || fail "the application ran after a failed migration"
	assert_eq t "$(table_exists "$PGB_DB" ok_first)" "table of the earlier migration exists"
	assert_eq f "$(table_exists "$PGB_DB" bad_first)" "table of the failed migration's first statement exists"
	assert_eq f "$(table_exists "$PGB_DB" bad_after)" "table bad_after exists"
	assert_eq f "$(table_exists "$PGB_DB" later)" "table of the later migration exists"
	assert_eq "$(_expected_history migrations 0001_ok.sql)" "$(history "$PGB_DB")" "history"
}

test_migrate_failure_position_after_comments_strings_and_dollar_quotes() {
	app_role
	mkdir -p db/migrations
	cat >db/migrations/0001_tricky.sql <<-'EOF'
		-- comment; with a semicolon
		CREATE TABLE pos_t (id int, note text DEFAULT 'a;b');
		CREATE FUNCTION pos_f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END; $$;
		/* block ; comment */ INSERT INTO pos_t (id)
		  VALUES (pos_f());
		SELECT id FROM pos_t JOIN nowhere ON true;
	EOF
	pgb_run migrate --migrate-dir db/migrations
	assert_exit 65
	# "SELECT id FROM pos_t JOIN " is 26 characters
	assert_contains "$PGB_ERR" 'db/migrations/0001_tricky.sql:6:27: ERROR: relation "nowhere" does not exist'
	assert_contains "$PGB_ERR" 'SQLSTATE 42P01'
	assert_eq f "$(table_exists "$PGB_DB" pos_t)" "table pos_t exists"
	assert_eq "" "$(history "$PGB_DB")" "history"
}

test_migrate_edited_applied_file_is_65() {
	app_role
	migdir migrations 0001_init.sql 'CREATE TABLE edited (id int);'
	pgb_run migrate
	assert_exit 0
	local applied
	applied=$(history "$PGB_DB")
	echo '-- edited afterwards' >>migrations/0001_init.sql
	printf 'CREATE TABLE second (id int);\n' >migrations/0002_second.sql
	pgb_run migrate
	assert_exit 65
	assert_not_contains "$PGB_ERR" 'applying'
	assert_eq f "$(table_exists "$PGB_DB" second)" "table of the pending migration exists"
	assert_eq "$applied" "$(history "$PGB_DB")" "history"
	assert_contains "$PGB_ERR" 'checksum of applied migration "0001_init.sql" has changed'
}

test_migrate_crlf_rewrite_is_not_a_change() {
	app_role
	printf 'CREATE TABLE crlf_t (id int);\nINSERT INTO crlf_t VALUES (1);\n' >migrations/0001_crlf.sql
	local lf_sum
	lf_sum=$(sha256sum migrations/0001_crlf.sql)
	pgb_run migrate
	assert_exit 0
	assert_eq "1|0001_crlf.sql|${lf_sum%% *}" "$(history "$PGB_DB")" "history"
	printf 'CREATE TABLE crlf_t (id int);\r\nINSERT INTO crlf_t VALUES (1);\r\n' >migrations/0001_crlf.sql
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'no pending migrations'
	assert_not_contains "$PGB_ERR" 'has changed'
	pgb_run status
	assert_exit 0
	assert_eq "applied 0001_crlf.sql" "$(_status_lines)" "status lines"
}

test_migrate_crlf_file_checksum_is_of_lf_text() {
	app_role
	printf 'CREATE TABLE crlf2 (id int);\r\nINSERT INTO crlf2 VALUES (1);\r\n' >migrations/0001_crlf.sql
	local lf_sum
	lf_sum=$(printf 'CREATE TABLE crlf2 (id int);\nINSERT INTO crlf2 VALUES (1);\n' | sha256sum)
	pgb_run migrate
	assert_exit 0
	assert_eq "1|0001_crlf.sql|${lf_sum%% *}" "$(history "$PGB_DB")" "history (checksum of the text with LF endings)"
	printf 'CREATE TABLE crlf2 (id int);\nINSERT INTO crlf2 VALUES (1);\n' >migrations/0001_crlf.sql
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'no pending migrations'
}

test_migrate_ten_concurrent_runners_apply_once() {
	app_role
	migdir migrations \
		0001_a.sql 'CREATE TABLE conc_a (id int);' \
		0002_b.sql $'CREATE TABLE conc_b (id int);\nINSERT INTO conc_b VALUES (1);' \
		0003_c.sql 'INSERT INTO conc_b VALUES (2);'
	local i pids=() t0 running rc failed=0
	for i in {1..10}; do
		env --default-signal=INT,TERM "$PGBOOT" migrate --wait-timeout 30s --migrate-lock-wait 60s \
			>"$PGB_WORK/out.$i" 2>"$PGB_WORK/err.$i" </dev/null &
		pids+=("$!")
		_pgb_register_pid "$!"
	done
	t0=$(ms_now)
	while :; do
		running=0
		for i in "${pids[@]}"; do
			kill -0 "$i" 2>/dev/null && running=$((running + 1))
		done
		((running == 0)) && break
		(($(ms_now) - t0 < 90000)) || fail "$running of 10 runners still running after 90 s"
		sleep 0.05
	done
	for i in {1..10}; do
		rc=0
		wait "${pids[i - 1]}" || rc=$?
		echo "runner $i: exit $rc"
		sed 's/^/    | /' "$PGB_WORK/err.$i"
		((rc == 0)) || failed=$((failed + 1))
	done
	assert_eq 0 "$failed" "runners that did not exit 0"
	assert_eq "$(_expected_history migrations 0001_a.sql 0002_b.sql 0003_c.sql)" "$(history "$PGB_DB")" "history"
	assert_eq "1,2" "$(q "$PGB_DB" "SELECT string_agg(id::text, ',' ORDER BY id) FROM conc_b")" "rows of conc_b"
	cat "$PGB_WORK"/err.* >"$PGB_WORK/all-err"
	assert_eq 1 "$(count_matches "$PGB_WORK/all-err" "created database \"$PGB_DB\"")" "runners that created the database"
	assert_eq 1 "$(count_matches "$PGB_WORK/all-err" 'applying .*0001_a\.sql')" "runners that applied 0001_a.sql"
}

# The query that counts pgboot's running pg_sleep statements in $PGB_DB (psql variable d).
_SLEEPING_SQL="SELECT count(*) FROM pg_stat_activity WHERE datname = :'d' AND state = 'active'
	AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"

# _await_sleeping_migration: wait (up to 20 s) until the background pgboot runs pg_sleep.
_await_sleeping_migration() {
	local t0 active=0
	t0=$(ms_now)
	while (($(ms_now) - t0 < 20000)); do
		kill -0 "$PGB_PID" 2>/dev/null || break
		active=$(q postgres "$_SLEEPING_SQL" -v d="$PGB_DB")
		((active > 0)) && break
		sleep 0.1
	done
	((active > 0)) || { pgb_wait_pid 1; fail "pg_sleep of 0002_long.sql never ran"; }
}

test_migrate_sigterm_during_long_migration() {
	app_role
	migdir migrations \
		0001_first.sql 'CREATE TABLE before_long (id int);' \
		0002_long.sql $'CREATE TABLE long_t (id int);\nSELECT pg_sleep(30);\nCREATE TABLE after_long (id int);'
	pgb_bg migrate --wait-timeout 10s
	local t0
	_await_sleeping_migration
	t0=$(ms_now)
	kill -TERM "$PGB_PID"
	pgb_wait_pid 10
	assert_exit 143
	assert_lt $((PGB_END_MS - t0)) 2000 "ms from SIGTERM to exit"
	# Whatever pgboot did to the server side, wait until nothing of it runs any more.
	t0=$(ms_now)
	while (($(q postgres "$_SLEEPING_SQL" -v d="$PGB_DB") > 0)); do
		(($(ms_now) - t0 < 40000)) || fail "the migration still runs on the server 40 s after SIGTERM"
		sleep 0.2
	done
	echo "server-side query gone $(($(ms_now) - t0)) ms after pgboot exited"
	assert_eq f "$(table_exists "$PGB_DB" long_t)" "table created by the interrupted migration exists"
	assert_eq f "$(table_exists "$PGB_DB" after_long)" "table after_long exists"
	assert_eq t "$(table_exists "$PGB_DB" before_long)" "table of the earlier migration exists"
	assert_eq "$(_expected_history migrations 0001_first.sql)" "$(history "$PGB_DB")" "history"
}

test_migrate_connection_lost_is_69() {
	app_role
	migdir migrations \
		0001_first.sql 'CREATE TABLE lost_first (id int);' \
		0002_long.sql $'CREATE TABLE lost_t (id int);\nSELECT pg_sleep(30);'
	# shellcheck disable=SC2016 # $1 is the inner shell's
	pgb_bg run --wait-timeout 10s -- sh -c 'touch "$1"' sh "$PGB_WORK/app-ran"
	_await_sleeping_migration
	q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :'d'
		AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()" -v d="$PGB_DB" >/dev/null
	pgb_wait_pid 20
	assert_exit 69
	[[ ! -e $PGB_WORK/app-ran ]] || fail "the application ran after the connection was lost"
	assert_eq f "$(table_exists "$PGB_DB" lost_t)" "table of the interrupted migration exists"
	assert_eq "$(_expected_history migrations 0001_first.sql)" "$(history "$PGB_DB")" "history"
}

test_migrate_status_lists_applied_and_pending() {
	app_role
	migdir migrations \
		0001_init.sql 'CREATE TABLE st (id int);' \
		0002_users.sql 'CREATE TABLE st_users (id int);'
	pgb_run migrate
	assert_exit 0
	printf 'CREATE TABLE st_more (id int);\n' >migrations/0003_more.sql
	pgb_run status
	assert_exit 0
	assert_eq $'applied 0001_init.sql\napplied 0002_users.sql\npending 0003_more.sql' "$(_status_lines)" "status lines"
	assert_eq f "$(table_exists "$PGB_DB" st_more)" "status applied a migration"
	assert_eq 2 "$(history "$PGB_DB" | wc -l)" "history rows"
	# the exact line shapes of the contract: `applied 0001_init.sql ...`, `pending 0002_x.sql`
	assert_match "$PGB_OUT" '^applied 0001_init\.sql( |$)'
	assert_match "$PGB_OUT" '^pending 0003_more\.sql$'
}

test_migrate_status_lists_changed_and_missing() {
	app_role
	migdir migrations \
		0001_init.sql 'CREATE TABLE sc (id int);' \
		0002_users.sql 'CREATE TABLE sc_users (id int);' \
		0003_gone.sql 'CREATE TABLE sc_gone (id int);'
	pgb_run migrate
	assert_exit 0
	echo '-- edited' >>migrations/0002_users.sql
	rm migrations/0003_gone.sql
	printf 'CREATE TABLE sc_new (id int);\n' >migrations/0004_new.sql
	pgb_run status
	# The exit code of status with changed or missing files is not part of the contract.
	assert_eq $'applied 0001_init.sql\nchanged 0002_users.sql\nmissing 0003_gone.sql\npending 0004_new.sql' \
		"$(_status_lines)" "status lines"
}

test_migrate_counts_in_log_lines_are_true() {
	app_role
	migdir migrations 0001_one.sql 'CREATE TABLE c_one (id int);' 0002_gone.sql 'CREATE TABLE c_gone (id int);'
	pgb_run migrate
	assert_exit 0
	assert_match "$PGB_ERR" 'applied 0001_one\.sql in [0-9]+ms \(1 statement\)$'
	# an applied migration without its file, and something pending: warned about once
	migdir migrations 0001_one.sql 'CREATE TABLE c_one (id int);' 0003_two.sql $'CREATE TABLE c_two (id int);\nCREATE TABLE c_three (id int);'
	pgb_run migrate
	assert_exit 0
	assert_eq 1 "$(grep -c 'applied migration 2 ("0002_gone.sql") has no file in the directory' "$PGB_ERR")" \
		"warnings about the missing file"
	assert_match "$PGB_ERR" 'applied 0003_two\.sql in [0-9]+ms \(2 statements\)$'
}

test_migrate_json_log_numbers_are_numbers() {
	app_role
	migdir migrations 0001_bad.sql $'CREATE TABLE jn (id int);\nSELECT nothing FROM nowhere;'
	pgb_run migrate --log-format json
	assert_exit 65
	assert_match "$PGB_ERR" '"attempts":[0-9]+,"elapsed":[0-9]+\.[0-9]{3}[,}]'
	assert_match "$PGB_ERR" '"file":"migrations/0001_bad.sql","line":2,"column":[0-9]+[,}]'
	assert_no_match "$PGB_ERR" '"(attempts|elapsed|line|column)":"'
}
