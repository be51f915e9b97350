# shellcheck shell=bash
# init: pgboot as the container's init (exec.init). Most tests run pgboot as PID 1 of a new PID
# namespace (unshare --pid --fork --mount-proc), as a container engine starts its ENTRYPOINT.
# shellcheck disable=SC2016 # the $ expressions in single quotes belong to the application's shell

# init_bg ARGS...: pgboot as PID 1 of a new PID namespace, in the background. PGB_PID is
# unshare's PID (its exit status is pgboot's); INIT_PID, set by init_started, is pgboot's.
# (--kill-child: if unshare is killed, as when a test fails, the whole namespace goes too.)
# shellcheck disable=SC2034 # PGB_RC and PGB_T0 are read by pgb_wait_pid and assert_exit
init_bg() {
	PGB_OUT=$PGB_WORK/out PGB_ERR=$PGB_WORK/err PGB_RC=
	echo "+ unshare --pid --fork --mount-proc pgboot$(printf ' %q' "$@") &"
	PGB_T0=$(ms_now)
	env --default-signal=INT,TERM unshare --pid --fork --mount-proc --kill-child "$PGBOOT" "$@" \
		>"$PGB_OUT" 2>"$PGB_ERR" </dev/null &
	PGB_PID=$!
	_pgb_register_pid "$PGB_PID"
}

# init_run ARGS...: the same in the foreground; sets PGB_RC.
init_run() {
	init_bg "$@"
	pgb_wait_pid 30
}

# wait_file FILE [SECONDS]: until the application has written FILE (default 20 s).
wait_file() {
	local t0
	t0=$(ms_now)
	until [[ -e $1 ]]; do
		if (($(ms_now) - t0 > ${2:-20} * 1000)) || ! kill -0 "$PGB_PID" 2>/dev/null; then
			pgb_wait_pid 5 || true
			fail "the application never wrote $1"
		fi
		sleep 0.02
	done
}

# init_started: once the application has written ./ready, INIT_PID is the host PID of PID 1
# of the namespace (pgboot, or the application that replaced it).
init_started() {
	wait_file ready
	INIT_PID=$(awk '{ print $1 }' "/proc/$PGB_PID/task/$PGB_PID/children")
	[[ -n $INIT_PID ]] || fail "no process under unshare"
}

# zombies_of PID: how many zombie children PID has.
zombies_of() {
	local f n=0
	for f in /proc/[0-9]*/status; do
		awk -v p="$1" '/^State:/ { z = $2 == "Z" } /^PPid:/ { pp = $2 } END { exit !(z && pp == p) }' \
			"$f" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}

# The shell orphans 50 short-lived children (their own shells exit at once), so they are
# re-parented to PID 1, then the shell becomes a process that never reaps: sleep.
ORPHANS_APP='for i in $(seq 50); do sh -c "sleep 0.2 &"; done; : >ready; exec sleep 1000'

# send SIGNAL: sends it to pgboot (PID 1 of the namespace).
send() {
	echo "+ kill -$1 pgboot"
	kill "-$1" "$INIT_PID"
}

# wait_line FILE LINE: until FILE holds LINE (5 s).
wait_line() {
	local t0
	t0=$(ms_now)
	until grep -qx -- "$2" "$1" 2>/dev/null; do
		(($(ms_now) - t0 < 5000)) || fail "\"$2\" never reached the application ($(cat "$1" 2>/dev/null))"
		sleep 0.02
	done
}

test_init_pid1_reaps_orphaned_children() {
	app_role
	init_bg run -- sh -c "$ORPHANS_APP"
	init_started
	[[ $(cat "/proc/$INIT_PID/comm") != sleep ]] || fail "the application is PID 1: pgboot did not supervise"
	sleep 1.5
	assert_eq 0 "$(zombies_of "$INIT_PID")" "zombies left after the children exited"
	send TERM
	pgb_wait_pid 5
	assert_exit 143
}

test_init_off_leaves_zombies_as_pid1() {
	app_role
	# The same application with exec.init = off is PID 1 itself and reaps nothing, nor does
	# SIGTERM stop it: what the supervisor fixes (and proof that the test above can fail).
	init_bg --exec-init off run -- sh -c "$ORPHANS_APP"
	init_started
	sleep 1.5
	assert_ge "$(zombies_of "$INIT_PID")" 1 "zombies left with exec.init = off"
	send TERM
	sleep 0.5
	kill -0 "$INIT_PID" || fail "sleep as PID 1 stopped on SIGTERM: the control does not hold"
	kill -KILL "$INIT_PID"
	pgb_wait_pid 5
}

