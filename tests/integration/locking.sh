# shellcheck shell=bash
# locking: lock and statement timeouts with retries, out-of-order files, per-transaction locks.

# _hold_lock DB TABLE SECONDS: another session holds an ACCESS EXCLUSIVE lock on TABLE for
# SECONDS, in the background; returns once the lock is held.
_hold_lock() {
	local db=$1 table=$2 seconds=$3 t0
	psql_db "$db" -c "BEGIN; LOCK TABLE $table IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep($seconds); COMMIT;" \
		>/dev/null 2>&1 &
	t0=$(ms_now)
	until [[ $(q "$db" "SELECT count(*) FROM pg_locks WHERE relation = '$table'::regclass AND mode = 'AccessExclusiveLock' AND granted") == 1 ]]; do
		(($(ms_now) - t0 < 10000)) || fail "the lock on $table was never taken"
		sleep 0.05
	done
}

test_locking_lock_timeout_is_retried_and_names_the_blocker() {
	app_role
	migdir migrations 0001_t.sql 'CREATE TABLE lt (id int);'
	pgb_run migrate
	assert_exit 0
	migdir migrations 0001_t.sql 'CREATE TABLE lt (id int);' 0002_alter.sql 'ALTER TABLE lt ADD COLUMN n int;'
	_hold_lock "$PGB_DB" lt 2
	pgb_run migrate --migrate-lock-timeout 300ms --migrate-lock-retries 5
	assert_exit 0
	assert_contains "$PGB_ERR" 'migrations/0002_alter.sql:1:1: ERROR: canceling statement due to lock timeout (SQLSTATE 55P03)'
	assert_contains "$PGB_ERR" 'lock timeout in "0002_alter.sql": retry 1 of 5'
	# the app role sees the holder in pg_locks; pg_stat_activity hides the superuser's query
	assert_match "$PGB_ERR" 'detail: sessions holding locks: pid [0-9]+ \(psql, state hidden; holds AccessExclusiveLock on lt\)'
	assert_eq t "$(q "$PGB_DB" "SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = 'lt' AND column_name = 'n'")" "column added"
	assert_eq 2 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
}

test_locking_lock_timeout_without_retries_is_65() {
	app_role
	migdir migrations 0001_t.sql 'CREATE TABLE lt0 (id int);'
	pgb_run migrate
	migdir migrations 0001_t.sql 'CREATE TABLE lt0 (id int);' 0002_alter.sql 'ALTER TABLE lt0 ADD COLUMN n int;'
	_hold_lock "$PGB_DB" lt0 3
	pgb_run run --migrate-lock-timeout 200ms --migrate-lock-retries 0 -- touch "$PGB_WORK/app-ran"
	assert_exit 65
	assert_contains "$PGB_ERR" '(SQLSTATE 55P03)'
	assert_not_contains "$PGB_ERR" 'retry'
	[[ ! -e $PGB_WORK/app-ran ]] || fail "the application ran"
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
}

test_locking_statement_timeout_is_server_side() {
	app_role
	migdir migrations 0001_slow.sql $'CREATE TABLE st_t (id int);\nSELECT pg_sleep(3);'
	pgb_run migrate --migrate-statement-timeout 300ms
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0001_slow.sql:2:1: ERROR: canceling statement due to statement timeout (SQLSTATE 57014)'
	assert_lt "$PGB_ELAPSED_MS" 2500 "ms before the statement timeout ended the run"
	assert_eq f "$(table_exists "$PGB_DB" st_t)" "table of the timed-out migration"
}

test_locking_out_of_order_is_refused_unless_allowed() {
	app_role
	migdir migrations 0001_a.sql 'CREATE TABLE oo1 (id int);' 0003_c.sql 'CREATE TABLE oo3 (id int);'
	pgb_run migrate
	assert_exit 0
	printf '%s\n' 'CREATE TABLE oo2 (id int);' >migrations/0002_b.sql
	pgb_run migrate
	assert_exit 65
	assert_contains "$PGB_ERR" 'migration "0002_b.sql" is older than the newest applied one, "0003_c.sql" (version 3)'
	assert_contains "$PGB_ERR" 'migrate.out_of_order = allow'
	assert_eq f "$(table_exists "$PGB_DB" oo2)" "table of the out-of-order file"
	PGBOOT_MIGRATE_OUT_OF_ORDER=allow pgb_run migrate
	assert_exit 0
	assert_eq t "$(table_exists "$PGB_DB" oo2)" "table of the out-of-order file"
}

test_locking_transaction_mode_with_ten_runners() {
	app_role
	migdir migrations \
		0001_a.sql 'CREATE TABLE tx1 (id int);' \
		0002_b.sql $'CREATE TABLE tx2 (id int);\nSELECT pg_sleep(0.2);' \
		0003_c.sql 'CREATE TABLE tx3 (id int);'
	pgb_runners 10 migrate --migrate-lock transaction --wait-timeout 20s
	assert_eq "1,2,3" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" "advisory locks left"
}

