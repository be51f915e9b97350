# shellcheck shell=bash
# badinput: the corpus of tests/corpus/ (malformed ini files, URLs, command lines, variables,
# database names, migration files), plus symbolic links, a FIFO and a 100 MB migration. Each input
# must give its documented exit code and a message naming its place, apply nothing and start no
# application; none of the passwords used here may ever be printed.

_CORPUS=$PGB_TESTS_DIR/corpus
# Under memcheck (make check-valgrind, mk/quality.mk) pgboot starts 20-50x slower: every bound on
# how long a refusal takes, and the wait timeouts it is told apart from, are multiplied by
# PGB_TIME_SCALE (default 1), so each bound still separates a refusal from a wait.
_SCALE=${PGB_TIME_SCALE:-1}

# Passwords only these tests use (the corpus's all start with CorpusPw-). Every output of pgboot
# is kept (_run, _wait) or left in $PGB_WORK (out, err): when the test ends, pgb_check_secrets (tests/lib.sh) fails
# it if any of them holds one of these.
_SECRETS=(Bi-S3cret-5f1c9a 'Bi-S3cret-url:@/%9' CorpusPw-)
# A password holding every character a URL gives a meaning to, and one per such character:
# besides the whole of each, no output may hold any 4-character piece of one.
_DELIMS=('@' '/' ':' '?' '#' '%' '[' ']' "'" ' ')
_DELIM_PW="Kq7@Xz/9v:Wj?4#Rb%Tn[8]Fh'3 Lm"
_delim_pw() { printf 'Vd3%sGh6Jk' "$1"; }
_DELIM_SECRETS=("$_DELIM_PW")
for _c in "${_DELIMS[@]}"; do _DELIM_SECRETS+=("$(_delim_pw "$_c")"); done
_SECRETS+=("${_DELIM_SECRETS[@]}")
pgb_guard_secret_fragments "${_DELIM_SECRETS[@]}"

_keep() { cat -- "$PGB_OUT" "$PGB_ERR" >>"$PGB_WORK/transcript" 2>/dev/null || true; }
_run() {
	pgb_run "$@"
	_keep
}
_wait() {
	pgb_wait_pid "$@"
	_keep
}

pgb_guard_secrets "${_SECRETS[@]}"

# _role: a CREATEDB role $PGB_ROLE with this file's password, pointed at $PGB_DB
_role() {
	mkrole "$PGB_ROLE" "${_SECRETS[0]}" CREATEDB
	use_conn "$PGB_ROLE" "${_SECRETS[0]}" "$PGB_DB"
}