test_init_forwards_signals_to_the_application() {
	app_role
	init_bg run -- sh -c '
		for s in HUP INT USR1 USR2; do trap "echo $s >>got" $s; done
		trap "echo TERM >>got; exit 3" TERM
		echo $$ >app.pid; : >ready
		while :; do sleep 0.05; done'
	init_started
	[[ $(cat app.pid) != 1 ]] || fail "the application is PID 1: pgboot did not supervise"
	for s in HUP INT USR1 USR2 TERM; do
		send "$s"
		wait_line got "$s"
	done
	pgb_wait_pid 5
	assert_exit 3
}

test_init_sleep_stops_within_a_second_of_sigterm() {
	app_role
	init_bg run -- sh -c ': >ready; exec sleep 1000'
	init_started
	local t0
	until [[ $(cat "/proc/$INIT_PID/task/$INIT_PID/children" 2>/dev/null) =~ [0-9] ]] &&
		[[ $(cat "/proc/$(awk '{print $1}' "/proc/$INIT_PID/task/$INIT_PID/children")/comm") == sleep ]]; do
		sleep 0.02
	done
	t0=$(ms_now)
	send TERM
	pgb_wait_pid 5
	assert_exit 143
	assert_lt $((PGB_END_MS - t0)) 1000 "ms from SIGTERM to exit"
}

test_init_exit_codes_pass_through() {
	app_role
	local code
	for code in 0 1 7 255; do
		init_run run -- sh -c "exit $code"
		assert_exit "$code"
	done
	init_run run -- sh -c 'kill -USR1 $$'
	assert_exit $((128 + 10))
	init_run run -- sh -c 'kill -KILL $$'
	assert_exit $((128 + 9))
}

test_init_group_signals_reach_grandchildren() {
	app_role
	init_bg --exec-init-group true run -- sh -c '
		sh -c "trap \"echo grandchild >>got; exit 0\" TERM; : >gc_ready; while :; do sleep 0.05; done" &
		gc=$!
		trap "echo child >>got" TERM
		while [ ! -e gc_ready ]; do sleep 0.02; done
		: >ready
		wait $gc; wait $gc; exit 6'
	init_started
	send TERM
	pgb_wait_pid 5
	assert_exit 6
	assert_contains got grandchild
	assert_match got "^child$"
}

test_init_without_group_only_the_application_gets_the_signal() {
	app_role
	init_bg run -- sh -c '
		sh -c "trap \"echo grandchild >>got; exit 0\" TERM; : >gc_ready; while :; do sleep 0.05; done" &
		gc=$!
		trap "echo child >>got; sleep 0.5; kill -KILL $gc; exit 6" TERM
		while [ ! -e gc_ready ]; do sleep 0.02; done
		: >ready
		wait $gc; wait $gc; exit 9'
	init_started
	send TERM
	pgb_wait_pid 5
	assert_exit 6
	assert_eq child "$(cat got)" "who got SIGTERM"
}

test_init_kill_timeout_kills_an_application_ignoring_sigterm() {
	app_role
	init_bg --exec-init-kill-timeout 700ms run -- sh -c 'trap "" TERM; : >ready; while :; do sleep 0.05; done'
	init_started
	local t0
	t0=$(ms_now)
	send TERM
	pgb_wait_pid 10
	assert_exit 137
	assert_ge $((PGB_END_MS - t0)) 700 "ms from SIGTERM to SIGKILL"
	assert_lt $((PGB_END_MS - t0)) 3000 "ms from SIGTERM to SIGKILL"
	assert_contains "$PGB_ERR" 'did not exit within exec.init_kill_timeout'
}

test_init_no_kill_timeout_by_default() {
	app_role
	init_bg run -- sh -c 'trap "echo TERM >>got" TERM; : >ready; while :; do sleep 0.05; done'
	init_started
	send TERM
	wait_line got TERM
	sleep 1
	kill -0 "$INIT_PID" || fail "pgboot ended after SIGTERM although the application ignored it"
	send USR1 # no handler: the application dies of it
	pgb_wait_pid 5
	assert_exit $((128 + 10))
}

test_init_signal_map_rewrites_signals() {
	app_role
	# (not QUIT: a background job of the test's shell starts with SIGQUIT ignored, untrappable)
	PGBOOT_EXEC_INIT_SIGNAL_MAP='TERM:USR2, SIGINT:usr1' init_bg run -- sh -c '
		trap "echo USR1 >>got" USR1
		trap "echo USR2 >>got; exit 4" USR2
		trap "echo TERM >>got; exit 5" TERM
		: >ready; while :; do sleep 0.05; done'
	init_started
	send INT
	wait_line got USR1
	send TERM
	pgb_wait_pid 5
	assert_exit 4
	assert_eq $'USR1\nUSR2' "$(cat got)" "signals the application got"
}

