# shellcheck shell=bash
# deploy: the deployment recipes. Every kustomization under k8s/ is rendered with
# `kubectl kustomize` and read with PyYAML: pgboot's initContainer and Job, the
# securityContext and resources of every container, what each overlay sets, and the copies of
# entrypoint.ini and migrations/ (k8s/sync.sh). Then the rendered pods run for real against a
# throwaway server: their ConfigMaps and Secrets are written under a directory standing in for
# the mounts, pgboot runs with the container's environment and arguments, then the example
# app (docker/compose/app.sh). docker/compose.yaml is checked the same way, and its app run
# as the image would run it. No Docker engine or cluster is needed.
# pgb-only: dynamic

# _deploy_tools: fail unless kubectl (with kustomize 4 or later) and a python3 that has PyYAML
# are there; sets DEPLOY_PY.
_deploy_tools() {
	local v p
	need_tools kubectl
	v=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v//p')
	if [[ ! $v =~ ^[0-9]+ ]] || ((BASH_REMATCH[0] < 4)); then
		fail "kubectl's kustomize is ${v:-missing or older than v2.1}: k8s/ needs kubectl 1.21 or later (kustomize 4+); Debian's kubernetes-client 1.20 is too old"
	fi
	DEPLOY_PY=
	for p in python3 /usr/bin/python3; do
		if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then
			DEPLOY_PY=$p
			return 0
		fi
	done
	fail "missing Python module yaml (PyYAML) for python3: install the Debian package python3-yaml"
}