# A corpus loop checks every input and lists every problem at the end, instead of stopping at
# the first one.
_problems=()
_problem() {
	_problems+=("$1: $2")
	echo "  PROBLEM ($1): $2"
}
_end_of_corpus() {
	((${#_problems[@]} == 0)) && return 0
	echo "FAIL ($(_pgb_where)): ${#_problems[@]} problems:"
	printf '  - %s\n' "${_problems[@]}"
	exit 1
}

# _check_output CASE EXIT STDERR...: the last run's exit code and stderr, and no password in its
# output
_check_output() {
	local name=$1 code=$2 s
	shift 2
	[[ $PGB_RC == "$code" ]] || _problem "$name" "exit code $PGB_RC, expected $code"
	for s in "$@"; do
		grep -qF -e "$s" -- "$PGB_ERR" || _problem "$name" "stderr does not contain: $s"
	done
	for s in "${_SECRETS[@]}"; do
		! grep -qF -e "$s" -- "$PGB_OUT" "$PGB_ERR" || _problem "$name" "output holds the password $s"
	done
}

# _check_refused CASE DB: the application (touch $PGB_WORK/app-ran) did not run and DB was not
# created; the run ended at once (before waiting)
_check_refused() {
	[[ ! -e $PGB_WORK/app-ran ]] || _problem "$1" "the application ran"
	rm -f -- "$PGB_WORK/app-ran"
	[[ $(q postgres "SELECT count(*) FROM pg_database WHERE datname::text = :'n'" -v n="$2") == 0 ]] ||
		_problem "$1" "database \"$2\" was created"
	((PGB_ELAPSED_MS < 3000 * _SCALE)) || _problem "$1" "took $PGB_ELAPSED_MS ms (expected a refusal at once)"
}

# _rows FILE: the data rows of a tab-separated corpus table (no comments, no blank lines)
_rows() {
	grep -v -e '^#' -e '^[[:space:]]*$' -- "$1"
}

# --- configuration -------------------------------------------------------------------------

test_badinput_ini_corpus() {
	_role
	local dir=$_CORPUS/ini row fields name code n=0 path strings s listed
	listed=$(_rows "$dir/EXPECTED" | cut -f 1 | sort)
	assert_eq "$(cd "$dir" && printf '%s\n' *.ini | sort)" "$listed" "files in $dir against the files listed in its EXPECTED"
	while IFS= read -r -u 3 row; do
		IFS=$'\t' read -r -a fields <<<"$row"
		name=${fields[0]} code=${fields[1]} path=$dir/${fields[0]} n=$((n + 1))
		strings=()
		for s in "${fields[@]:2}"; do
			strings+=("${s//\{\}/$path}")
		done
		_run run --config "$path" --database-dbname "${PGB_DB}_$n" --wait-timeout $((10 * _SCALE))s -- touch "$PGB_WORK/app-ran"
		_check_output "$name" "$code" "${strings[@]}"
		_check_refused "$name" "${PGB_DB}_$n"
	done 3< <(_rows "$dir/EXPECTED")
	echo "$n ini files tried"
	_end_of_corpus
}

test_badinput_usage_corpus() {
	_role
	local row fields n=0
	while IFS= read -r -u 3 row; do
		IFS=$'\t' read -r -a fields <<<"$row"
		n=$((n + 1))
		_run "${fields[@]:2}"
		_check_output "pgboot ${fields[*]:2}" "${fields[0]}" "${fields[1]}"
		_check_refused "pgboot ${fields[*]:2}" "$PGB_DB"
	done 3< <(_rows "$_CORPUS/usage.tsv")
	echo "$n command lines tried"
	_end_of_corpus
}

test_badinput_environment_corpus() {
	_role
	local row fields n=0
	while IFS= read -r -u 3 row; do
		IFS=$'\t' read -r -a fields <<<"$row"
		n=$((n + 1))
		echo "# with ${fields[0]}"
		declare -x "${fields[0]?}"
		_run run --wait-timeout $((10 * _SCALE))s -- touch "$PGB_WORK/app-ran"
		unset "${fields[0]%%=*}"
		_check_output "${fields[0]}" "${fields[1]}" "${fields[@]:2}"
		_check_refused "${fields[0]}" "$PGB_DB"
	done 3< <(_rows "$_CORPUS/env.tsv")
	echo "$n variables tried"
	_end_of_corpus
}

test_badinput_url_corpus() {
	clear_conn
	local row fields url code n=0 src s ini i
	local -a strings
	while IFS= read -r -u 3 row; do
		IFS=$'\t' read -r -a fields <<<"$row"
		url=${fields[0]//\{host\}/$PGB_HOST}
		url=${url//\{port\}/$PGB_PORT}
		code=${fields[1]}
		for src in flag env ini; do
			n=$((n + 1))
			case $src in
			flag)
				_run run --database-url "$url" --wait-timeout $((3 * _SCALE))s -- touch "$PGB_WORK/app-ran"
				s=--database-url
				;;
			env)
				DATABASE_URL=$url _run run --wait-timeout $((3 * _SCALE))s -- touch "$PGB_WORK/app-ran"
				s="env DATABASE_URL"
				;;
			ini)
				ini=$PGB_WORK/url.ini
				printf '[database]\nurl = %s\n' "$url" >"$ini"
				_run run --config "$ini" --wait-timeout $((3 * _SCALE))s -- touch "$PGB_WORK/app-ran"
				s=$ini:2
				;;
			esac
			strings=()
			for ((i = 2; i < ${#fields[@]}; i++)); do
				strings+=("${fields[i]//\{src\}/$s}")
			done
			_check_output "$src ${fields[0]}" "$code" "${strings[@]}"
			[[ ! -e $PGB_WORK/app-ran ]] || _problem "$src ${fields[0]}" "the application ran"
			rm -f -- "$PGB_WORK/app-ran"
			((PGB_ELAPSED_MS < 1500 * _SCALE)) ||
				_problem "$src ${fields[0]}" "took $PGB_ELAPSED_MS ms with --wait-timeout $((3 * _SCALE))s (expected a refusal at once)"
		done
	done 3< <(_rows "$_CORPUS/urls.tsv")
	echo "$n URLs and connection strings tried"
	_end_of_corpus
}

# Durations are parsed into 64-bit milliseconds: the largest ones the parser accepts must either
# work or be refused as configuration errors (78) before anything happens, never overflow (a
# sanitizer build aborts on it) nor reach the server as values it refuses (70).
test_badinput_huge_durations() {
	_role
	local opt value n=0 db
	for opt in --wait-timeout --database-connect-timeout --wait-max-delay --migrate-lock-wait \
		--migrate-lock-timeout --migrate-statement-timeout; do
		for value in 9223372036854775s 153722867280912m 600h; do
			n=$((n + 1)) db=${PGB_DB}_$n
			migdir migrations 0001_t.sql 'CREATE TABLE t (id int);'
			_run run --database-dbname "$db" "$opt" "$value" -- touch "$PGB_WORK/app-ran"
			case $PGB_RC in
			0)
				[[ $(history "$db" | cut -d '|' -f 2) == 0001_t.sql ]] || _problem "$opt $value" "exit 0 without the migration"
				;;
			78)
				grep -qF -e "$opt" -- "$PGB_ERR" || _problem "$opt $value" "exit 78 without naming $opt"
				_check_refused "$opt $value" "$db"
				;;
			*) _problem "$opt $value" "exit code $PGB_RC, expected 0 (it works) or 78 (refused at once)" ;;
			esac
			! grep -q 'runtime error' -- "$PGB_ERR" || _problem "$opt $value" "undefined behaviour: $(grep 'runtime error' "$PGB_ERR")"
			rm -f -- "$PGB_WORK/app-ran"
		done
	done
	echo "$n durations tried"
	_end_of_corpus
}

# --- names that need quoting ---------------------------------------------------------------

# _assert_created NAME: the last run (run -- touch $PGB_WORK/app-ran) created the database NAME
# exactly as written, applied the one migration in it and ran the application
_assert_created() {
	local name=$1
	[[ $PGB_RC == 0 ]] || { _problem "$name" "exit code $PGB_RC, expected 0"; return 0; }
	grep -qF -e "created database \"$name\"" -- "$PGB_ERR" || _problem "$name" "no line: created database \"$name\""
	if [[ $(db_exists "$name") != 1 ]]; then
		_problem "$name" "no database named exactly so in pg_database"
	elif [[ $(history "$name" | cut -d '|' -f 2) != 0001_t.sql ]]; then
		_problem "$name" "the migration was not recorded in that database"
	fi
	[[ -e $PGB_WORK/app-ran ]] || _problem "$name" "the application did not run"
	rm -f -- "$PGB_WORK/app-ran"
}

test_badinput_odd_database_names() {
	_role
	migdir migrations 0001_t.sql 'CREATE TABLE t (id int);'
	local name n=0 before cjk21 cjk20
	before=$(q postgres "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database")
	while IFS= read -r -u 3 name; do
		n=$((n + 1))
		_run run --database-dbname "$name" --wait-timeout $((5 * _SCALE))s -- touch "$PGB_WORK/app-ran"
		_assert_created "$name"
	done 3<"$_CORPUS/dbnames.txt"
	# the same names from the environment and from an ini file
	export PGBOOT_DATABASE_DBNAME=$'env x"; DROP DATABASE postgres; -- \'q\''
	_run run -- touch "$PGB_WORK/app-ran"
	_assert_created "$PGBOOT_DATABASE_DBNAME"
	unset PGBOOT_DATABASE_DBNAME
	# shellcheck disable=SC2016 # ${...} is for pgboot to expand
	printf '[database]\ndbname = ini x"; DROP DATABASE postgres; -- \x27q\x27 ${PGB_NOT_A_VAR:-été}\n' >"$PGB_WORK/names.ini"
	_run run --config "$PGB_WORK/names.ini" -- touch "$PGB_WORK/app-ran"
	_assert_created $'ini x"; DROP DATABASE postgres; -- \'q\' été'
	n=$((n + 2))
	# 63 bytes (21 three-byte characters) is created; 64 bytes is refused, also when it would
	# be cut inside a character
	cjk21=$(printf '数%.0s' {1..21})
	cjk20=$(printf '数%.0s' {1..20})
	_run run --database-dbname "$cjk21" -- touch "$PGB_WORK/app-ran"
	_assert_created "$cjk21"
	for name in "${cjk20}abcd" "${cjk21}x" "${cjk20}ab数"; do
		_run run --database-dbname "$name" -- touch "$PGB_WORK/app-ran"
		_check_output "$name" 78 'longer than 63 bytes'
		_check_refused "$name" "$name"
		[[ $(q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE :'p'" -v p="${cjk20}%") == 1 ]] ||
			_problem "$name" "a database was created under a truncated name"
	done
	n=$((n + 4))
	echo "$n database names tried"
	[[ $(db_exists postgres) == 1 ]] || _problem postgres "the database postgres is gone"
	[[ $(q postgres "SELECT count(*) FROM pg_database WHERE datname = ANY (string_to_array(:'b', ','))" -v b="$before") == \
		$(tr ',' '\n' <<<"$before" | wc -l) ]] || _problem databases "a database that existed before is gone"
	_end_of_corpus
}

test_badinput_owner_and_template_with_quotes() {
	_role
	local owner=$'own"er \'x\'; DROP ROLE postgres; --' tmpl=$'tmpl "q" \'x\'; DROP DATABASE postgres; --'
	local db=$'new "db" \'x\'; --'
	psql_super -v o="$owner" -v t="$tmpl" -v r="$PGB_ROLE" >/dev/null <<-'EOF'
		CREATE ROLE :"o";
		GRANT :"o" TO :"r";
		CREATE DATABASE :"t";
		ALTER DATABASE :"t" IS_TEMPLATE true;
	EOF
	q "$tmpl" 'CREATE TABLE template_marker (id int); INSERT INTO template_marker VALUES (42);' >/dev/null
	migdir migrations 0001_t.sql 'CREATE TABLE t (id int);'
	_run run --database-dbname "$db" --create-owner "$owner" --create-template "$tmpl" --create-encoding UTF8 \
		-- touch "$PGB_WORK/app-ran"
	assert_exit 0
	assert_contains "$PGB_ERR" "created database \"$db\""
	assert_eq "$owner" "$(q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'d'" -v d="$db")" "owner of the database"
	assert_eq 42 "$(q "$db" 'SELECT id FROM template_marker')" "row copied from the template"
	assert_eq 1 "$(q postgres "SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'")" "role postgres exists"
	assert_eq 1 "$(db_exists postgres)" "database postgres exists"
	[[ -e $PGB_WORK/app-ran ]] || fail "the application did not run"
}

# --- migration files -----------------------------------------------------------------------

test_badinput_migration_corpus() {
	_role
	local dir=$_CORPUS/migrations row fields name code applied n=0 db rows bad listed
	listed=$(_rows "$dir/EXPECTED" | cut -f 1 | sort)
	assert_eq "$(cd "$dir" && for d in */; do echo "${d%/}"; done | sort)" "$listed" \
		"directories in $dir against the cases listed in its EXPECTED"
	while IFS= read -r -u 3 row; do
		IFS=$'\t' read -r -a fields <<<"$row"
		name=${fields[0]} code=${fields[1]} applied=${fields[2]} n=$((n + 1)) db=${PGB_DB}_m$n
		rm -rf migrations
		cp -R -- "$dir/$name" migrations
		echo "# $name"
		_run run --database-dbname "$db" -- touch "$PGB_WORK/app-ran"
		_check_output "$name" "$code" "${fields[@]:3}"
		rows=$(history "$db" | grep -c . || true)
		[[ $rows == "$applied" ]] || _problem "$name" "$rows history rows, expected $applied"
		if [[ $code == 0 ]]; then
			[[ -e $PGB_WORK/app-ran ]] || _problem "$name" "the application did not run"
		else
			[[ ! -e $PGB_WORK/app-ran ]] || _problem "$name" "the application ran"
		fi
		rm -f -- "$PGB_WORK/app-ran"
		if [[ $(db_exists "$db") == 1 ]]; then
			bad=$(q "$db" "SELECT string_agg(tablename, ',') FROM pg_tables WHERE tablename LIKE 'bad\_%'")
			[[ -z $bad ]] || _problem "$name" "tables of a refused file exist: $bad"
		fi
	done 3< <(_rows "$dir/EXPECTED")
	echo "$n migration directories tried"
	_end_of_corpus
}

# A byte-order mark, like CRLF line ends, is not part of the checksum: an editor that adds or
# drops one does not make an applied file look edited.
test_badinput_bom_and_crlf_keep_the_checksum() {
	_role
	local text=$'CREATE TABLE bc (id int);\nINSERT INTO bc VALUES (1);\n' sum
	sum=$(printf '%s' "$text" | sha256sum)
	sum=${sum%% *}
	printf '\xef\xbb\xbf%s' "${text//$'\n'/$'\r\n'}" >migrations/0001_bc.sql
	_run run -- touch "$PGB_WORK/app-ran"
	assert_exit 0
	assert_eq "1|0001_bc.sql|$sum" "$(history "$PGB_DB")" "history (checksum of the text without BOM, with LF)"
	for variant in lf bom crlf; do
		case $variant in
		lf) printf '%s' "$text" ;;
		bom) printf '\xef\xbb\xbf%s' "$text" ;;
		crlf) printf '%s' "${text//$'\n'/$'\r\n'}" ;;
		esac >migrations/0001_bc.sql
		_run migrate
		assert_exit 0
		assert_contains "$PGB_ERR" 'no pending migrations'
		assert_not_contains "$PGB_ERR" 'has changed'
	done
	assert_eq 1 "$(q "$PGB_DB" 'SELECT count(*) FROM bc')" "rows (applied once)"
}

test_badinput_symbolic_links_and_fifos() {
	_role
	mkdir -p "$PGB_WORK/shared"
	printf 'CREATE TABLE linked (id int);\n' >"$PGB_WORK/shared/linked.sql"
	printf 'CREATE TABLE linked_rel (id int);\n' >"$PGB_WORK/shared/linked_rel.sql"
	rm -rf migrations && mkdir migrations
	ln -s "$PGB_WORK/shared/linked.sql" migrations/0001_linked.sql
	ln -s ../../shared/linked_rel.sql migrations/0002_linked_rel.sql
	_run run -- touch "$PGB_WORK/app-ran"
	assert_exit 0
	assert_eq $'1|0001_linked.sql|'"$(sha "$PGB_WORK/shared/linked.sql")"$'\n2|0002_linked_rel.sql|'"$(sha "$PGB_WORK/shared/linked_rel.sql")" \
		"$(history "$PGB_DB")" "history (checksums of the files linked to)"
	rm -f -- "$PGB_WORK/app-ran"

	# a name of a migration that cannot be read as one is an error, not a file to skip
	local kind db n=0
	for kind in dangling loop fifo; do
		n=$((n + 1)) db=${PGB_DB}_$kind
		rm -rf migrations && mkdir migrations
		printf 'CREATE TABLE bad_first (id int);\n' >migrations/0001_first.sql
		case $kind in
		dangling) ln -s "$PGB_WORK/nowhere.sql" migrations/0002_x.sql ;;
		loop) ln -s 0002_x.sql migrations/0002_x.sql ;;
		fifo) mkfifo migrations/0002_x.sql ;;
		esac
		PGB_RUN_LIMIT=$((15 * _SCALE)) _run run --database-dbname "$db" -- touch "$PGB_WORK/app-ran"
		_check_output "$kind" 65 'migrations/0002_x.sql'
		((PGB_ELAPSED_MS < 5000 * _SCALE)) || _problem "$kind" "took $PGB_ELAPSED_MS ms"
		[[ ! -e $PGB_WORK/app-ran ]] || _problem "$kind" "the application ran"
		rm -f -- "$PGB_WORK/app-ran"
		[[ -z $(history "$db") ]] || _problem "$kind" "history rows: $(history "$db" | paste -sd ' ')"
	done
	_end_of_corpus
}

