#!/usr/bin/env bash
# Installs the Debian packages the container tests (make check-containers, tests/containers/)
# need: the Docker engine (docker.io: dockerd 20.10 and its own client), podman with runc and
# catatonit, debootstrap (the base images are made here: there is no registry to pull from),
# and Debian's Compose (docker-compose 1.29, Python). As root it runs apt-get; otherwise it
# prints the apt-get line to run and fails.
# Exit status: 0 installed (or already there), 1 not root or apt-get failed.
set -euo pipefail

packages=(
	docker.io                 # dockerd, containerd, the docker client (/usr/bin/docker)
	podman runc catatonit     # podman kube play (runc: crun fails on this machine's cgroups)
	uidmap                    # podman's user-namespace helpers (newuidmap)
	debootstrap               # the debian:bookworm base image, built from the archive
	docker-compose            # Compose v1 (Python): the Compose Debian bookworm ships
	iptables                  # dockerd's dependency, though the tests run it with --iptables=false
	openssl python3           # test certificates, YAML/JSON checks
)

# shellcheck source=scripts/apt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"
apt_missing "${packages[@]}"
[ ${#missing[@]} -eq 0 ] && exit 0
apt_need_root " for the container tests"
# Installing docker.io must not start a daemon of its own on the machine's default socket:
# policy-rc.d refuses service starts for the length of this install.
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
if [ "$had_policy" = 0 ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
