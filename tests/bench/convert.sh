#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Benchmark the conversion of the full BitNet-b1.58-2B-4T shapes.
#
#   tests/bench/convert.sh [DIR]        (default: build/bench)
#
# Makes the 2B4T-shaped fixture in DIR if it is missing (packed, 542
# tensors, ~1.2 GB), runs  st-read | tern-dequant | onnx-emit -o  on it and
# prints, for each filter, its peak RSS and user/system time (from
# /usr/bin/time), the pipeline's wall time and output bytes; then, on the
# same disk in the same run, the time dd takes to write as many bytes (and
# dd piped into dd, the cost of one pipe), and the ratios; ROUNDS=2 turns
# each.  Then onnx-verify --against the source, with its RSS.  Prints
# figures only: nothing here passes or fails on time.
set -euo pipefail

command -v /usr/bin/time >/dev/null || {
	echo "convert.sh: needs /usr/bin/time (Debian package 'time')" >&2
	exit 1
}
. "$(dirname "$0")/common.sh"
out=$dir/out

fmt='%M %U %S %e'
rounds=${ROUNDS:-2}

# Seconds taken by the command line "$@", from a synced, empty out/.
timed() {
	rm -rf "$out" "$dir/dd.bin"
	mkdir -p "$out"
	sync
	local t0 t1
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	calc "$t1 - $t0"
}

convert() {
	/usr/bin/time -o "$dir/t.st-read" -f "$fmt" "$bin/st-read" -q "$model" |
	    /usr/bin/time -o "$dir/t.tern-dequant" -f "$fmt" \
		"$bin/tern-dequant" -q |
	    /usr/bin/time -o "$dir/t.onnx-emit" -f "$fmt" "$bin/onnx-emit" -q \
		-o "$out/model.onnx"
}

dd_plain() {
	dd if=/dev/zero of="$dir/dd.bin" bs=1M count="$mb" status=none
}

dd_piped() {
	dd if=/dev/zero bs=1M count="$mb" status=none |
	    dd of="$dir/dd.bin" bs=1M iflag=fullblock status=none
}

# Page-cache writes on a shared machine vary a lot from one run to the
# next, so the pipeline and dd take turns, $rounds times.
best=0; best_dd=0; best_pipe=0
for r in $(seq "$rounds"); do
	wall=$(timed convert)
	bytes=$(( $(stat -c %s "$out/model.onnx") +
	    $(stat -c %s "$out/model.onnx_data" 2>/dev/null || echo 0) ))
	mb=$(( (bytes + 1048575) / 1048576 ))
	if [ "$r" = 1 ]; then
		printf '%-13s %10s %9s %9s\n' filter "peak RSS" user system
		for f in st-read tern-dequant onnx-emit; do
			read -r rss user sys _ < "$dir/t.$f"
			printf '%-13s %7.1f MiB %8.2fs %8.2fs\n' "$f" \
			    "$(calc "$rss / 1024")" "$user" "$sys"
		done
	fi
	d1=$(timed dd_plain)
	d2=$(timed dd_piped)
	printf 'round %d       pipeline %.2f s (%d bytes), dd %.2f s, ' \
	    "$r" "$wall" "$bytes" "$d1"
	printf 'dd | dd %.2f s: ratio %.2f\n' "$d2" "$(calc "$wall / $d1")"
	best=$(calc "($best == 0 || $wall < $best) ? $wall : $best")
	best_dd=$(calc "($best_dd == 0 || $d1 < $best_dd) ? $d1 : $best_dd")
	best_pipe=$(calc "($best_pipe == 0 || $d2 < $best_pipe) ? $d2 : $best_pipe")
done
rm -rf "$dir/dd.bin"
printf 'best          pipeline %.2f s, dd %.2f s, dd | dd %.2f s\n' \
    "$best" "$best_dd" "$best_pipe"
printf 'ratio         %.2f of dd (target <= 1.5), %.2f of dd | dd\n' \
    "$(calc "$best / $best_dd")" "$(calc "$best / $best_pipe")"

# onnx-verify, streaming, against the source
timed convert >/dev/null
t0=$(date +%s.%N)
"$bin/st-read" -q "$model" | "$bin/tern-dequant" -q |
    /usr/bin/time -o "$dir/t.onnx-verify" -f "$fmt" \
	"$bin/onnx-verify" -q --against - "$out/model.onnx"
t1=$(date +%s.%N)
read -r rss user sys _ < "$dir/t.onnx-verify"
printf 'onnx-verify   --against: all weights equal, %.1f MiB peak RSS, ' \
    "$(calc "$rss / 1024")"
printf 'wall %.2f s\n' "$(calc "$t1 - $t0")"
