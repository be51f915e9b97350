# shellcheck shell=bash
# Every kustomize overlay under k8s/, rendered with `kubectl kustomize` and played with podman's
# `podman kube play` (Debian's podman 4.3, runc) against the run's PostgreSQL. The images the
# manifests name, pgboot:0.1.0 and pgboot-example:0.1.0, are the ones tests/containers/run built
# and copied into podman's storage. tests/containers/kube.py adapts the rendered manifests for
# this machine and for podman 4.3 (host network, the database on loopback, the Secrets made
# outside the repository; podman 4.3's gaps: Secret volumes need "optional: false", kind Job is
# played as its pod template, and nothing of the Job controller is tested); see there.
# Podman plays a Deployment as one pod (replicas are not started), and has no probes' timing:
# the probe command, pgboot status --check, is run with podman exec.

# podman names the pod of a Deployment NAME-pod-0, its containers POD-CONTAINER.
KUBE_POD=pgboot-example-pod-0

# kube_db_reset: no pgboot_demo, main_app or app_template databases; the role "app" of the
# manifests, with CREATEDB and the password of the Secret app-db.
kube_db_reset() {
	local db
	for db in pgboot_demo main_app app_template; do
		[[ $(db_exists "$db") == 1 ]] || continue
		psql_super -c "ALTER DATABASE $db IS_TEMPLATE false" -c "DROP DATABASE $db WITH (FORCE)"
	done
	psql_super -c "DROP ROLE IF EXISTS app" -c "CREATE ROLE app LOGIN CREATEDB PASSWORD 'app-pw'"
}

# kube_play OVERLAY [kube.py OPTIONS...]: render k8s/OVERLAY, adapt it, podman kube play it.
# Sets PGB_RC (kube play's status); the manifest is $PGB_WORK/play.yaml.
kube_play() {
	local overlay=$1
	shift
	kubectl kustomize "$CT_TOP/k8s/$overlay" >"$PGB_WORK/rendered.yaml" ||
		fail "kubectl kustomize k8s/$overlay failed"
	python3 "$CT_TESTS/kube.py" --port "$PGB_PORT" --secrets "$PGB_WORK/secrets" "$@" <"$PGB_WORK/rendered.yaml" \
		>"$PGB_WORK/play.yaml" || fail "kube.py failed on k8s/$overlay"
	PGB_RC=0
	echo "+ podman kube play (k8s/$overlay)"
	podman kube play "$PGB_WORK/play.yaml" >"$PGB_WORK/play.out" 2>&1 || PGB_RC=$?
	echo "  -> exit $PGB_RC"
	sed 's/^/    | /' "$PGB_WORK/play.out"
	trap 'podman pod rm -a -f -t 1 >/dev/null 2>&1 || true; _pgb_cleanup' EXIT
}

# kube_state CONTAINER: "status exit-code started-at finished-at" of a podman container.
kube_state() {
	podman inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.StartedAt.UnixNano}} {{.State.FinishedAt.UnixNano}}' "$1"
}

# kube_wait_log CONTAINER STRING [SECONDS]: wait until the container's log has STRING.
kube_wait_log() {
	local i
	for ((i = 0; i < ${3:-60} * 10; i++)); do
		podman logs "$1" 2>&1 | grep -qF -e "$2" && return 0
		sleep 0.1
	done
	podman logs "$1" 2>&1 | sed 's/^/    | /'
	fail "container $1 did not log within ${3:-60} s: $2"
}

# kube_check_init_then_app DBNAME: the initContainer pgboot ran "pgboot migrate" to the end
# (exit 0) before the app container started; DBNAME has every migration; the app reads them.
kube_check_init_then_app() {
	local db=$1 init app
	init=$(kube_state "$KUBE_POD-pgboot")
	echo "init container: $init"
	podman logs "$KUBE_POD-pgboot" 2>&1 | sed 's/^/    | /'
	read -r -a i <<<"$init"
	assert_eq exited "${i[0]}" "init container state"
	assert_eq 0 "${i[1]}" "init container exit code"
	kube_wait_log "$KUBE_POD-app" "0003_posts_updated_at"
	app=$(kube_state "$KUBE_POD-app")
	echo "app container: $app"
	read -r -a a <<<"$app"
	assert_eq running "${a[0]}" "app container state"
	assert_lt "${i[3]}" "${a[2]}" "init container finished (ns) before the app container started"
	assert_eq 3 "$(q "$db" 'SELECT count(*) FROM pgboot.migrations')" "migrations in $db"
	podman logs "$KUBE_POD-app" 2>&1 | sed 's/^/    | /'
	podman logs "$KUBE_POD-app" >"$PGB_WORK/app.log" 2>&1
	assert_match "$PGB_WORK/app.log" "^ *$db +\| +0 +\| +0"
}