test_badinput_hundred_megabyte_migration() {
	need_tools python3
	[[ -x /usr/bin/time ]] || fail "missing required tool: /usr/bin/time (Debian package time)"
	_role
	# 1000 INSERTs of 1000 rows of about 100 bytes, written in the test's own directory
	python3 - >migrations/0001_big.sql <<-'EOF'
		import sys
		w = sys.stdout.write
		w("CREATE TABLE big (id int PRIMARY KEY, payload text);\n")
		pad = "x" * 90
		for stmt in range(1000):
		    base = stmt * 1000
		    w("INSERT INTO big VALUES " + ",\n".join("(%d, '%s')" % (base + i, pad) for i in range(1, 1001)) + ";\n")
	EOF
	local size rss t0 rc=0
	size=$(stat -c %s migrations/0001_big.sql)
	assert_ge "$size" 100000000 "bytes in the generated file"
	# Under AddressSanitizer, peak RSS also holds its quarantine: up to 256 MB of freed memory
	# kept on purpose, here the buffer of the check that reads every pending file before the
	# first applies. What is bounded is the memory pgboot holds, so that run keeps none.
	local asan_options=${ASAN_OPTIONS:-}
	grep -qa __asan_init -- "$PGBOOT" && asan_options="${asan_options:+$asan_options:}quarantine_size_mb=0"
	echo "+ /usr/bin/time pgboot run -- touch app-ran"
	t0=$(ms_now)
	ASAN_OPTIONS=$asan_options /usr/bin/time -f '%M' -o "$PGB_WORK/rss" "$PGBOOT" run --wait-timeout 10s \
		-- touch "$PGB_WORK/app-ran" >"$PGB_WORK/out" 2>"$PGB_WORK/err" </dev/null || rc=$?
	PGB_OUT=$PGB_WORK/out PGB_ERR=$PGB_WORK/err PGB_RC=$rc PGB_ELAPSED_MS=$(($(ms_now) - t0))
	_pgb_show_run
	_keep
	assert_exit 0
	rss=$(($(tail -n 1 "$PGB_WORK/rss") * 1024))
	echo "file $size bytes, applied in $PGB_ELAPSED_MS ms, peak RSS $rss bytes ($PGB_VARIANT binary)"
	assert_eq 1000000 "$(q "$PGB_DB" 'SELECT count(*) FROM big')" "rows"
	assert_eq "1|0001_big.sql|$(sha migrations/0001_big.sql)" "$(history "$PGB_DB")" "history"
	[[ -e $PGB_WORK/app-ran ]] || fail "the application did not run"
	# README: about the file's size plus the program (2 MB static, 10 MB dynamic); AddressSanitizer
	# (make SANITIZE=address,...) adds its shadow memory and quarantine
	if grep -qa __asan_init -- "$PGBOOT"; then
		assert_lt "$rss" $((size * 3)) "peak RSS (bytes) of an AddressSanitizer build against 3 times the file's size"
	else
		assert_lt "$rss" $((size + 32 * 1024 * 1024)) "peak RSS (bytes) against the file's size + 32 MB"
	fi
}

