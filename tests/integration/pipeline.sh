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
	local t0
	t0=$(ms_now)
	until [[ $(q "$PGB_DB" "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid()") -ge 1 ]]; do
		(($(ms_now) - t0 < 15000)) || fail "the migration did not start"
		sleep 0.02
	done
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

test_pipeline_lock_timeout_is_retried() {
	_logged_db
	migdir migrations 0001_t.sql $'CREATE TABLE pipe_busy (id int);'
	pgb_run migrate
	assert_exit 0
	migdir migrations 0001_t.sql $'CREATE TABLE pipe_busy (id int);' \
		0002_alter.sql $'CREATE TABLE pipe_b2 (id int);\nALTER TABLE pipe_busy ADD COLUMN n int;'
	# a session holds the table for 1.5 s; 200 ms lock timeouts are retried after 1 s, 2 s...
	q "$PGB_DB" "BEGIN; LOCK TABLE pipe_busy; SELECT pg_sleep(1.5); COMMIT;" >/dev/null &
	local locker=$!
	sleep 0.3
	pgb_run migrate --migrate-lock-timeout 200ms --migrate-lock-retries 3
	wait "$locker"
	assert_exit 0
	assert_contains "$PGB_ERR" 'lock timeout in "0002_alter.sql": retry 1 of 3'
	assert_eq t "$(q "$PGB_DB" "SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = 'pipe_busy' AND column_name = 'n'")" "column n added"
	assert_contains "$(_server_log)" 'execute <unnamed>: ALTER TABLE pipe_busy ADD COLUMN n int;'
}
