#!/usr/bin/env bash
# mk/run-checked.sh: runs tests/run under a memory checker and fails on any report, also on
# one the suite could not see (a test that expects a failure, an exec'd application whose
# exit status replaces pgboot's). Used by `make check-asan` and `make check-valgrind`.
#
#   mk/run-checked.sh asan|valgrind REPORT_DIR LOG [SKIP_FILE [FILE.sh...]]
#
# Runs the integration files that have a dynamic pass (not "# pgb-only: static"), or only the
# FILE.sh named, minus the tests named in SKIP_FILE ("FILE: TEST  # why", one a line; its
# entries for other files are ignored), with tests/run; the caller's
# environment says which binary (PGBOOT, UNIT_TESTS) and how the checker reports. The
# runner's output goes to stdout and LOG. Then REPORT_DIR is read: for asan every file there
# is a report (ASan/UBSan log_path); for valgrind there is one memcheck log per process, and
# a log whose ERROR SUMMARY is not 0, or that holds an error without a summary (the process
# exec'd its application, which hides memcheck's exit status), is a failure. Ends with "MODE: N passed, N failed",
# reports counted as failures; exits 1 on a failed test or any report.

set -u -o pipefail

mode=$1 reports=$2 log=$3 skip_file=${4:-}
shift $(($# < 4 ? $# : 4))
only=("$@")
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1

declare -A skip=()
if [[ -n $skip_file ]]; then
	while read -r line; do
		line=${line%%#*}
		line=${line%"${line##*[![:space:]]}"}
		[[ -n $line ]] && skip[$line]=1
	done <"$skip_file"
fi

# Filters for tests/run: "FILE:" for a whole file, else "FILE: TEST" for each test kept.
# tests/run matches substrings, so a kept name must not be a prefix of a skipped one.
filters=()
skipped=0
for file in tests/integration/*.sh; do
	grep -q '^# pgb-only: *static' "$file" && continue
	base=${file##*/}
	if ((${#only[@]})) && [[ " ${only[*]} " != *" $base "* ]]; then
		continue
	fi
	names=$(sed -nE 's/^(test_[A-Za-z0-9_]+)[[:space:]]*\(\).*/\1/p' "$file")
	if ((${#skip[@]} == 0)); then
		filters+=("$base:")
		continue
	fi
	for name in $names; do
		if [[ -n ${skip["$base: $name"]:-} ]]; then
			skipped=$((skipped + 1))
			continue
		fi
		for other in $names; do
			if [[ $other != "$name" && $other == "$name"* && -n ${skip["$base: $other"]:-} ]]; then
				echo "run-checked: \"$base: $name\" is a prefix of the skipped \"$other\"" >&2
				exit 1
			fi
		done
		filters+=("$base: $name")
	done
done
for k in "${!skip[@]}"; do
	f=${k%%: *}
	if ! grep -q "^${k#*: }[[:space:]]*()" "tests/integration/$f" 2>/dev/null; then
		echo "run-checked: $skip_file names \"$k\", which is not a test" >&2
		exit 1
	fi
done

# Processes run as another user too (runuser -u nobody): anyone may add a report.
mkdir -p "$reports" "$(dirname "$log")" && chmod 1777 "$reports"
rc=0
tests/run "${filters[@]}" 2>&1 | tee "$log" || rc=$?
summary=$(tail -n 1 "$log")

# Reports the suite may not have seen. memcheck_errors: the first line of each kind of error
# memcheck reports (definite leaks count through the ERROR SUMMARY).
memcheck_errors='==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function|Illegal memory pool|[0-9,]+ bytes in [0-9,]+ blocks are definitely lost)'
problems=0
case $mode in
asan)
	for f in "$reports"/*; do
		[[ -e $f ]] || continue
		problems=$((problems + 1))
		echo "--- sanitizer report $f"
		cat "$f"
	done
	processes=n/a
	;;
valgrind)
	processes=0
	for f in "$reports"/*.log; do
		[[ -e $f ]] || continue
		processes=$((processes + 1))
		# No summary: the process exec'd its application (or was killed with SIGKILL); the
		# errors it met before are in the log all the same.
		if grep -qE "$memcheck_errors" "$f" ||
			{ grep -q 'ERROR SUMMARY:' "$f" && ! grep -q 'ERROR SUMMARY: 0 errors' "$f"; }; then
			problems=$((problems + 1))
			echo "--- valgrind report $f"
			cat "$f"
		fi
	done
	;;
*)
	echo "run-checked: unknown mode $mode (asan or valgrind)" >&2
	exit 2
	;;
esac
# Reports that went to a test's output instead (a checker that could not open its log file).
if grep -nE "runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|$memcheck_errors" "$log"; then
	problems=$((problems + 1))
fi

passed=0 failed=1
if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
	passed=${BASH_REMATCH[1]} failed=${BASH_REMATCH[2]}
fi
echo "# $mode: ${#filters[@]} filters, $skipped tests skipped${skip_file:+ ($skip_file)}, pgboot processes logged: $processes, reports: $problems"
# The closing line counts a report as a failure.
echo "$mode: $passed passed, $((failed + problems)) failed"
((rc == 0 && problems == 0))
