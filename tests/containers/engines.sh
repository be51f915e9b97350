# shellcheck shell=bash
# tests/containers/engines.sh: the container engines of tests/containers/run, started for the run
# and stopped at its end, each with state of its own so that no other daemon is touched:
#   - dockerd (Debian's docker.io, 20.10) with --iptables=false --bridge=none (this machine allows
#     no bridge network: containers run with --network host), its socket, exec-root and pidfile in
#     $CT_DIR, its data-root (images and the build cache) in $CT_CACHE/docker, kept between runs;
#   - podman (Debian's, 4.3) with runc, through a containers.conf and a storage.conf of the run's
#     own (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF), its images in $CT_CACHE/podman.
# The base images the Dockerfiles name are made here (no registry is reachable): debian:bookworm
# (and debian:bookworm-slim, the same image) by debootstrap --variant=minbase, cached as a tarball
# in $CT_CACHE keyed by the month; postgres:15 is a stand-in built from Debian's postgresql-15
# (tests/containers/postgres/), not the official image.
#
# Needs: CT_TOP (repository), CT_CACHE (kept between runs), CT_DIR (this run's directory, short:
# unix socket paths are limited to 107 bytes).

DOCKER=/usr/bin/docker # docker.io's own client: classic builder, API 1.41
export DOCKER_BUILDKIT=0
CT_BASE_TAG=debian:bookworm

ct_log() { printf 'containers: %s\n' "$*" >&2; }

# ct_docker_start: start the run's dockerd and wait (30 s at most) until it answers.
ct_docker_start() {
	local i
	mkdir -p "$CT_DIR/docker-exec" "$CT_CACHE/docker" "$CT_DIR/bin" || return 1
	_ct_docker_stop_stale
	export DOCKER_HOST=unix://$CT_DIR/docker.sock
	# docker-compose builds with the "docker" on PATH: the same client as ours, so that its
	# build contexts hash alike and the build cache is shared.
	ln -sf "$DOCKER" "$CT_DIR/bin/docker"
	export PATH=$CT_DIR/bin:$PATH
	# Its own session: a signal to the test's process group does not reach it.
	setsid /usr/sbin/dockerd --iptables=false --bridge=none --ip-forward=false --ip-masq=false \
		--data-root "$CT_CACHE/docker" --exec-root "$CT_DIR/docker-exec" \
		--pidfile "$CT_DIR/dockerd.pid" -H "$DOCKER_HOST" --log-level warn \
		>"$CT_DIR/dockerd.log" 2>&1 </dev/null &
	CT_DOCKERD_PID=$!
	echo "$CT_DOCKERD_PID" >"$CT_CACHE/dockerd.pid"
	for ((i = 0; i < 300; i++)); do
		if "$DOCKER" info >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$CT_DOCKERD_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "dockerd did not start (log $CT_DIR/dockerd.log):" >&2
	tail -20 "$CT_DIR/dockerd.log" >&2
	return 1
}

