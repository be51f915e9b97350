# shellcheck shell=bash
# tests/lib.sh: helpers for pgboot's integration tests, sourced by tests/run and by every test process.
#
# A "cluster" is a throwaway PostgreSQL 15 server in a fresh mktemp -d directory, listening on
# 127.0.0.1 only, on a free port, with its unix socket in that directory. The current cluster is
# described by the exported PGB_* variables below; whoever starts a cluster owns it and stops it and
# removes its directory on EXIT, INT and TERM, also when a test fails.
#
#   PGB_HOST (127.0.0.1)  PGB_PORT  PGB_SUPERPASS (password of the superuser "postgres")
#   PGB_TMP (cluster dir) PGB_DATADIR  PGB_LOG (server log)  PGB_CA (after pg_enable_tls)
#
# Test processes (see pgb_test_main) also have:
#   PGB_TEST (test function name)  PGB_DB, PGB_ROLE (names unique in the run)  PGB_WORK (scratch
#   dir; the current directory is $PGB_WORK/app, which holds an empty migrations/)
#   after pgb_run / pgb_wait_pid: PGB_RC, PGB_OUT, PGB_ERR (files), PGB_ELAPSED_MS
#   PGBOOT (the binary under test)  PGB_VARIANT (dynamic or static: which pass of tests/run)

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PGB_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PGB_TOP=$(dirname "$PGB_TESTS_DIR")
PGBOOT=${PGBOOT:-$PGB_TOP/pgboot}
export PG_BIN PGBOOT

# Hermetic environment: the caller's libpq and pgboot settings must not leak into the tests.
pgb_clean_env() {
	local v
	for v in $(compgen -e); do
		case $v in
		PGB_* | PGBOOT | PG_BIN) ;;
		PG* | DATABASE_URL) unset "$v" ;;
		esac
	done
	export PGPASSFILE=/nonexistent/pgboot-tests/pgpass PGSERVICEFILE=/nonexistent/pgboot-tests/pg_service.conf
	export LC_ALL=C TZ=UTC
}
pgb_clean_env

# Tools the tests cannot run without; prints one line per missing tool and fails.
pgb_check_tools() {
	local t missing=0
	for t in initdb pg_ctl postgres psql; do
		if [[ ! -x $PG_BIN/$t ]]; then
			echo "missing required tool: $PG_BIN/$t"
			missing=1
		fi
	done
	for t in timeout env ss sha256sum python3 mktemp cmp; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "missing required tool: $t"
			missing=1
		fi
	done
	if ((EUID == 0)) && ! command -v runuser >/dev/null 2>&1; then
		echo "missing required tool: runuser (needed to run PostgreSQL as root)"
		missing=1
	fi
	if ((EUID == 0)) && ! id postgres >/dev/null 2>&1; then
		echo "missing required user: postgres (needed to run PostgreSQL as root)"
		missing=1
	fi
	return "$missing"
}

# ---------------------------------------------------------------------------------------------
# Cleanup: everything is registered with the process that created it ($BASHPID), so a subshell
# or child never stops its parent's server.

_pgb_dirs=()
_pgb_pids=()

_pgb_register_dir() { _pgb_dirs+=("$BASHPID:$1"); }
_pgb_register_pid() { _pgb_pids+=("$BASHPID:$1"); }