# _render DIR: kubectl kustomize DIR (a path under the repository top, or absolute) into
# $PGB_WORK/rendered.yaml, named in RENDERED; warnings (deprecated fields) fail the test.
_render() {
	local dir=$1
	[[ $dir == /* ]] || dir=$PGB_TOP/$dir
	_deploy_tools
	RENDERED=$PGB_WORK/rendered.yaml
	if ! kubectl kustomize "$dir" >"$RENDERED" 2>"$PGB_WORK/kustomize.err"; then
		cat "$PGB_WORK/kustomize.err"
		fail "kubectl kustomize ${dir#"$PGB_TOP"/} failed"
	fi
	if [[ -s $PGB_WORK/kustomize.err ]]; then
		cat "$PGB_WORK/kustomize.err"
		fail "kubectl kustomize ${dir#"$PGB_TOP"/} printed warnings"
	fi
}

# _yaml SUBCOMMAND ARGS...: the Python side of these tests, on YAML files.
#   q FILE EXPR: evaluates EXPR over FILE's documents and prints the result: a string as it
#     is, anything else as compact JSON with sorted keys. EXPR may use:
#       doc (the first document), obj(kind[, name]) (the one object of that kind),
#       pod(kind) (its pod spec), ctr(kind, name) (a container or initContainer),
#       cm(name) (the data of ConfigMap name, or of the one generated from it, name-HASH),
#       env(kind, ctr) (the container's environment: envFrom ConfigMaps, then env),
#       vol(kind, ctr, path) (the volume mounted at path), security(kind) (one line per
#       container: effective securityContext fields, resources, automountServiceAccountToken)
#   raw FILE EXPR: the string EXPR gives, exactly (no newline added).
#   pod FILE KIND CTR ROOT SECRETS: writes the ConfigMaps and Secrets that container CTR mounts
#     under ROOT (ROOT/etc/pgboot/config/entrypoint.ini...; Secret S's key K is read from
#     SECRETS/S/K), with the volume's defaultMode, and prints its environment as NAME=VALUE,
#     NUL-terminated, with values that start with a mount path moved under ROOT.
_yaml() {
	"$DEPLOY_PY" - "$@" <<-'PY'
		import json, os, re, sys
		import yaml

		def load(path):
		    with open(path) as f:
		        return [d for d in yaml.safe_load_all(f) if d is not None]

		def die(msg):
		    sys.exit("_yaml: " + msg)

		def main():
		    cmd, path = sys.argv[1], sys.argv[2]
		    docs = load(path)

		    def obj(kind, name=None):
		        found = [d for d in docs if d.get("kind") == kind and
		                 (name is None or d["metadata"]["name"] == name)]
		        if len(found) != 1:
		            die("%d objects of kind %s%s in %s" % (len(found), kind,
		                " named " + name if name else "", path))
		        return found[0]

		    def pod(kind):
		        return obj(kind)["spec"]["template"]["spec"]

		    def ctr(kind, name):
		        spec = pod(kind)
		        for c in spec.get("initContainers", []) + spec.get("containers", []):
		            if c["name"] == name:
		                return c
		        die("no container %s in the %s" % (name, kind))

		    def cm(name):
		        found = [d for d in docs if d.get("kind") == "ConfigMap" and
		                 re.fullmatch(re.escape(name) + r"(-[a-z0-9]{10})?", d["metadata"]["name"])]
		        if len(found) != 1:
		            die("%d ConfigMaps named %s" % (len(found), name))
		        return found[0].get("data", {})

		    def env(kind, cname):
		        out = {}
		        c = ctr(kind, cname)
		        for src in c.get("envFrom", []):
		            out.update(cm(src["configMapRef"]["name"]))
		        for e in c.get("env", []):
		            out[e["name"]] = e.get("value", "<valueFrom>")
		        return out

		    def vol(kind, cname, mount_path):
		        for m in ctr(kind, cname).get("volumeMounts", []):
		            if m["mountPath"] == mount_path:
		                for v in pod(kind).get("volumes", []):
		                    if v["name"] == m["name"]:
		                        return v
		                die("no volume %s in the %s" % (m["name"], kind))
		        die("nothing mounted at %s in container %s" % (mount_path, cname))

		    def security(kind):
		        spec = pod(kind)
		        psc = spec.get("securityContext", {})
		        lines = []
		        for c in spec.get("initContainers", []) + spec.get("containers", []):
		            sc = c.get("securityContext", {})
		            def eff(field):
		                return json.dumps(sc.get(field, psc.get(field)), sort_keys=True)
		            res = c.get("resources", {})
		            lines.append(" ".join([c["name"]] + ["%s=%s" % (f, eff(f)) for f in (
		                "runAsNonRoot", "runAsUser", "readOnlyRootFilesystem",
		                "allowPrivilegeEscalation", "capabilities", "seccompProfile")] + [
		                "requests=" + ",".join(sorted(res.get("requests", {}))),
		                "limits=" + ",".join(sorted(res.get("limits", {}))),
		                "automountServiceAccountToken=%s" % json.dumps(
		                    spec.get("automountServiceAccountToken"))]))
		        return "\n".join(lines)

		    def unhash(name):
		        return re.sub(r"-[a-z0-9]{10}$", "", name)

		    def objects():
		        return sorted("%s/%s" % (d["kind"], unhash(d["metadata"]["name"])) for d in docs)

		    if cmd in ("q", "raw"):
		        names = dict(doc=docs[0] if docs else None, docs=docs, obj=obj, pod=pod,
		                     ctr=ctr, cm=cm, env=env, vol=vol, security=security,
		                     unhash=unhash, objects=objects)
		        r = eval(sys.argv[3], names)
		        if cmd == "raw":
		            sys.stdout.write(r)
		        else:
		            print(r if isinstance(r, str) else json.dumps(r, sort_keys=True,
		                                                           separators=(",", ":")))
		    elif cmd == "pod":
		        kind, cname, root, secrets = sys.argv[3:7]
		        mounts = []
		        for m in ctr(kind, cname).get("volumeMounts", []):
		            target = root + m["mountPath"]
		            mounts.append(m["mountPath"])
		            v = vol(kind, cname, m["mountPath"])
		            src = v.get("configMap") or v.get("secret") or {}
		            mode = src.get("defaultMode", 0o644)
		            if "configMap" in v:
		                data = cm(v["configMap"]["name"])
		                items = v["configMap"].get("items") or [
		                    {"key": k, "path": k} for k in data]
		                read = lambda key: data[key].encode()
		            elif "secret" in v:
		                name = v["secret"]["secretName"]
		                items = v["secret"]["items"]
		                read = lambda key: open(os.path.join(secrets, name, key), "rb").read()
		            else:
		                die("volume %s is neither a ConfigMap nor a Secret" % v["name"])
		            for it in items:
		                out = os.path.join(target, it["path"])
		                os.makedirs(os.path.dirname(out), exist_ok=True)
		                with open(out, "wb") as f:
		                    f.write(read(it["key"]))
		                os.chmod(out, mode)
		        for k, val in sorted(env(kind, cname).items()):
		            if any(val == p or val.startswith(p.rstrip("/") + "/") for p in mounts):
		                val = root + val
		            sys.stdout.write("%s=%s\0" % (k, val))
		    else:
		        die("unknown command " + cmd)

		main()
	PY
}

# _q EXPR: _yaml q on $RENDERED
_q() {
	_yaml q "$RENDERED" "$1"
}

# _pod_env KIND CTR: clear_conn, then export the environment of container CTR of the rendered
# KIND, with its mounts written under $PGB_WORK/root and the Secrets taken from
# $PGB_WORK/secrets (_secret).
_pod_env() {
	local vars=()
	rm -rf -- "$PGB_WORK/root"
	_yaml pod "$RENDERED" "$1" "$2" "$PGB_WORK/root" "$PGB_WORK/secrets" >"$PGB_WORK/pod.env"
	mapfile -d '' vars <"$PGB_WORK/pod.env"
	((${#vars[@]} > 0)) || fail "container $2 of the $1 has no environment"
	clear_conn
	export "${vars[@]}"
	printf '  env: %s\n' "${vars[@]}"
}

# _secret NAME KEY VALUE: the content of key KEY of the Secret NAME, for _pod_env.
_secret() {
	mkdir -p "$PGB_WORK/secrets/$1"
	printf '%s\n' "$3" >"$PGB_WORK/secrets/$1/$2"
}

# _run_app ARGS...: like pgb_run for the example app (ARGS after it), with pgboot and psql on
# PATH as in the image. Sets PGB_RC, PGB_OUT, PGB_ERR, PGB_ELAPSED_MS.
# shellcheck disable=SC2034 # they are read by assert_exit and _pgb_show_run
_run_app() {
	local t0
	mkdir -p "$PGB_WORK/bin"
	ln -sf "$PGBOOT" "$PGB_WORK/bin/pgboot"
	PGB_OUT=$PGB_WORK/out PGB_ERR=$PGB_WORK/err PGB_RC=0
	echo "+ app.sh$(printf ' %q' "$@")"
	t0=$(ms_now)
	PATH=$PGB_WORK/bin:$PG_BIN:$PATH timeout --foreground -k 5 60 \
		"$PGB_TOP/docker/compose/app.sh" "$@" >"$PGB_OUT" 2>"$PGB_ERR" </dev/null || PGB_RC=$?
	PGB_ELAPSED_MS=$(($(ms_now) - t0))
	_pgb_show_run
}

# _assert_pgboot_pod KIND CTR: the container runs "/pgboot migrate" (the pgboot image's binary).
_assert_pgboot_pod() {
	assert_eq pgboot:0.1.0 "$(_q "ctr('$1', '$2')['image']")" "image of $2"
	assert_eq '["/pgboot"]' "$(_q "ctr('$1', '$2')['command']")" "command of $2"
	assert_eq '["migrate"]' "$(_q "ctr('$1', '$2')['args']")" "args of $2"
}

# _assert_mounts KIND CTR: the settings' paths are where the ConfigMaps and the Secret are
# mounted: entrypoint.ini, the migrations, the password file.
_assert_mounts() {
	local kind=$1 c=$2
	assert_eq /etc/pgboot/config/entrypoint.ini "$(_q "env('$kind', '$c')['PGBOOT_CONFIG']")" PGBOOT_CONFIG
	assert_eq pgboot-config "$(_q "unhash(vol('$kind', '$c', '/etc/pgboot/config')['configMap']['name'])")" \
		"ConfigMap at /etc/pgboot/config"
	assert_eq /etc/pgboot/migrations "$(_q "env('$kind', '$c')['PGBOOT_MIGRATE_DIR']")" PGBOOT_MIGRATE_DIR
	assert_eq pgboot-migrations "$(_q "unhash(vol('$kind', '$c', '/etc/pgboot/migrations')['configMap']['name'])")" \
		"ConfigMap at /etc/pgboot/migrations"
	assert_eq /run/secrets/db/password "$(_q "env('$kind', '$c')['PGBOOT_DATABASE_PASSWORD_FILE']")" \
		PGBOOT_DATABASE_PASSWORD_FILE
	assert_eq '{"defaultMode":288,"items":[{"key":"password","path":"password"}],"secretName":"app-db"}' \
		"$(_q "vol('$kind', '$c', '/run/secrets/db')['secret']")" "Secret at /run/secrets/db"
}

# _assert_secure KIND: every container of the KIND runs as 65532, non-root, read-only, with
# no privilege escalation, no capabilities, the runtime's seccomp profile, CPU and memory
# requests and limits, and no service account token.
_assert_secure() {
	local line name n=0 want
	want='runAsNonRoot=true runAsUser=65532 readOnlyRootFilesystem=true'
	want+=' allowPrivilegeEscalation=false capabilities={"drop": ["ALL"]}'
	want+=' seccompProfile={"type": "RuntimeDefault"} requests=cpu,memory limits=cpu,memory'
	want+=' automountServiceAccountToken=false'
	while read -r line; do
		name=${line%% *}
		assert_eq "$name $want" "$line" "security settings of container $name of the $1"
		n=$((n + 1))
	done < <(_q "security('$1')")
	assert_ge "$n" 1 "containers in the $1"
}

# _app_role: the role "app" of the rendered pods (password app-pw, CREATEDB) and its Secret.
_app_role() {
	mkrole app app-pw CREATEDB
	_secret app-db password app-pw
}

# ---------------------------------------------------------------------------------------------
# Kubernetes: what the manifests say

test_deploy_k8s_base_runs_pgboot_migrate_as_init_container() {
	_render k8s/base
	assert_eq '["ConfigMap/pgboot-config","ConfigMap/pgboot-env","ConfigMap/pgboot-migrations","Deployment/pgboot-example"]' \
		"$(_q 'objects()')" "objects of k8s/base"
	_assert_pgboot_pod Deployment pgboot
	assert_eq '["pgboot"]' "$(_q "[c['name'] for c in pod('Deployment')['initContainers']]")" initContainers
	assert_eq '["app"]' "$(_q "[c['name'] for c in pod('Deployment')['containers']]")" containers
	assert_eq '["/app/app.sh"]' "$(_q "ctr('Deployment', 'app')['command']")" "command of the app"
	_assert_mounts Deployment pgboot
	_assert_mounts Deployment app
	assert_eq postgres "$(_q "env('Deployment', 'pgboot')['PGBOOT_DATABASE_HOST']")" host
	assert_eq app "$(_q "env('Deployment', 'pgboot')['PGBOOT_DATABASE_USER']")" user
	assert_eq null "$(_q "env('Deployment', 'pgboot').get('PGBOOT_ENVIRONMENT')")" "environment of the base"
	_assert_secure Deployment
}

test_deploy_k8s_config_maps_hold_the_repository_files() {
	local f name overlay
	# The copies k8s/sync.sh makes.
	cmp "$PGB_TOP/entrypoint.ini" "$PGB_TOP/k8s/base/entrypoint.ini" ||
		fail "k8s/base/entrypoint.ini differs from entrypoint.ini: run k8s/sync.sh"
	diff <(cd "$PGB_TOP/migrations" && ls -- *.sql) <(cd "$PGB_TOP/k8s/base/migrations" && ls -- *.sql) ||
		fail "k8s/base/migrations/ does not hold the files of migrations/: run k8s/sync.sh"
	for f in "$PGB_TOP"/migrations/*.sql; do
		cmp "$f" "$PGB_TOP/k8s/base/migrations/${f##*/}" ||
			fail "k8s/base/migrations/${f##*/} differs from migrations/${f##*/}: run k8s/sync.sh"
	done
	# What is rendered: the ConfigMaps of every kustomization but preview's hold the
	# repository's files exactly.
	for overlay in k8s/base k8s/overlays/production k8s/overlays/job; do
		_render "$overlay"
		_yaml raw "$RENDERED" "cm('pgboot-config')['entrypoint.ini']" >"$PGB_WORK/entrypoint.ini"
		_q "len(cm('pgboot-config'))" >"$PGB_WORK/count"
		assert_eq 1 "$(cat "$PGB_WORK/count")" "keys of pgboot-config in $overlay"
		cmp "$PGB_TOP/entrypoint.ini" "$PGB_WORK/entrypoint.ini" ||
			fail "entrypoint.ini of ConfigMap pgboot-config in $overlay differs from the repository's"
		assert_eq "$(cd "$PGB_TOP/migrations" && printf '%s\n' *.sql | paste -sd ' ')" \
			"$(_q "' '.join(sorted(cm('pgboot-migrations')))")" "files in ConfigMap pgboot-migrations of $overlay"
		for f in "$PGB_TOP"/migrations/*.sql; do
			name=${f##*/}
			_yaml raw "$RENDERED" "cm('pgboot-migrations')['$name']" >"$PGB_WORK/$name"
			cmp "$f" "$PGB_WORK/$name" || fail "$name in ConfigMap pgboot-migrations of $overlay differs"
		done
	done
	# Preview's: the repository's file, then its own sections.
	_render k8s/overlays/preview
	_yaml raw "$RENDERED" "cm('pgboot-config')['entrypoint.ini']" >"$PGB_WORK/preview.ini"
	cmp "$PGB_TOP/k8s/overlays/preview/entrypoint.ini" "$PGB_WORK/preview.ini" ||
		fail "ConfigMap pgboot-config of preview differs from k8s/overlays/preview/entrypoint.ini"
	head -c "$(wc -c <"$PGB_TOP/entrypoint.ini")" "$PGB_WORK/preview.ini" | cmp - "$PGB_TOP/entrypoint.ini" ||
		fail "k8s/overlays/preview/entrypoint.ini does not start with entrypoint.ini: run k8s/sync.sh"
	tail -c +"$(($(wc -c <"$PGB_TOP/entrypoint.ini") + 1))" "$PGB_WORK/preview.ini" >"$PGB_WORK/preview-part"
	assert_match "$PGB_WORK/preview-part" '^; ---- preview'
	# k8s/sync.sh, run on a copy of the tree, finds nothing to change (the list of migrations in
	# k8s/base/kustomization.yaml included).
	mkdir "$PGB_WORK/top"
	cp -R "$PGB_TOP/entrypoint.ini" "$PGB_TOP/migrations" "$PGB_TOP/k8s" "$PGB_WORK/top/"
	"$PGB_WORK/top/k8s/sync.sh" >"$PGB_WORK/sync.out"
	diff -r "$PGB_TOP/k8s" "$PGB_WORK/top/k8s" || fail "k8s/ is not in sync with entrypoint.ini and migrations/: run k8s/sync.sh"
	assert_eq "" "$(cat "$PGB_WORK/sync.out")" "k8s/sync.sh output on copies in sync"
}

