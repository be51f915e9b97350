# shellcheck shell=bash
# takeover: a runner that loses the migration lock (its lock connection or its main connection
# is terminated) stops before it applies anything more, and a waiting runner takes over; a
# runner killed inside CREATE INDEX CONCURRENTLY leaves a backend that the next one waits for;
# a runner stopped by SIGTERM inside a no-transaction file says what it committed.
# Marker rows count how often each statement ran: never twice.

# _marks: the database (created by pgboot) with a table marks(what) the app role may write,
# where statements leave their marker.
_marks() {
	pgb_run create
	assert_exit 0
	psql_db "$PGB_DB" -c "CREATE TABLE public.marks (what text NOT NULL); GRANT ALL ON public.marks TO \"$PGB_ROLE\"" >/dev/null
}

# _counts: "what:count" of every marker, in order, comma-separated
_counts() {
	q "$PGB_DB" "SELECT string_agg(what || ':' || n, ',' ORDER BY what) FROM (SELECT what, count(*) AS n FROM public.marks GROUP BY what) c"
}

# _lock_pid: the backend holding pgboot's migration lock
_lock_pid() {
	q "$PGB_DB" "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
}

# _waiters N ARGS...: N more pgboot ARGS in the background, as replicas waiting for the lock;
# their pids in _waiter_pids, their output in $PGB_WORK/err.I
_waiters() {
	local n=$1 i
	shift
	_waiter_pids=()
	for ((i = 0; i < n; i++)); do
		env --default-signal=INT,TERM "$PGBOOT" "$@" >"$PGB_WORK/out.$i" 2>"$PGB_WORK/err.$i" </dev/null &
		_waiter_pids+=("$!")
		_pgb_register_pid "$!"
	done
}

# _await_waiters: each waiter must end (60 s at most) with exit 0
_await_waiters() {
	local i rc t0
	t0=$(ms_now)
	for i in "${!_waiter_pids[@]}"; do
		while kill -0 "${_waiter_pids[i]}" 2>/dev/null; do
			(($(ms_now) - t0 < 60000)) || fail "waiting runner $i still running after 60 s"
			sleep 0.05
		done
		rc=0
		wait "${_waiter_pids[i]}" || rc=$?
		echo "waiting runner $i: exit $rc"
		sed 's/^/    | /' "$PGB_WORK/err.$i"
		((rc == 0)) || fail "waiting runner $i exited $rc"
	done
}

_files_nt_then_tx() {
	migdir migrations \
		0001_nt.sql $'-- pgboot:no-transaction\nINSERT INTO public.marks VALUES (\'nt-1\');\nINSERT INTO public.marks SELECT \'nt-2\' FROM pg_sleep(2);\nINSERT INTO public.marks VALUES (\'nt-3\');' \
		0002_tx.sql $'INSERT INTO public.marks VALUES (\'tx-1\');\nINSERT INTO public.marks SELECT \'tx-2\' FROM pg_sleep(2);\nINSERT INTO public.marks VALUES (\'tx-3\');'
}

_assert_applied_once() {
	assert_eq "nt-1:1,nt-2:1,nt-3:1,tx-1:1,tx-2:1,tx-3:1" "$(_counts)" "markers (each statement ran once)"
	assert_eq "1,2" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	assert_eq 0 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations_progress')" "progress rows left"
}

test_takeover_lock_connection_lost_inside_a_no_transaction_file() {
	app_role
	_marks
	_files_nt_then_tx
	pgb_bg migrate --migrate-lock-wait 60s
	pgb_await_active '%nt-2%'
	_waiters 2 migrate --migrate-lock-wait 60s
	sleep 0.3
	q "$PGB_DB" "SELECT pg_terminate_backend($(_lock_pid))" >/dev/null
	pgb_wait_pid 30
	assert_exit 69
	assert_contains "$PGB_ERR" 'lost the migration lock before statement 3 of "0001_nt.sql"'
	assert_not_contains "$PGB_ERR" 'applying 0002_tx.sql'
	_await_waiters
	cat "$PGB_WORK"/err.[0-9] >"$PGB_WORK/waiters-err"
	assert_contains "$PGB_WORK/waiters-err" 'statement 2 of "0001_nt.sql" is still running in backend pid'
	_assert_applied_once
}

test_takeover_lock_connection_lost_inside_a_transactional_file() {
	app_role
	_marks
	_files_nt_then_tx
	pgb_bg migrate --migrate-lock-wait 60s
	pgb_await_active '%tx-2%'
	_waiters 3 migrate --migrate-lock-wait 60s
	sleep 0.3
	q "$PGB_DB" "SELECT pg_terminate_backend($(_lock_pid))" >/dev/null
	pgb_wait_pid 30
	assert_exit 69
	# a transactional file is sent in one pipeline: the lock is checked before its COMMIT
	assert_contains "$PGB_ERR" 'lost the migration lock before committing "0002_tx.sql"'
	_await_waiters
	_assert_applied_once
}

test_takeover_main_connection_lost_while_the_lock_lives() {
	app_role
	_marks
	_files_nt_then_tx
	pgb_bg migrate --migrate-lock-wait 60s
	pgb_await_active '%nt-2%'
	_waiters 2 migrate --migrate-lock-wait 60s
	sleep 0.3
	q "$PGB_DB" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%''nt-2''%' AND pid <> pg_backend_pid()" >/dev/null
	pgb_wait_pid 30
	assert_exit 69
	assert_contains "$PGB_ERR" 'lost the connection while applying "migrations/0001_nt.sql"'
	_await_waiters
	_assert_applied_once
}

