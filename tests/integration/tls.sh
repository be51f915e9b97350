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

# --- client certificates (pg_hba.conf "cert": no password, the certificate's CN is the role) --

# _cert_cluster: a started TLS cluster that asks $PGB_ROLE for a client certificate signed by
# the throwaway CA (and accepts no password from it), the role, and in CERT_DIR the CA.
_cert_cluster() {
	pg_init
	pg_enable_tls
	CERT_DIR=$PGB_TMP/tls
	echo "ssl_ca_file = '$CERT_DIR/ca.crt'" >>"$PGB_DATADIR/postgresql.conf"
	local hba
	hba=$(cat "$PGB_DATADIR/pg_hba.conf")
	{ printf 'hostssl all "%s" all cert\nhost all "%s" all reject\n' "$PGB_ROLE" "$PGB_ROLE"; printf '%s\n' "$hba"; } \
		>"$PGB_DATADIR/pg_hba.conf"
	pg_start_server
	mkrole "$PGB_ROLE" app-pw CREATEDB
}

# _client_cert KEYTYPE...: CERT_DIR/client.crt for CN=$PGB_ROLE, signed by the CA, with its
# key unencrypted in CERT_DIR/plain.key (KEYTYPE: openssl req -newkey arguments)
_client_cert() {
	local log=$CERT_DIR/client-openssl.log
	_pgb_openssl "$log" req -new -newkey "$@" -nodes -subj "/CN=$PGB_ROLE" \
		-keyout "$CERT_DIR/plain.key" -out "$CERT_DIR/client.csr" || fail "could not make the client key"
	_pgb_openssl "$log" x509 -req -in "$CERT_DIR/client.csr" -CA "$CERT_DIR/ca.crt" \
		-CAkey "$CERT_DIR/ca.key" -set_serial "$RANDOM" -days 2 -out "$CERT_DIR/client.crt" ||
		fail "could not sign the client certificate"
	chmod 600 "$CERT_DIR/plain.key"
}

# _cert_run KEYFILE [SSLPASSWORD] [ARGS...]: pgboot run with the client certificate and that
# key, given in database.url (verify-full against the CA), the migration of _cert_migration
_cert_run() {
	local key=$1 pw=${2:-} url
	shift 2 || shift
	url="postgresql://$PGB_ROLE@localhost:$PGB_PORT/$PGB_DB?sslmode=verify-full&sslrootcert=$PGB_CA"
	url+="&sslcert=$CERT_DIR/client.crt&sslkey=$key"
	[[ -z $pw ]] || url+="&sslpassword=$pw"
	clear_conn
	migdir migrations 1_cert_seen.sql 'CREATE TABLE cert_seen AS SELECT ssl, client_dn FROM pg_stat_ssl
WHERE pid = pg_backend_pid();'
	pgb_run run --database-url "$url" "$@" -- touch "$PGB_WORK/app-ran"
}

# _cert_seen: what the migration saw of its own connection: "ssl|client_dn"
_cert_seen() {
	q "$PGB_DB" 'SELECT ssl, client_dn FROM cert_seen'
}

test_tls_client_certificate_with_a_plain_rsa_key() {
	_cert_cluster
	_client_cert rsa:2048
	_cert_run "$CERT_DIR/plain.key"
	assert_exit 0
	assert_eq "t|/CN=$PGB_ROLE" "$(_cert_seen)" "TLS and the client certificate's name, seen by the server"
	[[ -e $PGB_WORK/app-ran ]] || fail "the application did not run"
}

# _encrypted_key_works MARKER OPENSSL-COMMAND...: the key CERT_DIR/plain.key encrypted by
# OPENSSL-COMMAND (-passout and -out are added) into CERT_DIR/enc.key, which holds MARKER;
# pgboot connects with it and sslpassword, and the server sees the certificate.
_encrypted_key_works() {
	local marker=$1
	shift
	_pgb_openssl "$CERT_DIR/client-openssl.log" "$@" -in "$CERT_DIR/plain.key" \
		-passout pass:Key-pw-4821 -out "$CERT_DIR/enc.key" || fail "could not encrypt the key"
	chmod 600 "$CERT_DIR/enc.key"
	assert_contains "$CERT_DIR/enc.key" "$marker"
	_cert_run "$CERT_DIR/enc.key" Key-pw-4821
	assert_exit 0
	assert_eq "t|/CN=$PGB_ROLE" "$(_cert_seen)" "TLS and the client certificate's name, seen by the server"
}

# A P-256 key in PKCS#8, encrypted with AES-256-CBC: sslpassword decrypts it.
test_tls_client_key_pkcs8_aes256_with_sslpassword() {
	_cert_cluster
	_client_cert ec -pkeyopt ec_paramgen_curve:P-256
	_encrypted_key_works 'BEGIN ENCRYPTED PRIVATE KEY' pkey -aes256
}

# An RSA key in the traditional PEM format, encrypted with DES-EDE3-CBC (openssl rsa -des3),
# still common: the static binary keeps 3DES for it.
test_tls_client_key_traditional_des3_with_sslpassword() {
	_cert_cluster
	_client_cert rsa:2048
	_encrypted_key_works 'DEK-Info: DES-EDE3-CBC' rsa -des3 -traditional
}

# A wrong sslpassword: the key cannot be loaded, which no retry changes: the run fails at
# once as a configuration error (78) with the reason, and neither password is printed.
test_tls_client_key_wrong_sslpassword() {
	_cert_cluster
	_client_cert rsa:2048
	_pgb_openssl "$CERT_DIR/client-openssl.log" rsa -in "$CERT_DIR/plain.key" -aes128 -traditional \
		-passout pass:Key-pw-4821 -out "$CERT_DIR/enc.key" || fail "could not encrypt the key"
	chmod 600 "$CERT_DIR/enc.key"
	_cert_run "$CERT_DIR/enc.key" Wrong-pw-7730 --wait-timeout 30s
	assert_exit 78
	assert_lt "$PGB_ELAPSED_MS" 5000 "ms before failing (a key that does not decrypt is not waited on)"
	assert_contains "$PGB_ERR" "could not load private key file \"$CERT_DIR/enc.key\""
	assert_contains "$PGB_ERR" 'bad decrypt'
	assert_not_contains "$PGB_ERR" 'Wrong-pw-7730'
	assert_not_contains "$PGB_ERR" 'Key-pw-4821'
	[[ ! -e $PGB_WORK/app-ran ]] || fail "the application ran"
}
