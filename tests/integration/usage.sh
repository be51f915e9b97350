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