# --- passwords -----------------------------------------------------------------------------

# A raw "@", "/", ":", "?", "#", "%", "[", "]", "'" or space in the password of a URL: libpq
# would split the URL elsewhere (the tail of the password as the host name, its head as the
# port) and print the pieces while waiting out the timeout. Refused at once instead (78),
# saying how to percent-encode; percent-encoded, and in every other channel, it works.
test_badinput_url_password_delimiters_refused_raw() {
	_role
	clear_conn
	local c pw fmt url
	for c in "${_DELIMS[@]}"; do
		pw=$(_delim_pw "$c")
		url="postgres://$PGB_ROLE:$pw@$PGB_HOST:$PGB_PORT/$PGB_DB"
		for fmt in text json; do
			PGBOOT_LOG_FORMAT=$fmt _run config --database-url "$url"
			assert_exit 78
			assert_contains "$PGB_ERR" 'percent-encode the user name and the password'
			[[ ! -s $PGB_OUT ]] || fail "config printed settings"
			PGBOOT_LOG_FORMAT=$fmt DATABASE_URL=$url _run wait --wait-timeout 10s
			assert_exit 78
			assert_lt "$PGB_ELAPSED_MS" 2000 "ms before refusing the URL (no waiting)"
			assert_contains "$PGB_ERR" 'percent-encode the user name and the password'
			[[ $fmt == json ]] && continue
			assert_contains "$PGB_ERR" 'env DATABASE_URL: invalid value for "database.url": the part before the host holds'
		done
	done
	_run wait --database-url "postgres://$PGB_ROLE:a@b@$PGB_HOST/$PGB_DB"
	assert_contains "$PGB_ERR" 'holds more than one "@"; percent-encode the user name and the password ("@" as %40)'
	_run wait --database-url "postgres://$PGB_ROLE:a%zzb@$PGB_HOST/$PGB_DB"
	assert_contains "$PGB_ERR" 'holds a "%" that does not start a %XX escape; percent-encode the user name and the password ("%" as %25)'
	_run wait --database-url "postgres://$PGB_ROLE:a/b@$PGB_HOST/$PGB_DB"
	assert_contains "$PGB_ERR" 'holds a raw "/"; percent-encode the user name and the password ("/" as %2F)'
	_run wait --database-url "postgres://$PGB_ROLE:a:b@$PGB_HOST/$PGB_DB"
	assert_contains "$PGB_ERR" 'holds a second ":"; percent-encode the user name and the password (":" as %3A)'
	assert_exit 78
}

