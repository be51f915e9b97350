# shellcheck shell=bash
# wait: pgboot waits for a real connection, with a deadline, and can be stopped by signals.

test_wait_server_started_two_seconds_later() {
	pg_init # a cluster of our own, not started yet
	use_conn postgres "$PGB_SUPERPASS" postgres
	pg_start_later 2
	pgb_run wait --wait-timeout 30s
	assert_exit 0
	assert_contains "$PGB_ERR" 'database "postgres" is ready'
	assert_match "$PGB_ERR" 'database "postgres" is ready.*attempt'
	assert_ge "$PGB_ELAPSED_MS" 1500 "ms before pgboot reported ready (the server starts after 2 s)"
	local line attempts
	line=$(grep -F 'database "postgres" is ready' "$PGB_ERR")
	attempts=$(grep -oE '[0-9]+ attempts|attempts[ =:]+[0-9]+' <<<"$line" | grep -oE '[0-9]+' || true)
	if [[ -n $attempts ]]; then
		assert_ge "$attempts" 2 "attempts reported in: $line"
	fi
	assert_eq 1 "$(q postgres 'SELECT 1')" "the server runs"
}

# The ready line counts the whole wait: the attempts before the database was created and the
# time its creation took, not only the connection made after it (issue 11, item 11).
test_wait_ready_line_counts_the_wait_before_creating() {
	pg_init # a cluster of our own, not started yet
	use_conn postgres "$PGB_SUPERPASS" pgb_created_late
	pg_start_later 2
	pgb_run create --wait-timeout 30s
	assert_exit 0
	assert_contains "$PGB_ERR" 'created database "pgb_created_late"'
	local line attempts seconds
	line=$(grep -F 'database "pgb_created_late" is ready' "$PGB_ERR") || fail "no ready line in: $(cat "$PGB_ERR")"
	attempts=$(sed -nE 's/.*is ready \(([0-9]+) attempts?, ([0-9]+)\.[0-9]+s\).*/\1/p' <<<"$line")
	seconds=$(sed -nE 's/.*is ready \(([0-9]+) attempts?, ([0-9]+)\.[0-9]+s\).*/\2/p' <<<"$line")
	[[ -n $attempts && -n $seconds ]] || fail "ready line not in the documented form: $line"
	assert_ge "$attempts" 3 "attempts in \"$line\" (refused ones, the one that found no database, the last)"
	assert_ge "$seconds" 1 "whole seconds in \"$line\" (the server started after 2 s)"
}

test_wait_timeout_when_nothing_listens_is_69() {
	local port
	port=$(free_port)
	use_conn "$PGB_ROLE" app-pw "$PGB_DB"
	pgb_run wait --database-port "$port" --wait-timeout 1s
	assert_exit 69
	assert_ge "$PGB_ELAPSED_MS" 900 "ms before giving up with --wait-timeout 1s"
	assert_lt "$PGB_ELAPSED_MS" 4000 "ms before giving up with --wait-timeout 1s"
}

test_wait_wrong_password_is_retried_then_69() {
	local wrong='Wr0ng-Pa55-9f3c1e'
	mkrole "$PGB_ROLE" right-password
	use_conn "$PGB_ROLE" "$wrong" postgres
	pgb_run wait --wait-timeout 2s
	assert_exit 69
	assert_contains "$PGB_ERR" 'password authentication failed'
	assert_not_contains "$PGB_ERR" "$wrong"
	assert_not_contains "$PGB_OUT" "$wrong"
	local tries
	tries=$(count_matches "$PGB_LOG" "password authentication failed for user \"$PGB_ROLE\"")
	assert_ge "$tries" 2 "failed authentications in the server log (pgboot must retry)"
}

# _signal_while_waiting SIG EXIT: pgboot waits on a port nobody listens on; SIG ends it promptly.
_signal_while_waiting() {
	local port t0
	port=$(free_port)
	use_conn "$PGB_ROLE" app-pw "$PGB_DB"
	pgb_bg wait --database-port "$port" --wait-timeout 30s
	sleep 0.5
	kill -0 "$PGB_PID" 2>/dev/null || fail "pgboot ended before it got SIG$1"
	t0=$(ms_now)
	kill "-$1" "$PGB_PID"
	pgb_wait_pid 10
	assert_exit "$2"
	assert_lt $((PGB_END_MS - t0)) 2000 "ms from SIG$1 to exit"
}

test_wait_sigterm_during_a_hanging_connection_attempt() {
	blackhole_start
	use_conn "$PGB_ROLE" app-pw "$PGB_DB"
	pgb_bg wait --database-port "$PGB_BLACKHOLE_PORT" --wait-timeout 60s --database-connect-timeout 30s
	sleep 1
	kill -0 "$PGB_PID" 2>/dev/null || fail "pgboot ended before it got SIGTERM"
	local t0
	t0=$(ms_now)
	kill -TERM "$PGB_PID"
	pgb_wait_pid 40
	assert_exit 143
	assert_lt $((PGB_END_MS - t0)) 2000 "ms from SIGTERM to exit while a connection attempt hangs"
}

test_wait_unresponsive_server_bounded_by_timeouts() {
	blackhole_start
	use_conn "$PGB_ROLE" app-pw "$PGB_DB"
	# libpq's smallest connect timeout is 2 s
	pgb_run wait --database-port "$PGB_BLACKHOLE_PORT" --wait-timeout 3s --database-connect-timeout 2s
	assert_exit 69
	assert_lt "$PGB_ELAPSED_MS" 8000 "ms before giving up on a server that never answers"
}

test_wait_sigterm_exits_143_promptly() {
	_signal_while_waiting TERM 143
}

test_wait_sigint_exits_130_promptly() {
	_signal_while_waiting INT 130
}

test_wait_bad_sslmode_fails_at_once_with_78() {
	# The server is up and the credentials are right: only the bad setting may stop pgboot.
	mkrole "$PGB_ROLE" app-pw
	use_conn "$PGB_ROLE" app-pw postgres
	pgb_run wait --database-sslmode bogus --wait-timeout 30s
	assert_exit 78
	assert_contains "$PGB_ERR" sslmode
	assert_lt "$PGB_ELAPSED_MS" 3000 "ms before failing (a configuration error must not be waited on)"
}

test_wait_ready_with_right_credentials() {
	mkrole "$PGB_ROLE" app-pw
	use_conn "$PGB_ROLE" app-pw postgres
	pgb_run wait
	assert_exit 0
	assert_contains "$PGB_ERR" 'database "postgres" is ready'
}

test_wait_does_not_create_a_missing_database() {
	app_role # may create databases, but wait must not
	pgb_run wait --wait-timeout 2s
	assert_exit 69
	assert_not_contains "$PGB_ERR" 'created database'
	assert_eq 0 "$(db_exists "$PGB_DB")" "database exists"
}