# Stops the server of a cluster directory if it runs: fast, then immediate, then SIGKILL.
_pgb_stop_dir() {
	local dir=$1 pid
	[[ -f $dir/data/postmaster.pid ]] || return 0
	_pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 && return 0
	_pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 20 stop >/dev/null 2>&1 && return 0
	pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || return 0
	[[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null
	return 0
}

_pgb_cleanup() {
	local e pid dir i
	set +eE
	trap - ERR
	for e in "${_pgb_pids[@]}"; do
		[[ ${e%%:*} == "$BASHPID" ]] || continue
		pid=${e#*:}
		kill -TERM "$pid" 2>/dev/null || continue
		for ((i = 0; i < 20; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for e in "${_pgb_dirs[@]}"; do
		[[ ${e%%:*} == "$BASHPID" ]] || continue
		dir=${e#*:}
		_pgb_stop_dir "$dir"
		rm -rf -- "$dir"
	done
	_pgb_pids=()
	_pgb_dirs=()
}

trap '_pgb_cleanup' EXIT
trap '_pgb_cleanup; trap - EXIT; exit 130' INT
trap '_pgb_cleanup; trap - EXIT; exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Clusters

# Runs a PostgreSQL server program: as the postgres user when we are root (initdb and postgres
# refuse to run as root), directly otherwise.
_pg_as() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Prints a loopback TCP port nobody listens on. 20000-31999 stays below the ephemeral range.
free_port() {
	local port i
	for ((i = 0; i < 500; i++)); do
		port=$((20000 + RANDOM % 12000))
		if [[ -z $(ss -Hltn "sport = :$port" 2>/dev/null) ]] &&
			! (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	echo "free_port: no free port found" >&2
	return 1
}

# blackhole_start: a loopback TCP listener that completes handshakes but never answers, like a
# server behind a stalled network. Sets PGB_BLACKHOLE_PORT; stopped when the test ends.
blackhole_start() {
	local portfile=$PGB_WORK/blackhole.port i
	rm -f "$portfile"
	python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
' "$portfile" &
	_pgb_register_pid "$!"
	for ((i = 0; i < 100; i++)); do
		[[ -s $portfile ]] && break
		sleep 0.05
	done
	PGB_BLACKHOLE_PORT=$(cat "$portfile") || return 1
	export PGB_BLACKHOLE_PORT
}

# pg_init: initdb a new cluster in a fresh temporary directory and make it the current one,
# without starting it.
pg_init() {
	local tmp
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/pgboot-pg.XXXXXX") || return 1
	_pgb_register_dir "$tmp"
	PGB_TMP=$tmp
	PGB_DATADIR=$tmp/data
	PGB_LOG=$tmp/server.log
	PGB_HOST=127.0.0.1
	PGB_SUPERPASS="su-$RANDOM$RANDOM$RANDOM"
	export PGB_TMP PGB_DATADIR PGB_LOG PGB_HOST PGB_SUPERPASS
	printf '%s\n' "$PGB_SUPERPASS" >"$tmp/pwfile"
	if ((EUID == 0)); then
		chown -R postgres: "$tmp" || return 1
		chmod 700 "$tmp"
		if ! runuser -u postgres -- test -w "$tmp"; then
			echo "pg_init: user postgres cannot use $tmp (is a parent directory private?)" >&2
			return 1
		fi
	fi
	if ! _pg_as "$PG_BIN/initdb" -D "$PGB_DATADIR" -U postgres --pwfile="$tmp/pwfile" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync \
		>"$tmp/initdb.log" 2>&1; then
		echo "pg_init: initdb failed:" >&2
		cat "$tmp/initdb.log" >&2
		return 1
	fi
	rm -f "$tmp/pwfile"
	cat >>"$PGB_DATADIR/postgresql.conf" <<-EOF

		# pgboot tests
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$tmp'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_connections = 100
		shared_buffers = 16MB
		log_line_prefix = '%m [%p] %q%u@%d '
	EOF
	_pg_set_port "$(free_port)" || return 1
}

_pg_set_port() {
	[[ -n $1 ]] || return 1
	PGB_PORT=$1
	export PGB_PORT
	echo "port = $PGB_PORT" >>"$PGB_DATADIR/postgresql.conf"
}

# pg_start_server: start the current (initialized) cluster and wait until it accepts connections.
# If the port was taken in the meantime, moves to another one (not possible for pg_start_later).
pg_start_server() {
	local try
	for ((try = 0; try < 5; try++)); do
		if _pg_as "$PG_BIN/pg_ctl" -D "$PGB_DATADIR" -l "$PGB_LOG" -w -t 60 start \
			>"$PGB_TMP/pg_ctl.log" 2>&1; then
			return 0
		fi
		if grep -q 'could not bind\|Address already in use\|could not create any TCP/IP sockets' "$PGB_LOG" 2>/dev/null; then
			_pg_set_port "$(free_port)" || return 1
			continue
		fi
		break
	done
	echo "pg_start_server: could not start the server:" >&2
	cat "$PGB_TMP/pg_ctl.log" "$PGB_LOG" >&2 2>/dev/null
	return 1
}

# pg_start: a new, running cluster (initdb + start). Stopped and removed when its owner exits.
pg_start() {
	pg_init && pg_start_server
}

# pg_start_later SECONDS: start the current cluster (from pg_init) after a delay, in the background.
pg_start_later() {
	local delay=$1
	(
		trap - EXIT INT TERM
		sleep "$delay"
		_pg_as "$PG_BIN/pg_ctl" -D "$PGB_DATADIR" -l "$PGB_LOG" -w -t 60 start
	) >"$PGB_TMP/start-later.log" 2>&1 &
	_pgb_register_pid "$!"
}

pg_stop() {
	_pg_as "$PG_BIN/pg_ctl" -D "$PGB_DATADIR" -m fast -w -t 30 stop >/dev/null 2>&1 ||
		_pg_as "$PG_BIN/pg_ctl" -D "$PGB_DATADIR" -m immediate -w -t 30 stop
}

pg_restart() {
	_pg_as "$PG_BIN/pg_ctl" -D "$PGB_DATADIR" -l "$PGB_LOG" -m fast -w -t 60 restart >"$PGB_TMP/pg_ctl.log" 2>&1 || {
		cat "$PGB_TMP/pg_ctl.log" "$PGB_LOG" >&2
		return 1
	}
}

# need_tools TOOL...: fail the test, naming each missing tool, unless all are on PATH.
need_tools() {
	local t missing=()
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	((${#missing[@]} == 0)) && return 0
	fail "missing required tool: ${missing[*]} (scripts/install-deps.sh should install it)"
}

# need_static: the test is about the static binary: it fails (never skips) outside the static
# pass of tests/run, which runs when PGBOOT_STATIC is set, as make check does.
need_static() {
	[[ ${PGB_VARIANT:-} == static ]] && return 0
	fail "this test needs the static binary: run make check (or make static, then tests/run with PGBOOT_STATIC=\$PWD/pgboot-static)"
}

# _pgb_openssl LOG ARGS...: openssl quietly; its output goes to LOG, shown when it fails.
_pgb_openssl() {
	local log=$1
	shift
	openssl "$@" >>"$log" 2>&1 && return 0
	echo "openssl $* failed:" >&2
	cat "$log" >&2
	return 1
}

# tls_server_cert DIR NAME CN SAN: DIR/NAME.key and DIR/NAME.crt, a server certificate for CN
# with subjectAltName SAN (e.g. DNS:localhost,IP:127.0.0.1), signed by the CA in DIR/ca.crt.
tls_server_cert() {
	local dir=$1 name=$2 cn=$3 san=$4
	cat >"$dir/$name.cnf" <<-EOF
		[req]
		distinguished_name = dn
		prompt = no
		[dn]
		CN = $cn
		[server]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = serverAuth
		subjectAltName = $san
		authorityKeyIdentifier = keyid
	EOF
	_pgb_openssl "$dir/openssl.log" req -new -newkey rsa:2048 -nodes -config "$dir/$name.cnf" \
		-keyout "$dir/$name.key" -out "$dir/$name.csr" || return 1
	_pgb_openssl "$dir/openssl.log" x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" \
		-CAkey "$dir/ca.key" -set_serial "$((RANDOM * 32768 + RANDOM + 1))" -days 2 \
		-extfile "$dir/$name.cnf" -extensions server -out "$dir/$name.crt" || return 1
	chmod 600 "$dir/$name.key"
	chmod 644 "$dir/$name.crt"
}

# pg_enable_tls [--cn CN] [--san SAN] [--hostssl-only ROLE]...: TLS for the current cluster;
# call after pg_init and before starting it (or pg_restart after). Makes a throwaway CA and a
# server certificate signed by it in $PGB_TMP/tls (CN, default localhost; subjectAltName SAN,
# default DNS:localhost,IP:127.0.0.1), turns ssl on with them, and exports PGB_CA, the CA
# certificate, readable by everyone: $PGB_TMP becomes 0711 and the server's unix socket 0700,
# so trust over the socket stays the owner's. Each --hostssl-only ROLE may log in over TCP only
# with TLS (a hostnossl reject rule ahead of the others).
pg_enable_tls() {
	local cn=localhost san=DNS:localhost,IP:127.0.0.1 dir=$PGB_TMP/tls role hba
	local only=()
	while (($# >= 2)); do
		case $1 in
		--cn) cn=$2 ;;
		--san) san=$2 ;;
		--hostssl-only) only+=("$2") ;;
		*) break ;;
		esac
		shift 2
	done
	if (($# > 0)); then
		echo "pg_enable_tls: bad arguments: $*" >&2
		return 1
	fi
	if ! command -v openssl >/dev/null 2>&1; then
		echo "pg_enable_tls: missing required tool: openssl" >&2
		return 1
	fi
	rm -rf -- "$dir"
	mkdir -m 755 -- "$dir" || return 1
	cat >"$dir/ca.cnf" <<-EOF
		[req]
		distinguished_name = dn
		prompt = no
		[dn]
		CN = pgboot tests throwaway CA $RANDOM$RANDOM
		[ca]
		basicConstraints = critical, CA:TRUE
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash
	EOF
	_pgb_openssl "$dir/openssl.log" req -x509 -new -newkey rsa:2048 -nodes -days 2 \
		-config "$dir/ca.cnf" -extensions ca -keyout "$dir/ca.key" -out "$dir/ca.crt" || return 1
	chmod 600 "$dir/ca.key"
	chmod 644 "$dir/ca.crt"
	tls_server_cert "$dir" server "$cn" "$san" || return 1
	if ((EUID == 0)); then
		chown postgres: "$dir/server.key" "$dir/server.crt" || return 1
	fi
	chmod 711 "$PGB_TMP"
	cat >>"$PGB_DATADIR/postgresql.conf" <<-EOF
		unix_socket_permissions = 0700
		ssl = on
		ssl_cert_file = '$dir/server.crt'
		ssl_key_file = '$dir/server.key'
	EOF
	if ((${#only[@]} > 0)); then
		hba=$(cat "$PGB_DATADIR/pg_hba.conf") || return 1
		{
			for role in "${only[@]}"; do
				printf 'hostnossl all "%s" all reject\n' "$role"
			done
			printf '%s\n' "$hba"
		} >"$PGB_DATADIR/pg_hba.conf" # rewritten in place: owner and mode stay
	fi
	PGB_CA=$dir/ca.crt
	export PGB_CA
}

# psql_db DB [PSQL ARGS...]: psql as the superuser over TCP; SQL from -c or stdin. -At output.
psql_db() {
	local db=$1
	shift
	# PGDATABASE, not -d: psql reads a -d value holding "=" as a connection string
	PGDATABASE=$db PGPASSWORD=$PGB_SUPERPASS PGCONNECT_TIMEOUT=10 "$PG_BIN/psql" -X -q \
		-v ON_ERROR_STOP=1 -At -h "$PGB_HOST" -p "$PGB_PORT" -U postgres "$@"
}

# psql_super [PSQL ARGS...]: psql_db on $PGB_ADMIN_DB (default "postgres"; a later -d DB wins).
psql_super() {
	psql_db "${PGB_ADMIN_DB:-postgres}" "$@"
}

# q DB SQL: print the result of one query (unaligned, tuples only). SQL may use psql variables
# given as further "-v name=value" arguments: q DB "SELECT :'x'" -v x=1
q() {
	local db=$1 sql=$2
	shift 2
	psql_db "$db" "$@" <<<"$sql"
}

# mkrole NAME PASSWORD [ATTRS...]: a login role, e.g. mkrole app secret CREATEDB
mkrole() {
	local name=$1 pass=$2
	shift 2
	psql_super -v name="$name" -v pass="$pass" <<<"CREATE ROLE :\"name\" LOGIN PASSWORD :'pass' $*;"
}

# db_exists NAME: prints 1 or 0
db_exists() {
	q "${PGB_ADMIN_DB:-postgres}" "SELECT count(*) FROM pg_database WHERE datname = :'n'" -v n="$1"
}

# table_exists DB TABLE: prints t or f (TABLE may be schema-qualified)
table_exists() {
	q "$1" "SELECT to_regclass(:'t') IS NOT NULL" -v t="$2"
}

# history DB: the rows of pgboot.migrations as "version|name|checksum", nothing when the database
# or the table does not exist
history() {
	[[ $(db_exists "$1") == 1 ]] || return 0
	[[ $(table_exists "$1" pgboot.migrations) == t ]] || return 0
	q "$1" "SELECT version, name, checksum FROM pgboot.migrations
		ORDER BY string_to_array(version::text, '.')::numeric[]"
}

# sha FILE: sha-256 hex of FILE as the contract defines it (CRLF read as LF)
sha() {
	local sum
	sum=$(sed 's/\r$//' "$1" | sha256sum)
	echo "${sum%% *}"
}

# ---------------------------------------------------------------------------------------------
# Running pgboot

ms_now() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# use_conn USER PASSWORD DBNAME: point pgboot at the current cluster through its environment.
# The wait timeout is kept short so a broken test cannot hang; tests override it with flags.
use_conn() {
	export PGBOOT_DATABASE_HOST=$PGB_HOST PGBOOT_DATABASE_PORT=$PGB_PORT
	export PGBOOT_DATABASE_USER=$1 PGBOOT_DATABASE_PASSWORD=$2 PGBOOT_DATABASE_DBNAME=$3
	export PGBOOT_WAIT_TIMEOUT=${PGB_WAIT_TIMEOUT:-10s}
}

# app_role: the usual setup, a CREATEDB role $PGB_ROLE (password "app-pw") pointed at $PGB_DB
app_role() {
	mkrole "$PGB_ROLE" app-pw CREATEDB
	use_conn "$PGB_ROLE" app-pw "$PGB_DB"
}

# Forget every pgboot setting given through the environment.
clear_conn() {
	local v
	for v in $(compgen -e); do
		case $v in PGBOOT_* | DATABASE_URL) unset "$v" ;; esac
	done
}

_pgb_show_run() {
	local rc_note=""
	((PGB_RC == 124)) && rc_note=" (killed by timeout)"
	echo "  -> exit $PGB_RC$rc_note after ${PGB_ELAPSED_MS} ms"
	if [[ -s $PGB_OUT ]]; then
		echo "  stdout:"
		sed 's/^/    | /' "$PGB_OUT"
	fi
	if [[ -s $PGB_ERR ]]; then
		echo "  stderr:"
		sed 's/^/    | /' "$PGB_ERR"
	fi
}

# pgb_run ARGS...: run pgboot in the foreground (killed after $PGB_RUN_LIMIT s, default 60) with
# stdin from /dev/null. Sets PGB_RC, PGB_OUT, PGB_ERR, PGB_ELAPSED_MS; logs the run to the test output.
pgb_run() {
	local t0
	PGB_OUT=$PGB_WORK/out PGB_ERR=$PGB_WORK/err PGB_RC=0
	echo "+ pgboot$(printf ' %q' "$@")"
	t0=$(ms_now)
	timeout --foreground -k 5 "${PGB_RUN_LIMIT:-60}" "$PGBOOT" "$@" >"$PGB_OUT" 2>"$PGB_ERR" </dev/null || PGB_RC=$?
	PGB_ELAPSED_MS=$(($(ms_now) - t0))
	_pgb_show_run
}

# pgb_bg ARGS...: start pgboot in the background as a direct child (so $PGB_PID is pgboot's own
# PID), with SIGINT and SIGTERM at their default disposition (bash would ignore SIGINT in
# background jobs). Output goes to PGB_OUT / PGB_ERR. Collect it with pgb_wait_pid.
pgb_bg() {
	PGB_OUT=$PGB_WORK/out PGB_ERR=$PGB_WORK/err PGB_RC=
	echo "+ pgboot$(printf ' %q' "$@") &"
	PGB_T0=$(ms_now)
	env --default-signal=INT,TERM "$PGBOOT" "$@" >"$PGB_OUT" 2>"$PGB_ERR" </dev/null &
	PGB_PID=$!
	_pgb_register_pid "$PGB_PID"
	echo "  (pid $PGB_PID)"
}

# pgb_wait_pid [SECONDS]: wait up to SECONDS (default 30) for the pgb_bg process to end. Sets
# PGB_RC, PGB_END_MS (when it was seen gone, ms_now) and PGB_ELAPSED_MS (since start). A process still running is killed and the test fails.
pgb_wait_pid() {
	local limit_ms=$((${1:-30} * 1000)) t0
	t0=$(ms_now)
	while kill -0 "$PGB_PID" 2>/dev/null; do
		if (($(ms_now) - t0 > limit_ms)); then
			kill -KILL "$PGB_PID" 2>/dev/null
			wait "$PGB_PID" 2>/dev/null
			PGB_RC=timeout PGB_ELAPSED_MS=$(($(ms_now) - PGB_T0))
			echo "  -> still running after ${1:-30} s: killed"
			fail "pgboot (pid $PGB_PID) did not exit within ${1:-30} s"
		fi
		sleep 0.02
	done
	PGB_END_MS=$(ms_now)
	PGB_RC=0
	wait "$PGB_PID" || PGB_RC=$?
	PGB_ELAPSED_MS=$((PGB_END_MS - PGB_T0))
	_pgb_show_run
}

# pgb_chroot [CHROOT OPTIONS...] -- ARGS...: like pgb_run, but $PGBOOT runs as /pgboot in an
# empty chroot, as in a FROM-scratch image, with an empty environment (scripts/chroot-check.sh;
# its options add files and variables). A chroot that cannot be set up fails the test.
pgb_chroot() {
	local opts=() t0
	while (($# > 0)) && [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	(($# > 0)) || fail "pgb_chroot: no -- before pgboot's arguments"
	shift
	PGB_OUT=$PGB_WORK/out PGB_ERR=$PGB_WORK/err PGB_RC=0
	echo "+ chroot-check${opts[*]:+$(printf ' %q' "${opts[@]}")} pgboot$(printf ' %q' "$@")"
	t0=$(ms_now)
	timeout --foreground -k 5 "${PGB_RUN_LIMIT:-60}" "$PGB_TOP/scripts/chroot-check.sh" \
		"${opts[@]}" -- "$PGBOOT" "$@" >"$PGB_OUT" 2>"$PGB_ERR" </dev/null || PGB_RC=$?
	PGB_ELAPSED_MS=$(($(ms_now) - t0))
	_pgb_show_run
	if ((PGB_RC == 125)) && grep -q '^chroot-check:' "$PGB_ERR"; then
		fail "scripts/chroot-check.sh could not set up the chroot"
	fi
}

# pgb_guard_secrets SECRET...: when the test process ends, fail it if any pgboot output it left
# in $PGB_WORK (transcript, out, err, out.N, err.N) holds one of the SECRETs or the superuser's
# password. Sets the EXIT trap; a file with a trap of its own calls pgb_check_secrets in it.
pgb_guard_secrets() {
	_pgb_secrets=("$@")
	trap 'pgb_check_secrets' EXIT
}
# pgb_guard_secret_fragments PASSWORD...: besides the whole passwords, no output may hold any
# 4-character piece of these (a password split at a "@" or "/" leaks in pieces). Choose them
# random enough that no piece is a word pgboot prints. Call pgb_guard_secrets too.
pgb_guard_secret_fragments() {
	_pgb_fragment_secrets=("$@")
}
# _pgb_fragments PASSWORD: every 4-character piece of PASSWORD, one per line
_pgb_fragments() {
	local s=$1 i
	for ((i = 0; i + 4 <= ${#s}; i++)); do
		printf '%s\n' "${s:i:4}"
	done
}

pgb_check_secrets() {
	local rc=$? f s
	set +eE
	trap - ERR
	for f in "$PGB_WORK"/transcript "$PGB_WORK"/out "$PGB_WORK"/err "$PGB_WORK"/out.* "$PGB_WORK"/err.*; do
		[[ -f $f ]] || continue
		for s in "${_pgb_secrets[@]}" "$PGB_SUPERPASS"; do
			grep -qF -e "$s" -- "$f" || continue
			echo "FAIL: pgboot printed the password $s (${f##*/}):"
			grep -nF -e "$s" -- "$f" | sed 's/^/    | /'
			rc=1
		done
		for s in "${_pgb_fragment_secrets[@]}"; do
			_pgb_fragments "$s" >"$PGB_WORK/.fragments"
			grep -qF -f "$PGB_WORK/.fragments" -- "$f" || continue
			echo "FAIL: pgboot printed a piece of the password $s (${f##*/}):"
			grep -nF -f "$PGB_WORK/.fragments" -- "$f" | sed 's/^/    | /'
			rc=1
		done
	done
	_pgb_cleanup
	exit "$rc"
}

# pgb_runners N ARGS...: N pgboot ARGS at once, as replicas starting together; waits for all
# (at most $PGB_RUNNERS_LIMIT s, default 90) and fails, showing its stderr, on the first that
# did not exit 0. Their output goes to $PGB_WORK/out.I and $PGB_WORK/err.I (I from 0).
pgb_runners() {
	local n=$1 i rc t0 pids=()
	shift
	for ((i = 0; i < n; i++)); do
		env --default-signal=INT,TERM "$PGBOOT" "$@" >"$PGB_WORK/out.$i" 2>"$PGB_WORK/err.$i" </dev/null &
		pids+=("$!")
		_pgb_register_pid "$!"
	done
	t0=$(ms_now)
	for ((i = 0; i < n; i++)); do
		while kill -0 "${pids[i]}" 2>/dev/null; do
			(($(ms_now) - t0 < ${PGB_RUNNERS_LIMIT:-90} * 1000)) ||
				fail "runner $i still running after ${PGB_RUNNERS_LIMIT:-90} s"
			sleep 0.05
		done
		rc=0
		wait "${pids[i]}" || rc=$?
		if ((rc != 0)); then
			sed 's/^/    | /' "$PGB_WORK/err.$i"
			fail "runner $i exited $rc"
		fi
	done
	echo "$n runners done in $(($(ms_now) - t0)) ms"
}

# pgb_await_active PATTERN [DB]: until a session other than the caller's runs a query LIKE
# PATTERN in DB (default $PGB_DB), 15 s at most; then pgboot's stderr so far and a failure.
pgb_await_active() {
	local t0
	t0=$(ms_now)
	until [[ $(q "${2:-$PGB_DB}" "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE :'p' AND pid <> pg_backend_pid()" -v p="$1") -ge 1 ]]; do
		if (($(ms_now) - t0 > 15000)); then
			[[ -f ${PGB_ERR:-} ]] && sed 's/^/    | /' "$PGB_ERR"
			fail "no session ran a query like $1"
		fi
		sleep 0.02
	done
}

# migdir DIR [NAME CONTENT]...: a fresh directory holding exactly the given files; each CONTENT
# is written followed by a newline.
migdir() {
	local dir=$1
	shift
	rm -rf -- "$dir"
	mkdir -p -- "$dir"
	while (($# >= 2)); do
		printf '%s\n' "$2" >"$dir/$1"
		shift 2
	done
}

# ---------------------------------------------------------------------------------------------
# Assertions: each prints what was expected and what was found, then ends the test (exit 1).

_pgb_where() {
	local i
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [[ ${BASH_SOURCE[i]} != "${BASH_SOURCE[0]}" ]]; then
			echo "${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
			return
		fi
	done
	echo "?"
}

fail() {
	echo "FAIL ($(_pgb_where)): $*"
	exit 1
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
	[[ $1 == "$2" ]] && return 0
	echo "FAIL ($(_pgb_where)): ${3:-values differ}"
	echo "  expected: $(printf '%q' "$1")"
	echo "  got:      $(printf '%q' "$2")"
	exit 1
}

# assert_exit N: the exit code of the last pgb_run / pgb_wait_pid
assert_exit() {
	[[ $PGB_RC == "$1" ]] && return 0
	echo "FAIL ($(_pgb_where)): expected exit code $1, got $PGB_RC"
	exit 1
}

# assert_contains FILE STRING: FILE has STRING (fixed string) somewhere
assert_contains() {
	grep -qF -e "$2" -- "$1" && return 0
	echo "FAIL ($(_pgb_where)): ${1##*/} does not contain: $2"
	echo "  ${1##*/} is:"
	sed 's/^/    | /' "$1"
	exit 1
}

# assert_not_contains FILE STRING
assert_not_contains() {
	grep -qF -e "$2" -- "$1" || return 0
	echo "FAIL ($(_pgb_where)): ${1##*/} contains what it must not: $2"
	grep -nF -e "$2" -- "$1" | sed 's/^/    | /'
	exit 1
}

# assert_match FILE ERE: some line of FILE matches the extended regular expression
assert_match() {
	grep -qE -e "$2" -- "$1" && return 0
	echo "FAIL ($(_pgb_where)): no line of ${1##*/} matches /$2/"
	echo "  ${1##*/} is:"
	sed 's/^/    | /' "$1"
	exit 1
}

# assert_no_match FILE ERE
assert_no_match() {
	grep -qE -e "$2" -- "$1" || return 0
	echo "FAIL ($(_pgb_where)): ${1##*/} has lines matching /$2/:"
	grep -nE -e "$2" -- "$1" | sed 's/^/    | /'
	exit 1
}

# assert_lt A B WHAT: integer A < B
assert_lt() {
	(($1 < $2)) && return 0
	echo "FAIL ($(_pgb_where)): ${3:-value too large}: expected < $2, got $1"
	exit 1
}

# assert_ge A B WHAT: integer A >= B
assert_ge() {
	(($1 >= $2)) && return 0
	echo "FAIL ($(_pgb_where)): ${3:-value too small}: expected >= $2, got $1"
	exit 1
}

# count_matches FILE ERE: number of matching lines (0 when none)
count_matches() {
	grep -cE -e "$2" -- "$1" || true
}

# ---------------------------------------------------------------------------------------------
# Test process entry point, used by tests/run:
#   bash -c 'source tests/lib.sh && pgb_test_main FILE TEST INDEX'

_pgb_on_err() {
	echo "FAIL ($(_pgb_where)): command failed with exit $1: $2"
}

pgb_test_main() {
	local file=$1
	PGB_TEST=$2
	PGB_DB="pgb_t$3"
	PGB_ROLE="pgb_r$3"
	PGB_WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgboot-test.XXXXXX") || exit 1
	_pgb_register_dir "$PGB_WORK"
	export PGB_TEST PGB_DB PGB_ROLE PGB_WORK
	mkdir -p "$PGB_WORK/app/migrations"
	cd "$PGB_WORK/app" || exit 1
	# shellcheck source=/dev/null
	source "$file" || exit 1
	set -eE -o pipefail
	trap '_pgb_on_err "$?" "$BASH_COMMAND"' ERR
	"$PGB_TEST"
}

# --- other migration tools (adopt.sh, formats.sh, layouts.sh) -------------------------------
# The npm tools, installed at pinned versions into .cache/npm by scripts/install-npm-tools.sh.
PGB_NPM_DIR=$PGB_TOP/.cache/npm
PGB_DBMATE=$PGB_NPM_DIR/node_modules/@dbmate/linux-x64/bin/dbmate
PGB_NODE_PG_MIGRATE=$PGB_NPM_DIR/node_modules/node-pg-migrate/bin/node-pg-migrate.js

# pgb_npm_tools: installs them (as root; cached), failing the test when it cannot.
pgb_npm_tools() {
	"$PGB_TOP/scripts/install-npm-tools.sh" || fail "could not install the npm migration tools"
	[[ -x $PGB_DBMATE && -f $PGB_NODE_PG_MIGRATE ]] ||
		fail "dbmate or node-pg-migrate is missing after scripts/install-npm-tools.sh"
}

# pgb_node_pg_migrate_file NAME UP DOWN: a migrations/ file made by `node-pg-migrate create
# NAME --migration-file-language sql`, its up and down parts filled in with UP and DOWN (sed
# text: \n separates lines); PGB_NPM_FILE is its name.
pgb_node_pg_migrate_file() {
	pgb_tool npm.log node "$PGB_NODE_PG_MIGRATE" create "$1" --migration-file-language sql -m migrations
	PGB_NPM_FILE=$(cd migrations && echo *_"$1".sql)
	sed -i -e "/^-- Up Migration\$/a $2" -e "s/^-- Down Migration\$/&\\n$3/" "migrations/$PGB_NPM_FILE"
}

# pgb_superuser_url DB: a URL for another tool (never printed: it holds the superuser's password)
pgb_superuser_url() {
	printf 'postgres://postgres:%s@%s:%s/%s?sslmode=disable' "$PGB_SUPERPASS" "$PGB_HOST" "$PGB_PORT" "$1"
}

# pgb_tool LOG CMD...: runs another tool with its output in $PGB_WORK/LOG, the superuser's
# password masked wherever it is shown; a failure of the tool fails the test.
pgb_tool() {
	local log=$PGB_WORK/$1 mask=${PGB_SUPERPASS:-pgb-no-password}
	shift
	echo "+ ${1##*/} ${*:2}" | sed "s/$mask/***/g"
	"$@" >"$log" 2>&1 </dev/null || {
		sed "s/$mask/***/g; s/^/    | /" "$log"
		fail "${1##*/} failed"
	}
}