test_badinput_url_password_delimiters_work_encoded() {
	_role
	local pw=$_DELIM_PW enc kv fmt
	psql_super -v r="$PGB_ROLE" -v p="$pw" <<<"ALTER ROLE :\"r\" PASSWORD :'p';" >/dev/null
	enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$pw")
	# key=value: quoted, with \' for the quote
	local quoted=${pw//"'"/"\\'"}
	kv="host=$PGB_HOST port=$PGB_PORT user=$PGB_ROLE dbname=$PGB_DB password='$quoted'"
	printf '%s\n' "$pw" >"$PGB_WORK/pwfile"
	printf '{"username": "%s", "password": "%s", "host": "%s", "port": %s, "dbname": "%s"}\n' \
		"$PGB_ROLE" "$pw" "$PGB_HOST" "$PGB_PORT" "$PGB_DB" >"$PGB_WORK/secret.json"
	printf '[database]\npassword = %s\n' "$pw" >"$PGB_WORK/pw.ini"
	chmod 600 "$PGB_WORK/pwfile" "$PGB_WORK/secret.json"
	clear_conn
	migdir migrations 0001_ok.sql 'CREATE TABLE delim_ok (id int);'
	for fmt in text json; do
		export PGBOOT_LOG_FORMAT=$fmt PGBOOT_LOG_LEVEL=debug
		DATABASE_URL="postgres://$PGB_ROLE:$enc@$PGB_HOST:$PGB_PORT/$PGB_DB" _run run -- true
		assert_exit 0
		DATABASE_URL="postgres://$PGB_ROLE:$enc@$PGB_HOST:$PGB_PORT/$PGB_DB" _run config
		assert_exit 0
		assert_contains "$PGB_OUT" "database.url = postgres://$PGB_ROLE:********@$PGB_HOST:$PGB_PORT/$PGB_DB  (env DATABASE_URL)"
		_run wait --database-url "$kv"
		assert_exit 0
		_run config --database-url "$kv"
		assert_exit 0
		_run wait --database-host "$PGB_HOST" --database-port "$PGB_PORT" --database-user "$PGB_ROLE" \
			--database-dbname "$PGB_DB" --database-password-file "$PGB_WORK/pwfile"
		assert_exit 0
		_run status --database-secret-file "$PGB_WORK/secret.json"
		assert_exit 0
		_run plan --config "$PGB_WORK/pw.ini" --database-host "$PGB_HOST" --database-port "$PGB_PORT" \
			--database-user "$PGB_ROLE" --database-dbname "$PGB_DB"
		assert_exit 0
		# the waiting lines of a wrong password (the right one with a suffix)
		_run wait --database-url "postgres://$PGB_ROLE:${enc}x@$PGB_HOST:$PGB_PORT/$PGB_DB" --wait-timeout 1s
		assert_exit 69
	done
	assert_eq t "$(table_exists "$PGB_DB" delim_ok)" "table of the migration"
	local f
	while IFS= read -r f; do
		assert_not_contains "$PGB_WORK/transcript" "$f"
	done < <(_pgb_fragments "$pw"; printf '%s\n' "$enc")
}

# A database name that is not valid UTF-8 is a configuration error naming the setting (it was
# exit 70, "could not quote identifier", after the wait).
test_badinput_database_name_not_utf8_is_78() {
	_role
	local bad=$'caf\xe9'
	_run create --database-dbname "$bad"
	assert_exit 78
	assert_contains "$PGB_ERR" '--database-dbname: invalid value for "database.dbname": "caf\xE9" (not valid UTF-8'
	PGBOOT_DATABASE_DBNAME=$bad _run create
	assert_exit 78
	assert_contains "$PGB_ERR" 'env PGBOOT_DATABASE_DBNAME: invalid value for "database.dbname"'
	(
		unset PGBOOT_DATABASE_DBNAME
		PGDATABASE=$bad _run migrate
		assert_exit 78
		assert_contains "$PGB_ERR" 'env PGDATABASE: invalid value for "database.dbname": "caf\xE9" (not valid UTF-8'
		DATABASE_URL="postgres://$PGB_ROLE@$PGB_HOST:$PGB_PORT/caf%E9" _run run -- true
		assert_exit 78
		assert_contains "$PGB_ERR" 'env DATABASE_URL: invalid value for "database.dbname": "caf\xE9"'
	)
	_run create --database-maintenance-db $'\xff'
	assert_exit 78
	assert_contains "$PGB_ERR" 'invalid value for "database.maintenance_db": "\xFF" (not valid UTF-8'
	_run create --create-owner $'a\xc3'
	assert_exit 78
	assert_contains "$PGB_ERR" 'invalid value for "create.owner": "a\xC3" (not valid UTF-8'
	assert_eq 0 "$(q postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'caf%'")" "databases created"
}