test_deploy_k8s_preview_names_the_database_after_the_branch() {
	_render k8s/overlays/preview
	_assert_pgboot_pod Deployment pgboot
	assert_eq preview "$(_q "env('Deployment', 'pgboot')['PGBOOT_ENVIRONMENT']")" "PGBOOT_ENVIRONMENT"
	assert_eq main "$(_q "env('Deployment', 'pgboot')['GIT_BRANCH']")" "GIT_BRANCH (branch.env)"
	assert_eq preview "$(_q "env('Deployment', 'app')['PGBOOT_ENVIRONMENT']")" "PGBOOT_ENVIRONMENT of the app"
	assert_eq 1 "$(_q "obj('Deployment')['spec']['replicas']")" replicas
	_yaml raw "$RENDERED" "cm('pgboot-config')['entrypoint.ini']" >"$PGB_WORK/preview.ini"
	sed -n '/^; ---- preview/,$p' "$PGB_WORK/preview.ini" | grep -v '^;' | grep . >"$PGB_WORK/sections"
	# shellcheck disable=SC2016 # ${GIT_BRANCH:ident} is pgboot's, in the file
	assert_eq '[database.preview]
dbname = ${GIT_BRANCH:ident}_app
[create.preview]
template = app_template
owner = app
[provision.preview]
role_attributes = NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION' "$(cat "$PGB_WORK/sections")" "preview sections of entrypoint.ini"
	_assert_secure Deployment
}