# _ct_docker_stop_stale: a dockerd a killed run left on the cached data-root (its PID in
# $CT_CACHE/dockerd.pid, and that data-root on its command line) is stopped before ours starts.
_ct_docker_stop_stale() {
	local pid i
	pid=$(cat "$CT_CACHE/dockerd.pid" 2>/dev/null) || return 0
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--data-root $CT_CACHE/docker " || return 0
	ct_log "stopping the dockerd (pid $pid) a previous run left on $CT_CACHE/docker"
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

# ct_docker_stop: remove the run's containers, stop its dockerd (SIGTERM, then SIGKILL after 20 s).
ct_docker_stop() {
	local ids i
	[[ -n ${CT_DOCKERD_PID:-} ]] || return 0
	if kill -0 "$CT_DOCKERD_PID" 2>/dev/null; then
		ids=$("$DOCKER" ps -aq 2>/dev/null)
		# shellcheck disable=SC2086 # a list of ids
		[[ -z $ids ]] || "$DOCKER" rm -f $ids >/dev/null 2>&1
		kill -TERM "$CT_DOCKERD_PID" 2>/dev/null
		for ((i = 0; i < 200; i++)); do
			kill -0 "$CT_DOCKERD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$CT_DOCKERD_PID" 2>/dev/null
	fi
	wait "$CT_DOCKERD_PID" 2>/dev/null
	CT_DOCKERD_PID=
	rm -f "$CT_CACHE/dockerd.pid"
	# dockerd leaves its network namespace bind-mounted in the exec-root.
	findmnt -rn -o TARGET | grep "^$CT_DIR/" | sort -r | xargs -r umount -l
}

# ct_podman_setup: the run's podman configuration (runc, no default rlimits: crun and the default
# ulimits fail on this machine's cgroups), storage under $CT_CACHE/podman.
ct_podman_setup() {
	mkdir -p "$CT_CACHE/podman" "$CT_DIR/podman-run" "$CT_DIR/podman-tmp" || return 1
	cat >"$CT_DIR/containers.conf" <<-EOF
		[containers]
		default_ulimits = []
		netns = "host"
		[engine]
		runtime = "runc"
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		tmp_dir = "$CT_DIR/podman-tmp"
	EOF
	cat >"$CT_DIR/storage.conf" <<-EOF
		[storage]
		driver = "overlay"
		graphroot = "$CT_CACHE/podman"
		runroot = "$CT_DIR/podman-run"
	EOF
	export CONTAINERS_CONF=$CT_DIR/containers.conf CONTAINERS_STORAGE_CONF=$CT_DIR/storage.conf
	podman info >"$CT_DIR/podman-info.log" 2>&1 || {
		echo "podman cannot start (podman info):" >&2
		tail -20 "$CT_DIR/podman-info.log" >&2
		return 1
	}
}

# ct_podman_stop: remove every pod and container of the run's podman storage.
ct_podman_stop() {
	[[ -n ${CONTAINERS_STORAGE_CONF:-} ]] || return 0
	podman pod rm -a -f -t 1 >/dev/null 2>&1
	podman rm -a -f -t 1 >/dev/null 2>&1
	podman secret ls -q 2>/dev/null | xargs -r podman secret rm >/dev/null 2>&1
	podman volume prune -f >/dev/null 2>&1
	return 0
}

# _ct_mirrors: "URI SUITE" lines of the Debian mirrors this machine uses (deb.debian.org if none).
_ct_mirrors() {
	local lines
	# shellcheck disable=SC2016 # apt's format syntax
	lines=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | sort -u)
	if [[ -z $lines ]]; then
		lines=$'http://deb.debian.org/debian/ bookworm\nhttp://deb.debian.org/debian/ bookworm-updates\nhttp://deb.debian.org/debian-security/ bookworm-security'
	fi
	printf '%s\n' "$lines"
}

