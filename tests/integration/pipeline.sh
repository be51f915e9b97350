# shellcheck shell=bash
# pipeline: a transactional file is sent in one pipeline (src/pipeline.c): its statements,
# history row, lock check and COMMIT without waiting for each result. The server log
# (log_statement = all on the test's database) tells the extended protocol of a pipeline
# ("execute <unnamed>: ...") from the simple queries of the path that waits ("statement: ...").

# _logged_db: creates the test's database and logs every statement run in it.
_logged_db() {
	app_role
	pgb_run create
	assert_exit 0
	psql_super -v d="$PGB_DB" <<<'ALTER DATABASE :"d" SET log_statement = '\''all'\'';' >/dev/null
	PIPE_LOG_FROM=$(wc -l <"$PGB_LOG")
}

# _server_log: what the server logged since _logged_db.
_server_log() {
	tail -n +"$((PIPE_LOG_FROM + 1))" "$PGB_LOG" >"$PGB_WORK/server.log"
	printf '%s' "$PGB_WORK/server.log"
}

_pipe_lock_pid() {
	q "$PGB_DB" "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
}

test_pipeline_sends_a_transactional_file_in_one_pipeline() {
	_logged_db
	migdir migrations \
		0001_a.sql $'CREATE TABLE pipe_a (id int PRIMARY KEY);\nINSERT INTO pipe_a VALUES (1), (2);' \
		0002_nt.sql $'-- pgboot:no-transaction\nINSERT INTO pipe_a VALUES (3);'
	pgb_run migrate
	assert_exit 0
	assert_eq 3 "$(q "$PGB_DB" 'SELECT count(*) FROM pipe_a')" "rows in pipe_a"
	assert_eq "1,2" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	assert_contains "$(_server_log)" 'execute <unnamed>: CREATE TABLE pipe_a'
	assert_contains "$(_server_log)" 'execute <unnamed>: INSERT INTO pipe_a VALUES (1), (2);'
	assert_match "$(_server_log)" 'execute <unnamed>: INSERT INTO "pgboot"."migrations"'
	# a no-transaction file keeps the path that waits for each statement
	assert_contains "$(_server_log)" 'statement: INSERT INTO pipe_a VALUES (3);'
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pgboot.migrations WHERE duration_ms < 0")" \
		"negative durations (the server measures a pipelined file's)"
}

test_pipeline_error_in_the_middle_statement_rolls_back() {
	_logged_db
	migdir migrations \
		0001_ok.sql 'CREATE TABLE pipe_ok (id int);' \
		0002_bad.sql $'CREATE TABLE pipe_first (id int);\n\nINSERT INTO   pipe_nope VALUES (1);\nCREATE TABLE pipe_after (id int);'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0002_bad.sql:3:15: ERROR: relation "pipe_nope" does not exist (SQLSTATE 42P01)'
	assert_contains "$(_server_log)" 'execute <unnamed>: CREATE TABLE pipe_first'
	# nothing after it ran, and what ran before it was rolled back with the history row
	assert_not_contains "$(_server_log)" 'pipe_after'
	assert_eq f "$(table_exists "$PGB_DB" pipe_first)" "pipe_first exists"
	assert_eq f "$(table_exists "$PGB_DB" pipe_after)" "pipe_after exists"
	assert_eq t "$(table_exists "$PGB_DB" pipe_ok)" "pipe_ok exists"
	assert_eq "1" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	assert_eq idle "$(q "$PGB_DB" "SELECT coalesce(string_agg(DISTINCT state, ','), 'idle') FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")" \
		"sessions left in the database"
}

