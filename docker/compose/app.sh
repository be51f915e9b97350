#!/bin/sh
# The example application of docker/compose.yaml and k8s/: every APP_INTERVAL seconds
# (default 10) it prints what is in the tables pgboot migrated, and pgboot's history.
# It connects where pgboot did: host, port, user, database and TLS settings come from
# "pgboot config" (one source of truth, also for the per-branch database name of preview
# environments), the password from $PGBOOT_DATABASE_PASSWORD_FILE.
#   app.sh [--once]    --once: one round, exit with psql's status
set -eu

once=0
[ "${1:-}" = --once ] && once=1

config=$(pgboot config)

# setting KEY: the effective value of KEY (database.dbname...), empty when unset.
setting() {
	printf '%s\n' "$config" | sed -n "s/^$1 = \\([^ ]*\\)  .*/\\1/p" | sed '/^(unset)$/d'
}

# use VARIABLE KEY: export VARIABLE (a libpq variable) with the value of KEY when it is set.
use() {
	value=$(setting "$2")
	if [ -n "$value" ]; then
		export "$1=$value"
	fi
}

use PGHOST 'database\.host'
use PGPORT 'database\.port'
use PGUSER 'database\.user'
use PGDATABASE 'database\.dbname'
use PGSSLMODE 'database\.sslmode'
use PGSSLROOTCERT 'database\.sslrootcert'
if [ -n "${PGBOOT_DATABASE_PASSWORD_FILE:-}" ]; then
	PGPASSWORD=$(cat "$PGBOOT_DATABASE_PASSWORD_FILE")
	export PGPASSWORD
fi
# The history table, "schema.table" or "table" (in public), default pgboot.migrations.
history=$(setting 'migrate\.table')
history=${history:-pgboot.migrations}
case $history in
*.*) schema=${history%%.*} table=${history#*.} ;;
*) schema=public table=$history ;;
esac

# PID 1 gets no default signal actions: end on SIGTERM (docker stop, pod deletion) at once.
trap 'exit 0' TERM INT

while :; do
	status=0
	psql -X -q -v ON_ERROR_STOP=1 -v schema="$schema" -v table="$table" <<-'SQL' || status=$?
		SELECT current_database() AS database, (SELECT count(*) FROM accounts) AS accounts,
		       (SELECT count(*) FROM posts) AS posts;
		SELECT version, name, applied_at FROM :"schema".:"table" ORDER BY version;
	SQL
	if [ "$once" = 1 ]; then
		exit "$status"
	fi
	[ "$status" = 0 ] || echo "app: psql failed with status $status; trying again" >&2
	sleep "${APP_INTERVAL:-10}" &
	wait $! || true
done
