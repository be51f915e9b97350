#!/usr/bin/env bash
# k8s/sync.sh: bring the Kubernetes copies up to date with the repository's entrypoint.ini and
# migrations/ (kustomize reads no file outside a kustomization's directory):
#   - k8s/base/entrypoint.ini and k8s/base/migrations/*.sql become copies of the originals;
#   - the pgboot-migrations list in k8s/base/kustomization.yaml names every migration file;
#   - k8s/overlays/preview/entrypoint.ini becomes the repository's entrypoint.ini followed by
#     its own part, from the line starting with "; ---- preview" to the end.
# Run it after changing entrypoint.ini or migrations/; tests/integration/deploy.sh fails until
# then. Prints what changed; exit status 0, or 1 on an error.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
base=$top/k8s/base
preview=$top/k8s/overlays/preview/entrypoint.ini
begin='# k8s/sync.sh writes this list: one line per file of migrations/'
end='# end of the list written by k8s/sync.sh'

fail() {
	echo "k8s/sync.sh: $*" >&2
	exit 1
}

# replace FILE CONTENT-FILE: move CONTENT-FILE over FILE when they differ, saying so.
replace() {
	if cmp -s "$2" "$1"; then
		rm -f "$2"
	elif [[ -e $1 ]]; then
		mv "$2" "$1"
		echo "updated ${1#"$top"/}"
	else
		mv "$2" "$1"
		echo "added ${1#"$top"/}"
	fi
}

cd "$top"
shopt -s nullglob
files=(migrations/*.sql)
((${#files[@]} > 0)) || fail "no migrations/*.sql files"

cp entrypoint.ini "$base/entrypoint.ini.new"
replace "$base/entrypoint.ini" "$base/entrypoint.ini.new"

mkdir -p "$base/migrations"
for f in "$base"/migrations/*.sql; do
	if [[ ! -f ${f#"$base"/} ]]; then
		rm -f "$f"
		echo "removed ${f#"$top"/}"
	fi
done
for f in "${files[@]}"; do
	cp "$f" "$base/$f.new"
	replace "$base/$f" "$base/$f.new"
done

# The list between the two marker lines, at the markers' indentation.
awk -v begin="$begin" -v end="$end" -v list="${files[*]}" '
	index($0, begin) { print; skip = 1; found++
		indent = substr($0, 1, index($0, "#") - 1)
		n = split(list, f, " ")
		for (i = 1; i <= n; i++) print indent "- " f[i]
		next }
	index($0, end) { skip = 0; found++ }
	!skip { print }
	END { if (found != 2) exit 1 }
' "$base/kustomization.yaml" >"$base/kustomization.yaml.new" ||
	fail "k8s/base/kustomization.yaml lacks the marker lines of the migrations list"
replace "$base/kustomization.yaml" "$base/kustomization.yaml.new"

grep -q '^; ---- preview' "$preview" || fail "${preview#"$top"/} lacks its \"; ---- preview\" line"
{
	cat entrypoint.ini
	sed -n '/^; ---- preview/,$p' "$preview"
} >"$preview.new"
replace "$preview" "$preview.new"
