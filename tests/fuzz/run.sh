#!/bin/sh
# SPDX-License-Identifier: ISC
# Run each fuzz target: replay its corpus and crashers (every file must
# pass), then fuzz for SECONDS.  Prints per target the executions and the
# crashes, and a closing 'fuzz: N passed, N failed'.
#   run.sh BIN_DIR SECONDS TARGET...
set -u
bin=$1
secs=$2
shift 2
here=$(dirname "$0")
work=${FUZZ_WORK:-build/fuzz}
passed=0
failed=0
for t in "$@"; do
	seeds=$here/corpus/$t
	crashes=$here/crashes/$t
	found=$work/corpus/$t
	mkdir -p "$found" "$crashes" "$work/artifacts/$t"
	log=$work/$t.log
	# replay: every committed file, once
	files=$(find "$seeds" "$crashes" -type f ! -name .gitkeep | sort)
	if [ -n "$files" ] &&
	    ! "$bin/fuzz_$t" $files >"$log.replay" 2>&1; then
		echo "fuzz $t: a committed corpus or regression file fails:"
		tail -30 "$log.replay"
		failed=$((failed + 1))
		continue
	fi
	"$bin/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 \
	    -timeout=20 -print_final_stats=1 \
	    -artifact_prefix="$work/artifacts/$t/" \
	    "$found" "$seeds" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	new=$(find "$work/artifacts/$t" -type f | wc -l)
	if [ "$rc" -ne 0 ] || [ "$new" -ne 0 ]; then
		echo "fuzz $t: FAILED after ${runs:-?} executions; inputs in" \
		    "$work/artifacts/$t (copy them to $crashes once fixed):"
		tail -30 "$log"
		failed=$((failed + 1))
	else
		echo "fuzz $t: ${runs:-?} executions in ${secs}s, $(echo \
		    $files | wc -w) regression files replayed, no crash"
		passed=$((passed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
