# shellcheck shell=bash
# tls: pgboot connects with libpq's sslmode settings to a server whose certificate comes from a
# throwaway CA (pg_enable_tls); run against both binaries.

# _tls_cluster [pg_enable_tls ARGS...]: a started cluster of our own with TLS on.
_tls_cluster() {
	pg_init
	pg_enable_tls "$@"
	pg_start_server
}

# _ssl_seen_migration: migrations/ holds one file recording, in the table ssl_seen, whether the
# connection that applies it uses TLS, and its application name.
_ssl_seen_migration() {
	migdir migrations 1_ssl_seen.sql 'CREATE TABLE ssl_seen AS SELECT s.ssl, a.application_name
FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.pid = pg_backend_pid();'
}

test_tls_require_connects_over_tls() {
	_tls_cluster --hostssl-only "$PGB_ROLE"
	app_role
	_ssl_seen_migration
	pgb_run run --database-sslmode require
	assert_exit 0
	assert_eq 't|pgboot' "$(q "$PGB_DB" 'SELECT ssl, application_name FROM ssl_seen')" \
		"ssl and application_name of pgboot's connection in pg_stat_ssl"
}

test_tls_verify_full_with_the_ca_and_localhost() {
	_tls_cluster --hostssl-only "$PGB_ROLE"
	app_role
	_ssl_seen_migration
	pgb_run run --database-host localhost --database-sslmode verify-full --database-sslrootcert "$PGB_CA"
	assert_exit 0
	assert_eq 't|pgboot' "$(q "$PGB_DB" 'SELECT ssl, application_name FROM ssl_seen')" \
		"ssl and application_name of pgboot's connection in pg_stat_ssl"
}

test_tls_verify_full_with_an_ip_address_in_the_certificate() {
	_tls_cluster --hostssl-only "$PGB_ROLE" # subjectAltName IP:127.0.0.1
	app_role
	_ssl_seen_migration
	pgb_run run --database-host 127.0.0.1 --database-sslmode verify-full --database-sslrootcert "$PGB_CA"
	assert_exit 0
	assert_eq 't|pgboot' "$(q "$PGB_DB" 'SELECT ssl, application_name FROM ssl_seen')" \
		"ssl and application_name of pgboot's connection in pg_stat_ssl"
}

test_tls_verify_full_host_name_mismatch_is_69() {
	_tls_cluster --cn db.invalid --san DNS:db.invalid
	mkrole "$PGB_ROLE" app-pw
	use_conn "$PGB_ROLE" app-pw postgres
	# The certificate chain is valid: only the name is wrong.
	pgb_run wait --database-sslmode verify-ca --database-sslrootcert "$PGB_CA"
	assert_exit 0
	pgb_run wait --database-sslmode verify-full --database-sslrootcert "$PGB_CA" --wait-timeout 1s
	assert_exit 69
	# libpq 15 also checks (and counts) the CN for an IP host when no IP address SAN is given
	assert_match "$PGB_ERR" 'server certificate for "db\.invalid"( \(and [0-9]+ other names?\))? does not match host name "127\.0\.0\.1"'
	assert_lt "$PGB_ELAPSED_MS" 5000 "ms before giving up with --wait-timeout 1s"
}

test_tls_missing_sslrootcert_is_78_at_once() {
	_tls_cluster
	mkrole "$PGB_ROLE" app-pw
	use_conn "$PGB_ROLE" app-pw postgres
	pgb_run wait --database-sslmode verify-full --database-sslrootcert /nonexistent/ca.crt --wait-timeout 30s
	assert_exit 78
	assert_contains "$PGB_ERR" database.sslrootcert
	assert_contains "$PGB_ERR" /nonexistent/ca.crt
	assert_lt "$PGB_ELAPSED_MS" 2000 "ms before failing (a configuration error must not be waited on)"
}

test_tls_require_against_a_server_without_ssl() {
	assert_eq off "$(q postgres 'SHOW ssl')" "ssl of the server of this file"
	mkrole "$PGB_ROLE" app-pw
	use_conn "$PGB_ROLE" app-pw postgres
	pgb_run wait --database-sslmode require --wait-timeout 1s
	assert_exit 69
	assert_contains "$PGB_ERR" 'server does not support SSL, but SSL was required'
}