test_locking_transaction_mode_refuses_no_transaction_files() {
	app_role
	migdir migrations 0001_nt.sql $'-- pgboot:no-transaction\nCREATE TABLE ntx (id int);'
	pgb_run migrate --migrate-lock transaction
	assert_exit 65
	assert_contains "$PGB_ERR" 'runs without a transaction, which migrate.lock = transaction cannot protect'
	assert_eq f "$(table_exists "$PGB_DB" ntx)" "table"
}

test_locking_transaction_all_is_all_or_nothing() {
	app_role
	migdir migrations \
		0001_a.sql 'CREATE TABLE ta1 (id int);' \
		0002_b.sql $'BEGIN;\nCREATE TABLE ta2 (id int);\nCOMMIT;' \
		0003_c.sql 'CREATE TABLE ta3 (id int); SELECT 1/0;'
	pgb_run migrate --migrate-transaction all
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0003_c.sql:1:28: ERROR: division by zero'
	assert_eq f "$(table_exists "$PGB_DB" ta1)" "table of the first file"
	assert_eq "" "$(history "$PGB_DB")" "history"
	printf '%s\n' 'CREATE TABLE ta3 (id int);' >migrations/0003_c.sql
	pgb_run migrate --migrate-transaction all
	assert_exit 0
	assert_contains "$PGB_ERR" 'applying 0002_b.sql [2/3] (one transaction for all)'
	assert_eq "1,2,3" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	assert_eq 1 "$(q "$PGB_DB" "SELECT count(DISTINCT applied_at) FROM pgboot.migrations")" "one transaction (one now())"
}

test_locking_transaction_all_refuses_no_transaction_files() {
	app_role
	migdir migrations 0001_a.sql 'CREATE TABLE tn1 (id int);' \
		0002_nt.sql $'-- pgboot:no-transaction\nCREATE TABLE tn2 (id int);'
	pgb_run migrate --migrate-transaction all
	assert_exit 65
	assert_contains "$PGB_ERR" 'cannot join the one transaction of migrate.transaction = all: nothing was applied'
	assert_eq f "$(table_exists "$PGB_DB" tn1)" "table of the first file"
}

test_locking_concurrent_index_while_five_runners_wait() {
	app_role
	local t0
	migdir migrations \
		0001_data.sql $'CREATE TABLE cic (id int PRIMARY KEY, v text);\nINSERT INTO cic SELECT g, md5(g::text) FROM generate_series(1, 20000) g;' \
		0002_index.sql $'-- pgboot:no-transaction\nSELECT pg_sleep(1);\nCREATE INDEX CONCURRENTLY cic_v ON cic (v);'
	t0=$(ms_now)
	pgb_runners 6 migrate --wait-timeout 20s --migrate-lock-timeout 10s
	assert_lt $(($(ms_now) - t0)) 15000 "ms for the runners (a deadlock would end in lock timeouts)"
	assert_eq t "$(q "$PGB_DB" "SELECT indisvalid FROM pg_index WHERE indexrelid = 'cic_v'::regclass")" "index valid"
	assert_eq "1,2" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" "advisory locks left"
	cat "$PGB_WORK"/err.* >"$PGB_WORK/all-err"
	assert_not_contains "$PGB_WORK/all-err" 'lock timeout'
}

