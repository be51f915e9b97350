#!/bin/sh
# mk/timed.sh NAME COMMAND...: runs COMMAND, then prints how long it took (wall time), so
# make check shows what each of its parts costs. Exits with COMMAND's status.
name=$1
shift
t0=$(date +%s)
"$@"
rc=$?
echo "# make check: $name: $(($(date +%s) - t0)) s (exit $rc)"
exit "$rc"
