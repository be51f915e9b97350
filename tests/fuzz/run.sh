#!/usr/bin/env bash
# tests/fuzz/run.sh: runs pgboot's libFuzzer targets (make fuzz).
#
#   tests/fuzz/run.sh SECONDS TARGET...
#
# Runs build/fuzz/fuzz_TARGET for SECONDS each, one after the other, over
# build/fuzz/corpus/TARGET (the corpus it grows, kept between runs) and the seeds in
# tests/fuzz/corpus/TARGET, with tests/fuzz/dict/TARGET.dict when there is one. Each
# crash, leak, timeout or out-of-memory input is copied to tests/fuzz/regressions/TARGET/,
# where `make fuzz-replay` replays it, and fails the run. Logs: build/fuzz/logs/TARGET.log.
# Prints one line per target with its executions; exits 1 if any target failed.

set -u -o pipefail

seconds=$1
shift
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top" || exit 1
build=build/fuzz
failed=0

for t in "$@"; do
	bin=$build/fuzz_$t
	corpus=$build/corpus/$t
	crashes=$build/crashes/$t
	log=$build/logs/$t.log
	opts=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
		-max_len=8192 -artifact_prefix="$crashes/")
	[[ -f tests/fuzz/dict/$t.dict ]] && opts+=(-dict="tests/fuzz/dict/$t.dict")
	mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
	rm -f "$crashes"/*
	rc=0
	# The whole of each allocation filled (not only its first 4 KB), as in make check-asan.
	ASAN_OPTIONS=halt_on_error=1:print_stacktrace=1:detect_leaks=1:malloc_fill_byte=190:max_malloc_fill_size=2147483647 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$bin" "${opts[@]}" "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	units=$(find "$corpus" -type f | wc -l)
	saved=()
	for f in "$crashes"/*; do
		[[ -f $f ]] || continue
		mkdir -p "tests/fuzz/regressions/$t"
		cp -- "$f" "tests/fuzz/regressions/$t/"
		saved+=("tests/fuzz/regressions/$t/${f##*/}")
	done
	if ((rc != 0 || ${#saved[@]} > 0)); then
		failed=1
		echo "not ok - fuzz: $t: exit $rc after ${execs:-?} executions; saved: ${saved[*]:-none}"
		grep -aE 'ERROR: |runtime error|fuzz: property failed|^SUMMARY|^ +#[0-9] .* /src/' "$log" |
			head -n 20 | sed 's/^/    /'
		echo "    (the whole report: $log)"
	else
		echo "ok - fuzz: $t: ${execs:-?} executions in $seconds s, $units corpus files"
	fi
done
exit "$failed"
