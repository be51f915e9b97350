# shellcheck shell=bash
# usage: command-line mistakes are usage errors (64), reported at once, without connecting.

test_usage_unknown_option_is_64() {
	use_conn "$PGB_ROLE" app-pw "$PGB_DB"
	local args
	for args in '--no-such-option' 'wait --no-such-option' '--no-such-option wait' 'config --wait-bogus 1s' 'run -Z'; do
		# shellcheck disable=SC2086 # split on purpose
		pgb_run $args
		assert_exit 64
		assert_lt "$PGB_ELAPSED_MS" 2000 "ms before the usage error"
	done
}

test_usage_extra_argument_is_64() {
	use_conn "$PGB_ROLE" app-pw "$PGB_DB"
	local cmd
	for cmd in status wait create migrate config; do
		pgb_run "$cmd" extra-arg
		assert_exit 64
		assert_lt "$PGB_ELAPSED_MS" 2000 "ms before the usage error"
	done
}

test_usage_option_without_value_is_64() {
	clear_conn
	pgb_run config --wait-timeout
	assert_exit 64
	pgb_run config --config
	assert_exit 64
}

test_usage_help_and_version() {
	clear_conn
	local opt code
	for opt in --help -h; do
		pgb_run "$opt"
		assert_exit 0
		[[ -s $PGB_OUT ]] || fail "$opt printed nothing on stdout"
		for code in 64 65 69 70 77 78 126 127; do
			assert_contains "$PGB_OUT" "$code"
		done
	done
	for opt in --version -V; do
		pgb_run "$opt"
		assert_exit 0
		[[ -s $PGB_OUT ]] || fail "$opt printed nothing on stdout"
	done
}

# A word that is not a command is the application's; one that cannot be run and is close to
# a command (at most 2 edits) gets "did you mean" with the exit code of a missing command.
test_usage_mistyped_command_gets_did_you_mean() {
	app_role
	local typo want
	for typo in stauts:status migrte:migrate rollbak:rollback cnofig:config; do
		want=${typo#*:}
		pgb_run "${typo%%:*}"
		assert_exit 127
		assert_contains "$PGB_ERR" "\"${typo%%:*}\" is not a pgboot command either"
		assert_contains "$PGB_ERR" "hint: did you mean \"$want\"? (pgboot $want)"
	done
	# far from every command, or a path: no guess
	for typo in no-such-application ./stauts; do
		pgb_run "$typo"
		assert_exit 127
		assert_not_contains "$PGB_ERR" 'did you mean'
	done
}
