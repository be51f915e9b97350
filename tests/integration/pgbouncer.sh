# shellcheck shell=bash
# pgbouncer: both lock modes through a real PgBouncer in transaction pooling mode, with fewer
# server connections than runners, handed out round robin, so that clients hop between them
# as they do under load (with the default LIFO reuse a client mostly gets its own back).

PGB_BOUNCER=/usr/sbin/pgbouncer

# _bouncer_start MODE POOL_SIZE: a PgBouncer in front of the current cluster on a free loopback
# port, pool_mode MODE, at most POOL_SIZE server connections per database and user; sets
# PGB_BOUNCER_PORT. Runs as the postgres user (PgBouncer refuses root); stopped when the test ends.
_bouncer_start() {
	local mode=$1 size=$2 dir t0
	[[ -x $PGB_BOUNCER ]] || fail "$PGB_BOUNCER is missing (Debian package pgbouncer)"
	dir=$(mktemp -d "${TMPDIR:-/tmp}/pgboot-bouncer.XXXXXX")
	_pgb_register_dir "$dir"
	PGB_BOUNCER_PORT=$(free_port)
	printf '"%s" "%s"\n' "$PGB_ROLE" app-pw postgres "$PGB_SUPERPASS" >"$dir/userlist.txt"
	cat >"$dir/pgbouncer.ini" <<-INI
		[databases]
		* = host=127.0.0.1 port=$PGB_PORT
		[pgbouncer]
		listen_addr = 127.0.0.1
		listen_port = $PGB_BOUNCER_PORT
		unix_socket_dir =
		auth_type = scram-sha-256
		auth_file = $dir/userlist.txt
		pool_mode = $mode
		default_pool_size = $size
		max_client_conn = 200
		max_db_connections = $size
		logfile = $dir/pgbouncer.log
		pidfile = $dir/pgbouncer.pid
		ignore_startup_parameters = extra_float_digits
		server_round_robin = 1
	INI
	if ((EUID == 0)); then
		chown -R postgres "$dir"
	fi
	_pg_as "$PGB_BOUNCER" -d "$dir/pgbouncer.ini" >"$dir/start.log" 2>&1 ||
		{ cat "$dir/start.log" "$dir/pgbouncer.log" 2>/dev/null; fail "pgbouncer did not start"; }
	t0=$(ms_now)
	until [[ -s $dir/pgbouncer.pid ]] && (: <>"/dev/tcp/127.0.0.1/$PGB_BOUNCER_PORT") 2>/dev/null; do
		(($(ms_now) - t0 < 10000)) || { cat "$dir/pgbouncer.log"; fail "pgbouncer is not listening"; }
		sleep 0.05
	done
	_pgb_register_pid "$(cat "$dir/pgbouncer.pid")"
	PGB_BOUNCER_DIR=$dir
}

# _ten_runners_through_bouncer LOCK_MODE: 10 pgboot migrate at once through the bouncer
_ten_runners_through_bouncer() {
	local lock=$1
	app_role
	pgb_run create
	assert_exit 0
	_bouncer_start transaction 3
	migdir migrations \
		0001_a.sql 'CREATE TABLE pb1 (id int PRIMARY KEY);' \
		0002_b.sql $'CREATE TABLE pb2 (id int);\nSELECT pg_sleep(0.3);\nINSERT INTO pb1 VALUES (1);' \
		0003_c.sql 'CREATE INDEX pb2_id ON pb2 (id);'
	pgb_runners 10 migrate --database-port "$PGB_BOUNCER_PORT" --migrate-lock "$lock" --wait-timeout 30s
	assert_eq "1,2,3" "$(q "$PGB_DB" "SELECT string_agg(version::text, ',' ORDER BY version) FROM pgboot.migrations")" "history"
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM pb1')" "rows inserted by migration 2 (once)"
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" "advisory locks left"
	# each file applied by exactly one runner ("applied FILE in"; a runner that found a file
	# done meanwhile says so instead)
	assert_eq 3 "$(cat "$PGB_WORK"/err.* | grep -cE 'applied [0-9]+_[a-z]+\.sql in')" "files applied in all"
	# the runners went through PgBouncer: its server connections are the role's only ones
	assert_match "$PGB_BOUNCER_DIR/pgbouncer.log" "login attempt: db=$PGB_DB user=$PGB_ROLE"
	assert_ge 3 "$(q "$PGB_DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = :'d' AND usename = :'u'" -v d="$PGB_DB" -v u="$PGB_ROLE")" \
		"server connections of the role after the run"
}