test_pipeline_lost_lock_before_commit_commits_nothing() {
	_logged_db
	migdir migrations \
		0001_slow.sql $'CREATE TABLE pipe_slow (id int);\nSELECT pg_sleep(2);\nINSERT INTO pipe_slow VALUES (1);'
	pgb_bg migrate
	pgb_await_active '%pg_sleep(2)%'
	q "$PGB_DB" "SELECT pg_terminate_backend($(_pipe_lock_pid))" >/dev/null
	pgb_wait_pid 30
	assert_exit 69
	assert_contains "$PGB_ERR" 'lost the migration lock before committing "0001_slow.sql"'
	assert_not_contains "$PGB_ERR" 'applied 0001_slow.sql'
	assert_contains "$(_server_log)" 'execute <unnamed>: SELECT pg_sleep(2);'
	assert_eq f "$(table_exists "$PGB_DB" pipe_slow)" "pipe_slow exists"
	assert_eq 0 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
	# the next run applies it
	pgb_run migrate
	assert_exit 0
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM pipe_slow')" "rows in pipe_slow"
}

# _migrate_past_a_lock [NAME CONTENT]...: a logged database where 0001_t.sql made pipe_busy;
# then pgboot migrates those files after it while a session holds pipe_busy for 1.5 s, its
# 200 ms lock timeouts retried after 1 s, 2 s... (3 retries at most).
_migrate_past_a_lock() {
	_logged_db
	migdir migrations 0001_t.sql $'CREATE TABLE pipe_busy (id int);'
	pgb_run migrate
	assert_exit 0
	migdir migrations 0001_t.sql $'CREATE TABLE pipe_busy (id int);' "$@"
	q "$PGB_DB" "BEGIN; LOCK TABLE pipe_busy; SELECT pg_sleep(1.5); COMMIT;" >/dev/null &
	local locker=$!
	sleep 0.3
	pgb_run migrate --migrate-lock-timeout 200ms --migrate-lock-retries 3
	wait "$locker"
}

test_pipeline_lock_timeout_is_retried() {
	_migrate_past_a_lock \
		0002_alter.sql $'CREATE TABLE pipe_b2 (id int);\nALTER TABLE pipe_busy ADD COLUMN n int;'
	assert_exit 0
	assert_contains "$PGB_ERR" 'lock timeout in "0002_alter.sql": retry 1 of 3'
	assert_eq t "$(q "$PGB_DB" "SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = 'pipe_busy' AND column_name = 'n'")" "column n added"
	assert_contains "$(_server_log)" 'execute <unnamed>: ALTER TABLE pipe_busy ADD COLUMN n int;'
}

# _proxy_start: a loopback proxy in front of the server (bench/delayproxy.py, no delay) that
# counts round trips; PIPE_PROXY_PORT, and the stats in $PGB_WORK/proxy.stats.
_proxy_start() {
	rm -f -- "$PGB_WORK/proxy.port"
	python3 "$PGB_TOP/bench/delayproxy.py" "$PGB_WORK/proxy.port" "$PGB_PORT" 0 \
		"$PGB_WORK/proxy.stats" 2>"$PGB_WORK/proxy.log" &
	_pgb_register_pid "$!"
	local t0
	t0=$(ms_now)
	until [[ -s $PGB_WORK/proxy.port ]]; do
		(($(ms_now) - t0 < 10000)) || fail "the counting proxy did not start"
		sleep 0.02
	done
	PIPE_PROXY_PORT=$(cat "$PGB_WORK/proxy.port")
}

# _round_trips CONNS: the round trips (bursts of client messages with a reply between them)
# of the last CONNS connections through the proxy, once they all closed; the stats restart.
_round_trips() {
	local t0
	t0=$(ms_now)
	until [[ -f $PGB_WORK/proxy.stats ]] && (($(wc -l <"$PGB_WORK/proxy.stats") >= $1)); do
		(($(ms_now) - t0 < 10000)) || fail "the proxy did not report $1 connections"
		sleep 0.02
	done
	awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^bursts=/) { sub(/^bursts=/, "", $i); s += $i } }
		END { print s + 0 }' "$PGB_WORK/proxy.stats"
	: >"$PGB_WORK/proxy.stats"
}

