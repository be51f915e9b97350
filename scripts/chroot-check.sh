#!/usr/bin/env bash
# Run a static binary in an empty chroot, as a FROM-scratch container would: the
# root holds only /pgboot plus what the options add (no /etc, /dev, /tmp, shell).
#
# Usage: scripts/chroot-check.sh [OPTIONS] BINARY [ARG...]
#   --hosts            add /etc/hosts (127.0.0.1 and ::1 as localhost)
#   --passwd           add /etc/passwd and /etc/group naming the run user "pgboot"
#   --copy SRC DEST    copy a host file to DEST inside the root (e.g. a CA to /ca.crt)
#   --env NAME=VALUE   set a variable; the environment is otherwise empty
#   --user UID:GID     numeric user to run as (default 65532:65532, as in the image)
#   --keep             keep the root directory and print its path
# Exit status: the binary's, or 125 when the chroot cannot be set up (bad usage,
# missing file, not root and no user namespaces).
set -euo pipefail

me=chroot-check
fail() {
	printf '%s: %s\n' "$me" "$*" >&2
	exit 125
}

hosts=0 passwd=0 keep=0 user=65532:65532
copies=() envs=()
while [ $# -gt 0 ]; do
	case $1 in
	--hosts) hosts=1 ;;
	--passwd) passwd=1 ;;
	--copy)
		[ $# -ge 3 ] || fail "--copy needs SRC and DEST"
		copies+=("$2" "$3")
		shift 2
		;;
	--env)
		[[ $# -ge 2 && $2 == *=* ]] || fail "--env needs NAME=VALUE"
		envs+=("$2")
		shift
		;;
	--user)
		[[ $# -ge 2 && $2 =~ ^[0-9]+:[0-9]+$ ]] || fail "--user needs UID:GID (numeric)"
		user=$2
		shift
		;;
	--keep) keep=1 ;;
	--) shift && break ;;
	-*) fail "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
[ $# -ge 1 ] || fail "usage: $0 [OPTIONS] BINARY [ARG...]"
binary=$1
shift
[[ -f $binary && -x $binary ]] || fail "$binary is not an executable file"

root=$(mktemp -d "${TMPDIR:-/tmp}/pgboot-chroot.XXXXXX")
if [ "$keep" -eq 1 ]; then
	printf '%s: root kept: %s\n' "$me" "$root" >&2
else
	trap 'rm -rf "$root"' EXIT
fi
chmod 755 "$root"
install -m 755 "$binary" "$root/pgboot"
if [ "$hosts" -eq 1 ] || [ "$passwd" -eq 1 ]; then
	mkdir -m 755 "$root/etc"
fi
if [ "$hosts" -eq 1 ]; then
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$root/etc/hosts"
fi
if [ "$passwd" -eq 1 ]; then
	printf 'pgboot:x:%s:%s:pgboot:/nonexistent:/sbin/nologin\n' "${user%%:*}" "${user#*:}" \
		>"$root/etc/passwd"
	printf 'pgboot:x:%s:\n' "${user#*:}" >"$root/etc/group"
fi
for ((i = 0; i < ${#copies[@]}; i += 2)); do
	src=${copies[i]} dest=${copies[i + 1]}
	[[ $dest == /* ]] || fail "--copy DEST must be absolute: $dest"
	[ -f "$src" ] || fail "no such file: $src"
	mkdir -p "$root$(dirname "$dest")"
	install -m 644 "$src" "$root$dest"
done

# env -i empties PATH, so the tools are named by their full path.
chroot_cmd=$(command -v chroot) || fail "chroot not found"
# Unprivileged: a user namespace maps us to root for chroot; --userspec then needs the
# target ids mapped, which only real root has, so we stay uid 0 inside the namespace.
if [ "$(id -u)" -eq 0 ]; then
	set +e
	env -i "${envs[@]}" "$chroot_cmd" --userspec="$user" "$root" /pgboot "$@"
	status=$?
else
	unshare_cmd=$(command -v unshare) || fail "not root and unshare not found"
	set +e
	env -i "${envs[@]}" "$unshare_cmd" --map-root-user "$chroot_cmd" "$root" /pgboot "$@"
	status=$?
fi
exit "$status"