test_deploy_k8s_production_verifies_the_server_with_the_mounted_ca() {
	local c
	_render k8s/overlays/production
	_assert_pgboot_pod Deployment pgboot
	for c in pgboot app; do
		assert_eq production "$(_q "env('Deployment', '$c')['PGBOOT_ENVIRONMENT']")" "PGBOOT_ENVIRONMENT of $c"
		assert_eq never "$(_q "env('Deployment', '$c')['PGBOOT_CREATE_MODE']")" "PGBOOT_CREATE_MODE of $c"
		assert_eq verify-full "$(_q "env('Deployment', '$c')['PGBOOT_DATABASE_SSLMODE']")" "PGBOOT_DATABASE_SSLMODE of $c"
		assert_eq /etc/pgboot/ca/ca.crt "$(_q "env('Deployment', '$c')['PGBOOT_DATABASE_SSLROOTCERT']")" \
			"PGBOOT_DATABASE_SSLROOTCERT of $c"
		assert_eq '{"defaultMode":292,"items":[{"key":"ca.crt","path":"ca.crt"}],"secretName":"db-ca"}' \
			"$(_q "vol('Deployment', '$c', '/etc/pgboot/ca')['secret']")" "CA mounted in $c"
		_assert_mounts Deployment "$c"
	done
	_assert_secure Deployment
}

