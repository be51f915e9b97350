# shellcheck shell=bash
# exec: after wait/create/migrate, pgboot replaces itself with the application.
# shellcheck disable=SC2016 # the $ expressions in single quotes belong to the application's shell

test_exec_keeps_the_pid() {
	app_role
	pgb_bg run -- sh -c 'echo $$ >"$1"' sh "$PGB_WORK/app.pid"
	pgb_wait_pid 30
	assert_exit 0
	[[ -s $PGB_WORK/app.pid ]] || fail "the application did not run"
	assert_eq "$PGB_PID" "$(cat "$PGB_WORK/app.pid")" "PID of the application (pgboot's PID)"
}

test_exec_passes_arguments_byte_for_byte() {
	app_role
	local args=('a b' "it's" '"double"' '$(touch pwned)' '`touch pwned2`' $'line1\nline2' ''
		'*' '--' '-x' '--wait-timeout' '1s' 'back\slash' $'tab\there' 'héllo' ' lead' 'trail ' '$HOME')
	printf '%s\0' "${args[@]}" >"$PGB_WORK/expected.bin"
	pgb_run run -- sh -c 'for a in "$@"; do printf "%s\0" "$a"; done >args.bin' sh "${args[@]}"
	assert_exit 0
	[[ -f args.bin ]] || fail "the application did not run"
	cmp "$PGB_WORK/expected.bin" args.bin || {
		echo "expected: $(od -c "$PGB_WORK/expected.bin")"
		echo "got:      $(od -c args.bin)"
		fail "arguments differ"
	}
	[[ ! -e pwned && ! -e pwned2 ]] || fail "an argument was run through a shell"
}

test_exec_options_end_at_the_first_non_option() {
	app_role
	pgb_run run --wait-timeout 10s sh -c 'printf "%s\n" "$@" >args.txt' sh --wait-timeout 1s -x
	assert_exit 0
	assert_eq $'--wait-timeout\n1s\n-x' "$(cat args.txt)" "arguments after the command"
}

test_exec_without_run_subcommand() {
	app_role
	pgb_run sh -c 'echo implicit >marker'
	assert_exit 0
	assert_eq implicit "$(cat marker 2>/dev/null)" "marker written by the application"
	pgb_run --wait-timeout 10s -- sh -c 'echo dashdash >marker'
	assert_exit 0
	assert_eq dashdash "$(cat marker 2>/dev/null)" "marker written by the application"
}

test_exec_after_double_dash_a_subcommand_name_is_a_command() {
	app_role
	pgb_run -- status
	assert_exit 127
	assert_contains "$PGB_ERR" 'could not execute "status": No such file or directory'
}

test_exec_no_command_exits_0() {
	app_role
	pgb_run run
	assert_exit 0
	assert_eq 1 "$(db_exists "$PGB_DB")" "database exists"
	pgb_run
	assert_exit 0
}

test_exec_missing_command_is_127() {
	app_role
	pgb_run run -- pgboot-no-such-command-x arg
	assert_exit 127
	assert_contains "$PGB_ERR" 'could not execute "pgboot-no-such-command-x": No such file or directory'
	pgb_run run -- /nonexistent/dir/cmd
	assert_exit 127
	assert_contains "$PGB_ERR" 'could not execute "/nonexistent/dir/cmd": No such file or directory'
}

test_exec_not_executable_is_126() {
	app_role
	printf '#!/bin/sh\nexit 0\n' >notexec.sh
	chmod 644 notexec.sh
	pgb_run run -- ./notexec.sh
	assert_exit 126
	assert_contains "$PGB_ERR" 'notexec.sh'
}

test_exec_exit_code_and_output_passed_through() {
	app_role
	pgb_run run -- sh -c 'echo to-stdout; echo to-stderr >&2; exit 7'
	assert_exit 7
	assert_eq to-stdout "$(cat "$PGB_OUT")" "stdout"
	assert_contains "$PGB_ERR" to-stderr
}

test_exec_signals_reach_the_application() {
	app_role
	pgb_bg run -- sh -c 'trap "exit 42" TERM; : >ready; while :; do sleep 0.1; done'
	local t0
	t0=$(ms_now)
	until [[ -e ready ]]; do
		(($(ms_now) - t0 < 20000)) || break
		kill -0 "$PGB_PID" 2>/dev/null || break
		sleep 0.05
	done
	[[ -e ready ]] || { pgb_wait_pid 1; fail "the application never started"; }
	kill -TERM "$PGB_PID"
	pgb_wait_pid 5
	assert_exit 42
}

# Issue 11 item 4: a mistyped command ("pgboot stauts") was taken as the application, and
# the pending migrations were applied before it failed with 127.
test_exec_unknown_command_changes_nothing() {
	app_role
	migdir migrations 0001_users.sql 'CREATE TABLE users (id int);'
	pgb_run stauts
	assert_exit 127
	assert_contains "$PGB_ERR" 'could not execute "stauts": No such file or directory'
	assert_not_contains "$PGB_ERR" 'applied'
	assert_eq 0 "$(db_exists "$PGB_DB")" "database created for a command that cannot run"
	pgb_run run -- pgboot-no-such-command-x
	assert_exit 127
	assert_eq 0 "$(db_exists "$PGB_DB")" "database created for a command that cannot run"
	# Once the database exists, still no history table and no migration.
	psql_super -c "CREATE DATABASE $PGB_DB OWNER $PGB_ROLE" >/dev/null
	pgb_run nosuchcmd
	assert_exit 127
	assert_eq f "$(table_exists "$PGB_DB" pgboot.migrations)" "history table after a command that cannot run"
	assert_eq f "$(table_exists "$PGB_DB" users)" "table of the pending migration"
	printf '#!/bin/sh\nexit 0\n' >notexec.sh
	chmod 644 notexec.sh
	pgb_run ./notexec.sh
	assert_exit 126
	assert_contains "$PGB_ERR" 'could not execute "./notexec.sh": Permission denied'
	assert_eq f "$(table_exists "$PGB_DB" pgboot.migrations)" "history table after a command that cannot run"
}

test_exec_unknown_command_fails_before_waiting() {
	app_role
	blackhole_start
	pgb_run --database-port "$PGB_BLACKHOLE_PORT" --wait-timeout 20s nosuchcmd
	assert_exit 127
	assert_lt "$PGB_ELAPSED_MS" 2000 "ms before exit 127 with the database unreachable"
	assert_not_contains "$PGB_ERR" 'waiting'
}

test_exec_command_found_in_path_as_execvp_would() {
	app_role
	mkdir -p bin1 bin2
	printf '#!/bin/sh\nexit 0\n' >bin1/myapp
	chmod 644 bin1/myapp # found first but not executable: the search goes on, as execvp's
	printf '#!/bin/sh\necho from-bin2 >marker\n' >bin2/myapp
	chmod 755 bin2/myapp
	PATH="$PWD/bin1:$PWD/bin2:$PATH" pgb_run myapp
	assert_exit 0
	assert_eq from-bin2 "$(cat marker)" "the program that ran"
	PATH="$PWD/bin1:$PATH" pgb_run myapp
	assert_exit 126
	assert_contains "$PGB_ERR" 'could not execute "myapp": Permission denied'
	mkdir -p adir
	pgb_run run -- ./adir
	assert_exit 126
}