test_init_bad_signal_map_is_a_configuration_error() {
	app_role
	pgb_run --exec-init-signal-map TERM:NOPE run -- true
	assert_exit 78
	assert_contains "$PGB_ERR" '--exec-init-signal-map: invalid value for "exec.init_signal_map": "TERM:NOPE"'
	printf '[exec]\ninit_signal_map = TERM\n' >entrypoint.ini
	pgb_run run -- true
	assert_exit 78
	assert_contains "$PGB_ERR" 'entrypoint.ini:2: invalid value for "exec.init_signal_map"'
	rm entrypoint.ini
	pgb_run --exec-init sometimes run -- true
	assert_exit 78
	assert_contains "$PGB_ERR" 'invalid value for "exec.init": "sometimes" (expected one of auto|on|off)'
}

test_init_auto_execs_when_not_pid1() {
	app_role
	PGBOOT_EXEC_INIT=auto pgb_bg run -- sh -c 'echo $$ >"$1"' sh "$PGB_WORK/app.pid"
	pgb_wait_pid 30
	assert_exit 0
	assert_eq "$PGB_PID" "$(cat "$PGB_WORK/app.pid")" "PID of the application (pgboot's PID)"
}

test_init_off_execs_as_pid1() {
	app_role
	init_run --exec-init off run -- sh -c 'echo $$ >app.pid'
	assert_exit 0
	assert_eq 1 "$(cat app.pid)" "PID of the application with exec.init = off"
}

test_init_on_supervises_when_not_pid1_and_reaps_orphans() {
	app_role
	# The orphan outlives its shell, so it is re-parented: to pgboot, the child subreaper.
	PGBOOT_EXEC_INIT=on pgb_bg run -- sh -c '
		echo $$ >app.pid
		sh -c "sleep 0.3 & echo \$! >orphan.pid"
		sleep 0.1
		sed -n "s/^PPid:[[:space:]]*//p" /proc/$(cat orphan.pid)/status >orphan.ppid
		sleep 1
		cat /proc/$(cat orphan.pid)/status >orphan.after 2>/dev/null; exit 0'
	pgb_wait_pid 30
	assert_exit 0
	[[ $(cat app.pid) != "$PGB_PID" ]] || fail "the application has pgboot's PID: it was exec'd"
	assert_eq "$PGB_PID" "$(cat orphan.ppid)" "parent of the orphan"
	[[ ! -s orphan.after ]] || fail "the orphan was not reaped: $(grep State orphan.after)"
}

test_init_short_flag_and_exec_failure() {
	app_role
	printf '#!/nonexistent/interpreter\n' >badshebang
	chmod 755 badshebang
	pgb_run --init run -- ./badshebang
	assert_exit 127
	assert_contains "$PGB_ERR" 'could not execute "./badshebang": No such file or directory'
	pgb_run --init run -- sh -c 'exit 7'
	assert_exit 7
}

# state PID: the one-letter state of a process (S sleeping, T stopped...).
state() {
	awk '/^State:/ { print $2 }' "/proc/$1/status"
}

# wait_state PID STATE: until PID is in STATE (5 s).
wait_state() {
	local t0
	t0=$(ms_now)
	until [[ $(state "$1") == "$2" ]]; do
		(($(ms_now) - t0 < 5000)) || fail "process $1 is in state $(state "$1"), not $2"
		sleep 0.02
	done
}

test_init_job_control_signals_as_tini() {
	app_role
	init_bg run -- sh -c ': >ready; exec sleep 1000'
	init_started
	local app
	app=$(awk '{ print $1 }' "/proc/$INIT_PID/task/$INIT_PID/children")
	# SIGTSTP is forwarded: the application stops, pgboot does not; SIGCONT resumes it.
	send TSTP
	wait_state "$app" T
	assert_eq S "$(state "$INIT_PID")" "state of pgboot after SIGTSTP"
	send CONT
	wait_state "$app" S
	# SIGTTIN and SIGTTOU are ignored by pgboot itself, never forwarded.
	send TTIN
	send TTOU
	sleep 0.3
	assert_eq S "$(state "$INIT_PID")" "state of pgboot after SIGTTIN and SIGTTOU"
	assert_eq S "$(state "$app")" "state of the application after SIGTTIN and SIGTTOU"
	send TERM
	pgb_wait_pid 5
	assert_exit 143
}

test_init_sigchld_ignored_at_start() {
	app_role
	# Started with SIGCHLD ignored, children would be reaped by the kernel before pgboot could
	# read the application's status: pgboot sets SIGCHLD back to its default before forking.
	cat >ign-chld <<-'EOF'
		#!/bin/sh
		exec unshare --pid --fork --mount-proc --kill-child python3 -c '
		import os, signal, sys
		signal.signal(signal.SIGCHLD, signal.SIG_IGN)
		os.execv(sys.argv[1], sys.argv[1:])' "$REAL_PGBOOT" "$@"
	EOF
	chmod 755 ign-chld
	export REAL_PGBOOT=$PGBOOT
	PGBOOT=$PWD/ign-chld pgb_run run -- sh -c 'exit 7'
	assert_exit 7
}
