# shellcheck shell=bash
# scripts/apt-lib.sh: sourced by the scripts that install Debian packages
# (install-deps.sh, container-deps.sh). Not run on its own.

# apt_missing PACKAGE...: sets the array `missing` to the packages that are not installed.
apt_missing() {
	local p
	missing=()
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
}

# apt_need_root WHAT: as another user than root, prints the apt-get line that installs
# `missing` (WHAT says what they are for) and exits 1; as root, says what it installs and
# runs `apt-get update`.
apt_need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "pgboot: missing Debian packages$1; run as root:" >&2
		echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
		exit 1
	fi
	echo "installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
}