test_deploy_k8s_job_migrates_once() {
	_render k8s/overlays/job
	assert_eq '["ConfigMap","ConfigMap","ConfigMap","Job"]' "$(_q "sorted(d['kind'] for d in docs)")" \
		"kinds of k8s/overlays/job (no Deployment)"
	assert_eq pgboot-migrate "$(_q "obj('Job')['metadata']['name']")" "name of the Job"
	assert_eq '{"activeDeadlineSeconds":1800,"backoffLimit":3,"ttlSecondsAfterFinished":86400}' \
		"$(_q "{k: obj('Job')['spec'][k] for k in ('backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished')}")" \
		"limits of the Job"
	assert_eq '{"action":"FailJob","onExitCodes":{"containerName":"pgboot","operator":"In","values":[64,65,77,78]}}' \
		"$(_q "obj('Job')['spec']['podFailurePolicy']['rules'][0]")" "podFailurePolicy"
	assert_eq Never "$(_q "pod('Job')['restartPolicy']")" restartPolicy
	assert_eq '["pgboot"]' "$(_q "[c['name'] for c in pod('Job')['containers']]")" "containers of the Job"
	assert_eq null "$(_q "pod('Job').get('initContainers')")" "initContainers of the Job"
	_assert_pgboot_pod Job pgboot
	_assert_mounts Job pgboot
	_assert_secure Job
}

