#!/usr/bin/env bash
# make demo: a throwaway PostgreSQL 15 on a free loopback port, then pgboot with the sample
# entrypoint.ini and migrations/, exec'ing psql to show what it built. The server is always
# stopped and its directory removed (tests/lib.sh's traps).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# shellcheck source=tests/lib.sh
. tests/lib.sh
pgb_check_tools
pg_start >/dev/null
echo "demo: PostgreSQL 15 on $PGB_HOST:$PGB_PORT (data in $PGB_TMP)"
echo "demo: ./pgboot --config entrypoint.ini -- psql ...   (first run: creates and migrates)"

export PGHOST=$PGB_HOST PGPORT=$PGB_PORT PGUSER=postgres PGPASSWORD=$PGB_SUPERPASS
show_tables=("$PG_BIN/psql" -X -d pgboot_demo -c '\dt public.*'
	-c 'SELECT version, name, applied_at, duration_ms FROM pgboot.migrations ORDER BY version')
# The first run runs in a child so the script outlives the exec; pgboot becomes psql there.
"$top/pgboot" --config entrypoint.ini -- "${show_tables[@]}"
echo "demo: second run: nothing pending, one connection"
"$top/pgboot" --config entrypoint.ini status
