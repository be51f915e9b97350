# shellcheck shell=bash
# The compose example run for real with Debian's Compose (docker-compose 1.29, Python), through
# docker/compose.v1.yaml, the Compose v1 form of docker/compose.yaml. Compose v2 is not in Debian
# bookworm (nor on the npm registry), so docker/compose.yaml itself is not run here. The image "postgres:15" of the db service is the stand-in of
# tests/containers/postgres/ (PostgreSQL 15 from Debian's packages), not the official image.
# A test-only override puts both services on the host network (no bridge network here) and the
# stand-in on a free loopback port; the app image pgboot-example:0.1.0 is the one
# tests/containers/run built from docker/compose/Dockerfile.

# docker/compose.v1.yaml is docker/compose.yaml less what Compose v1 and the classic builder
# lack (the top-level name, build.additional_contexts), plus the pgboot service's image tag
# and app's wait for it: nothing else may differ.
test_compose_v1_file_matches_compose_yaml() {
	python3 - "$CT_TOP/docker/compose.yaml" "$CT_TOP/docker/compose.v1.yaml" <<-'PY' || fail "the compose files differ"
		import json, sys, yaml
		v2 = yaml.safe_load(open(sys.argv[1]))
		v1 = yaml.safe_load(open(sys.argv[2]))
		del v2["name"]
		del v2["services"]["app"]["build"]["additional_contexts"]
		assert v1["services"]["pgboot"].pop("image") == "pgboot"
		assert v1["services"]["app"]["depends_on"].pop("pgboot") == {"condition": "service_completed_successfully"}
		if v1 != v2:
		    print(json.dumps(v1, indent=1, sort_keys=True))
		    print(json.dumps(v2, indent=1, sort_keys=True))
		    sys.exit(1)
	PY
}

# compose_override FILE PORT: the test-only override of docker/compose.yaml.
compose_override() {
	cat >"$1" <<-YAML
		services:
		  db:
		    network_mode: host
		    environment:
		      PGPORT: "$2"
		    command: ["postgres", "-c", "listen_addresses=127.0.0.1"]
		  app:
		    network_mode: host
		    environment:
		      PGBOOT_DATABASE_HOST: 127.0.0.1
		      PGBOOT_DATABASE_PORT: "$2"
		      APP_INTERVAL: "1"
		    healthcheck:
		      interval: 1s
		      start_period: 60s
		    build:
		      network: host
		  pgboot:
		    network_mode: host
		    build:
		      network: host
	YAML
}

# compose ARGS...: docker-compose on docker/compose.v1.yaml and the override, project of the test.
compose() {
	echo "+ docker-compose $*" >&2
	docker-compose --ansi never -p "ct${PGB_TEST//_/}" -f "$CT_TOP/docker/compose.v1.yaml" \
		-f "$PGB_WORK/override.yaml" "$@"
}

# docker-compose up --build: the pgboot service's image is built (from the build cache) and
# prints its version; the database (stand-in) starts, pgboot in the app container waits for it,
# creates pgboot_demo, applies migrations/, then app.sh runs and reads the migrated tables;
# pgboot status --check, the app's healthcheck, makes the container healthy. down -v removes it all.
test_compose_up() {
	local port logs=$PGB_WORK/logs app i health project
	port=$(free_port)
	compose_override "$PGB_WORK/override.yaml" "$port"
	project="ct${PGB_TEST//_/}"
	trap 'compose down -v -t 2 >/dev/null 2>&1 || true; _pgb_cleanup' EXIT
	compose config >/dev/null || fail "docker-compose config rejects docker/compose.v1.yaml"
	# A run killed by its timeout skips the trap and leaves its volume in the cached data-root:
	# the database would exist already and nothing would be created.
	compose down -v -t 2 >/dev/null 2>&1 || true
	compose up -d --build
	app=$(compose ps -q app)
	[[ -n $app ]] || fail "no app container"
	for ((i = 0; i < 600; i++)); do
		compose logs --no-color app >"$logs" 2>&1
		grep -q 'pgboot_demo' "$logs" && grep -qE '^app_1 *\| *1 *\| ' "$logs" && break
		[[ $("$DOCKER" inspect -f '{{.State.Running}}' "$app") == true ]] || break
		sleep 0.1
	done
	compose logs --no-color >"$logs" 2>&1
	sed 's/^/    | /' "$logs"
	assert_match "$logs" 'app_1 +\| pgboot: info: .*creat'
	assert_match "$logs" 'app_1 +\| pgboot: info: .*applied'
	assert_match "$logs" 'app_1 +\| +pgboot_demo +\| +0 +\| +0'
	# the history's version column is text (left-aligned by psql) since versions may be dotted
	assert_match "$logs" 'app_1 +\| +3 +\| 0003_posts_updated_at'
	assert_not_contains "$logs" "$(cat "$CT_TOP/docker/compose/db-password")"
	for ((i = 0; i < 300; i++)); do
		health=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$app")
		[[ $health == healthy ]] && break
		sleep 0.1
	done
	assert_eq healthy "$health" "health of the app container (pgboot status --check)"
	assert_eq "${project}_pgdata" "$("$DOCKER" volume ls -q --filter "name=${project}_pgdata")" "database volume"
	compose down -v -t 5
	assert_eq "" "$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$project")" "containers after down"
	assert_eq "" "$("$DOCKER" volume ls -q --filter "name=${project}_pgdata")" "volume after down -v"
}
