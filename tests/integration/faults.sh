# shellcheck shell=bash
# faults: the server crashes, restarts, runs out of connection slots or appears late under a host
# name; migration files and directories that cannot be read; a read-only database.
#
# Tests that stop or restart the server use a cluster of their own (_own_cluster), so a failure
# never leaves the file's shared server down. SIGTERM and a lost connection (pg_terminate_backend)
# are in migrate.sh, SIGKILL of a no-transaction file in locking.sh, a runner killed behind
# PgBouncer in pgbouncer.sh.

# Passwords only these tests use. Every output of pgboot is kept (_run, _wait) or left in
# $PGB_WORK (out, err, out.N, err.N): when the test ends, pgb_check_secrets (tests/lib.sh) fails it if any of them
# holds one of these passwords.
_SECRETS=(Ft-S3cret-8d2b7e Ft-HogS3cret-41a9)

_keep() { cat -- "$PGB_OUT" "$PGB_ERR" >>"$PGB_WORK/transcript" 2>/dev/null || true; }
_run() {
	pgb_run "$@"
	_keep
}
_wait() {
	pgb_wait_pid "$@"
	_keep
}

pgb_guard_secrets "${_SECRETS[@]}"

# _role: a CREATEDB role $PGB_ROLE with this file's password, pointed at $PGB_DB
_role() {
	mkrole "$PGB_ROLE" "${_SECRETS[0]}" CREATEDB
	use_conn "$PGB_ROLE" "${_SECRETS[0]}" "$PGB_DB"
}

# _own_cluster [CONF-LINE...]: a new running cluster for this test only, with synchronous_commit
# back on (lib.sh turns it off for speed; then an immediate stop may lose a commit that pgboot
# already reported, which is PostgreSQL's documented trade-off, not what these tests are about).
_own_cluster() {
	pg_init || fail "initdb failed"
	printf '%s\n' 'synchronous_commit = on' "$@" | _pg_as tee -a "$PGB_DATADIR/postgresql.conf" >/dev/null
	pg_start_server || fail "the test's own server did not start"
}

# _sleep_setting SECONDS: how long `SELECT pg_sleep(current_setting('pgb.sleep')::float)` sleeps
# in the app role's sessions (so a second run of the same file, same checksum, is quick).
_sleep_setting() {
	psql_super -v r="$PGB_ROLE" -v s="$1" <<<"ALTER ROLE :\"r\" SET pgb.sleep = :'s';" >/dev/null
}

_SLEEP_SQL="SELECT pg_sleep(current_setting('pgb.sleep')::float);"

# _await_active PATTERN [SECONDS]: wait until a session runs a query LIKE PATTERN (default 20 s).
_await_active() {
	local t0 n=0
	t0=$(ms_now)
	while (($(ms_now) - t0 < ${2:-20} * 1000)); do
		n=$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'
			AND query LIKE :'p' AND pid <> pg_backend_pid()" -v p="$1") || n=0
		((n > 0)) && return 0
		if [[ -n ${PGB_PID:-} ]] && ! kill -0 "$PGB_PID" 2>/dev/null; then
			_wait 1
			fail "pgboot ended before a query like \"$1\" ran"
		fi
		sleep 0.05
	done
	fail "no query like \"$1\" ran within ${2:-20} s"
}

# _assert_app_not_run: the application of `run -- touch $PGB_WORK/app-ran` did not start
_assert_app_not_run() {
	[[ ! -e $PGB_WORK/app-ran ]] || fail "the application ran"
}

_runner_pids=()

