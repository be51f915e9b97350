# shellcheck shell=bash
# The pgboot image of docker/Dockerfile (built by tests/containers/run): what it holds, and
# `docker run --read-only --cap-drop ALL --network host` of it against the run's PostgreSQL.

# The image holds /pgboot and nothing else, runs as the numeric user, and is small.
test_image_holds_only_pgboot() {
	local size files
	assert_eq "65532:65532" "$("$DOCKER" image inspect -f '{{.Config.User}}' pgboot:0.1.0)" "image user"
	assert_eq "[/pgboot]" "$("$DOCKER" image inspect -f '{{.Config.Entrypoint}}' pgboot:0.1.0)" "entrypoint"
	mkdir -p "$PGB_WORK/save"
	"$DOCKER" save pgboot:0.1.0 | tar -C "$PGB_WORK/save" -xf -
	files=$(cd "$PGB_WORK/save" && python3 -c '
import json, tarfile
manifest = json.load(open("manifest.json"))
for layer in manifest[0]["Layers"]:
    for member in tarfile.open(layer):
        print(member.name)
')
	echo "files of the image's layers: $files"
	assert_eq "pgboot" "$files" "the image's only file"
	size=$("$DOCKER" image inspect -f '{{.Size}}' pgboot:0.1.0)
	echo "image size: $size bytes"
	assert_lt "$size" $((8 * 1024 * 1024)) "image size (bytes)"
	ct_run_pgboot "$PGB_WORK/file" --entrypoint /pgboot -- --version
	assert_exit 0
}

test_image_version() {
	ct_run_pgboot "$PGB_WORK/out" -- --version
	assert_exit 0
	assert_match "$PGB_WORK/out" '^pgboot [0-9]+\.[0-9]+\.[0-9]+ \(static; libpq 15\.[0-9]+, OpenSSL 3\.'
}

# wait: 0 once the server answers; 69 when nothing listens within wait.timeout.
test_image_wait() {
	local port
	mkrole "$PGB_ROLE" app-pw
	ct_run_pgboot "$PGB_WORK/out" -e PGBOOT_DATABASE_HOST=127.0.0.1 -e "PGBOOT_DATABASE_PORT=$PGB_PORT" \
		-e "PGBOOT_DATABASE_USER=$PGB_ROLE" -e PGBOOT_DATABASE_PASSWORD=app-pw \
		-e PGBOOT_DATABASE_DBNAME=postgres -e PGBOOT_WAIT_TIMEOUT=20s -- wait
	assert_exit 0
	port=$(free_port)
	ct_run_pgboot "$PGB_WORK/out" -e PGBOOT_DATABASE_HOST=127.0.0.1 -e "PGBOOT_DATABASE_PORT=$port" \
		-e "PGBOOT_DATABASE_USER=$PGB_ROLE" -e PGBOOT_DATABASE_PASSWORD=app-pw \
		-e PGBOOT_WAIT_TIMEOUT=2s -- wait
	assert_exit 69
	assert_not_contains "$PGB_WORK/out" app-pw
}

# migrate_in_container MIGRATIONS OUT SSLMODE ROLE [DOCKER OPTIONS...]: pgboot migrate of the
# read-only mounted MIGRATIONS into $PGB_DB.
migrate_in_container() {
	local dir=$1 out=$2 mode=$3 role=$4
	shift 4
	ct_run_pgboot "$out" -v "$dir:/migrations:ro" -e PGBOOT_MIGRATE_DIR=/migrations \
		-e PGBOOT_DATABASE_HOST=127.0.0.1 -e "PGBOOT_DATABASE_PORT=$PGB_PORT" \
		-e "PGBOOT_DATABASE_USER=$role" -e PGBOOT_DATABASE_PASSWORD=app-pw \
		-e "PGBOOT_DATABASE_DBNAME=$PGB_DB" -e "PGBOOT_DATABASE_SSLMODE=$mode" \
		-e PGBOOT_WAIT_TIMEOUT=5s "$@" -- migrate
}

# migrate with migrations mounted read-only: sslmode disable (a role allowed without TLS),
# then require and verify-full with the CA mounted for ct_tls, which may log in only with TLS.
test_image_migrate_sslmodes() {
	local m=$PGB_WORK/migrations
	migdir "$m" 0001_a.sql 'CREATE TABLE a (id int);' 0002_b.sql 'CREATE TABLE b (id int);'
	ct_readable "$m"
	mkrole "$PGB_ROLE" app-pw CREATEDB
	migrate_in_container "$m" "$PGB_WORK/out" disable "$PGB_ROLE"
	assert_exit 0
	assert_eq "1|0001_a.sql" "$(q "$PGB_DB" 'SELECT version, name FROM pgboot.migrations ORDER BY version LIMIT 1')"
	assert_eq "t" "$(table_exists "$PGB_DB" b)"
	psql_super -c "DROP DATABASE $PGB_DB"

	# ct_tls: TCP logins only with TLS (tests/containers/run, pg_enable_tls --hostssl-only).
	psql_super -c "DROP ROLE IF EXISTS ct_tls" -c "CREATE ROLE ct_tls LOGIN CREATEDB PASSWORD 'app-pw'"
	# Refused by pg_hba.conf (28000): waited for, as a role not provisioned yet, then 69.
	migrate_in_container "$m" "$PGB_WORK/out" disable ct_tls -e PGBOOT_WAIT_TIMEOUT=2s
	assert_exit 69
	assert_eq 0 "$(db_exists "$PGB_DB")" "database created without TLS"
	migrate_in_container "$m" "$PGB_WORK/out" require ct_tls
	assert_exit 0
	assert_eq "2" "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')"
	psql_super -c "DROP DATABASE $PGB_DB"

	# verify-full: the CA file not mounted is a configuration error (78) at once; mounted, migrated.
	migrate_in_container "$m" "$PGB_WORK/out" verify-full ct_tls -e PGBOOT_DATABASE_SSLROOTCERT=/ca/ca.crt
	assert_exit 78
	assert_contains "$PGB_WORK/out" database.sslrootcert
	migrate_in_container "$m" "$PGB_WORK/out" verify-full ct_tls \
		-v "$PGB_CA:/ca/ca.crt:ro" -e PGBOOT_DATABASE_SSLROOTCERT=/ca/ca.crt
	assert_exit 0
	assert_eq "2" "$(q "$PGB_DB" 'SELECT count(*) FROM pgboot.migrations')"
	assert_not_contains "$PGB_WORK/out" app-pw
	psql_super -c "DROP DATABASE $PGB_DB" -c "DROP ROLE ct_tls"
}