# _files N: N transactional files, each making a table and recording its number
_files() {
	local i args=()
	for ((i = 1; i <= $1; i++)); do
		args+=("$(printf '%04d_t%d.sql' "$i" "$i")"
			"CREATE TABLE pipe_t$i (id int PRIMARY KEY);
INSERT INTO pipe_t$i VALUES ($i);
INSERT INTO pipe_seen VALUES ($i);")
	done
	migdir migrations 0000_seen.sql 'CREATE TABLE pipe_seen (n int);' "${args[@]}"
}

# Consecutive transactional files go in one pipeline: 30 pending files cost the round trips
# of one (counted by a proxy, not timed), and each still commits with its own history row.
test_pipeline_consecutive_files_share_one_pipeline() {
	app_role
	local one many
	pgb_run create --database-dbname "${PGB_DB}_one"
	assert_exit 0
	pgb_run create
	assert_exit 0
	_proxy_start
	_files 1
	pgb_run migrate --database-port "$PIPE_PROXY_PORT" --database-dbname "${PGB_DB}_one"
	assert_exit 0
	one=$(_round_trips 2)
	_files 20
	pgb_run migrate --database-port "$PIPE_PROXY_PORT"
	assert_exit 0
	many=$(_round_trips 2)
	echo "round trips: 2 files $one, 21 files $many"
	assert_eq "$one" "$many" "round trips of 21 pending files against 2"
	assert_eq 21 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
	assert_eq 21 "$(q "$PGB_DB" 'SELECT count(DISTINCT applied_at) FROM pgboot.migrations')" \
		"distinct commit times (one transaction per file)"
	assert_eq "$(seq -s, 1 20)" "$(q "$PGB_DB" "SELECT string_agg(n::text, ',' ORDER BY n) FROM pipe_seen")" "markers"
	assert_eq 21 "$(count_matches "$PGB_ERR" 'applied [0-9]*_[a-z0-9]*\.sql in')" "applied lines"
	assert_contains "$PGB_ERR" 'applying 0020_t20.sql [21/21]'
}

# A file that fails in the middle of a batch: the files before it are committed, its own
# transaction is rolled back, nothing after it runs, and the error names its line.
test_pipeline_failure_inside_a_batch_keeps_the_files_before_it() {
	_logged_db
	migdir migrations \
		0001_a.sql 'CREATE TABLE pipe_a (id int);' \
		0002_b.sql 'CREATE TABLE pipe_b (id int);' \
		0003_bad.sql $'CREATE TABLE pipe_c (id int);\nINSERT INTO pipe_nope VALUES (1);' \
		0004_d.sql 'CREATE TABLE pipe_d (id int);'
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0003_bad.sql:2:13: ERROR: relation "pipe_nope" does not exist (SQLSTATE 42P01)'
	assert_contains "$PGB_ERR" 'applied 0001_a.sql'
	assert_contains "$PGB_ERR" 'applied 0002_b.sql'
	assert_not_contains "$PGB_ERR" 'applied 0003_bad.sql'
	# the log names no file that the failure skipped
	assert_not_contains "$PGB_ERR" 'applying 0004_d.sql'
	assert_eq "1,2" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	assert_eq t "$(table_exists "$PGB_DB" pipe_b)" "pipe_b exists"
	assert_eq f "$(table_exists "$PGB_DB" pipe_c)" "pipe_c exists"
	assert_not_contains "$(_server_log)" 'pipe_d'
	# the three files went in one pipeline: the extended protocol, not simple queries
	assert_contains "$(_server_log)" 'execute <unnamed>: CREATE TABLE pipe_c'
	assert_not_contains "$(_server_log)" 'statement: CREATE TABLE pipe_a'
	pgb_run migrate
	assert_exit 65
	assert_not_contains "$PGB_ERR" 'applying 0001_a.sql'
	assert_contains "$PGB_ERR" 'applying 0003_bad.sql [1/2]'
}

# One file's SET, SET ROLE or temporary table does not reach the next file of its batch:
# each file starts from the session's defaults, as in psql's session per file.
test_pipeline_batched_files_do_not_share_session_state() {
	_logged_db
	migdir migrations \
		0001_setup.sql $'CREATE SCHEMA pipe_other;\nSET search_path = pipe_other;\nCREATE TEMP TABLE pipe_tmp (id int);' \
		0002_next.sql $'CREATE TABLE pipe_where (id int);\nCREATE TEMP TABLE pipe_tmp (id int);'
	pgb_run migrate
	assert_exit 0
	assert_eq "public" "$(q "$PGB_DB" "SELECT table_schema FROM information_schema.tables WHERE table_name = 'pipe_where'")" \
		"schema of the table the second file made"
	# both files went in one pipeline
	assert_contains "$(_server_log)" 'execute <unnamed>: CREATE TABLE pipe_where'
	assert_not_contains "$(_server_log)" 'statement: CREATE SCHEMA pipe_other'
}

# A lock timeout in the middle of a batch: the files before it stay committed, it is retried
# on its own, then the files after it go on.
test_pipeline_lock_timeout_inside_a_batch_is_retried() {
	_migrate_past_a_lock \
		0002_a.sql 'CREATE TABLE pipe_first (id int);' \
		0003_alter.sql $'ALTER TABLE pipe_busy ADD COLUMN n int;' \
		0004_after.sql 'CREATE TABLE pipe_after (id int);'
	assert_exit 0
	assert_contains "$PGB_ERR" 'lock timeout in "0003_alter.sql": retry 1 of 3'
	assert_eq "1" "$(count_matches "$PGB_ERR" 'applying 0003_alter.sql')" "applying lines of 0003"
	assert_eq "1,2,3,4" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	assert_eq t "$(table_exists "$PGB_DB" pipe_after)" "pipe_after exists"
}

# The migration lock lost while a batch runs: the files committed before stay, the file
# running is not committed, and the next run goes on from there.
test_pipeline_lost_lock_inside_a_batch() {
	_logged_db
	migdir migrations \
		0001_quick.sql 'CREATE TABLE pipe_quick (id int);' \
		0002_slow.sql $'CREATE TABLE pipe_slow (id int);\nSELECT pg_sleep(2);' \
		0003_later.sql 'CREATE TABLE pipe_later (id int);'
	pgb_bg migrate
	pgb_await_active '%pg_sleep(2)%'
	q "$PGB_DB" "SELECT pg_terminate_backend($(_pipe_lock_pid))" >/dev/null
	pgb_wait_pid 30
	assert_exit 69
	assert_contains "$PGB_ERR" 'lost the migration lock before committing "0002_slow.sql"'
	assert_not_contains "$PGB_ERR" 'applying 0003_later.sql'
	assert_eq "1" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	assert_eq f "$(table_exists "$PGB_DB" pipe_slow)" "pipe_slow exists"
	assert_eq f "$(table_exists "$PGB_DB" pipe_later)" "pipe_later exists"
	pgb_run migrate
	assert_exit 0
	assert_eq "1,2,3" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
}

# SIGTERM while a batch runs cancels the running file; the files before it stay committed.
test_pipeline_sigterm_inside_a_batch() {
	_logged_db
	migdir migrations \
		0001_quick.sql 'CREATE TABLE pipe_quick (id int);' \
		0002_slow.sql $'CREATE TABLE pipe_slow (id int);\nSELECT pg_sleep(30);' \
		0003_later.sql 'CREATE TABLE pipe_later (id int);'
	pgb_bg migrate
	pgb_await_active '%pg_sleep(30)%'
	kill -TERM "$PGB_PID"
	pgb_wait_pid 20
	assert_exit 143
	assert_contains "$PGB_ERR" 'migration "migrations/0002_slow.sql" was cancelled; its transaction was rolled back'
	assert_contains "$PGB_ERR" 'applied 0001_quick.sql'
	assert_not_contains "$PGB_ERR" 'applying 0003_later.sql'
	assert_eq "1" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	assert_eq f "$(table_exists "$PGB_DB" pipe_slow)" "pipe_slow exists"
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()")" \
		"sessions still sleeping"
}