# _runners N ARGS...: start N more pgboot processes with ARGS at once; their pids are added to
# _runner_pids, the output of the I-th (from 1) goes to $PGB_WORK/err.I and out.I.
_runners() {
	local n=$1 i j
	shift
	for ((i = 1; i <= n; i++)); do
		j=$((${#_runner_pids[@]} + 1))
		env --default-signal=INT,TERM "$PGBOOT" "$@" >"$PGB_WORK/out.$j" 2>"$PGB_WORK/err.$j" </dev/null &
		_runner_pids+=("$!")
		_pgb_register_pid "$!"
	done
}

# _await_runners SECONDS: wait for every runner; prints each one's exit code and stderr; fails
# when one is still running after SECONDS; sets _runners_failed to the number that did not exit 0.
_await_runners() {
	local t0 running pid i rc
	t0=$(ms_now)
	while :; do
		running=0
		for pid in "${_runner_pids[@]}"; do
			kill -0 "$pid" 2>/dev/null && running=$((running + 1))
		done
		((running == 0)) && break
		(($(ms_now) - t0 < $1 * 1000)) || fail "$running of ${#_runner_pids[@]} runners still running after $1 s"
		sleep 0.05
	done
	_runners_failed=0
	for i in "${!_runner_pids[@]}"; do
		rc=0
		wait "${_runner_pids[i]}" || rc=$?
		echo "runner $((i + 1)): exit $rc"
		sed 's/^/    | /' "$PGB_WORK/err.$((i + 1))"
		((rc == 0)) || _runners_failed=$((_runners_failed + 1))
	done
}

# --- the server goes away ------------------------------------------------------------------

test_faults_immediate_stop_during_a_long_migration() {
	_own_cluster
	_role
	_sleep_setting 30
	migdir migrations \
		0001_first.sql 'CREATE TABLE crash_first (id int);' \
		0002_long.sql $'CREATE TABLE crash_long (id int);\nINSERT INTO crash_long VALUES (1);\n'"$_SLEEP_SQL"$'\nCREATE TABLE crash_after (id int);'
	pgb_bg run --wait-timeout 10s -- touch "$PGB_WORK/app-ran"
	_await_active '%pg_sleep%'
	local t0
	t0=$(ms_now)
	_pg_as "$PG_BIN/pg_ctl" -D "$PGB_DATADIR" -m immediate -w -t 20 stop >/dev/null || fail "pg_ctl stop -m immediate failed"
	_wait 20
	assert_exit 69
	assert_lt $((PGB_END_MS - t0)) 5000 "ms from the immediate stop to pgboot's exit"
	assert_contains "$PGB_ERR" 'lost the connection while applying "migrations/0002_long.sql"'
	_assert_app_not_run
	# After crash recovery: the interrupted migration left neither its changes nor its history row.
	pg_start_server || fail "the server did not start again"
	assert_eq t "$(table_exists "$PGB_DB" crash_first)" "table of the committed migration 0001"
	assert_eq f "$(table_exists "$PGB_DB" crash_long)" "table created by the interrupted migration"
	assert_eq "1|0001_first.sql|$(sha migrations/0001_first.sql)" "$(history "$PGB_DB")" "history after recovery"
	_sleep_setting 0
	_run run --wait-timeout 10s -- touch "$PGB_WORK/app-ran"
	assert_exit 0
	assert_contains "$PGB_ERR" 'applying 0002_long.sql'
	assert_not_contains "$PGB_ERR" 'applying 0001_first.sql'
	[[ -e $PGB_WORK/app-ran ]] || fail "the application did not run after the second run"
	_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" 'no pending migrations'
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM crash_long')" "rows inserted by 0002 (applied once)"
	assert_eq $'1|0001_first.sql|'"$(sha migrations/0001_first.sql)"$'\n2|0002_long.sql|'"$(sha migrations/0002_long.sql)" \
		"$(history "$PGB_DB")" "history"
}

test_faults_sigkill_during_a_transactional_migration() {
	_role
	_sleep_setting 3
	migdir migrations \
		0001_first.sql 'CREATE TABLE kill_first (id int);' \
		0002_long.sql $'CREATE TABLE kill_long (id int);\nINSERT INTO kill_long VALUES (1);\n'"$_SLEEP_SQL"
	pgb_bg run --wait-timeout 10s -- touch "$PGB_WORK/app-ran"
	_await_active '%pg_sleep%'
	kill -KILL "$PGB_PID"
	_wait 5
	assert_exit 137
	_assert_app_not_run
	# The server notices the dead client when pg_sleep ends and rolls the transaction back; the
	# lock connection, idle in its transaction, goes at once. The next run waits for neither.
	_sleep_setting 0
	_run run --wait-timeout 10s -- touch "$PGB_WORK/app-ran"
	assert_exit 0
	assert_contains "$PGB_ERR" 'applying 0002_long.sql'
	[[ -e $PGB_WORK/app-ran ]] || fail "the application did not run after the second run"
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM kill_long')" "rows inserted by 0002 (applied once)"
	assert_eq $'1|0001_first.sql|'"$(sha migrations/0001_first.sql)"$'\n2|0002_long.sql|'"$(sha migrations/0002_long.sql)" \
		"$(history "$PGB_DB")" "history"
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" "advisory locks left"
}

test_faults_server_restarting_while_ten_runners_start() {
	_own_cluster
	_role
	# Each batch of runners starts as a restart (-m fast: sessions are ended) begins, 1 s apart,
	# with one more migration than the batch before.
	migdir m1 0001_a.sql $'CREATE TABLE rs_a (id int);\nINSERT INTO rs_a VALUES (1);'
	migdir m2
	cp m1/* m2/
	printf '%s\n' 'INSERT INTO rs_a VALUES (2);' >m2/0002_b.sql
	migdir m3
	cp m2/* m3/
	printf '%s\n' 'INSERT INTO rs_a VALUES (3);' >m3/0003_c.sql
	local k restarter rc batch=(4 3 3) t0
	t0=$(ms_now)
	for k in 1 2 3; do
		_pg_as "$PG_BIN/pg_ctl" -D "$PGB_DATADIR" -l "$PGB_LOG" -m fast -w -t 60 restart \
			>"$PGB_WORK/restart.$k" 2>&1 &
		restarter=$!
		_pgb_register_pid "$restarter"
		sleep 0.05
		_runners "${batch[k - 1]}" run --migrate-dir "m$k" --wait-timeout 60s --migrate-lock-wait 60s -- true
		rc=0
		wait "$restarter" || rc=$?
		echo "restart $k: exit $rc at $(($(ms_now) - t0)) ms"
		((rc == 0)) || { cat "$PGB_WORK/restart.$k"; fail "pg_ctl restart $k failed"; }
		sleep 1
	done
	_await_runners 90
	assert_eq 0 "$_runners_failed" "runners that did not exit 0"
	assert_eq $'1|0001_a.sql|'"$(sha m3/0001_a.sql)"$'\n2|0002_b.sql|'"$(sha m3/0002_b.sql)"$'\n3|0003_c.sql|'"$(sha m3/0003_c.sql)" \
		"$(history "$PGB_DB")" "history"
	assert_eq "1,2,3" "$(q "$PGB_DB" "SELECT string_agg(id::text, ',' ORDER BY id) FROM rs_a")" "rows of rs_a (each migration applied once)"
}

test_faults_connection_slots_exhausted_at_start() {
	# 8 connections, 3 of them reserved for superusers: 5 sleeping sessions of another role take
	# the rest. They are counted in the server log (log_connections), not by connecting: a
	# superuser session while they connect would take one of their slots.
	_own_cluster 'max_connections = 8' 'superuser_reserved_connections = 3' 'log_connections = on'
	_role
	local hog=${PGB_ROLE}_hog i t0
	mkrole "$hog" "${_SECRETS[1]}"
	migdir migrations 0001_a.sql 'CREATE TABLE slots_a (id int);'
	for i in 1 2 3 4 5; do
		PGPASSWORD=${_SECRETS[1]} "$PG_BIN/psql" -X -q -h "$PGB_HOST" -p "$PGB_PORT" -U "$hog" -d postgres \
			-c 'SELECT pg_sleep(60)' >"$PGB_WORK/hog.$i" 2>&1 &
		_pgb_register_pid "$!"
	done
	t0=$(ms_now)
	until (($(count_matches "$PGB_LOG" "connection authorized: user=$hog ") == 5)); do
		(($(ms_now) - t0 < 15000)) || { cat "$PGB_WORK"/hog.*; fail "the 5 sleeping sessions never connected"; }
		sleep 0.05
	done
	pgb_bg run --wait-timeout 90s -- touch "$PGB_WORK/app-ran"
	# The slots are freed 2 s after pgboot said it waits for one: under memcheck its first
	# attempt may come seconds after it started.
	t0=$(ms_now)
	until grep -qE 'waiting for database .*(remaining connection slots are reserved|too many clients)' "$PGB_ERR"; do
		kill -0 "$PGB_PID" 2>/dev/null || { _wait 1; fail "pgboot ended before it waited for a free connection slot"; }
		(($(ms_now) - t0 < 60000)) || fail "pgboot did not say it waits for a connection slot within 60 s"
		sleep 0.05
	done
	sleep 2
	kill -0 "$PGB_PID" 2>/dev/null || { _wait 1; fail "pgboot did not wait for a free connection slot"; }
	assert_eq 5 "$(q postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = :'u'" \
		-v u="$hog")" "sessions ended"
	_wait 30
	assert_exit 0
	assert_ge "$PGB_ELAPSED_MS" 2000 "ms before pgboot was ready (the slots were freed 2 s after it waited)"
	assert_eq t "$(table_exists "$PGB_DB" slots_a)" "table of the migration"
	[[ -e $PGB_WORK/app-ran ]] || fail "the application did not run"
}

# --- a host name that resolves only later --------------------------------------------------

_hosts_saved=
_hosts_owner=

# _hosts_restore: writes the saved /etc/hosts back byte for byte (in place: it may be a bind
# mount), once, from the process that saved it.
_hosts_restore() {
	[[ -n $_hosts_saved && $_hosts_owner == "$BASHPID" ]] || return 0
	if ! cat -- "$_hosts_saved" >/etc/hosts || ! cmp -s -- "$_hosts_saved" /etc/hosts; then
		echo "FAIL: could not restore /etc/hosts; its original is in $_hosts_saved"
		return 1
	fi
	_hosts_saved=
}

test_faults_host_name_that_resolves_later() {
	((EUID == 0)) || fail "this test edits /etc/hosts and must run as root (it runs as uid $EUID)"
	[[ -w /etc/hosts ]] || fail "/etc/hosts is not writable"
	local name saved
	name="pgboot-test-$RANDOM$RANDOM.invalid"
	! getent hosts "$name" >/dev/null || fail "$name resolves already"
	saved=$(mktemp "${TMPDIR:-/tmp}/pgboot-hosts.XXXXXX")
	cp -- /etc/hosts "$saved"
	_hosts_saved=$saved _hosts_owner=$BASHPID
	trap '_hosts_restore; pgb_check_secrets' EXIT
	trap '_hosts_restore; _pgb_cleanup; trap - EXIT; exit 130' INT
	trap '_hosts_restore; _pgb_cleanup; trap - EXIT; exit 143' TERM
	_role
	pgb_bg run --database-host "$name" --wait-timeout 30s -- touch "$PGB_WORK/app-ran"
	sleep 2
	kill -0 "$PGB_PID" 2>/dev/null || { _wait 1; fail "pgboot did not wait for the name to resolve"; }
	local last
	last=$(tail -c 1 "$saved" | od -An -tx1 | tr -d ' ')
	{
		[[ -z $last || $last == 0a ]] || echo
		printf '127.0.0.1 %s\n' "$name"
	} >>/etc/hosts
	_wait 30
	_hosts_restore
	rm -f -- "$saved"
	assert_exit 0
	assert_match "$PGB_ERR" "waiting for database .*$name"
	assert_ge "$PGB_ELAPSED_MS" 2000 "ms before pgboot was ready (the name resolves after 2 s)"
	[[ -e $PGB_WORK/app-ran ]] || fail "the application did not run"
}

# --- files that cannot be read -------------------------------------------------------------

# _run_as_nobody ARGS...: like _run, as the user nobody (root reads files whatever their
# mode). The test's directories are made traversable for it.
_run_as_nobody() {
	local t0
	((EUID == 0)) || fail "this test runs pgboot as the user nobody and must run as root (it runs as uid $EUID)"
	chmod 755 "$PGB_WORK" "$PGB_WORK/app"
	PGB_OUT=$PGB_WORK/out PGB_ERR=$PGB_WORK/err PGB_RC=0
	echo "+ runuser -u nobody -- pgboot$(printf ' %q' "$@")"
	t0=$(ms_now)
	# shellcheck disable=SC2034 # PGB_RC is read by assert_exit
	timeout --foreground -k 5 "${PGB_RUN_LIMIT:-60}" runuser -u nobody -- "$PGBOOT" "$@" \
		>"$PGB_OUT" 2>"$PGB_ERR" </dev/null || PGB_RC=$?
	PGB_ELAPSED_MS=$(($(ms_now) - t0))
	_pgb_show_run
	_keep
}

# _assert_nothing_created: the run stopped before it connected: no database, no application
_assert_nothing_created() {
	assert_eq 0 "$(db_exists "$PGB_DB")" "database $PGB_DB exists"
	_assert_app_not_run
	assert_not_contains "$PGB_OUT" 'APP-RAN'
}

test_faults_unreadable_migrations_directory_is_78() {
	_role
	migdir migrations 0001_a.sql 'CREATE TABLE unread_a (id int);'
	chmod 000 migrations
	_run_as_nobody run --wait-timeout 10s -- echo APP-RAN
	chmod 755 migrations
	assert_exit 78
	assert_contains "$PGB_ERR" 'could not open migrations directory "migrations": Permission denied'
	assert_lt "$PGB_ELAPSED_MS" 3000 "ms before failing (before any waiting)"
	_assert_nothing_created

	# a path that is a file, and a dangling symbolic link: the same error, as root too
	printf 'CREATE TABLE unread_b (id int);\n' >not-a-dir.sql
	_run run --migrate-dir not-a-dir.sql -- touch "$PGB_WORK/app-ran"
	assert_exit 78
	assert_contains "$PGB_ERR" 'could not open migrations directory "not-a-dir.sql": Not a directory'
	_assert_nothing_created
	ln -s "$PGB_WORK/nowhere" dangling-dir
	_run run --migrate-dir dangling-dir -- touch "$PGB_WORK/app-ran"
	assert_exit 78
	assert_contains "$PGB_ERR" 'could not open migrations directory "dangling-dir": No such file or directory'
	_assert_nothing_created
}

test_faults_unreadable_migration_file_is_65() {
	_role
	migdir migrations 0001_a.sql 'CREATE TABLE unread_file (id int);'
	chmod 000 migrations/0001_a.sql
	_run_as_nobody run --wait-timeout 10s -- echo APP-RAN
	assert_exit 65
	assert_contains "$PGB_ERR" 'could not read migration "migrations/0001_a.sql": Permission denied'
	assert_not_contains "$PGB_OUT" 'APP-RAN'
	assert_eq f "$(table_exists "$PGB_DB" unread_file)" "table of the unreadable migration"
	assert_eq "" "$(history "$PGB_DB")" "history"
}

# A file deleted while the migration before it runs disappears between listing and reading
# (a dangling symbolic link or a FIFO is caught at listing already: see badinput.sh). pgboot
# reads each file when its turn comes, so the deleted one is reported; were every file read
# before the first is applied, the deleted one would be applied from memory. Either is whole:
# never a part of a file, never the application after an error.
test_faults_file_removed_between_listing_and_reading() {
	_role
	_sleep_setting 2
	migdir migrations \
		0001_slow.sql $'CREATE TABLE gone_1 (id int);\n'"$_SLEEP_SQL" \
		0002_gone.sql $'CREATE TABLE gone_2 (id int);\nCREATE TABLE gone_2b (id int);' \
		0003_after.sql 'CREATE TABLE gone_3 (id int);'
	local sum2
	sum2=$(sha migrations/0002_gone.sql)
	pgb_bg run --wait-timeout 10s -- touch "$PGB_WORK/app-ran"
	_await_active '%pg_sleep%'
	rm migrations/0002_gone.sql
	_wait 20
	if [[ $PGB_RC == 65 ]]; then
		assert_contains "$PGB_ERR" 'could not read migration "migrations/0002_gone.sql": No such file or directory'
		_assert_app_not_run
		assert_eq "1|0001_slow.sql|$(sha migrations/0001_slow.sql)" "$(history "$PGB_DB")" "history (0001 was committed before)"
		assert_eq f "$(table_exists "$PGB_DB" gone_2)" "table of the deleted migration"
		assert_eq f "$(table_exists "$PGB_DB" gone_3)" "table of the migration after the deleted one"
	else
		assert_exit 0
		[[ -e $PGB_WORK/app-ran ]] || fail "the application did not run"
		assert_eq $'1|0001_slow.sql|'"$(sha migrations/0001_slow.sql)"$'\n2|0002_gone.sql|'"$sum2"$'\n3|0003_after.sql|'"$(sha migrations/0003_after.sql)" \
			"$(history "$PGB_DB")" "history (every file read before the deletion)"
		assert_eq t "$(table_exists "$PGB_DB" gone_2b)" "second table of the deleted migration"
	fi
}

# --- a database that refuses writes --------------------------------------------------------

test_faults_read_only_database() {
	_role
	psql_super -v d="$PGB_DB" -v r="$PGB_ROLE" <<-'EOF' >/dev/null
		CREATE DATABASE :"d" OWNER :"r";
		ALTER DATABASE :"d" SET default_transaction_read_only = on;
	EOF
	migdir migrations 0001_a.sql 'CREATE TABLE ro_a (id int);'
	# no history table yet: pgboot's own CREATE SCHEMA is refused; not an internal error (70)
	_run run -- touch "$PGB_WORK/app-ran"
	assert_exit 77
	assert_contains "$PGB_ERR" 'read-only transaction (SQLSTATE 25006)'
	_assert_app_not_run
	assert_eq f "$(table_exists "$PGB_DB" ro_a)" "table of the migration"
	assert_eq f "$(table_exists "$PGB_DB" pgboot.migrations)" "history table"

	# with the history table in place: the migration fails at its statement, nothing is applied
	psql_super -v d="$PGB_DB" <<<'ALTER DATABASE :"d" RESET default_transaction_read_only;' >/dev/null
	_run migrate
	assert_exit 0
	psql_super -v d="$PGB_DB" <<<'ALTER DATABASE :"d" SET default_transaction_read_only = on;' >/dev/null
	printf '%s\n' 'CREATE TABLE ro_b1 (id int);' 'CREATE TABLE ro_b2 (id int);' >migrations/0002_b.sql
	_run run -- touch "$PGB_WORK/app-ran"
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0002_b.sql:1:1: ERROR: cannot execute CREATE TABLE in a read-only transaction (SQLSTATE 25006)'
	_assert_app_not_run
	assert_eq f "$(table_exists "$PGB_DB" ro_b1)" "table of the refused migration"
	assert_eq "1|0001_a.sql|$(sha migrations/0001_a.sql)" "$(history "$PGB_DB")" "history"
}