test_pgbouncer_transaction_pooling_session_lock() {
	_ten_runners_through_bouncer session
}

test_pgbouncer_transaction_pooling_transaction_lock() {
	_ten_runners_through_bouncer transaction
}

test_pgbouncer_no_lock_left_behind_by_a_killed_runner() {
	app_role
	pgb_run create
	_bouncer_start transaction 2
	migdir migrations 0001_slow.sql $'CREATE TABLE pk (id int);\nSELECT pg_sleep(30);'
	pgb_bg migrate --database-port "$PGB_BOUNCER_PORT" --wait-timeout 20s
	local t0
	t0=$(ms_now)
	until [[ $(q "$PGB_DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") == 1 ]]; do
		(($(ms_now) - t0 < 15000)) || fail "the migration lock was never taken"
		sleep 0.05
	done
	kill -KILL "$PGB_PID"
	pgb_wait_pid 5
	# PgBouncer closes the server connection of an open transaction whose client went away
	t0=$(ms_now)
	until [[ $(q "$PGB_DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0 ]]; do
		(($(ms_now) - t0 < 15000)) || fail "the advisory lock is still held 15 s after the runner died"
		sleep 0.1
	done
	q "$PGB_DB" "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null
	migdir migrations 0001_slow.sql $'CREATE TABLE pk (id int);\nSELECT pg_sleep(0.1);'
	pgb_run migrate --database-port "$PGB_BOUNCER_PORT" --wait-timeout 20s --migrate-lock-wait 10s
	assert_exit 0
	assert_eq t "$(table_exists "$PGB_DB" pk)" "table"
}

# A transactional file goes in one pipeline (src/pipeline.c) through transaction pooling too:
# the server log shows its statements executed as a pipeline's ("execute <unnamed>"), and a
# failing statement still names its line and rolls back the file, in both lock modes.
_pipelined_through_bouncer() {
	local lock=$1 from
	app_role
	pgb_run create
	assert_exit 0
	psql_super -v d="$PGB_DB" <<<'ALTER DATABASE :"d" SET log_statement = '\''all'\'';' >/dev/null
	from=$(wc -l <"$PGB_LOG")
	_bouncer_start transaction 2
	migdir migrations \
		0001_a.sql $'CREATE TABLE pbp_a (id int);\nINSERT INTO pbp_a VALUES (1);' \
		0002_b.sql $'INSERT INTO pbp_a VALUES (2);\nINSERT INTO pbp_missing VALUES (1);\nINSERT INTO pbp_a VALUES (3);'
	pgb_run migrate --database-port "$PGB_BOUNCER_PORT" --migrate-lock "$lock" --wait-timeout 20s
	assert_exit 65
	assert_contains "$PGB_ERR" 'migrations/0002_b.sql:2:13: ERROR: relation "pbp_missing" does not exist'
	tail -n +"$((from + 1))" "$PGB_LOG" >"$PGB_WORK/server.log"
	assert_contains "$PGB_WORK/server.log" 'execute <unnamed>: INSERT INTO pbp_a VALUES (1);'
	assert_contains "$PGB_WORK/server.log" 'execute <unnamed>: INSERT INTO pbp_a VALUES (2);'
	assert_not_contains "$PGB_WORK/server.log" 'INSERT INTO pbp_a VALUES (3);'
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM pbp_a')" "rows of pbp_a"
	assert_eq 1 "$(q "$PGB_DB" "SELECT string_agg(version::text, ',') FROM pgboot.migrations")" "history"
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" "advisory locks left"
	assert_match "$PGB_BOUNCER_DIR/pgbouncer.log" "login attempt: db=$PGB_DB user=$PGB_ROLE"
}

test_pgbouncer_transaction_pooling_pipelined_file_session_lock() {
	_pipelined_through_bouncer session
}

test_pgbouncer_transaction_pooling_pipelined_file_transaction_lock() {
	_pipelined_through_bouncer transaction
}
