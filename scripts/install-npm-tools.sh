#!/usr/bin/env bash
# scripts/install-npm-tools.sh: the other migration tools the tests run for real, from npm,
# at pinned versions, into .cache/npm at the top of the tree (or $PGBOOT_NPM_DIR):
#
#   dbmate          the npm package ships the Linux binary (@dbmate/linux-x64); run it directly
#   node-pg-migrate with pg, run with node (needs Node.js 20.11 or later)
#   drizzle-orm     its migrator (drizzle-orm/node-postgres/migrator), run with node and pg
#
# Prints nothing when they are there already. Installs nodejs and npm from Debian first when
# they are missing (as root; otherwise it prints the apt-get line and fails). Safe to run from
# several processes at once (flock). Exit status: 0 when every tool is there, 1 otherwise.
# Callers find the tools at:
#   $DIR/node_modules/@dbmate/linux-x64/bin/dbmate
#   $DIR/node_modules/node-pg-migrate/bin/node-pg-migrate.js
#   $DIR/node_modules/drizzle-orm/node-postgres/migrator.js (required from a script in $DIR)
set -euo pipefail

DBMATE_VERSION=2.36.0
NODE_PG_MIGRATE_VERSION=9.0.0
PG_NODE_VERSION=8.23.1
DRIZZLE_ORM_VERSION=0.45.4

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${PGBOOT_NPM_DIR:-$top/.cache/npm}
want="dbmate@$DBMATE_VERSION node-pg-migrate@$NODE_PG_MIGRATE_VERSION pg@$PG_NODE_VERSION"
want+=" drizzle-orm@$DRIZZLE_ORM_VERSION"
dbmate=$dir/node_modules/@dbmate/linux-x64/bin/dbmate
npm_migrate=$dir/node_modules/node-pg-migrate/bin/node-pg-migrate.js
drizzle=$dir/node_modules/drizzle-orm/node-postgres/migrator.js

say() { echo "install-npm-tools: $*" >&2; }

installed() {
	[[ -f $dir/.installed && $(cat "$dir/.installed") == "$want" && -x $dbmate && -f $npm_migrate && -f $drizzle ]]
}

ensure_node() {
	local pkgs=() v major minor
	command -v node >/dev/null || pkgs+=(nodejs)
	command -v npm >/dev/null || pkgs+=(npm)
	if ((${#pkgs[@]} > 0)); then
		if ((EUID != 0)); then
			say "missing ${pkgs[*]}; run as root: apt-get install -y --no-install-recommends ${pkgs[*]}"
			return 1
		fi
		say "installing ${pkgs[*]}"
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
	fi
	v=$(node --version)
	v=${v#v}
	major=${v%%.*}
	minor=${v#*.}
	minor=${minor%%.*}
	if ((major < 20 || (major == 20 && minor < 11))); then
		say "Node.js $v is too old for node-pg-migrate $NODE_PG_MIGRATE_VERSION (needs 20.11 or later)"
		return 1
	fi
}

install() {
	installed && return 0
	ensure_node
	say "installing $want into $dir"
	rm -rf "$dir/node_modules" "$dir/package.json" "$dir/package-lock.json" "$dir/.installed"
	printf '{ "name": "pgboot-npm-tools", "private": true }\n' >"$dir/package.json"
	# shellcheck disable=SC2086 # $want is a list of words
	if ! (cd "$dir" && npm install --no-audit --no-fund --save-exact --loglevel=error $want) >&2; then
		say "npm install failed"
		return 1
	fi
	if [[ ! -x $dbmate ]]; then
		say "dbmate's npm package did not bring its Linux binary ($dbmate)"
		return 1
	fi
	printf '%s\n' "$want" >"$dir/.installed"
}

installed && exit 0
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
install