# ---------------------------------------------------------------------------------------------
# Kubernetes: the rendered pods, run

test_deploy_k8s_base_pod_creates_migrates_then_the_app_reads() {
	pg_start # a cluster of our own: the database name is entrypoint.ini's
	_render k8s/base
	_app_role
	_pod_env Deployment pgboot
	export PGBOOT_DATABASE_HOST=127.0.0.1 PGBOOT_DATABASE_PORT=$PGB_PORT PGBOOT_WAIT_TIMEOUT=10s
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" '"msg":"created database \"pgboot_demo\""'
	assert_eq "1 2 3" "$(q pgboot_demo 'SELECT version FROM pgboot.migrations ORDER BY 1' | paste -sd ' ')" \
		"versions applied"
	assert_eq app "$(q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'pgboot_demo'")" owner

	_pod_env Deployment app
	export PGBOOT_DATABASE_HOST=127.0.0.1 PGBOOT_DATABASE_PORT=$PGB_PORT
	_run_app --once
	assert_exit 0
	assert_match "$PGB_OUT" '^ pgboot_demo +\| +0 +\| +0$'
	assert_match "$PGB_OUT" '^ +3 +\| 0003_posts_updated_at\.sql +\|'
}

test_deploy_k8s_preview_pod_creates_the_branch_database_from_the_template() {
	local db=feature_jira_42_add_users_app
	pg_start
	psql_super -c 'CREATE DATABASE app_template IS_TEMPLATE true'
	psql_db app_template -c "CREATE TABLE seed AS SELECT 'from the template'::text AS note"
	cp -R "$PGB_TOP/k8s" "$PGB_WORK/k8s"
	printf 'GIT_BRANCH=%s\n' feature/JIRA-42-Add-Users >"$PGB_WORK/k8s/overlays/preview/branch.env"
	_render "$PGB_WORK/k8s/overlays/preview"
	_app_role
	_pod_env Deployment pgboot
	export PGBOOT_DATABASE_HOST=127.0.0.1 PGBOOT_DATABASE_PORT=$PGB_PORT PGBOOT_WAIT_TIMEOUT=10s
	pgb_run migrate
	assert_exit 0
	assert_contains "$PGB_ERR" "created database \\\"$db\\\"" # a JSON log line
	assert_eq app "$(q postgres "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$db'")" owner
	assert_eq 'from the template' "$(q "$db" 'SELECT note FROM seed')" "table of the template"
	assert_eq 3 "$(q "$db" 'SELECT count(*) FROM pgboot.migrations')" "migrations applied"
	assert_eq 0 "$(db_exists pgboot_demo)" "the base's database exists"

	_pod_env Deployment app
	export PGBOOT_DATABASE_HOST=127.0.0.1 PGBOOT_DATABASE_PORT=$PGB_PORT
	_run_app --once
	assert_exit 0
	assert_match "$PGB_OUT" "^ $db +\\| +0 +\\| +0\$"
}

test_deploy_k8s_production_pod_never_creates_and_uses_verify_full() {
	pg_init
	pg_enable_tls --hostssl-only app
	pg_start_server
	_render k8s/overlays/production
	_app_role
	_secret db-ca ca.crt "$(cat "$PGB_CA")"
	_pod_env Deployment pgboot
	# The server's certificate names localhost: verify-full checks the name.
	export PGBOOT_DATABASE_HOST=localhost PGBOOT_DATABASE_PORT=$PGB_PORT PGBOOT_WAIT_TIMEOUT=3s
	pgb_run migrate
	assert_exit 69
	assert_contains "$PGB_ERR" 'FATAL: database \"pgboot_demo\" does not exist'
	assert_eq 0 "$(db_exists pgboot_demo)" "database created in production"

	psql_super -c 'CREATE DATABASE pgboot_demo OWNER app'
	pgb_run migrate
	assert_exit 0
	assert_eq 3 "$(q pgboot_demo 'SELECT count(*) FROM pgboot.migrations')" "migrations applied"
	# Without the mounted CA, verify-full cannot succeed.
	rm -- "$PGB_WORK/root/etc/pgboot/ca/ca.crt"
	pgb_run migrate
	assert_exit 78

	_pod_env Deployment app
	export PGBOOT_DATABASE_HOST=localhost PGBOOT_DATABASE_PORT=$PGB_PORT
	_run_app --once
	assert_exit 0
	assert_match "$PGB_OUT" '^ pgboot_demo +\| +0 +\| +0$'
}

