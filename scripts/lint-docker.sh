#!/usr/bin/env bash
# Lint the Dockerfiles without a Docker engine, with two tools from the npm registry,
# installed into .cache/lint-docker/ at pinned versions:
#   dockerlinter (buddy-works): best-practice rules modelled on hadolint's, plus
#     ShellCheck (Debian's package) on every RUN instruction; any finding fails.
#     Inline ignores: "# linter ignore=RULE" on the line above the instruction.
#   dockerfile-utils (the parser behind VS Code's Dockerfile support): checks
#     instructions, flags and arguments against current Dockerfile syntax; any
#     message fails.
# Usage: scripts/lint-docker.sh [DOCKERFILE...]   (default: docker/Dockerfile*, and the
# postgres:15 stand-in of tests/containers/postgres/)
# Exit status: 0 clean, 1 findings, 2 tools missing or not installable.
set -euo pipefail

DOCKERLINTER_VERSION=2.0.0
DOCKERFILE_UTILS_VERSION=0.16.3

me=lint-docker
top=$(cd "$(dirname "$0")/.." && pwd)
tools=$top/.cache/lint-docker

fail() {
	printf '%s: %s\n' "$me" "$*" >&2
	exit 2
}

# ensure_system_tools: Debian packages for the missing commands (root), or the line.
ensure_system_tools() {
	local packages=()
	command -v node >/dev/null || packages+=(nodejs)
	command -v npm >/dev/null || packages+=(npm)
	command -v shellcheck >/dev/null || packages+=(shellcheck)
	[ ${#packages[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		fail "run as root: apt-get install -y --no-install-recommends ${packages[*]}"
	fi
	apt-get update >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		"${packages[@]}" >&2
}

# dockerlinter 2 reads import.meta.dirname: Node.js 20.11 or later.
check_node() {
	local version major minor
	version=$(node --version)
	version=${version#v}
	major=${version%%.*}
	minor=${version#*.}
	minor=${minor%%.*}
	if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 11 ]; }; then
		fail "Node.js $version is too old for dockerlinter $DOCKERLINTER_VERSION (needs 20.11 or later)"
	fi
}

# --ignore-scripts: dockerlinter's postinstall downloads a ShellCheck binary from
# outside the npm registry; it uses the shellcheck on PATH instead.
install_linters() {
	local want="dockerlinter@$DOCKERLINTER_VERSION dockerfile-utils@$DOCKERFILE_UTILS_VERSION"
	if [ -f "$tools/.installed" ] && [ "$(cat "$tools/.installed")" = "$want" ]; then
		return 0
	fi
	rm -rf "$tools"
	mkdir -p "$tools"
	# shellcheck disable=SC2086 # $want is a list of package specs
	npm install --prefix "$tools" --no-audit --no-fund --ignore-scripts --loglevel=error \
		$want >&2 || fail "npm install failed"
	printf '%s\n' "$want" >"$tools/.installed"
}

# lint_one FILE: both tools on one Dockerfile; returns 1 on any finding.
lint_one() {
	local file=$1 status=0 out scratch
	printf '%s: %s\n' "$me" "$file"
	# dockerlinter writes its ShellCheck inputs to the current directory.
	scratch=$(mktemp -d)
	(cd "$scratch" && node "$tools/node_modules/dockerlinter/bin/dockerfilelinter.js" \
		-f "$file" -e info) || status=1
	rm -rf "$scratch"
	out=$("$tools/node_modules/.bin/dockerfile-utils" lint "$file" 2>&1) || status=1
	if [ -n "$out" ]; then
		printf '%s\n' "$out"
		status=1
	fi
	return "$status"
}

main() {
	local files=() file status=0
	if [ $# -gt 0 ]; then
		files=("$@")
	else
		files=("$top"/docker/Dockerfile "$top"/docker/Dockerfile.example "$top"/docker/compose/Dockerfile \
			"$top"/tests/containers/postgres/Dockerfile)
	fi
	ensure_system_tools
	check_node
	install_linters
	for file in "${files[@]}"; do
		[ -f "$file" ] || fail "no such file: $file"
		lint_one "$(cd "$(dirname "$file")" && pwd)/$(basename "$file")" || status=1
	done
	if [ "$status" -eq 0 ]; then
		printf '%s: %d Dockerfiles clean\n' "$me" "${#files[@]}"
	fi
	return "$status"
}

main "$@"