# k8s/base: initContainer first, then the app; pgboot status --check as the probe command:
# 0 while every migration is applied and unchanged, 1 when one is not (here: its history row
# removed, so it is pending), 0 again once applied.
test_kube_base_init_then_app_and_probe() {
	kube_db_reset
	kube_play base
	assert_exit 0
	kube_check_init_then_app pgboot_demo
	echo "+ podman exec $KUBE_POD-app pgboot status --check"
	PGB_RC=0
	podman exec "$KUBE_POD-app" /usr/local/bin/pgboot status --check >"$PGB_WORK/probe" 2>&1 || PGB_RC=$?
	sed 's/^/    | /' "$PGB_WORK/probe"
	assert_exit 0
	q pgboot_demo "CREATE TABLE keep AS SELECT * FROM pgboot.migrations WHERE version = '3';
		DELETE FROM pgboot.migrations WHERE version = '3'" >/dev/null
	PGB_RC=0
	podman exec "$KUBE_POD-app" /usr/local/bin/pgboot status --check >"$PGB_WORK/probe" 2>&1 || PGB_RC=$?
	sed 's/^/    | /' "$PGB_WORK/probe"
	assert_exit 1
	assert_match "$PGB_WORK/probe" 'pending'
	q pgboot_demo "INSERT INTO pgboot.migrations SELECT * FROM keep; DROP TABLE keep" >/dev/null
	PGB_RC=0
	podman exec "$KUBE_POD-app" /usr/local/bin/pgboot status --check >"$PGB_WORK/probe" 2>&1 || PGB_RC=$?
	assert_exit 0
}

# A broken migration: the initContainer exits 65 and the app container never starts.
test_kube_broken_migration_keeps_app_from_starting() {
	kube_db_reset
	kube_play base --migration '0004_broken.sql=CREATE TABLE broken (id int'
	assert_ge "$PGB_RC" 1 "podman kube play exit code"
	assert_match "$PGB_WORK/play.out" 'init container [0-9a-f]+ exited with code 65'
	read -r -a i <<<"$(kube_state "$KUBE_POD-pgboot")"
	assert_eq 65 "${i[1]}" "init container exit code"
	podman logs "$KUBE_POD-pgboot" >"$PGB_WORK/init.log" 2>&1
	assert_contains "$PGB_WORK/init.log" '0004_broken.sql:1:28: ERROR: syntax error'
	read -r -a a <<<"$(kube_state "$KUBE_POD-app")"
	echo "app container: ${a[*]}"
	assert_eq created "${a[0]}" "app container state"
	assert_lt "${a[2]}" 1 "app container start time (the zero time: never started)"
	assert_eq 3 "$(q pgboot_demo 'SELECT count(*) FROM pgboot.migrations')" "migrations applied before the broken one"
	assert_eq f "$(table_exists pgboot_demo broken)"
}

# k8s/overlays/job: the Job's pod runs pgboot migrate once, to completion (exit 0).
test_kube_job_completes() {
	local j
	kube_db_reset
	kube_play overlays/job
	assert_exit 0
	for ((n = 0; n < 600; n++)); do
		read -r -a j <<<"$(kube_state pgboot-migrate-pgboot)"
		[[ ${j[0]} == exited ]] && break
		sleep 0.1
	done
	podman logs pgboot-migrate-pgboot 2>&1 | sed 's/^/    | /'
	assert_eq exited "${j[0]}" "Job container state"
	assert_eq 0 "${j[1]}" "Job container exit code"
	assert_eq 3 "$(q pgboot_demo 'SELECT count(*) FROM pgboot.migrations')" "migrations applied by the Job"
	! podman ps -a --format '{{.Names}}' | grep -q -- '-app$' || fail "the job overlay started an app container"
}

# k8s/overlays/preview: one database per branch (branch.env: GIT_BRANCH=main gives main_app),
# created from app_template and owned by app.
test_kube_preview_overlay() {
	kube_db_reset
	# As docs/deployment.md says to prepare it, once.
	psql_super -c "CREATE DATABASE app_template IS_TEMPLATE true"
	kube_play overlays/preview
	assert_exit 0
	kube_check_init_then_app main_app
	assert_eq app "$(q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'main_app'")" "owner of main_app"
	assert_eq 0 "$(db_exists pgboot_demo)" "pgboot_demo created by the preview overlay"
}

# k8s/overlays/production: the database must exist (create.mode never: the init container waits
# for it, then exits 69, and the app does not start) and the connection is verified against the
# CA of the Secret db-ca (sslmode verify-full).
test_kube_production_overlay() {
	local init
	kube_db_reset
	kube_play overlays/production --ca "$PGB_CA" --env PGBOOT_WAIT_TIMEOUT=3s
	assert_ge "$PGB_RC" 1 "podman kube play exit code without the database"
	read -r -a init <<<"$(kube_state "$KUBE_POD-pgboot")"
	assert_eq 69 "${init[1]}" "init container exit code without the database"
	assert_eq 0 "$(db_exists pgboot_demo)" "database created in production"
	podman pod rm -a -f -t 1 >/dev/null
	psql_super -c "CREATE DATABASE pgboot_demo OWNER app"
	kube_play overlays/production --ca "$PGB_CA"
	assert_exit 0
	kube_check_init_then_app pgboot_demo
	podman logs "$KUBE_POD-pgboot" >"$PGB_WORK/init.log" 2>&1
	assert_not_contains "$PGB_WORK/init.log" app-pw
	podman exec "$KUBE_POD-app" /usr/local/bin/pgboot config >"$PGB_WORK/config" 2>&1
	assert_match "$PGB_WORK/config" '^database\.sslmode = verify-full '
	assert_match "$PGB_WORK/config" '^database\.sslrootcert = /etc/pgboot/ca/ca\.crt '
}