test_deploy_k8s_job_pod_migrates() {
	pg_start
	_render k8s/overlays/job
	_app_role
	_pod_env Job pgboot
	export PGBOOT_DATABASE_HOST=127.0.0.1 PGBOOT_DATABASE_PORT=$PGB_PORT PGBOOT_WAIT_TIMEOUT=10s
	pgb_run migrate
	assert_exit 0
	assert_eq 3 "$(q pgboot_demo 'SELECT count(*) FROM pgboot.migrations')" "migrations applied"
}

# The production recipe with an administrator: the provision Job makes the roles and the
# database; the production pods, which hold no admin secret, migrate as "app".
test_deploy_k8s_provision_job_then_production_pods_without_the_admin_secret() {
	pg_init
	pg_enable_tls --hostssl-only app
	pg_start_server
	_render k8s/overlays/provision
	assert_eq '["ConfigMap/pgboot-config","ConfigMap/pgboot-env","ConfigMap/pgboot-migrations","ConfigMap/pgboot-provision-env","Job/pgboot-provision"]' \
		"$(_q 'objects()')" "objects of k8s/overlays/provision"
	assert_eq '["provision"]' "$(_q "ctr('Job', 'pgboot')['args']")" "args of the Job"
	_assert_secure Job
	_secret app-db password app-pw
	_secret db-admin password "$PGB_SUPERPASS"
	_secret app-db-readonly password ro-pw
	_secret db-ca ca.crt "$(cat "$PGB_CA")"
	_pod_env Job pgboot
	export PGBOOT_DATABASE_HOST=localhost PGBOOT_DATABASE_PORT=$PGB_PORT
	pgb_run provision
	assert_exit 0
	assert_contains "$PGB_ERR" 'provisioned database \"pgboot_demo\": created role \"app\", created role \"app_readonly\"'

	_render k8s/overlays/production
	assert_eq '[]' "$(_q "sorted(k for c in ('pgboot', 'app') for k in env('Deployment', c) if k.startswith(('PGBOOT_ADMIN', 'PGBOOT_PROVISION')))")" \
		"admin settings in the production pods' environment"
	assert_eq '["app-db","db-ca"]' "$(_q "sorted(v['secret']['secretName'] for v in pod('Deployment')['volumes'] if 'secret' in v)")" \
		"Secrets the production pods mount"
	_pod_env Deployment pgboot
	export PGBOOT_DATABASE_HOST=localhost PGBOOT_DATABASE_PORT=$PGB_PORT
	pgb_run migrate
	assert_exit 0
	assert_eq 3 "$(q pgboot_demo 'SELECT count(*) FROM pgboot.migrations')" "migrations applied"
	assert_eq app "$(q pgboot_demo "SELECT tableowner FROM pg_tables WHERE tablename = 'accounts'")" "owner of a table"
	assert_eq 0 "$(PGPASSWORD=ro-pw "$PG_BIN/psql" -X -At -h localhost -p "$PGB_PORT" -U app_readonly \
		-d pgboot_demo -c 'SELECT count(*) FROM accounts')" "rows the read-only role reads"
}

# ---------------------------------------------------------------------------------------------
# Docker Compose

