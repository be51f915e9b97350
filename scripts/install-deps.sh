#!/usr/bin/env bash
# Installs the Debian packages pgboot's build, demo and tests need. As root it runs
# apt-get; otherwise it prints the apt-get line to run and fails.
set -euo pipefail

packages=(
	gcc make libc6-dev pkg-config          # build
	libpq-dev libinih-dev libssl-dev       # libraries pgboot links
	libcjson-dev                           # database.secret_file (JSON)
	postgresql-15 postgresql-client-15     # the throwaway server of the tests and demo
	pgbouncer                              # pooling tests
	python3 python3-yaml procps iproute2 util-linux  # test harness: json and yaml checks, ps, ss, runuser
	openssl file time                      # TLS test certificates, "statically linked", peak RSS
	shellcheck                             # lint of the shell scripts
	python3-alembic python3-psycopg2       # alembic, run for real by tests/integration/adopt.sh
)

# shellcheck source=scripts/apt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"
apt_missing "${packages[@]}"
[ ${#missing[@]} -eq 0 ] && exit 0
apt_need_root ""
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
