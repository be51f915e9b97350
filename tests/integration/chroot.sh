# shellcheck shell=bash
# chroot: the static binary alone in an empty root, as in a FROM-scratch image (no /etc, /dev,
# /tmp, shell): TCP and TLS to 127.0.0.1, exec, localhost without /etc/hosts, no /etc/passwd;
# and the binary itself: --version, static linkage, size. Needs PGBOOT_STATIC (make check).
# pgb-only: static

# _chroot_cluster: need_static, then a started TLS cluster of our own (pg_enable_tls: the CA in
# $PGB_CA, a certificate for localhost and 127.0.0.1), a CREATEDB role $PGB_ROLE (password
# app-pw), and in CHROOT the chroot-check options giving pgboot that role and $PGB_DB through its
# environment plus /migrations/1_ssl_seen.sql, which records in ssl_seen whether the connection
# applying it uses TLS.
_chroot_cluster() {
	need_static
	pg_init
	pg_enable_tls
	pg_start_server
	mkrole "$PGB_ROLE" app-pw CREATEDB
	printf '%s\n' 'CREATE TABLE ssl_seen AS SELECT s.ssl, a.application_name
FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.pid = pg_backend_pid();' \
		>"$PGB_WORK/1_ssl_seen.sql"
	CHROOT=(--copy "$PGB_WORK/1_ssl_seen.sql" /migrations/1_ssl_seen.sql
		--env "PGBOOT_DATABASE_PORT=$PGB_PORT" --env "PGBOOT_DATABASE_DBNAME=$PGB_DB"
		--env PGBOOT_DATABASE_PASSWORD=app-pw --env PGBOOT_WAIT_TIMEOUT=10s
		--env PGBOOT_MIGRATE_DIR=/migrations)
}

# _assert_ran_then_exec SSL: pgboot created $PGB_DB, applied the migration over a connection with
# pg_stat_ssl.ssl = SSL, then exec'd /pgboot --version (its output is on stdout).
_assert_ran_then_exec() {
	assert_exit 0
	assert_match "$PGB_OUT" '^pgboot [0-9]+\.[0-9]+\.[0-9]+ '
	assert_eq "$1|pgboot" "$(q "$PGB_DB" 'SELECT ssl, application_name FROM ssl_seen')" \
		"ssl and application_name of pgboot's connection in pg_stat_ssl"
	assert_eq 1 "$(q "$PGB_DB" 'SELECT version FROM pgboot.migrations')" "applied versions"
}

test_chroot_sslmode_disable_then_exec() {
	_chroot_cluster
	pgb_chroot "${CHROOT[@]}" -- run --database-host 127.0.0.1 --database-user "$PGB_ROLE" \
		--database-sslmode disable -- /pgboot --version
	_assert_ran_then_exec f
}

test_chroot_sslmode_require_then_exec() {
	_chroot_cluster
	pgb_chroot "${CHROOT[@]}" -- run --database-host 127.0.0.1 --database-user "$PGB_ROLE" \
		--database-sslmode require -- /pgboot --version
	_assert_ran_then_exec t
}

test_chroot_sslmode_verify_full_then_exec() {
	_chroot_cluster
	pgb_chroot "${CHROOT[@]}" --copy "$PGB_CA" /ca.crt -- run --database-host 127.0.0.1 \
		--database-user "$PGB_ROLE" --database-sslmode verify-full --database-sslrootcert /ca.crt \
		-- /pgboot --version
	_assert_ran_then_exec t
}

test_chroot_localhost_without_etc_hosts_is_quick() {
	_chroot_cluster
	pgb_chroot "${CHROOT[@]}" --copy "$PGB_CA" /ca.crt -- run --database-host localhost \
		--database-user "$PGB_ROLE" --database-sslmode verify-full --database-sslrootcert /ca.crt \
		-- /pgboot --version
	_assert_ran_then_exec t
	assert_lt "$PGB_ELAPSED_MS" 2000 "ms to connect to localhost without /etc/hosts (no DNS lookup)"
}

test_chroot_localhost_with_etc_hosts() {
	_chroot_cluster
	pgb_chroot "${CHROOT[@]}" --hosts --copy "$PGB_CA" /ca.crt -- run --database-host localhost \
		--database-user "$PGB_ROLE" --database-sslmode verify-full --database-sslrootcert /ca.crt \
		-- /pgboot --version
	_assert_ran_then_exec t
}

test_chroot_no_user_and_no_etc_passwd_is_78_at_once() {
	_chroot_cluster
	pgb_chroot "${CHROOT[@]}" -- run --database-host 127.0.0.1 --database-sslmode disable \
		--wait-timeout 30s -- /pgboot --version
	assert_exit 78
	assert_contains "$PGB_ERR" database.user
	assert_not_contains "$PGB_OUT" pgboot
	assert_lt "$PGB_ELAPSED_MS" 2000 "ms before failing (a configuration error must not be waited on)"
	assert_eq 0 "$(db_exists "$PGB_DB")" "database exists"
}

test_chroot_version_names_pgboot_libpq_and_openssl() {
	need_static
	pgb_chroot -- --version
	assert_exit 0
	assert_match "$PGB_OUT" '^pgboot [0-9]+\.[0-9]+\.[0-9]+ '
	assert_match "$PGB_OUT" 'libpq [0-9]+\.[0-9]+'
	assert_match "$PGB_OUT" 'OpenSSL [0-9]+\.[0-9]+\.[0-9]+'
}

test_static_binary_is_statically_linked() {
	need_static
	need_tools file
	local info
	info=$(file -L "$PGBOOT")
	echo "$info"
	[[ $info == *"statically linked"* ]] || fail "file does not say \"statically linked\": $info"
}

test_static_binary_stripped_size() {
	need_static
	need_tools strip
	local size stripped
	cp -- "$PGBOOT" "$PGB_WORK/pgboot-stripped"
	strip --strip-all "$PGB_WORK/pgboot-stripped"
	size=$(stat -c %s -- "$PGBOOT")
	stripped=$(stat -c %s -- "$PGB_WORK/pgboot-stripped")
	echo "size of $PGBOOT: $size bytes, $stripped bytes stripped (at most 2400000)"
	assert_lt "$stripped" 2400001 "bytes of the stripped static binary"
}