test_deploy_compose_file_has_db_app_healthchecks_and_secret() {
	_deploy_tools
	RENDERED=$PGB_TOP/docker/compose.yaml
	assert_eq '["app","db","pgboot"]' "$(_q "sorted(doc['services'])")" services
	assert_eq postgres:15 "$(_q "doc['services']['db']['image']")" "image of db"
	assert_eq '["CMD","pg_isready","--host=127.0.0.1","--username=app","--dbname=postgres"]' \
		"$(_q "doc['services']['db']['healthcheck']['test']")" "healthcheck of db"
	assert_eq '["CMD","/usr/local/bin/pgboot","status","--check"]' \
		"$(_q "doc['services']['app']['healthcheck']['test']")" "healthcheck of app"
	assert_eq /run/secrets/db-password "$(_q "doc['services']['db']['environment']['POSTGRES_PASSWORD_FILE']")" \
		"password file of db"
	assert_eq /run/secrets/db-password "$(_q "doc['services']['app']['environment']['PGBOOT_DATABASE_PASSWORD_FILE']")" \
		"password file of app"
	assert_eq '["db-password"]' "$(_q "doc['services']['app']['secrets']")" "secrets of app"
	assert_eq '["db-password"]' "$(_q "doc['services']['db']['secrets']")" "secrets of db"
	assert_eq ./compose/db-password "$(_q "doc['secrets']['db-password']['file']")" "file of the secret"
	[[ -s $PGB_TOP/docker/compose/db-password ]] || fail "docker/compose/db-password is missing or empty"
	# The images: built from the repository top; the app's takes /pgboot from the pgboot image.
	assert_eq '{"context":"..","dockerfile":"docker/Dockerfile"}' "$(_q "doc['services']['pgboot']['build']")" \
		"build of pgboot"
	assert_eq '{"additional_contexts":{"pgboot":"service:pgboot"},"context":"..","dockerfile":"docker/compose/Dockerfile"}' \
		"$(_q "doc['services']['app']['build']")" "build of app"
	assert_contains "$PGB_TOP/docker/compose/Dockerfile" 'FROM pgboot AS pgboot-image'
	assert_contains "$PGB_TOP/docker/compose/Dockerfile" 'COPY --from=pgboot-image /pgboot /usr/local/bin/pgboot'
	assert_contains "$PGB_TOP/docker/compose/Dockerfile" 'ENTRYPOINT ["/usr/local/bin/pgboot", "--"]'
	assert_eq '["../entrypoint.ini:/app/entrypoint.ini:ro","../migrations:/app/migrations:ro"]' \
		"$(_q "doc['services']['app']['volumes']")" "mounts of app"
	# Every file the app image copies is in its build context.
	while read -r src; do
		[[ -e $PGB_TOP/$src ]] || fail "docker/compose/Dockerfile copies $src, which does not exist"
		assert_no_match "$PGB_TOP/docker/compose/Dockerfile.dockerignore" "^${src%/}/?\$"
		assert_match "$PGB_TOP/docker/compose/Dockerfile.dockerignore" "^!${src%/}/?\$"
	done < <(sed -nE 's/^COPY ([^-][^ ]*) .*/\1/p' "$PGB_TOP/docker/compose/Dockerfile")
}

test_deploy_compose_app_runs_under_pgboot_as_in_its_image() {
	local pw vars
	pg_start
	_deploy_tools
	RENDERED=$PGB_TOP/docker/compose.yaml
	pw=$(cat "$PGB_TOP/docker/compose/db-password")
	mkrole app "$pw" CREATEDB
	# The image's /app: WORKDIR, with the repository's entrypoint.ini and migrations/ mounted.
	assert_contains "$PGB_TOP/docker/compose/Dockerfile" 'WORKDIR /app'
	mkdir -p "$PGB_WORK/image/app" "$PGB_WORK/image/run/secrets"
	cp "$PGB_TOP/entrypoint.ini" "$PGB_WORK/image/app/"
	cp -R "$PGB_TOP/migrations" "$PGB_WORK/image/app/"
	cp "$PGB_TOP/docker/compose/db-password" "$PGB_WORK/image/run/secrets/db-password"
	chmod 600 "$PGB_WORK/image/run/secrets/db-password"
	clear_conn
	mapfile -d '' vars < <(_q "''.join('%s=%s\0' % kv for kv in doc['services']['app']['environment'].items())")
	unset 'vars[-1]' # the newline after the last NUL
	export "${vars[@]}"
	assert_eq db "$PGBOOT_DATABASE_HOST" "host of app"
	export PGBOOT_DATABASE_HOST=127.0.0.1 PGBOOT_DATABASE_PORT=$PGB_PORT PGBOOT_WAIT_TIMEOUT=10s
	export PGBOOT_DATABASE_PASSWORD_FILE=$PGB_WORK/image${PGBOOT_DATABASE_PASSWORD_FILE}
	mkdir -p "$PGB_WORK/bin"
	ln -sf "$PGBOOT" "$PGB_WORK/bin/pgboot"
	cd "$PGB_WORK/image/app" || fail "cannot enter $PGB_WORK/image/app"
	# ENTRYPOINT ["/usr/local/bin/pgboot", "--"] with CMD ["/app/app.sh"], --once added.
	export PATH=$PGB_WORK/bin:$PG_BIN:$PATH
	pgb_run -- "$PGB_TOP/docker/compose/app.sh" --once
	assert_exit 0
	assert_contains "$PGB_ERR" 'created database "pgboot_demo"'
	assert_match "$PGB_OUT" '^ pgboot_demo +\| +0 +\| +0$'
	assert_match "$PGB_OUT" '^ +1 +\| 0001_create_accounts\.sql +\|'
	assert_match "$PGB_OUT" '^ +3 +\| 0003_posts_updated_at\.sql +\|'
}