test_locking_killed_no_transaction_run_resumes() {
	app_role
	migdir migrations 0001_nt.sql \
		$'-- pgboot:no-transaction\nCREATE TABLE k1 (id int);\nSELECT pg_sleep(2);\nCREATE TABLE k3 (id int);'
	pgb_bg migrate --wait-timeout 10s
	local t0
	t0=$(ms_now)
	until [[ $(q "$PGB_DB" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(2)%'" 2>/dev/null) == 1 ]]; do
		(($(ms_now) - t0 < 15000)) || fail "the statement never ran"
		sleep 0.05
	done
	kill -KILL "$PGB_PID"
	pgb_wait_pid 5
	assert_exit 137
	assert_eq "1" "$(q "$PGB_DB" "SELECT string_agg(statement::text, ',') FROM pgboot.migrations_progress")" "statements recorded"
	assert_eq f "$(table_exists "$PGB_DB" k3)" "table of statement 3"
	pgb_run migrate --wait-timeout 10s
	assert_exit 0
	assert_contains "$PGB_ERR" 'resuming 0001_nt.sql at statement 2 of 3'
	assert_eq t "$(table_exists "$PGB_DB" k3)" "table of statement 3"
	assert_eq "1|0001_nt.sql|$(sha migrations/0001_nt.sql)" "$(history "$PGB_DB")" "history"
	assert_eq 0 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations_progress')" "progress rows left"
}

# A runner waiting for the migration lock waits on its own connection (one connection, not
# two), wakes when the holder lets it go and reads the history: when everything it would
# apply is applied, it is done without taking the lock.
# Here another session is queued for the lock behind the holder, so the lock passes to that
# session and the waiter could never take it: it must still end at once with exit 0, not
# wait out migrate.lock_wait.
test_locking_waiter_finds_the_work_done_without_the_lock() {
	app_role
	migdir migrations 0001_slow.sql $'CREATE TABLE lw (id int);\nSELECT pg_sleep(3);'
	pgb_bg migrate
	local holder=$PGB_PID t0 key queued
	pgb_await_active '%pg_sleep(3)%'
	t0=$(ms_now)
	key=$(q "$PGB_DB" "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1")
	# a session queued for the lock behind the holder gets it when the holder lets go
	psql_db "$PGB_DB" -c "SELECT pg_advisory_lock($key); SELECT pg_sleep(20);" >/dev/null 2>&1 &
	queued=$!
	_pgb_register_pid "$queued"
	until [[ $(q "$PGB_DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == 1 ]]; do
		(($(ms_now) - t0 < 15000)) || fail "the session did not queue for the lock"
		sleep 0.02
	done
	PGB_OUT=$PGB_WORK/out2 PGB_ERR=$PGB_WORK/err2
	env --default-signal=INT,TERM "$PGBOOT" migrate --migrate-lock-wait 20s \
		--database-application-name pgboot-waiter >"$PGB_OUT" 2>"$PGB_ERR" </dev/null &
	local waiter=$!
	_pgb_register_pid "$waiter"
	until grep -q 'waiting for another pgboot' "$PGB_ERR"; do
		(($(ms_now) - t0 < 15000)) || fail "the second runner did not wait for the lock"
		sleep 0.02
	done
	# while it waits, the second runner holds one server connection, not two
	assert_eq 1 "$(q "$PGB_DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgboot-waiter'")" \
		"connections of the waiting runner"
	PGB_PID=$holder
	PGB_ERR=$PGB_WORK/err
	pgb_wait_pid 30
	assert_exit 0
	# the holder is done; the lock went to the queued session
	t0=$(ms_now)
	until [[ $(q "$PGB_DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") == 1 ]]; do
		(($(ms_now) - t0 < 10000)) || fail "the queued session did not get the lock"
		sleep 0.02
	done
	PGB_PID=$waiter PGB_ERR=$PGB_WORK/err2 PGB_OUT=$PGB_WORK/out2
	pgb_wait_pid 15
	assert_exit 0
	assert_contains "$PGB_ERR" 'waiting for another pgboot to finish migrating'
	assert_contains "$PGB_ERR" 'no pending migrations: another runner applied them'
	assert_not_contains "$PGB_ERR" 'applying'
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
	kill "$queued" 2>/dev/null || true
}

# migrate.lock_wait ends the wait for a runner that holds the lock too long: 69, naming the
# holder's backend, and nothing applied by the runner that gave up.
test_locking_lock_wait_names_the_holder() {
	app_role
	migdir migrations 0001_slow.sql $'CREATE TABLE lh (id int);\nSELECT pg_sleep(4);'
	pgb_bg migrate
	local holder=$PGB_PID pid rc
	pgb_await_active '%pg_sleep(4)%'
	pid=$(q "$PGB_DB" "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1")
	# its own output files: the holder still writes to PGB_ERR
	rc=0
	timeout -k 5 60 "$PGBOOT" migrate --migrate-lock-wait 1s >"$PGB_WORK/out2" 2>"$PGB_WORK/err2" \
		</dev/null || rc=$?
	PGB_ERR=$PGB_WORK/err2
	assert_eq 69 "$rc" "exit code of the runner that gave up"
	assert_contains "$PGB_ERR" 'could not take the migration lock within 1s (migrate.lock_wait)'
	assert_contains "$PGB_ERR" "the migration lock is held by pid $pid (application \"pgboot\", client 127.0.0.1, idle in transaction)"
	assert_not_contains "$PGB_ERR" 'applying'
	PGB_PID=$holder PGB_ERR=$PGB_WORK/err
	pgb_wait_pid 30
	assert_exit 0
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows"
}

# Advisory locks belong to a database: a runner in another database of the same server
# (one per preview branch) neither waits for nor names the lock held here.
test_locking_lock_of_another_database_is_not_waited_for() {
	app_role
	migdir migrations 0001_slow.sql $'CREATE TABLE lo (id int);\nSELECT pg_sleep(3);'
	pgb_bg migrate
	local holder=$PGB_PID rc=0
	pgb_await_active '%pg_sleep(3)%'
	migdir other 0001_quick.sql 'CREATE TABLE lo (id int);'
	timeout -k 5 60 "$PGBOOT" migrate --migrate-dir other --database-dbname "${PGB_DB}_other" \
		--migrate-lock-wait 1s >"$PGB_WORK/out2" 2>"$PGB_WORK/err2" </dev/null || rc=$?
	assert_eq 0 "$rc" "exit code of the runner in the other database"
	assert_not_contains "$PGB_WORK/err2" 'waiting for another pgboot'
	assert_eq 1 "$(q "${PGB_DB}_other" 'SELECT count(*) FROM pgboot.migrations')" "history rows there"
	PGB_PID=$holder
	pgb_wait_pid 30
	assert_exit 0
}