# ct_base_image: debian:bookworm and debian:bookworm-slim in the run's dockerd. The rootfs tarball
# is made once a month (debootstrap, about a minute); the image is imported only when the daemon
# lacks it for that tarball (an import makes a new image ID, which would void the build cache).
ct_base_image() {
	local key tar rootfs main
	key=bookworm-minbase-$(date -u +%Y-%m)
	tar=$CT_CACHE/debian-$key.tar
	if [[ $("$DOCKER" image inspect -f '{{index .Config.Labels "org.pgboot.base"}}' \
		"$CT_BASE_TAG" 2>/dev/null) == "$key" ]]; then
		"$DOCKER" tag "$CT_BASE_TAG" debian:bookworm-slim || return 1
		return 0
	fi
	if [[ ! -f $tar ]]; then
		ct_log "making $CT_BASE_TAG with debootstrap (cached as ${tar#"$CT_TOP"/})"
		rootfs=$CT_DIR/rootfs
		main=$(_ct_mirrors | awk '$2 == "bookworm" { print $1; exit }')
		debootstrap --variant=minbase bookworm "$rootfs" "${main:-http://deb.debian.org/debian/}" \
			>"$CT_DIR/debootstrap.log" 2>&1 || {
			tail -20 "$CT_DIR/debootstrap.log" >&2
			echo "debootstrap failed (log $CT_DIR/debootstrap.log)" >&2
			return 1
		}
		# The suites of the official image, on this machine's mirrors.
		rm -f "$rootfs/etc/apt/sources.list"
		_ct_mirrors | while read -r uri suite; do
			printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n\n' \
				"$uri" "$suite" /usr/share/keyrings/debian-archive-keyring.gpg
		done >"$rootfs/etc/apt/sources.list.d/debian.sources"
		rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
			"$rootfs"/var/log/*.log
		rm -f "$CT_CACHE"/debian-bookworm-*.tar
		tar --numeric-owner -C "$rootfs" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar" || return 1
		rm -rf "$rootfs"
	fi
	"$DOCKER" import --change "LABEL org.pgboot.base=$key" --change 'CMD ["bash"]' \
		"$tar" "$CT_BASE_TAG" >/dev/null || return 1
	"$DOCKER" tag "$CT_BASE_TAG" debian:bookworm-slim
}

# ct_build TAG DOCKERFILE CONTEXT [ARGS...]: docker build with host networking (apt-get in RUN
# steps); the log goes to $CT_DIR/build-TAG.log, its tail to stderr on failure.
ct_build() {
	local tag=$1 file=$2 context=$3 log
	shift 3
	log=$CT_DIR/build-${tag//[:\/]/_}.log
	if ! "$DOCKER" build --network host -f "$file" -t "$tag" "$@" "$context" >"$log" 2>&1; then
		tail -30 "$log" >&2
		echo "docker build of $tag ($file) failed (log $log)" >&2
		return 1
	fi
}

# ct_podman_load IMAGE...: copy images from dockerd into podman's storage, unless podman has them
# with the same ID already.
ct_podman_load() {
	local image id
	for image in "$@"; do
		id=$("$DOCKER" image inspect -f '{{.Id}}' "$image") || return 1
		if [[ "sha256:$(podman image inspect -f '{{.Id}}' "$image" 2>/dev/null)" == "$id" ]]; then
			continue
		fi
		"$DOCKER" save "$image" | podman load >"$CT_DIR/podman-load.log" 2>&1 || {
			cat "$CT_DIR/podman-load.log" >&2
			return 1
		}
	done
}

# ---- helpers for the tests (tests/containers/*.sh) ----------------------------------------------

# ct_docker ARGS...: the run's docker client; the command is shown in the test's output.
ct_docker() {
	echo "+ docker$(printf ' %q' "$@")"
	"$DOCKER" "$@"
}

# ct_run_pgboot OUT ARGS...: docker run --rm of the pgboot image, read-only, no capability, host
# network, as the image's numeric user; ARGS are docker run options, then "--", then pgboot's.
# Its stdout and stderr go to OUT (shown); sets PGB_RC.
ct_run_pgboot() {
	local out=$1 opts=()
	shift
	while (($# > 0)) && [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	shift
	PGB_RC=0
	echo "+ docker run --rm --read-only --cap-drop ALL --network host$(printf ' %q' "${opts[@]}") pgboot:0.1.0$(printf ' %q' "$@")"
	"$DOCKER" run --rm --read-only --cap-drop ALL --network host "${opts[@]}" \
		pgboot:0.1.0 "$@" >"$out" 2>&1 </dev/null || PGB_RC=$?
	echo "  -> exit $PGB_RC"
	sed 's/^/    | /' "$out"
}

# ct_wait_log CONTAINER STRING [SECONDS]: wait (default 60 s) until the container's log has STRING;
# fails the test, showing the log, when it does not come or the container stopped without it.
ct_wait_log() {
	local name=$1 want=$2 limit=$((${3:-60} * 10)) i
	for ((i = 0; i < limit; i++)); do
		"$DOCKER" logs "$name" 2>&1 | grep -qF -e "$want" && return 0
		if [[ $("$DOCKER" inspect -f '{{.State.Running}}' "$name" 2>/dev/null) != true ]] && ((i > 0)); then
			"$DOCKER" logs "$name" 2>&1 | grep -qF -e "$want" && return 0
			"$DOCKER" logs "$name" 2>&1 | sed 's/^/    | /'
			fail "container $name stopped without logging: $want"
		fi
		sleep 0.1
	done
	"$DOCKER" logs "$name" 2>&1 | sed 's/^/    | /'
	fail "container $name did not log within ${3:-60} s: $want"
}

# ct_readable DIR: DIR and everything under it readable by the containers' numeric users.
ct_readable() {
	chmod -R a+rX "$1"
	chmod a+x "$(dirname "$1")"
}