# _big: a table of the app role that an index takes a moment to build on
_big() {
	psql_db "$PGB_DB" -c "CREATE TABLE public.big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g; ALTER TABLE public.big OWNER TO \"$PGB_ROLE\"" >/dev/null
}

# _hold_writer SECONDS: another session holds a writer's lock on big for SECONDS, so that a
# CREATE INDEX CONCURRENTLY on it waits (its index already there, INVALID); returns once held.
_hold_writer() {
	psql_db "$PGB_DB" -c "BEGIN; LOCK TABLE public.big IN ROW EXCLUSIVE MODE; SELECT pg_sleep($1); COMMIT;" >/dev/null 2>&1 &
	_pgb_register_pid "$!"
	pgb_await_active '%LOCK TABLE public.big%'
}

_index_state() {
	q "$PGB_DB" "SELECT coalesce((SELECT CASE WHEN i.indisvalid THEN 'valid' ELSE 'invalid' END FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = '$1'), 'absent')"
}

test_takeover_index_still_built_by_a_killed_runner_is_waited_for() {
	app_role
	_marks
	_big
	migdir migrations 0001_idx.sql \
		$'-- pgboot:no-transaction\nCREATE INDEX CONCURRENTLY big_v ON public.big (v);\nINSERT INTO public.marks VALUES (\'after-index\');'
	_hold_writer 4
	pgb_bg migrate
	pgb_await_active 'CREATE INDEX CONCURRENTLY big_v%'
	assert_eq invalid "$(_index_state big_v)" "index while its build waits"
	kill -KILL "$PGB_PID"
	pgb_wait_pid 5
	assert_exit 137
	# the killed runner's backend goes on building: the next runner must wait for it, not drop it
	pgb_run migrate --migrate-lock-wait 30s
	assert_exit 0
	assert_match "$PGB_ERR" 'statement 1 of "0001_idx.sql" is still running in backend pid [0-9]+, which an earlier runner started'
	assert_match "$PGB_ERR" 'index public.big_v was completed by backend pid [0-9]+ of an earlier run: statement 1 of "0001_idx.sql" is counted as done'
	assert_not_contains "$PGB_ERR" 'dropping index'
	assert_eq valid "$(_index_state big_v)" "index"
	assert_eq "after-index:1" "$(_counts)" "markers"
	assert_eq 1 "$(q "$PGB_DB" "SELECT count(*) FROM pgboot.migrations")" "history rows"
}

test_takeover_index_build_outlasting_the_lock_wait_names_its_backend() {
	app_role
	_marks
	_big
	migdir migrations 0001_idx.sql $'-- pgboot:no-transaction\nCREATE INDEX CONCURRENTLY big_w ON public.big (v);'
	_hold_writer 6
	pgb_bg migrate
	pgb_await_active 'CREATE INDEX CONCURRENTLY big_w%'
	kill -KILL "$PGB_PID"
	pgb_wait_pid 5
	pgb_run migrate --migrate-lock-wait 1s
	assert_exit 69
	assert_match "$PGB_ERR" 'statement 1 of "0001_idx.sql" is still running in backend pid [0-9]+ after [0-9.]+s \(migrate.lock_wait\)'
	assert_eq invalid "$(_index_state big_w)" "index, still being built"
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pgboot.migrations")" "history rows"
}

test_takeover_sigterm_in_a_no_transaction_file_says_what_was_committed() {
	app_role
	_marks
	_big
	migdir migrations 0001_nt.sql \
		$'-- pgboot:no-transaction\nINSERT INTO public.marks VALUES (\'one\');\nINSERT INTO public.marks VALUES (\'two\');\nCREATE INDEX CONCURRENTLY big_t ON public.big (v);\nINSERT INTO public.marks VALUES (\'four\');'
	_hold_writer 3
	pgb_bg migrate
	pgb_await_active 'CREATE INDEX CONCURRENTLY big_t%'
	kill -TERM "$PGB_PID"
	pgb_wait_pid 10
	assert_exit 143
	assert_contains "$PGB_ERR" 'migration "migrations/0001_nt.sql" was stopped by a signal, which cancelled statement 3 of 4; it runs without a transaction: statements 1 to 2 were committed and recorded, and the next run resumes after them'
	assert_contains "$PGB_ERR" 'index public.big_t is left INVALID by the failed CREATE INDEX CONCURRENTLY of "0001_nt.sql"; the next run drops it and builds it again'
	assert_not_contains "$PGB_ERR" 'rolled back'
	assert_eq invalid "$(_index_state big_t)" "index left by the cancelled build"
	sleep 3
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'resuming 0001_nt.sql at statement 3 of 4'
	assert_contains "$PGB_ERR" 'dropping index public.big_t, left INVALID by an earlier CREATE INDEX CONCURRENTLY'
	assert_contains "$PGB_ERR" 'applied 0001_nt.sql in'
	assert_contains "$PGB_ERR" '(2 statements, resumed at statement 3 of 4)'
	assert_eq valid "$(_index_state big_t)" "index"
	assert_eq "four:1,one:1,two:1" "$(_counts)" "markers"
}
