# shellcheck shell=bash
# The application image of docker/Dockerfile.example (pgboot as ENTRYPOINT, /app/server as CMD),
# built by tests/containers/run from the repository's entrypoint.ini and migrations/ and the small
# application tests/containers/app/server, run against the run's PostgreSQL.

# example_start NAME [DOCKER OPTIONS...] [-- COMMAND...]: docker run -d of the example image as a
# CREATEDB role on $PGB_DB, host network.
example_start() {
	local name=$1 opts=()
	shift
	while (($# > 0)) && [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	(($# > 0)) && shift
	ct_docker run -d --name "$name" --network host --read-only --cap-drop ALL \
		-e PGBOOT_DATABASE_HOST=127.0.0.1 -e "PGBOOT_DATABASE_PORT=$PGB_PORT" \
		-e "PGBOOT_DATABASE_USER=$PGB_ROLE" -e PGBOOT_DATABASE_PASSWORD=app-pw \
		-e "PGBOOT_DATABASE_DBNAME=$PGB_DB" -e PGBOOT_WAIT_TIMEOUT=20s \
		"${opts[@]}" pgboot-app-example:test "$@" >/dev/null
}

# ct_wait_exit NAME SECONDS: wait for the container to stop; prints its exit code.
ct_wait_exit() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if [[ $("$DOCKER" inspect -f '{{.State.Running}}' "$1") == false ]]; then
			"$DOCKER" inspect -f '{{.State.ExitCode}}' "$1"
			return 0
		fi
		sleep 0.1
	done
	fail "container $1 still running after $2 s"
}

# docker_stop_ms NAME: docker stop with the default 10 s grace period; prints how long it took.
docker_stop_ms() {
	local t0
	t0=$(ms_now)
	"$DOCKER" stop "$1" >/dev/null
	echo $(($(ms_now) - t0))
}

# The database is created and migrated, then the application runs: as the child of pgboot,
# which stays PID 1 of the container as its init (exec.init = auto); docker stop ends it within
# a second; docker logs shows pgboot's lines, then the application's.
test_example_migrates_then_runs_app() {
	local name=ex-$PGB_TEST ms logs=$PGB_WORK/logs first_app last_pgboot
	mkrole "$PGB_ROLE" app-pw CREATEDB
	example_start "$name"
	ct_wait_log "$name" "app: started"
	# PID 1 is pgboot, supervising; the app, with CMD's arguments, is its child.
	"$DOCKER" top "$name" -o pid,ppid,args | tee "$PGB_WORK/top"
	assert_eq "/usr/local/bin/pgboot -- /app/server --port 8080" \
		"$("$DOCKER" exec "$name" cat /proc/1/cmdline | tr '\0' ' ' | sed 's/ $//')" "PID 1 of the container"
	assert_eq 1 "$(db_exists "$PGB_DB")" "database created"
	assert_eq "3" "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "migrations applied"
	assert_eq "t" "$(table_exists "$PGB_DB" posts)"
	"$DOCKER" logs "$name" >"$logs" 2>&1
	sed 's/^/    | /' "$logs"
	assert_match "$logs" '^app: started, pid [0-9]+, parent 1, arguments: --port 8080$'
	assert_no_match "$logs" '^app: started, pid 1,'
	assert_match "$logs" '^pgboot: info: .*applied'
	last_pgboot=$(grep -n '^pgboot: ' "$logs" | tail -n 1 | cut -d: -f1)
	first_app=$(grep -n '^app: ' "$logs" | head -n 1 | cut -d: -f1)
	assert_lt "$last_pgboot" "$first_app" "line of pgboot's last line before the app's first"
	ms=$(docker_stop_ms "$name")
	echo "docker stop took $ms ms"
	assert_lt "$ms" 1000 "docker stop (ms)"
	assert_eq 0 "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$name")" "exit code after docker stop"
	"$DOCKER" logs "$name" >"$logs" 2>&1
	assert_contains "$logs" "app: stopping on SIGTERM"
	assert_not_contains "$logs" app-pw
}

# exec.init = off: pgboot execs the application, which becomes the process the container
# started (PID 1), with CMD's arguments, and still stops within a second (it has a handler).
test_example_init_off_execs_app_as_pid_1() {
	local name=ex-$PGB_TEST ms logs=$PGB_WORK/logs
	mkrole "$PGB_ROLE" app-pw CREATEDB
	example_start "$name" -e PGBOOT_EXEC_INIT=off
	ct_wait_log "$name" "app: started"
	"$DOCKER" logs "$name" >"$logs" 2>&1
	sed 's/^/    | /' "$logs"
	assert_contains "$logs" "app: started, pid 1, parent 0, arguments: --port 8080"
	ms=$(docker_stop_ms "$name")
	echo "docker stop took $ms ms"
	assert_lt "$ms" 1000 "docker stop (ms)"
	assert_eq 0 "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$name")" "exit code after docker stop"
}

# A failing migration: the container exits 65, the application never started.
test_example_failing_migration_exits_65() {
	local name=ex-$PGB_TEST m=$PGB_WORK/migrations logs=$PGB_WORK/logs
	mkrole "$PGB_ROLE" app-pw CREATEDB
	migdir "$m" 0001_ok.sql 'CREATE TABLE ok (id int);' 0002_bad.sql 'CREATE TABLE broken (id int'
	ct_readable "$m"
	example_start "$name" -v "$m:/app/migrations:ro"
	assert_eq 65 "$(ct_wait_exit "$name" 60)" "container exit code"
	"$DOCKER" logs "$name" >"$logs" 2>&1
	sed 's/^/    | /' "$logs"
	assert_contains "$logs" 0002_bad.sql
	assert_not_contains "$logs" "app: "
	assert_eq "1" "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "applied before the failure"
	assert_eq "f" "$(table_exists "$PGB_DB" broken)"
}

# An application without a SIGTERM handler (sleep): pgboot, PID 1 of the container, supervises it
# (exec.init=auto, issue 13) and forwards docker stop's SIGTERM, so the container stops in about
# a second, not after the 10 s grace period and SIGKILL; the exit status says SIGTERM (143).
test_example_stop_app_without_handler() {
	local name=ex-$PGB_TEST ms
	mkrole "$PGB_ROLE" app-pw CREATEDB
	example_start "$name" -- sleep 1000
	ct_wait_log "$name" "applied"
	for ((i = 0; i < 100; i++)); do
		"$DOCKER" top "$name" -o pid,args 2>/dev/null | grep -q 'sleep 1000' && break
		sleep 0.1
	done
	"$DOCKER" top "$name" -o pid,ppid,args
	ms=$(docker_stop_ms "$name")
	echo "docker stop took $ms ms"
	assert_lt "$ms" 1500 "docker stop of an application without a SIGTERM handler (ms)"
	assert_eq 143 "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$name")" "exit code (128 + SIGTERM)"
}
