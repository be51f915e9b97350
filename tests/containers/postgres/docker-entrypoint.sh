#!/bin/sh
# Entrypoint of the postgres:15 stand-in (see Dockerfile): on the first start, initdb with the
# superuser POSTGRES_USER (default postgres) and the password from POSTGRES_PASSWORD or
# POSTGRES_PASSWORD_FILE, password logins over TCP, and POSTGRES_DB created when it is not the
# default; then "postgres ARGS" as the postgres user.
set -eu

if [ "$(id -u)" = 0 ]; then
	chown postgres:postgres "$PGDATA"
	chmod 0700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "${1:-}" = postgres ]; then
	shift
fi

user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
	POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
fi
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
	echo "postgres stand-in: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" >&2
	exit 1
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C \
		--auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pwfile"
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	if [ "$db" != postgres ]; then
		pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
		echo 'CREATE DATABASE :"db"' |
			psql -X -q -v ON_ERROR_STOP=1 -U "$user" -d postgres -v db="$db"
		pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	fi
	echo "postgres stand-in: initialized $PGDATA"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