# Every channel a password can come through, in every phase and log format: none of the runs
# may print it (checked here and by pgb_check_secrets for everything else in this file).
test_badinput_passwords_never_printed() {
	_role
	local pw=${_SECRETS[0]} urlpw=${_SECRETS[1]} enc fmt level
	enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$urlpw")
	psql_super -v r="$PGB_ROLE" -v p="$urlpw" <<<"ALTER ROLE :\"r\" PASSWORD :'p';" >/dev/null
	local url="postgres://$PGB_ROLE:$enc@$PGB_HOST:$PGB_PORT/$PGB_DB"
	printf '%s\n' "$urlpw" >"$PGB_WORK/pwfile"
	chmod 600 "$PGB_WORK/pwfile"
	printf '{"username": "%s", "password": "%s", "host": "%s", "port": %s, "dbname": "%s", "engine": "postgres"}\n' \
		"$PGB_ROLE" "$urlpw" "$PGB_HOST" "$PGB_PORT" "$PGB_DB" >"$PGB_WORK/secret.json"
	chmod 600 "$PGB_WORK/secret.json"
	printf '[database]\npassword = %s\n' "$urlpw" >"$PGB_WORK/pw.ini"
	clear_conn
	migdir migrations 0001_ok.sql 'CREATE TABLE pw_ok (id int);'
	for fmt in text json; do
		for level in info debug; do
			export PGBOOT_LOG_FORMAT=$fmt PGBOOT_LOG_LEVEL=$level
			_run run --database-url "$url" -- true
			assert_exit 0
			DATABASE_URL=$url _run status --json
			PGBOOT_DATABASE_URL=$url _run config
			_run config --database-url "$url" --database-password "$pw"
			_run run --database-secret-file "$PGB_WORK/secret.json" -- true
			assert_exit 0
			_run plan --config "$PGB_WORK/pw.ini" --database-host "$PGB_HOST" --database-port "$PGB_PORT" \
				--database-user "$PGB_ROLE" --database-dbname "$PGB_DB"
			assert_exit 0
			_run wait --database-host "$PGB_HOST" --database-port "$PGB_PORT" --database-user "$PGB_ROLE" \
				--database-dbname "$PGB_DB" --database-password-file "$PGB_WORK/pwfile"
			assert_exit 0
			# a wrong password (the right one with a suffix), a failing migration, a lost server
			_run wait --database-url "${url/$enc/${enc}x}" --wait-timeout 1s
			assert_exit 69
			printf 'SELECT * FROM nowhere_%s;\n' "$fmt$level" >migrations/0002_bad.sql
			PGBOOT_DATABASE_URL=$url _run run -- true
			assert_exit 65
			rm migrations/0002_bad.sql
			_run wait --database-url "postgres://$PGB_ROLE:$enc@$PGB_HOST:$(free_port)/$PGB_DB" --wait-timeout 1s
			assert_exit 69
		done
	done
	local s
	for s in "$pw" "$urlpw" "$enc"; do
		assert_not_contains "$PGB_WORK/transcript" "$s"
	done
	echo "$(grep -c . "$PGB_WORK/transcript") lines of output checked"
}
