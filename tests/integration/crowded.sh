# shellcheck shell=bash
# crowded: a server with fewer connection slots than runners need. Each runner holds one
# connection; the lock connection of the default migrate.lock = session cannot always get
# a second, and pgboot then takes the lock in each migration's transaction instead.

# _crowd SLOTS: restart this test's server with max_connections = SLOTS (superusers keep 3)
_crowd() {
	q postgres "ALTER SYSTEM SET max_connections = $1" >/dev/null
	pg_restart
}

test_crowded_eight_runners_on_six_slots() {
	app_role
	_crowd 9 # 6 for roles that are not superusers
	local i
	migdir migrations
	for ((i = 1; i <= 30; i++)); do
		printf 'CREATE TABLE crowd%d (id int);\n' "$i" >"migrations/$(printf %04d "$i")_t.sql"
	done
	pgb_runners 8 migrate --wait-timeout 30s
	assert_eq 30 "$(q "$PGB_DB" 'SELECT count(DISTINCT version) FROM pgboot.migrations')" "history rows"
	assert_eq 30 "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')" "history rows (none twice)"
	assert_eq 0 "$(q "$PGB_DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" "advisory locks left"
	cat "$PGB_WORK"/err.* >"$PGB_WORK/all"
	echo "runners that fell back to per-transaction locks: $(grep -c 'no connection slot left' "$PGB_WORK/all")"
	_crowd 100
}
